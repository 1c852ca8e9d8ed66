"""Selection policies in the ERM theory (``docs/erm.md`` section 7): the threshold ``k``, the
limits (tau -> 0, signed = abs at eta = 0 and theta = 0, reweighting a random selection), the
quadrature against Monte Carlo of the literal kept law, refinement and the certificate."""

import math

import numpy as np
import pytest
from scipy import integrate
from scipy.special import expit, ndtr

from prunescale.errors import InputError
from prunescale.theory import _selection as S
from prunescale.theory import solve
from prunescale.theory._erm_law import moments
from prunescale.theory._erm_prox import prox
from prunescale.theory.erm import ErmQuadrature, _policy_points, certificate


# ---------------------------------------------------------------- threshold

def test_threshold_gives_the_kept_fraction():
    f = np.array([0.05, 0.3, 0.7, 0.95])[:, None, None, None]
    tau = np.array([0.0, 1e-3, 0.3, 3.0])[None, :, None, None]
    eta = np.array([0.0, 0.2])[None, None, :, None]
    th = np.radians(np.array([0.0, 20.0]))[None, None, None, :]
    for rule in ("hard", "easy"):
        for metric in S.METRICS:
            k = S.threshold(rule, f, tau, metric, eta, th)
            got = S.kept_fraction(rule, k, tau, metric, eta, np.cos(th), np.sin(th))
            assert np.max(np.abs(got - f)) < 1e-13, (rule, metric)


@pytest.mark.parametrize("rule,metric,tau,eta,theta", [("hard", "abs", 0.3, 0.0, 0.0),
                                                       ("easy", "signed", 0.5, 0.2, 20.0),
                                                       ("hard", "signed", 0.0, 0.1, 10.0)])
def test_kept_fraction_against_adaptive_quadrature(rule, metric, tau, eta, theta):
    """``E[pi]`` by ``scipy.integrate.quad`` over the whole line (both label branches)."""
    k = 0.4
    c, s = math.cos(math.radians(theta)), math.sin(math.radians(theta))

    def pi(m):
        d = (k - m) if rule == "hard" else (m - k)
        return expit(d / tau) if tau > 0 else float(d >= 0)

    def integrand(p):
        lp = (1 - eta) * ndtr(c * p / s) + eta * ndtr(-c * p / s) if s > 0 else (
            (1 - eta) if p > 0 else eta)
        phi = math.exp(-0.5 * p * p) / math.sqrt(2 * math.pi)
        if metric == "abs":
            return phi * pi(abs(p))
        return phi * (lp * pi(p) + (1 - lp) * pi(-p))

    pts = [-k, 0.0, k]
    ref = sum(integrate.quad(integrand, a, b, epsabs=1e-14, epsrel=1e-13, limit=200)[0]
              for a, b in ((-np.inf, -k), (-k, 0.0), (0.0, k), (k, np.inf)))
    got = float(S.kept_fraction(rule, k, tau, metric, eta, c, s))
    assert abs(got - ref) < 1e-11, (got, ref, pts)


def test_sharp_abs_threshold_is_the_pruning_threshold():
    from prunescale.theory.pruning import kept_range
    for rule in ("hard", "easy"):
        k = S.threshold(rule, [0.2, 0.6], 0.0, "abs", 0.1, 0.3)
        lo, hi = kept_range(rule, np.array([0.2, 0.6]))
        assert np.array_equal(k, hi if rule == "hard" else lo)
        # the bisection (tau -> 0) joins it
        k2 = S.threshold(rule, [0.2, 0.6], 1e-9, "abs", 0.1, 0.3)
        assert np.max(np.abs(k2 - k)) < 1e-8


def test_keep_prob_is_stable_and_sharp_at_zero():
    m = np.array([-1e6, -1.0, 0.5, 1.0, 1e6])
    with np.errstate(all="raise"):
        p = S.keep_prob("hard", m, 0.5, 1e-3, 0.3)
    assert np.all(np.isfinite(p)) and p[0] == 1.0 and p[-1] == 0.0 and p[2] == 0.5
    assert np.array_equal(S.keep_prob("hard", m, 0.5, 0.0, 0.3), [1, 1, 1, 0, 0])
    assert np.array_equal(S.keep_prob("easy", m, 0.5, 0.0, 0.3), [0, 0, 1, 1, 1])
    assert np.all(S.keep_prob("random", m, 0.5, 0.2, 0.3) == 0.3)


# ---------------------------------------------------------------- limits

@pytest.mark.parametrize("learner", ["ridge", pytest.param("hinge", marks=pytest.mark.slow)])
def test_small_softness_joins_the_sharp_rule(learner):
    kw = dict(theta_deg=[0.0, 15.0], learner=learner, lam=0.1, noise=0.1)
    sharp = {}
    for rule, f, metric in (("hard", 0.3, "abs"), ("easy", 0.4, "signed")):
        # abs: tau = 0 is the old code path; signed: tau -> 0 joins its own sharp rule
        a = solve(rule, f, 2.0, metric=metric, **kw)
        b = solve(rule, f, 2.0, softness=1e-4, metric=metric, **kw)
        assert a.converged.all() and b.converged.all()
        assert np.max(np.abs(a.eps - b.eps)) < 1e-6, (a.eps, b.eps)
        sharp[metric] = a.eps
    # with noise the signed metric is a different rule
    c = solve("hard", 0.3, 2.0, metric="signed", **kw)
    assert np.min(np.abs(c.eps - sharp["abs"])) > 1e-3


@pytest.mark.parametrize("learner", ["ridge", pytest.param("logistic", marks=pytest.mark.slow),
                                     "hinge"])
def test_signed_and_abs_coincide_without_noise_at_theta0(learner):
    kw = dict(learner=learner, lam=0.1, noise=0.0)
    for rule, f, tau in (("hard", 0.3, 0.0), ("easy", 0.4, 0.3)):
        a = solve(rule, f, 2.0, softness=tau, metric="abs", **kw)
        b = solve(rule, f, 2.0, softness=tau, metric="signed", **kw)
        assert a.converged and b.converged
        assert abs(float(a.eps) - float(b.eps)) < 1e-8, (a.eps, b.eps)


@pytest.mark.parametrize("learner", ["ridge", "logistic", "hinge"])
def test_reweighting_a_random_selection_changes_nothing(learner):
    """Reweighted random goes through the general (p, z) policy rule; plain random through
    the theta = 0 fast paths: the same answer."""
    kw = dict(learner=learner, lam=0.1, noise=0.1, softness=0.5, metric="signed")
    a = solve("random", 0.4, 2.0, **kw)
    b = solve("random", 0.4, 2.0, reweight=True, **kw)
    assert a.converged and b.converged and b.reweight and not a.reweight
    assert abs(float(a.eps) - float(b.eps)) < 1e-8, (a.eps, b.eps)


def test_reweighting_a_sharp_rule_changes_nothing_and_soft_reweighting_does():
    kw = dict(theta_deg=10.0, learner="ridge", lam=0.1, noise=0.1)
    a = solve("hard", 0.3, 2.0, **kw)
    b = solve("hard", 0.3, 2.0, reweight=True, **kw)
    assert float(a.eps) == float(b.eps)
    c = solve("hard", 0.3, 2.0, softness=0.3, **kw)
    d = solve("hard", 0.3, 2.0, softness=0.3, reweight=True, **kw)
    assert c.converged and d.converged and abs(float(c.eps) - float(d.eps)) > 1e-3


# ---------------------------------------------------------------- quadrature and certificate

def _mc_moments(rule, f, tau, metric, reweight, theta, eta, X, learner, n=400_000, seed=3):
    """Monte Carlo of the kept-law expectations: the pool law (both signs of p), each example
    kept with probability pi(m) by a Bernoulli draw, loss weights c = 1/pi normalised."""
    rng = np.random.default_rng(seed)
    k = float(S.threshold(rule, f, tau, metric, eta, theta))
    p, r, xi = rng.normal(size=(3, n))
    c, s = math.cos(theta), math.sin(theta)
    t, uu = c * p - s * r, s * p + c * r
    y = np.where(t >= 0, 1.0, -1.0) * np.where(rng.random(n) < eta, -1.0, 1.0)
    mval = np.abs(p) if metric == "abs" else y * p
    pi = S.keep_prob(rule, mval, k, tau, f)
    keep = rng.random(n) < pi
    t, uu, y, xi, pi = t[keep], uu[keep], y[keep], xi[keep], pi[keep]
    cw = (1.0 / pi) / np.mean(1.0 / pi) if reweight else np.ones_like(pi)
    m, sv, tq, V = X
    om = m * t + sv * uu + tq * xi
    h, f0, df0, l0 = prox(learner, y, om, V * cw)
    fv, df, lv = cw * f0, cw * df0, cw * l0
    vals = {"f2": fv * fv, "df": df, "ft": fv * t, "fu": fv * uu, "fxi": fv * xi,
            "M": lv + 0.5 * V * fv * fv, "lstar": -fv * h - lv}
    nk = keep.sum()
    return {key: (v.mean(), v.std() / math.sqrt(nk)) for key, v in vals.items()}


@pytest.mark.parametrize("learner", ["ridge", "logistic", "hinge"])
@pytest.mark.parametrize("rule,f,tau,metric,reweight,theta_deg,eta", [
    ("hard", 0.3, 0.3, "abs", False, 0.0, 0.1),
    ("easy", 0.4, 0.5, "signed", True, 20.0, 0.2),
    ("hard", 0.3, 0.0, "signed", False, 10.0, 0.2),
])
def test_policy_quadrature_matches_monte_carlo(learner, rule, f, tau, metric, reweight,
                                               theta_deg, eta):
    X = np.array([0.9, 0.35, 0.6, 0.8])
    if theta_deg == 0.0:
        X[1] = 0.0
    one = lambda v: np.array([v], dtype=float)
    pts = _policy_points(rule, learner, one(f), one(2.0), one(theta_deg), one(0.1), one(eta),
                         one(tau), metric, reweight)
    q = moments(pts, X[None, :], ErmQuadrature(), cert=True)
    mc = _mc_moments(rule, f, tau, metric, reweight, math.radians(theta_deg), eta, X, learner)
    for key, (mean, se) in mc.items():
        assert abs(q[key][0] - mean) < 5 * se + 1e-12, (key, q[key][0], mean, se)


@pytest.mark.parametrize("learner,theta_deg", [
    ("ridge", 15.0), pytest.param("hinge", 0.0, marks=pytest.mark.slow)])
def test_policy_refined_solve_changes_eps_below_1e6(learner, theta_deg):
    kw = dict(theta_deg=theta_deg, learner=learner, lam=0.05, noise=0.1)
    for rule, f, tau, metric, rw in (("hard", 0.3, 0.3, "abs", False),
                                     ("easy", 0.4, 0.2, "signed", True)):
        a = solve(rule, f, 2.0, softness=tau, metric=metric, reweight=rw, **kw)
        b = solve(rule, f, 2.0, softness=tau, metric=metric, reweight=rw,
                      quad=ErmQuadrature(n_p=20, n_z=20, z_max=11.0), **kw)
        assert a.converged and b.converged
        assert abs(float(a.eps) - float(b.eps)) < 1e-6, (a.eps, b.eps)
        assert float(a.quad_err) <= float(a.eps_bound) <= 1e-5


@pytest.mark.slow
def test_policy_refined_solve_logistic():
    kw = dict(theta_deg=10.0, learner="logistic", lam=0.05, noise=0.1)
    for rule, f, tau, metric, rw in (("hard", 0.3, 0.3, "signed", False),
                                     ("easy", 0.4, 0.2, "abs", True)):
        a = solve(rule, f, 2.0, softness=tau, metric=metric, reweight=rw, **kw)
        b = solve(rule, f, 2.0, softness=tau, metric=metric, reweight=rw,
                      quad=ErmQuadrature(n_p=20, n_z=20, z_max=11.0), **kw)
        assert a.converged and b.converged
        assert abs(float(a.eps) - float(b.eps)) < 1e-6, (a.eps, b.eps)


@pytest.mark.parametrize("learner", ["ridge", "hinge"])
def test_weighted_certificate_bounds_a_perturbed_point(learner):
    """With loss weights c the conjugate terms are weighted consistently: the gap of the fixed
    point is tiny and non-negative, and a point moved off it gets a bound covering its error."""
    kw = dict(theta_deg=15.0, learner=learner, lam=0.1, noise=0.1, softness=0.4,
              metric="signed", reweight=True)
    r = solve("easy", 0.3, 2.0, **kw)
    assert r.converged and float(r.eps_bound) < 1e-6
    one = lambda v: np.array([v], dtype=float)
    pts = _policy_points("easy", learner, one(0.3), one(2.0), one(15.0), one(0.1), one(0.1),
                         one(0.4), "signed", True)
    X = np.array([[float(r.m), float(r.s), math.sqrt(float(r.q0)), float(r.V)]])
    c0 = certificate(pts, X, ErmQuadrature())
    assert c0["consistent"][0] and c0["bracket"][0]
    for d in (1e-4, 1e-2):
        Xp = X * np.array([1 + d, 1 - d, 1 + 0.5 * d, 1 - d])
        cert = certificate(pts, Xp, ErmQuadrature())
        m, s, tau = Xp[0, :3]
        eps_p = math.acos(m / math.sqrt(m * m + s * s + tau * tau)) / math.pi
        assert cert["eps_bound"][0] >= abs(eps_p - float(r.eps))
        assert cert["eps_bound"][0] > 10 * float(r.eps_bound)


# ---------------------------------------------------------------- API

def test_records_carry_the_policy_and_softness_broadcasts():
    r = solve("hard", 0.3, 2.0, theta_deg=10.0, learner="ridge", lam=0.1, noise=0.1,
                  softness=[[0.0], [0.2]], metric="signed", reweight=True)
    assert r.shape == (2, 1) and r.converged.all()
    recs = r.records()
    assert [x["softness"] for x in recs] == [0.0, 0.2]
    assert all(x["metric"] == "signed" and x["reweight"] is True for x in recs)
    plain = solve("hard", 0.3, 2.0, learner="ridge", lam=0.1).records()[0]
    assert plain["softness"] == 0.0 and plain["metric"] == "abs" and plain["reweight"] is False


@pytest.mark.parametrize("kw,msg", [
    ({"softness": -0.1}, "softness must be in [0, 10]"),
    ({"softness": 11.0}, "softness must be in [0, 10]"),
    ({"softness": float("nan")}, "softness must be finite"),
    ({"softness": "soft"}, "softness must be a number"),
    ({"metric": "loss"}, "metric must be one of abs, signed"),
    ({"reweight": "yes"}, "reweight must be a bool"),
    ({"reweight": 1}, "reweight must be a bool"),
])
def test_bad_policy_input_is_one_line(kw, msg):
    with pytest.raises(InputError) as exc:
        solve("hard", 0.3, 2.0, learner="ridge", lam=0.1, **kw)
    assert msg in str(exc.value) and "\n" not in str(exc.value)


def test_sharp_label_aware_logistic_kernel_matches_the_general_rule(monkeypatch):
    """At theta = 0 a sharp signed policy keeps one p-interval per observed label, so the
    closed-form p kernel of logistic applies (fast path); the general (p, z) rule agrees."""
    from prunescale.theory import _erm_law as law

    AT, E = np.meshgrid([20.0], [0.0, 0.3], indexing="ij")
    for rule in ("hard", "easy"):
        fast = solve(rule, 0.3, alpha_tot=AT, learner="logistic", lam=0.01, noise=E,
                         metric="signed")
        with monkeypatch.context() as m:
            m.setattr(law, "omega_kernel", lambda pts: False)
            slow = solve(rule, 0.3, alpha_tot=AT, learner="logistic", lam=0.01, noise=E,
                             metric="signed")
        assert fast.converged.all() and slow.converged.all()
        np.testing.assert_allclose(fast.eps, slow.eps, atol=1e-9)
