"""The Gardner exponent of the max-margin student, its expectations and derivatives.

Notation (Sorscher et al. 2022, App. A; ``docs/theory.md``): teacher field ``t``, the
probe's orthogonal field ``u``, label ``y = sign(t)``, thermal noise ``z ~ N(0, 1)``. For student
overlaps ``(R, S)`` with the teacher and the probe's orthogonal direction, ``b^2 = 1 - R^2 - S^2``
and a trial margin ``k``,

.. math::

    A(R, S, b; k) = b^2 - \\alpha\\, E\\big[M_2(a, b)\\big], \\qquad a = k - y(R t + S u),

    M_1(a, b) = E_z[(a - b z)_+] = a\\Phi(a/b) + b\\phi(a/b),

    M_2(a, b) = E_z[(a - b z)_+^2] = (a^2 + b^2)\\Phi(a/b) + a b\\,\\phi(a/b) = a M_1 + b^2\\Phi.

The max-margin solution is the largest ``k`` for which ``max_{R,S} A >= 0``, and ``(R, S)`` the
maximiser there. With ``X1 = y t`` and ``X2 = y u``, everything below is built from the
expectations of :class:`Moments` (``w = a / b``). :func:`derivatives` gives ``A`` with its
gradient and Hessian in ``(R, S, b, k)`` (treated as independent), using ``dM2/da = 2 M1``,
``dM2/db = 2 b Phi``, ``dM1/da = Phi``, ``dM1/db = phi``, ``dPhi(w)/db = -w phi / b``;
:func:`angle_derivatives` restricts them to the unit sphere
``(R, S, b) = (cos p, sin p cos q, sin p sin q)``, on which the error is exactly ``eps = p / pi``.

Two kinds of nodes carry the kept law:

* :class:`Nodes`: a plain quadrature, ``E[h] ~= sum W h(X1, X2)`` (``theta = 0``: ``X1 = |t|``,
  no ``X2``; or a two-dimensional tensor rule);
* :class:`ProbeNodes` (``theta > 0``): a quadrature in the probe field ``t_p`` only; for each
  ``t_p`` the Gaussian ``v`` is integrated in closed form on each side of the label flip
  (:func:`_side_moments`).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from prunescale.theory import _special as special

from prunescale.theory._quadrature import bvn_cdf, normal_pdf, panel_rule

_FIELDS = ("m2", "m1", "m1x1", "m1x2", "P", "px1", "px2", "px11", "px12", "px22",
           "q0", "q1", "q2", "qw")


@dataclasses.dataclass(frozen=True)
class Moments:
    """Expectations over the kept law at a batch of points (arrays of shape ``[n]``).

    ``m2 = E[M2]``, ``m1 = E[M1]``, ``m1xi = E[M1 Xi]``, ``P = E[Phi]``, ``pxi = E[Phi Xi]``,
    ``pxij = E[Phi Xi Xj]``, ``q0 = E[phi]``, ``qi = E[phi Xi]``, ``qw = E[phi w]``, with
    ``Phi = Phi(w)``, ``phi = phi(w)``, ``w = a / b``.
    """

    m2: np.ndarray
    m1: np.ndarray
    m1x1: np.ndarray
    m1x2: np.ndarray
    P: np.ndarray
    px1: np.ndarray
    px2: np.ndarray
    px11: np.ndarray
    px12: np.ndarray
    px22: np.ndarray
    q0: np.ndarray
    q1: np.ndarray
    q2: np.ndarray
    qw: np.ndarray


@dataclasses.dataclass(frozen=True)
class Nodes:
    """Quadrature of the kept law: ``E[h] ~= sum(W * h(X1, X2))`` over the nodes of a point.

    Attributes:
        X1: ``y t`` at the nodes, shape ``[N]`` (flat over all points).
        X2: ``y u`` at the nodes, or ``None`` when ``theta = 0`` (then ``S = 0``).
        W: weights including the kept density.
        owner: point of each node (non-decreasing); starts: first node of each point.
    """

    X1: np.ndarray
    X2: np.ndarray | None
    W: np.ndarray
    owner: np.ndarray
    starts: np.ndarray


@dataclasses.dataclass(frozen=True)
class ProbeNodes:
    """Quadrature in the probe field ``t_p >= 0`` (``theta > 0``); ``v`` is exact.

    Attributes:
        tp: probe field at the nodes, shape ``[N]`` (flat over all points).
        W: weights including the kept density ``2 phi(t_p) / f``.
        cos, sin: ``cos(theta)``, ``sin(theta)`` at the nodes.
        owner: point of each node (non-decreasing); starts: first node of each point.
        quad_v: ``(n_v, v_max)``, the Gauss-Legendre rule of thin slivers in ``v``.
        eta: label-flip probability at the nodes (``None``: noiseless labels).
        pi_pm: a label-aware selection policy's keep probabilities ``(pi(t_p), pi(-t_p))`` of
            the observed labels ``+1`` and ``-1`` (``None``: already in ``W``).
        channel: a label channel whose agreement ``a(|t|)`` is not constant
            (:mod:`prunescale.theory.labels`; ``None``: ``eta``).
        sig: for a smooth channel, ``(sigma, omega)`` of shape ``[N, M]``: the nodes and
            weights ``w a'(sigma)`` of the rule in ``sigma = |t|`` (:func:`_channel_sum`).
    """

    tp: np.ndarray
    W: np.ndarray
    cos: np.ndarray
    sin: np.ndarray
    owner: np.ndarray
    starts: np.ndarray
    quad_v: tuple[int, float] = (10, 10.0)
    eta: np.ndarray | None = None
    pi_pm: tuple | None = None
    channel: object = None
    sig: tuple | None = None


def moments(nodes: Nodes | ProbeNodes, R, S, b, k, *, certificate_only: bool = False) -> Moments:
    """All :class:`Moments` at the points ``(R, S, b, k)`` (arrays of shape ``[n]``).

    The thermal average is even in ``b`` (``z -> -z``), so ``|b|`` is used: directions with
    ``b < 0`` (which an unconstrained optimiser may visit) get their physical value.
    ``certificate_only``: only ``m2, m1, m1x1, m1x2, P`` (what the convex certificate reads),
    the others NaN; on :class:`Nodes` that skips most of the integrand work.
    """
    o = nodes.owner
    R, S, b, k = R[o], S[o], np.abs(b)[o], k[o]
    if certificate_only and isinstance(nodes, Nodes):
        vals = _certificate_values(nodes, R, S, b, k)
        sums = np.add.reduceat(vals, nodes.starts, axis=-1)
        nan = np.full_like(sums[0], np.nan)
        m1x2 = np.zeros_like(sums[0]) if nodes.X2 is None else sums[4]
        return Moments(m2=sums[0], m1=sums[1], m1x1=sums[2], m1x2=m1x2, P=sums[3], px1=nan,
                       px2=nan, px11=nan, px12=nan, px22=nan, q0=nan, q1=nan, q2=nan, qw=nan)
    if isinstance(nodes, ProbeNodes):
        vals = _probe_values(nodes, R, S, b, k, nodes.quad_v) * nodes.W
    else:
        vals = _node_values(nodes, R, S, b, k)  # already weighted
    sums = np.add.reduceat(vals, nodes.starts, axis=-1)
    if isinstance(nodes, Nodes) and nodes.X2 is None:
        # theta = 0: u ~ N(0, 1) is independent of everything and S = 0
        z = np.zeros_like(sums[0])
        return Moments(m2=sums[0], m1=sums[1], m1x1=sums[2], m1x2=z, P=sums[3], px1=sums[4],
                       px2=z, px11=sums[5], px12=z, px22=sums[3], q0=sums[6], q1=sums[7], q2=z,
                       qw=sums[8])
    return Moments(**dict(zip(_FIELDS, sums)))


def _node_values(nodes: Nodes, R, S, b, k):
    """Weighted integrands of the :class:`Moments` at the nodes, ``[n_moments, N]``.

    Every integrand is ``M1 = a Phi(w) + b phi(w)``, ``Phi(w)`` or ``phi(w)`` (``w = a / b``)
    times a monomial in ``X1, X2`` (and ``a * M1 + b^2 Phi`` for ``m2``), so the node weights
    are applied to those three once and the rows are written into one preallocated array.
    """
    X1, X2 = nodes.X1, nodes.X2
    a = k - R * X1 if X2 is None else k - R * X1 - S * X2
    w = a / b
    Phi, phi = special.ndtr_pdf(w)
    M1 = a * Phi + b * phi
    W = nodes.W
    m2 = (a * M1 + b * b * Phi) * W
    M1 *= W
    Phi *= W
    phi_w = phi * w
    phi *= W
    phi_w *= W
    if X2 is None:
        rows = (m2, M1, M1 * X1, Phi, Phi * X1, None, phi, phi * X1, phi_w)
    else:  # in the order of _FIELDS
        PX1 = Phi * X1
        rows = (m2, M1, M1 * X1, M1 * X2, Phi, PX1, Phi * X2, PX1 * X1, PX1 * X2,
                Phi * X2 * X2, phi, phi * X1, phi * X2, phi_w)
    out = np.empty((len(rows),) + w.shape)
    for i, r in enumerate(rows):
        if r is None:  # Phi * X1^2 (theta = 0)
            np.multiply(out[4], X1, out=out[i])
        else:
            out[i] = r
    return out


def _certificate_values(nodes: Nodes, R, S, b, k):
    """Weighted integrands of ``m2, m1, m1x1, P`` (and ``m1x2`` at theta > 0), ``[4 or 5, N]``."""
    X1, X2 = nodes.X1, nodes.X2
    a = k - R * X1 if X2 is None else k - R * X1 - S * X2
    Phi, phi = special.ndtr_pdf(a / b)
    M1 = a * Phi + b * phi
    out = np.empty((4 if X2 is None else 5,) + a.shape)
    W = nodes.W
    np.multiply(a * M1 + b * b * Phi, W, out=out[0])
    np.multiply(M1, W, out=out[1])
    np.multiply(out[1], X1, out=out[2])
    np.multiply(Phi, W, out=out[3])
    if X2 is not None:
        np.multiply(out[1], X2, out=out[4])
    return out


def _probe_values(nodes: ProbeNodes, R, S, b, k, quad_v):
    """Integrands of the :class:`Moments` over ``t_p`` with ``v`` integrated exactly.

    With ``c = cos(theta)``, ``s = sin(theta)``, the label is ``y = +1`` for ``v < v0 = t_p c / s``
    and ``-1`` above. On side ``sigma = y`` write ``u' = sigma v`` (so the side is
    ``u' < h = sigma v0``); then, with ``c1 = R c + S s`` and ``c2 = S c - R s``,

        ``a = a0 - c2 u'``,  ``a0 = k - sigma c1 t_p``,
        ``X1 = sigma c t_p - s u'``,  ``X2 = sigma s t_p + c u'``,

    all linear in ``u'``, and every moment is a combination of the Gaussian integrals of
    :func:`_side_moments`. Where the side is a thin sliver (:func:`_thin`) those closed forms
    cancel badly, and the short ``u'`` interval is integrated by Gauss-Legendre instead
    (``quad_v = (n_v, v_max)``). The two sides are summed.

    Label noise (``nodes.eta``): on side ``sigma`` the observed label is ``-sigma`` with
    probability ``eta``; then ``X1, X2`` and ``a - k`` change sign, i.e. ``a0 = k + sigma c1 t_p``,
    ``c2 -> -c2``, ``X1 = -sigma c t_p + s u'``, ``X2 = -sigma s t_p - c u'``: the same closed
    forms, weighted ``(1 - eta)`` and ``eta``.
    """
    tp, c, s = nodes.tp, nodes.cos, nodes.sin
    c1 = R * c + S * s
    c2 = S * c - R * s
    D = np.hypot(b, c2)
    v0 = tp * (c / s)
    phi_v0 = normal_pdf(v0)
    out = 0.0
    eta = nodes.eta
    ch = nodes.channel
    flips = (1.0,) if eta is None and ch is None else (1.0, -1.0)
    for sg in (1.0, -1.0):
        h = sg * v0
        for fl in flips:  # fl = -1: the observed label is -sg (flipped)
            a0 = k - fl * sg * c1 * tp
            cc = fl * c2
            x1, x2 = (fl * sg * c * tp, -fl * s), (fl * sg * s * tp, fl * c)
            if ch is not None:
                vals = _channel_sum(nodes, fl, h, a0, cc, b, D, x1, x2, quad_v)
            else:
                vals = _side(h, phi_v0, a0, cc, b, D, x1, x2, quad_v)
            if eta is not None:
                vals = vals * (1.0 - eta if fl > 0 else eta)
            if nodes.pi_pm is not None:  # observed label fl * sg: m = fl sg t_p
                vals = vals * nodes.pi_pm[0 if fl * sg > 0 else 1]
            out = out + vals
    return out


def _side(h, phi_h, a0, cc, b, D, x1, x2, quad_v):
    """The :class:`Moments` integrands of one side ``u' < h`` (closed form; thin slivers by
    Gauss-Legendre)."""
    J, K, G, L = _side_moments(h, phi_h, a0, cc, b, D)
    vals = _side_values(J, K, G, L, a0, cc, b, x1, x2)
    thin = _thin(h, a0, cc, b)
    if thin.any():
        i = np.flatnonzero(thin)
        vals[:, i] = _sliver_values(h[i], a0[i], cc[i], b[i], (x1[0][i], x1[1][i]),
                                    (x2[0][i], x2[1][i]), *quad_v)
    return vals


def _channel_sum(nodes: ProbeNodes, fl, h, a0, cc, b, D, x1, x2, quad_v):
    """One side under a label channel whose agreement ``a(|t|)`` varies
    (:mod:`prunescale.theory.labels`).

    On the side, ``|t| = sin(theta) (h - u')``, so ``{|t| >= sigma}`` is the side
    ``u' < h - sigma / sin(theta)``. Writing ``F(H)`` for the side integral up to ``H``
    (:func:`_side`, exact in ``u'``) and ``a(s) = a(0) + int_0^s a'``:
    ``E[a(|t|) ...] = a(0) F(h) + sum_j da_j F(h - e_j / s)`` for a step ``a`` (jumps ``da_j``
    at ``e_j``: exact) and ``a(0) F(h) + int_0^inf a'(sigma) F(h - sigma / s) d sigma`` for a
    smooth one (Gauss-Legendre in ``sigma``, ``nodes.sig``). The flipped label (``fl = -1``)
    carries ``1 - a``: ``(1 - a(0)) F(h) - (...)``.
    """
    ch = nodes.channel
    s = nodes.sin
    j = ch.jumps()
    a_0 = j[0] if j is not None else float(ch.agree(0.0))
    base = _side(h, normal_pdf(h), a0, cc, b, D, x1, x2, quad_v)
    out = (a_0 if fl > 0 else 1.0 - a_0) * base
    if j is not None:
        for e, d in zip(j[1], j[2]):
            H = h - e / s
            out = out + (fl * d) * _side(H, normal_pdf(H), a0, cc, b, D, x1, x2, quad_v)
        return out
    sig, om = nodes.sig
    m = sig.shape[1]
    H = (h[:, None] - sig / s[:, None]).ravel()

    def rep(z):
        return np.repeat(z, m)

    vals = _side(H, normal_pdf(H), rep(a0), rep(cc), rep(b), rep(D),
                 (rep(x1[0]), x1[1] if np.ndim(x1[1]) == 0 else rep(x1[1])),
                 (rep(x2[0]), x2[1] if np.ndim(x2[1]) == 0 else rep(x2[1])), quad_v)
    vals = vals.reshape(vals.shape[0], -1, m)
    return out + fl * np.einsum("rnm,nm->rn", vals, om)


#: A side whose support ``u' in (u* - 8 b / |c2|, h)`` is shorter than this is a thin sliver.
_THIN = 1.0
#: Its panels around the smoothed kink ``u*``, in units of the kink width ``b / |c2|``.
_SLIVER_OFFSETS = np.array([-5.0, -2.0, 0.0, 2.0])


def _thin(h, a0, c2, b):
    """Sides where ``{u' < h}`` meets the support of ``Phi(w)`` in a short interval.

    For ``c2 < 0`` the support is ``u' > u* = a0 / c2`` (up to ``8`` widths ``b / |c2|``), so
    the side is the sliver ``(u* - 8 b / |c2|, h)`` between the (nearly parallel) label flip
    and margin lines; for ``c2 >= 0`` the side is a quadrant, never thin.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        return (c2 < 0) & (h - (a0 + 8.0 * b) / c2 < _THIN)


def _sliver_values(h, a0, c2, b, x1, x2, n_v, v_max):
    """:class:`Moments` integrands of thin sides by Gauss-Legendre in ``u'`` on the sliver."""
    width = b / -c2
    center = a0 / c2
    lo = np.maximum(center - 8.0 * width, -v_max)
    hi = np.maximum(np.minimum(h, v_max), lo)
    u, wu = panel_rule(lo, hi, center[:, None] + width[:, None] * _SLIVER_OFFSETS, n_v)
    wu = wu * normal_pdf(u)
    bb = b[:, None]
    a = a0[:, None] - c2[:, None] * u
    w = a / bb
    Phi = special.ndtr(w)
    phi = normal_pdf(w)
    M1 = a * Phi + bb * phi
    X1 = x1[0][:, None] + x1[1][:, None] * u
    X2 = x2[0][:, None] + x2[1][:, None] * u
    rows = [a * M1 + bb * bb * Phi, M1, M1 * X1, M1 * X2, Phi, Phi * X1, Phi * X2,
            Phi * X1 * X1, Phi * X1 * X2, Phi * X2 * X2, phi, phi * X1, phi * X2, phi * w]
    return np.einsum("mij,ij->mi", np.stack(rows), wu)


def _side_moments(h, phi_h, a0, c2, b, D):
    """Gaussian integrals over ``u < h`` for ``a = a0 - c2 u``, ``w = a / b``, ``D^2 = b^2 + c2^2``.

    .. math::

        J_j = \\int_{-\\infty}^h \\phi(u) \\Phi(w) u^j du, \\qquad
        K_j = \\int_{-\\infty}^h \\phi(u) \\phi(w) u^j du.

    ``phi(u) phi(w) = b G N(u; mu, (b/D)^2)`` with ``G = phi(a0/D) / D`` and ``mu = a0 c2 / D^2``,
    so ``K_j = b G L_j`` with ``L_0 = Phi(z)``, ``L_1 = mu Phi(z) - (b/D) phi(z)``,
    ``z = (h - mu) D / b``. ``J_0 = P(u < h, b z' + c2 u < a0) = Phi_2(h, a0/D; c2/D)``, and by
    parts ``J_1 = -phi(h) Phi(w_h) - c2 G L_0``, ``J_2 = -h phi(h) Phi(w_h) + J_0 - c2 G L_1``
    with ``w_h = (a0 - c2 h) / b``. Returns ``((J0, J1, J2), (K0, K1), G, (L0, L1))``.
    """
    kap = a0 / D
    w_h = (a0 - c2 * h) / b
    z = (h * D - c2 * kap) / b
    with np.errstate(divide="ignore", invalid="ignore"):
        J0 = bvn_cdf(h, kap, w_h / h, z / kap)
    Phi_z = special.ndtr(z)
    G = normal_pdf(kap) / D
    L0 = Phi_z
    L1 = (kap * c2 / D) * Phi_z - (b / D) * normal_pdf(z)
    e = phi_h * special.ndtr(w_h)
    J1 = -e - c2 * G * L0
    J2 = J0 - h * e - c2 * G * L1
    return (J0, J1, J2), (b * G * L0, b * G * L1), G, (L0, L1)


def _side_values(J, K, G, L, a0, c2, b, x1, x2):
    """The :class:`Moments` integrands of one side from its Gaussian integrals.

    ``x1 = (p1, r1)`` and ``x2 = (p2, r2)`` give ``X1 = p1 + r1 u``, ``X2 = p2 + r2 u``; ``a``
    is ``a0 - c2 u``. ``E[Phi (al + be u)(ga + de u)] = al ga J0 + (al de + be ga) J1 + be de J2``.
    """
    J0, J1, J2 = J
    K0, K1 = K
    (p1, r1), (p2, r2) = x1, x2

    def phi_lin(al, be):
        return al * J0 + be * J1

    def phi_quad(al, be, ga, de):
        return al * ga * J0 + (al * de + be * ga) * J1 + be * de * J2

    q1 = p1 * K0 + r1 * K1
    q2 = p2 * K0 + r2 * K1
    qw = G * (a0 * L[0] - c2 * L[1])  # E[phi w] = (a0 K0 - c2 K1) / b
    return np.stack([
        phi_quad(a0, -c2, a0, -c2) + b * b * (J0 + qw),  # m2 = E[a^2 Phi + a b phi + b^2 Phi]
        phi_lin(a0, -c2) + b * K0,  # m1
        phi_quad(a0, -c2, p1, r1) + b * q1,  # m1x1
        phi_quad(a0, -c2, p2, r2) + b * q2,  # m1x2
        J0,
        phi_lin(p1, r1),
        phi_lin(p2, r2),
        phi_quad(p1, r1, p1, r1),
        phi_quad(p1, r1, p2, r2),
        phi_quad(p2, r2, p2, r2),
        K0,
        q1,
        q2,
        qw,
    ])


def margin_terms(nodes: Nodes | ProbeNodes, R, S, b, k):
    """Return ``(m2, m1)``: ``E[M2(a, b)]`` and ``E[M1(a, b)]`` (enough for solving in ``k``)."""
    if isinstance(nodes, ProbeNodes):
        m = moments(nodes, R, S, b, k)
        return m.m2, m.m1
    o = nodes.owner
    R, S, b, k = R[o], S[o], np.abs(b)[o], k[o]
    a = k - R * nodes.X1 if nodes.X2 is None else k - R * nodes.X1 - S * nodes.X2
    Phi, phi = special.ndtr_pdf(a / b)
    M1 = a * Phi + b * phi
    sums = np.add.reduceat(np.stack([a * M1 + b * b * Phi, M1]) * nodes.W, nodes.starts, -1)
    return sums[0], sums[1]


@dataclasses.dataclass(frozen=True)
class Derivatives:
    """``A`` and its derivatives in ``x = (R, S, b, k)`` for a batch of points.

    Attributes:
        A: shape ``[n]``.
        grad: ``dA/dx``, shape ``[n, 4]``.
        hess: ``d^2A/dx^2``, shape ``[n, 4, 4]``.
        P: ``E[Phi(a/b)]``, the fraction of (smoothed) support vectors, shape ``[n]``.
    """

    A: np.ndarray
    grad: np.ndarray
    hess: np.ndarray
    P: np.ndarray


def derivatives(nodes: Nodes | ProbeNodes, alpha, R, S, b, k) -> Derivatives:
    """``A``, gradient and Hessian in ``(R, S, b, k)`` (see the module docstring).

    With ``da/dx = (-X1, -X2, 0, 1)``, ``m2 = E[M2]`` has gradient
    ``(-2 E[M1 X1], -2 E[M1 X2], 2 b P, 2 E[M1])`` and Hessian entries ``2 E[Phi Xi Xj]``
    (``i, j`` in ``R, S``), ``-2 E[Phi Xi]`` (with ``k``), ``-2 E[phi Xi]`` (with ``b``),
    ``2 E[phi]`` (``b, k``), ``2 (P - E[phi w])`` (``b, b``), ``2 P`` (``k, k``).
    """
    m = moments(nodes, R, S, b, k)
    n = len(alpha)
    g = np.stack([-2 * m.m1x1, -2 * m.m1x2, 2 * b * m.P, 2 * m.m1], axis=-1)
    H = np.empty((n, 4, 4))
    H[:, 0, 0] = 2 * m.px11
    H[:, 0, 1] = H[:, 1, 0] = 2 * m.px12
    H[:, 1, 1] = 2 * m.px22
    H[:, 0, 3] = H[:, 3, 0] = -2 * m.px1
    H[:, 1, 3] = H[:, 3, 1] = -2 * m.px2
    H[:, 3, 3] = 2 * m.P
    H[:, 0, 2] = H[:, 2, 0] = -2 * m.q1
    H[:, 1, 2] = H[:, 2, 1] = -2 * m.q2
    H[:, 3, 2] = H[:, 2, 3] = 2 * m.q0
    H[:, 2, 2] = 2 * (m.P - m.qw)

    A = b * b - alpha * m.m2
    grad = -alpha[:, None] * g
    grad[:, 2] += 2 * b
    hess = -alpha[:, None, None] * H
    hess[:, 2, 2] += 2.0
    return Derivatives(A=A, grad=grad, hess=hess, P=m.P)


def sphere(p, q):
    """``(R, S, b) = (cos p, sin p cos q, sin p sin q)`` and its first and second derivatives.

    Returns ``(u, du, d2u)`` with shapes ``[n, 3]``, ``[n, 2, 3]`` (d/dp, d/dq) and
    ``[n, 2, 2, 3]``.
    """
    cp, sp, cq, sq = np.cos(p), np.sin(p), np.cos(q), np.sin(q)
    z = np.zeros_like(p)
    u = np.stack([cp, sp * cq, sp * sq], -1)
    up = np.stack([-sp, cp * cq, cp * sq], -1)
    uq = np.stack([z, -sp * sq, sp * cq], -1)
    upq = np.stack([z, -cp * sq, cp * cq], -1)
    uqq = np.stack([z, -sp * cq, -sp * sq], -1)
    du = np.stack([up, uq], 1)
    d2u = np.stack([np.stack([-u, upq], 1), np.stack([upq, uqq], 1)], 1)
    return u, du, d2u


def angle_derivatives(d: Derivatives, du, d2u, dim: int):
    """Restrict :class:`Derivatives` to the sphere in the variables ``y = (angles..., k)``.

    Args:
        d: derivatives in ``(R, S, b, k)``.
        du, d2u: from :func:`sphere`.
        dim: number of free angles, 1 (``theta = 0``: ``p`` only, ``q = pi/2``) or 2.

    Returns:
        ``(grad, hess)`` of ``A`` in ``y``, shapes ``[n, dim + 1]`` and ``[n, dim + 1, dim + 1]``.
    """
    gx = d.grad[:, :3]
    Hxx = d.hess[:, :3, :3]
    Hxk = d.hess[:, :3, 3]
    du = du[:, :dim]
    d2u = d2u[:, :dim, :dim]
    ga = np.einsum("nix,nx->ni", du, gx)
    Haa = np.einsum("nix,nxy,njy->nij", du, Hxx, du) + np.einsum("nijx,nx->nij", d2u, gx)
    Hak = np.einsum("nix,nx->ni", du, Hxk)
    grad = np.concatenate([ga, d.grad[:, 3:4]], -1)
    hess = np.empty((len(gx), dim + 1, dim + 1))
    hess[:, :dim, :dim] = Haa
    hess[:, :dim, dim] = Hak
    hess[:, dim, :dim] = Hak
    hess[:, dim, dim] = d.hess[:, 3, 3]
    return grad, hess
