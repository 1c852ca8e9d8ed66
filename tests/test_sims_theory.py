"""Simulation against the replica theory (``theory.solve``; the notes' check values if absent).

Criterion for each measured mean m (eps, kappa, R, S): |m - theory| <= 4 sem + c / N * scale,
with the standard error of the mean over students (4 sem: a two-sided 6e-5 false-alarm rate per
quantity for Gaussian means) and a finite-size allowance c / N, c = 10, relative to the
quantity's scale (|eps|, |kappa|, 1 - R, or 0.1 for S). Finite-size corrections of the
max-margin perceptron learning curve are O(1/N); the finite pool's threshold fluctuates by
O(1/sqrt(P_tot)) but enters eps at second order. At N = 200 the allowance is 5 %.
"""


import numpy as np
import pytest

from prunescale import sims
from prunescale.theory.pruning import Pruning

#: notes' table: (theta, rule, f, alpha_prune) -> (eps, R, S, kappa)
TABLE = {
    (0, "random", 1.0, 1.0): (0.265711, 0.671358, 0.0, 0.786550),
    (0, "random", 1.0, 10.0): (0.049183, 0.988086, 0.0, 0.099889),
    (0, "hard", 0.5, 3.0): (0.081235, 0.967611, 0.0, 0.165246),
    (0, "hard", 0.2, 3.0): (0.034721, 0.994057, 0.0, 0.067131),
    (0, "easy", 0.5, 1.0): (0.181832, 0.841231, 0.0, 1.196545),
    (0, "easy", 0.2, 6.0): (0.033835, 0.994356, 0.0, 1.355108),
    (10, "easy", 0.2, 6.0): (0.064958, 0.979250, 0.172668, 1.355108),
    (20, "hard", 0.2, 3.0): (0.260973, 0.682316, -0.535650, 0.201089),
    (20, "easy", 0.5, 3.0): (0.147727, 0.894226, 0.255190, 0.793229),
}
C_FINITE = 10.0


def _theory(rule, f, alpha, theta):
    try:
        from prunescale import theory

        r = theory.solve(rule, f, alpha, theta_deg=theta)
        assert bool(np.asarray(r.converged))
        return tuple(float(np.asarray(getattr(r, k))) for k in ("eps", "R", "S", "kappa"))
    except (ImportError, AttributeError):
        return TABLE[(theta, rule, f, alpha)]


def _check(rule, f, alpha, theta, n, seeds, seed=0):
    res = sims.simulate(Pruning(rule, f, theta), alpha_prune=alpha, n=n, seeds=seeds, seed=seed)
    assert res.n_flagged == 0 and res.max_gap <= 1e-6
    eps, R, S, kappa = _theory(rule, f, alpha, theta)
    allow = C_FINITE / n
    report = []
    for name, th, scale in (("eps", eps, abs(eps)), ("kappa", kappa, abs(kappa)),
                            ("R", R, 1 - R), ("S", S, 0.1)):
        mean, sem = getattr(res, f"{name}_mean"), getattr(res, f"{name}_sem")
        report.append(f"{name}: sim {mean:.5f} +- {sem:.5f} theory {th:.5f} "
                      f"z = {(mean - th) / sem:+.2f}")
        assert abs(mean - th) <= 4 * sem + allow * scale, "; ".join(report)
    print(f"{rule} f={f} alpha={alpha} theta={theta} N={n} K={seeds}: " + "; ".join(report))
    return res


@pytest.mark.parametrize("rule,f,alpha,theta,seeds", [
    ("hard", 0.2, 3.0, 0, 24),
    ("random", 1.0, 1.0, 0, 24),
    ("hard", 0.2, 3.0, 20, 16),
    ("easy", 0.2, 6.0, 10, 12),
])
def test_sim_matches_theory_n200(rule, f, alpha, theta, seeds):
    _check(rule, f, alpha, theta, 200, seeds)


@pytest.mark.slow
@pytest.mark.parametrize("rule,f,alpha,theta", [
    ("hard", 0.2, 3.0, 0), ("hard", 0.5, 3.0, 0), ("easy", 0.5, 1.0, 0), ("easy", 0.2, 6.0, 0),
    ("random", 1.0, 10.0, 0), ("easy", 0.2, 6.0, 10), ("hard", 0.2, 3.0, 20),
    ("easy", 0.5, 3.0, 20),
])
def test_sim_matches_theory_n400(rule, f, alpha, theta):
    _check(rule, f, alpha, theta, 400, 48, seed=1)


def test_direct_sampling_matches_theory():
    """The N -> inf sampler gives the same learning curve (hard f = 0.2, alpha = 3)."""
    res = sims.simulate(Pruning("hard", 0.2), alpha_prune=3.0, n=200, seeds=24, seed=5, direct=True)
    eps = _theory("hard", 0.2, 3.0, 0)[0]
    assert res.mode == "direct"
    assert abs(res.eps_mean - eps) <= 4 * res.eps_sem + C_FINITE / 200 * eps
