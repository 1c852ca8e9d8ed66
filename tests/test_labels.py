"""Label channels P(y = +1 | t): parsing, the symmetrised theory and the simulator."""

import subprocess

import numpy as np
import pytest

from prunescale.errors import InputError
from prunescale.model import Model
from prunescale.theory import solve
from prunescale.theory.labels import Binned, Flip, Logistic, Probit, parse


@pytest.mark.parametrize("spec", ["flip:0.1", "logistic:2", "probit:0.5",
                                  "binned:-0.1,0,0.1:0.3,0.05,0.95,0.7"])
def test_spec_round_trip(spec):
    ch = parse(spec)
    assert str(ch) == spec and parse(str(ch)) == ch and hash(ch) == hash(parse(spec))


@pytest.mark.parametrize("spec", ["binned:0.1,0:0.1,0.2,0.3", "binned:0:0.1", "binned:0:0.1,1.2",
                                  "gauss:1", "logistic:0", "probit:-1", "probit:inf",
                                  "logistic:nan", "flip:0.7"])
def test_bad_specs_refused(spec):
    with pytest.raises(InputError):
        parse(spec)


def test_cli_labels_with_noise_refused():
    r = subprocess.run(["prunescale", "theory", "--rule", "hard", "--f",
                        "0.5", "--alpha-prune", "1", "--labels", "probit:2", "--noise", "0.1"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1


def test_model_key_unchanged_for_flip():
    a = Model.from_fields(rule="hard", f=0.3, noise=0.1)
    b = Model.from_fields(rule="hard", f=0.3, labels="flip:0.1")
    assert a == b and a.key() == b.key() and "labels" not in a.key()
    c = Model.from_fields(rule="hard", f=0.3, labels="probit:2")
    assert '"labels":"probit:2"' in c.key()
    with pytest.raises(InputError):
        Model.from_fields(rule="hard", f=0.3, noise=0.1, labels="probit:2")


def test_sweep_task_ids_unchanged_for_flip():
    from prunescale.sims.sweep import Config

    cfg = Config("hard", 0.5, 1.0, 2.0, noise=0.1)
    # no spectrum or spiked-model fields, no labels, no families, no policy
    assert cfg.ident() == list(cfg.key())[:-14]
    other = Config("hard", 0.5, 1.0, 2.0, labels="probit:2")
    assert other.ident()[-1] == "probit:2"
    assert Config.of(cfg.model, 1.0, 2.0) == cfg


@pytest.mark.parametrize("theta", [0.0, 15.0])
def test_flip_channel_equals_noise(theta):
    a = solve(rule="hard", f=0.4, alpha_prune=[0.5, 1.5], theta_deg=theta, noise=0.1)
    b = solve(rule="hard", f=0.4, alpha_prune=[0.5, 1.5], theta_deg=theta, labels="flip:0.1")
    np.testing.assert_allclose(b.eps, a.eps, rtol=0, atol=1e-12)
    np.testing.assert_allclose(b.eps_noisy, a.eps_noisy, rtol=0, atol=1e-12)
    r = solve(rule="hard", f=0.4, alpha_prune=1.0, learner="ridge", lam=0.1, noise=0.1)
    s = solve(rule="hard", f=0.4, alpha_prune=1.0, learner="ridge", lam=0.1, labels=Flip(0.1))
    assert abs(float(r.eps) - float(s.eps)) < 1e-12


@pytest.mark.parametrize("theta", [0.0, 15.0])
def test_binned_at_zero_equals_flip(theta):
    a = solve(rule="hard", f=0.4, alpha_prune=[0.5, 1.5], theta_deg=theta, noise=0.1)
    b = solve(rule="hard", f=0.4, alpha_prune=[0.5, 1.5], theta_deg=theta,
              labels=Binned((0.0,), (0.1, 0.9)))
    assert b.converged.all() and b.labels == "binned:0:0.1,0.9"
    np.testing.assert_allclose(b.eps, a.eps, rtol=0, atol=1e-10)
    np.testing.assert_allclose(b.eps_noisy, a.eps_noisy, rtol=0, atol=1e-10)
    r = solve(rule="hard", f=0.4, alpha_prune=1.0, learner="ridge", lam=0.1, noise=0.1)
    s = solve(rule="hard", f=0.4, alpha_prune=1.0, learner="ridge", lam=0.1,
              labels="binned:0:0.1,0.9")
    assert abs(float(r.eps) - float(s.eps)) < 1e-10


@pytest.mark.parametrize("family", [Logistic, Probit])
def test_sharp_channels_approach_the_clean_teacher(family):
    """As BETA grows the flipped mass 1 - E[a(|t|)] ~ 1/BETA vanishes: eps tends to the
    noiseless value monotonically."""
    clean = float(solve(rule="hard", f=0.5, alpha_prune=1.0).eps)
    gaps = [abs(float(solve(rule="hard", f=0.5, alpha_prune=1.0, labels=family(b)).eps) - clean)
            for b in (2.0, 8.0, 32.0, 256.0)]
    assert all(g2 < g1 for g1, g2 in zip(gaps, gaps[1:])), gaps
    assert gaps[-1] < 5e-3


def test_regularized_channel_with_a_policy_is_solved():
    """A channel with a soft policy is solved (tests/test_erm_labels.py checks the numbers)
    and differs from the clean teacher's point."""
    kw = dict(rule="hard", f=0.5, alpha_prune=1.0, learner="ridge", lam=0.1, softness=0.5)
    r = solve(labels="probit:2", **kw)
    assert bool(r.converged) and float(r.eps) > float(solve(**kw).eps) + 0.01


@pytest.mark.parametrize("spec", ["probit:2", "logistic:1.5",
                                  "binned:-0.1,0,0.1:0.3,0.05,0.95,0.7"])
def test_eps_noisy_against_monte_carlo(spec):
    ch = parse(spec)
    rng = np.random.default_rng(1)
    n, eps = 400_000, 0.2
    rho = np.cos(np.pi * eps)
    t = rng.standard_normal(n)
    h = rho * t + np.sqrt(1 - rho ** 2) * rng.standard_normal(n)
    y = np.where(rng.random(n) < ch.g(t), 1.0, -1.0)
    mc = np.mean(y != np.sign(h))
    se = np.sqrt(mc * (1 - mc) / n)
    assert abs(float(ch.eps_noisy(eps)) - mc) < 4 * se


@pytest.mark.parametrize("spec", ["probit:3", "binned:-1,0.5:0.2,0.6,1", "logistic:2"])
def test_theta_channel_nodes_match_theta_zero(spec):
    """At f = 1 the law does not depend on theta: the exact side integrals of a channel at
    theta > 0 reproduce the theta = 0 duplicated nodes."""
    from prunescale.theory._equations import moments
    from prunescale.theory._kept_law import Quadrature, nodes_theta, nodes_theta0

    ch = parse(spec)

    def one(x):
        return np.array([x])

    R, S, b, k = 0.6, 0.0, 0.8, 0.4
    m0 = moments(nodes_theta0(one(0.0), one(np.inf), one(1.0), one(R), one(b), one(k),
                              Quadrature(), None, None, ch), one(R), one(S), one(b), one(k))
    for th in (0.2, 0.8):
        m = moments(nodes_theta(one(0.0), one(np.inf), one(1.0), one(th), one(R), one(S),
                                one(b), one(k), Quadrature(), None, None, ch),
                    one(R), one(S), one(b), one(k))
        for f in ("m1", "m1x1", "P", "m2"):
            assert abs(getattr(m, f)[0] - getattr(m0, f)[0]) < 1e-10, (th, f)


def test_simulator_flip_channel_reproduces_noise():
    from prunescale.sims import simulate

    a = simulate(rule="hard", f=0.5, alpha_prune=1.0, n=40, seeds=2, noise=0.1)
    b = simulate(rule="hard", f=0.5, alpha_prune=1.0, n=40, seeds=2, labels="flip:0.1")
    assert np.array_equal(a.eps, b.eps)


@pytest.mark.slow
@pytest.mark.parametrize("n,seeds", [(400, 24), (800, 12)])
def test_theory_against_simulation_probit(n, seeds):
    from prunescale.sims import simulate

    kw = dict(rule="hard", f=0.5, alpha_prune=1.5, theta_deg=10.0, labels="probit:3")
    r = simulate(n=n, seeds=seeds, **kw)
    t = float(solve(**kw).eps)
    assert abs(r.mean("eps") - t) < 3 * r.sem("eps")
