"""Certified replica theory of regularized learners (ridge, logistic, hinge) on pruned, noisy data.

Model (``docs/erm.md``): a pool of Gaussian inputs ``x ~ N(0, I_N)``, teacher ``T``, labels
``y = sign(T.x)`` flipped independently with probability ``eta = noise``; the pool is pruned by
the unsigned margin ``|p|`` of a probe at angle ``theta`` (:class:`~prunescale.theory.Pruning`,
the same rules as the max-margin theory), keeping ``P = alpha_prune N`` examples. The student is

.. math::  w = \\arg\\min_w \\sum_\\mu \\ell(y_\\mu, w.x_\\mu/\\sqrt N) + \\frac{\\lambda}{2}|w|^2

with ``ridge`` ``(y - h)^2/2``, ``logistic`` ``log(1 + exp(-y h))``, ``hinge``
``max(0, 1 - y h)``. With the inputs scaled by ``1/sqrt(N)`` this is scikit-learn's
``Ridge(alpha=lam)``, ``LogisticRegression(C=1/lam)`` and ``LinearSVC(loss="hinge", C=1/lam)``,
all with ``fit_intercept=False``.

Replica-symmetric fixed point (exact for convex losses): with ``w = sqrt(N)(m e1 + s e2) +
w_perp``, ``tau^2 = q0 = |w_perp|^2/N``, ``omega = m t + s u + tau xi``, ``h* = prox_{V l}(omega)``,
``f = (h* - omega)/V``,

.. math::  \\hat V = -\\alpha E[\\partial_\\omega f], \\ \\hat q = \\alpha E[f^2],\\
           V = 1/(\\lambda + \\hat V), \\ \\tau = \\sqrt{\\hat q}\\, V, \\
           \\lambda m = \\alpha E[f t], \\ \\lambda s = \\alpha E[f u].

Outputs: ``Q = m^2 + s^2 + q0``, ``R = m/sqrt(Q)``, ``S = s/sqrt(Q)``, ``eps = arccos(R)/pi``
against the clean teacher (can exceed 1/2), ``eps_noisy = eta + (1 - 2 eta) eps`` against noisy
test labels.

Certificate (``docs/erm.md`` section 4): the fixed point is the saddle point of the scalar
convex-concave problem ``min_x max_u L(x, u)``, ``x = (m, s, tau)``,

.. math::  L = \\frac{\\lambda}{2}|x|^2 + \\alpha E[u\\,\\omega_x - \\ell^*(u)]
               - \\tau\\sqrt{\\alpha E[u^2]},

whose primal ``P(x) = max_u L`` is ``lambda``-strongly convex. An upper bound on ``P(x_hat)``
(tangent lines of the concave 1-d function it maximises) and the dual value ``D(u_hat)`` at
``u_hat = -f`` give ``gap = P_up - D >= P(x_hat) - P(x*) >= lambda |x_hat - x*|^2 / 2``, so
``|x_hat - x*| <= sqrt(2 gap / lambda)`` and ``|eps - eps*| <= asin(|x_hat - x*| / |x_hat|)/pi``
(``eps_bound``). This holds exactly for the discretised law of each quadrature rule; the
certificate is computed under the solving rule and under the refined one (node counts doubled),
and ``eps_bound`` is the larger.
"""

from __future__ import annotations

import math

import numpy as np

from prunescale.errors import InputError, NotCertified
from prunescale.theory import pruning as _pr
from prunescale.theory import _erm_law as _law
from prunescale.theory import _selection as _sel
from prunescale.theory._erm_law import ErmQuadrature, Points, moments, nodes_per_point
from prunescale.theory._erm_prox import LEARNERS
from prunescale.theory.result import TheoryResult

#: largest scaled fixed-point residual of a converged point
RES_TOL = 1e-9
#: largest certified bound on |eps - eps*| of a converged point
BOUND_TOL = 1e-5
#: Newton iterations per point
MAX_ITER = 80
#: residual aimed at by the polishing steps after Newton's method (and at most so many steps)
POLISH_TOL = 1e-14
POLISH_ITER = 2
#: (p, z) nodes per vectorized evaluation
_CHUNK_NODES = 2_000_000
LAM_MAX = _pr.LAM_MAX


#: largest number of (point, eigenvalue) terms per block of the spectral sums
_SPEC_BLOCK = 2_000_000


def spectral_sums(spec, lam, Vh, norms: bool = False) -> dict:
    r"""The prior's sums over a covariance spectrum (``docs/spectrum.md`` section 2).

    With ``r_k = 1 / (lam / lambda_k + Vh)`` (the resolvent of the whitened penalty
    ``lam diag(1/lambda_k)`` shifted by ``Vh``) and the weights ``u_k^2`` (teacher) and
    ``e_k^2`` (probe error direction) of ``spec = (lambda_k, u_k^2, e_k^2)``:

    .. math::  A_1 = \sum_k u_k^2 r_k,\ A_v = \sum_k u_k^2 (r_k - A_1)^2,\
               E_1 = \sum_k e_k^2 r_k,\ E_v = \sum_k e_k^2 (r_k - E_1)^2,\
               T_1 = \frac1D \sum_k r_k,\ T_2 = \frac1D \sum_k r_k^2

    (the spreads ``A_v``, ``E_v`` summed as squares, without cancellation). With
    ``norms=True`` also the penalty's weights ``N_u = sum u_k^2 r_k^2 / lambda_k``, ``N_e``,
    ``N_t = (1/D) sum r_k^2 / lambda_k``. At ``lambda_k = 1`` every sum is ``1/(lam + Vh)``
    or its square (spreads ``0``): the isotropic fixed point.
    """
    lk, u2, e2 = spec
    lam = np.asarray(lam, float)
    Vh = np.asarray(Vh, float)
    n, D = lam.size, lk.size
    names = ["A1", "Av", "E1", "Ev", "T1", "T2"] + (["Nu", "Ne", "Nt"] if norms else [])
    out = {k: np.empty(n) for k in names}
    step = max(1, _SPEC_BLOCK // D)
    inv = 1.0 / lk
    for i in range(0, n, step):
        sl = slice(i, i + step)
        r = 1.0 / (lam[sl, None] * inv[None, :] + Vh[sl, None])
        A1 = r @ u2
        E1 = r @ e2
        out["A1"][sl], out["E1"][sl] = A1, E1
        out["Av"][sl] = np.square(r - A1[:, None]) @ u2
        out["Ev"][sl] = np.square(r - E1[:, None]) @ e2
        out["T1"][sl] = r.mean(axis=1)
        r2 = r * r
        out["T2"][sl] = r2.mean(axis=1)
        if norms:
            r2 *= inv[None, :]
            out["Nu"][sl], out["Ne"][sl], out["Nt"][sl] = r2 @ u2, r2 @ e2, r2.mean(axis=1)
    return out


def _fixed_point_map(pts: Points, X, mo):
    """``F(X)``: the right-hand sides of the fixed-point equations (module docstring)."""
    a, lam = pts.alpha, pts.lam
    Vh = -a * mo["df"]
    qh = a * mo["f2"]
    if pts.spec is not None:
        # a covariance spectrum (docs/spectrum.md): w~ = (lam M + Vh)^-1 (b_u u + b_e e +
        # sqrt(qh) xi), M = diag(1/lambda_k); m = u.w~, s = e.w~, V = tr(lam M + Vh)^-1 / D
        sp = spectral_sums(pts.spec, lam, Vh)
        bu = a * mo["ft"] + Vh * X[:, 0]
        be = a * mo["fu"] + Vh * X[:, 1]
        F = np.empty_like(X)
        F[:, 0] = bu * sp["A1"]
        F[:, 1] = be * sp["E1"]
        F[:, 2] = np.sqrt(np.maximum(bu * bu * sp["Av"] + be * be * sp["Ev"]
                                     + np.maximum(qh, 0.0) * sp["T2"], 0.0))
        F[:, 3] = sp["T1"]
        return F
    Vn = 1.0 / (lam + Vh)
    # spiked inputs: the teacher overlap sees the penalty lam / (1 + S) (docs/structure.md)
    Vm = Vn if pts.tw is None else 1.0 / (pts.lam_m + Vh)
    F = np.empty_like(X)
    F[:, 0] = Vm * (a * mo["ft"] + Vh * X[:, 0])
    F[:, 1] = Vn * (a * mo["fu"] + Vh * X[:, 1])
    F[:, 2] = np.sqrt(np.maximum(qh, 0.0)) * Vn
    F[:, 3] = Vn
    return F


def _scaled(X, G):
    """Componentwise residual ``G`` scaled by ``|x|`` (for ``m, s, tau``) and ``V``."""
    nx = np.sqrt(np.sum(X[:, :3] ** 2, axis=1))
    sc = np.stack([nx, nx, nx, X[:, 3]], axis=1)
    return G / sc


def _residual(pts, X, quad):
    mo = moments(pts, X, quad)
    G = _fixed_point_map(pts, X, mo) - X
    r = np.max(np.abs(_scaled(X, G)), axis=1)
    r = np.where(np.isfinite(r), r, np.inf)
    return G, r


def _initial(pts: Points):
    """A crude start: the large-``lambda`` (one-step) student, ``w ~ sum_mu y_mu x_mu``."""
    d0 = {"ridge": 1.0, "logistic": 0.25, "hinge": 0.5}[pts.learner]
    g0 = {"ridge": 1.0, "logistic": 0.5, "hinge": 1.0}[pts.learner]
    a = pts.alpha
    V = 1.0 / (pts.lam + a * d0)
    Vm = 1.0 / (pts.lam_m + a * d0)
    # E[y t] of the kept law at theta = 0 is E|p| (1 - 2 eta); a rough proxy is enough
    yt = (1.0 - 2.0 * pts.eta) * 0.8 + 0.05
    if pts.spec is not None:
        sp = spectral_sums(pts.spec, pts.lam, a * d0)
        return np.stack([a * g0 * yt * sp["A1"], np.zeros_like(V),
                         g0 * np.sqrt(a * sp["T2"]), sp["T1"]], axis=1)
    X = np.stack([a * g0 * yt * Vm, np.zeros_like(V), g0 * np.sqrt(a) * V, V], axis=1)
    return X


def _newton(pts: Points, X, quad: ErmQuadrature, max_iter: int = MAX_ITER, tol: float = 1e-12):
    """:func:`_newton_steps` to ``tol``, then at most :data:`POLISH_ITER` more steps towards
    :data:`POLISH_TOL`: the quasi-Newton iteration stops just below ``tol``, where a small
    ``lam`` can still leave a duality gap above the certificate's tolerance."""
    X, res = _newton_steps(pts, X, quad, max_iter, tol)
    return _newton_steps(pts, X, quad, POLISH_ITER, POLISH_TOL)


def _newton_steps(pts: Points, X, quad: ErmQuadrature, max_iter: int, tol: float):
    """Newton on ``G(X) = F(X) - X`` with a forward-difference Jacobian, backtracking on the
    scaled residual, and a damped fixed-point step where Newton does not decrease it.
    Returns ``(X, residual)``; points stop once their residual is below ``tol``."""
    X = X.copy()
    G, res = _residual(pts, X, quad)
    dim2 = pts.sn > 0
    active = res > tol
    # Jacobians kept between iterations (Broyden-updated after a full step that decreased the
    # residual at least tenfold); a point without one gets a forward-difference Jacobian
    J_keep = np.zeros((pts.size, 4, 4))
    fresh = np.zeros(pts.size, dtype=bool)
    for _ in range(max_iter):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        sub = pts.take(idx)
        Xa, Ga, ra = X[idx], G[idx], res[idx]
        cols = [0, 1, 2, 3] if dim2[idx].any() else [0, 2, 3]
        J = J_keep[idx].copy()
        need = np.flatnonzero(~fresh[idx])
        if need.size:
            sub_n = sub if need.size == idx.size else sub.take(need)
            Xn_, Gn_ = Xa[need], Ga[need]
            Jn = np.zeros((need.size, 4, 4))
            for j in range(4):
                if j not in cols:
                    Jn[:, j, j] = -1.0
                    continue
                scale = np.sqrt(np.sum(Xn_[:, :3] ** 2, axis=1)) if j < 3 else Xn_[:, 3]
                hj = 1e-7 * np.maximum(scale, 1e-12)
                Xp = Xn_.copy()
                Xp[:, j] += hj
                Gp, _ = _residual(sub_n, Xp, quad)
                Jn[:, :, j] = (Gp - Gn_) / hj[:, None]
            J[need] = Jn
        G_start = Ga.copy()
        if len(cols) == 3:
            J[:, 1, :] = 0.0
            J[:, 1, 1] = -1.0
            Ga = Ga.copy()
            Ga[:, 1] = 0.0
        with np.errstate(all="ignore"):
            try:
                step = -np.linalg.solve(J, Ga[..., None])[..., 0]
            except np.linalg.LinAlgError:
                step = np.full_like(Ga, np.nan)
        bad = ~np.all(np.isfinite(step), axis=1)
        step[bad] = Ga[bad]  # fall back to a fixed-point step
        accepted = np.zeros(idx.size, dtype=bool)
        full = np.zeros(idx.size, dtype=bool)
        Xn = Xa.copy()
        Gn = Ga.copy()
        rn = ra.copy()
        for t in (1.0, 0.5, 0.25, 0.1):
            todo = ~accepted
            if not todo.any():
                break
            cand = Xa[todo] + t * step[todo]
            ok = (cand[:, 2] > 0) & (cand[:, 3] > 0)
            cand = np.where(ok[:, None], cand, Xa[todo])
            Gc, rc = _residual(sub.take(np.flatnonzero(todo)), cand, quad)
            better = ok & (rc < ra[todo])
            w = np.flatnonzero(todo)[better]
            Xn[w], Gn[w], rn[w] = cand[better], Gc[better], rc[better]
            accepted[w] = True
            if t == 1.0:
                full[w] = True
        # no decrease: a damped fixed-point step (always feasible: F keeps tau, V > 0)
        rest = np.flatnonzero(~accepted)
        if rest.size:
            cand = Xa[rest] + 0.5 * Ga[rest]
            Gc, rc = _residual(sub.take(rest), cand, quad)
            Xn[rest], Gn[rest], rn[rest] = cand, Gc, rc
        X[idx], G[idx], res[idx] = Xn, Gn, rn
        active[idx] = rn > tol
        # Broyden's update J += (dG - J dx) dx^T / |dx|^2 where the full step was taken and
        # cut the residual tenfold; elsewhere a new forward-difference Jacobian next time
        keep = full & (rn < 0.1 * ra) & np.all(np.isfinite(J.reshape(idx.size, -1)), axis=1)
        dx = Xn - Xa
        dG = Gn - G_start
        with np.errstate(all="ignore"):
            upd = (dG - np.einsum("gij,gj->gi", J, dx)) / np.sum(dx * dx, axis=1)[:, None]
            Jb = J + upd[:, :, None] * dx[:, None, :]
        if len(cols) == 3:
            Jb[:, 1, :] = 0.0
            Jb[:, :, 1] = 0.0
            Jb[:, 1, 1] = -1.0
        keep &= np.all(np.isfinite(Jb.reshape(idx.size, -1)), axis=1)
        J_keep[idx] = np.where(keep[:, None, None], Jb, 0.0)
        fresh[idx] = keep
    return X, res


# --------------------------------------------------------------------------- certificate

def _phi(pts, X, quad, V):
    """``phi(c) = alpha E[M_{V l}(omega)] - tau^2/(2V)`` and ``dphi/dc`` at ``c = tau/V``."""
    mo = moments(pts, X, quad, V_eval=V, cert=True)
    tau = X[:, 2]
    phi = pts.alpha * mo["M"] - tau * tau / (2.0 * V)
    dphi = 0.5 * tau * (pts.alpha * mo["f2"] * V * V / (tau * tau) - 1.0)
    return phi, dphi, pts.alpha * mo["absM"]


#: points (relative to c_hat = tau/V) where phi and its slope are evaluated for the bound
_C_LADDER = np.array([1.0 - 1e-7, 1.0, 1.0 + 1e-7, 2.0, 4.0, 16.0, 64.0, 1024.0, 1e5, 1e7])


def tangent_envelope_max(c, phi, g, e_phi, e_g):
    """Upper bound on ``max_{c >= 0} phi(c)`` of a concave ``phi`` known at points ``c_k``.

    Concavity gives ``phi(c) <= phi(c_k) + phi'(c_k)(c - c_k)`` for every ``k``; with
    ``|phi_k - phi(c_k)| <= e_phi`` and ``|g_k - phi'(c_k)| <= e_g`` (rounding),
    ``phi(c) <= B(c) = min_k [phi_k + e_phi + g_k (c - c_k) + e_g |c - c_k|]``. ``B`` is
    piecewise linear, so its maximum over ``c >= 0`` lies at ``0``, at a ``c_k`` or where two
    of its lines cross; all candidates are evaluated. Returns ``+inf`` if ``B`` is unbounded
    (the largest ``c_k`` still has ``g_k + e_g > 0``). Shapes: ``[G, K]`` -> ``[G]``.
    """
    G, K = c.shape
    top = phi + e_phi[:, None]
    lines_c0 = np.concatenate([c, c], axis=1)
    lines_v0 = np.concatenate([top, top], axis=1)
    slopes = np.concatenate([g + e_g[:, None], g - e_g[:, None]], axis=1)
    with np.errstate(all="ignore"):
        icpt = lines_v0 - slopes * lines_c0  # line value at c = 0
        i, j = np.triu_indices(2 * K, 1)
        cross = (icpt[:, j] - icpt[:, i]) / (slopes[:, i] - slopes[:, j])
    cand = np.concatenate([np.zeros((G, 1)), c, cross], axis=1)
    cand = np.where(np.isfinite(cand) & (cand >= 0), cand, 0.0)
    d = cand[:, :, None] - c[:, None, :]
    env = top[:, None, :] + g[:, None, :] * d + e_g[:, None, None] * np.abs(d)
    best = np.max(np.min(env, axis=2), axis=1)
    kmax = np.argmax(c, axis=1)
    unbounded = (g[np.arange(G), kmax] + e_g) > 0
    return np.where(unbounded, np.inf, best)


def _jacobian(pts: Points, X, G, quad: ErmQuadrature):
    """Forward-difference Jacobian of ``G(X) = F(X) - X`` (the ``s`` row and column the
    identity where ``sin(theta) = 0``, where ``s = 0`` exactly)."""
    J = np.zeros((pts.size, 4, 4))
    dim2 = pts.sn > 0
    for j in range(4):
        scale = np.sqrt(np.sum(X[:, :3] ** 2, axis=1)) if j < 3 else X[:, 3]
        hj = 1e-7 * np.maximum(scale, 1e-12)
        Xp = X.copy()
        Xp[:, j] += hj
        Gp, _ = _residual(pts, Xp, quad)
        J[:, :, j] = (Gp - G) / hj[:, None]
    J[~dim2, 1, :] = 0.0
    J[~dim2, :, 1] = 0.0
    J[~dim2, 1, 1] = -1.0
    return J


def spectral_check(pts: Points, X, quad: ErmQuadrature) -> dict:
    """The check of a fixed point with a covariance spectrum (``docs/spectrum.md`` section 4),
    in the keys of :func:`certificate`.

    The duality-gap certificate is derived for an isotropic (or spiked) penalty only; here the
    returned ``eps_bound`` is the change of ``eps`` under one Newton step of the fixed-point
    equations discretised by ``quad`` from ``X`` (forward-difference Jacobian): under the
    solving rule a measure of the solution's accuracy, under the refined rule an estimate of
    the quadrature error. It is a first-order estimate, not a rigorous bound (``gap`` NaN)."""
    G, res = _residual(pts, X, quad)
    J = _jacobian(pts, X, G, quad)
    Gs = np.where((pts.sn > 0)[:, None], G, G * np.array([1.0, 0.0, 1.0, 1.0]))
    with np.errstate(all="ignore"):
        try:
            step = -np.linalg.solve(J, Gs[..., None])[..., 0]
        except np.linalg.LinAlgError:
            step = np.full_like(G, np.nan)

    def eps_of(Y):
        Q = np.sum(Y[:, :3] ** 2, axis=1)
        return np.arccos(np.clip(Y[:, 0] / np.sqrt(Q), -1.0, 1.0)) / np.pi

    with np.errstate(all="ignore"):
        e0, e1 = eps_of(X), eps_of(X + step)
    est = np.abs(e1 - e0)
    ok = np.all(np.isfinite(step), axis=1) & np.isfinite(est) & np.isfinite(res)
    nan = np.full(pts.size, np.nan)
    return {"gap": nan, "floor": np.zeros(pts.size), "rho": np.sqrt(np.sum(step ** 2, axis=1)),
            "eps_bound": np.where(ok, est, np.inf), "eps_floor": np.zeros(pts.size),
            "bracket": ok, "consistent": ok, "totals": np.zeros(pts.size, dtype=bool)}


def certificate(pts: Points, X, quad: ErmQuadrature) -> dict:
    """Duality-gap certificate of the states ``X`` (module docstring; ``docs/erm.md`` sec. 4).

    The gap ``P_up - D`` is assembled from two parts that are each small and computed without
    subtracting the large totals ``P`` and ``D`` (``docs/erm.md`` section 4.4): with ``L_hat =
    L(x_hat, u_hat)``, ``L_hat - D = (lambda/2)|x_hat - x_D|^2`` (a sum of squares) and
    ``P_up - L_hat``, the tangent envelope of ``phi(c) - sup_c psi(c)``, whose values are bounded
    per node by ``alpha E[(h - omega - V_c f)^2]/(2 V_c)`` minus a closed-form square.

    Returns ``gap`` (``P_up - D``), ``floor`` (its float64 rounding scale), ``rho`` (bound on
    ``|x_hat - x*|``), ``eps_bound``, ``eps_floor`` (the part of ``eps_bound`` due to the
    rounding allowance of ``x_D`` alone, ``~ 64 ulp alpha E[(|p| + |z| + 1)|f|] / (lambda
    |x_hat|)``), ``bracket`` (whether a primal upper bound is finite), ``consistent``
    (``P_up - L_hat >= -floor``, or the totals bound valid) and ``totals``: where the
    difference-of-totals bound (``docs/erm.md`` 4.2-4.3, rigorous on its own) was used
    instead, because the split bound failed or was larger (the smaller valid ``rho`` is kept).
    """
    if pts.spec is not None:
        return spectral_check(pts, X, quad)
    lam, a = pts.lam, pts.alpha
    # spiked inputs: L = (1/2) x^T diag(lam_m, lam, lam) x + ..., lam_m = lam / (1 + S) <= lam;
    # the primal is lam_m-strongly convex (lam_min = lam_m); all equal to lam at S = 0
    tw = np.ones_like(lam) if pts.tw is None else pts.tw
    lam_m = lam * tw
    lam_min = lam_m
    ulp = np.finfo(float).eps
    m, s, tau, V = X[:, 0], X[:, 1], X[:, 2], X[:, 3]
    nx = np.sqrt(m * m + s * s + tau * tau)
    # dual point: u_hat = -f at the solving V; L(x, u_hat) = (lambda/2)|x - x_D|^2 + const
    mo = moments(pts, X, quad, cert=True)
    S = a * mo["f2"]
    sqS = np.sqrt(S)
    mD = a * mo["ft"] / lam_m
    sD = a * mo["fu"] / lam
    tDu = (sqS + a * mo["fxi"]) / lam  # unconstrained; D takes tau_D = max(0, tDu)
    # L_hat - D, each difference padded by the rounding of x_D (sums of ``alpha |f| (|p| + |z|
    # + 1)`` terms divided by lambda) and of the subtraction
    err_x = 64.0 * ulp * (nx + np.sqrt(mD * mD + sD * sD + tDu * tDu)
                          + (a * mo["absF"] + sqS) / lam_min)
    dm, ds = np.abs(m - mD) + err_x, np.abs(s - sD) + err_x
    dt2 = np.where(tDu >= 0, (np.abs(tau - tDu) + err_x) ** 2,
                   (tau + err_x) ** 2 + 2.0 * (tau + err_x) * (np.abs(tDu) + err_x))
    gap_dual = 0.5 * lam * (tw * dm * dm + ds * ds + dt2) * (1.0 + 8.0 * ulp)
    # sup_c psi(c), psi(c) = alpha E[u_hat omega - l*(u_hat) - V_c u_hat^2/2] - tau c/2, V_c =
    # tau/c: sup psi = alpha E[a_hat] - tau sqrt(S), with E[a_hat] = -E[f omega] - E[l*(-f)]
    Ea = -(m * mo["ft"] + s * mo["fu"] + tau * mo["fxi"]) - mo["lstar"]
    sup_psi = a * Ea - tau * sqS
    e_sup = 1e-14 * (a * (mo["absM"] + nx * mo["absF"]) + tau * sqS)
    herr = np.sqrt(mo["herr2"])
    # primal: phi(c) - sup psi <= d_k + phi'(c_k)(c - c_k) (phi concave); d_k bounds
    # phi(c_k) - sup psi from above, the smaller of two upper bounds
    c_hat = tau / V
    cs, ds_, gs, sc, d0, ph = [], [], [], [], [], []
    for r in _C_LADDER:
        ck = c_hat * r
        Vk = tau / ck
        p_k, g_k, s_k = _phi(pts, X, quad, Vk)
        # (1) per node, phi - psi = M_{V_k}(omega) - [u_hat omega - l*(u_hat) - V_k u_hat^2/2]
        #     <= (h_hat - omega - V_k f_hat)^2/(2 V_k) (h_hat is a feasible prox point), and
        #     psi(c_k) - sup psi = -(tau/(2 c_k))(c_k - sqrt(S))^2 exactly: no large terms
        node = a * (herr + np.abs(V - Vk) * np.sqrt(mo["f2"])) ** 2 / (2.0 * Vk)
        close = tau / (2.0 * ck) * (ck - sqS) ** 2
        d1 = node - close
        # (2) the difference of the totals (large terms: only useful far from c_hat)
        d2 = p_k - sup_psi
        e1, e2 = 1e-14 * (node + close), 1e-14 * np.abs(s_k) + e_sup
        # the smaller of the two, a NaN one never taken over a finite one
        use1 = np.isnan(d2 + e2) | (d1 + e1 <= d2 + e2)
        cs.append(ck), gs.append(g_k), sc.append(s_k), ph.append(p_k)
        ds_.append(np.where(use1, d1 + e1, d2 + e2)), d0.append(np.where(use1, d1, d2))
    cs, dk, gs, sc, d0, ph = (np.stack(v, axis=1) for v in (cs, ds_, gs, sc, d0, ph))
    e_g = 1e-14 * 0.5 * tau * (a * mo["f2"] * V * V / (tau * tau) + 1.0)
    zero = np.zeros_like(tau)
    gap_primal = tangent_envelope_max(cs, dk, gs, zero, e_g)
    # the same envelope without the rounding allowances (to tell rounding from a real gap)
    gap_primal0 = tangent_envelope_max(cs, d0, gs, zero, zero)
    bracket = np.isfinite(gap_primal)
    gap = gap_primal + gap_dual
    # exact arithmetic gives gap_primal >= 0 (P(x_hat) >= L_hat); a value below -floor means
    # the allowances did not cover the rounding
    i0 = int(np.argmin(np.abs(_C_LADDER - 1.0)))
    floor = 64.0 * ulp * (np.abs(dk[:, i0]) + gap_dual) + 1e-300
    rho = np.sqrt(2.0 * np.maximum(gap, floor) / lam_min)
    consistent = gap_primal >= -floor
    ok = bracket & consistent & np.isfinite(gap)
    # the part of the bound that the rounding allowances alone give: that of x_D and what the
    # allowances add to the primal envelope (the slopes' e_g over a flat stretch of phi)
    with np.errstate(invalid="ignore"):
        extra = np.where(np.isfinite(gap_primal0), np.maximum(gap_primal - gap_primal0, 0.0),
                         gap_primal)
    rho_floor = np.sqrt(3.0) * err_x + np.sqrt(2.0 * extra / lam_min)
    # the difference-of-totals bound (docs/erm.md 4.3), rigorous on its own: P_up from the
    # phi values themselves, D from x_D. Its rounding floor ~ sqrt(ulp |P| / lambda) is
    # higher, but it needs neither absF nor herr2 nor the per-node square bound; the smaller
    # valid bound of the two is taken (both bound |x_hat - x*|, so their minimum does)
    tD = np.maximum(0.0, tDu)
    dual_t = -a * mo["lstar"] - 0.5 * lam * (tw * mD * mD + sD * sD + tD * tD)
    nxw = np.sqrt(tw * m * m + s * s + tau * tau)  # the Lambda-norm over lam (nx at S = 0)
    e_phi = 1e-14 * np.max(np.abs(sc), axis=1) + 1e-300
    P_up = tangent_envelope_max(cs, ph, gs, e_phi, e_g)
    gap_t = 0.5 * lam * nxw * nxw + P_up - dual_t
    floor_t = 64.0 * ulp * (np.abs(dual_t) + a * mo["absM"] + np.max(np.abs(sc), axis=1)
                            + 0.5 * lam * nxw * nxw)
    ok_t = np.isfinite(P_up) & (gap_t >= -floor_t) & np.isfinite(gap_t)
    rho_t = np.sqrt(2.0 * np.maximum(gap_t, floor_t) / lam_min)
    use_t = ok_t & ~(ok & (rho <= rho_t))
    gap, floor, rho = (np.where(use_t, b, n) for n, b in ((gap, gap_t), (floor, floor_t),
                                                           (rho, rho_t)))
    rho_floor = np.where(use_t, np.sqrt(2.0 * floor_t / lam_min), rho_floor)
    eps_bound = np.where(rho < nx, np.arcsin(np.minimum(rho / nx, 1.0)) / np.pi, 1.0)
    eps_bound = np.where(ok | ok_t, eps_bound, np.inf)
    eps_floor = np.arcsin(np.minimum(rho_floor / nx, 1.0)) / np.pi
    return {"gap": gap, "floor": floor, "rho": rho, "eps_bound": eps_bound,
            "eps_floor": eps_floor, "bracket": bracket | np.isfinite(P_up),
            "consistent": ok | ok_t, "totals": use_t}


# --------------------------------------------------------------------------- public API

def _check_learner(learner) -> str:
    """One of the regularized learners (``ridge``, ``logistic``, ``hinge``), else one line."""
    if not isinstance(learner, str) or learner not in LEARNERS:
        raise InputError(f"learner must be one of {', '.join(LEARNERS)}; got {learner!r}")
    return learner


_check_lam = _pr.check_lam
_check_noise = _pr.check_noise


def _inputs(rule, f, alpha_prune, alpha_tot, theta_deg, lam, noise, softness=0.0):
    _pr.check_rule(rule)
    softness = _sel.check_softness(softness)
    f = _pr.check_f(f)
    theta_deg = _pr.check_theta_deg(theta_deg)
    lam = _check_lam(lam)
    noise = _check_noise(noise)
    if alpha_prune is None and alpha_tot is None:
        raise InputError("give alpha_prune or alpha_tot")
    if alpha_prune is not None and alpha_tot is not None:
        ap = _pr.check_alpha("alpha_prune", alpha_prune)
        at = _pr.check_alpha("alpha_tot", alpha_tot)
        ap, at_, fb = np.broadcast_arrays(ap, at, f)
        bad = np.abs(ap - fb * at_) > 1e-9 * ap
        if bad.any():
            i = np.flatnonzero(bad.ravel())[0]
            raise InputError(f"alpha_prune = {ap.ravel()[i]!r} is inconsistent with f * "
                             f"alpha_tot = {(fb * at_).ravel()[i]!r}; give one of them")
        alpha_prune = ap
    elif alpha_prune is None:
        alpha_prune = f * _pr.check_alpha("alpha_tot", alpha_tot)
    alpha_prune = _pr.check_alpha("alpha_prune", alpha_prune)
    try:
        arrs = np.broadcast_arrays(f, alpha_prune, theta_deg, lam, noise, softness)
    except ValueError:
        raise InputError("f, alpha_prune, theta_deg, lam, noise and softness must broadcast to "
                         f"one shape; got shapes {np.shape(f)}, {np.shape(alpha_prune)}, "
                         f"{np.shape(theta_deg)}, {np.shape(lam)}, {np.shape(noise)}, "
                         f"{np.shape(softness)}") from None
    shape = arrs[0].shape
    F, AL, TH, LA, NO, TA = (np.array(a, dtype=float).ravel() for a in arrs)
    _pr.check_pool(AL, F)  # the pool, alpha_prune / f, must be a load too
    return F, AL, TH, LA, NO, TA, shape


def _policy_mask(rule, TA, metric, reweight, fam=None):
    """Points that need the selection-policy rule (``docs/erm.md`` section 7); the others are
    the sharp ``|p|`` rules of :mod:`prunescale.theory.pruning`, solved exactly as before
    (softness 0 with ``abs``, where reweighting is a no-op; ``random`` without reweighting,
    where softness and metric are irrelevant)."""
    ex, _, sh = (0.0, 1.0, 0.0) if fam is None else fam
    return _sel.weighs_line(rule, TA, metric, ex, sh, reweight)


def _policy_points(rule, learner, F, AL, TH, LA, NO, TA, metric, reweight,
                   fam=(None, None, None), labels=None) -> Points:
    """Points of a selection policy: ``p`` on ``[0, T]``, ``pi`` applied per label
    (:class:`prunescale.theory._kept_law.Policy`; ``fam``: the family parameters;
    ``labels``: a non-flip label channel, which the threshold and the kept law both see)."""
    from prunescale.theory._kept_law import Policy

    th = np.zeros_like(TH) if rule == "random" else np.radians(TH)
    kept = Policy.of(rule, F, TA, metric, NO if labels is None else labels, th, *fam)
    lo, hi = np.zeros_like(F), np.full_like(F, np.inf)
    pts = Points(learner, lo, hi, np.cos(th), np.sin(th), NO, AL, LA, policy=rule,
                 metric=metric, reweight=bool(reweight), k=kept.k, tau=TA.copy(), f=F.copy(),
                 kept=kept)
    pts.labels = labels
    return pts


def _points(rule, learner, F, AL, TH, LA, NO) -> Points:
    if rule == "random":
        lo, hi = np.zeros_like(F), np.full_like(F, np.inf)
        th = np.zeros_like(TH)  # the probe is irrelevant: theta = 0 is the same law
    else:
        lo, hi = _pr.kept_range(rule, F)
        lo, hi = np.asarray(lo, float) * np.ones_like(F), np.asarray(hi, float) * np.ones_like(F)
        th = np.radians(TH)
    return Points(learner, lo, hi, np.cos(th), np.sin(th), NO, AL, LA)


def _solve_chunks(pts: Points, quad: ErmQuadrature, X0=None):
    per = nodes_per_point(pts.learner, quad, theta0=not np.any(pts.sn > 0),
                          policy=bool(pts.policy), labels=pts.labels)
    chunk = max(1, _CHUNK_NODES // per)
    X = np.empty((pts.size, 4))
    res = np.empty(pts.size)
    for i in range(0, pts.size, chunk):
        sl = slice(i, min(i + chunk, pts.size))
        sub = pts.take(np.arange(sl.start, sl.stop))
        x0 = _initial(sub) if X0 is None else X0[sl]
        X[sl], res[sl] = _newton(sub, x0, quad)
    return X, res


def _certify_chunks(pts: Points, X, quad: ErmQuadrature):
    per = nodes_per_point(pts.learner, quad, theta0=not np.any(pts.sn > 0),
                          policy=bool(pts.policy), labels=pts.labels)
    chunk = max(1, _CHUNK_NODES // per)
    outs = []
    for i in range(0, pts.size, chunk):
        idx = np.arange(i, min(i + chunk, pts.size))
        outs.append(certificate(pts.take(idx), X[idx], quad))
    return {k: np.concatenate([o[k] for o in outs]) for k in outs[0]}


def solve_regularized(rule: str, f, alpha_prune=None, alpha_tot=None, theta_deg=0.0, *,
                      learner: str, lam, noise=0.0, softness=0.0, metric: str = "abs",
                      reweight: bool = False, power_exp=0.0, probe_scale=1.0,
                      random_share=0.0, quad: ErmQuadrature = ErmQuadrature(),
                      bound_tol: float = BOUND_TOL, strict: bool = False,
                      labels=None, snr=0.0, spectrum=None, margin: bool = False,
                      start=None) -> TheoryResult:
    """The regularized engine of :func:`prunescale.theory.solve`: solve and certify the ERM
    fixed point at every point of the broadcast inputs.

    Args:
        rule: ``"hard"``, ``"easy"`` or ``"random"`` (:class:`~prunescale.theory.Pruning`).
        f: kept fraction(s) in ``(0, 1]``.
        alpha_prune: kept examples per dimension (give this or ``alpha_tot``).
        alpha_tot: pool size per dimension; ``alpha_prune = f * alpha_tot``.
        theta_deg: probe angle(s) in degrees, ``[0, 90)``.
        learner: ``"ridge"`` (sklearn ``Ridge(alpha=lam)``), ``"logistic"``
            (``LogisticRegression(C=1/lam)``) or ``"hinge"`` (``LinearSVC(loss="hinge",
            C=1/lam)``), each with ``fit_intercept=False`` on inputs ``x/sqrt(N)``.
        lam: ridge penalty(ies) ``lambda`` in ``(0, 1e6]``.
        noise: label-flip probability(ies) ``eta`` in ``[0, 0.5]``.
        softness: softness(ies) ``tau`` in ``[0, 10]`` of the selection policy (``docs/erm.md``
            section 7): each pool example is kept with probability ``sigmoid((k - m)/tau)``
            (hard), ``sigmoid((m - k)/tau)`` (easy) or ``f`` (random), ``k`` such that the
            expected kept fraction is ``f``; ``0`` is the sharp rule of
            :class:`~prunescale.theory.Pruning`.
        metric: ``"abs"`` (``m = |p|``, label-free) or ``"signed"`` (``m = y p``, ``y`` the
            observed, possibly flipped, label).
        reweight: weight each kept example's loss by ``1/pi(m)``, normalised to mean 1 over
            the kept law (a no-op for the sharp rules and for ``random``).
        power_exp, probe_scale, random_share: the power and mixed policy families, as
            :func:`prunescale.theory.solve`.
        quad: quadrature resolution (:class:`ErmQuadrature`).
        bound_tol: largest certified ``eps_bound`` of a converged point.
        strict: raise :class:`~prunescale.errors.NotCertified` if a point is not certified.
        labels: a label channel (:mod:`prunescale.theory.labels`) instead of ``noise``:
            ``probit``, ``binned`` or ``logistic`` (``flip`` is ``noise``), sharp ``|p|``
            rules only; these take the general ``(p, z)`` rule with the channel's label law
            given ``(p, z)`` (:func:`~prunescale.theory._erm_law.label_law`: closed form, or a
            rule in the last Gaussian for logistic). ``eps_noisy`` is then the channel's.
        snr: spike strength(s) ``S`` of the inputs ``N(0, I + S u u^T)`` (``docs/structure.md``):
            solved in whitened coordinates, where only the teacher overlap's penalty changes,
            ``lam m = alpha E[f t]`` becoming ``(lam / (1 + S)) m = alpha E[f t]``;
            ``theta_deg`` is then the probe's whitened angle
            (:func:`prunescale.theory.spiked.effective_angle_deg`).
        spectrum: a :class:`prunescale.theory.spectrum.Spectrum` (``docs/spectrum.md``): the
            prior's closed forms become sums over the spectrum (:func:`spectral_sums`), and
            each point is checked by :func:`spectral_check` (an estimate, not the duality-gap
            certificate); ``None``: isotropic inputs. Not with ``snr``.
        margin: also report ``kappa = 1 / sqrt(|w|^2 / N)``, the margin of the hinge solution
            normalised by its norm (the max-margin ``kappa`` where the hinge solution is the
            hard-margin one).
        start: starting states ``(m, s, tau, V)``, one row per point of the flattened
            broadcast inputs (for example a nearby solution), or ``None`` (the engine's own).
            Only the start changes: each point is solved and certified on its own.

    Returns:
        :class:`~prunescale.theory.TheoryResult` of the broadcast shape (``kappa``,
        ``alpha_c`` and ``gap_floor`` NaN); NaN answers and a ``reason`` where a point is not
        certified.

    Example:
        >>> r = solve_regularized("random", 1.0, 2.0, learner="ridge", lam=0.1)
        >>> round(float(r.eps), 6), bool(r.converged)
        (0.195533, True)
    """
    learner = _check_learner(learner)
    _pr.check_tol("bound_tol", bound_tol, 0.5)
    if not isinstance(quad, ErmQuadrature):
        raise InputError(f"quad must be an ErmQuadrature; got {quad!r}")
    quad.refined()  # the certificate's second rule must be valid too (InputError otherwise)
    metric = _sel.check_metric(metric)
    reweight = _sel.check_reweight(reweight)
    F, AL, TH, LA, NO, TA, shape = _inputs(rule, f, alpha_prune, alpha_tot, theta_deg, lam,
                                           noise, softness)
    from prunescale.theory.solver import _family

    fam = _family(rule, metric, shape, power_exp, probe_scale, random_share)
    try:
        SN = np.broadcast_to(_pr.check_snr(snr), shape).ravel().astype(float)
    except ValueError:
        raise InputError(f"snr must broadcast to the shape {shape} of the other inputs; got "
                         f"shape {np.shape(snr)}") from None
    TW = 1.0 / (1.0 + SN) if np.any(SN != 0) else None  # None: the isotropic code path
    SPEC = None
    if spectrum is not None:
        if TW is not None:
            raise InputError("give snr or spectrum, not both")
        SPEC = (spectrum.eigenvalues, spectrum.teacher_share, spectrum.probe_share)
    pol = _policy_mask(rule, TA, metric, reweight, fam)
    ch = _check_channel(labels, NO, learner)
    X = np.empty((F.size, 4))
    res = np.empty(F.size)
    kap = np.full(F.size, np.nan)
    cert, cert_ref = {}, {}
    for mask in (~pol, pol):
        idx = np.flatnonzero(mask)
        if idx.size == 0:
            continue
        args = (F[idx], AL[idx], TH[idx], LA[idx], NO[idx])
        X0 = None if start is None else np.asarray(start, float).reshape(F.size, 4)[idx]
        if mask is pol:
            pts = _policy_points(rule, learner, *args, TA[idx], metric, reweight,
                                 tuple(a[idx] for a in fam), labels=ch)
            pts.tw = None if TW is None else TW[idx]
            pts.spec = SPEC
            if X0 is None:
                X0 = _sharp_start(rule, learner, args, TA[idx], metric, pts, quad)
        else:
            pts = _points(rule, learner, *args)
            pts.labels = ch
            pts.tw = None if TW is None else TW[idx]
            pts.spec = SPEC
        X[idx], res[idx], c1, c2 = _solve_points(pts, quad, X0)
        for dst, src in ((cert, c1), (cert_ref, c2)):
            for k, v in src.items():
                dst.setdefault(k, np.empty(F.size, dtype=v.dtype))[idx] = v
        if margin:
            kap[idx] = _margin_kappa(pts, X[idx], quad)
    m, s, tau, V = X.T
    Q = m * m + s * s + tau * tau
    R = np.clip(m / np.sqrt(Q), -1.0, 1.0)
    S = s / np.sqrt(Q)
    eps = np.arccos(R) / np.pi
    eps_bound = np.maximum(cert["eps_bound"], cert_ref["eps_bound"])
    eps_floor = np.maximum(cert["eps_floor"], cert_ref["eps_floor"])
    reason = np.full(F.size, "", dtype=object)
    finite = np.all(np.isfinite(X), axis=1)
    reason[~(cert_ref["bracket"] & cert_ref["consistent"])] = (
        "refined-quadrature certificate failed (no tangent bracket or dual above primal)")
    for i in np.flatnonzero(~(eps_bound <= bound_tol)):
        if SPEC is not None:
            reason[i] = (f"estimated eps error {eps_bound[i]:.2g} above tol = {bound_tol:g} "
                         "(a Newton step of the fixed point under the solving or the refined "
                         "quadrature; docs/spectrum.md)")
        elif not np.isfinite(eps_bound[i]):
            reason[i] = "certificate failed (no tangent bracket or dual above primal)"
        elif eps_bound[i] >= 1.0:
            reason[i] = (f"certified eps bound above tol = {bound_tol:g}: the certified "
                         "ball around the solution contains the origin (no angular bound)")
        elif eps_floor[i] > 0.5 * bound_tol:
            reason[i] = (f"certified eps bound {eps_bound[i]:.2g} above tol = "
                         f"{bound_tol:g}: float64 rounding floor ({eps_floor[i]:.2g}, growing "
                         "as lambda -> 0; docs/erm.md 4.4): lambda or bound_tol too small")
        else:
            reason[i] = (f"certified eps bound {eps_bound[i]:.2g} above tol = "
                         f"{bound_tol:g}: duality gap (solution or quadrature not accurate enough)")
    reason[~(res <= RES_TOL)] = f"fixed-point residual above {RES_TOL:g} (Newton did not converge)"
    reason[~finite] = "fixed-point iteration diverged"
    reason = reason.astype(str)
    converged = reason == ""
    if strict and not converged.all():
        i = np.flatnonzero(~converged)[0]
        raise NotCertified(f"{int((~converged).sum())} of {F.size} points not certified; "
                           f"first: f = {F[i]:g}, alpha_prune = {AL[i]:g}, theta_deg = "
                           f"{TH[i]:g}, lam = {LA[i]:g}, noise = {NO[i]:g}, softness = "
                           f"{TA[i]:g}: {reason[i]}")

    def answer(x):
        return np.where(converged, x, np.nan).reshape(shape)

    def shaped(x):
        return np.asarray(x).reshape(shape)

    def bound(x):  # kept where not converged; NaN only where no bound could be computed
        return np.where(np.isfinite(x) & finite, x, np.nan).reshape(shape)

    return TheoryResult.build(
        rule=rule, learner=learner, metric=metric, reweight=reweight, shape=shape, f=F,
        alpha_prune=AL, alpha_tot=AL / F, theta_deg=TH, lam=LA, noise=NO, softness=TA,
        power_exp=fam[0], probe_scale=fam[1], random_share=fam[2],
        eps=answer(eps), eps_noisy=answer(NO + (1.0 - 2.0 * NO) * eps if ch is None
                                          else ch.eps_noisy(eps)), R=answer(R),
        S=answer(S), Q=answer(Q), q0=answer(tau * tau), m=answer(m), s=answer(s),
        kappa=answer(kap),
        V=answer(V), converged=converged, residual=res, gap=cert["gap"],
        eps_bound=bound(eps_bound), quad_err=bound(cert_ref["eps_bound"]), reason=reason)


def _margin_kappa(pts: Points, X, quad: ErmQuadrature):
    """``1 / sqrt(|w|^2 / N)`` at the states ``X``: ``|w|^2 / N = m^2 + s^2 + tau^2`` for
    isotropic inputs; with a spectrum the penalty norm ``w~^T diag(1/lambda_k) w~ / D`` from
    the prior's sums (:func:`spectral_sums` with ``norms=True``)."""
    m, s, tau, V = X.T
    if pts.spec is None:
        return 1.0 / np.sqrt(m * m + s * s + tau * tau)
    mo = moments(pts, X, quad)
    a = pts.alpha
    Vh = -a * mo["df"]
    sp = spectral_sums(pts.spec, pts.lam, Vh, norms=True)
    bu = a * mo["ft"] + Vh * m
    be = a * mo["fu"] + Vh * s
    nrm = bu * bu * sp["Nu"] + be * be * sp["Ne"] + a * mo["f2"] * sp["Nt"]
    return 1.0 / np.sqrt(nrm)


def _check_channel(labels, NO, learner):
    """The non-flip channel of :func:`solve_regularized` (``None`` for none or a flip, which
    the caller passes as ``noise``); one-line :class:`InputError` for what is not
    supported."""
    from prunescale.theory.labels import as_channel

    ch = as_channel(labels)
    if ch is None:
        return None
    if ch.is_flip:
        raise InputError(f"labels {ch}: pass a flip channel as noise = {ch.eta:g}")
    if np.any(NO != 0):
        raise InputError(f"give noise or labels, not both; got labels {ch}")
    return ch


def _sharp_start(rule, learner, args, TA, metric, pts: Points, quad: ErmQuadrature):
    """Starting states for soft selection-policy points whose own rule is costly (the
    omega-outer rule with an inner rule in ``p``, :func:`~prunescale.theory._erm_law.
    omega_kernel_policy`): the solution of the sharp rule at the same kept fraction (label-free
    metric: the sharp ``|p|`` rule; a sharp point is a much cheaper solve), where it solved;
    ``None`` (the crude start) otherwise. Only the start changes: the soft point is solved
    and certified on its own rule."""
    if not (_law.omega_kernel_policy(pts) and metric == "abs" and rule in ("hard", "easy")):
        return None
    with np.errstate(all="ignore"):
        sharp = _points(rule, learner, *args)
        sharp.tw = pts.tw
        sharp.spec = pts.spec
        Xs, rs = _solve_chunks(sharp, quad)
    X0 = _initial(pts)
    ok = (rs <= RES_TOL) & np.all(np.isfinite(Xs), axis=1)
    X0[ok] = Xs[ok]
    return X0


def _solve_points(pts: Points, quad: ErmQuadrature, X0=None):
    """Solve, continue and certify (solving and refined rule) one batch of points."""
    with np.errstate(all="ignore"):
        X, res = _solve_chunks(pts, quad, X0)
        # continuation: restart failed points from a solved neighbour with the same parameters
        # except alpha (nearest in log alpha)
        X, res = _continue(pts, X, res, quad)
        cert = _certify_chunks(pts, X, quad)
        cert_ref = _certify_chunks(pts, X, quad.refined())
    return X, res, cert, cert_ref


def _continue(pts: Points, X, res, quad, n_steps: int = 12):
    """Continuation in ``alpha`` for points Newton did not solve from the crude start.

    For each failed point, take the solved point with the same ``(lo, hi, theta, eta, lam)``
    and nearest ``log alpha`` (or, if none, the same point at ``alpha = 1e-2``, which the
    crude start solves) and march geometrically in ``alpha`` to the target, each step started
    from the previous solution."""
    bad = np.flatnonzero(~(res <= 1e-12))
    if bad.size == 0:
        return X, res
    cols = [pts.lo, pts.hi, pts.c, pts.eta, pts.lam]
    if pts.tw is not None:
        cols.append(pts.tw)
    if pts.policy:
        cols += [pts.k, pts.tau, pts.f]
    key = np.stack(cols, axis=1)
    good = np.flatnonzero(res <= 1e-12)
    for i in bad:
        same = good[np.all(np.isclose(key[good], key[i], rtol=0, atol=0, equal_nan=True), axis=1)]
        sub = pts.take(np.array([i]))
        if same.size:
            j = same[np.argmin(np.abs(np.log(pts.alpha[same] / pts.alpha[i])))]
            a0, x = pts.alpha[j], X[j:j + 1]
        else:
            a0 = min(1e-2, pts.alpha[i])
            sub.alpha = np.array([a0])
            x, r0 = _newton(sub, _initial(sub), quad)
            if not r0[0] <= 1e-12:
                continue
        for a in np.exp(np.linspace(math.log(a0), math.log(pts.alpha[i]), n_steps + 1)[1:]):
            sub.alpha = np.array([a])
            x, r = _newton(sub, x, quad)
            if not np.isfinite(r[0]):
                break
        X[i], res[i] = x[0], r[0]
    return X, res
