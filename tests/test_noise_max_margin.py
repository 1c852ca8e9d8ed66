"""The max-margin student with label noise: theory up to the capacity, simulations, CLI."""

import json
import subprocess
import sys

import numpy as np
import pytest

from prunescale import sims
from prunescale.theory import solve
from prunescale.theory._equations import moments
from prunescale.theory._kept_law import Quadrature, nodes_theta, nodes_theta0
from prunescale.theory.capacity import capacity
from prunescale.theory.pruning import kept_range


@pytest.mark.parametrize("theta", [0.0, 10.0])
@pytest.mark.parametrize("rule,f,alpha", [("hard", 0.3, 2.0), ("easy", 0.5, 1.5)])
def test_hinge_at_small_lambda_is_the_max_margin_student(rule, f, alpha, theta):
    """Soft margin with lam -> 0+ in the separable regime: the ERM engine (a different law,
    prox and solver) gives the max-margin direction of the noisy max-margin engine."""
    from prunescale.theory import solve

    mm = solve(rule, f, alpha, theta_deg=theta, noise=0.1)
    hinge = solve(rule, f, alpha_prune=alpha, theta_deg=theta, learner="hinge", lam=1e-4,
                      noise=0.1)
    assert bool(mm.converged) and bool(hinge.converged)
    assert abs(float(mm.eps) - float(hinge.eps)) < 1e-8
    assert abs(float(mm.S) - float(hinge.S)) < 1e-7
    # and noise matters: the noiseless student is a different one
    assert abs(float(solve(rule, f, alpha, theta_deg=theta).eps) - float(mm.eps)) > 1e-2


def _mc_moments(rule, f, theta_deg, eta, R, S, b, k, n=2_000_000, seed=0):
    """Monte Carlo of E[M2], E[M1 X1], E[M1 X2], E[Phi] under the noisy kept law."""
    from scipy.special import ndtr

    rng = np.random.default_rng(seed)
    lo, hi = kept_range(rule, f)
    tp = np.abs(rng.standard_normal(4 * n))
    tp = tp[(tp >= lo) & (tp <= hi)][:n]
    tp = tp * rng.choice([-1.0, 1.0], tp.size)
    v = rng.standard_normal(tp.size)
    th = np.radians(theta_deg)
    t = np.cos(th) * tp - np.sin(th) * v
    u = np.sin(th) * tp + np.cos(th) * v
    y = np.sign(t) * np.where(rng.random(tp.size) < eta, -1.0, 1.0)
    X1, X2 = y * t, y * u
    a = k - R * X1 - S * X2
    w = a / b
    Phi = ndtr(w)
    M1 = a * Phi + b * np.exp(-w * w / 2) / np.sqrt(2 * np.pi)
    vals = np.stack([a * M1 + b * b * Phi, M1 * X1, M1 * X2, Phi])
    return vals.mean(1), vals.std(1) / np.sqrt(tp.size)


@pytest.mark.parametrize("theta", [0.0, 15.0])
@pytest.mark.parametrize("rule,f", [("hard", 0.3), ("easy", 0.4)])
def test_noisy_expectations_match_monte_carlo(rule, f, theta):
    eta, R, S, b, k = 0.15, 0.8, (0.2 if theta else 0.0), None, 0.3
    b = np.sqrt(1 - R * R - S * S)
    lo, hi = kept_range(rule, f)
    one = lambda x: np.array([x], float)  # noqa: E731
    if theta:
        nodes = nodes_theta(one(lo), one(hi), one(f), one(np.radians(theta)), one(R), one(S),
                            one(b), one(k), Quadrature(), one(eta))
    else:
        nodes = nodes_theta0(one(lo), one(hi), one(f), one(R), one(b), one(k), Quadrature(),
                             one(eta))
    m = moments(nodes, one(R), one(S), one(b), one(k))
    quad = np.array([m.m2[0], m.m1x1[0], m.m1x2[0], m.P[0]])
    mc, se = _mc_moments(rule, f, theta, eta, R, S, b, k)
    assert np.all(np.abs(quad - mc) < 5 * se + 1e-12), (quad, mc, se)


def test_capacity_of_pure_noise_is_cover_and_noise_lowers_it():
    for rule in ("hard", "easy", "random"):
        c = capacity(rule, 0.3, 10.0, noise=0.5)
        assert abs(float(c.alpha_c) - 2.0) < 1e-9 and abs(float(c.eps_c) - 0.5) < 1e-9
    c = capacity("hard", 0.3, noise=np.array([0.0, 0.01, 0.05, 0.1, 0.3, 0.5]))
    assert np.isinf(c.alpha_c[0]) and c.converged.all()
    assert np.all(np.diff(c.alpha_c[1:]) < 0)
    # below Cover's capacity random labels leave the student uncorrelated: eps = 1/2
    r = solve("easy", 0.3, np.array([0.5, 1.0, 1.9]), theta_deg=10.0, noise=0.5)
    assert r.converged.all() and np.allclose(r.eps, 0.5, atol=1e-9)


def test_beyond_the_capacity_there_is_a_status_never_a_number():
    c = float(capacity("hard", 0.3, 10.0, noise=0.1).alpha_c)
    alphas = c * np.array([0.5, 0.999, 1.0 + 1e-9, 1.01, 3.0])
    r = solve("hard", 0.3, alphas, theta_deg=10.0, noise=0.1)
    assert r.converged[:2].all() and not r.converged[2:].any()
    assert np.isnan(r.eps[2:]).all() and np.isnan(r.kappa[2:]).all()
    assert "separability not decided" in r.reason[2]
    assert all(s.startswith("not separable at this load") for s in r.reason[3:])
    np.testing.assert_allclose(r.alpha_c, c)
    # continuity at the capacity: the margin closes and the error meets eps_c
    cap = capacity("hard", 0.3, 10.0, noise=0.1)
    assert 0 < r.kappa[1] < 1e-3
    assert abs(r.eps[1] - float(cap.eps_c)) < 1e-3


def test_simulated_separability_switches_at_the_capacity():
    """Finite-N students: every one certified separable well below alpha_c, none well above."""
    c = float(capacity("hard", 0.3, noise=0.1).alpha_c)
    pr = sims.Pruning("hard", 0.3)
    below = sims.simulate(pr, alpha_prune=0.75 * c, n=200, seeds=8, noise=0.1)
    above = sims.simulate(pr, alpha_prune=1.35 * c, n=200, seeds=8, noise=0.1, max_iter=40)
    assert below.n_flagged == 0 and below.complete
    assert above.n_flagged == 8 and not above.complete and np.isnan(above.eps_mean)


def test_simulation_agrees_with_theory_and_shares_labels_with_erm():
    from prunescale import sims

    pr = sims.Pruning("hard", 0.3)
    res = sims.simulate(pr, alpha_prune=2.0, n=400, seeds=16, noise=0.1)
    theory = float(solve("hard", 0.3, 2.0, noise=0.1).eps)
    assert res.n_flagged == 0
    assert abs(res.eps_mean - theory) < 3.5 * res.eps_sem
    np.testing.assert_allclose(res.eps_noisy, 0.1 + 0.8 * res.eps)
    # the same students at lam -> 0+ of the hinge learner: same data and labels
    small = sims.simulate(pr, alpha_prune=2.0, n=100, seeds=3, noise=0.1)
    hinge = sims.simulate(pr, alpha_prune=2.0, n=100, seeds=3, learner="hinge", lam=1e-4, noise=0.1)
    np.testing.assert_allclose(small.eps, hinge.eps, atol=1e-4)


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "prunescale.cli", *args], capture_output=True,
                          text=True, timeout=300)


def test_cli_theory_and_sim_with_noise():
    out = _cli("theory", "--rule", "hard", "--f", "0.3", "--alpha-prune", "2,4", "--noise",
               "0,0.1", "--json")
    assert out.returncode == 1  # alpha 4 is beyond the capacity at noise 0.1
    recs = {(r["alpha_prune"], r["noise"]): r for r in json.loads(out.stdout)}
    assert len(recs) == 4 and "not separable at this load" in out.stderr
    ok = recs[2.0, 0.1]
    assert ok["converged"] and abs(ok["eps_noisy"] - (0.1 + 0.8 * ok["eps"])) < 1e-12
    assert recs[2.0, 0.0]["alpha_c"] is None and abs(ok["alpha_c"] - 3.206457) < 1e-5
    bad = recs[4.0, 0.1]
    assert not bad["converged"] and bad["eps"] is None and bad["kappa"] is None
    assert bad["reason"].startswith("not separable at this load")
    out = _cli("sim", "--rule", "hard", "--f", "0.3", "--alpha-prune", "2", "--noise", "0.1",
               "--n", "60", "--seeds", "4", "--json")
    assert out.returncode == 0, out.stderr
    (row,) = json.loads(out.stdout)
    assert row["learner"] == "max-margin" and row["noise"] == 0.1 and row["n_flagged"] == 0
    assert abs(row["eps_noisy_mean"] - (0.1 + 0.8 * row["eps_mean"])) < 1e-12


@pytest.mark.slow
@pytest.mark.parametrize("rule,f,alpha,theta,eta", [
    ("hard", 0.4, 2.5, 0.0, 0.1),
    ("easy", 0.3, 2.0, 10.0, 0.2),
    ("random", 1.0, 1.5, 0.0, 0.05),
])
def test_simulation_agrees_with_theory_n800(rule, f, alpha, theta, eta):
    res = sims.simulate(sims.Pruning(rule, f, theta), alpha_prune=alpha, n=800, seeds=32, noise=eta, seed=5)
    th = solve(rule, f, alpha, theta_deg=theta, noise=eta)
    assert bool(th.converged) and res.n_flagged == 0
    assert abs(res.eps_mean - float(th.eps)) < 3.5 * res.eps_sem, (res.eps_mean, res.eps_sem)
