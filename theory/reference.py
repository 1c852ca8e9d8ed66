"""A slow, straightforward per-point solver: the independent reference for tests and benchmarks.

It implements the definition of the max-margin solution literally (Sorscher et al. 2022,
App. A): ``kappa`` is the largest ``k`` with ``max_{R,S} A(R, S; k) >= 0``, found by
bisection on ``k``; at each trial ``k`` the maximum of ``A`` over the overlaps is found with
:func:`scipy.optimize.minimize` from several starting points (a grid over the unit disc of
``(R, S)``, so the maximisation is global). It shares only the expectation of ``M_2`` with the
fast solver and none of its Newton, continuation or certificate code.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import optimize

from prunescale.theory import pruning as _pr
from prunescale.theory._equations import margin_terms
from prunescale.theory._kept_law import Quadrature, nodes_theta, nodes_theta0
from prunescale.errors import InputError


@dataclasses.dataclass(frozen=True)
class ReferencePoint:
    """Result of :func:`solve_reference` at one point."""

    eps: float
    R: float
    S: float
    kappa: float
    A_max: float
    n_evals: int


def _m2_scipy(lo, hi, fnorm, R, b, k):
    """``E[M2(k - R x, b)]`` over the kept law of ``x = |t|`` by adaptive QUADPACK (theta = 0)."""
    from scipy import integrate, special

    def integrand(x):
        a = k - R * x
        w = a / b
        return 2.0 * np.exp(-0.5 * x * x) / np.sqrt(2 * np.pi) / fnorm * (
            (a * a + b * b) * special.ndtr(w) + a * b * np.exp(-0.5 * w * w) / np.sqrt(2 * np.pi))

    # The kept density is negligible beyond lo + 30 (phi(30) ~ 1e-196): an unbounded or very
    # long interval (the kink k / R runs off to infinity as R -> 0) would let QUADPACK miss the
    # Gaussian bump near lo entirely and return M2 ~ 0, i.e. a spuriously feasible A ~ b^2 > 0.
    top = min(hi, lo + 30.0)
    inner = [lo + d for d in (1.5, 3.0, 5.0, 8.0)] + ([k / R] if R > 0 else [])
    cuts = [lo] + sorted(x for x in inner if lo < x < top) + [top]
    return sum(integrate.quad(integrand, u, v, epsabs=1e-14, epsrel=1e-12, limit=200)[0]
               for u, v in zip(cuts[:-1], cuts[1:]))


def _A_fn(pr: _pr.Pruning, alpha: float, quad: Quadrature, expectation: str = "quadrature"):
    lo, hi = pr.kept_range if pr.rule != "random" and pr.f < 1 else (0.0, np.inf)
    fnorm = pr.f if pr.rule != "random" and pr.f < 1 else 1.0
    two_d = pr.rule != "random" and pr.f < 1 and pr.theta_deg > 0
    arr = lambda x: np.atleast_1d(np.asarray(x, dtype=float))  # noqa: E731
    lo, hi, fnorm, th = arr(lo), arr(hi), arr(fnorm), arr(pr.theta)
    count = [0]

    def A_vec(p, q, k):
        """``A`` at arrays of directions ``(p, q)`` (one vectorized evaluation) and margin ``k``."""
        p, q = np.broadcast_arrays(np.asarray(p, dtype=float).ravel(),
                                   np.asarray(q, dtype=float).ravel())
        count[0] += p.size
        R, S, b = np.cos(p), np.sin(p) * np.cos(q), np.sin(p) * np.sin(q)
        if expectation == "scipy" and not two_d:
            return np.array([b[i] ** 2 - alpha * _m2_scipy(
                float(lo[0]), float(hi[0]), float(fnorm[0]), float(R[i]), float(b[i]), float(k))
                for i in range(p.size)])
        n = p.size
        rep = lambda x: np.repeat(x, n)  # noqa: E731
        kk = np.full(n, float(k))
        if two_d:
            nodes = nodes_theta(rep(lo), rep(hi), rep(fnorm), rep(th), R, S, b, kk, quad)
        else:
            nodes = nodes_theta0(rep(lo), rep(hi), rep(fnorm), R, b, kk, quad)
        m2, _ = margin_terms(nodes, R, S, b, kk)
        return b * b - alpha * m2

    def A(p, q, k):
        """Gardner exponent at direction (cos p, sin p cos q, sin p sin q) and margin k."""
        val = float(A_vec([p], [q], k)[0])
        return val if np.isfinite(val) else -np.inf

    return A, A_vec, two_d, count


def solve_reference(
    pruning: _pr.Pruning,
    alpha_prune: float,
    *,
    quad: Quadrature = Quadrature(),
    k_tol: float = 1e-10,
    n_starts: int = 6,
    expectation: str = "quadrature",
) -> ReferencePoint:
    """Bisection on ``k`` around a global maximisation of ``A`` over ``(R, S)``.

    Args:
        pruning: the pruning specification.
        alpha_prune: load, ``> 0``.
        quad: quadrature resolution of the expectation.
        k_tol: absolute tolerance of the bisection on ``k``.
        n_starts: resolution of the inner maximisation: its global scan has at least
            ``8 * n_starts`` (and at least 48) points per angle, and the ``max(3, n_starts // 2)``
            best local maxima of the scan, plus the maximiser at the previous trial ``k``, are
            polished (see :func:`_maximise_2d`, :func:`_maximise_1d`).
        expectation: ``"quadrature"`` (the package's Gauss-Legendre panels) or ``"scipy"``
            (adaptive QUADPACK, :func:`scipy.integrate.quad`: the straightforward choice and the
            benchmark baseline; theta = 0 and random pruning only, else the quadrature).
    """
    alpha = float(_pr.check_alpha("alpha_prune", alpha_prune))
    if expectation not in ("quadrature", "scipy"):
        raise InputError(f"expectation must be 'quadrature' or 'scipy'; got {expectation!r}")
    A, A_vec, two_d, count = _A_fn(pruning, alpha, quad, expectation)
    warm = [None]  # maximiser at the previous trial k (it moves continuously with k)

    def maximise(k):
        best = (-np.inf, None)
        for val, z in (_maximise_2d(A, A_vec, k, n_starts, warm[0]) if two_d
                       else _maximise_1d(A, A_vec, k, n_starts, warm[0])):
            if val > best[0]:
                best = (val, z)
        if best[1] is not None:
            warm[0] = best[1]
        return best

    # bracket: A_max(k) is decreasing in k; k = 0 is feasible (the teacher separates the data)
    lo_k, hi_k = 0.0, 1.0
    while maximise(hi_k)[0] >= 0:
        lo_k, hi_k = hi_k, 2 * hi_k
    while hi_k - lo_k > k_tol:
        mid = 0.5 * (lo_k + hi_k)
        if maximise(mid)[0] >= 0:
            lo_k = mid
        else:
            hi_k = mid
    val, (p, q) = maximise(lo_k)
    R, S = np.cos(p), np.sin(p) * np.cos(q)
    return ReferencePoint(eps=float(p / np.pi), R=float(R), S=float(S), kappa=float(lo_k),
                          A_max=float(val), n_evals=count[0])


def _logit(x):
    return np.log(x) - np.log1p(-x)


def _expit(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _scan_grid_p(n):
    """Angles ``p`` (``eps = p / pi``) for the global scan: linear, plus small angles."""
    return np.unique(np.concatenate([np.geomspace(1e-5, 0.05, 8),
                                     np.linspace(0.02, np.pi - 0.02, n)]))


def _grid_local_maxima(vals, top):
    """Indices of the ``top`` largest grid values that are not below any of their neighbours."""
    v = np.where(np.isfinite(vals), vals, -np.inf)
    pad = np.pad(v, 1, constant_values=-np.inf)
    ismax = np.ones(v.shape, bool)
    for dp in (-1, 0, 1):
        for dq in (-1, 0, 1):
            if dp or dq:
                ismax &= v >= pad[1 + dp:1 + dp + v.shape[0], 1 + dq:1 + dq + v.shape[1]]
    idx = np.flatnonzero(ismax.ravel() & np.isfinite(v.ravel()))
    idx = idx[np.argsort(-v.ravel()[idx])][:top]
    if idx.size == 0:
        idx = np.array([int(np.argmax(v))])
    return [np.unravel_index(i, v.shape) for i in idx]


def _maximise_2d(A, A_vec, k, n_starts, warm):
    """Global maximisation of ``A(p, q; k)`` over the half sphere ``b >= 0`` (theta > 0).

    A vectorized scan on a fine ``(p, q)`` grid (``p`` also at small angles), then
    Nelder-Mead polishes in the unbounded variables ``(logit(p / pi), logit(q / pi))``, which
    keep every trial inside ``0 < p, q < pi`` (the edges ``q -> 0, pi`` are ``b -> 0``, where
    ``A`` has a kink that a simplex in ``(p, q)`` can stall on), each restarted once from its
    result with a smaller simplex. The polishes start from the best local maxima of the scan and
    from ``warm``. Yields ``(value, (p, q))`` of every polish.
    """
    n = max(48, 8 * n_starts)
    ps = _scan_grid_p(n)
    qs = np.linspace(0.01, np.pi - 0.01, n)
    P, Q = np.meshgrid(ps, qs, indexing="ij")
    vals = A_vec(P, Q, k).reshape(P.shape)
    starts = [(ps[i], qs[j]) for i, j in _grid_local_maxima(vals, max(3, n_starts // 2))]
    if warm is not None:
        starts.append(tuple(warm))

    def neg(z):
        val = A(np.pi * _expit(z[0]), np.pi * _expit(z[1]), k)
        return -val if np.isfinite(val) else np.inf

    for p0, q0 in starts:
        z = np.array([_logit(p0 / np.pi), _logit(q0 / np.pi)])
        fun = neg(z)
        for step in (0.25, 0.02):
            simplex = np.array([z, z + [step, 0.0], z + [0.0, step]])
            res = optimize.minimize(neg, z, method="Nelder-Mead", options={
                "initial_simplex": simplex, "xatol": 1e-11, "fatol": 1e-16, "maxiter": 4000})
            if res.fun <= fun:
                z, fun = res.x, res.fun
        yield -fun, (float(np.pi * _expit(z[0])), float(np.pi * _expit(z[1])))


def _maximise_1d(A, A_vec, k, n_starts, warm):
    """Global maximisation of ``A(p; k)`` at ``S = 0`` (theta = 0 and random pruning).

    A scan of ``p`` (linear, plus small angles), then bounded Brent polishes in ``log(p)``
    between the neighbours of the best local maxima of the scan and of ``warm``, and the plain
    bounded polishes over the whole range in ``p`` and in ``log(p)`` (small angles, i.e. tiny
    errors, need relative accuracy). Yields ``(value, (p, pi / 2))`` of every polish.
    """
    half = 0.5 * np.pi
    ps = _scan_grid_p(max(48, 8 * n_starts))
    vals = np.asarray(A_vec(ps, np.full_like(ps, half), k))
    brackets = [(ps[max(i - 1, 0)], ps[min(i + 1, len(ps) - 1)])
                for (i, _) in _grid_local_maxima(vals[:, None], max(3, n_starts // 2))]
    if warm is not None:
        brackets.append((0.5 * warm[0], min(1.5 * warm[0], np.pi - 1e-9)))
    brackets.append((1e-13, np.pi - 1e-9))
    for lo, hi in brackets:
        res = optimize.minimize_scalar(lambda lp: -A(np.exp(lp), half, k),
                                       bounds=(np.log(lo), np.log(hi)), method="bounded",
                                       options={"xatol": 1e-12})
        yield -res.fun, (float(np.exp(res.x)), half)
    res = optimize.minimize_scalar(lambda p: -A(p, half, k), bounds=(1e-9, np.pi - 1e-9),
                                   method="bounded", options={"xatol": 1e-13})
    yield -res.fun, (float(res.x), half)
