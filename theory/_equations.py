"""The Gardner exponent of the max-margin student and its derivatives.

Notation (Sorscher et al. 2022, App. A; ``shared/theory-notes.md``): teacher field ``t``, the
probe's orthogonal field ``u``, label ``y = sign(t)``, thermal noise ``z ~ N(0, 1)``. For student
overlaps ``(R, S)`` with the teacher and the probe's orthogonal direction, ``b^2 = 1 - R^2 - S^2``
and a trial margin ``k``,

.. math::

    A(R, S, b; k) = b^2 - \\alpha\\, E\\big[M_2(a, b)\\big], \\qquad a = k - y(R t + S u),

    M_1(a, b) = E_z[(a - b z)_+] = a\\Phi(a/b) + b\\phi(a/b),

    M_2(a, b) = E_z[(a - b z)_+^2] = (a^2 + b^2)\\Phi(a/b) + a b\\,\\phi(a/b).

The max-margin solution is the largest ``k`` for which ``max_{R,S} A >= 0``, and ``(R, S)`` the
maximiser there. With ``X1 = y t`` and ``X2 = y u`` at the quadrature nodes, this module
evaluates ``A`` with its gradient and Hessian in ``(R, S, b, k)`` (treated as independent),
using ``dM2/da = 2 M1``, ``dM2/db = 2 b Phi``, ``dM1/da = Phi``, ``dM1/db = phi``,
``dPhi(w)/db = -w phi / b``. :func:`angle_derivatives` then restricts them to the unit sphere
``(R, S, b) = (cos p, sin p cos q, sin p sin q)``, on which the error is exactly ``eps = p / pi``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import special

from theory._quadrature import normal_pdf


@dataclasses.dataclass(frozen=True)
class Nodes:
    """Quadrature of the kept law for a batch of points: ``E[h] ~= sum(W * h(X1, X2), -1)``.

    Attributes:
        X1: ``y t`` at the nodes, shape ``[n_points, n_nodes]``.
        X2: ``y u`` at the nodes, same shape, or ``None`` when ``theta = 0`` (then ``S = 0``).
        W: weights including the kept density, same shape.
    """

    X1: np.ndarray
    X2: np.ndarray | None
    W: np.ndarray


def _field(nodes: Nodes, R, S):
    h = R[:, None] * nodes.X1
    if nodes.X2 is not None:
        h = h + S[:, None] * nodes.X2
    return h


def margin_terms(nodes: Nodes, R, S, b, k):
    """Return ``(m2, m1)``: ``E[M2(a, b)]`` and ``E[M1(a, b)]`` (enough for solving in ``k``)."""
    a = k[:, None] - _field(nodes, R, S)
    bb = b[:, None]
    w = a / bb
    Phi = special.ndtr(w)
    phi = normal_pdf(w)
    M1 = a * Phi + bb * phi
    M2 = (a * a + bb * bb) * Phi + a * bb * phi
    W = nodes.W
    return np.einsum("ij,ij->i", W, M2), np.einsum("ij,ij->i", W, M1)


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


def derivatives(nodes: Nodes, alpha, R, S, b, k) -> Derivatives:
    """``A``, gradient and Hessian in ``(R, S, b, k)`` (see the module docstring)."""
    a = k[:, None] - _field(nodes, R, S)
    bb = b[:, None]
    w = a / bb
    Phi = special.ndtr(w)
    phi = normal_pdf(w)
    M1 = a * Phi + bb * phi
    M2 = (a * a + bb * bb) * Phi + a * bb * phi
    W = nodes.W
    X1 = nodes.X1

    def E(h):
        return np.einsum("ij,ij->i", W, h)

    WPhi = W * Phi
    Wphi = W * phi
    m2 = E(M2)
    m1 = E(M1)
    m1x1 = E(M1 * X1)
    P = WPhi.sum(-1)
    px1 = np.einsum("ij,ij->i", WPhi, X1)
    px11 = np.einsum("ij,ij->i", WPhi, X1 * X1)
    q0 = Wphi.sum(-1)
    q1 = np.einsum("ij,ij->i", Wphi, X1)
    qw = np.einsum("ij,ij->i", Wphi, w)
    if nodes.X2 is None:  # theta = 0: u is independent of everything and S = 0
        m1x2 = px2 = px12 = q2 = np.zeros_like(m2)
        px22 = P
    else:
        X2 = nodes.X2
        m1x2 = E(M1 * X2)
        px2 = np.einsum("ij,ij->i", WPhi, X2)
        px12 = np.einsum("ij,ij->i", WPhi, X1 * X2)
        px22 = np.einsum("ij,ij->i", WPhi, X2 * X2)
        q2 = np.einsum("ij,ij->i", Wphi, X2)

    n = len(alpha)
    # Gradient and Hessian of m2 = E[M2] in x = (R, S, b, k); da/dx = (-X1, -X2, 0, 1).
    g = np.stack([-2 * m1x1, -2 * m1x2, 2 * b * P, 2 * m1], axis=-1)
    H = np.empty((n, 4, 4))
    H[:, 0, 0] = 2 * px11
    H[:, 0, 1] = H[:, 1, 0] = 2 * px12
    H[:, 1, 1] = 2 * px22
    H[:, 0, 3] = H[:, 3, 0] = -2 * px1
    H[:, 1, 3] = H[:, 3, 1] = -2 * px2
    H[:, 3, 3] = 2 * P
    H[:, 0, 2] = H[:, 2, 0] = -2 * q1
    H[:, 1, 2] = H[:, 2, 1] = -2 * q2
    H[:, 3, 2] = H[:, 2, 3] = 2 * q0
    H[:, 2, 2] = 2 * (P - qw)

    A = b * b - alpha * m2
    grad = -alpha[:, None] * g
    grad[:, 2] += 2 * b
    hess = -alpha[:, None, None] * H
    hess[:, 2, 2] += 2.0
    return Derivatives(A=A, grad=grad, hess=hess, P=P)


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
