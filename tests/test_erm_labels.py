"""Label channels for the regularized learners (ridge, logistic, hinge): simulator and theory."""

import numpy as np
import pytest

from prunescale.theory.labels import Binned

LEARNERS = [("ridge", 0.1), ("logistic", 0.1), ("hinge", 0.1)]


@pytest.mark.parametrize("learner,lam", LEARNERS)
@pytest.mark.parametrize("theta", [0.0, 15.0])
def test_simulator_channel_draws_reproduce_noise(learner, lam, theta):
    """binned:0:ETA,1-ETA is not a flip object, so it goes through the channel sampler; it
    uses the uniforms of the noise sampler, so the students are identical."""
    from prunescale.sims import simulate

    kw = dict(rule="hard", f=0.5, alpha_prune=1.5, n=40, seeds=2, learner=learner, lam=lam,
              theta_deg=theta)
    a = simulate(noise=0.1, **kw)
    b = simulate(labels=Binned((0.0,), (0.1, 0.9)), **kw)
    c = simulate(labels="flip:0.1", **kw)
    assert b.labels == "binned:0:0.1,0.9" and c.labels is None
    # the same draws; the noise path pads the kept set to its shape bucket, the channel path
    # does not, so the solves agree to rounding, not bit for bit
    np.testing.assert_allclose(a.eps, b.eps, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(a.eps, c.eps)
    np.testing.assert_allclose(a.flipped, b.flipped, rtol=0, atol=1e-12)
    np.testing.assert_allclose(a.eps_noisy, b.eps_noisy, rtol=0, atol=1e-9)


def test_simulator_channel_policy_path():
    """A selection policy (softness > 0) with a channel: the channel sampler of the policy
    path, again identical to the noise draws."""
    from prunescale.sims import simulate

    kw = dict(rule="hard", f=0.5, alpha_prune=1.5, n=40, seeds=2, learner="ridge", lam=0.1,
              softness=0.5)
    a = simulate(noise=0.1, **kw)
    b = simulate(labels=Binned((0.0,), (0.1, 0.9)), **kw)
    np.testing.assert_allclose(a.eps, b.eps, rtol=0, atol=1e-12)
    r = simulate(labels="probit:3", **kw)
    assert r.labels == "probit:3" and not r.flagged.any()


# --- theory -----------------------------------------------------------------------------

KW = dict(rule="hard", f=0.5, alpha_prune=1.5, lam=0.1)


@pytest.mark.parametrize("learner", ["ridge", "logistic", "hinge"])
def test_theory_flip_object_equals_noise(learner):
    from prunescale.theory import solve
    from prunescale.theory.labels import Flip

    a = solve(learner=learner, theta_deg=[0.0, 15.0], noise=0.1, **KW)
    b = solve(learner=learner, theta_deg=[0.0, 15.0], labels=Flip(0.1), **KW)
    assert a.converged.all() and b.converged.all()
    np.testing.assert_allclose(b.eps, a.eps, rtol=0, atol=1e-12)


@pytest.mark.parametrize("learner", ["ridge", "logistic", "hinge"])
def test_theory_binned_general_rule_equals_flip(learner):
    """binned:0:ETA,1-ETA through the general (p, z) rule with the channel's label law (the
    engine would map it to the noise ETA; call the regularized solver directly) against the
    fast routes of the flip noise."""
    from prunescale.theory.erm import solve_regularized

    args = ("hard", 0.5, 1.5, None, [0.0, 15.0])
    a = solve_regularized(*args, learner=learner, lam=0.1, noise=0.1)
    b = solve_regularized(*args, learner=learner, lam=0.1, labels=Binned((0.0,), (0.1, 0.9)))
    assert a.converged.all() and b.converged.all()
    np.testing.assert_allclose(b.eps, a.eps, rtol=0, atol=1e-10)
    np.testing.assert_allclose(b.eps_noisy, a.eps_noisy, rtol=0, atol=1e-10)


@pytest.mark.parametrize("learner", ["ridge", "hinge"])
def test_theory_sharp_probit_approaches_the_clean_teacher(learner):
    from prunescale.theory import solve

    clean = float(solve(learner=learner, theta_deg=15.0, **KW).eps)
    gaps = [abs(float(solve(learner=learner, theta_deg=15.0, labels=f"probit:{b}", **KW).eps)
                - clean) for b in (4.0, 16.0, 64.0, 256.0)]
    assert all(g2 < g1 for g1, g2 in zip(gaps, gaps[1:])), gaps
    assert gaps[-1] < 5e-5


@pytest.mark.parametrize("learner", ["ridge", "logistic", "hinge"])
@pytest.mark.parametrize("spec", ["probit:3", "binned:-0.2,0,0.4:0.3,0.1,0.8,0.95"])
def test_theory_no_pruning_is_theta_free(learner, spec):
    """At f = 1 the probe is irrelevant: theta = 0 (p = t, the label law in p alone) and
    theta = 20 deg (the label law given (p, z) by Stein's lemma) agree."""
    from prunescale.theory import solve

    r = solve(rule="hard", f=1.0, alpha_prune=1.5, learner=learner, lam=0.1,
              theta_deg=[0.0, 20.0], labels=spec)
    assert r.converged.all() and r.labels == spec
    assert abs(r.eps[0] - r.eps[1]) < 1e-9, r.eps
    assert (r.eps_bound < 1e-9).all()


def test_theory_refusals_one_line():
    from prunescale.errors import InputError
    from prunescale.theory import solve

    with pytest.raises(InputError, match="give noise or labels, not both") as e:
        solve(learner="ridge", labels="probit:2", noise=0.1, softness=0.5, **KW)
    assert "\n" not in str(e.value)


def _theory_vs_sim(learner, n, seeds, theta):
    from prunescale.sims import simulate
    from prunescale.theory import solve

    kw = dict(rule="hard", f=0.5, alpha_prune=1.5, learner=learner, lam=0.1, theta_deg=theta,
              labels="probit:3")
    th = solve(**kw)
    assert th.converged.all()
    r = simulate(n=n, seeds=seeds, **kw)
    ok = ~r.flagged
    assert ok.sum() >= seeds - 1
    e = r.eps[ok]
    se = e.std(ddof=1) / np.sqrt(e.size)
    assert abs(e.mean() - float(th.eps)) < 3 * se, (e.mean(), float(th.eps), se)
    return e.mean(), float(th.eps), se


@pytest.mark.parametrize("theta", [0.0, 20.0])
def test_theory_against_simulation_ridge_probit(theta):
    _theory_vs_sim("ridge", 400, 48, theta)


@pytest.mark.slow
def test_theory_against_simulation_logistic_probit():
    _theory_vs_sim("logistic", 800, 24, 20.0)


@pytest.mark.filterwarnings("ignore::scipy.integrate.IntegrationWarning")
@pytest.mark.parametrize("beta", [0.5, 2.0, 10.0, 100.0])
def test_logistic_label_law_against_adaptive_quadrature(beta):
    """The positive rule in eta' of the logistic channel (both regimes: Gauss-Hermite for
    beta sig <= 1/2, split Gauss-Legendre above) and its refinement, against scipy.quad."""
    from scipy.integrate import quad as adaptive
    from scipy.special import expit

    from prunescale.theory._erm_law import ErmQuadrature, label_law
    from prunescale.theory.labels import Logistic

    cases = [(0.3, 0.1), (0.3, 0.7), (-1.2, 0.9), (2.0, 0.05), (0.01, 1.0), (0.4, 0.0)]
    mu = np.array([c[0] for c in cases])
    sig = np.array([c[1] for c in cases])
    for q in (ErmQuadrature(), ErmQuadrature().refined()):
        P, E = label_law(Logistic(beta), mu, sig, q)
        for i, (m, s) in enumerate(cases):
            if s == 0:
                assert P[i] == expit(beta * m) and E[i] == 0.0
                continue

            def f(e):
                return expit(beta * (m - s * e)) * np.exp(-e * e / 2) / np.sqrt(2 * np.pi)

            kw = dict(points=[m / s], limit=500, epsabs=1e-15, epsrel=1e-14)
            p_ref = adaptive(f, -12, 12, **kw)[0]
            e_ref = adaptive(lambda e: e * f(e), -12, 12, **kw)[0]
            assert abs(P[i] - p_ref) < 1e-13 and abs(E[i] - e_ref) < 1e-13


@pytest.mark.slow
def test_theory_logistic_channel_no_pruning_is_theta_free():
    from prunescale.theory import solve

    r = solve(rule="hard", f=1.0, alpha_prune=1.5, learner="ridge", lam=0.1,
              theta_deg=[0.0, 20.0], labels="logistic:2")
    assert r.converged.all() and abs(r.eps[0] - r.eps[1]) < 1e-9


@pytest.mark.parametrize("learner,policy", [
    ("ridge", dict(softness=0.4)),
    ("hinge", dict(metric="signed", theta_deg=10.0)),
    ("ridge", dict(rule="power", power_exp=1.0, probe_scale=2.0)),
])
def test_channel_with_a_selection_policy_equals_its_noise(learner, policy):
    """A flip written as a binned channel, with a selection policy: the threshold and the
    kept law see the channel (the general rule) and give the noise's solution."""
    from prunescale.theory import solve

    kw = {**KW, **policy}
    a = solve(learner=learner, noise=0.1, **kw)
    b = solve(learner=learner, labels=Binned((0.0,), (0.1, 0.9)), **kw)
    assert a.converged.all() and b.converged.all()
    np.testing.assert_allclose(b.eps, a.eps, rtol=0, atol=1e-9)


def test_channel_with_a_selection_policy_against_simulation():
    """Ridge, power policy, probit channel: theory against certified students at N = 400."""
    from prunescale.sims import simulate
    from prunescale.theory import solve

    kw = dict(rule="power", f=0.3, alpha_tot=5.0, power_exp=1.0, probe_scale=2.0,
              learner="ridge", lam=0.1, labels="probit:3")
    th = solve(strict=True, **kw)
    r = simulate(n=400, seeds=16, progress=False, **kw)
    assert r.n_flagged == 0
    assert abs(r.eps_mean - float(th.eps)) < 3 * r.eps_sem, (r.eps_mean, r.eps_sem, th.eps)
    # and the channel matters: the clean teacher's policy point is far from it
    clean = solve(**{**kw, "labels": None})
    assert float(th.eps) - float(clean.eps) > 10 * r.eps_sem
