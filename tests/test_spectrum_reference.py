"""The spectrum theory against an independent solve of the generic-features state evolution
(Loureiro et al. 2021, arXiv 2102.08127) at f = 1, and its learning-curve exponents against the
source/capacity predictions of Cui et al. 2022 (arXiv 2201.12655).

The reference below is written from the published equations in the original (unwhitened)
coordinates: the prior as traces over the covariance ``Omega = Sigma`` with the teacher
``theta``, the channel in its ``Z_out`` form (``m_hat`` from the derivative of the teacher's
partition function, not from ``E[f t]``), each integral by adaptive quadrature, the logistic
proximal map by bracketed root finding, and the three equations by ``fsolve``. It shares no
code with ``prunescale.theory``.
"""

import numpy as np
import pytest
from scipy import integrate, optimize, special

from prunescale import theory
from prunescale.theory.spectrum import Spectrum


def _prox(learner, y, omega, V):
    if learner == "ridge":
        return (omega + V * y) / (1 + V)
    a = y * omega  # logistic: v = y h solves v = a + V sigmoid(-v), a root in [a, a + V]

    def g(v):
        return v - a - V * special.expit(-v)

    if g(a) >= 0:
        return y * a
    if g(a + V) <= 0:  # |a| so large that a + V rounds to a
        return y * (a + V)
    return y * optimize.brentq(g, a, a + V, xtol=1e-15, rtol=4 * np.finfo(float).eps,
                               maxiter=500)


def _dprox(learner, y, h, V):
    if learner == "ridge":
        return 1 / (1 + V)
    s = special.expit(-y * h)
    return 1 / (1 + V * s * (1 - s))


def gcm_eps(learner, lam, alpha, lk, teacher2):
    """Clean error of the generic-features state evolution: eigenvalues ``lk``, the teacher's
    label-field variance per direction ``teacher2 = theta_k^2 lambda_k`` (mean 1: rho = 1)."""
    th2 = teacher2 / lk
    rho = np.mean(th2 * lk)

    def prior(mh, qh, Vh):
        den = lam + Vh * lk
        return (mh * np.mean(th2 * lk ** 2 / den),
                np.mean((mh ** 2 * th2 * lk ** 3 + qh * lk ** 2) / den ** 2),
                np.mean(lk / den))

    def channel(m, q, V):
        V0 = rho - m * m / q

        def integrand(xi):
            out = np.zeros(3)
            w = np.exp(-xi * xi / 2) / np.sqrt(2 * np.pi)
            om, w0 = np.sqrt(q) * xi, m / np.sqrt(q) * xi
            for y in (1.0, -1.0):
                Z = special.ndtr(y * w0 / np.sqrt(V0))
                dZ = y * np.exp(-w0 * w0 / (2 * V0)) / np.sqrt(2 * np.pi * V0)
                h = _prox(learner, y, om, V)
                fo = (h - om) / V
                dfo = (_dprox(learner, y, h, V) - 1) / V
                out += w * np.array([dZ * fo, Z * fo * fo, -Z * dfo])
            return out

        tot = sum(integrate.quad_vec(integrand, a, b, epsabs=1e-14, epsrel=1e-13)[0]
                  for a, b in ((-np.inf, 0.0), (0.0, np.inf)))
        return alpha * tot

    def G(x):
        m, q, V = np.exp(x)
        m2, q2, V2 = prior(*channel(m, q, V))
        return [np.log(m2 / m), np.log(q2 / q), np.log(V2 / V)]

    m, q, V = 0.1, 0.1, 1.0 / (lam + alpha)
    with np.errstate(all="ignore"):
        for _ in range(15):  # damped iteration to a start, then fsolve
            m2, q2, V2 = prior(*channel(m, q, V))
            m, q, V = (m + m2) / 2, (q + q2) / 2, (V + V2) / 2
        x = optimize.fsolve(G, np.log([m, q, V]), xtol=1e-13)
    assert np.max(np.abs(G(x))) < 1e-10
    m, q, V = np.exp(x)
    return np.arccos(m / np.sqrt(rho * q)) / np.pi


def _check(spec, B, learner, lam, alphas):
    sp = Spectrum(spec, B)
    ref = [gcm_eps(learner, lam, a, sp.eigenvalues, sp.teacher_share * sp.dim) for a in alphas]
    r = theory.solve("random", 1.0, np.array(alphas), learner=learner, lam=lam, spectrum=spec,
                     teacher_decay=B)
    assert r.converged.all()
    np.testing.assert_allclose(r.eps, ref, rtol=0, atol=1e-6)
    return np.max(np.abs(r.eps - ref))


def test_ridge_equals_the_generic_features_state_evolution():
    assert _check("power:1.5:300", 2.0, "ridge", 1e-2, [0.3, 10.0]) < 1e-10


def test_logistic_equals_the_generic_features_state_evolution():
    assert _check("power:1.5:300", 2.0, "logistic", 1e-2, [0.3]) < 1e-10


@pytest.mark.slow
def test_logistic_equals_the_generic_features_state_evolution_at_more_loads():
    assert _check("power:1.5:300", 2.0, "logistic", 1e-2, [2.0, 10.0]) < 1e-10


@pytest.mark.slow
@pytest.mark.parametrize("spec,B,learner,lam", [("power:0.5:500", None, "logistic", 0.1),
                                                ("power:2:400", 3.0, "logistic", 1e-3),
                                                ("power:1:1000", 1.5, "ridge", 1e-4)])
def test_more_spectra_equal_the_generic_features_state_evolution(spec, B, learner, lam):
    assert _check(spec, B, learner, lam, [0.1, 1.0, 5.0, 30.0]) < 1e-9


# ------------------------------------------------------------------ source/capacity exponents
# lambda_k ~ k^-A (capacity A), teacher share theta_k^2 lambda_k ~ k^-(1 + 2 A r) (source r).
# Cui et al. 2022: the max-margin error decays as n^-beta, beta = A m / (1 + A m), m =
# min(r, 1/2); the optimally regularized ridge classifier as beta = A m / (1 + 2 A m),
# m = min(r, 1). Power laws hold for 1 << n << D: measured at D = 1e5, alpha in [2e-3, 2e-2].
D = 100_000
ALPHAS = np.geomspace(2e-3, 2e-2, 3)


def _slope(eps):
    return float(-np.polyfit(np.log(ALPHAS), np.log(eps), 1)[0])


def _max_margin_exponent(A, r):
    res = theory.solve("random", 1.0, ALPHAS, spectrum=f"power:{A}:{D}",
                       teacher_decay=1 + 2 * A * r)
    assert res.converged.all()
    return _slope(res.eps)


def _ridge_exponent(A, r):
    """The slope of the optimally regularized ridge classifier's error: a grid of penalties
    (one vectorized solve), then a bounded search in the bracket around its best one (eps is
    flat at its minimum, so ``xatol = 0.01`` in ``log(lam)`` is ample)."""
    kw = dict(learner="ridge", spectrum=f"power:{A}:{D}", teacher_decay=1 + 2 * A * r)
    grid = np.geomspace(1e-5, 1e5, 21)
    coarse = theory.solve("random", 1.0, ALPHAS[:, None], lam=grid[None, :], **kw)
    assert coarse.converged.all()
    best = []
    for i, a in enumerate(ALPHAS):
        j = int(np.argmin(coarse.eps[i]))
        lo, hi = np.log(grid[max(j - 1, 0)]), np.log(grid[min(j + 1, grid.size - 1)])

        def eps(log_lam, a=a):
            res = theory.solve("random", 1.0, a, lam=float(np.exp(log_lam)), **kw)
            assert res.converged.all()
            return float(res.eps)
        o = optimize.minimize_scalar(eps, bounds=(lo, hi), method="bounded",
                                     options={"xatol": 1e-2})
        best.append(min(o.fun, float(coarse.eps[i, j])))
    return _slope(np.array(best))


@pytest.mark.parametrize("A,r", [(1.5, 0.25)])
def test_max_margin_exponent_matches_source_capacity(A, r):
    m = min(r, 0.5)
    assert abs(_max_margin_exponent(A, r) - A * m / (1 + A * m)) < 0.05


@pytest.mark.slow  # the penalty is optimised at each load (~7 s on 2 cores)
@pytest.mark.parametrize("A,r", [(2.0, 0.3)])
def test_ridge_exponent_matches_source_capacity(A, r):
    m = min(r, 1.0)
    assert abs(_ridge_exponent(A, r) - A * m / (1 + 2 * A * m)) < 0.05


@pytest.mark.slow
@pytest.mark.parametrize("A,r", [(2.0, 0.3), (2.0, 1.0), (1.5, 1.0)])
def test_max_margin_exponent_more(A, r):
    m = min(r, 0.5)
    assert abs(_max_margin_exponent(A, r) - A * m / (1 + A * m)) < 0.05


@pytest.mark.slow
@pytest.mark.parametrize("A,r", [(1.5, 0.25), (2.0, 0.75), (1.5, 1.0)])
def test_ridge_exponent_more(A, r):
    m = min(r, 1.0)
    assert abs(_ridge_exponent(A, r) - A * m / (1 + 2 * A * m)) < 0.05
