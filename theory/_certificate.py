"""Convex certificate of a max-margin solution.

Writing ``w = (R, S, b) / k`` the condition ``A(R, S; k) >= 0`` reads ``G(w) <= 0`` with

.. math::  G(w) = \\sqrt{\\alpha\\, E[(1 - y(w_1 t + w_2 u) - w_3 z)_+^2]} - w_3,

an L2 norm of the positive part of an affine function minus a linear one: **G is convex**.
The feasible set ``C = {G <= 0}`` is convex and does not contain the origin, and the
max-margin solution is its minimum-norm point, ``kappa* = 1 / min_{w in C} |w|`` (the replica
equations of App. A of Sorscher et al. 2022 are the KKT conditions of this problem). Hence:

* **upper bound** ``U``: any feasible ``w`` (``A >= 0``) gives ``min |w| <= U = |w| = 1 / k``;
* **lower bound** ``L``: for any ``w0`` with ``n = grad G(w0)``, convexity gives
  ``C subset {x : n.x <= n.w0 - G(w0)}``, so ``min |w| >= L = (G(w0) - n.w0) / |n|``;
* **overlap error**: the min-norm point ``w*`` of a convex set satisfies
  ``|w - w*|^2 <= |w|^2 - |w*|^2 <= U^2 - L^2`` for feasible ``w``, so the angle between the
  returned and the exact student is at most ``arcsin(sqrt(U^2 - L^2) / L)`` and
  ``|eps - eps*| <= arcsin(sqrt(U^2 - L^2) / L) / pi``.

A stationary point that is not the maximum of ``A`` (a saddle, or the spurious ``R < 0``
root of the stationarity equations) has no small gap: the certificate rejects it. The
bounds hold up to the quadrature error of the expectations (see the refinement tests).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from theory._equations import Nodes


@dataclasses.dataclass(frozen=True)
class Certificate:
    """Bounds on ``1 / kappa*`` and on the error of ``eps`` (arrays of shape ``[n]``).

    Attributes:
        upper: ``U = 1 / k`` at a feasible point (``A >= 0``); ``nan`` if not feasible.
        lower: ``L`` from the supporting hyperplane of the convex feasible set.
        gap: relative gap ``(U - L) / U`` (``inf`` when it cannot be formed; a gap below
            about ``-1e-12`` means the bounds contradict each other, i.e. the expectations are
            not accurate, and is never certified).
        eps_bound: certified bound on ``|eps - eps*|`` implied by the gap.
        residual: largest residual of the stationarity equations ``b^2 = alpha E[M2]`` (relative),
            ``R = alpha (E[y t M1] + R P)`` and ``S = alpha (E[y u M1] + S P)``.
    """

    upper: np.ndarray
    lower: np.ndarray
    gap: np.ndarray
    eps_bound: np.ndarray
    residual: np.ndarray


def certify(nodes: Nodes, alpha, R, S, b, k) -> Certificate:
    """Certificate at ``w0 = (R, S, b) / k``; ``(R, S, b)`` must be a unit vector."""
    from scipy import special

    from theory._quadrature import normal_pdf

    X1 = nodes.X1
    X2 = nodes.X2 if nodes.X2 is not None else np.zeros_like(X1)
    a = k[:, None] - R[:, None] * X1 - S[:, None] * X2
    bb = b[:, None]
    w = a / bb
    Phi = special.ndtr(w)
    phi = normal_pdf(w)
    M1 = a * Phi + bb * phi
    M2 = (a * a + bb * bb) * Phi + a * bb * phi
    W = nodes.W
    m2 = np.einsum("ij,ij->i", W, M2)
    m1x1 = np.einsum("ij,ij->i", W, M1 * X1)
    m1x2 = np.einsum("ij,ij->i", W, M1 * X2)
    P = np.einsum("ij,ij->i", W, Phi)
    A = b * b - alpha * m2
    Q = np.sqrt(alpha * m2)
    with np.errstate(divide="ignore", invalid="ignore"):
        # n = grad G(w0) = (alpha / Q) (-E[M1 X1], -E[M1 X2], b P) - e_3   (scale invariant)
        n1 = -(alpha / Q) * m1x1
        n2 = -(alpha / Q) * m1x2
        n3 = (alpha / Q) * b * P - 1.0
        norm_n = np.sqrt(n1 * n1 + n2 * n2 + n3 * n3)
        # (G(w0) - n.w0) * k = Q + (alpha / Q) (R E[M1 X1] + S E[M1 X2] - b^2 P)
        lower = (Q + (alpha / Q) * (R * m1x1 + S * m1x2 - b * b * P)) / (k * norm_n)
        # the teacher separates the data, so kappa* > 0: only k > 0 can be certified
        upper = np.where((A >= 0) & (k > 0), 1.0 / k, np.nan)
        gap = np.where(np.isfinite(upper) & (lower > 0), (upper - lower) / upper, np.inf)
        delta = np.sqrt(np.maximum(upper * upper - lower * lower, 0.0))
        ratio = np.minimum(1.0, delta / lower)
        eps_bound = np.where(np.isfinite(gap), np.arcsin(ratio) / np.pi, np.inf)
        residual = np.maximum(
            np.abs(A) / (b * b),
            np.maximum(np.abs(R - alpha * (m1x1 + R * P)), np.abs(S - alpha * (m1x2 + S * P))),
        )
    return Certificate(upper=upper, lower=lower, gap=gap, eps_bound=eps_bound, residual=residual)
