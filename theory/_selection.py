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
* **Power policy** (``rule = "power"``, Kolossov, Montanari and Tandon 2023): ``pi(p) =
  min(c [sigma'(B p)]^A, 1)`` with ``sigma'(z) = sigma(z) (1 - sigma(z))``, exponent ``A``
  (``power_exp``; ``A > 0`` keeps small ``|p|``, the hard examples; ``A < 0`` the easy ones;
  ``A = 0`` is random) and probe scale ``B > 0`` (``probe_scale``). Label-free (``sigma'`` is
  even, so the metric is ``|p|``). The normaliser ``c`` solves ``E[pi] = f``; the policy keeps
  ``k = log c`` in the place of the threshold (:func:`threshold`).
* **Mixed policy** (``random_share = R`` in ``[0, 1]`` with ``hard`` or ``easy``, Ayed and Hayou
  2023): ``pi(m) = R f + (1 - R) pi_rule(m)``, ``pi_rule`` the rule's policy with the pure rule's
  threshold at the same ``f`` (so ``E[pi] = f`` again); ``R = 0`` is the rule, ``R = 1`` random.
* **Reweighting**: loss weights ``c = 1/pi(m)`` normalised to mean 1 over the kept law. For a
  policy with ``pi > 0`` everywhere (soft, power, or mixed with ``R > 0``) ``E_kept[1/pi] =
  1/f``, so ``c = f/pi``; for the sharp rules ``c = 1`` on the kept set (reweighting is a
  no-op), and for ``random`` ``c = 1``.

Numerics: ``E[pi](k)`` is a composite Gauss-Legendre rule on ``p in [0, T]`` (the pool law is
symmetric under ``(p, y) -> -(p, y)``, and ``m`` is invariant), split at ``+-k + tau j`` and at the
label switch; ``k`` is a vectorised bisection on a bracket where ``E[pi] - f`` changes sign
(monotone in ``k``), run to the resolution of float64. The power policy's ``E[pi](log c)`` is
split at the clipping point ``p*`` (where ``c sigma'(B p*)^A = 1``, :func:`power_clip`), around
it in units of ``1/(|A| B)`` and at multiples of the probe scale ``1/B``
(:func:`power_breaks`).
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, ndtr

from prunescale.errors import InputError
from prunescale.theory import pruning as _pr
from prunescale.theory._quadrature import normal_pdf, panel_rule

from prunescale.theory.pruning import (METRICS, SOFTNESS_MAX, check_metric,  # noqa: F401
                                       check_reweight, check_softness)

#: the policy-family parameters and their defaults (the sharp and sigmoid-soft rules)
FAMILY_DEFAULTS = {"power_exp": 0.0, "probe_scale": 1.0, "random_share": 0.0}
#: ``log sigma'(0) = -log 4``
_LS0 = -float(np.log(4.0))
#: pi below this is treated as 0 (a kept-law density below 1e-280 contributes nothing)
PI_FLOOR = 1e-280
#: multiples of tau around the threshold where the rule of p is split
_TAU_BREAKS = np.array([-32.0, -16.0, -8.0, -4.0, -2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 4.0,
                        8.0, 16.0, 32.0])
_LAB_BREAKS = np.array([0.3, 1.0, 3.0, 8.0])
_FRACS = np.array([0.03, 0.08, 0.15, 0.25, 0.38, 0.55, 0.75])
#: tail cut of p: phi(T) / phi(0) = exp(-40)
P_TAIL = float(np.sqrt(80.0))


def log_dsigmoid(z):
    """``log sigma'(z) = log(sigma(z) (1 - sigma(z))) = -|z| - 2 log(1 + exp(-|z|))`` (stable)."""
    z = np.abs(np.asarray(z, dtype=float))
    return -z - 2.0 * np.log1p(np.exp(-z))


def keep_prob(rule: str, m, k, tau, f, exp=0.0, scale=1.0, share=0.0):
    """``pi(m)`` of the policy (elementwise, broadcasting); numerically stable sigmoid.

    ``tau = 0`` is the step ``1{m <= k}`` (hard) or ``1{m >= k}`` (easy). ``power``:
    ``min(exp(k + A log sigma'(B m)), 1)`` with ``k = log c``, ``A = exp``, ``B = scale``
    (``m = |p|``). ``share = R``: ``R f + (1 - R) pi_rule(m)`` (``hard`` and ``easy``)."""
    m, k, tau, f = (np.asarray(a, dtype=float) for a in (m, k, tau, f))
    if rule == "random":
        return np.broadcast_to(f, np.broadcast_shapes(m.shape, f.shape)).astype(float)
    if rule == "power":
        exp, scale = np.asarray(exp, float), np.asarray(scale, float)
        with np.errstate(invalid="ignore", over="ignore"):
            # k = +inf (f = 1) keeps everything; A = 0 is the constant exp(k) = f
            e = k + np.where(exp == 0, 0.0, exp * log_dsigmoid(scale * m))
            return np.exp(np.minimum(e, 0.0))
    d = (k - m) if rule == "hard" else (m - k)
    soft = tau > 0
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        x = d / np.where(soft, tau, 1.0)
        # k = +-inf (f = 1): d = +inf everywhere; inf/tau = inf, expit(inf) = 1
        sig = expit(x)
    step = (d >= 0).astype(float)
    out = np.where(soft, sig, step)
    share = np.asarray(share, float)
    if np.any(share != 0):
        out = share * f + (1.0 - share) * out
    return out


def weighs_line(rule: str, tau, metric: str, exp=0.0, share=0.0, reweight: bool = False):
    """Where a point needs the policy machinery (the kept law ``phi(p) pi(m) / f`` on the whole
    line) rather than the sharp ``|p|`` range of :mod:`prunescale.theory.pruning`: soft or
    ``signed`` ``hard``/``easy`` rules, mixed rules (``share > 0``), every ``power`` policy;
    ``random`` only with ``reweight`` (the engines' own choice, kept here)."""
    tau, exp, share = np.broadcast_arrays(*(np.asarray(a, float) for a in (tau, exp, share)))
    if rule == "random":
        return np.full(tau.shape, bool(reweight))
    if rule == "power":
        return np.ones(tau.shape, bool)
    return (tau > 0) | (metric == "signed") | (share > 0)


def is_step(rule: str, tau, share=0.0) -> bool:
    """Whether ``pi`` is a step (sharp ``hard``/``easy`` with no random share): then the
    simulator keeps exactly ``round(f P_tot)`` by rank and reweighting is a no-op."""
    return (rule in ("hard", "easy") and not np.any(np.asarray(tau) > 0)
            and not np.any(np.asarray(share) > 0))


def weight_c(rule: str, pi, tau, f, share=0.0):
    """Reweighting loss weights ``c``: ``f/pi`` where ``pi > 0`` on the whole line (a soft
    policy, ``tau > 0``; every ``power`` policy; a mixed one, ``share > 0``), ``1`` for the
    sharp rules and ``random`` (where ``pi`` is a step or the constant ``f``)."""
    pi = np.asarray(pi, dtype=float)
    if rule == "random":
        return np.ones_like(pi)
    tau = np.asarray(tau, dtype=float)
    f = np.asarray(f, dtype=float)
    soft = (tau > 0) | (np.asarray(share, float) > 0) | (rule == "power")
    with np.errstate(divide="ignore", invalid="ignore"):
        c = np.where(soft & (pi > PI_FLOOR), f / np.where(pi > PI_FLOOR, pi, 1.0), 1.0)
    return c


def label_plus(p, cth, sth, eta):
    """``P(y = +1 | p)`` under the pool law: ``t | p ~ N(c p, s^2)``, flip probability ``eta``
    (or ``eta`` a label channel, :mod:`prunescale.theory.labels`: ``E[A(t) | p]`` of its
    symmetrised form, which is all a label-aware policy of an odd student sees)."""
    from prunescale.theory.labels import Channel

    if isinstance(eta, Channel):
        p, cth, sth = (np.asarray(a, dtype=float) for a in (p, cth, sth))
        return eta.mean_odd_agree(cth * p, sth)
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


#: offsets (units of the clip width ``1/(|A| B)``) around the power policy's clipping point
_CLIP_BREAKS = np.array([-64.0, -32.0, -16.0, -8.0, -4.0, -2.0, -1.0, 0.0, 1.0, 2.0, 4.0, 8.0,
                         16.0, 32.0, 64.0])
#: multiples of ``1/(|A| B)`` and of ``1/B`` from ``p = 0`` where the power policy is split
_SLOPE_BREAKS = np.array([1.0, 2.0, 4.0, 8.0, 16.0])
_SCALE_BREAKS = 2.0 ** np.arange(-6.0, 4.0)


def power_clip(k, exp, scale):
    """The clipping point ``p* >= 0`` of the power policy, where ``k + A log sigma'(B p*) = 0``
    (``nan`` where ``pi < 1`` everywhere or ``pi = 1`` everywhere). With ``q = exp(L)``,
    ``L = -k/A``: ``sigma'(z) = q`` at ``z = 2 log(1 + sqrt(1 - 4q)) - log 4 - L``."""
    k, exp, scale = np.broadcast_arrays(*(np.asarray(a, float) for a in (k, exp, scale)))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        L = -k / exp
        ok = np.isfinite(L) & (L < _LS0) & (exp != 0)
        Ls = np.where(ok, L, 2.0 * _LS0)
        s = np.sqrt(-np.expm1(np.log(4.0) + Ls))
        z = 2.0 * np.log1p(s) + _LS0 - Ls
        return np.where(ok, z / scale, np.nan)


def power_breaks(k, exp, scale):
    """Split points on ``p >= 0`` of the power policy: the clipping point ``p*`` and offsets
    of ``1/(|A| B)`` around it (the kink of the ``min``; beyond it ``pi`` changes over
    ``1/(|A| B)``), the same multiples from ``p = 0`` (where ``pi`` decays like
    ``exp(-|A| B p)``) and powers of two of ``1/B`` (the probe scale, where ``log sigma'``
    turns from quadratic to linear)."""
    k, exp, scale = np.broadcast_arrays(*(np.asarray(a, float) for a in (k, exp, scale)))
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(exp != 0, 1.0 / (np.abs(exp) * scale), np.nan)
    clip = power_clip(k, exp, scale)
    br = np.concatenate([clip[..., None] + w[..., None] * _CLIP_BREAKS,
                         w[..., None] * _SLOPE_BREAKS,
                         (1.0 / scale)[..., None] * _SCALE_BREAKS], axis=-1)
    return np.where(np.isfinite(br), br, np.nan)


def kept_fraction(rule: str, k, tau, metric: str, eta, cth, sth, f=None, n: int = 16,
                  exp=0.0, scale=1.0, share=0.0):
    """``E[pi(m)]`` over the pool law at thresholds ``k`` (arrays broadcast; ``power``: at
    ``k = log c``; ``share`` needs ``f``; ``eta`` may be a label channel)."""
    from prunescale.theory.labels import Channel

    ch = eta if isinstance(eta, Channel) else None
    eta = 0.0 if ch is not None else eta
    k, tau, eta, cth, sth, exp, scale, share = np.broadcast_arrays(
        *(np.asarray(a, dtype=float) for a in (k, tau, eta, cth, sth, exp, scale, share)))
    if rule == "random":
        return np.broadcast_to(np.asarray(f, float), k.shape).astype(float)
    lo = np.zeros(k.shape)
    hi = np.full(k.shape, P_TAIL)
    if rule == "power":
        br = np.concatenate([power_breaks(k, exp, scale),
                             np.broadcast_to(P_TAIL * _FRACS, k.shape + (len(_FRACS),))], -1)
        x, w = panel_rule(lo, hi, br, n)
        w = 2.0 * w * normal_pdf(x)
        return np.sum(w * keep_prob(rule, x, k[..., None], 0.0, 1.0, exp[..., None],
                                    scale[..., None]), axis=-1)
    if np.any(share != 0):
        pure = kept_fraction(rule, k, tau, metric, eta if ch is None else ch, cth, sth, n=n)
        return share * np.asarray(f, float) + (1.0 - share) * pure
    x, w = panel_rule(lo, hi, p_breaks(k, tau, cth, sth, metric), n)
    w = 2.0 * w * normal_pdf(x)
    K, T = k[..., None], tau[..., None]
    pp = keep_prob(rule, x, K, T, 1.0)
    if metric == "abs":
        return np.sum(w * pp, axis=-1)
    pm = keep_prob(rule, -x, K, T, 1.0)
    lp = label_plus(x, cth[..., None], sth[..., None], eta[..., None] if ch is None else ch)
    return np.sum(w * (lp * pp + (1.0 - lp) * pm), axis=-1)


def threshold(rule: str, f, tau, metric: str, eta, theta_rad, iters: int = 200, exp=0.0,
              scale=1.0):
    """Threshold ``k`` with ``E[pi] = f`` (vectorised bisection; arrays broadcast).

    ``random``: ``nan``. ``f = 1``: ``+inf`` (hard) or ``-inf`` (easy), ``pi = 1``. Sharp ``abs``
    (``tau = 0``): :func:`prunescale.theory.pruning.threshold`, exactly. ``power``: ``log c``
    (:func:`power_log_c`). A mixed policy uses the pure rule's ``k`` (``E[pi] = f`` for every
    random share), so the share does not enter.
    """
    if rule == "power":
        return power_log_c(f, exp, scale, iters)
    from prunescale.theory.labels import Channel

    ch = eta if isinstance(eta, Channel) else None
    f, tau, eta, th = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in
                                            (f, tau, 0.0 if ch else eta, theta_rad)))
    if rule == "random":
        return np.full(f.shape, np.nan)
    # f = 1 keeps everything (k = +-inf); only the others are bisected, so that their
    # infinite bracket does not hold the whole batch to the iteration limit
    k = np.full(f.shape, np.inf if rule == "hard" else -np.inf)
    live = f < 1.0
    if live.any():
        fl, tl, el, tv = f[live], tau[live], eta[live], th[live]
        cth, sth = np.cos(tv), np.sin(tv)
        with np.errstate(divide="ignore"):
            lg = np.abs(np.log(fl)) + np.abs(np.log1p(-fl))
        B = P_TAIL + 1.0 + tl * (60.0 + lg)
        lo, hi = -B, B.copy()
        for _ in range(iters):
            mid = 0.5 * (lo + hi)
            val = kept_fraction(rule, mid, tl, metric, el if ch is None else ch, cth, sth)
            up = val < fl if rule == "hard" else val > fl  # hard: E[pi] increases with k
            lo = np.where(up, mid, lo)
            hi = np.where(up, hi, mid)
            if np.all(hi - lo <= 4e-16 * np.maximum(1.0, np.abs(mid))):
                break
        k[live] = 0.5 * (lo + hi)
    if metric == "abs":
        sharp = _pr.threshold(rule, f)
        k = np.where(tau == 0, sharp, k)
    return k


def power_log_c(f, exp, scale, iters: int = 400):
    """``log c`` of the power policy: ``E[min(c sigma'(B p)^A, 1)] = f``, ``p ~ N(0, 1)``
    (vectorised bisection; arrays broadcast). ``A = 0``: ``log f`` exactly; ``f = 1``: ``+inf``.

    Bracket, with ``u = log c + A log sigma'(0)`` (``pi(0) = min(e^u, 1)``) and ``s = |A| B``:
    ``A > 0``: ``pi <= e^u`` and ``pi = 1`` on ``|p| <= u/s``, so ``u`` lies in
    ``[log f, s (g + 1) + 1]`` (``g`` the sharp hard threshold); ``A < 0``: ``pi >= min(e^u, 1)``
    and ``E[e^(u + s |p|)] <= 2 e^(u + s^2/2)``, so ``u`` lies in
    ``[log f - s^2/2 - log 2 - 1, log f]``."""
    f, exp, scale = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (f, exp, scale)))
    with np.errstate(divide="ignore"):
        lf = np.log(f)
    s = np.abs(exp) * scale
    g = np.nan_to_num(_pr.threshold("hard", np.minimum(f, 0.999999)))
    pos = exp > 0
    lo = np.where(pos, lf, lf - 0.5 * s * s - np.log(2.0) - 1.0) - exp * _LS0
    hi = np.where(pos, s * (g + 1.0) + 1.0, lf) - exp * _LS0
    z = np.zeros(f.shape)
    live = (exp != 0) & (f < 1.0)
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        val = kept_fraction("power", mid, z, "abs", z, z + 1.0, z, exp=exp, scale=scale)
        up = val < f
        lo = np.where(up, mid, lo)
        hi = np.where(up, hi, mid)
        if np.all(~live | (hi - lo <= 4e-16 * np.maximum(1.0, np.abs(mid)))):
            break
    k = 0.5 * (lo + hi)
    k = np.where(exp == 0, lf, k)
    return np.where(f >= 1.0, np.inf, k)
