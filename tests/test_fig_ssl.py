"""Figure 9 (self-supervised pruning: the prototype probe on spiked inputs) in smoke mode, and
its answer logic."""

import numpy as np
import pytest

from prunescale.figures import fig_ssl as F


def test_winner_and_best_over_f_claim_nothing_without_certified_points():
    eps = np.array([[0.3, 0.2, 0.25], [0.1, np.nan, 0.4]])  # [point, f]
    best = F.best_over_f(eps)
    assert best[0] == 0.2 and np.isnan(best[1])
    w = F.winner([0.1, 0.3, 0.2, np.nan], [0.2, 0.1, 0.3, 0.1], [0.3, 0.2, 0.1, 0.1])
    assert list(w) == [0, 1, 2, -1]
    # pruning within the relative TIE of no pruning is the same error with fewer examples
    none = 0.2
    assert F.winner(none * (1 + F.TIE / 2), 0.3, none) == 0
    assert F.winner(none * (1 + 2 * F.TIE), 0.3, none) == 2
    assert F._segments([1, 2, 3, 4], ["a", "a", "b", "a"]) == [["a", 1.0, 2.0], ["b", 3.0, 3.0],
                                                               ["a", 4.0, 4.0]]

    # the pool's own prototype against the independent sample (the full run's check)
    pools = [{"n": n, "source": s, "eps_mean": m, "eps_sem": e, "theory": 0.0877}
             for n, s, m, e in ((400, "independent", 0.0863, 0.0010),
                                (400, "pool", 0.0858, 0.0009),
                                (800, "independent", 0.0878, 0.0006),
                                (800, "pool", 0.0869, 0.0006))]
    ans = F.pool_answer(pools, {"snr": 4.0})
    assert ans["n_800"]["pool"] == [0.0869, 0.0006] and ans["snr"] == 4.0
    assert ans["n_800"]["diff_in_se"] == round(-0.0009 / np.hypot(0.0006, 0.0006), 2)
    assert isinstance(F.pool_answer([], {}), str)


#: the smoke configuration: (b)'s markers at one pool size, N = 100
SMOKE = {
    "learner": "max-margin", "snr": [0.1, 3.5, 30.0], "alpha_tot": [0.5, 100.0],
    "f": [0.2, 0.5, 0.85], "curve_snr": [1.0], "curve_f": 0.3,
    "curve_alpha_prune": [0.3, 1.0, 2.0, 5.0], "sim_alpha_prune": [2.0],
    # the angle of (b)'s prototype marker (alpha_ssl = alpha_tot = 2 / 0.3): no new sizes
    "angle_snr": [1.0], "angle_alpha_ssl": [6.666667], "angle_methods": ["eigen"],
    "angle_f": 0.3, "angle_alpha_tot": 6.666667, "n": 100, "seeds": 6, "seed": 0,
    # (b)'s prototype marker again (from the cache) against the pool's own prototype
    "pool_check": {"snr": 1.0, "alpha_tot": 2.0 / 0.3, "f": 0.3, "rule": "hard",
                   "n": [100], "seeds": 6}}


def _check_theory(res, tmp_path):
    """The figure, its table and what its theory shows (with or without simulated markers)."""
    for p in res["paths"]:
        assert p.exists() and p.stat().st_size > 1000
    text = (tmp_path / f"{F.NAME}.csv").read_text()
    assert "# answers:" in text and "# n_uncertified: 0" in text
    assert res["n_uncertified"] == 0 and res["n_flagged"] == 0
    # below the BBP line (alpha_tot S^2 <= 1) the prototype carries no information: keep-hard,
    # keep-easy and random pruning at the same alpha_prune are the same theory
    from prunescale.theory import solve

    g, c = res["grid"], F.config(True)
    f = np.asarray(c["f"])
    for j, a in enumerate(c["alpha_tot"]):  # S = 0.1: alpha_tot S^2 = 0.005 and 1
        rand = solve("random", f, alpha_tot=a, snr=0.1).eps
        np.testing.assert_allclose(g["proto_hard"][0, j], rand, rtol=0, atol=1e-10)
        np.testing.assert_allclose(g["proto_easy"][0, j], rand, rtol=0, atol=1e-10)
    # ... and no pruning wins there (random pruning at f < 1 of a fixed pool never helps);
    # with a strong spike keep-easy wins small pools, keep-hard large ones
    best = res["decision"]["best"]
    assert best.tolist() == [[2, 2], [1, 0], [1, 1]]
    ans = res["answers"]
    assert ans["no_pruning_wins_below_bbp"]
    # keep-hard's win is a tie: it keeps every support vector of the pool (the pool's
    # student) with a fraction of it; keep-easy really beats no pruning
    assert ans["keep_hard_strictly_better_share"] == 0.0
    assert ans["keep_hard_smallest_f_tying_no_pruning"][0] < 1.0
    assert abs(g["proto_hard"][1, 1].min() / g["none"][1, 1] - 1) < 1e-9
    assert ans["keep_easy_largest_gain_over_no_pruning"] > 1.5
    assert ans["winner_by_snr"]["3.5"] == [["easy", 0.5, 0.5], ["hard", 100.0, 100.0]]
    # the label-free best is never better than the supervised best (which may also prune)
    d = res["decision"]
    assert np.all(d["ratio"] >= 1 - 1e-9) and d["within"][0].all()


def test_figure_theory_smoke(tmp_path, monkeypatch):
    """The figure without simulated markers: its theory, decision, answers, image and table
    (the simulated markers, whose students are checked in tests/test_spiked_sims.py, run in
    :func:`test_figure_smoke`)."""
    c = {**SMOKE, "sim_alpha_prune": [], "angle_methods": [],
         "pool_check": {**SMOKE["pool_check"], "n": []}}
    monkeypatch.setattr(F, "config", lambda q: c)
    res = F.main(quick=True, out=tmp_path)
    _check_theory(res, tmp_path)
    assert res["sim"] == [] and res["angles"] == [] and res["pool_check"] == []
    assert res["z"].size == 0


@pytest.mark.slow
def test_figure_smoke(tmp_path, monkeypatch):
    monkeypatch.setattr(F, "config", lambda q: SMOKE)
    res = F.main(quick=True, out=tmp_path)
    _check_theory(res, tmp_path)
    text = (tmp_path / f"{F.NAME}.csv").read_text()
    assert len(res["sim"]) == 3 and text.count(",pool_check,") == 2
    assert res["theory_converged"]
    ans = res["answers"]
    # the markers: the students agree with the theory, and the eigenvector's measured angle
    # with the BBP limit (above the transition: 30.7 degrees at alpha_ssl = 6.67, S = 1)
    assert np.all(np.abs(res["z"]) < 4)
    (ang,) = res["angles"]
    assert abs(ang["bbp_deg"] - 30.7) < 0.1
    assert abs(ang["probe_deg_mean"] - ang["bbp_deg"]) < 4 * ang["probe_deg_sem"]
    proto = next(s for s in res["sim"] if s["policy"] == "prototype")
    assert proto["probe_deg_mean"] == ang["probe_deg_mean"]  # the same students
    indep, pool = res["pool_check"]
    assert indep["eps_mean"] == proto["eps_mean"] and pool["source"] == "pool"
    assert abs(ans["pool_prototype"]["n_100"]["diff_in_se"]) < 4
    # the main job's summary carries the answers (a rerun: everything from the cache)
    from prunescale.figures.run import run_all

    summary = run_all(tmp_path, only=["fig9"])
    assert summary["drawn"] == [F.NAME] and summary["ssl"]["no_pruning_wins_below_bbp"]
    assert summary["certification"][F.NAME]["n_uncertified"] == 0
