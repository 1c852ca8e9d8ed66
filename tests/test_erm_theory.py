"""Tests of the certified ERM theory (prunescale.theory.erm): check values, limits, the
closed-form ridge route, quadrature against Monte Carlo, refinement, and the certificate."""

import math

import numpy as np
import pytest
from scipy.special import ndtr, ndtri

from prunescale.errors import InputError, NotCertified
from prunescale.theory import solve
from prunescale.theory.erm import (LEARNERS, ErmQuadrature, _points, certificate,
                                   tangent_envelope_max)
from prunescale.theory._erm_law import moments
from prunescale.theory._erm_prox import loss, prox


# ---------------------------------------------------------------- check values and closed form

def test_check_values_of_the_notes():
    # ridge and logistic, no selection, alpha = 2, lam = 0.1 (theory-notes-erm.md)
    r = solve("random", 1.0, 2.0, learner="ridge", lam=0.1)
    assert r.converged and abs(float(r.eps) - 0.195533) < 1e-6
    r = solve("random", 1.0, 2.0, learner="logistic", lam=0.1)
    assert r.converged and abs(float(r.eps) - 0.179662) < 1e-6


def ridge_resolvent(alpha, lam, eta):
    """Ridge without selection by the deterministic equivalent: y = a t + noise with
    a = (1 - 2 eta) sqrt(2/pi); G = tr (S + lam)^-1 / N of S = X^T X / N solves
    lam G^2 + (lam + alpha - 1) G - 1 = 0; m = a (1 - lam G),
    Q = a^2 (1 - 2 lam G + lam^2 G2) + (1 - a^2)(G - lam G2), G2 = -dG/dlam."""
    a = (1 - 2 * eta) * math.sqrt(2 / math.pi)
    b = lam + alpha - 1
    d = math.sqrt(b * b + 4 * lam)
    # the root without cancellation (-b + d loses digits when b^2 >> lam)
    G = 2 / (b + d) if b > 0 else (d - b) / (2 * lam)
    G2 = (G * G + G) / (2 * lam * G + b)
    m = a * (1 - lam * G)
    Q = a * a * (1 - 2 * lam * G + lam * lam * G2) + (1 - a * a) * (G - lam * G2)
    return m, Q, G


@pytest.mark.parametrize("alpha,lam,eta", [(2.0, 0.1, 0.0), (0.5, 1.0, 0.1), (5.0, 0.01, 0.3),
                                           (1.0, 0.05, 0.0)])
def test_ridge_matches_resolvent_closed_form(alpha, lam, eta):
    m, Q, G = ridge_resolvent(alpha, lam, eta)
    r = solve("random", 1.0, alpha, learner="ridge", lam=lam, noise=eta)
    assert r.converged
    assert abs(float(r.m) - m) < 1e-9
    assert abs(float(r.Q) - Q) < 1e-9
    assert abs(float(r.V) - G) < 1e-9  # the response is the resolvent trace
    assert abs(float(r.R) - m / math.sqrt(Q)) < 1e-9


def test_ridge_closed_form_grid_is_certified_at_the_default_tolerance():
    """Ridge at f = 1 over alpha x lambda x eta: equal to the closed form and certified at
    BOUND_TOL (the certificate's old rounding floor left 32 of these 96 points uncertified)."""
    A, L, E = np.meshgrid([0.5, 2.0, 50.0, 100.0], 10.0 ** np.arange(-5, 3), [0.0, 0.3, 0.49],
                          indexing="ij")
    r = solve("random", 1.0, A, learner="ridge", lam=L, noise=E)
    assert r.converged.all(), [(a, l, e, b) for a, l, e, b in zip(
        A[~r.converged], L[~r.converged], E[~r.converged], r.eps_bound[~r.converged])]
    assert np.all(r.eps_bound <= 1e-5) and np.all(r.quad_err <= r.eps_bound)
    for i in np.ndindex(A.shape):
        m, Q, G = ridge_resolvent(A[i], L[i], E[i])
        assert abs(r.eps[i] - math.acos(m / math.sqrt(Q)) / math.pi) < 1e-9, i
        assert abs(r.m[i] - m) < 1e-9 and abs(r.Q[i] - Q) < 1e-9 * max(1.0, Q), i
        assert abs(r.V[i] - G) < 1e-9 * max(1.0, G), i


@pytest.mark.parametrize("alpha,lam,eta", [(100.0, 1e-5, 0.49), (100.0, 1e-5, 0.0),
                                           (50.0, 1e-3, 0.3), (2.0, 1e-4, 0.3),
                                           (0.5, 1e-5, 0.0), (100.0, 0.1, 0.49)])
def test_certificate_covers_perturbed_ridge_points_at_small_lambda(alpha, lam, eta):
    """Rigour of the lowered floor: at the exact fixed point (closed form) the bound is below
    BOUND_TOL, and any state moved off it in a random direction gets a radius covering the
    distance to the optimum and an eps bound covering the eps error, so no wrong point is
    certified."""
    rng = np.random.default_rng(7)
    m, Q, G = ridge_resolvent(alpha, lam, eta)
    tau = math.sqrt(Q - m * m)
    x_star = np.array([m, 0.0, tau])
    eps_star = math.acos(m / math.sqrt(Q)) / math.pi
    pts = _points("random", "ridge", np.ones(1), np.array([alpha]), np.zeros(1),
                  np.array([lam]), np.array([eta]))
    exact = certificate(pts, np.array([[m, 0.0, tau, G]]), ErmQuadrature())
    assert exact["eps_bound"][0] <= 1e-5
    for d in (1e-11, 1e-9, 1e-7, 1e-5, 1e-3, 1e-1):
        for _ in range(3):
            X = np.array([[m, 0.0, tau, G]]) * (1.0 + d * rng.normal(size=4))
            X[0, 1] = d * math.sqrt(Q) * rng.normal()
            c = certificate(pts, X, ErmQuadrature())
            mm, s, t = X[0, :3]
            err = abs(math.acos(mm / math.sqrt(mm * mm + s * s + t * t)) / math.pi - eps_star)
            assert c["rho"][0] >= np.linalg.norm(X[0, :3] - x_star), (d, c["rho"][0])
            assert c["eps_bound"][0] >= err, (d, c["eps_bound"][0], err)
            assert c["gap"][0] >= -c["floor"][0]


# ---------------------------------------------------------------- limits

@pytest.mark.parametrize("learner", LEARNERS)
def test_pure_noise_gives_half(learner):
    r = solve("hard", 0.3, [0.5, 3.0], theta_deg=[[0.0], [20.0]], learner=learner, lam=0.1,
                  noise=0.5)
    assert r.converged.all()
    assert np.all(np.abs(r.eps - 0.5) < 1e-9)
    assert np.all(np.abs(r.eps_noisy - 0.5) < 1e-9)


def test_hinge_small_lambda_joins_max_margin():
    mm = solve("hard", 0.5, 1.0)
    mm_easy = solve("easy", 0.5, 1.0, theta_deg=10.0)
    diffs = []
    for lam in (1e-1, 1e-2, 1e-3):
        r = solve("hard", 0.5, 1.0, learner="hinge", lam=lam)
        assert r.converged
        diffs.append(abs(float(r.R) - float(mm.R)))
    # the tolerance shrinks with lam: below a threshold the soft-margin student *is* the
    # hard-margin one (separable kept set), up to the certified bounds
    assert diffs[0] > 1e-4
    assert diffs[1] < 0.1 * diffs[0]
    assert diffs[2] < 1e-6
    r = solve("easy", 0.5, 1.0, theta_deg=10.0, learner="hinge", lam=1e-3)
    assert r.converged
    assert abs(float(r.eps) - float(mm_easy.eps)) < 1e-5
    assert abs(float(r.S) - float(mm_easy.S)) < 1e-5


@pytest.mark.parametrize("learner", LEARNERS)
def test_keep_hard_at_f_to_one_is_the_unselected_model(learner):
    a = solve("random", 0.37, 1.5, learner=learner, lam=0.2, noise=0.1)
    b = solve("hard", 1.0 - 1e-13, 1.5, learner=learner, lam=0.2, noise=0.1)
    c = solve("easy", 1.0, 1.5, theta_deg=30.0, learner=learner, lam=0.2, noise=0.1)
    assert a.converged and b.converged and c.converged
    assert abs(float(a.eps) - float(b.eps)) < 1e-7
    assert abs(float(a.eps) - float(c.eps)) < 1e-7


def test_theta0_fast_paths_match_the_general_2d_rule():
    # ridge/hinge: closed-form z integral; logistic: omega kernel; tiny theta takes the 2-d rule
    for learner in LEARNERS:
        a = solve("easy", 0.4, [0.7, 4.0], learner=learner, lam=0.05, noise=0.2)
        b = solve("easy", 0.4, [0.7, 4.0], theta_deg=1e-7, learner=learner, lam=0.05,
                      noise=0.2)
        assert a.converged.all() and b.converged.all()
        assert np.max(np.abs(a.eps - b.eps)) < 1e-8, learner


def test_noise_hurts_and_noisy_error_is_affine():
    r = solve("hard", 0.3, 2.0, learner="logistic", lam=0.1, noise=[0.0, 0.1, 0.2, 0.3])
    assert np.all(np.diff(r.eps) > 0)
    assert np.allclose(r.eps_noisy, r.noise + (1 - 2 * r.noise) * r.eps, atol=1e-15)


# ---------------------------------------------------------------- quadrature

def _mc_moments(rule, f, theta, eta, X, learner, n=400_000, seed=1):
    """Monte Carlo of the same expectations from the literal kept law (both signs of p)."""
    rng = np.random.default_rng(seed)
    u = rng.random(n)
    if rule == "hard":
        g = -ndtri(0.5 * (1 - f))
        ap = ndtri(0.5 + u * (ndtr(g) - 0.5))
    else:
        g = -ndtri(0.5 * f)
        ap = -ndtri(u * ndtr(-g))
    p = np.where(rng.random(n) < 0.5, ap, -ap)
    r, xi = rng.normal(size=(2, n))
    c, s = math.cos(theta), math.sin(theta)
    t, uu = c * p - s * r, s * p + c * r
    y = np.where(t >= 0, 1.0, -1.0) * np.where(rng.random(n) < eta, -1.0, 1.0)
    m, sv, tau, V = X
    om = m * t + sv * uu + tau * xi
    h, fv, df, lv = prox(learner, y, om, V)
    vals = {"f2": fv * fv, "df": df, "ft": fv * t, "fu": fv * uu, "fxi": fv * xi,
            "M": lv + 0.5 * V * fv * fv, "lstar": -fv * h - lv}
    return {k: (v.mean(), v.std() / math.sqrt(n)) for k, v in vals.items()}


@pytest.mark.parametrize("learner", LEARNERS)
@pytest.mark.parametrize("rule,f,theta_deg,eta", [("hard", 0.3, 0.0, 0.1),
                                                  ("easy", 0.4, 25.0, 0.2)])
def test_quadrature_matches_monte_carlo(learner, rule, f, theta_deg, eta):
    X = np.array([0.9, 0.35, 0.6, 0.8])
    if theta_deg == 0.0:
        X[1] = 0.0
    pts = _points(rule, learner, np.array([f]), np.array([2.0]), np.array([theta_deg]),
                  np.array([0.1]), np.array([eta]))
    q = moments(pts, X[None, :], ErmQuadrature(), cert=True)
    mc = _mc_moments(rule, f, math.radians(theta_deg), eta, X, learner)
    for k, (mean, se) in mc.items():
        assert abs(q[k][0] - mean) < 5 * se + 1e-12, (k, q[k][0], mean, se)


@pytest.mark.parametrize("learner,theta_deg", [("ridge", 0.0), ("ridge", 20.0), ("hinge", 0.0),
                                               ("hinge", 20.0), ("logistic", 0.0)])
def test_refined_quadrature_changes_eps_below_1e6(learner, theta_deg):
    kw = dict(theta_deg=theta_deg, learner=learner, lam=0.05, noise=0.1)
    alphas = [0.5, 3.0] if theta_deg == 0 else [3.0]
    for rule, f in (("hard", 0.2), ("easy", 0.3)):
        a = solve(rule, f, alphas, **kw)
        b = solve(rule, f, alphas, quad=ErmQuadrature().refined(), **kw)
        assert a.converged.all() and b.converged.all()
        assert np.max(np.abs(a.eps - b.eps)) < 1e-6
        assert np.all(a.quad_err <= a.eps_bound)


@pytest.mark.slow
def test_refined_quadrature_logistic_theta():
    kw = dict(theta_deg=20.0, learner="logistic", lam=0.05, noise=0.1)
    a = solve("hard", 0.2, [0.5, 3.0], **kw)
    b = solve("hard", 0.2, [0.5, 3.0], quad=ErmQuadrature().refined(), **kw)
    assert a.converged.all() and b.converged.all()
    assert np.max(np.abs(a.eps - b.eps)) < 1e-6


# ---------------------------------------------------------------- certificate

@pytest.mark.parametrize("learner", LEARNERS)
def test_certificate_bounds_the_error_of_a_perturbed_point(learner):
    """A point moved off the fixed point gets a larger bound that still covers its error."""
    r = solve("easy", 0.3, 2.0, theta_deg=15.0, learner=learner, lam=0.1, noise=0.1)
    assert r.converged
    pts = _points("easy", learner, np.array([0.3]), np.array([2.0]), np.array([15.0]),
                  np.array([0.1]), np.array([0.1]))
    X = np.array([[float(r.m), float(r.s), math.sqrt(float(r.q0)), float(r.V)]])
    eps_star = float(r.eps)
    for d in (1e-4, 1e-2):
        Xp = X * np.array([1 + d, 1 - d, 1 + 0.5 * d, 1 - d])
        cert = certificate(pts, Xp, ErmQuadrature())
        m, s, tau = Xp[0, :3]
        eps_p = math.acos(m / math.sqrt(m * m + s * s + tau * tau)) / math.pi
        assert cert["eps_bound"][0] >= abs(eps_p - eps_star)
        assert cert["eps_bound"][0] > 10 * float(r.eps_bound)


def test_hinge_theta0_deep_tail_keeps_the_certificate_finite():
    """Hinge keep-easy at theta = 0: deep in the tail a node's closed-form E_z[f^2] rounds to a
    tiny negative number (-2e-317); its scales (absF, herr2) stay finite and the curve certifies
    (it read 'no tangent bracket or dual above primal' from alpha ~ 17 to 84)."""
    alpha = np.array([17.0125428, 28.94266125, 49.23882632, 83.76776401])
    r = solve("easy", 0.2, alpha, learner="hinge", lam=0.1, noise=0.2)
    assert np.all(r.converged), r.reason
    pts = _points("easy", "hinge", np.full(4, 0.2), alpha, np.zeros(4), np.full(4, 0.1),
                  np.full(4, 0.2))
    X = np.stack([r.m, r.s, np.sqrt(r.q0), r.V], axis=1)
    mo = moments(pts, X, ErmQuadrature(), cert=True)
    assert np.all(np.isfinite(mo["absF"])) and np.all(np.isfinite(mo["herr2"]))


@pytest.mark.parametrize("learner", LEARNERS)
def test_certificate_falls_back_to_the_totals_bound(learner, monkeypatch):
    """Where the per-node bound cannot be formed (here: absF forced to NaN) the
    difference-of-totals bound is used; it still certifies the solution and covers the error of
    a perturbed point."""
    import prunescale.theory.erm as erm_mod
    r = solve("easy", 0.3, 2.0, theta_deg=15.0, learner=learner, lam=0.1, noise=0.1)
    pts = _points("easy", learner, np.array([0.3]), np.array([2.0]), np.array([15.0]),
                  np.array([0.1]), np.array([0.1]))
    X = np.array([[float(r.m), float(r.s), math.sqrt(float(r.q0)), float(r.V)]])
    real = erm_mod.moments

    def no_absF(*a, **k):
        out = real(*a, **k)
        if "absF" in out:
            out["absF"] = np.full_like(out["absF"], np.nan)
        return out

    monkeypatch.setattr(erm_mod, "moments", no_absF)
    c0 = certificate(pts, X, ErmQuadrature())
    assert c0["totals"][0] and c0["eps_bound"][0] <= 1e-5
    for d in (1e-4, 1e-2):
        Xp = X * np.array([1 + d, 1 - d, 1 + 0.5 * d, 1 - d])
        cert = certificate(pts, Xp, ErmQuadrature())
        m, s, tau = Xp[0, :3]
        eps_p = math.acos(m / math.sqrt(m * m + s * s + tau * tau)) / math.pi
        assert cert["eps_bound"][0] >= abs(eps_p - float(r.eps))


def test_tangent_envelope_bounds_a_concave_function():
    phi = lambda c: -(c - 1.3) ** 2 + 0.7 * np.minimum(c, 1.0)
    dphi = lambda c: -2 * (c - 1.3) + 0.7 * (c < 1.0)
    c = np.array([[0.2, 0.9, 1.1, 3.0]])
    top = tangent_envelope_max(c, phi(c), dphi(c), np.array([0.0]), np.array([0.0]))
    grid = np.linspace(0, 5, 100001)
    assert top[0] >= phi(grid).max() - 1e-12
    # points bracketing the maximiser closely (as the certificate uses them): tight bound
    c = np.array([[0.2, 1.3 - 1e-7, 1.3 + 1e-7, 3.0]])
    top = tangent_envelope_max(c, phi(c), dphi(c), np.array([0.0]), np.array([0.0]))
    assert 0.7 <= top[0] < 0.7 + 1e-12
    # rounding allowances only loosen it
    loose = tangent_envelope_max(c, phi(c), dphi(c), np.array([1e-9]), np.array([1e-6]))
    assert top[0] < loose[0] < 0.7 + 1e-9 + 1e-6 * 2.0  # e_phi + e_g * (spread of the c_k)
    # increasing at the last point: unbounded, never a number
    c2 = np.array([[0.2, 0.5]])
    assert np.isinf(tangent_envelope_max(c2, phi(c2), dphi(c2), np.zeros(1), np.zeros(1))[0])


def test_uncertified_points_are_nan_with_a_reason():
    r = solve("hard", 0.5, [1.0, 2.0], learner="hinge", lam=[1e-1, 1e-6])
    assert r.converged[0] and not r.converged[1]
    for k in ("eps", "eps_noisy", "R", "S", "Q", "q0", "m", "s", "V"):
        assert np.isnan(getattr(r, k)[1])
    # the bound itself stays visible: by how much the point missed bound_tol
    assert 1e-5 < r.eps_bound[1] < 1e-3 and r.quad_err[1] <= r.eps_bound[1]
    assert "bound" in r.reason[1] and f"{r.eps_bound[1]:.2g}" in r.reason[1]
    assert "rounding floor" in r.reason[1]  # lambda -> 0: the float64 floor, not a real gap
    with pytest.raises(NotCertified, match="1 of 2 points not certified"):
        solve("hard", 0.5, [1.0, 2.0], learner="hinge", lam=[1e-1, 1e-6], strict=True)
    rec = r.records()
    assert rec[1]["eps"] is None and rec[1]["converged"] is False and rec[0]["learner"] == "hinge"
    assert rec[1]["eps_bound"] == float(r.eps_bound[1])


def test_uncertified_reason_tells_rounding_from_a_real_gap():
    """Below the float64 floor the reason says so; a coarse solving rule, whose solution is not
    the optimum of the refined rule's law, is a real duality gap and the reason says that."""
    r = solve("random", 1.0, 2.0, learner="ridge", lam=0.1, tol=1e-13)
    assert not r.converged and 1e-13 < r.eps_bound < 1e-9 and np.isnan(r.eps)
    assert f"{float(r.eps_bound):.2g}" in str(r.reason) and "rounding floor" in str(r.reason)
    r = solve("easy", 0.3, 2.0, theta_deg=15.0, learner="ridge", lam=0.1, noise=0.1,
                  quad=ErmQuadrature(n_p=2, n_z=2, z_max=6))
    assert not r.converged and 1e-5 < r.eps_bound < 0.1 and np.isnan(r.eps)
    assert "duality gap" in str(r.reason)


@pytest.mark.parametrize("kw,name,rng", [(dict(n_p=40), "n_p", "[2, 32]"),
                                         (dict(n_z=33), "n_z", "[2, 32]"),
                                         (dict(z_max=12), "z_max", "[6, 11]"),
                                         (dict(z_max=11.5), "z_max", "[6, 11]")])
def test_quadrature_is_refused_where_its_refined_rule_would_be_invalid(kw, name, rng):
    with pytest.raises(InputError, match=rf"^{name} must be .*\{rng[:-1]}\].*got") as e:
        ErmQuadrature(**kw)
    assert "\n" not in str(e.value)


def test_largest_quadrature_solves_and_refines():
    q = ErmQuadrature(n_p=32, n_z=32, z_max=11.0)
    fine = q.refined()
    assert (fine.n_p, fine.n_z, fine.z_max) == (64, 64, 12.0)
    r = solve("random", 1.0, 2.0, learner="ridge", lam=0.1, quad=q)
    assert r.converged and abs(float(r.eps) - 0.195533) < 1e-6
    # a refined rule can be refined once more only within the limits: refused up front
    with pytest.raises(InputError, match="n_p must be an integer in \\[2, 64\\]"):
        solve("random", 1.0, 2.0, learner="ridge", lam=0.1, quad=fine)


def test_prox_maps_minimise_their_objective():
    rng = np.random.default_rng(0)
    om = rng.normal(size=200) * 3
    y = np.where(rng.random(200) < 0.5, -1.0, 1.0)
    V = rng.random(200) * 3 + 0.01
    for learner in LEARNERS:
        h, f, df, lv = prox(learner, y, om, V)
        obj = lambda hh: loss(learner, y, hh) + (hh - om) ** 2 / (2 * V)
        for d in (1e-3, -1e-3):
            assert np.all(obj(h) <= obj(h + d) + 1e-12)
        assert np.allclose(f, (h - om) / V, atol=1e-12)
        e = 1e-6  # df/domega by central differences (away from the hinge's kinks)
        fp = prox(learner, y, om + e, V)[1]
        fm = prox(learner, y, om - e, V)[1]
        smooth = np.abs(y * om - 1) > 1e-3
        smooth &= np.abs(y * om - (1 - V)) > 1e-3
        assert np.allclose(((fp - fm) / (2 * e))[smooth], df[smooth], atol=1e-6)


@pytest.mark.parametrize("kw,msg", [
    (dict(learner="svm", lam=0.1), "learner must be one of max-margin, ridge, logistic, hinge"),
    (dict(learner="ridge", lam=0.0), "lam must be in (0, 1e+06]; got 0.0"),
    (dict(learner="ridge", lam=0.1, noise=0.7), "noise must be in [0, 0.5]; got 0.7"),
    (dict(learner="ridge", lam=float("nan")), "lam must be finite"),
])
def test_bad_input_is_one_line(kw, msg):
    with pytest.raises(InputError) as e:
        solve("hard", 0.5, 1.0, **kw)
    assert msg in str(e.value) and "\n" not in str(e.value)
