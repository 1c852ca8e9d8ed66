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

from theory import pruning as _pr
from theory._equations import margin_terms
from theory._kept_law import Quadrature, nodes_theta, nodes_theta0


@dataclasses.dataclass(frozen=True)
class ReferencePoint:
    """Result of :func:`solve_reference` at one point."""

    eps: float
    R: float
    S: float
    kappa: float
    A_max: float
    n_evals: int


def _A_fn(pr: _pr.Pruning, alpha: float, quad: Quadrature):
    lo, hi = pr.kept_range if pr.rule != "random" and pr.f < 1 else (0.0, np.inf)
    fnorm = pr.f if pr.rule != "random" and pr.f < 1 else 1.0
    two_d = pr.rule != "random" and pr.f < 1 and pr.theta_deg > 0
    arr = lambda x: np.atleast_1d(np.asarray(x, dtype=float))  # noqa: E731
    lo, hi, fnorm, th = arr(lo), arr(hi), arr(fnorm), arr(pr.theta)
    count = [0]

    def A(p, q, k):
        """Gardner exponent at direction (cos p, sin p cos q, sin p sin q) and margin k."""
        count[0] += 1
        R, S, b = np.cos(p), np.sin(p) * np.cos(q), np.sin(p) * np.sin(q)
        R, S, b, k = arr(R), arr(S), arr(b), arr(k)
        if two_d:
            nodes = nodes_theta(lo, hi, fnorm, th, R, S, b, k, quad)
        else:
            nodes = nodes_theta0(lo, hi, fnorm, R, b, k, quad)
        m2, _ = margin_terms(nodes, R, S, b, k)
        return float(b[0] ** 2 - alpha * m2[0])

    return A, two_d, count


def solve_reference(
    pruning: _pr.Pruning,
    alpha_prune: float,
    *,
    quad: Quadrature = Quadrature(),
    k_tol: float = 1e-10,
    n_starts: int = 6,
) -> ReferencePoint:
    """Bisection on ``k`` around a global maximisation of ``A`` over ``(R, S)``.

    Args:
        pruning: the pruning specification.
        alpha_prune: load, ``> 0``.
        quad: quadrature resolution of the expectation.
        k_tol: absolute tolerance of the bisection on ``k``.
        n_starts: starting points per angle for the inner maximisation.
    """
    alpha = float(_pr.check_alpha("alpha_prune", alpha_prune))
    A, two_d, count = _A_fn(pruning, alpha, quad)

    def maximise(k):
        best = (-np.inf, None)
        ps = np.linspace(0.05, np.pi - 0.05, n_starts)
        qs = np.linspace(0.1, np.pi - 0.1, n_starts) if two_d else [0.5 * np.pi]
        # coarse global scan, then a local polish from the best few scan points
        scan = sorted(((A(p, q, k), p, q) for p in ps for q in qs), reverse=True)[:3]
        for _, p0, q0 in scan:
            if two_d:
                res = optimize.minimize(
                    lambda z: -A(z[0], z[1], k), [p0, q0], method="Nelder-Mead",
                    options={"xatol": 1e-12, "fatol": 1e-15, "maxiter": 4000},
                )
                val, z = -res.fun, res.x
            else:
                res = optimize.minimize_scalar(
                    lambda p: -A(p, 0.5 * np.pi, k), bounds=(1e-9, np.pi - 1e-9),
                    method="bounded", options={"xatol": 1e-13},
                )
                # also polish in log(p): small angles (tiny errors) need relative accuracy
                res2 = optimize.minimize_scalar(
                    lambda lp: -A(np.exp(lp), 0.5 * np.pi, k), bounds=(-30.0, np.log(np.pi)),
                    method="bounded", options={"xatol": 1e-12},
                )
                if -res2.fun > -res.fun:
                    val, z = -res2.fun, [np.exp(res2.x), 0.5 * np.pi]
                else:
                    val, z = -res.fun, [res.x, 0.5 * np.pi]
            if val > best[0]:
                best = (val, z)
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
