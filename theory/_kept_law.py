"""Quadrature nodes of the pruned (kept) law, adapted to the current solution.

``theta = 0``: one variable ``x = |t|`` on the kept range ``[lo, hi]`` with density
``2 phi(x) / f``; ``y t = x``. The positive part ``(k - R x)_+`` smoothed by ``b z`` changes over
a width ``b / R`` around ``x = k / R``; the panels are split there.

``theta > 0``: by the symmetry ``(t_p, v) -> (-t_p, -v)`` (which leaves ``y t`` and ``y u``
unchanged) only ``t_p >= 0`` is integrated, with density ``2 phi(t_p) / f`` on the kept range;
``t = cos(theta) t_p - sin(theta) v`` and ``u = sin(theta) t_p + cos(theta) v``. For each ``t_p``
node the orthogonal field ``v ~ N(0, 1)`` is integrated *exactly* on each side of the label flip
``v0 = t_p cot(theta)`` (:class:`theory._equations.ProbeNodes`). What is left to the ``t_p``
quadrature is smooth except near three features, where the panels are split:

* the smoothed kink at ``t_p = k / |c1|`` (of the ``y = +1`` side if ``c1 > 0``, else of the
  ``y = -1`` side; width ``sqrt(b^2 + c2^2) / |c1|``, with ``c1 = R cos + S sin`` and
  ``c2 = S cos - R sin``);
* the corner where the label flip meets the margin: at the flip line ``t = 0`` the field is
  ``y S t_p / sin(theta)``, so one side's kink reaches the flip at ``t_p = k sin(theta) / |S|``
  (width ``b sin(theta) / |S|``);
* the fraction of flipped labels ``Phi(-t_p cot(theta))``, which changes over ``tan(theta)``.

:func:`nodes_theta_tensor` keeps the plain two-dimensional rule (Gauss-Legendre in ``v`` too)
as an independent check of the closed form.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from prunescale.theory._equations import Nodes, ProbeNodes
from prunescale.theory._quadrature import normal_pdf, panel_rule, panels


@dataclasses.dataclass(frozen=True)
class Quadrature:
    """Quadrature resolution.

    Attributes:
        n: Gauss-Legendre nodes per panel in the probe field ``t_p`` (or ``|t|``).
        n_v: nodes per panel in the orthogonal field ``v`` (only for the two-dimensional check
            rule :func:`nodes_theta_tensor`; the solver integrates ``v`` exactly).
        tail: the Gaussian tail beyond ``lo + tail`` is dropped (``phi(12) ~ 5e-32``).
        v_max: ``v`` is integrated over ``[-v_max, v_max]`` (check rule only).
    """

    n: int = 16
    n_v: int = 10
    tail: float = 12.0
    v_max: float = 10.0

    def refined(self, factor: int = 2) -> "Quadrature":
        """The same rule with ``factor`` times more nodes per panel."""
        return dataclasses.replace(self, n=self.n * factor, n_v=self.n_v * factor)


#: Split points around a smoothed kink, in units of its width: the transition region
#: ``|w| < 2`` and its tails to ``|w| = 8`` (``Phi(-8) ~ 6e-16``) get panels of their own.
_KINK_OFFSETS = np.array([-8.0, -2.0, 0.0, 2.0, 8.0])
_SHORT_OFFSETS = np.array([-6.0, 0.0, 6.0])
#: Static split points of the ``v`` integral (a standard normal variable; check rule only).
_V_BREAKS = np.array([-4.0, -1.5, 1.5, 4.0])
#: Static split points (offsets from ``lo``) that keep long Gaussian-tail panels accurate.
_TAIL_BREAKS = np.array([1.5, 3.0, 5.0])
#: Split points of the flipped-label fraction ``Phi(-t_p cot(theta))``, in units of ``tan``.
_FLIP_BREAKS = np.array([1.0, 3.0])


def _kink_breaks(center, width, offsets=None):
    """``center + width * offsets``; ``nan`` (no panel) where the feature is undefined."""
    offsets = _KINK_OFFSETS if offsets is None else offsets
    ok = np.isfinite(center) & np.isfinite(width) & (width > 0)
    center = np.where(ok, center, np.nan)
    width = np.where(ok, width, 1.0)
    return center[..., None] + width[..., None] * offsets


def _density_weights(x, w, f):
    return w * (2.0 * normal_pdf(x) / f)


@dataclasses.dataclass(frozen=True)
class Policy:
    """A selection policy's keep probability ``pi(m)`` on the nodes (``docs/erm.md`` section 7):
    ``rule``, per-point threshold ``k`` (``log c`` for ``power``) and softness ``tau``, and the
    metric (``"abs"``: ``m = |t_p|``; ``"signed"``: ``m = y' t_p`` with ``y'`` the observed
    label); the family parameters ``exp`` (``A``) and ``scale`` (``B``) of the power policy,
    ``share`` (``R``) of a mixed one and the kept fraction ``f`` (``None``: the defaults). The
    kept law is ``phi(t_p) pi(m) / f`` on the whole line instead of a range. The engines see a
    policy only through :meth:`pi`, :meth:`breaks` and :meth:`weights`: every family is written
    once, in :mod:`prunescale.theory._selection`."""

    rule: str
    k: np.ndarray
    tau: np.ndarray
    metric: str
    exp: np.ndarray | None = None
    scale: np.ndarray | None = None
    share: np.ndarray | None = None
    f: np.ndarray | None = None

    @classmethod
    def of(cls, rule, f, tau, metric, eta, theta_rad, exp=None, scale=None,
           share=None) -> "Policy":
        """The policy at fractions ``f`` (arrays of one shape), its threshold (or ``log c``)
        from :func:`prunescale.theory._selection.threshold`."""
        from prunescale.theory._selection import FAMILY_DEFAULTS, threshold

        f = np.asarray(f, float)

        def arr(x, name):
            return np.broadcast_to(np.asarray(FAMILY_DEFAULTS[name] if x is None else x,
                                              float), f.shape).copy()

        exp, scale, share = (arr(exp, "power_exp"), arr(scale, "probe_scale"),
                             arr(share, "random_share"))
        tau = arr(tau, "power_exp")  # (default 0, like the exponent)
        k = threshold(rule, f, tau, metric, eta, theta_rad, exp=exp, scale=scale)
        return cls(rule, np.asarray(k, float), tau, metric, exp, scale, share, f.copy())

    def take(self, idx) -> "Policy":
        def t(a):
            return None if a is None else a[idx]

        return Policy(self.rule, self.k[idx], self.tau[idx], self.metric, t(self.exp),
                      t(self.scale), t(self.share), t(self.f))

    def _fam(self, owner):
        def g(a, d):
            return d if a is None else a[owner]

        return dict(exp=g(self.exp, 0.0), scale=g(self.scale, 1.0), share=g(self.share, 0.0))

    def pi(self, m, owner):
        from prunescale.theory._selection import keep_prob

        f = 1.0 if self.f is None else self.f[owner]
        return keep_prob(self.rule, m, self.k[owner], self.tau[owner], f, **self._fam(owner))

    def weights(self, pi, owner):
        """Loss weights ``c(m)`` of a reweighted policy (``f/pi`` where ``pi > 0`` on the
        whole line, else 1), :func:`prunescale.theory._selection.weight_c`."""
        from prunescale.theory._selection import weight_c

        f = 1.0 if self.f is None else self.f[owner]
        return weight_c(self.rule, pi, self.tau[owner], f,
                        0.0 if self.share is None else self.share[owner])

    @property
    def step(self) -> bool:
        """Whether ``pi`` is a step in ``m`` (sharp ``hard``/``easy``, no random share)."""
        from prunescale.theory._selection import is_step

        return is_step(self.rule, self.tau, 0.0 if self.share is None else self.share)

    def breaks(self, cth, sth):
        from prunescale.theory._selection import p_breaks, power_breaks

        if self.rule == "power":
            return power_breaks(self.k, self.exp, self.scale)
        return p_breaks(self.k, self.tau, cth, sth, self.metric, label=False, fixed=False)


def nodes_theta0(lo, hi, f, R, b, k, quad: Quadrature, eta=None, policy=None,
                 channel=None) -> Nodes:
    """Nodes for ``theta = 0`` (``f`` is the normalisation: 1 for random pruning).

    With label noise ``eta`` (flip probability per point, or ``None``) every node ``x = |t|``
    appears twice: ``X1 = x`` with weight ``(1 - eta) W`` (label kept) and ``X1 = -x`` with
    weight ``eta W`` (label flipped, ``y' t = -|t|``); the flipped copy's kink sits at
    ``x = -k / R`` and gets panels of its own where it reaches the kept range.

    ``channel``: a label channel whose agreement ``a(x)`` varies with ``x = |t|``
    (:mod:`prunescale.theory.labels`): the same two copies with node weights ``a(x) W`` and
    ``(1 - a(x)) W``, the panels split at the channel's jumps (or its scale ``1 / beta``).
    """
    hi = np.minimum(hi, lo + quad.tail)
    b = np.abs(b)
    with np.errstate(divide="ignore", invalid="ignore"):
        center = np.where(R > 0, k / R, np.inf)
        width = b / R
    parts = [_kink_breaks(center, width), lo[:, None] + _TAIL_BREAKS]
    noisy = (eta is not None and np.any(np.asarray(eta) > 0)) or channel is not None
    if channel is not None:
        cb = channel.s_breaks()
        parts.append(np.broadcast_to(cb, (len(lo), len(cb))))
    if noisy or policy is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            parts.append(_kink_breaks(np.where(R > 0, -k / R, np.nan), width))
    if policy is not None:
        parts.append(policy.breaks(np.ones_like(R), np.zeros_like(R)))
    pn = panels(lo, hi, np.concatenate(parts, -1), quad.n)
    W = _density_weights(pn.x, pn.w, f[pn.owner])
    if not noisy and policy is None:
        return Nodes(X1=pn.x, X2=None, W=W, owner=pn.owner, starts=pn.starts)
    if channel is not None:
        e = 1.0 - channel.agree(pn.x)
    else:
        e = np.asarray(eta, float)[pn.owner] if noisy else np.zeros_like(W)
    W_kept, W_flip = (1.0 - e) * W, e * W
    if policy is not None:  # the observed label is sign(t) (m = |t|) or flipped (m = -|t|)
        W_kept = W_kept * policy.pi(pn.x, pn.owner)
        W_flip = W_flip * policy.pi(pn.x if policy.metric == "abs" else -pn.x, pn.owner)
    return Nodes(X1=np.stack([pn.x, -pn.x], -1).ravel(), X2=None,
                 W=np.stack([W_kept, W_flip], -1).ravel(),
                 owner=np.repeat(pn.owner, 2), starts=2 * pn.starts)


def nodes_theta(lo, hi, f, theta, R, S, b, k, quad: Quadrature, eta=None,
                policy=None, channel=None) -> ProbeNodes:
    """Nodes for ``theta > 0``: ``t_p`` panels, ``v`` exact (see the module docstring).

    ``eta``: label-flip probability per point (``None``: noiseless). A flipped side's kink and
    corner sit at the same ``t_p`` as the unflipped side's of the other label, so the panels
    are the same. ``channel``: a label channel with a varying agreement ``a(|t|)``
    (:func:`theory._equations._channel_sum`); a smooth one gets a Gauss-Legendre rule in
    ``sigma = |t|`` (``quad.n // 2`` nodes per panel, split at the channel's scale and at
    multiples of ``sin(theta)``), weighted by ``a'(sigma)``.
    """
    hi = np.minimum(hi, lo + quad.tail)
    b = np.abs(b)
    c, s = np.cos(theta), np.sin(theta)
    c1 = R * c + S * s
    c2 = S * c - R * s
    with np.errstate(divide="ignore", invalid="ignore"):
        kink = np.where(c1 != 0, k / np.abs(c1), np.nan)
        corner = np.where(S != 0, k * s / np.abs(S), np.nan)
        breaks = np.concatenate(
            [
                _kink_breaks(kink, np.hypot(b, c2) / np.abs(c1)),
                _kink_breaks(corner, b * s / np.abs(S), _SHORT_OFFSETS),
                lo[:, None] + _TAIL_BREAKS,
                np.tan(theta)[:, None] * _FLIP_BREAKS,
            ],
            -1,
        )
    if policy is not None:
        breaks = np.concatenate([breaks, policy.breaks(c, s)], -1)
    j = None if channel is None else channel.jumps()
    if j is not None and len(j[1]):  # a jump of a(|t|) at |t| = e crosses t_p = e / cos
        breaks = np.concatenate([breaks] + [_kink_breaks(e / c, s / c, _SHORT_OFFSETS)
                                            for e in j[1]], -1)
    pn = panels(lo, hi, breaks, quad.n)
    o = pn.owner
    noisy = eta is not None and np.any(np.asarray(eta) > 0)
    W = _density_weights(pn.x, pn.w, f[o])
    pi_pm = None
    if policy is not None and policy.metric == "abs":
        W = W * policy.pi(pn.x, o)
    elif policy is not None:  # signed: the weight depends on the observed label
        pi_pm = (policy.pi(pn.x, o), policy.pi(-pn.x, o))
    sig = None
    if channel is not None and channel.jumps() is None:
        so = s[o]
        smax = channel.S_MAX * channel.scale()
        cb = channel.s_breaks()
        br = np.concatenate([np.broadcast_to(cb, (len(so), len(cb))),
                             so[:, None] * np.array([0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0])],
                            -1)
        sg, wg = panel_rule(np.zeros(len(so)), np.full(len(so), smax), br,
                            max(4, quad.n // 2))
        sig = (sg, wg * channel.derivative(sg))
    return ProbeNodes(tp=pn.x, W=W, cos=c[o], sin=s[o],
                      owner=o, starts=pn.starts, quad_v=(quad.n_v, quad.v_max),
                      eta=np.asarray(eta, float)[o] if noisy else None, pi_pm=pi_pm,
                      channel=channel, sig=sig)


def nodes_theta_tensor(lo, hi, f, theta, R, S, b, k, quad: Quadrature) -> Nodes:
    """Two-dimensional tensor rule for ``theta > 0`` (an independent check of the closed form).

    ``t_p`` panels as in :func:`nodes_theta`; for each ``t_p`` node, ``v`` is integrated by
    Gauss-Legendre against the Gaussian weight on ``[-v_max, v_max]``, piecewise on each side of
    the label flip ``v0`` and split again around the kink of each side's positive part.
    """
    hi = np.minimum(hi, lo + quad.tail)
    c, s = np.cos(theta), np.sin(theta)
    c1 = R * c + S * s  # y (R t + S u) = y (c1 t_p + c2 v)
    c2 = S * c - R * s
    with np.errstate(divide="ignore", invalid="ignore"):
        tbreaks = np.concatenate(
            [
                _kink_breaks(np.where(c1 > 0, k / c1, np.nan), np.hypot(b, c2) / c1,
                             _SHORT_OFFSETS),
                lo[:, None] + _TAIL_BREAKS,
                np.tan(theta)[:, None] * _FLIP_BREAKS,
            ],
            -1,
        )
    tp, wt = panel_rule(lo, hi, tbreaks, quad.n)  # [n, Mt]
    wt = _density_weights(tp, wt, f[:, None])
    V = quad.v_max
    v0 = np.clip(tp / np.tan(theta)[:, None], -V, V)
    C1, C2, K, B = (z[:, None] for z in (c1, c2, k, b))
    with np.errstate(divide="ignore", invalid="ignore"):
        # y = +1 side (v < v0): a = k - c1 t_p - c2 v ; y = -1 side: a = k + c1 t_p + c2 v.
        # A smoothed kink wider than the static panels needs no panels of its own.
        vwidth = np.abs(B / C2) * np.ones_like(v0)
        vwidth = np.where(vwidth < 1.0, vwidth, np.nan)
        kink_plus = np.where(v0 > (K - C1 * tp) / C2, (K - C1 * tp) / C2, np.nan)
        kink_minus = np.where(v0 < -(K + C1 * tp) / C2, -(K + C1 * tp) / C2, np.nan)
    vbreaks = np.concatenate(
        [
            v0[..., None],
            np.broadcast_to(_V_BREAKS, v0.shape + _V_BREAKS.shape),
            _kink_breaks(kink_plus, vwidth, _SHORT_OFFSETS),
            _kink_breaks(kink_minus, vwidth, _SHORT_OFFSETS),
        ],
        -1,
    )
    v, wv = panel_rule(np.full_like(v0, -V), np.full_like(v0, V), vbreaks, quad.n_v)
    wv = wv * normal_pdf(v)
    y = np.where(v < v0[..., None], 1.0, -1.0)
    cth, sth = c[:, None, None], s[:, None, None]
    TP = tp[..., None]
    n = len(R)
    X1 = (y * (cth * TP - sth * v)).reshape(n, -1)
    m = X1.shape[1]
    return Nodes(X1=X1.ravel(), X2=(y * (sth * TP + cth * v)).ravel(),
                 W=(wt[..., None] * wv).ravel(), owner=np.repeat(np.arange(n), m),
                 starts=np.arange(n) * m)
