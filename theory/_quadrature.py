"""Composite Gauss-Legendre quadrature over Gaussian-weighted panels, vectorized over points.

Every expectation in the replica equations has the form

.. math::  E[h] = \\int_{lo}^{hi} \\rho(x)\\, h(x)\\, dx

with ``rho`` a (truncated) Gaussian density and ``h`` smooth except at a few known places:
the kink of the positive part ``(k - y h)_+`` smoothed over a width ``b`` by the thermal
average over ``z``, and the jump of the label ``y = sign(t)``. Each point gets its own
panel edges (the known features), and each panel an ``n``-node Gauss-Legendre rule, so the
accuracy does not degrade when the smoothing width ``b`` becomes small.
"""

from __future__ import annotations

import functools

import numpy as np


@functools.lru_cache(maxsize=None)
def gauss_legendre(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights on ``[0, 1]`` (read-only arrays)."""
    x, w = np.polynomial.legendre.leggauss(n)
    x = 0.5 * (x + 1.0)
    w = 0.5 * w
    x.setflags(write=False)
    w.setflags(write=False)
    return x, w


def panel_rule(lo, hi, breaks, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Composite Gauss-Legendre rule on ``[lo, hi]`` split at ``breaks``.

    Args:
        lo, hi: interval ends, shape ``[...]`` (``lo <= hi``).
        breaks: candidate split points, shape ``[..., m]``; they are clipped to ``[lo, hi]``
            and sorted, so features outside the interval cost nothing but empty panels.
        n: nodes per panel.

    Returns:
        ``(x, w)`` of shape ``[..., (m + 1) * n]``: nodes and weights (no density included).
        Empty panels have zero weight and nodes at their (degenerate) location.
    """
    lo = np.asarray(lo, dtype=float)
    hi = np.asarray(hi, dtype=float)
    breaks = np.clip(np.asarray(breaks, dtype=float), lo[..., None], hi[..., None])
    edges = np.concatenate([lo[..., None], np.sort(breaks, axis=-1), hi[..., None]], axis=-1)
    left = edges[..., :-1, None]
    width = np.diff(edges, axis=-1)[..., None]
    gx, gw = gauss_legendre(n)
    x = left + width * gx
    w = width * gw
    shape = x.shape[:-2] + (x.shape[-2] * n,)
    return x.reshape(shape), w.reshape(shape)


def normal_pdf(x):
    """Standard normal density ``phi(x)``."""
    return np.exp(-0.5 * np.square(x)) * 0.3989422804014327
