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

Both bounds come from one evaluation of the expectations at ``(R, S, b; k0)``: ``L`` at
``w0 = (R, S, b) / k0``, and a feasible margin ``k <= k0`` in the same direction from the
concavity of ``A`` in ``k``: ``d^2A/dk^2 = -2 alpha P(k)`` with ``P = E[Phi]`` increasing in
``k``, so for ``d <= 0``

.. math::  A(k_0 + d) \\ge A(k_0) - 2\\alpha E[M_1]\\, d - \\alpha P(k_0)\\, d^2,

and the smallest ``|d|`` that makes the right side exceed a rounding margin gives ``k``.

**Spiked inputs** (``docs/structure.md``): the student minimises the input-space norm
``|D w|``, ``D = diag(1/sqrt(1+S), 1, 1)`` in whitened coordinates, over the same convex ``C``:
with ``z = D w`` it is the min-norm point of the convex ``D C``. The direction ``(R, S, b)`` is
then on the ellipsoid ``|D (R, S, b)| = 1``, so ``U = 1 / k`` still; the supporting hyperplane
has normal ``D^(-1) n`` and ``L = (G(w0) - n.w0) / |D^(-1) n|``; ``|z - z*|^2 <= U^2 - L^2``
gives ``|w - w*| <= sqrt(1+S) sqrt(U^2 - L^2)`` and ``|w*| >= |z*| >= L``, so
``|eps - eps*| <= arcsin(sqrt(1+S) sqrt(U^2 - L^2) / L) / pi``. The teacher equation of the
residual becomes ``R/(1+S) = alpha (E[M1 X1] + R P/(1+S))``. All reduce to the isotropic ones at
``S = 0``.

A stationary point that is not the maximum of ``A`` (a saddle, or the spurious ``R < 0``
root of the stationarity equations) has no small gap: the certificate rejects it. The
bounds hold up to the quadrature error of the expectations (see the refinement tests).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from prunescale.theory._equations import moments

#: ``A`` at the feasible margin is guaranteed above this many ulps of ``b^2`` (rounding noise of
#: the expectation is ~1e-16 relative), so that ``A >= 0`` holds however it is summed.
_FEASIBLE_ULPS = 64


@dataclasses.dataclass(frozen=True)
class Certificate:
    """Bounds on ``1 / kappa*`` and on the error of ``eps`` (arrays of shape ``[n]``).

    Attributes:
        kappa: the certified feasible margin ``k`` (``A(k) >= 0``; ``nan`` if none was found).
        upper: ``U = 1 / k``; ``nan`` if not feasible.
        lower: ``L`` from the supporting hyperplane of the convex feasible set.
        gap: relative gap ``(U - L) / U`` (``inf`` when it cannot be formed; a gap below
            about ``-1e-12`` means the bounds contradict each other, i.e. the expectations are
            not accurate, and is never certified).
        eps_bound: certified bound on ``|eps - eps*|`` implied by the gap.
        residual: largest residual of the stationarity equations ``b^2 = alpha E[M2]`` (relative),
            ``R = alpha (E[y t M1] + R P)`` and ``S = alpha (E[y u M1] + S P)``, at ``k0``.
        gap_floor: the part of ``gap`` that float64 arithmetic alone produces at this point:
            the relative margin shift that keeps ``A >= 0`` robust to rounding
            (``_FEASIBLE_ULPS`` ulps of ``b^2`` divided by ``|dA/dk| k``) plus the rounding of
            the lower bound's numerator (64 ulps of the sum of its terms' magnitudes over its
            value). A solver cannot be asked for a smaller gap than this.
    """

    kappa: np.ndarray
    upper: np.ndarray
    lower: np.ndarray
    gap: np.ndarray
    eps_bound: np.ndarray
    residual: np.ndarray
    gap_floor: np.ndarray


def certify(nodes, alpha, R, S, b, k, sc=None) -> Certificate:
    """Certificate in the direction ``(R, S, b)`` (a unit vector) from one evaluation at ``k``.

    ``k`` should be (close to) the root of ``A = 0`` in that direction; the certified margin
    :attr:`Certificate.kappa` is at most ``k``. ``sc``: ``sqrt(1 + S)`` of spiked inputs (then
    ``(R, S, b)`` is on the ellipsoid of unit input-space norm; ``None``: isotropic).
    """
    one = np.ones_like(R) if sc is None else sc
    tw = 1.0 / (one * one)  # the teacher component's weight in the norm, 1/(1+S)
    m = moments(nodes, R, S, b, k, certificate_only=True)
    A = b * b - alpha * m.m2
    with np.errstate(divide="ignore", invalid="ignore"):
        kf = k - _feasible_shift(A, alpha * m.m1, alpha * m.P, _FEASIBLE_ULPS * 2.2e-16 * b * b)
        Q = np.sqrt(alpha * m.m2)
        # n = grad G(w0) = (alpha / Q) (-E[M1 X1], -E[M1 X2], b P) - e_3   (scale invariant)
        n1 = -(alpha / Q) * m.m1x1
        n2 = -(alpha / Q) * m.m1x2
        n3 = (alpha / Q) * b * m.P - 1.0
        norm_n = np.sqrt(one * one * n1 * n1 + n2 * n2 + n3 * n3)
        # (G(w0) - n.w0) * k = Q + (alpha / Q) (R E[M1 X1] + S E[M1 X2] - b^2 P)
        num = Q + (alpha / Q) * (R * m.m1x1 + S * m.m1x2 - b * b * m.P)
        lower = num / (k * norm_n)
        size = Q + (alpha / Q) * (np.abs(R * m.m1x1) + np.abs(S * m.m1x2) + b * b * m.P)
        gap_floor = (_FEASIBLE_ULPS * 2.2e-16 * b * b / (alpha * m.m1 * np.abs(k))
                     + 64 * 2.2e-16 * size / np.abs(num))
        # the teacher separates the data, so kappa* > 0: only k > 0 can be certified
        upper = np.where(kf > 0, 1.0 / kf, np.nan)
        gap = np.where(np.isfinite(upper) & (lower > 0), (upper - lower) / upper, np.inf)
        delta = np.sqrt(np.maximum(upper * upper - lower * lower, 0.0))
        ratio = np.minimum(1.0, one * delta / lower)
        eps_bound = np.where(np.isfinite(gap), np.arcsin(ratio) / np.pi, np.inf)
        residual = np.maximum(
            np.abs(A) / (b * b),
            np.maximum(np.abs(tw * R - alpha * (m.m1x1 + tw * R * m.P)),
                       np.abs(S - alpha * (m.m1x2 + S * m.P))),
        )
    return Certificate(kappa=np.where(np.isfinite(upper), kf, np.nan), upper=upper, lower=lower,
                       gap=gap, eps_bound=eps_bound, residual=residual,
                       gap_floor=np.where(np.isfinite(gap_floor), gap_floor, np.inf))


def _feasible_shift(A, slope, curv, margin):
    """Smallest ``d >= 0`` with ``A + slope d - curv d^2 >= margin`` (``nan`` if none).

    ``slope = alpha E[M1] = -dA/dk / 2``, ``curv = alpha P``: the lower bound on ``A(k - d)`` of
    the module docstring. The root is written in the cancellation-free form
    ``d = 2 r / (slope + sqrt(slope^2 - 4 curv r))`` with ``r = margin - A``.
    """
    r = margin - A
    disc = slope * slope - 4.0 * curv * r
    d = 2.0 * r / (slope + np.sqrt(disc))
    return np.where(r <= 0, 0.0, np.where((disc >= 0) & (slope > 0), d, np.nan))
