"""Selection policies (soft, label-aware) for the max-margin student: theory and simulation."""

import numpy as np
import pytest

from prunescale import sims
from prunescale.theory import solve
from prunescale.theory.capacity import capacity


@pytest.mark.parametrize("rule,f,alpha,theta,eta,tau,metric", [
    ("hard", 0.3, 2.0, 0.0, 0.0, 0.3, "abs"),
    ("hard", 0.3, 2.0, 10.0, 0.1, 0.05, "abs"),
    ("easy", 0.4, 2.0, 0.0, 0.1, 0.0, "signed"),
    ("easy", 0.4, 2.0, 10.0, 0.1, 0.2, "signed"),
    ("hard", 0.5, 1.5, 10.0, 0.05, 0.1, "signed"),
])
def test_max_margin_policy_is_the_small_lambda_hinge_of_the_erm_engine(
        rule, f, alpha, theta, eta, tau, metric):
    """Two engines (max-margin: Gardner exponent, closed-form v integral; ERM: (p, z) rule,
    proximal maps), the same kept law: hinge at lam -> 0+ is the max-margin student."""
    from prunescale.theory import solve

    mm = solve(rule, f, alpha, theta_deg=theta, noise=eta, softness=tau, metric=metric)
    hinge = solve(rule, f, alpha_prune=alpha, theta_deg=theta, learner="hinge", lam=1e-4,
                      noise=eta, softness=tau, metric=metric)
    assert bool(mm.converged) and bool(hinge.converged), (mm.reason, hinge.reason)
    assert abs(float(mm.eps) - float(hinge.eps)) < 1e-8
    assert float(mm.eps_bound) < 1e-6


def test_soft_policy_joins_the_sharp_rule_and_signed_joins_abs_without_noise():
    for theta in (0.0, 10.0):
        sharp = solve("hard", 0.3, 2.0, theta_deg=theta)
        soft = solve("hard", 0.3, 2.0, theta_deg=theta, softness=1e-4)
        assert abs(float(soft.eps) - float(sharp.eps)) < 1e-6
        assert abs(float(soft.eps) - float(sharp.eps)) > 0  # a different (weighted) rule
    # theta = 0, eta = 0: y p = |p| for every example
    for rule in ("hard", "easy"):
        a = solve(rule, 0.3, np.array([1.0, 3.0]), softness=0.2)
        s = solve(rule, 0.3, np.array([1.0, 3.0]), softness=0.2, metric="signed")
        np.testing.assert_allclose(s.eps, a.eps, atol=1e-9)
        assert s.records()[0]["metric"] == "signed" and s.metric == "signed"


def test_label_aware_keep_hard_learns_the_flipped_rule():
    """Keeping the smallest y p under noise keeps mostly mislabeled examples: eps > 1/2."""
    r = solve("hard", 0.3, 1.5, noise=0.1, metric="signed")
    assert bool(r.converged) and float(r.eps) > 0.5
    # it is separable only up to a smaller load than the label-free rule's
    c_signed = float(capacity("hard", 0.3, noise=0.1, metric="signed").alpha_c)
    c_abs = float(capacity("hard", 0.3, noise=0.1).alpha_c)
    assert c_signed < c_abs
    # label-aware keep-easy discards the flipped labels: separable at every load
    assert np.isinf(capacity("easy", 0.3, noise=0.1, metric="signed").alpha_c)


@pytest.mark.parametrize("rule,f,alpha,theta,eta,tau,metric", [
    ("easy", 0.4, 2.0, 10.0, 0.1, 0.2, "signed"),
    pytest.param("hard", 0.3, 2.0, 0.0, 0.0, 0.3, "abs", marks=pytest.mark.slow),
])
def test_simulation_agrees_with_theory_n400(rule, f, alpha, theta, eta, tau, metric):
    res = sims.simulate(sims.Pruning(rule, f, theta), alpha_prune=alpha, n=400, seeds=24, noise=eta, softness=tau,
                        metric=metric, progress=False)
    th = solve(rule, f, alpha, theta_deg=theta, noise=eta, softness=tau, metric=metric)
    assert res.n_flagged == 0 and res.softness == tau and res.metric == metric
    assert abs(res.eps_mean - float(th.eps)) < 3.5 * res.eps_sem, (res.eps_mean, res.eps_sem)


@pytest.mark.slow
def test_simulation_direct_mode_and_sharp_signed_rank():
    pr = sims.Pruning("hard", 0.3)
    direct = sims.simulate(pr, alpha_prune=1.5, n=200, seeds=8, softness=0.2, direct=True, progress=False)
    ranked = sims.simulate(pr, alpha_prune=1.5, n=200, seeds=8, noise=0.05, metric="signed", progress=False)
    assert direct.n_flagged == 0 and direct.mode == "direct"
    assert ranked.n_flagged == 0 and ranked.metric == "signed"
    with pytest.raises(ValueError, match="metric must be one of"):
        sims.simulate(pr, alpha_prune=1.5, n=50, seeds=1, metric="loss")
    with pytest.raises(ValueError, match="softness must be in"):
        sims.simulate(pr, alpha_prune=1.5, n=50, seeds=1, softness=-1.0)


@pytest.mark.slow
@pytest.mark.parametrize("rule,f,alpha,theta,eta,tau,metric", [
    ("hard", 0.4, 2.5, 10.0, 0.05, 0.1, "abs"),
    ("easy", 0.3, 3.0, 0.0, 0.2, 0.0, "signed"),
    ("hard", 0.5, 1.5, 0.0, 0.1, 0.3, "signed"),
])
def test_simulation_agrees_with_theory_n800(rule, f, alpha, theta, eta, tau, metric):
    res = sims.simulate(sims.Pruning(rule, f, theta), alpha_prune=alpha, n=800, seeds=32, noise=eta, softness=tau,
                        metric=metric, seed=3, progress=False)
    th = solve(rule, f, alpha, theta_deg=theta, noise=eta, softness=tau, metric=metric)
    assert bool(th.converged) and res.n_flagged == 0
    assert abs(res.eps_mean - float(th.eps)) < 3.5 * res.eps_sem, (res.eps_mean, res.eps_sem)
