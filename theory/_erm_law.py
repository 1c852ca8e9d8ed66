"""Expectations over the kept data law of the ERM fixed point (``docs/erm.md`` section 3).

Coordinates (the span of teacher ``e1`` and probe): ``p`` the probe's field, ``r`` the field
along the probe-orthogonal direction of the span; before selection ``p, r ~ N(0, 1)``
independent, and ``t = c p - s_th r`` (teacher), ``u = s_th p + c r`` (the second axis ``e2``),
``c = cos(theta)``, ``s_th = sin(theta)``. Pruning keeps ``|p|`` in ``[lo, hi]``; labels are
``y = sign(t)`` flipped with probability ``eta``. A student ``(m, s, tau)`` has the
pre-activation field

.. math::  \\omega = m t + s u + \\tau \\xi = A p + B r + \\tau \\xi,
           \\quad A = m c + s s_\\theta, \\ B = -m s_\\theta + s c,

with ``xi ~ N(0, 1)``. Given ``p``, ``omega = A p + D z`` with ``z ~ N(0, 1)`` and
``D^2 = B^2 + tau^2``; given ``(p, z)`` the remaining Gaussian ``eta' ~ N(0, 1)`` enters as
``r = B z/D + (tau/D) eta'``, ``xi = tau z/D - (B/D) eta'``, and the clean label is
``t > 0 <=> eta' < k``, ``k = (c p D - s_th B z)/(s_th tau)`` (``k = +inf`` at ``theta = 0``,
``p > 0``). Hence ``P(y = +1 | p, z) = (1 - eta) Phi(k) + eta Phi(-k)`` and
``E[eta' 1{y = +-1} | p, z] = -+(1 - 2 eta) phi(k)`` in closed form.

The expectations are a 2-d composite Gauss-Legendre rule in ``(p, z)``: ``p`` over the kept
half-range ``[lo, hi]`` (the law is symmetric under ``(p, r, xi, y) -> -(p, r, xi, y)`` and every
needed expectation is even), split where the integrand bends (the smoothed hinge kinks at
``p = omega_k / A``, the label switch near ``p = 0``, the logistic scale ``1/|A|``); ``z`` over
``[-z_max, z_max]`` split at fixed Gaussian panels, at the hinge kinks ``omega in {+-1,
+-(1 - V)}`` and around the label switch ``k = 0``. Weights are positive and normalised, so the
rule is an exact expectation under a discrete mixture law (what the certificate relies on).
"""

from __future__ import annotations

import dataclasses
import threading

import numpy as np
from scipy.special import ndtr

from prunescale.theory import _selection as _sel
from prunescale.theory._erm_prox import prox
from prunescale.theory._quadrature import bvn_cdf, gauss_legendre, normal_pdf, panel_rule
from prunescale.errors import InputError

#: fixed z panel edges (standard normal variable)
_Z_EDGES = np.array([-6.0, -4.0, -2.5, -1.2, 0.0, 1.2, 2.5, 4.0, 6.0])
#: fixed p panel edges as fractions of the kept half-range
_P_FRACS = np.array([0.03, 0.08, 0.15, 0.25, 0.38, 0.55, 0.75])
#: tail cut of an unbounded kept range: phi(lo + L) / phi(lo) = exp(-40)
_TAIL_EXP = 40.0


@dataclasses.dataclass(frozen=True)
class ErmQuadrature:
    """Resolution of the ``(p, z)`` rule: Gauss-Legendre nodes per panel and the z cut-off.

    :meth:`refined` doubles both node counts and adds 1 to ``z_max`` (the certificate is
    repeated there), so a rule is accepted only where its refined rule is valid too:
    ``n_p, n_z`` in ``[2, 32]`` and ``z_max`` in ``[6, 11]`` (refined: up to 64 and 12).
    """

    n_p: int = 8
    n_z: int = 8
    z_max: float = 9.0

    #: limits of a rule that can still be refined (``refined()`` doubles and adds 1)
    _N_MAX, _Z_MAX = 32, 11.0

    def __post_init__(self):
        for name in ("n_p", "n_z"):
            v = getattr(self, name)
            if (not isinstance(v, (int, np.integer)) or isinstance(v, bool)
                    or not 2 <= v <= self._N_MAX):
                raise InputError(f"{name} must be an integer in [2, {self._N_MAX}] (the "
                                 f"certificate's refined rule doubles it); got {v!r}")
        z = self.z_max
        if (not isinstance(z, (int, float, np.integer, np.floating)) or isinstance(z, bool)
                or not 6.0 <= z <= self._Z_MAX):
            raise InputError(f"z_max must be a number in [6, {self._Z_MAX:g}] (the certificate's "
                             f"refined rule adds 1); got {z!r}")

    def refined(self) -> "ErmQuadrature":
        """The certificate's second rule: node counts doubled, ``z_max + 1``."""
        return _RefinedErmQuadrature(n_p=2 * self.n_p, n_z=2 * self.n_z, z_max=self.z_max + 1.0)


@dataclasses.dataclass(frozen=True)
class _RefinedErmQuadrature(ErmQuadrature):
    """A refined rule (:meth:`ErmQuadrature.refined`): node counts up to 64, ``z_max`` up to 12.
    Refining it again is refused by the same check once a count would pass 64."""

    _N_MAX, _Z_MAX = 64, 12.0


@dataclasses.dataclass
class Points:
    """Static description of a flat batch of points (arrays of shape ``[G]``)."""

    learner: str
    lo: np.ndarray
    hi: np.ndarray
    c: np.ndarray
    sn: np.ndarray
    eta: np.ndarray
    alpha: np.ndarray
    lam: np.ndarray
    #: selection policy (``docs/erm.md`` section 7): ``""`` is the sharp ``|p|`` rule on
    #: ``[lo, hi]`` (no weights); ``"hard"``, ``"easy"`` or ``"random"`` a policy ``pi(m)`` on
    #: ``p in [0, T]`` with thresholds ``k``, softness ``tau`` and kept fraction ``f``
    policy: str = ""
    metric: str = "abs"
    reweight: bool = False
    k: np.ndarray | None = None
    tau: np.ndarray | None = None
    f: np.ndarray | None = None
    #: the policy's ``pi``, split points and weights (:class:`theory._kept_law.Policy`)
    kept: object = None
    #: a label channel other than a constant flip (:mod:`prunescale.theory.labels`; then
    #: ``eta = 0``): only the general ``(p, z)`` rule takes it (:func:`label_law`)
    labels: object = None
    #: the penalty's weight ``1/(1+S)`` on the teacher component in whitened coordinates
    #: (spiked inputs, :mod:`prunescale.theory.spiked`; ``None``: ``1``, isotropic)
    tw: np.ndarray | None = None
    #: a covariance spectrum (:mod:`prunescale.theory.spectrum`): ``(lambda_k, u_k^2,
    #: E[e_k^2])``, shared by every point of the batch; ``None``: isotropic (or spiked)
    spec: tuple | None = None

    def take(self, idx) -> "Points":
        sel = {k: (None if getattr(self, k) is None else getattr(self, k)[idx])
               for k in ("k", "tau", "f", "tw")}
        sel["kept"] = None if self.kept is None else self.kept.take(idx)
        return Points(self.learner, *(getattr(self, k)[idx] for k in
                                       ("lo", "hi", "c", "sn", "eta", "alpha", "lam")),
                      policy=self.policy, metric=self.metric, reweight=self.reweight,
                      labels=self.labels, spec=self.spec, **sel)

    @property
    def size(self) -> int:
        return self.lo.size

    @property
    def lam_m(self) -> np.ndarray:
        """The penalty on the teacher overlap ``m``: ``lam / (1 + S)`` (``lam`` at ``S = 0``)."""
        return self.lam if self.tw is None else self.lam * self.tw


def n_p_panels(learner: str, policy: bool = False) -> int:
    return len(_P_FRACS) + 1 + 4 + (10 if learner == "hinge" else 0) + (
        6 if learner == "logistic" else 0) + (2 * len(_sel._TAU_BREAKS) if policy else 0)


def n_z_panels(learner: str, policy: bool = False) -> int:
    return len(_Z_EDGES) + 1 + 5 + (4 if learner == "hinge" else 0) + (
        7 if learner == "logistic" else 0) + (2 if learner == "hinge" and policy else 0)


def ridge_closed(pts: Points) -> bool:
    """Whether the points take the ridge rule of :func:`_moments_ridge` (ridge at ``theta >
    0``, sharp rules and policies alike: ``f`` is affine in ``z``, so the ``z`` integral
    against the label's probit weight is closed-form)."""
    return pts.learner == "ridge" and bool(np.any(pts.sn > 0)) and pts.labels is None


def analytic_z(pts: Points) -> bool:
    """Whether the z integral is done in closed form (ridge and hinge at theta = 0, sharp
    rules and selection policies alike: given ``p`` the label, ``pi`` and the loss weight
    ``c`` are fixed, and ``omega`` is Gaussian)."""
    return (pts.learner in ("ridge", "hinge") and not np.any(pts.sn > 0)
            and pts.labels is None)


def sharp_signed(pts: Points) -> bool:
    """Whether the points are a sharp (``tau = 0``) label-aware policy: at ``theta = 0`` each
    observed label then keeps an interval of ``p`` (:func:`_label_ranges`)."""
    return (pts.policy in ("hard", "easy") and pts.metric == "signed"
            and pts.tau is not None and pts.kept.step)


def omega_kernel(pts: Points) -> bool:
    """Whether the p integral is folded into a closed-form kernel in omega (logistic at
    theta = 0, sharp rules), leaving a 1-d rule in omega."""
    return (pts.learner == "logistic" and not np.any(pts.sn > 0) and pts.labels is None
            and (not pts.policy or sharp_signed(pts)))


def _label_ranges(pts: Points):
    """Per observed label ``y = +-1`` at ``theta = 0``: the kept interval ``[lo_y, hi_y]`` of
    ``p >= 0`` and the label's weight in the kept law, ``w_y = P(y) mass_y / sum``.

    The sharp ``|p|`` rule keeps ``[lo, hi]`` for both labels (``w = 1 - eta, eta``). A sharp
    label-aware policy with threshold ``k`` keeps, with ``m = y p``: hard ``m <= k``, i.e.
    ``p <= k`` (``y = +1``) and ``p >= -k`` (``y = -1``); easy ``m >= k``, i.e. ``p >= k`` and
    ``p <= -k``; ``mass_y = Phi(hi_y) - Phi(lo_y)``."""
    eta = pts.eta
    if not sharp_signed(pts):
        return [(1.0, pts.lo, pts.hi, 1.0 - eta), (-1.0, pts.lo, pts.hi, eta)]
    top = np.full_like(pts.k, np.inf)
    kp, km = np.maximum(pts.k, 0.0), np.maximum(-pts.k, 0.0)
    if pts.policy == "hard":
        rng = {1.0: (np.zeros_like(kp), kp), -1.0: (km, top)}
    else:
        rng = {1.0: (kp, top), -1.0: (np.zeros_like(km), km)}
    mass = {y: ndtr(-lo) - ndtr(-hi) for y, (lo, hi) in rng.items()}
    tot = (1.0 - eta) * mass[1.0] + eta * mass[-1.0]
    return [(y, rng[y][0], rng[y][1], (1.0 - eta if y > 0 else eta) * mass[y] / tot)
            for y in (1.0, -1.0)]


def _p_rule(pts: Points, A, B, D, tau, V, quad: ErmQuadrature):
    """Nodes and normalised weights ``[G, Np]`` of the kept half-range of ``p``.

    For a selection policy (``pts.policy``) the range is ``[0, T]`` and the weights are
    ``phi(p)`` only: the policy's ``pi`` is applied per label in :func:`moments`."""
    lo = pts.lo
    span = -lo + np.sqrt(lo * lo + 2.0 * _TAIL_EXP)
    hi = np.minimum(pts.hi, lo + span)
    L = hi - lo
    breaks = [lo[:, None] + L[:, None] * _P_FRACS]
    if pts.policy:
        breaks.append(pts.kept.breaks(pts.c, pts.sn))
    if pts.labels is not None:  # where the label law changes along t ~ c p
        breaks.append(_label_points(pts.labels)[None, :] / pts.c[:, None])
    with np.errstate(divide="ignore", invalid="ignore"):
        if np.any(pts.sn > 0):
            tan = pts.sn / pts.c
            w_lab = np.where(pts.sn > 0, tan * (np.abs(B) + tau) / D, np.nan)
            breaks.append(w_lab[:, None] * np.array([0.3, 1.0, 3.0, 8.0]))
        inv_a = 1.0 / np.abs(A)
        if pts.learner == "hinge":
            width = D * inv_a
            for wk in (1.0, 1.0 - V):
                centre = np.abs(wk) * inv_a
                breaks.append(centre[:, None] + width[:, None] * np.array(
                    [-4.0, -1.5, 0.0, 1.5, 4.0]))
        if pts.learner == "logistic":
            breaks.append(inv_a[:, None] * np.array([0.5, 1.0, 2.0, 3.0, 5.0, 8.0]))
    br = np.concatenate(breaks, axis=1)
    br = np.where(np.isfinite(br), br, np.nan)
    x, w = panel_rule(lo, hi, br, quad.n_p)
    w = w * normal_pdf(x)
    w = w / np.sum(w, axis=-1, keepdims=True)
    return x, w


def _z_rule(pts: Points, p, A, B, D, tau, V, quad: ErmQuadrature):
    """Nodes and normalised weights ``[G, Np, Nz]`` of ``z ~ N(0, 1)`` at each ``p`` node."""
    G, Np = p.shape
    A3, B3, D3, tau3 = (a[:, None, None] for a in (A, B, D, tau))
    parts = [np.broadcast_to(_Z_EDGES, (G, Np, len(_Z_EDGES)))]
    ap = A3[..., 0] * p
    with np.errstate(divide="ignore", invalid="ignore"):
        sn3 = pts.sn[:, None, None]
        zs = (pts.c[:, None] * p * D3[..., 0]) / (pts.sn[:, None] * B3[..., 0])
        wz = tau3[..., 0] / np.abs(B3[..., 0])
        lab = zs[..., None] + wz[..., None] * np.array([-3.0, -1.0, 0.0, 1.0, 3.0])
        lab = np.where((sn3 > 0) & (wz[..., None] < 3.0), lab, np.nan)
        if np.any(pts.sn > 0):
            parts.append(lab)
            if pts.labels is not None:  # mean of t given (p, z) at the channel's points
                tl = _label_points(pts.labels)
                tl = np.concatenate([tl, -tl])
                zl = ((pts.c[:, None] * p)[..., None] - tl) * (D3 / (sn3 * B3))
                parts.append(np.where(sn3 > 0, zl, np.nan))
        if pts.learner == "hinge":
            V3 = V[:, None, None]
            kinks = np.concatenate([np.ones_like(V3), 1.0 - V3], axis=-1)
            kinks = np.concatenate([kinks, -kinks], axis=-1)
            parts.append((kinks - ap[..., None]) / D3)
            if pts.policy and pts.reweight:
                # the weighted loss c l has its kink at y omega = 1 - V c(p, y)
                _, _, cp, cm = _policy_factors(pts, p)
                wk = np.concatenate([1.0 - V3 * cp, -(1.0 - V3 * cm)], axis=-1)
                parts.append((wk - ap[..., None]) / D3)
        if pts.learner == "logistic":
            wk = np.array([0.0, -2.0, 2.0, -5.0, 5.0, -10.0, 10.0])
            parts.append((wk - ap[..., None]) / D3)
    br = np.concatenate(parts, axis=-1)
    br = np.where(np.isfinite(br), br, np.nan)
    zm = quad.z_max
    z, w = panel_rule(np.full((G, Np), -zm), np.full((G, Np), zm), br, quad.n_z)
    w = w * normal_pdf(z)
    w = w / np.sum(w, axis=-1, keepdims=True)
    return z, w


def geometry(pts: Points, X):
    """``(m, s, tau, V, A, B, D)`` of the states ``X = [m, s, tau, V]`` (shape ``[G, 4]``)."""
    m, s, tau, V = X[:, 0], X[:, 1], X[:, 2], X[:, 3]
    A = m * pts.c + s * pts.sn
    B = -m * pts.sn + s * pts.c
    D = np.sqrt(B * B + tau * tau)
    D = np.maximum(D, 1e-300)
    return m, s, tau, V, A, B, D


def moments(pts: Points, X, quad: ErmQuadrature, V_eval=None, cert: bool = False) -> dict:
    """Expectations over the kept law at the states ``X`` (``[G, 4]``) (see module docstring).

    Returns a dict of ``[G]`` arrays: ``f2 = E[f^2]``, ``df = E[df/domega]``,
    ``ft = E[f t]``, ``fu = E[f u]``, ``fxi = E[f xi]``; with ``cert``: ``M = E[l(h) + V f^2/2]``
    (the Moreau envelope), ``lstar = E[l*(-f)] = E[-f h - l(h)]``, ``absM`` (scale for the
    rounding allowances) and, at the solving response (no ``V_eval``), ``absF`` (a bound on ``E[(|p| + |z| + 1)|f|]``, the summation scale of
    ``ft, fu, fxi``) and ``herr2``, an upper bound on ``E[(h - omega - V f)^2]`` (zero in exact
    arithmetic for ridge and hinge; the logistic root's residual otherwise), with a rounding
    allowance of a few ulp of ``|h| + |omega| + V |f|`` per node (``docs/erm.md`` section 4.4).
    ``V_eval`` overrides the response used in the proximal map (the geometry, i.e. the
    quadrature panels, stays that of ``X``).
    """
    m, s, tau, V, A, B, D = geometry(pts, X)
    Vp = V if V_eval is None else V_eval
    extra = cert and V_eval is None  # absF and herr2: only the dual point's call needs them
    if omega_kernel(pts) or omega_kernel_theta(pts) or omega_kernel_policy(pts):
        return _moments_kernel(pts, A, B, D, tau, V, Vp, cert, quad, extra)
    p, wp = _p_rule(pts, A, B, D, tau, V, quad)
    if ridge_closed(pts):
        return _moments_ridge(pts, p, wp, A, B, D, tau, Vp, cert, extra)
    if analytic_z(pts):
        return _moments_theta0(pts, p, wp, A, B, D, tau, Vp, cert, extra)
    z, wz = _z_rule(pts, p, A, B, D, tau, V, quad)
    W = wp[:, :, None] * wz
    P3 = p[:, :, None]
    c3, sn3, eta3 = (a[:, None, None] for a in (pts.c, pts.sn, pts.eta))
    A3, B3, D3, tau3, V3 = (a[:, None, None] for a in (A, B, D, tau, Vp))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        num = c3 * P3 * D3 - sn3 * B3 * z
        k = np.where(sn3 > 0, num / (sn3 * tau3), np.where(num >= 0, np.inf, -np.inf))
    if pts.labels is None:
        Pt = ndtr(k)
        Pt_neg = ndtr(-k)
        phik = normal_pdf(k)
        Pp = (1.0 - eta3) * Pt + eta3 * Pt_neg
        Pm = (1.0 - eta3) * Pt_neg + eta3 * Pt
        Ee = -(1.0 - 2.0 * eta3) * phik  # E[eta' 1{y = +1}] = -E[eta' 1{y = -1}]
    else:  # t = mu - sig eta' given (p, z)
        with np.errstate(divide="ignore", invalid="ignore"):
            mu = c3 * P3 - np.where(sn3 > 0, sn3 * B3 / D3, 0.0) * z
            sig = np.broadcast_to(sn3 * tau3 / D3, mu.shape)
        Pp, Ee = label_law(pts.labels, mu, sig, quad)
        Pm = 1.0 - Pp
    omega = A3 * P3 + D3 * z
    if pts.policy:
        # selection policy (section 7): the kept law has the extra factor pi(m(p, y)); pi and
        # the loss weight c depend on (p, y) only, so eta' given (p, z, y) is unchanged
        sp, sm, cp, cm = _policy_factors(pts, p)
        Pp, Pm = Pp * sp, Pm * sm
        Ep, Em = Ee * sp, Ee * sm
        Z = np.sum(W * (Pp + Pm), axis=(1, 2))[:, None, None]
        W = W / Z
        hp, fp, dfp, lp = _weighted_prox(pts.learner, 1.0, omega, V3, cp)
        hm, fm, dfm, lm = _weighted_prox(pts.learner, -1.0, omega, V3, cm)
        bf = Ep * fp - Em * fm
    else:
        hp, fp, dfp, lp = prox(pts.learner, 1.0, omega, V3)
        hm, fm, dfm, lm = prox(pts.learner, -1.0, omega, V3)
        bf = Ee * (fp - fm)
    af = Pp * fp + Pm * fm
    out = {
        "f2": np.sum(W * (Pp * fp * fp + Pm * fm * fm), axis=(1, 2)),
        "df": np.sum(W * (Pp * dfp + Pm * dfm), axis=(1, 2)),
    }
    fpp = np.sum(W * P3 * af, axis=(1, 2))
    za = np.sum(W * z * af, axis=(1, 2))
    bb = np.sum(W * bf, axis=(1, 2))
    fr = (B / D) * za + (tau / D) * bb
    out["fxi"] = (tau / D) * za - (B / D) * bb
    out["ft"] = pts.c * fpp - pts.sn * fr
    out["fu"] = pts.sn * fpp + pts.c * fr
    if cert:
        Mp = lp + 0.5 * V3 * fp * fp
        Mm = lm + 0.5 * V3 * fm * fm
        out["M"] = np.sum(W * (Pp * Mp + Pm * Mm), axis=(1, 2))
        out["lstar"] = np.sum(W * (Pp * (-fp * hp - lp) + Pm * (-fm * hm - lm)), axis=(1, 2))
        out["absM"] = np.sum(W * (Pp * np.abs(Mp) + Pm * np.abs(Mm) + Pp * np.abs(fp * hp)
                                  + Pm * np.abs(fm * hm)), axis=(1, 2))
    if extra:
        out["absF"] = np.sum(W * (P3 + np.abs(z) + 1.0) * (Pp * np.abs(fp) + Pm * np.abs(fm)),
                             axis=(1, 2))
        out["herr2"] = np.sum(W * (Pp * _herr2(hp, omega, V3, fp)
                                   + Pm * _herr2(hm, omega, V3, fm)), axis=(1, 2))
    return out


#: per-node rounding allowance of ``h - omega - V f``, in ulps of ``|h| + |omega| + V |f|``
_HERR_ULP = 8.0 * np.finfo(float).eps


def _label_points(ch) -> np.ndarray:
    """Points ``t >= 0`` where the symmetrised channel's ``A(t)`` jumps or bends (the
    quadrature splits there)."""
    j = ch.jumps()
    if j is not None:
        return np.concatenate([[0.0], np.asarray(j[1], float)])
    return np.concatenate([[0.0], ch.s_breaks()])


def label_law(ch, mu, sig, quad: ErmQuadrature | None = None):
    """``(P(y = +1), E[eta' 1{y = +1}])`` given ``(p, z)``, where ``t = mu - sig eta'``,
    ``eta' ~ N(0, 1)``, for the symmetrised channel ``A(t)`` (:meth:`Channel.odd_agree`).

    With ``F(mu, sig) = E[A(mu + sig eta')]``, Stein's lemma gives ``E[eta' A(mu - sig
    eta')] = -sig dF/dmu``. Probit: ``F = Phi(beta mu / q)``, ``q = sqrt(1 + beta^2 sig^2)``.
    Piecewise-constant ``A = (1 - a0) + (2 a0 - 1) 1{t > 0} + sum_j d_j (1{t >= e_j} -
    1{t <= -e_j})``: ``F`` is the same sum of ``Phi`` at ``(mu -+ e) / sig`` and ``-sig dF/dmu``
    the sum of the ``phi`` there (``sig = 0``, i.e. ``theta = 0``: ``F = A(mu)``, no ``eta'``
    term). Exact in closed form. Logistic: a positive rule in ``eta'`` (:func:`_logistic_law`,
    resolution from ``quad``), so both are expectations under one discrete law of ``eta'``."""
    from prunescale.theory.labels import Logistic, Probit

    mu, sig = np.broadcast_arrays(np.asarray(mu, float), np.asarray(sig, float))
    if isinstance(ch, Probit):
        q = np.sqrt(1.0 + (ch.beta * sig) ** 2)
        x = ch.beta * mu / q
        return ndtr(x), -sig * (ch.beta / q) * normal_pdf(x)
    if isinstance(ch, Logistic):
        return _logistic_law(ch.beta, mu, sig, ErmQuadrature() if quad is None else quad)
    j = ch.jumps()
    if j is None:
        raise InputError(f"labels {ch}: the regularized theory takes flip, probit and binned "
                         "channels so far")
    a0, edges, steps = j
    pos = sig > 0
    s1 = np.where(pos, sig, 1.0)

    def z(x):  # the standardised argument; +-inf (or 0 at a tie) where sig = 0
        return np.where(pos, x / s1, np.where(x > 0, np.inf, np.where(x < 0, -np.inf, 0.0)))

    z0 = z(mu)
    P = (1.0 - a0) + (2.0 * a0 - 1.0) * ndtr(z0)
    E = (2.0 * a0 - 1.0) * normal_pdf(z0)
    for e, d in zip(edges, steps):
        zu, zl = z(mu - e), z(mu + e)
        P = P + d * (ndtr(zu) - ndtr(-zl))
        E = E + d * (normal_pdf(zu) + normal_pdf(zl))
    return P, np.where(pos, -E, 0.0)


#: ``beta sig`` up to which the logistic label law takes the Gauss-Hermite rule in ``eta'``
_LOGISTIC_GH_MAX = 0.5
#: split points of the logistic rule around its centre, in units of ``1 / (beta sig)``
_LOGISTIC_OFFS = np.array([-32.0, -16.0, -8.0, -4.0, -2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 4.0,
                           8.0, 16.0, 32.0])


def _logistic_law(beta, mu, sig, quad: ErmQuadrature):
    """:func:`label_law` of ``logistic:beta``: ``E[g(mu - sig eta')]`` and ``E[eta' g(mu - sig
    eta')]``, ``g = sigma(beta .)``, by one positive, normalised rule in ``eta'`` per node.
    ``sig = 0``: ``g(mu)`` and 0. ``beta sig <= 1/2`` (``g`` analytic in a strip of half-width
    ``>= 2 pi`` in ``eta'``): Gauss-Hermite with ``4 n_z`` nodes. Otherwise composite
    Gauss-Legendre (``n_z`` per panel) on ``[-z_max, z_max]`` split at the fixed ``z`` panels and
    at ``mu / sig + OFFS / (beta sig)``. The refined rule doubles the nodes and widens the range."""
    from scipy.special import expit

    P = np.zeros(mu.shape)
    E = np.zeros(mu.shape)
    S = beta * sig
    zero = sig == 0
    P[zero] = expit(beta * mu[zero])
    small = ~zero & (S <= _LOGISTIC_GH_MAX)
    if np.any(small):
        x, w = np.polynomial.hermite_e.hermegauss(4 * quad.n_z)
        w = w / np.sum(w)
        g = expit(beta * (mu[small][:, None] - sig[small][:, None] * x))
        P[small] = g @ w
        E[small] = g @ (w * x)
    big = ~zero & ~small
    if np.any(big):
        m, sg = mu[big], sig[big]
        L = quad.z_max
        br = np.concatenate([np.broadcast_to(_Z_EDGES, (m.size, len(_Z_EDGES))),
                             (m / sg)[:, None] + (1.0 / (beta * sg))[:, None] * _LOGISTIC_OFFS],
                            axis=1)
        x, w = panel_rule(np.full(m.size, -L), np.full(m.size, L), br, quad.n_z)
        w = w * normal_pdf(x)
        g = expit(beta * (m[:, None] - sg[:, None] * x))
        tot = np.sum(w, axis=1)
        P[big] = np.sum(w * g, axis=1) / tot
        E[big] = np.sum(w * x * g, axis=1) / tot
    return P, E


def _moment_dict(pts: Points, B, D, tau, sums, fpp, za, bb, cert: bool, extra: bool) -> dict:
    """The moments of :func:`moments` from a rule's weighted sums: ``E[f^2]``, ``E[f']``, and
    ``E[f t]``, ``E[f u]``, ``E[f xi]`` from ``fpp = E[f p]``, ``za = E[f z]``,
    ``bb = E[f eta']`` through ``r = (B z + tau eta')/D`` (``t = c p - s r``,
    ``u = s p + c r``, ``xi = (tau z - B eta')/D``); with ``cert`` the certificate's sums,
    with ``extra`` the rounding-allowance sums."""
    fr = (B / D) * za + (tau / D) * bb
    out = {"f2": sums["f2"], "df": sums["df"], "ft": pts.c * fpp - pts.sn * fr,
           "fu": pts.sn * fpp + pts.c * fr, "fxi": (tau / D) * za - (B / D) * bb}
    if cert:
        out.update(M=sums["M"], lstar=sums["l"], absM=sums["absM"])
    if extra:
        out.update(absF=sums["absF"], herr2=sums["herr2"])
    return out


def _herr2(h, omega, V, f):
    """``(|h - omega - V f| + r)^2`` per node, ``r`` the rounding allowance: an upper bound on
    the square of the exact-arithmetic value (used by the certificate, ``docs/erm.md`` 4.4)."""
    r = _HERR_ULP * (np.abs(h) + np.abs(omega) + V * np.abs(f))
    return (np.abs(h - omega - V * f) + r) ** 2


def _policy_factors(pts: Points, p):
    """``(pi(m(p, +1)), pi(m(p, -1)), c(p, +1), c(p, -1))`` at the ``p >= 0`` nodes, shaped
    ``[G, Np, 1]`` (``m = p`` for both labels with the ``abs`` metric, ``m = y p`` with
    ``signed``; ``c = 1`` unless ``pts.reweight``)."""
    rows = np.arange(p.shape[0])[:, None]
    sp = pts.kept.pi(p, rows)
    sm = sp if pts.metric == "abs" else pts.kept.pi(-p, rows)
    sp = np.where(sp > _sel.PI_FLOOR, sp, 0.0)
    sm = np.where(sm > _sel.PI_FLOOR, sm, 0.0)
    if pts.reweight:
        cp, cm = pts.kept.weights(sp, rows), pts.kept.weights(sm, rows)
    else:
        cp = cm = np.ones_like(sp)
    return sp[..., None], sm[..., None], cp[..., None], cm[..., None]


def _weighted_prox(learner, y, omega, V, c):
    """``prox`` of the weighted loss ``c l``: the prox of ``l`` with response ``V c``, then
    ``f = c (-l'(h*))``, ``df = c d(-l')/domega`` and the loss ``c l(h*)``, so that
    ``f = (h* - omega)/V`` and the Fenchel equality ``(c l)*(-f) = -f h* - c l(h*)`` hold."""
    h, f0, df0, l0 = prox(learner, y, omega, V * c)
    return h, c * f0, c * df0, c * l0


def nodes_per_point(learner: str, quad: ErmQuadrature, theta0: bool = False,
                    policy: bool = False, labels=None) -> int:
    """Upper bound on the ``(p, z)`` nodes of one point (for chunking)."""
    if labels is not None:  # the general (p, z) rule, with the channel's breaks
        nt = _label_points(labels).size
        return ((n_p_panels(learner, policy) + nt) * quad.n_p
                * (n_z_panels(learner, policy) + 2 * nt) * quad.n_z)
    if learner == "ridge" or (theta0 and learner == "hinge"):
        return n_p_panels(learner, policy) * quad.n_p * 8
    if policy and theta0 and learner == "logistic":  # omega rule times the inner x rule
        return 80 * quad.n_z * (len(_Z_EDGES) + 1 + 2 * len(_sel._TAU_BREAKS)) * quad.n_p
    if policy:
        return n_p_panels(learner, True) * quad.n_p * n_z_panels(learner, True) * quad.n_z
    return 80 * quad.n_z * 8  # the omega-outer rule (sharp rules, theta = 0 or not)


def _gauss_pieces(a, b):
    """``int_a^b z^k phi(z) dz`` for ``k = 0, 1, 2`` (``a <= b``, infinities allowed)."""
    pa, pb = normal_pdf(a), normal_pdf(b)
    i0 = np.where(a > 0, ndtr(-a) - ndtr(-b), ndtr(b) - ndtr(a))
    with np.errstate(invalid="ignore"):
        ea = np.where(np.isfinite(a), a * pa, 0.0)
        eb = np.where(np.isfinite(b), b * pb, 0.0)
    return i0, pa - pb, i0 + ea - eb


def _z_closed_form(learner, y, mu, D, V):
    """``E_z`` of ``f, f^2, df, z f, M, l*`` for ``omega = mu + D z`` and label ``y``, in closed
    form (``docs/erm.md`` section 3.2).

    ridge: ``f = (y - omega)/(1 + V)``. hinge: with ``v = y omega = y mu + D z'``
    (``z' = y z``), ``y f = 1`` for ``v < 1 - V``, ``(1 - v)/V`` for ``1 - V <= v <= 1``, 0
    above; ``M = 1 - v - V/2``, ``(1 - v)^2 / (2V)``, ``0`` and ``l* = -y f``.
    """
    if learner == "ridge":
        e = (y - mu) / (1.0 + V)
        g = D / (1.0 + V)
        Ef = e
        Ef2 = e * e + g * g
        Edf = -1.0 / (1.0 + V) + 0.0 * mu
        Ezf = -g
        EM = 0.5 * (1.0 + V) * Ef2
        El = 0.5 * Ef2 - y * Ef
        return Ef, Ef2, Edf, Ezf, EM, El
    b = 1.0 - y * mu
    z1 = (b - V) / D
    z2 = b / D
    i0, i1, i2 = _gauss_pieces(z1, z2)
    F1 = ndtr(z1)
    p1 = normal_pdf(z1)
    quad2 = b * b * i0 - 2.0 * b * D * i1 + D * D * i2
    Eg = F1 + (b * i0 - D * i1) / V
    Ef2 = F1 + quad2 / (V * V)
    Edf = -i0 / V
    Ezf = -p1 + (b * i1 - D * i2) / V
    EM = (b - 0.5 * V) * F1 + D * p1 + quad2 / (2.0 * V)
    return y * Eg, Ef2, Edf, Ezf, EM, -Eg


def _moments_ridge(pts: Points, p, wp, A, B, D, tau, V, cert, extra=False):
    """:func:`moments` of ridge at any ``theta`` (``docs/erm.md`` section 3.5): a 1-d rule in
    ``p`` and the ``z`` integral in closed form.

    Given ``p``, ``omega = mu + D z`` (``mu = A p``), the clean label is ``+1`` with
    probability ``Phi(k)``, ``k = a + b z`` (``a = c p D/(s_th tau)``, ``b = -B/tau``), and
    ``E[eta' 1{y = +-1} | p, z] = -+(1 - 2 eta) phi(k)``. With ``q^2 = 1 + b^2`` and
    ``k0 = a/q``: ``E[Phi(k)] = Phi(k0)``, ``E[z Phi(k)] = b phi(k0)/q``, ``E[z^2 Phi(k)] =
    Phi(k0) - a b^2 phi(k0)/q^3``, ``E[phi(k)] = phi(k0)/q``, ``E[z phi(k)] = -a b
    phi(k0)/q^3``; ``f = (y - omega)/(1 + V c)`` times ``c`` is affine in ``z``. ``theta = 0``
    rows (``k = +inf``) and selection policies (``pi(m(p, y))``, loss weights ``c``) included.
    """
    mu = A[:, None] * p
    D2, V2, B2, t2 = D[:, None], V[:, None], B[:, None], tau[:, None]
    c2, s2, eta = pts.c[:, None], pts.sn[:, None], pts.eta[:, None]
    flat = ~(s2 > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(flat, np.inf, c2 * p * D2 / (np.where(flat, 1.0, s2) * t2))
        b = np.where(flat, 0.0, -B2 / t2) * np.ones_like(p)
        q = np.sqrt(1.0 + b * b)
        k0 = a / q
        pk = normal_pdf(k0)
        ab = np.where(np.isfinite(a), a * b, 0.0)
    Phi_p, Phi_m = ndtr(k0), ndtr(-k0)
    g = 1.0 - 2.0 * eta
    one = np.ones_like(p)
    # E_z of w, z w, z^2 w for the two labels' weights w = eta + (1 - 2 eta) Phi(+-k), and of
    # E[eta' 1{y}] = -+(1 - 2 eta) phi(k) (times 1, z)
    Pk0, Pk1, Pk2 = Phi_p, b * pk / q, Phi_p - ab * b * pk / q ** 3
    Mk0, Mk1, Mk2 = Phi_m, -b * pk / q, Phi_m + ab * b * pk / q ** 3
    T0, T1 = g * pk / q, -g * ab * pk / q ** 3
    labels = [(1.0, eta * one + g * Pk0, g * Pk1, eta * one + g * Pk2, -T0, -T1, one),
              (-1.0, eta * one + g * Mk0, g * Mk1, eta * one + g * Mk2, T0, T1, one)]
    if pts.policy:
        sp, sm, cp, cm = (x[..., 0] for x in _policy_factors(pts, p))
        labels = [(y, S0 * pi, S1 * pi, S2 * pi, E0 * pi, E1 * pi, cy) for
                  (y, S0, S1, S2, E0, E1, _), pi, cy in zip(labels, (sp, sm), (cp, cm))]
    Z = np.sum(wp * (labels[0][1] + labels[1][1]), axis=1, keepdims=True)
    W = wp / Z
    acc = {}
    for y, S0, S1, S2, E0, E1, cy in labels:
        den = 1.0 + V2 * cy
        e = cy * (y - mu) / den
        gz = cy * D2 / den
        Ef = e * S0 - gz * S1
        Ef2 = e * e * S0 - 2.0 * e * gz * S1 + gz * gz * S2
        aEf2 = np.abs(Ef2)
        vals = {"pf": p * Ef, "f2": Ef2, "df": -cy * S0 / den, "zf": e * S1 - gz * S2,
                "ef": e * E0 - gz * E1}
        if cert:
            # M = c l(h) + V f^2/2 = (1 + V c) f^2/(2 c); l* = (c l)*(-f) = f^2/(2c) - y f
            EM = den * Ef2 / (2.0 * cy)
            El = Ef2 / (2.0 * cy) - y * Ef
            vals.update(M=EM, l=El, absM=np.abs(EM) + np.abs(El))
        if extra:
            vals["absF"] = (p + 2.0) * np.sqrt(aEf2 * np.maximum(S0, 0.0)) + np.abs(
                (e + gz) * E0) + np.abs(gz * E1)
            vals["herr2"] = 8.0 * _HERR_ULP ** 2 * ((mu * mu + D2 * D2) * S0
                                                    + V2 * V2 * aEf2)
        for k, v in vals.items():
            acc[k] = acc.get(k, 0.0) + np.sum(W * v, axis=1)
    return _moment_dict(pts, B, D, tau, acc, acc["pf"], acc["zf"], acc["ef"], cert, extra)


def _moments_theta0(pts: Points, p, wp, A, B, D, tau, V, cert, extra=False):
    """:func:`moments` at ``theta = 0`` for ridge and hinge: ``y`` depends on ``p`` only
    (``+1`` with probability ``1 - eta`` on ``p > 0``), and the ``z`` integral is closed-form.

    A selection policy multiplies the label weights by ``pi(m(p, y))`` (then normalised) and
    weights the loss by ``c(p, y)``: the prox of ``c l`` is that of ``l`` at response ``V c``,
    and ``f, df, M, l*`` scale by ``c`` (``f^2`` by ``c^2``; :func:`_weighted_prox`)."""
    mu = A[:, None] * p
    D2, V2 = D[:, None], V[:, None]
    eta = pts.eta[:, None]
    labels = [(1.0, 1.0 - eta, 1.0), (-1.0, eta, 1.0)]
    if pts.policy:
        sp, sm, cp, cm = (a[..., 0] for a in _policy_factors(pts, p))
        Pp, Pm = (1.0 - eta) * sp, eta * sm
        Z = np.sum(wp * (Pp + Pm), axis=1, keepdims=True)
        labels = [(1.0, Pp / Z, cp), (-1.0, Pm / Z, cm)]
    acc = {}
    for y, Py, cy in labels:
        Vc = V2 * cy
        Ef, Ef2, Edf, Ezf, EM, El = _z_closed_form(pts.learner, y, mu, D2, Vc)
        if pts.policy and pts.reweight:
            Ef, Ef2, Edf, Ezf, EM, El = (cy * Ef, cy * cy * Ef2, cy * Edf, cy * Ezf, cy * EM,
                                         cy * El)
        # h = omega + V f holds exactly in exact arithmetic for ridge and hinge: herr2 is the
        # rounding allowance alone, (r)^2 <= 2 (8 ulp)^2 ((2|omega|)^2 + (2 V |f|)^2)
        # Ef2 is a difference of closed-form pieces: deep in the tail (hinge) it can round to
        # a tiny negative number (seen: -2e-317), so the scales below use |Ef2| (never NaN)
        aEf2 = np.abs(Ef2)
        herr = 8.0 * _HERR_ULP ** 2 * (mu * mu + D2 * D2 + V2 * V2 * aEf2)
        for k, v in (("f", Ef), ("f2", Ef2), ("df", Edf), ("zf", Ezf), ("M", EM), ("l", El),
                     ("absM", np.abs(EM) + np.abs(El)),
                     ("absF", (p + 2.0) * np.sqrt(aEf2)), ("herr2", herr)):
            acc[k] = acc.get(k, 0.0) + Py * v
    out = {"f2": np.sum(wp * acc["f2"], axis=1), "df": np.sum(wp * acc["df"], axis=1)}
    fpp = np.sum(wp * p * acc["f"], axis=1)
    za = np.sum(wp * acc["zf"], axis=1)
    out["ft"] = fpp  # theta = 0: t = p, u = r
    out["fu"] = (B / D) * za
    out["fxi"] = (tau / D) * za
    if cert:
        out["M"] = np.sum(wp * acc["M"], axis=1)
        out["lstar"] = np.sum(wp * acc["l"], axis=1)
        out["absM"] = np.sum(wp * acc["absM"], axis=1)
    if extra:
        out["absF"] = np.sum(wp * acc["absF"], axis=1)
        out["herr2"] = np.sum(wp * acc["herr2"], axis=1)
    return out


def omega_kernel_theta(pts: Points) -> bool:
    """Whether the points take the omega-outer rule at ``theta > 0``
    (:func:`_kernels_theta`): the sharp ``|p|`` rules of logistic and hinge (ridge takes
    :func:`_moments_ridge`)."""
    return (bool(np.any(pts.sn > 0)) and not pts.policy and pts.learner != "ridge"
            and pts.labels is None)


def _compact(x, w):
    """Drop the nodes of zero weight (empty panels of a dense rule) from ``[G, N]`` arrays,
    keeping the order of the others; rows are padded with zero-weight nodes to the longest."""
    empty = ~(w > 0)
    order = np.argsort(empty, axis=1, kind="stable")
    n = max(1, int(np.max(np.sum(~empty, axis=1))))
    order = order[:, :n]
    return np.take_along_axis(x, order, axis=1), np.take_along_axis(w, order, axis=1)


def _panel_rule_compact(lo, hi, breaks, n: int):
    """:func:`~prunescale.theory._quadrature.panel_rule` for ``[R]`` intervals with
    ``[R, m]`` breaks, the empty panels dropped first (rows padded with zero-width panels to
    the longest): the same nodes of positive weight, fewer of zero weight."""
    lo = np.asarray(lo, float)
    hi = np.asarray(hi, float)
    br = np.clip(np.where(np.isnan(breaks), lo[:, None], breaks), lo[:, None], hi[:, None])
    edges = np.concatenate([lo[:, None], np.sort(br, axis=1), hi[:, None]], axis=1)
    left, width = edges[:, :-1], np.diff(edges, axis=1)
    order = np.argsort(~(width > 0), axis=1, kind="stable")
    k = max(1, int(np.max(np.sum(width > 0, axis=1))))
    order = order[:, :k]
    left = np.take_along_axis(left, order, axis=1)[..., None]
    width = np.take_along_axis(width, order, axis=1)[..., None]
    gx, gw = gauss_legendre(n)
    x = (left + width * gx).reshape(lo.size, -1)
    w = (width * gw).reshape(lo.size, -1)
    return x, w


def _phi_diff(a, b):
    """``Phi(b) - Phi(a)`` from the nearer tail (``a <= b``, infinities allowed)."""
    return np.where(a > 0, ndtr(-a) - ndtr(-b), ndtr(b) - ndtr(a))


def _kept_tail(lo, hi):
    span = -lo + np.sqrt(lo * lo + 2.0 * _TAIL_EXP)
    return np.minimum(hi, lo + span)


#: offsets, in units of the kernel's width D, of the omega rule's breaks around its features
_OM_DZ = np.array([-6.0, -4.0, -2.5, -1.2, -0.4, 0.0, 0.4, 1.2, 2.5, 4.0, 6.0])
_OM_LOSS = {"logistic": np.array([0.0, -2.0, 2.0, -5.0, 5.0, -10.0, 10.0]),
            "ridge": np.array([0.0]), "hinge": np.array([0.0])}


def _omega_rule(pts, A, D, V, ranges, quad, extra_breaks=()):
    """Composite rule in ``omega`` covering ``A p + D z`` for ``p`` in each live ``[lo, hi]``
    of ``ranges`` and ``|z| <= z_max``: split at the ends ``A lo, A hi`` (plus multiples of
    ``D``), at fixed fractions of ``A (hi - lo)``, at the loss's kinks or scales and at
    ``extra_breaks``; empty panels dropped (:func:`_compact`). Weights are the rule's own
    (no density)."""
    zm = quad.z_max
    G = A.size
    parts = [np.broadcast_to(_OM_LOSS[pts.learner], (G, len(_OM_LOSS[pts.learner])))]
    if pts.learner == "hinge":
        kinks = np.stack([np.ones_like(V), 1.0 - V], axis=1)
        parts.append(np.concatenate([kinks, -kinks], axis=1))
    w_lo, w_hi = np.full(G, np.inf), np.full(G, -np.inf)
    for lo, hi, live in ranges:
        e_lo, e_hi = np.minimum(A * lo, A * hi), np.maximum(A * lo, A * hi)
        w_lo = np.where(live, np.minimum(w_lo, e_lo - zm * D), w_lo)
        w_hi = np.where(live, np.maximum(w_hi, e_hi + zm * D), w_hi)
        for e in (e_lo, e_hi):
            parts.append(np.where(live[:, None], e[:, None] + D[:, None] * _OM_DZ, np.nan))
        parts.append(np.where(live[:, None], (A * lo)[:, None]
                              + (A * (hi - lo))[:, None] * _P_FRACS, np.nan))
    parts.extend(extra_breaks)
    br = np.concatenate(parts, axis=1)
    br = np.where(np.isfinite(br), br, np.nan)
    om, wo = panel_rule(w_lo, w_hi, br, quad.n_z)
    return _compact(om, wo)


def _kernels_theta0(pts: Points, A, B, D, tau, V, quad: ErmQuadrature):
    """Omega rule and per-label kernels at ``theta = 0`` (sharp rules; section 3.3).

    On the kept half-range ``p in [lo, hi]`` (density ``phi(p)/Z``), ``omega = A p + D z`` has
    the density ``K0(omega) = phi(omega/sig)/sig * (Phi(b) - Phi(a)) / Z`` and
    ``K1(omega) = E[p 1{.}; omega] = phi(omega/sig)/sig * (mu (Phi(b) - Phi(a)) + s (phi(a) -
    phi(b))) / Z`` with ``sig^2 = A^2 + D^2``, ``mu = A omega/sig^2``, ``s = D/sig``,
    ``a, b = (lo - mu)/s, (hi - mu)/s``. Returns ``(om, [(y, k0, k1, kz, ke)])`` with the
    kernels of ``1, p, z, eta'`` (``ke = None``: the label does not depend on ``eta'``)."""
    labels = [(y, lo, _kept_tail(lo, hi), wy) for y, lo, hi, wy in _label_ranges(pts)]
    ranges = [(lo, hi, np.broadcast_to(wy, A.shape) > 0) for _, lo, hi, wy in labels]
    om, wo = _omega_rule(pts, A, D, V, ranges, quad)
    A2, D2 = A[:, None], D[:, None]
    sig = np.sqrt(A2 * A2 + D2 * D2)
    mu = A2 * om / (sig * sig)
    sd = D2 / sig
    dens = normal_pdf(om / sig) / sig * wo
    out = []
    for y, lo, hi, wy in labels:
        a = (lo[:, None] - mu) / sd
        b = (hi[:, None] - mu) / sd
        i0, i1, _ = _gauss_pieces(a, b)
        k0 = dens * i0
        k1 = dens * (mu * i0 + sd * i1)
        Z = np.sum(k0, axis=1, keepdims=True)  # normalises the discrete law exactly
        Py = np.broadcast_to(wy, A.shape)[:, None]
        with np.errstate(invalid="ignore", divide="ignore"):
            k0 = np.where(Py > 0, Py * k0 / Z, 0.0)
            k1 = np.where(Py > 0, Py * k1 / Z, 0.0)
        out.append((y, k0, k1, (om * k0 - A2 * k1) / D2, None))
    return om, out


def _kernels_theta(pts: Points, A, B, D, tau, V, quad: ErmQuadrature):
    """Omega rule and per-label kernels at ``theta > 0`` for the sharp ``|p|`` rules
    (``docs/erm.md`` section 3.4): the ``p`` integral given ``omega`` in closed form.

    Given ``omega``, ``p = mu + sd x`` with ``x ~ N(0, 1)`` (before the kept range ``x in
    [xl, xh]``), and the clean label's variable is ``k = a + b x`` (``k = (c p D - s_th B
    z)/(s_th tau)``, ``z = (omega - A p)/D``), so with ``P0 = int phi(x) Phi(a + b x)``,
    ``P1 = int x phi(x) Phi(a + b x)`` and ``E0 = int phi(x) phi(a + b x)`` over ``[xl, xh]``:
    ``P0`` is a difference of bivariate normal distribution functions, ``P1 = [-phi Phi]`` at
    the ends ``+ b E0`` and ``E0 = phi(a/q)/q [Phi(q x + a b/q)]`` at the ends, ``q^2 = 1 +
    b^2``. Label ``+1`` has weight ``eta + (1 - 2 eta) Phi(k)``, and ``E[eta' 1{y = +-1}] =
    -+(1 - 2 eta) phi(k)``."""
    lo, hi = pts.lo, _kept_tail(pts.lo, pts.hi)
    c, sn, eta = pts.c, pts.sn, pts.eta
    with np.errstate(divide="ignore", invalid="ignore"):
        # where the clean label flips at the ends of the kept range: omega = p (c D^2 +
        # s_th A B)/(s_th B), over a width D tau/|B| in omega
        slope = (c * D * D + sn * A * B) / (sn * B)
        wl = D * tau / np.abs(B)
        extra = [np.where(np.isfinite(e)[:, None], e[:, None] + wl[:, None] * _OM_DZ, np.nan)
                 for e in (lo * slope, hi * slope)]
    live = np.ones(A.shape, bool)
    om, wo = _omega_rule(pts, A, D, V, [(lo, hi, live)], quad, extra)
    A2, B2, D2, t2 = A[:, None], B[:, None], D[:, None], tau[:, None]
    c2, s2, e2 = c[:, None], sn[:, None], eta[:, None]
    sig = np.sqrt(A2 * A2 + D2 * D2)
    mu = A2 * om / (sig * sig)
    sd = D2 / sig
    dens = normal_pdf(om / sig) / sig * wo
    xl = (lo[:, None] - mu) / sd
    xh = (hi[:, None] - mu) / sd
    M0, M1, _ = _gauss_pieces(xl, xh)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        kp = (c2 * D2 * D2 + s2 * A2 * B2) / (D2 * np.where(s2 > 0, s2, 1.0) * t2)
        a = -B2 * om / (D2 * t2) + kp * mu
        b = kp * sd
        q = np.sqrt(1.0 + b * b)
        P0 = _bvn_strip(xh, a, b, q) - _bvn_strip(xl, a, b, q)
        E0 = normal_pdf(a / q) / q * _phi_diff(q * xl + a * b / q, q * xh + a * b / q)
        ends = (np.where(np.isfinite(xl), normal_pdf(xl) * ndtr(a + b * xl), 0.0)
                - np.where(np.isfinite(xh), normal_pdf(xh) * ndtr(a + b * xh), 0.0))
    P1 = ends + b * E0
    # theta = 0 rows of a mixed batch: the clean label is +1 on the whole kept half-range
    flat = ~(s2 > 0)
    P0 = np.where(flat, M0, np.clip(P0, 0.0, M0))
    P1 = np.where(flat, M1, P1)
    E0 = np.where(flat, 0.0, E0)
    g = 1.0 - 2.0 * e2
    out = []
    for y, m0, m1, sgn in ((1.0, P0, P1, -1.0), (-1.0, M0 - P0, M1 - P1, 1.0)):
        k0 = dens * np.maximum(e2 * M0 + g * m0, 0.0)
        kx = dens * (e2 * M1 + g * m1)
        out.append([y, k0, mu * k0 + sd * kx, dens * sgn * g * E0])
    Z = np.sum(out[0][1] + out[1][1], axis=1, keepdims=True)
    res = []
    for y, k0, k1, ke in out:
        k0, k1, ke = k0 / Z, k1 / Z, ke / Z
        res.append((y, k0, k1, (om * k0 - A2 * k1) / D2, ke))
    return om, res


def omega_kernel_policy(pts: Points) -> bool:
    """Whether the points take the omega-outer rule of a selection policy at ``theta = 0``
    (:func:`_kernels_policy0`): logistic (ridge and hinge integrate ``z`` in closed form
    instead), without reweighting (whose loss weight would tie the prox to ``p``)."""
    return (pts.learner == "logistic" and bool(pts.policy) and not pts.reweight
            and not np.any(pts.sn > 0) and not sharp_signed(pts) and pts.labels is None)


def _kernels_policy0(pts: Points, A, B, D, tau, V, quad: ErmQuadrature):
    """Omega rule and per-label kernels of a selection policy at ``theta = 0``.

    As :func:`_kernels_theta0` with the kept law ``phi(p) P(y | p) pi(m(p, y))`` on ``p in [0,
    T]``: given ``omega``, ``p = mu + sd x`` (``x ~ N(0, 1)``) and the kernels of ``1`` and
    ``p`` are ``int phi(x) P(y) pi(m(mu + sd x, y)) {1, p} dx``, a composite Gauss-Legendre
    rule in ``x`` split at the fixed Gaussian panels and at the policy's own bends
    (:meth:`~prunescale.theory._kept_law.Policy.breaks`, mapped to ``x``). ``pi`` enters
    through :meth:`~prunescale.theory._kept_law.Policy.pi` only; the prox is evaluated on
    the 1-d ``omega`` rule."""
    pol = pts.kept  # the points' policy, with its family (power exponent, random share)
    G = A.size
    lo = np.zeros(G)
    hi = _kept_tail(lo, np.full(G, np.inf))
    pb = np.asarray(pol.breaks(pts.c, pts.sn), float).reshape(G, -1)
    with np.errstate(invalid="ignore"):
        om_br = [A[:, None] * pb]
        # around the threshold(s) the kernel also bends over the width D of omega given p
        for kc in ((pts.k, -pts.k) if pts.metric == "signed" else (pts.k,)):
            om_br.append(np.where(np.isfinite(kc)[:, None],
                                  (A * kc)[:, None] + D[:, None] * _OM_DZ, np.nan))
    live = np.ones(G, bool)
    om, wo = _omega_rule(pts, A, D, V, [(lo, hi, live)], quad, om_br)
    A2, D2 = A[:, None], D[:, None]
    sig = np.sqrt(A2 * A2 + D2 * D2)
    mu = A2 * om / (sig * sig)
    sd = D2 / sig
    dens = normal_pdf(om / sig) / sig * wo
    zx = quad.z_max
    xl = np.maximum((lo[:, None] - mu) / sd, -zx)
    xh = np.maximum(np.minimum((hi[:, None] - mu) / sd, zx), xl)
    mu3, sd3 = mu[..., None], sd[..., None]
    with np.errstate(invalid="ignore"):
        br = np.concatenate([np.broadcast_to(_Z_EDGES, om.shape + (len(_Z_EDGES),)),
                             (pb[:, None, :] - mu3) / sd3], axis=-1)
    br = np.where(np.isfinite(br), br, np.nan)
    No = om.shape[1]
    x, wx = _panel_rule_compact(xl.ravel(), xh.ravel(), br.reshape(G * No, -1), quad.n_p)
    x, wx = x.reshape(G, No, -1), wx.reshape(G, No, -1)
    wx = wx * normal_pdf(x)
    p = mu3 + sd3 * x
    owner = np.arange(G)[:, None, None]
    sp = pol.pi(p, owner)
    sm = sp if pts.metric == "abs" else pol.pi(-p, owner)
    sp = np.where(sp > _sel.PI_FLOOR, sp, 0.0)
    sm = np.where(sm > _sel.PI_FLOOR, sm, 0.0)
    eta = pts.eta[:, None]
    wp = wx * sp
    s0p, s1p = np.sum(wp, axis=-1), np.sum(wp * x, axis=-1)
    if pts.metric == "abs":  # pi is label-free: one pair of sums serves both labels
        s0m, s1m = s0p, s1p
    else:
        wm = wx * sm
        s0m, s1m = np.sum(wm, axis=-1), np.sum(wm * x, axis=-1)
    out = []
    for y, py, s0, s1 in ((1.0, 1.0 - eta, s0p, s1p), (-1.0, eta, s0m, s1m)):
        k0 = dens * py * s0
        out.append([y, k0, mu * k0 + sd * (dens * py * s1)])
    Z = np.sum(out[0][1] + out[1][1], axis=1, keepdims=True)
    res = []
    for y, k0, k1 in out:
        k0, k1 = k0 / Z, k1 / Z
        res.append((y, k0, k1, (om * k0 - A2 * k1) / D2, None))
    return om, res


def _bvn_strip(x, a, b, q):
    """``F(x) = int_{-inf}^x phi(u) Phi(a + b u) du = Phi_2(x, a/q; -b/q)``, ``q^2 = 1 + b^2``
    (``F(-inf) = 0``, ``F(inf) = Phi(a/q)``), by :func:`bvn_cdf` with its ratios in the stable
    forms ``(a + b x)/x`` and ``(q^2 x + a b)/a``."""
    fin = np.isfinite(x)
    xs = np.where(fin, x, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        v = bvn_cdf(xs, a / q, (a + b * xs) / xs, (q * q * xs + a * b) / a)
    return np.where(fin, v, np.where(x > 0, ndtr(a / q), 0.0))


_KERNEL_CACHE = threading.local()  # one cache per thread (the app solves in several)
#: geometries remembered by :func:`_kernels` (the Newton step's response column and the
#: certificate's ladder reuse the last few)
_KERNEL_CACHE_SIZE = 4


def _kernels(pts: Points, A, B, D, tau, V, quad: ErmQuadrature):
    """The omega rule and kernels of :func:`_kernels_theta0`, :func:`_kernels_theta` or
    :func:`_kernels_policy0`, remembered for the last few geometries: they do not depend on
    the response at which the prox is evaluated (the certificate's ladder evaluates eleven
    responses on one geometry, a Newton step's response column one more). The key is the
    content of every input the kernels read."""
    build = (_kernels_theta if omega_kernel_theta(pts) else _kernels_policy0
             if omega_kernel_policy(pts) else _kernels_theta0)
    arrays = [A, B, D, tau, pts.lo, pts.hi, pts.c, pts.sn, pts.eta]
    arrays += [a for a in (pts.k, pts.tau, pts.f) if a is not None]
    if pts.learner == "hinge":
        arrays.append(V)
    key = (build, quad, pts.learner, pts.policy, pts.metric, pts.reweight,
           tuple(np.shape(a) for a in arrays),
           b"".join(np.ascontiguousarray(a, dtype=float).tobytes() for a in arrays))
    cache = getattr(_KERNEL_CACHE, "entries", None)
    if cache is None:
        cache = _KERNEL_CACHE.entries = []
    for i, (k, val) in enumerate(cache):
        if k == key:
            cache.insert(0, cache.pop(i))
            return val
    val = build(pts, A, B, D, tau, V, quad)
    cache.insert(0, (key, val))
    del cache[_KERNEL_CACHE_SIZE:]
    return val


def _moments_kernel(pts: Points, A, B, D, tau, V, Vp, cert, quad: ErmQuadrature, extra=False):
    """:func:`moments` by the omega-outer rule: per label, kernels of ``1, p, z, eta'``
    on a 1-d rule in ``omega`` (:func:`_kernels`), and the prox at those nodes only.
    ``V`` is the response of the geometry (the rule), ``Vp`` the one of the prox."""
    om, labels = _kernels(pts, A, B, D, tau, V, quad)
    A2, D2, V2 = A[:, None], D[:, None], Vp[:, None]
    sums = {}

    def add(k, v):
        sums[k] = sums.get(k, 0.0) + np.sum(v, axis=1)

    for y, k0, k1, kz, ke in labels:
        h, f, df, l = prox(pts.learner, y, om, V2)
        add("f2", f * f * k0)
        add("df", df * k0)
        add("f_p", f * k1)
        add("f_z", f * kz)
        if ke is not None:
            add("f_e", f * ke)
        if cert:
            M = l + 0.5 * V2 * f * f
            ls = -f * h - l
            add("M", M * k0)
            add("l", ls * k0)
            add("absM", (np.abs(M) + np.abs(f * h)) * k0)
        if extra:
            add("herr2", _herr2(h, om, V2, f) * k0)
            # summation scale of ft, fu, fxi: |f| times the magnitudes of the kernels and of
            # the two terms of kz
            sc = k0 + np.abs(k1) + np.abs(kz) + np.abs(om * k0 / D2) + np.abs(A2 * k1 / D2)
            if ke is not None:
                sc = sc + np.abs(ke)
            add("absF", np.abs(f) * sc)
    return _moment_dict(pts, B, D, tau, sums, sums["f_p"], sums["f_z"], sums.get("f_e", 0.0),
                        cert, extra)
