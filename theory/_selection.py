"""Selection policies: soft, label-aware and reweighted pruning (``docs/erm.md`` section 7).

One specification shared by the ERM theory (:mod:`prunescale.theory.erm`) and the simulator
(:mod:`prunescale.sims.erm`).

* **Metric** ``abs``: ``m = |p|`` (``p`` the probe's field; label-free, the sharp rules of
  :mod:`prunescale.theory.pruning`); ``signed``: ``m = y p`` with ``y`` the observed (possibly
  flipped) label.
* **Policy**: every pool example is kept independently with probability ``pi(m)``:
  ``hard`` ``pi = sigmoid((k - m)/tau)``, ``easy`` ``pi = sigmoid((m - k)/tau)``, ``random``
  ``pi = f``. ``tau >= 0`` is the softness; at ``tau = 0`` ``pi`` is the step ``1{m <= k}``
  (hard) or ``1{m >= k}`` (easy). The threshold ``k`` solves ``E[pi(m)] = f`` over the pool law
  (``p ~ N(0, 1)``, labels ``y = sign(t)`` flipped with probability ``eta``,
  ``t | p ~ N(cos(theta) p, sin(theta)^2)``).
* **Reweighting**: loss weights ``c = 1/pi(m)`` normalised to mean 1 over the kept law. For a
  policy with ``pi > 0`` everywhere ``E_kept[1/pi] = 1/f``, so ``c = f/pi``; for the sharp rules
  ``c = 1`` on the kept set (reweighting is a no-op), and for ``random`` ``c = 1``.

Numerics: ``E[pi](k)`` is a composite Gauss-Legendre rule on ``p in [0, T]`` (the pool law is
symmetric under ``(p, y) -> -(p, y)``, and ``m`` is invariant), split at ``+-k + tau j`` and at the
label switch; ``k`` is a vectorised bisection on a bracket where ``E[pi] - f`` changes sign
(monotone in ``k``), run to the resolution of float64.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, ndtr

from prunescale.errors import InputError
from prunescale.theory import pruning as _pr
from prunescale.theory._quadrature import normal_pdf, panel_rule

from prunescale.theory.pruning import (METRICS, SOFTNESS_MAX, check_metric,  # noqa: F401
                                       check_reweight, check_softness)
#: pi below this is treated as 0 (a kept-law density below 1e-280 contributes nothing)
PI_FLOOR = 1e-280
#: multiples of tau around the threshold where the rule of p is split
_TAU_BREAKS = np.array([-32.0, -16.0, -8.0, -4.0, -2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 4.0,
                        8.0, 16.0, 32.0])
_LAB_BREAKS = np.array([0.3, 1.0, 3.0, 8.0])
_FRACS = np.array([0.03, 0.08, 0.15, 0.25, 0.38, 0.55, 0.75])
#: tail cut of p: phi(T) / phi(0) = exp(-40)
P_TAIL = float(np.sqrt(80.0))


def keep_prob(rule: str, m, k, tau, f):
    """``pi(m)`` of the policy (elementwise, broadcasting); numerically stable sigmoid.

    ``tau = 0`` is the step ``1{m <= k}`` (hard) or ``1{m >= k}`` (easy)."""
    m, k, tau, f = (np.asarray(a, dtype=float) for a in (m, k, tau, f))
    if rule == "random":
        return np.broadcast_to(f, np.broadcast_shapes(m.shape, f.shape)).astype(float)
    d = (k - m) if rule == "hard" else (m - k)
    soft = tau > 0
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        x = d / np.where(soft, tau, 1.0)
        # k = +-inf (f = 1): d = +inf everywhere; inf/tau = inf, expit(inf) = 1
        sig = expit(x)
    step = (d >= 0).astype(float)
    return np.where(soft, sig, step)


def weight_c(rule: str, pi, tau, f):
    """Reweighting loss weights ``c``: ``f/pi`` for a soft policy (``tau > 0``), ``1`` for the
    sharp rules and ``random`` (where ``pi`` is a step or the constant ``f``)."""
    pi = np.asarray(pi, dtype=float)
    if rule == "random":
        return np.ones_like(pi)
    tau = np.asarray(tau, dtype=float)
    f = np.asarray(f, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        c = np.where((tau > 0) & (pi > PI_FLOOR), f / np.where(pi > PI_FLOOR, pi, 1.0), 1.0)
    return c


def label_plus(p, cth, sth, eta):
    """``P(y = +1 | p)`` under the pool law: ``t | p ~ N(c p, s^2)``, flip probability ``eta``."""
    p, cth, sth, eta = (np.asarray(a, dtype=float) for a in (p, cth, sth, eta))
    with np.errstate(divide="ignore", invalid="ignore"):
        arg = np.where(sth > 0, cth * p / np.where(sth > 0, sth, 1.0),
                       np.where(p > 0, np.inf, np.where(p < 0, -np.inf, 0.0)))
    pt = ndtr(arg)
    return (1.0 - eta) * pt + eta * (1.0 - pt)


def p_breaks(k, tau, cth, sth, metric: str = "signed", label: bool = True,
             fixed: bool = True):
    """Split points of the ``p >= 0`` rule of a policy: ``k + tau j`` (and ``-k + tau j`` for
    the ``signed`` metric, whose ``y = -1`` branch bends at ``p = -k``), the label switch near
    ``p = 0`` (``label``) and fixed fractions of ``[0, T]`` (``fixed``). Where every ``tau`` is
    0 only ``+-k`` itself is used."""
    k, tau, cth, sth = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in
                                             (k, tau, cth, sth)))
    kk = np.where(np.isfinite(k), k, np.nan)
    mult = _TAU_BREAKS if np.any(tau > 0) else np.zeros(1)
    parts = [kk[..., None] + tau[..., None] * mult]
    if metric == "signed":
        parts.append(-kk[..., None] + tau[..., None] * mult)
    if label:
        with np.errstate(divide="ignore", invalid="ignore"):
            tan = np.where(sth > 0, sth / cth, np.nan)
        parts.append(tan[..., None] * _LAB_BREAKS)
    if fixed:
        parts.append(np.broadcast_to(P_TAIL * _FRACS, k.shape + (len(_FRACS),)))
    br = np.concatenate(parts, axis=-1)
    return np.where(np.isfinite(br), br, np.nan)


def kept_fraction(rule: str, k, tau, metric: str, eta, cth, sth, f=None, n: int = 16):
    """``E[pi(m)]`` over the pool law at thresholds ``k`` (arrays broadcast)."""
    k, tau, eta, cth, sth = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in
                                                  (k, tau, eta, cth, sth)))
    if rule == "random":
        return np.broadcast_to(np.asarray(f, float), k.shape).astype(float)
    lo = np.zeros(k.shape)
    hi = np.full(k.shape, P_TAIL)
    x, w = panel_rule(lo, hi, p_breaks(k, tau, cth, sth, metric), n)
    w = 2.0 * w * normal_pdf(x)
    K, T = k[..., None], tau[..., None]
    pp = keep_prob(rule, x, K, T, 1.0)
    if metric == "abs":
        return np.sum(w * pp, axis=-1)
    pm = keep_prob(rule, -x, K, T, 1.0)
    lp = label_plus(x, cth[..., None], sth[..., None], eta[..., None])
    return np.sum(w * (lp * pp + (1.0 - lp) * pm), axis=-1)


def threshold(rule: str, f, tau, metric: str, eta, theta_rad, iters: int = 200):
    """Threshold ``k`` with ``E[pi] = f`` (vectorised bisection; arrays broadcast).

    ``random``: ``nan``. ``f = 1``: ``+inf`` (hard) or ``-inf`` (easy), ``pi = 1``. Sharp ``abs``
    (``tau = 0``): :func:`prunescale.theory.pruning.threshold`, exactly.
    """
    f, tau, eta, th = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in
                                            (f, tau, eta, theta_rad)))
    if rule == "random":
        return np.full(f.shape, np.nan)
    cth, sth = np.cos(th), np.sin(th)
    with np.errstate(divide="ignore"):
        lg = np.abs(np.log(f)) + np.abs(np.log1p(-np.minimum(f, 1.0 - 1e-300)))
    B = P_TAIL + 1.0 + tau * (60.0 + lg)
    lo, hi = -B, B.copy()
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        val = kept_fraction(rule, mid, tau, metric, eta, cth, sth)
        up = val < f if rule == "hard" else val > f  # hard: E[pi] increases with k
        lo = np.where(up, mid, lo)
        hi = np.where(up, hi, mid)
        if np.all(hi - lo <= 4e-16 * np.maximum(1.0, np.abs(mid))):
            break
    k = 0.5 * (lo + hi)
    k = np.where(f >= 1.0, np.inf if rule == "hard" else -np.inf, k)
    if metric == "abs":
        sharp = _pr.threshold(rule, f)
        k = np.where(tau == 0, sharp, k)
    return k
