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
    np.testing.assert_array_equal(a.eps, b.eps)
    np.testing.assert_array_equal(a.eps, c.eps)
    np.testing.assert_array_equal(a.flipped, b.flipped)
    np.testing.assert_allclose(a.eps_noisy, b.eps_noisy, rtol=0, atol=1e-12)


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
