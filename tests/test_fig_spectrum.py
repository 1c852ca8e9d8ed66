"""Figure 10 (pruning against a slow power law): its exponent reading and a small run."""

import numpy as np
import pytest

from prunescale.figures import fig_spectrum as F


def test_local_exponent_of_a_power_law():
    a = np.geomspace(0.01, 10, 7)
    np.testing.assert_allclose(F.local_exponent(a, 3 * a ** -0.37), 0.37, rtol=1e-12)


def test_source_capacity_exponent():
    assert F.source_capacity_exponent(2.0, 3.0) == pytest.approx(0.5)  # r = 1/2
    assert F.source_capacity_exponent(1.5, 1.75) == pytest.approx(1.5 * 0.25 / 1.375)
    assert F.source_capacity_exponent(2.0, 9.0) == pytest.approx(0.5)  # r = 2: m = 1/2
    assert np.isnan(F.source_capacity_exponent(1.0, 0.5))


def test_answers_read_a_transient_and_the_tail():
    c = {"alpha_prune": np.geomspace(0.01, 10, 13).tolist(), "f": [0.02, 0.1, 1.0], "dim": 100,
         "spectra": [[2.0, 3.0]]}
    a = np.asarray(c["alpha_prune"])
    none = 0.3 * a ** -0.5
    # the frontier falls like a^-1 up to a = 0.3, then like a^-0.5 (a smaller prefactor)
    knee = 0.3
    perfect = np.where(a < knee, 0.3 * a ** -1.0 * 0.01 ** 0.5,
                       0.3 * 0.01 ** 0.5 * knee ** -0.5 * a ** -0.5)
    cur = [{"none": none, "perfect": perfect, "imperfect": none * 0.8,
            "perfect_f": np.full(a.size, 0.02), "imperfect_f": np.full(a.size, 0.1)}]
    ans = F.answers(c, cur)["columns"][0]
    assert ans["tail_unpruned"] == pytest.approx(0.5, abs=1e-9)
    assert ans["tail_perfect"] == pytest.approx(0.5, abs=1e-9)
    assert ans["peak_perfect"] == pytest.approx(1.0, abs=1e-9)
    lo, hi = ans["fast_perfect"]
    assert lo == pytest.approx(np.sqrt(a[0] * a[1]), rel=1e-2) and 0.1 < hi < knee
    assert ans["fast_imperfect"] is None and ans["prefactor_imperfect"] == pytest.approx(1.25)
    assert ans["f_floor_perfect"] and not ans["f_floor_imperfect"]
    assert "only changed the prefactor" in F.answers(c, cur)["summary"]


SMALL = {"dim": 100, "spectra": [[2.0, 3.0]], "alpha_prune": [0.05, 0.2, 0.8, 3.0],
         "f": [0.1, 0.4, 1.0], "theta_imperfect": 10.0, "sim_alpha_prune": [0.8],
         "sim_columns": [0], "seeds": 3, "seed": 1}


def _run(tmp_path, monkeypatch, **changes):
    monkeypatch.setattr(F, "config", lambda quick: {**SMALL, **changes})
    r = F.main(quick=True, out=tmp_path)
    assert r["n_uncertified"] == 0 and r["n_flagged"] == 0 and r["theory_converged"]
    cu = r["curves"][0]
    assert np.all(cu["perfect"] <= cu["none"] * (1 + 1e-9))  # f = 1 is on the frontier's grid
    assert (tmp_path / f"{F.NAME}.png").stat().st_size > 0
    assert "answers" in (tmp_path / f"{F.NAME}.csv").read_text()
    assert "D = 100" in r["answers"]["summary"]
    return r


def test_figure_small_run_theory(tmp_path, monkeypatch):
    """The whole figure on a small configuration without simulated markers."""
    r = _run(tmp_path, monkeypatch, sim_columns=[])
    assert r["sim"] == [] and r["z"].size == 0


@pytest.mark.slow  # the simulated markers compile three samplers (~10 s)
def test_figure_small_run_with_markers(tmp_path, monkeypatch):
    r = _run(tmp_path, monkeypatch)
    assert {p["policy"] for p in r["sim"]} == set(F.CURVES)
    assert np.all(np.abs(r["z"]) < 5)  # three students at D = 100: a loose sanity check
    assert "simulation" in (tmp_path / f"{F.NAME}.csv").read_text()
