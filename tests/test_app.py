"""The interactive app: its computational functions (:mod:`app.compute`), figures, notebook
and ``prunescale app`` command line. The browser test is in ``test_app_browser.py``."""

import argparse
import dataclasses
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from prunescale.theory import curves, solve

from prunescale.app import compute, plots

from prunescale import _cli_app


@pytest.fixture(autouse=True)
def _fresh_caches():
    compute.clear_caches()
    yield
    compute.clear_caches()


def _unconverge(monkeypatch, every: int = 3):
    """Make :func:`compute.solve` report every ``every``-th point as not certified."""
    real = solve

    def fake(*args, **kw):
        r = real(*args, **kw)
        conv = np.array(r.converged, bool, copy=True)
        flat = conv.reshape(-1)
        flat[::every] = False
        conv = conv.reshape(np.shape(r.converged))
        nan = {k: np.where(conv, getattr(r, k), np.nan) for k in ("eps", "R", "S", "kappa")}
        return dataclasses.replace(r, converged=conv, **nan)  # as solve reports a failure

    monkeypatch.setattr(compute, "solve", fake)
    monkeypatch.setattr(curves, "solve", fake)


# --- current point ---------------------------------------------------------------------------

@pytest.mark.parametrize("rule,f,theta,kw", [
    ("hard", 0.2, 0.0, {"alpha_prune": 3.0}),
    ("easy", 0.5, 0.0, {"alpha_prune": 1.0}),
    ("random", 0.3, 0.0, {"alpha_prune": 10.0}),
    ("hard", 0.2, 20.0, {"alpha_prune": 3.0}),
    ("easy", 0.2, 10.0, {"alpha_tot": 30.0}),
])
def test_point_equals_solve(rule, f, theta, kw):
    p = compute.point(rule, f, theta, **kw)
    r = solve(rule, f, theta_deg=theta, **kw)
    assert p.converged and bool(r.converged)
    for name in ("eps", "R", "S", "kappa", "alpha_prune", "alpha_tot"):
        assert getattr(p, name) == float(getattr(r, name)), name
    assert p.alpha_prune == pytest.approx(f * p.alpha_tot, rel=1e-12)


def test_point_check_value_and_cache():
    p = compute.point("hard", 0.2, 0.0, alpha_prune=3.0)
    assert p.eps == pytest.approx(0.034721, abs=1e-6)
    assert compute.point("hard", 0.2, 0.0, alpha_prune=3.0) is p  # memoised


def test_point_not_certified_is_nan(monkeypatch):
    _unconverge(monkeypatch, every=1)
    p = compute.point("hard", 0.2, 0.0, alpha_prune=3.0)
    assert not p.converged
    assert all(math.isnan(getattr(p, k)) for k in ("eps", "R", "S", "kappa"))


@pytest.mark.parametrize("kw,match", [
    ({}, "alpha_prune or alpha_tot"),
    ({"alpha_prune": 1.0, "alpha_tot": 5.0}, "alpha_prune or alpha_tot"),
    ({"alpha_prune": -1.0}, "alpha_prune"),
])
def test_point_rejects_bad_input(kw, match):
    with pytest.raises(ValueError, match=match):
        compute.point("hard", 0.2, 0.0, **kw)
    with pytest.raises(ValueError, match="rule"):
        compute.point("medium", 0.2, 0.0, alpha_prune=1.0)
    with pytest.raises(ValueError, match="f must be"):
        compute.point("hard", 1.5, 0.0, alpha_prune=1.0)


# --- learning curves -------------------------------------------------------------------------

def test_alpha_grid_fine_at_theta0_coarse_otherwise():
    g0, g1 = compute.alpha_grid(0.0), compute.alpha_grid(10.0)
    assert g0[0] == pytest.approx(0.1) and g0[-1] == pytest.approx(100.0)
    assert len(g0) > 2 * len(g1) >= 16
    assert np.all(np.diff(np.log(g0)) > 0)
    with pytest.raises(ValueError):
        compute.alpha_grid(0.0, 5.0, 1.0)


@pytest.mark.parametrize("rule,f,theta", [("hard", 0.2, 0.0), ("easy", 0.5, 0.0),
                                          ("hard", 0.3, 10.0)])
def test_learning_curve_matches_solve_and_is_certified(rule, f, theta):
    c = compute.learning_curve(rule, f, theta)
    grid = compute.alpha_grid(theta)
    r = solve(rule, f, grid, theta_deg=theta)
    assert c.alpha_prune.shape == c.eps.shape
    assert c.n_excluded == int((~r.converged).sum())
    assert len(c.alpha_prune) == len(grid) - c.n_excluded
    np.testing.assert_array_equal(c.alpha_prune, grid[r.converged])
    np.testing.assert_array_equal(c.eps, r.eps[r.converged])
    assert np.all((c.eps > 0) & (c.eps < 0.5))
    assert not c.eps.flags.writeable and not c.alpha_prune.flags.writeable
    assert compute.learning_curve(rule, f, theta) is c


def test_learning_curve_leaves_out_uncertified_points(monkeypatch):
    _unconverge(monkeypatch, every=3)
    c = compute.learning_curve("hard", 0.2, 0.0)
    n = len(compute.alpha_grid(0.0))
    assert c.n_excluded == len(range(0, n, 3))
    assert len(c.eps) == n - c.n_excluded
    assert c.alpha_prune[0] == compute.alpha_grid(0.0)[1]


def test_learning_curve_range_and_random_reference():
    c = compute.learning_curve("hard", 0.2, 0.0, lo=0.5, hi=500.0)
    assert c.alpha_prune[0] == pytest.approx(0.5) and c.alpha_prune[-1] == pytest.approx(500.0)
    ref = compute.reference_curve()
    assert ref.rule == "random" and ref.f == 1.0 and ref.theta_deg == 0.0
    # random pruning ignores f and the probe: one cached curve
    assert compute.learning_curve("random", 0.3, 20.0) is ref
    # the classic maximally stable perceptron: alpha * eps -> 0.5 at large alpha
    assert ref.alpha_prune[-1] * ref.eps[-1] == pytest.approx(0.5, abs=0.01)


# --- frontier and f_min ----------------------------------------------------------------------

def test_frontier_theta0_beats_power_law_and_sits_at_grid_floor():
    fr = compute.frontier(0.0)
    alpha, fg = compute.frontier_grids(0.0)
    assert fr.alpha_prune.shape == fr.eps.shape == fr.f_opt.shape == fr.eps_random.shape
    assert fr.n_uncertified == 0 and len(fr.eps) == len(alpha)
    assert np.all(fr.eps <= fr.eps_random * (1 + 1e-12))
    big = fr.alpha_prune > 3
    assert fr.at_boundary[big].all() and np.all(fr.f_opt[big] == fr.f_floor)
    assert fr.f_floor == pytest.approx(fg.min())
    assert math.isnan(fr.f_min)
    ref = curves.pareto_frontier(alpha, 0.0, f_grid=fg)
    np.testing.assert_array_equal(fr.eps, ref.eps)
    assert compute.frontier(0) is fr


def test_frontier_imperfect_metric_has_f_min():
    fr = compute.frontier(20.0)
    alpha, fg = compute.frontier_grids(20.0)
    assert len(alpha) <= 16 and len(fg) <= 20  # coarse: responsive at theta > 0
    ref = curves.f_min(20.0, alpha_prune=alpha, f_grid=fg)
    assert fr.f_min == ref.f_min and fr.alpha_prune_at_min == ref.alpha_prune_at_min
    assert fr.f_min_at_boundary == ref.at_boundary
    assert fg.min() < fr.f_min < 1 and fr.f_min == np.nanmin(fr.f_opt)
    assert not fr.at_boundary.any()
    # the imperfect metric gains much less than the perfect one at a large budget
    fr0 = compute.frontier(0.0)
    i0 = np.argmin(abs(fr0.alpha_prune - 100)); i1 = np.argmin(abs(fr.alpha_prune - 100))
    assert fr.eps[i1] / fr.eps_random[i1] > 3 * fr0.eps[i0] / fr0.eps_random[i0]


# --- phase diagram ---------------------------------------------------------------------------

@pytest.mark.parametrize("theta", [0.0, 10.0])
def test_phase_diagram_shapes_signs_and_boundary(theta):
    ph = compute.phase(theta)
    at, fs = compute.phase_grids(theta)
    assert ph.log_ratio.shape == (len(fs), len(at))
    assert ph.boundary_alpha_tot.shape == fs.shape
    assert ph.n_uncertified == int(np.isnan(ph.log_ratio).sum())
    # small pools: keep easy wins; large pools: keep hard wins
    assert np.all(ph.log_ratio[:, 0][np.isfinite(ph.log_ratio[:, 0])] > 0)
    assert np.all(ph.log_ratio[:, -1][np.isfinite(ph.log_ratio[:, -1])] < 0)
    ok = np.isfinite(ph.boundary_alpha_tot)
    assert ok.sum() >= len(fs) - 1
    # the refined boundary agrees with the solver's root-found boundary
    sel = np.flatnonzero(ok)[[0, len(np.flatnonzero(ok)) // 2]]
    exact = curves.phase_boundary(fs[sel], theta)
    np.testing.assert_allclose(np.log(ph.boundary_alpha_tot[sel]), np.log(exact), atol=0.01)
    # the app has no boundary finder of its own: it is the theory's, on the app's grid
    assert not hasattr(compute, "boundary") and not hasattr(compute, "crossing")
    # values equal the solver at a grid point
    i, j = 2, 3
    e = solve("easy", fs[i], alpha_tot=at[j], theta_deg=theta)
    h = solve("hard", fs[i], alpha_tot=at[j], theta_deg=theta)
    assert ph.log_ratio[i, j] == pytest.approx(np.log10(float(h.eps) / float(e.eps)), rel=1e-12)


def test_phase_diagram_blanks_uncertified(monkeypatch):
    _unconverge(monkeypatch, every=5)
    ph = compute.phase(0.0)
    assert ph.n_uncertified > 0 and np.isnan(ph.log_ratio).sum() == ph.n_uncertified


# --- simulations -----------------------------------------------------------------------------

def test_simulate_small_batch_near_theory():
    s = compute.simulate("hard", 0.5, 0.0, 2.0, n=50, seeds=4)
    assert s.n_ok + s.n_flagged == 4 and s.n_ok >= 2
    theory = compute.point("hard", 0.5, 0.0, alpha_prune=2.0).eps
    # N = 50: finite-size effects of a few percent on top of the sampling error
    assert abs(s.eps_mean - theory) < 4 * s.eps_sem + 0.05
    assert compute.simulate("hard", 0.5, 0.0, 2.0, n=50, seeds=4) is s
    assert s.matches("hard", 0.5, 0.0) and not s.matches("easy", 0.5, 0.0)
    assert not s.matches("hard", 0.2, 0.0) and not s.matches("hard", 0.5, 10.0)


def test_simulate_rejects_bad_input():
    with pytest.raises(ValueError, match="n >= 2"):
        compute.simulate("hard", 0.5, 0.0, 2.0, n=1)
    with pytest.raises(ValueError, match="alpha_prune"):
        compute.simulate("hard", 0.5, 0.0, 0.0)
    with pytest.raises(ValueError, match="too many for an interactive simulation"):
        compute.simulate("hard", 0.5, 0.0, 1000.0, n=100)


# --- figures ---------------------------------------------------------------------------------

def test_panels_draw_and_change_with_the_controls():
    pt = compute.point("hard", 0.2, 0.0, alpha_prune=3.0)
    curves_ = [compute.learning_curve(r, 0.2, 0.0) for r in ("hard", "easy")]
    sim = compute.SimPoint("hard", 0.2, 0.0, 3.0, 100, 8, 0.036, 0.002, 8, 0, 1.0)
    fig = plots.learning_panel(pt, curves_[0], curves_[1:], compute.reference_curve(), [sim])
    assert len(fig.axes) == 1 and len(fig.axes[0].lines) >= 4
    html = plots.to_png_html(fig, "learning", "learning curves")
    assert html.startswith('<img data-panel="learning"') and "base64," in html
    fr_fig = plots.frontier_panel(compute.frontier(0.0), pt)
    assert len(fr_fig.axes) == 2
    ph_fig = plots.phase_panel(compute.phase(0.0), pt)
    assert len(ph_fig.axes) == 2  # the map and its colour bar
    pt2 = compute.point("hard", 0.5, 0.0, alpha_prune=3.0)
    assert plots.to_png(plots.phase_panel(compute.phase(0.0), pt2)) != plots.to_png(ph_fig)


# --- the notebook, run headless --------------------------------------------------------------

def test_notebook_runs_and_marks_the_solver_point():
    from prunescale.app.notebook import app as nb

    outputs, defs = nb.run()
    pt = defs["pt"]
    r = solve(defs["rule"].value, defs["f"], alpha_prune=defs["alpha_slider"].value,
              theta_deg=defs["theta_deg"])
    assert pt.eps == float(r.eps) and pt.converged
    html = " ".join(getattr(o, "text", "") or "" for o in outputs if o is not None)
    for panel in ("learning", "frontier", "phase"):
        assert f'data-panel="{panel}"' in html


# --- command line ----------------------------------------------------------------------------

def _args(*argv):
    parser = argparse.ArgumentParser(prog="prunescale")
    sub = parser.add_subparsers(dest="command")
    _cli_app.add_parser(sub)
    return parser.parse_args(["app", *argv])


def test_cli_builds_marimo_command():
    args = _args("--port", "8123", "--headless")
    assert args.run is _cli_app.run and args.host == "127.0.0.1"
    cmd = _cli_app.build_command(args)
    assert cmd[:4] == [sys.executable, "-m", "marimo", "run"]
    assert Path(cmd[4]) == _cli_app.notebook_path() and Path(cmd[4]).is_file()
    assert cmd[5:] == ["--host", "127.0.0.1", "--port", "8123", "--headless", "--no-sandbox"]
    assert "--headless" not in _cli_app.build_command(_args())
    assert _cli_app.build_command(_args("--edit"))[3] == "edit"


def test_cli_rejects_bad_port():
    with pytest.raises(ValueError, match="--port must be in 1..65535; got 70000"):
        _cli_app.build_command(_args("--port", "70000"))


def test_cli_run_serves_offline(monkeypatch):
    seen = {}

    class FakePopen:
        def __init__(self, cmd, env, preexec_fn=None):
            seen["cmd"], seen["env"], seen["preexec_fn"] = cmd, env, preexec_fn

        def wait(self, timeout=None):
            return 0

    monkeypatch.setattr(_cli_app.subprocess, "Popen", FakePopen)
    assert _cli_app.run(_args("--headless")) == 0
    assert seen["env"]["MARIMO_SKIP_UPDATE_CHECK"] == "1"
    assert seen["env"]["PRUNESCALE_APP_WARM"] == "1"
    if sys.platform.startswith("linux"):  # the server dies with prunescale
        assert callable(seen["preexec_fn"])
    # the notebook imports the installed prunescale; the repository root is never put on the
    # path (it would expose theory/, app/... as top-level modules)
    root = str(_cli_app.notebook_path().parents[1])
    assert root not in seen["env"].get("PYTHONPATH", "").split(":")
    _cli_app.run(_args("--no-warm"))
    assert seen["env"]["PRUNESCALE_APP_WARM"] == "0"


def test_memo_computes_each_key_once_under_concurrency(monkeypatch):
    import threading

    calls = []

    @compute._memo(maxsize=2)
    def slow(x):
        calls.append(x)
        threading.Event().wait(0.2)
        return object()

    out = []
    threads = [threading.Thread(target=lambda: out.append(slow(1.0))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert calls == [1.0] and len(out) == 4 and all(o is out[0] for o in out)
    assert slow.cached(1.0) and not slow.cached(2.0)
    slow(2.0), slow(3.0)  # least recently used is evicted
    assert not slow.cached(1.0) and slow.cached(3.0)
    slow.cache_clear()
    assert not slow.cached(3.0)


def test_is_cached_reports_computed_panels():
    assert not compute.is_cached("phase", 0.0) and not compute.is_cached("frontier", 0)
    assert not compute.is_cached("learning", 0.0, "hard", 0.2)
    compute.learning_curve("hard", 0.2, 0.0)
    compute.phase(0.0)
    assert compute.is_cached("learning", 0, "hard", 0.2) and compute.is_cached("phase", 0)
    assert not compute.is_cached("learning", 0, "easy", 0.2)
    compute.reference_curve()
    assert compute.is_cached("learning", 30.0, "random", 0.7)  # random ignores f and theta
    with pytest.raises(ValueError, match="panel"):
        compute.is_cached("nope", 0.0)


def test_warm_fills_the_theta_caches(monkeypatch):
    seen = []
    monkeypatch.setattr(compute, "frontier", lambda th: seen.append(("fr", th)))
    monkeypatch.setattr(compute, "phase", lambda th: seen.append(("ph", th)))
    monkeypatch.setattr(compute, "learning_curve", lambda r, f, th: seen.append((r, th)))
    compute.warm((0, 10))
    assert seen == [("fr", 0), ("ph", 0), ("hard", 0), ("easy", 0),
                    ("fr", 10), ("ph", 10), ("hard", 10), ("easy", 10)]
