"""Figure 8 (power-law and mixed selection policies) in smoke mode, and its answer logic."""

import numpy as np

from prunescale.figures import fig_policies as F


def test_best_exponent_and_slope_claim_nothing_without_certified_points():
    eps = np.array([[0.3, 0.2, np.nan], [0.1, 0.25, 0.4]])  # [exponent, f]
    best = F.best_exponents([-1.0, 1.0], eps)
    assert best[0] == 1.0 and best[1] == -1.0 and np.isnan(best[2])
    a = np.geomspace(1.0, 1000.0, 7)
    np.testing.assert_allclose(F.last_decade_slope(a, 0.5 * a ** -0.5), -0.5)
    assert np.isnan(F.last_decade_slope(a, np.r_[0.5 * a[:-1] ** -0.5, np.nan]))


def test_figure_smoke(tmp_path, monkeypatch):
    monkeypatch.setattr(F, "config", lambda q: {
        "learner": "logistic", "lam": 0.01, "probe_scale": 5.0, "thetas": [0.0],
        "noise": 0.05, "alpha_tot": 2.3, "exps": [0.0, 1.0], "f": [0.2, 0.6],
        "sim_exps": [1.0], "sim_f": [0.2], "cons_f": 0.2, "cons_noise": 0.1,
        "random_share": 0.2, "power_exp": 1.0, "cons_alpha_tot": [1.0, 3.0, 30.0],
        "cons_alpha_sim": [10.0], "sim_policies": ["mixed"], "n": 40, "seeds": 3, "seed": 0,
        "big_sims": [], "per_theta": {}})
    res = F.main(quick=True, out=tmp_path)
    for p in res["paths"]:
        assert p.exists() and p.stat().st_size > 1000
    text = (tmp_path / f"{F.NAME}.csv").read_text()
    assert "# answers:" in text and "# n_uncertified: 0" in text
    assert res["n_flagged"] == 0 and len(res["sim"]) == 2
    assert all(s["theory_converged"] for s in res["sim"])
    ex = res["exponents"][0.0]
    # A = 0 is random selection (the figure draws the random solve there): the power
    # policy's own solve at A = 0 gives the same line
    from prunescale.theory import solve

    a0 = solve("power", res["f"][0.0], alpha_tot=2.3, learner="logistic", lam=0.01,
               noise=0.05, power_exp=0.0, probe_scale=5.0)
    np.testing.assert_allclose(a0.eps, ex["eps_random"], rtol=0, atol=1e-10)
    np.testing.assert_allclose(a0.eps_noisy, ex["eps_noisy"][0], rtol=0, atol=1e-10)
    assert np.all(ex["eps"][1] != ex["eps"][0])  # A = 1 is not random
    # eps_noisy = eta + (1 - 2 eta) eps for a flip channel
    np.testing.assert_allclose(ex["eps_noisy"], 0.05 + 0.9 * ex["eps"], atol=1e-12)
    cons = res["consistency"][0.0]
    assert all(np.isfinite(v).all() for v in cons.values())
    # perfect probe: a random share of 0.2 puts keep-hard's error between keep-hard's and
    # random's at every pool size of this grid (not a law: at theta = 20 and alpha_tot = 1e3
    # the mixed policy is worse than both, docs/gallery.md)
    lo = np.minimum(cons["hard"], cons["random"])
    hi = np.maximum(cons["hard"], cons["random"])
    assert np.all((lo <= cons["mixed"]) & (cons["mixed"] <= hi))
    # keep-easy falls slowest over the last decade; the answers name it
    slopes = res["answers"]["theta_0"]["last_decade_slope"]
    assert slopes["easy"] == max(slopes.values()) and "easy" in res["answers"]["theta_0"]["stalls"]
    # the main job's summary carries the answers (a rerun: everything from the cache)
    from prunescale.figures.run import run_all

    summary = run_all(tmp_path, only=["fig8"])
    assert summary["drawn"] == [F.NAME] and summary["policies"]["theta_0"]["stalls"] == ["easy"]
    assert summary["certification"][F.NAME]["n_uncertified"] == 0
