"""Finite-size extrapolation: the weighted fit on synthetic data with a known eps_inf and slope,
its standard error against the scatter of repeated fits, and the ``prunescale fss`` command."""

import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("pandas")
pytest.importorskip("pyarrow")

from prunescale.sims import fss, store, sweep  # noqa: E402

NS = np.array([100, 200, 400, 800])


def test_exact_data_recover_intercept_slope_and_curvature():
    m = 0.2 + 0.5 / NS
    r = fss.fit(NS, m, np.full(4, 1e-3))
    assert r["eps_inf"] == pytest.approx(0.2, abs=1e-12)
    assert r["slope"] == pytest.approx(0.5, abs=1e-9)
    assert r["chi2"] == pytest.approx(0.0, abs=1e-12) and r["dof"] == 2 and r["reason"] is None
    m2 = 0.2 + 0.5 / NS - 30.0 / NS**2
    lin = fss.fit(NS, m2, np.full(4, 1e-4))
    quad = fss.fit(NS, m2, np.full(4, 1e-4), quadratic=True)
    assert quad["eps_inf"] == pytest.approx(0.2, abs=1e-11)
    assert quad["curvature"] == pytest.approx(-30.0, rel=1e-6)
    assert abs(lin["eps_inf"] - 0.2) > 1e-4 and lin["chi2"] > 1.0  # the linear model is wrong


def test_standard_error_matches_the_scatter_of_fits():
    """Means drawn with known standard errors: the intercept is unbiased and its quoted
    standard error is the standard deviation of the fitted intercepts."""
    rng = np.random.default_rng(1)
    sems = np.array([0.004, 0.003, 0.002, 0.0015])
    z = []
    for _ in range(2000):
        m = 0.15 - 0.4 / NS + sems * rng.standard_normal(4)
        r = fss.fit(NS, m, sems)
        z.append((r["eps_inf"] - 0.15) / r["eps_inf_se"])
    z = np.asarray(z)
    # 2000 draws: the mean of z has sd 0.022, the sd of z has sd ~0.016
    assert abs(z.mean()) < 0.1 and abs(z.std() - 1.0) < 0.06


def test_weights_favour_the_precise_points():
    m = np.array([0.30, 0.20, 0.20, 0.20])  # one wild point with a huge error bar
    r = fss.fit(NS, m, np.array([10.0, 1e-3, 1e-3, 1e-3]))
    assert r["eps_inf"] == pytest.approx(0.2, abs=1e-6)


def test_too_few_points_give_nan_and_a_reason():
    r = fss.fit([100, 100, 200], [0.2, 0.21, 0.2], [1e-3, 1e-3, np.nan])
    assert np.isnan(r["eps_inf"]) and np.isnan(r["eps_inf_se"]) and "needs 2 values" in r["reason"]
    r = fss.fit(NS[:2], [0.2, 0.21], [1e-3, 1e-3], quadratic=True)
    assert np.isnan(r["eps_inf"]) and "needs 3 values" in r["reason"]


def _write_synthetic(folder, eps_inf, slope, students=40, seed=0, configs=None):
    """Students with eps = eps_inf + slope / N + noise (sd 0.2 / sqrt(N)) stored like a sweep."""
    rng = np.random.default_rng(seed)
    configs = configs or [sweep.Config("hard", 0.5, 1.0, 2.0, 0.0)]
    for cfg in configs:
        for n in NS:
            t = sweep.Task(cfg, int(n), 0, tuple(range(students)))
            eps = eps_inf + slope / n + 0.2 / np.sqrt(n) * rng.standard_normal(students)
            k = students
            cols = {name: [v] * k for name, v in dataclasses.asdict(cfg).items()}
            cols.update(n=[int(n)] * k, seed=[0] * k, student=np.arange(k), eps=eps,
                        eps_noisy=eps, R=np.cos(np.pi * eps), S=np.zeros(k), kappa=np.ones(k),
                        Q=np.full(k, np.nan),
                        gap=np.full(k, 1e-9), flagged=np.zeros(k, bool),
                        seconds=np.full(k, 0.01), version=[t.version] * k, task=[t.id] * k)
            store.write_task(folder, t.id, cols)


def test_extrapolate_a_stored_sweep(tmp_path):
    _write_synthetic(tmp_path, 0.3, -2.0, students=400)
    fits = fss.extrapolate(store.summarize(store.load(tmp_path)), theory=False)
    (r,) = fits
    assert r["ns"] == list(NS) and r["reason"] is None and r["eps_theory"] is None
    assert abs(r["eps_inf"] - 0.3) < 4 * r["eps_inf_se"]
    assert abs(r["slope"] + 2.0) < 4 * r["slope_se"]
    assert r["eps_inf_se"] > r["sem_largest_n"]  # extrapolating costs precision


def _fss(*args):
    env = dict(os.environ, PRUNESCALE_CACHE="")
    return subprocess.run([sys.executable, "-m", "prunescale.cli", "fss", *args],
                          capture_output=True, text=True, env=env, timeout=300)


def test_fss_command_json_table_and_plot(tmp_path):
    data = tmp_path / "res"
    cfgs = [sweep.Config("hard", 0.5, 1.0, 2.0, 0.0), sweep.Config("easy", 0.5, 1.0, 2.0, 10.0)]
    _write_synthetic(data, 0.25, 1.0, students=100, configs=cfgs)
    p = _fss(str(data), "--json", "--plot", str(tmp_path / "fss.png"))
    assert p.returncode == 0, p.stderr
    rows = json.loads(p.stdout)
    assert {(r["rule"], r["theta_deg"]) for r in rows} == {("hard", 0.0), ("easy", 10.0)}
    for r in rows:
        assert {"rule", "f", "alpha_prune", "alpha_tot", "theta_deg", "eps_inf", "eps_inf_se",
                "slope", "eps_theory", "z"} <= set(r)
        assert r["theory_converged"] is True and 0 < r["eps_theory"] < 0.5
        assert r["z"] == pytest.approx((r["eps_inf"] - r["eps_theory"]) / r["eps_inf_se"])
    png = (tmp_path / "fss.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    p = _fss(str(data), "--no-theory", "--quadratic")
    assert p.returncode == 0 and "eps_inf" in p.stdout and len(p.stdout.splitlines()) == 3


@pytest.mark.parametrize("args,needle", [
    (["{missing}"], "not a folder"),
    (["{empty}"], "no sweep results"),
    (["{empty}", "--plot", "{empty}/x.gif"], "--plot"),
])
def test_fss_bad_input_is_one_line(tmp_path, args, needle):
    (tmp_path / "empty").mkdir()
    args = [a.format(missing=tmp_path / "nope", empty=tmp_path / "empty") for a in args]
    p = _fss(*args)
    assert p.returncode == 2, p.stderr
    assert p.stderr.count("\n") == 1 and needle in p.stderr and "Traceback" not in p.stderr


def test_fss_exit_1_when_a_configuration_cannot_be_fitted(tmp_path):
    cfg = sweep.Config("hard", 0.5, 1.0, 2.0, 0.0)
    t = sweep.Task(cfg, 100, 0, (0, 1))
    cols = {name: [v] * 2 for name, v in dataclasses.asdict(cfg).items()}
    cols.update(n=[100] * 2, seed=[0] * 2, student=np.arange(2), eps=np.array([0.2, 0.3]),
                eps_noisy=np.array([0.2, 0.3]), R=np.ones(2), S=np.zeros(2), kappa=np.ones(2),
                Q=np.full(2, np.nan), gap=np.zeros(2),
                flagged=np.zeros(2, bool), seconds=np.ones(2), version=[t.version] * 2,
                task=[t.id] * 2)
    store.write_task(tmp_path, t.id, cols)
    p = _fss(str(tmp_path), "--json", "--no-theory")
    assert p.returncode == 1
    (r,) = json.loads(p.stdout)
    assert r["eps_inf"] is None and "needs 2 values of N" in r["reason"]
    assert "1 of 1 configurations not fitted" in p.stderr
