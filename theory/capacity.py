"""Capacity of the max-margin student with noisy labels: the largest separable load.

With labels flipped with probability ``eta > 0`` the kept data stop being linearly separable
above a critical load ``alpha_c`` (Gardner 1988; for pure noise, ``eta = 1/2``, Cover's
``alpha_c = 2``). In the notation of :mod:`theory._equations` the max-margin ``kappa`` is the
largest ``k`` with ``max_{R,S} A(R, S; k) >= 0``, and ``A`` decreases in ``k``; so the data are
separable (``kappa > 0``) exactly while ``max A(R, S; 0) > 0``. At ``k = 0`` the exponent is
homogeneous of degree two in ``x = (R, S, b)``:

$$
A(x; 0) = b^2 - \\alpha F(x), \\qquad
F(x) = E\\big[(-y'(R t + S u) - b z)_+^2\\big] = E[M_2(-y'(R t + S u), b)],
$$

with ``y'`` the observed (possibly flipped) label, so ``max A(x; 0) > 0`` iff
``alpha < 1 / min_{R,S} F(R, S, 1)`` (put ``b = 1`` by homogeneity):

$$
\\alpha_c = 1 \\big/ \\min_{R, S} F(R, S, 1).
$$

``F(R, S, 1)`` is convex in ``(R, S)`` (the square of the positive part of an affine function,
averaged), with gradient ``-2 (E[M_1 X_1], E[M_1 X_2])`` and Hessian ``2 E[Phi X_i X_j]``
(``X = y' (t, u)``): Newton's method with a backtracking line search finds the minimum. At the
minimiser ``(R_c, S_c)`` the student of a load just below capacity has the direction
``(R_c, S_c, 1)`` (normalised), which gives its error ``eps_c``. Without noise the teacher
separates every load (``alpha_c = inf``); at ``eta = 1/2`` the minimiser is ``R = S = 0`` and
``alpha_c = 1 / E[(-z)_+^2] = 2`` for every pruning rule.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from prunescale.theory import pruning as _pr
from prunescale.theory._equations import moments
from prunescale.theory._kept_law import Quadrature
from prunescale.errors import InputError

_MAX_NEWTON = 100
#: Newton stops once the decrement ``g H^-1 g / 2`` is below this fraction of ``F``
_DECREMENT_RTOL = 1e-26


@dataclasses.dataclass(frozen=True)
class CapacityResult:
    """Capacity of noisy kept data (arrays of the broadcast shape of the inputs).

    Attributes:
        alpha_c: largest separable load ``alpha_prune`` (``inf`` without noise).
        eps_c: error ``arccos(R_c) / pi`` of the max-margin student at the capacity.
        R_c, S_c: its overlaps (``nan`` without noise or where there is no capacity).
        converged: whether Newton's method reached a vanishing decrement.
    """

    alpha_c: np.ndarray
    eps_c: np.ndarray
    R_c: np.ndarray
    S_c: np.ndarray
    converged: np.ndarray


def _objective(batch, x):
    """``F(R, S, 1)``, its gradient and Hessian in ``(R[, S])`` at the rows of ``x``."""
    n = len(x)
    R = x[:, 0]
    S = x[:, 1] if batch.dim == 2 else np.zeros(n)
    one, zero = np.ones(n), np.zeros(n)
    m = moments(batch.nodes(R, S, one, zero), R, S, one, zero)
    if batch.dim == 1:
        return m.m2, -2.0 * m.m1x1[:, None], 2.0 * m.px11[:, None, None]
    g = -2.0 * np.stack([m.m1x1, m.m1x2], -1)
    H = 2.0 * np.stack([np.stack([m.px11, m.px12], -1), np.stack([m.px12, m.px22], -1)], -2)
    return m.m2, g, H


def minimise_margin_loss(batch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Newton's method on the convex ``F(R, S, 1)`` of every curve of a noisy ``_Batch``.

    Returns ``(F_min, x, converged)`` with ``x = (R[, S])`` the minimiser.
    """
    n = len(batch.lo)
    x = np.zeros((n, batch.dim))
    Fx, g, H = _objective(batch, x)
    conv = np.zeros(n, bool)
    active = np.ones(n, bool)
    for _ in range(_MAX_NEWTON):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        sub = batch.take(idx)
        with np.errstate(all="ignore"):
            step = -np.linalg.solve(H[idx], g[idx][..., None])[..., 0]
            dec = -np.sum(g[idx] * step, -1) / 2.0  # Newton decrement^2 / 2
        done = np.isfinite(dec) & (dec <= _DECREMENT_RTOL * Fx[idx])
        conv[idx[done]] = True
        bad = ~np.isfinite(dec) | (dec < 0)
        active[idx[done | bad]] = False
        go = ~(done | bad)
        if not go.any():
            break
        idx, sub, step = idx[go], sub.take(np.flatnonzero(go)), step[go]
        t = np.ones(idx.size)
        x_new = x[idx] + step
        F_new, g_new, H_new = _objective(sub, x_new)
        for _ in range(40):  # backtracking (Armijo) on the convex F
            worse = ~(F_new <= Fx[idx] - 1e-4 * t * 2.0 * dec[go])
            if not worse.any():
                break
            t = np.where(worse, t / 2.0, t)
            w = np.flatnonzero(worse)
            x_new[w] = x[idx[w]] + t[w, None] * step[w]
            F_new[w], g_new[w], H_new[w] = _objective(sub.take(w), x_new[w])
        stalled = (F_new >= Fx[idx]) & (t < 1.0)
        x[idx], Fx[idx], g[idx], H[idx] = x_new, F_new, g_new, H_new
        # a stalled line search means F is flat to rounding: the minimum is reached
        conv[idx[stalled]] = True
        active[idx[stalled]] = False
    return Fx, x, conv


#: ``min F`` below this means no capacity below ``1 / F_FLOOR``: the kept data hold (almost) no
#: flipped label (e.g. a label-aware keep-easy policy discards them), ``F -> 0`` as ``R -> inf``
#: and loads up to the largest accepted (``1e12``) are separable
F_FLOOR = 1e-13


def load_capacity(Fmin, converged) -> np.ndarray:
    """``alpha_c = 1 / min F``; ``inf`` where ``min F <= F_FLOOR`` (or the minimiser ran off to
    infinity), ``nan`` where Newton's method failed otherwise."""
    Fmin = np.asarray(Fmin, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(~(Fmin > F_FLOOR), np.inf, np.where(converged, 1.0 / Fmin, np.nan))


def capacity(rule: str, f, theta_deg=0.0, *, noise, softness=0.0, metric: str = "abs",
             quad: Quadrature = Quadrature()) -> CapacityResult:
    """Largest load ``alpha_prune`` at which the kept data with label noise stay separable.

    Args:
        rule: ``"hard"``, ``"easy"`` or ``"random"``.
        f: kept fraction(s) in ``(0, 1]``.
        theta_deg: probe angle(s) in degrees, ``[0, 90)``.
        noise: label-flip probability(ies) in ``[0, 0.5]``.
        softness: selection softness ``tau`` of the policy (:func:`theory.solve`).
        metric: ``"abs"`` or ``"signed"``, the policy's metric (:func:`theory.solve`).

    Returns:
        :class:`CapacityResult` (``alpha_c = inf`` where ``noise = 0``).

    Example:
        >>> float(capacity("random", 1.0, noise=0.5).alpha_c)
        2.0
    """
    from prunescale.theory.solver import _batch_for

    _pr.check_rule(rule)
    f = _pr.check_f(f)
    th = _pr.check_theta_deg(theta_deg)
    eta = _pr.check_noise(noise)
    tau = np.zeros(())
    if metric != "abs" or np.any(np.asarray(softness) != 0):
        from prunescale.theory import _selection as _sel

        metric = _sel.check_metric(metric)
        tau = _sel.check_softness(softness)
    try:
        F, TH, ETA, TAU = np.broadcast_arrays(f, th, eta, tau)
    except ValueError:
        raise InputError(f"f, theta_deg, noise and softness must broadcast to one shape; got "
                         f"shapes {np.shape(f)}, {np.shape(th)}, {np.shape(eta)} and "
                         f"{np.shape(tau)}") from None
    shape = F.shape
    F, TH, ETA, TAU = F.ravel(), TH.ravel(), ETA.ravel(), TAU.ravel()
    out = {k: np.full(F.size, np.nan) for k in ("alpha_c", "R", "S")}
    out["alpha_c"][:] = np.inf
    conv = np.ones(F.size, bool)
    noisy = ETA > 0
    ok = (rule == "random") | (F == 1.0)
    TH = np.where(ok, 0.0, TH)
    pol = (TAU > 0) | (metric == "signed")
    for dim, p in ((1, False), (2, False), (1, True), (2, True)):
        sel = np.flatnonzero(noisy & ((TH > 0) == (dim == 2)) & (pol == p))
        if sel.size == 0:
            continue
        batch = _batch_for(rule, F[sel], np.radians(TH[sel]), dim, quad, ETA[sel],
                           TAU[sel] if p else None, metric if p else "abs")
        Fmin, x, c = minimise_margin_loss(batch)
        out["alpha_c"][sel] = load_capacity(Fmin, c)
        finite = Fmin > F_FLOOR  # else no capacity: no student at it either
        c = c | ~finite
        out["R"][sel] = np.where(finite, x[:, 0], np.nan)
        out["S"][sel] = np.where(finite, x[:, 1] if dim == 2 else 0.0, np.nan)
        conv[sel] = c
    norm = np.sqrt(out["R"] ** 2 + out["S"] ** 2 + 1.0)
    R_c, S_c = out["R"] / norm, out["S"] / norm
    return CapacityResult(alpha_c=out["alpha_c"].reshape(shape),
                          eps_c=(np.arccos(np.clip(R_c, -1, 1)) / np.pi).reshape(shape),
                          R_c=R_c.reshape(shape), S_c=S_c.reshape(shape),
                          converged=conv.reshape(shape))
