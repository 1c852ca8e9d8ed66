"""The fast quadrature routes of the ERM theory against the general ``(p, z)`` rule.

Each route (``theory/_erm_law.py``) is switched off by its predicate, which sends the same
points through the general two-dimensional rule; both answers must be certified and agree
to 1e-10 in ``eps`` (and the state ``m, s, q0, V`` to a relative 1e-8).
"""

import numpy as np
import pytest

from prunescale.theory import _erm_law as law
from prunescale.theory import solve

FAST = ("omega_kernel_theta", "omega_kernel_policy", "ridge_closed")


def _general(monkeypatch):
    """Route every point through the general rule (the closed-form theta = 0 route of ridge
    and hinge stays for the sharp rules, as before the fast routes existed)."""
    for name in FAST:
        monkeypatch.setattr(law, name, lambda pts: False)
    analytic = law.analytic_z
    monkeypatch.setattr(law, "analytic_z", lambda pts: analytic(pts) and not pts.policy)


def _both(monkeypatch, **kw):
    args = dict(rule="hard", f=0.3, alpha_prune=np.array([0.7, 4.0]), lam=0.1, noise=0.1)
    args.update(kw)
    rule, f, a = args.pop("rule"), args.pop("f"), args.pop("alpha_prune")
    fast = solve(rule, f, a, **args)
    with monkeypatch.context() as m:
        _general(m)
        slow = solve(rule, f, a, **args)
    return fast, slow


CASES = [
    pytest.param(dict(learner="logistic", theta_deg=20.0), id="logistic-theta20"),
    pytest.param(dict(learner="hinge", theta_deg=20.0), id="hinge-theta20"),
    pytest.param(dict(learner="ridge", theta_deg=20.0), id="ridge-theta20"),
    pytest.param(dict(learner="logistic", theta_deg=50.0, rule="easy", f=0.5, noise=0.2),
                 id="logistic-easy-theta50"),
    pytest.param(dict(learner="hinge", theta_deg=10.0, lam=0.01, noise=0.0), id="hinge-lam0.01"),
    pytest.param(dict(learner="logistic", softness=0.5), id="logistic-soft"),
    pytest.param(dict(learner="logistic", softness=0.05, metric="signed", rule="easy",
                      lam=0.01, alpha_prune=np.array([30.0])),
                 id="logistic-soft-signed-lam0.01"),
    pytest.param(dict(learner="hinge", softness=0.5), id="hinge-soft"),
    pytest.param(dict(learner="ridge", softness=0.3, reweight=True, metric="signed"),
                 id="ridge-soft-reweighted"),
    pytest.param(dict(learner="ridge", softness=0.5, theta_deg=30.0), id="ridge-soft-theta30"),
    # the policy families go through the same routes: the route must see the family
    pytest.param(dict(learner="logistic", rule="power", power_exp=1.0, probe_scale=5.0),
                 id="logistic-power"),
    pytest.param(dict(learner="logistic", rule="power", power_exp=-1.0, probe_scale=5.0,
                      lam=0.01), id="logistic-power-negative"),
    pytest.param(dict(learner="logistic", random_share=0.2), id="logistic-mixed"),
    pytest.param(dict(learner="hinge", rule="power", power_exp=0.5, probe_scale=2.0),
                 id="hinge-power"),
]


@pytest.mark.parametrize("kw", CASES)
def test_fast_route_equals_general_rule(monkeypatch, kw):
    fast, slow = _both(monkeypatch, **kw)
    assert np.asarray(fast.converged).all() and np.asarray(slow.converged).all()
    np.testing.assert_allclose(fast.eps, slow.eps, rtol=0, atol=1e-10)
    for name in ("m", "s", "q0", "V"):
        np.testing.assert_allclose(getattr(fast, name), getattr(slow, name), rtol=1e-8,
                                   atol=1e-12)


def test_mixed_angles_in_one_batch(monkeypatch):
    """theta = 0 and theta > 0 points solved together (the omega-outer rule's theta = 0 rows)."""
    th = np.array([[0.0], [15.0]])
    for learner in ("logistic", "hinge", "ridge"):
        fast, slow = _both(monkeypatch, learner=learner, theta_deg=th,
                           alpha_prune=np.array([2.0]))
        assert np.asarray(fast.converged).all()
        np.testing.assert_allclose(fast.eps, slow.eps, rtol=0, atol=1e-10)
        alone = solve("hard", 0.3, np.array([2.0]), learner=learner, lam=0.1, noise=0.1)
        np.testing.assert_allclose(fast.eps[0], alone.eps, rtol=0, atol=1e-10)


def test_kernels_do_not_depend_on_the_cache(monkeypatch):
    """The per-thread kernel cache returns what a fresh build would."""
    kw = dict(learner="logistic", lam=0.1, noise=0.1, theta_deg=20.0)
    a = solve("easy", 0.4, np.array([0.5, 3.0]), **kw)
    monkeypatch.setattr(law, "_KERNEL_CACHE_SIZE", 0)
    b = solve("easy", 0.4, np.array([0.5, 3.0]), **kw)
    np.testing.assert_array_equal(np.asarray(a.eps), np.asarray(b.eps))
