"""Composite Gauss-Legendre quadrature over Gaussian-weighted panels, and Gaussian integrals.

Every expectation in the replica equations has the form

.. math::  E[h] = \\int_{lo}^{hi} \\rho(x)\\, h(x)\\, dx

with ``rho`` a (truncated) Gaussian density and ``h`` smooth except at a few known places:
the kink of the positive part ``(k - y h)_+`` smoothed over a width ``b`` by the thermal
average over ``z``, and the jump of the label ``y = sign(t)``. Each point gets its own
panel edges (the known features), and each panel an ``n``-node Gauss-Legendre rule, so the
accuracy does not degrade when the smoothing width ``b`` becomes small. Panels that the
interval clips to zero width are dropped (:func:`panels`), so a feature outside ``[lo, hi]``
costs nothing.

The integral over a Gaussian variable cut at one point (the label flip) is done in closed form
with the bivariate normal distribution function :func:`bvn_cdf`.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
from prunescale.theory import _special as special


@functools.cache
def gauss_legendre(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights on ``[0, 1]`` (read-only arrays)."""
    x, w = np.polynomial.legendre.leggauss(n)
    x = 0.5 * (x + 1.0)
    w = 0.5 * w
    x.setflags(write=False)
    w.setflags(write=False)
    return x, w


def panel_rule(lo, hi, breaks, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Composite Gauss-Legendre rule on ``[lo, hi]`` split at ``breaks`` (dense layout).

    Args:
        lo, hi: interval ends, shape ``[...]`` (``lo <= hi``).
        breaks: candidate split points, shape ``[..., m]``; they are clipped to ``[lo, hi]``
            and sorted.
        n: nodes per panel.

    Returns:
        ``(x, w)`` of shape ``[..., (m + 1) * n]``: nodes and weights (no density included).
        Empty panels have zero weight and nodes at their (degenerate) location.
    """
    edges = _edges(lo, hi, breaks)
    left = edges[..., :-1, None]
    width = np.diff(edges, axis=-1)[..., None]
    gx, gw = gauss_legendre(n)
    x = left + width * gx
    w = width * gw
    shape = x.shape[:-2] + (x.shape[-2] * n,)
    return x.reshape(shape), w.reshape(shape)


def _edges(lo, hi, breaks):
    """``[lo, sorted breaks clipped to [lo, hi], hi]``; ``nan`` breaks fall on ``lo``."""
    lo = np.asarray(lo, dtype=float)
    hi = np.asarray(hi, dtype=float)
    breaks = np.asarray(breaks, dtype=float)
    breaks = np.clip(np.where(np.isnan(breaks), lo[..., None], breaks), lo[..., None],
                     hi[..., None])
    return np.concatenate([lo[..., None], np.sort(breaks, axis=-1), hi[..., None]], axis=-1)


@dataclasses.dataclass(frozen=True)
class Panels:
    """Composite rule of many points in a flat ("ragged") layout, empty panels dropped.

    Attributes:
        x, w: nodes and weights, shape ``[N]``; the nodes of a point are contiguous.
        owner: the point of each node, shape ``[N]`` (non-decreasing).
        starts: index of the first node of each point, shape ``[n_points]``.
    """

    x: np.ndarray
    w: np.ndarray
    owner: np.ndarray
    starts: np.ndarray

    def sums(self, values: np.ndarray) -> np.ndarray:
        """Per-point sums ``[..., n_points]`` of node values ``[..., N]``."""
        return np.add.reduceat(values, self.starts, axis=-1)


def panels(lo, hi, breaks, n: int) -> Panels:
    """Composite Gauss-Legendre rule on ``[lo_i, hi_i]`` split at ``breaks[i]``, per point ``i``.

    Like :func:`panel_rule` with shapes ``lo, hi: [n_points]``, ``breaks: [n_points, m]``, but
    only panels of positive width get nodes. Requires ``lo < hi``.
    """
    edges = _edges(lo, hi, breaks)
    width = np.diff(edges, axis=-1)
    row, col = np.nonzero(width > 0)
    gx, gw = gauss_legendre(n)
    wd = width[row, col][:, None]
    x = (edges[row, col][:, None] + wd * gx).ravel()
    w = (wd * gw).ravel()
    count = np.bincount(row, minlength=len(edges)) * n
    starts = np.concatenate([[0], np.cumsum(count)[:-1]])
    return Panels(x=x, w=w, owner=np.repeat(row, n), starts=starts)


def normal_pdf(x):
    """Standard normal density ``phi(x)`` (exactly 0 far in the tails, without warnings)."""
    with np.errstate(over="ignore"):  # x^2 = inf for |x| > 1e154: exp(-inf) = 0 is right
        return np.exp(-0.5 * np.square(x)) * 0.3989422804014327


def bvn_cdf(h, kap, a_h, a_k):
    r"""Bivariate normal distribution function ``Phi_2(h, kap; rho)`` by Owen's T function.

    .. math::  \Phi_2(h, \kappa; \rho) = \tfrac12[\Phi(h) + \Phi(\kappa)]
               - T(h, a_h) - T(\kappa, a_k) - \beta,

    with ``a_h = (kap - rho h) / (h r)``, ``a_k = (h - rho kap) / (kap r)``,
    ``r = sqrt(1 - rho^2)`` and ``beta = 1/2`` where exactly one of ``h, kap`` is ``>= 0``
    (Owen 1956). The caller passes the two ratios (``rho`` itself is not needed), which it often
    has in a stabler form. ``T(x, a)`` is below ``Phi(-|x|) / 2``, and the first terms are
    summed from the tails ``Phi(-|h|)``, ``Phi(-|kap|)`` (e.g. ``(Phi(kap) - Phi(-h)) / 2`` when
    ``h >= 0 > kap``), so the absolute error is ~1e-16 times the larger tail, not 1e-16.
    """
    a_h = np.where(np.isnan(a_h), 0.0, a_h)
    a_k = np.where(np.isnan(a_k), 0.0, a_k)
    th = special.ndtr(-np.abs(h))
    tk = special.ndtr(-np.abs(kap))
    ph, pk = h >= 0, kap >= 0
    base = np.where(ph & pk, 1.0 - 0.5 * (th + tk),
                    np.where(ph == pk, 0.5 * (th + tk), np.where(ph, 0.5 * (tk - th),
                                                                  0.5 * (th - tk))))
    return base - special.owens_t(h, a_h) - special.owens_t(kap, a_k)
