"""Proximal maps of the three ERM losses, vectorized (numpy float64).

For a label ``y`` in {-1, +1}, a field ``omega`` and a response ``V > 0``,

.. math::  h^* = \\mathrm{prox}_{V\\ell(y,\\cdot)}(\\omega)
               = \\arg\\min_h \\ \\ell(y, h) + \\frac{(h - \\omega)^2}{2V},
           \\qquad f = -\\ell'(y, h^*) = \\frac{h^* - \\omega}{V},

and ``df = df/domega``. The losses (``docs/erm.md`` section 2):

* ``ridge``    ``(y - h)^2 / 2``:   ``h* = (omega + V y) / (1 + V)``, ``df = -1/(1 + V)``;
* ``hinge``    ``max(0, 1 - y h)``: ``h* = omega + V y`` if ``y omega < 1 - V``, ``y`` if
  ``1 - V <= y omega <= 1``, ``omega`` if ``y omega > 1``; ``df = -1/V`` on the middle piece;
* ``logistic`` ``log(1 + exp(-y h))``: ``v = y h*`` solves ``v = y omega + V sigmoid(-v)``
  (safeguarded Newton in the bracket ``[y omega, y omega + V]``, where ``g' >= 1``);
  ``df = -l'' / (1 + V l'')`` with ``l'' = sigmoid(v) sigmoid(-v)``.

``f`` is returned as ``-l'(y, h*)`` (for the hinge's middle piece the subgradient
``(y - omega)/V``), so the Fenchel equality ``l*(-f) = -f h* - l(y, h*)`` used by the duality
certificate holds exactly at the returned ``h*``.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

LEARNERS = ("ridge", "logistic", "hinge")

#: stopping tolerance of the logistic prox Newton iteration, on ``|g(v)|``
PROX_TOL = 1e-14
_PROX_MAX_ITER = 400


def loss(learner: str, y, h):
    """The loss ``l(y, h)`` of :data:`LEARNERS` (elementwise)."""
    v = y * h
    if learner == "ridge":
        return 0.5 * np.square(y - h)
    if learner == "hinge":
        return np.maximum(0.0, 1.0 - v)
    if learner == "logistic":
        return np.logaddexp(0.0, -v)
    raise ValueError(learner)


def prox(learner: str, y, omega, V):
    """``(h, f, df, l)``: proximal point, ``f = -l'(y, h)``, ``df/domega`` and ``l(y, h)``.

    ``y`` (+-1), ``omega`` and ``V`` broadcast together.
    """
    y = np.asarray(y, dtype=float)
    omega = np.asarray(omega, dtype=float)
    V = np.asarray(V, dtype=float)
    if learner == "ridge":
        h = (omega + V * y) / (1.0 + V)
        f = y - h
        df = np.broadcast_to(-1.0 / (1.0 + V), h.shape)
        return h, f, df, 0.5 * np.square(f)
    if learner == "hinge":
        w0 = y * omega
        low = w0 < 1.0 - V
        mid = (~low) & (w0 <= 1.0)
        v = np.where(low, w0 + V, np.where(mid, 1.0, w0))
        h = y * v
        f = y * np.where(low, 1.0, np.where(mid, (1.0 - w0) / V, 0.0))
        df = np.where(mid, -1.0 / V, 0.0)
        return h, f, df, np.maximum(0.0, 1.0 - v)
    if learner == "logistic":
        v = logistic_margin(y * omega, V)
        s_neg = expit(-v)
        s_pos = expit(v)
        lpp = s_pos * s_neg
        f = y * s_neg
        df = -lpp / (1.0 + V * lpp)
        return y * v, f, df, np.logaddexp(0.0, -v)
    raise ValueError(learner)


def logistic_margin(w0, V):
    """Root ``v`` of ``g(v) = v - w0 - V sigmoid(-v)`` (the logistic prox in margin form).

    ``g`` is increasing (``1 <= g' <= 1 + V/4``) with its root in ``[w0, w0 + V]``; Newton steps
    are kept inside the shrinking bracket, and a step that leaves it or follows a step that did
    not halve ``|g|`` is replaced by bisection (Newton alone can cycle for large ``V``). Stops when
    ``|g| <= PROX_TOL (1 + |v| + |w0| + V)`` everywhere (at most 400 steps; converged elements
    leave the loop once they are the majority).
    """
    w0, V = np.broadcast_arrays(np.asarray(w0, dtype=float), np.asarray(V, dtype=float))
    shape = w0.shape
    w0, V = w0.ravel(), V.ravel()
    s = expit(-w0)
    # one Newton step from v = w0 (inside the bracket: the step is V s / (1 + V s (1 - s)))
    v = w0 + V * s / (1.0 + V * (s * (1.0 - s)))
    idx = np.arange(v.size)  # unconverged elements (compacted once half of them are done)
    a, Va, va = w0, V, v.copy()
    lo, hi = a, a + Va
    g_prev = np.full_like(va, np.inf)
    for _ in range(_PROX_MAX_ITER):
        s_neg = expit(-va)
        g = va - a - Va * s_neg
        # rounding of g is ~ 1e-16 (|v| + |w0| + V): an element is done at that level
        done = np.abs(g) <= PROX_TOL * (1.0 + np.abs(va) + np.abs(a) + Va)
        n_done = np.count_nonzero(done)
        if n_done == done.size:
            v[idx] = va
            break
        if 2 * n_done > done.size:
            v[idx[done]] = va[done]
            keep = ~done
            idx, a, Va, va, lo, hi, g, g_prev, s_neg = (
                x[keep] for x in (idx, a, Va, va, lo, hi, g, g_prev, s_neg))
            done = None
        lo = np.where(g < 0, va, lo)
        hi = np.where(g > 0, va, hi)
        vn = va - g / (1.0 + Va * (s_neg * (1.0 - s_neg)))
        # Newton may cycle for large V: bisect when it leaves the bracket or when |g| did not
        # halve since the previous step (so the bracket at least halves every other step);
        # converged elements not yet compacted away stay where they are
        out = (vn < lo) | (vn > hi) | (np.abs(g) > 0.5 * g_prev)
        if done is not None:
            out &= ~done
            vn = np.where(done, va, vn)
        g_prev = np.where(out, np.inf, np.abs(g))
        va = np.where(out, 0.5 * (lo + hi), vn)
    else:
        v[idx] = va
    return v.reshape(shape)
