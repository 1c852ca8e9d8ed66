"""Certified solver of the replica equations for the max-margin student on pruned data.

For pruning ``(rule, f, theta)`` and load ``alpha = alpha_prune`` it finds the margin
``kappa`` and the overlaps ``(R, S)`` of the max-margin perceptron (Sorscher et al. 2022,
App. A; ``theory._equations``): ``kappa`` is the largest ``k`` with ``max_{R,S} A(R, S; k) >= 0``,
the maximiser is ``(R, S)``, and ``eps = arccos(R) / pi``.

**Parameterisation.** The student direction is ``(R, S, b) = (cos p, sin p cos q, sin p sin q)``
so ``eps = p / pi`` exactly and ``b = sqrt(1 - R^2 - S^2)`` never loses precision. At
``theta = 0`` (and for random pruning, which is the unpruned problem at ``alpha_prune``) the
symmetry ``u -> -u`` gives ``S = 0`` (``q = pi / 2``), one angle and a one-dimensional
expectation; for ``theta > 0`` two angles and a two-dimensional expectation.

**Algorithm** (vectorized over every ``(rule, f, theta)`` curve at once):

1. *Start* at a tiny load ``alpha_0`` where the solution is known in closed form: there every
   kept example is a support vector (``Phi = 1``), ``A`` is quadratic, and
   ``(R, S) ~= sqrt(alpha_0) (E[y t], E[y u])``, ``k ~= 1 / sqrt(alpha_0)``.
2. *Continue* in ``log alpha`` through the requested loads with steps of at most
   ``max_log_step`` (secant predictor), each corrected by Newton's method on the stationarity
   system ``(A, dA/dp, dA/dq) = 0`` in ``(p, q, k)`` with analytic Jacobians.
3. *Certify* each requested point with the convex duality bound of
   :mod:`theory._certificate`, from one more evaluation of the expectations at the Newton
   result: a provably feasible margin (``A >= 0``, from the concavity of ``A`` in ``k``), a
   lower bound from a supporting hyperplane, their relative gap, and the implied bound on the
   error of ``eps``. A point is ``converged`` only if Newton converged, the residual is small
   and the gap is below ``gap_tol``; otherwise its ``reason`` says why. Because the problem is
   convex, a certified point is *the* max-margin solution, never a saddle or a spurious root.

**Cost.** Every expectation is a composite Gauss-Legendre sum over the panels that the kept
range does not clip away (:mod:`theory._quadrature`); for ``theta > 0`` only the probe field
is a quadrature variable and the orthogonal field is integrated in closed form
(:mod:`theory._kept_law`, :mod:`theory._equations`).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from prunescale.theory import pruning as _pr
from prunescale.theory._certificate import Certificate, certify
from prunescale.theory._equations import (
    angle_derivatives,
    derivatives,
    margin_terms,
    moments,
    sphere,
)
from prunescale.theory._kept_law import Policy, Quadrature, nodes_theta, nodes_theta0
from prunescale.theory.capacity import load_capacity, minimise_margin_loss
from prunescale.errors import InputError, NotCertified
from prunescale.theory.result import TheoryResult

#: Default bound on the relative duality gap of a certified point. The gap is quadratic in
#: the distance to the solution, so 1e-12 bounds the error of eps by about 5e-7; in practice
#: Newton's method reaches gaps of order 1e-15.
GAP_TOL = 1e-12
#: Largest residual of the stationarity equations at a certified point.
RESIDUAL_TOL = 1e-8
#: Largest step in log(alpha) between consecutive continuation points (steps adapt below it).
MAX_LOG_STEP = 0.5
#: Load at which continuation starts (or below the smallest requested load).
ALPHA_START = 1e-3
_MAX_NEWTON = 30
_MAX_NEWTON_STEP = 8
_MIN_LOG_STEP = 1e-4
_MAX_CONTINUATION = 20000
#: Points per vectorized evaluation in the certification sweep.
_CHUNK = 256


@dataclasses.dataclass
class _Batch:
    """Static description of G curves solved together (all theta = 0, or all theta > 0)."""

    lo: np.ndarray
    hi: np.ndarray
    fnorm: np.ndarray
    theta: np.ndarray
    dim: int
    quad: Quadrature
    eta: np.ndarray | None = None  # label-flip probability of each curve (None: noiseless)
    policy: Policy | None = None  # soft or label-aware selection (None: the sharp |t_p| rule)
    channel: object = None  # a label channel with a varying agreement a(|t|) (theory.labels)
    # spiked inputs: sqrt(1 + S) per curve (None: isotropic). The student lies on the ellipsoid
    # R^2 / (1 + S) + S_p^2 + b^2 = 1 of unit input-space norm (docs/structure.md)
    sc: np.ndarray | None = None

    @property
    def noisy(self) -> bool:
        """Whether the kept labels are noisy (then the kept data have a capacity)."""
        return self.eta is not None or self.channel is not None

    def take(self, idx) -> "_Batch":
        return _Batch(self.lo[idx], self.hi[idx], self.fnorm[idx], self.theta[idx], self.dim,
                      self.quad, None if self.eta is None else self.eta[idx],
                      None if self.policy is None else self.policy.take(idx), self.channel,
                      None if self.sc is None else self.sc[idx])

    def nodes(self, R, S, b, k):
        if self.dim == 1:
            return nodes_theta0(self.lo, self.hi, self.fnorm, R, b, k, self.quad, self.eta,
                                self.policy, self.channel)
        return nodes_theta(self.lo, self.hi, self.fnorm, self.theta, R, S, b, k, self.quad,
                           self.eta, self.policy, self.channel)


def _unpack(y, dim):
    p = y[:, 0]
    q = y[:, 1] if dim == 2 else np.full_like(p, 0.5 * np.pi)
    return p, q, y[:, -1]


def _sphere(batch: _Batch, p, q):
    """:func:`~theory._equations.sphere`, for spiked inputs stretched to the ellipsoid
    ``(sqrt(1+S) cos p, sin p cos q, sin p sin q)``: the whitened directions of unit norm in
    input space, on which maximising the margin is the spiked max-margin problem
    (``docs/structure.md``)."""
    u, du, d2u = sphere(p, q)
    if batch.sc is not None:
        u[:, 0] *= batch.sc
        du[..., 0] *= batch.sc[:, None]
        d2u[..., 0] *= batch.sc[:, None, None]
    return u, du, d2u


def student_angle(p, sc=None):
    """The whitened student's angle to the teacher at the ellipsoid angle ``p``:
    ``atan2(sin p, sqrt(1+S) cos p)`` (``p`` itself when isotropic), so ``eps = angle / pi``."""
    if sc is None:
        return p
    return np.where(sc == 1.0, p, np.arctan2(np.sin(p), sc * np.cos(p)))


def _system(batch: _Batch, alpha, y):
    """Residual ``F = (A, dA/dangles)`` and Jacobian in ``y = (angles, k)``."""
    dim = batch.dim
    p, q, k = _unpack(y, dim)
    u, du, d2u = _sphere(batch, p, q)
    R, S, b = u[:, 0], u[:, 1], u[:, 2]
    d = derivatives(batch.nodes(R, S, b, k), alpha, R, S, b, k)
    grad, hess = angle_derivatives(d, du, d2u, dim)
    F = np.concatenate([d.A[:, None], grad[:, :dim]], -1)
    J = np.concatenate([grad[:, None, :], hess[:, :dim, :]], 1)
    scale = np.concatenate([(b * b)[:, None], np.repeat(b[:, None], dim, -1)], -1)
    return F, J, F / scale


def _newton(batch: _Batch, alpha, y, max_iter=_MAX_NEWTON, rtol=1e-7):
    """Newton's method on the stationarity system.

    Stops once a full (untruncated) step is below ``rtol`` relative: convergence is quadratic,
    so the error after that step is of order ``rtol^2`` (1e-14 by default, far inside the
    certificate's gap tolerance); the certificate checks the result.

    Returns ``(y, converged, residual, local_max)``, the last being whether the Hessian of
    ``A`` in the angles at the last evaluation is negative definite (a local, hence by
    convexity global, maximum; see :mod:`theory._certificate`).
    """
    y = y.copy()
    n, dim = len(y), batch.dim
    active = np.ones(n, bool)
    conv = np.zeros(n, bool)
    locmax = np.zeros(n, bool)
    resid = np.full(n, np.inf)
    for _ in range(max_iter):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        sub = batch.take(idx)
        F, J, Fs = _system(sub, alpha[idx], y[idx])
        resid[idx] = np.abs(Fs).max(-1)
        locmax[idx] = _negative_definite(J[:, 1:, :dim])
        with np.errstate(all="ignore"):
            ok = np.isfinite(J).all((1, 2)) & np.isfinite(F).all(1)
            det = np.linalg.det(np.where(ok[:, None, None], J, np.eye(dim + 1)))
            ok &= np.isfinite(det) & (det != 0)
            step = np.linalg.solve(np.where(ok[:, None, None], J, np.eye(dim + 1)),
                                   -np.where(ok[:, None], F, 0.0)[..., None])[..., 0]
        yi = y[idx]
        # Trust region: the margin and the angle p stay positive, q in (0, pi).
        scale = np.ones(len(idx))
        for j, lim in ((0, 0.5 * yi[:, 0]), (dim, 0.5 * np.abs(yi[:, dim]))):
            with np.errstate(all="ignore"):
                scale = np.minimum(scale, np.where(np.abs(step[:, j]) > lim,
                                                   lim / np.abs(step[:, j]), 1.0))
        if dim == 2:
            scale = np.minimum(scale, np.where(np.abs(step[:, 1]) > 0.3,
                                               0.3 / np.abs(step[:, 1]), 1.0))
        step *= scale[:, None]
        y[idx] = yi + step
        small = (np.abs(step[:, 0]) <= rtol * yi[:, 0]) & (
            np.abs(step[:, dim]) <= rtol * np.abs(yi[:, dim])
        )
        if dim == 2:
            small &= np.abs(step[:, 1]) <= rtol
        done = small & ok & (scale == 1.0)
        conv[idx[done]] = True
        active[idx[done | ~ok]] = False
    return y, conv, resid, locmax


def _negative_definite(H):
    """Whether each ``[dim, dim]`` matrix (dim 1 or 2) is negative definite."""
    with np.errstate(invalid="ignore"):
        if H.shape[-1] == 1:
            return H[:, 0, 0] < 0
        tr = H[:, 0, 0] + H[:, 1, 1]
        det = H[:, 0, 0] * H[:, 1, 1] - H[:, 0, 1] * H[:, 1, 0]
        return (tr < 0) & (det > 0)


def _initial(batch: _Batch, alpha0):
    """Closed-form start at a tiny load (every kept example is a support vector).

    Spiked inputs: on the ellipsoid the teacher overlap is ``(1 + S) sqrt(alpha0) E[y t]`` and
    ``cos p`` its ``1/sqrt(1 + S)``; :func:`_march_start` shrinks ``alpha0`` by ``1 + S`` so
    that ``cos p`` stays as small as in the isotropic start."""
    n = len(alpha0)
    one = np.ones(n)
    R0, S0, b0, k0 = 0.5 * one, 0.0 * one, np.sqrt(0.75) * one, 1e3 * one
    mom = moments(batch.nodes(R0, S0, b0, k0), R0, S0, b0, k0)  # Phi = 1 at every node
    m1, m2 = mom.px1, mom.px2  # E[y t], E[y u]
    sc = one if batch.sc is None else batch.sc
    R = np.sqrt(alpha0) * m1 * (sc * sc)
    cp = R / sc
    S = np.sqrt(alpha0) * m2
    b = np.sqrt(1 - cp * cp - S * S)
    k = b / np.sqrt(alpha0) + R * m1 + S * m2
    p = np.arctan2(np.hypot(S, b), cp)
    y = [p]
    if batch.dim == 2:
        y.append(np.arctan2(b, S))
    y.append(k)
    return np.stack(y, -1)


def _margin_newton(batch: _Batch, alpha, R, S, b, k, steps: int):
    """``steps`` Newton steps towards the root of ``A = 0`` in ``k`` (direction fixed).

    ``A`` is concave and decreasing in ``k``, so each step lands at or above the root; the
    certificate then moves down to a provably feasible margin.
    """
    for _ in range(steps):
        m2, m1 = margin_terms(batch.nodes(R, S, b, k), R, S, b, k)
        with np.errstate(all="ignore"):
            A = b * b - alpha * m2
            k = np.where(np.isfinite(A) & (m1 > 0), k + A / (2 * alpha * m1), k)
    return k


def _certify(batch: _Batch, alpha, y, k_steps: int = 0):
    """Convex certificate in the direction of ``y`` (after ``k_steps`` Newton steps in ``k``).

    The continuation returns ``k`` converged jointly with the angles, so the solver needs no
    extra step; candidates from elsewhere (:func:`certify_point`) get two. Points are taken in
    chunks of :data:`_CHUNK`, which keeps the node arrays small (cache-resident, and below the
    allocator's threshold for fresh zero pages).
    """
    parts = []
    for lo in range(0, len(y), _CHUNK):
        sl = slice(lo, lo + _CHUNK)
        sub = batch.take(np.arange(len(y))[sl])
        p, q, k = _unpack(y[sl], batch.dim)
        u, _, _ = _sphere(sub, p, q)
        R, S, b = u[:, 0], u[:, 1], u[:, 2]
        with np.errstate(all="ignore"):
            k = _margin_newton(sub, alpha[sl], R, S, b, k, k_steps)
            parts.append(certify(sub.nodes(R, S, b, k), alpha[sl], R, S, b, k,
                                 sc=sub.sc))
    return Certificate(*(np.concatenate(x) for x in zip(*(dataclasses.astuple(c)
                                                             for c in parts))))


@dataclasses.dataclass
class _MarchState:
    """State of the continuation of ``G`` curves through their targets (padded to a table).

    ``T[g, j]``: the ``j``-th load of curve ``g``; ``ptr[g]``: its next target (``n_t[g]`` once
    done); ``la, y``: its last accepted point (``log(alpha)`` and the unknowns), ``la_prev,
    y_prev`` the one before (for the secant predictor); ``h``: its step in ``log(alpha)``;
    ``ys, conv, resid``: the results at the targets.
    """

    T: np.ndarray
    n_t: np.ndarray
    ptr: np.ndarray
    la: np.ndarray
    y: np.ndarray
    la_prev: np.ndarray
    y_prev: np.ndarray
    h: np.ndarray
    ys: np.ndarray
    conv: np.ndarray
    resid: np.ndarray


def _march_start(batch: _Batch, targets: list[np.ndarray], max_log_step: float) -> _MarchState:
    """Step 1 of :func:`_march`: the target table and every curve's first point.

    The start is Newton's method from :func:`_initial` at ``min(ALPHA_START, targets[0] / 2)``;
    a curve whose start does not converge to a local maximum is failed at once (``ptr = n_t``).
    """
    G, dim = len(targets), batch.dim
    n_t = np.array([len(t) for t in targets])
    T = np.full((G, n_t.max()), np.nan)
    for g, t in enumerate(targets):
        T[g, : len(t)] = t
    start = ALPHA_START if batch.sc is None else ALPHA_START / (batch.sc * batch.sc)
    la = np.log(np.minimum(start, 0.5 * T[:, 0]))
    y, ok0, _, lm0 = _newton(batch, np.exp(la), _initial(batch, np.exp(la)))
    ok0 &= lm0
    return _MarchState(T=T, n_t=n_t, ptr=np.where(ok0, 0, n_t), la=la, y=y, la_prev=la.copy(),
                       y_prev=y.copy(), h=np.full(G, max_log_step),
                       ys=np.full((G, T.shape[1], dim + 1), np.nan), conv=np.zeros(T.shape, bool),
                       resid=np.full(T.shape, np.inf))


def _march_predict(st: _MarchState, act, dim: int):
    """Step 2: the next load of the active curves (one step ``h`` towards their next target,
    never past it) and the secant predictor in ``(log p, [q,] log k)`` through the last two
    accepted points. Returns ``(log target, new log load, guess)``."""
    lt = np.log(st.T[act, st.ptr[act]])
    la_new = np.minimum(lt, st.la[act] + st.h[act])
    dl = st.la[act] - st.la_prev[act]
    with np.errstate(all="ignore"):
        tfac = np.where(dl > 0, (la_new - st.la[act]) / dl, 0.0)
    z, zp = _to_log(st.y[act], dim), _to_log(st.y_prev[act], dim)
    return lt, la_new, _from_log(z + tfac[:, None] * (z - zp), dim)


def _march_accept(st: _MarchState, acc, la_new, yn, rn, lt, max_log_step: float) -> None:
    """Step 3: accepted curves move to the new point, their step grows by 1.5 (up to
    ``max_log_step``), and those that reached their target record it and aim at the next."""
    st.la_prev[acc], st.y_prev[acc] = st.la[acc], st.y[acc]
    st.la[acc], st.y[acc] = la_new, yn
    st.h[acc] = np.minimum(max_log_step, 1.5 * st.h[acc])
    at = la_new >= lt
    hit = acc[at]
    st.ys[hit, st.ptr[hit]], st.conv[hit, st.ptr[hit]] = st.y[hit], True
    st.resid[hit, st.ptr[hit]] = rn[at]
    st.ptr[hit] += 1


def _march_reject(st: _MarchState, rej, yn, rn) -> None:
    """Step 4: rejected curves cut their step by 3; below ``_MIN_LOG_STEP`` the curve stops,
    keeping its (uncertified) Newton result at the current target for the certificate to
    judge, and its remaining targets stay NaN."""
    st.h[rej] /= 3.0
    stuck = st.h[rej] < _MIN_LOG_STEP
    dead = rej[stuck]
    st.ys[dead, st.ptr[dead]] = yn[stuck]
    st.resid[dead, st.ptr[dead]] = rn[stuck]
    st.ptr[dead] = st.n_t[dead]


def _march(batch: _Batch, targets: list[np.ndarray], max_log_step: float):
    """Adaptive continuation of every curve in ``log(alpha)`` through its sorted targets.

    Each curve starts at ``min(ALPHA_START, targets[0] / 2)`` from :func:`_initial`. A step is
    accepted when Newton's method converges to a point whose Hessian of ``A`` in the angles is
    negative definite (a local, hence by convexity global, maximum: see
    :mod:`theory._certificate`); otherwise the step in ``log(alpha)`` is cut by 3 and retried.
    Successful steps grow by 1.5 up to ``max_log_step``. Curves advance together, vectorized.
    Steps: :func:`_march_start`, then per round :func:`_march_predict`, :func:`_newton`,
    :func:`_march_accept` and :func:`_march_reject`.

    Returns ``(ys, conv, resid)`` lists (one array per curve, aligned with its targets).
    """
    dim = batch.dim
    st = _march_start(batch, targets, max_log_step)
    for _ in range(_MAX_CONTINUATION):
        act = np.flatnonzero(st.ptr < st.n_t)
        if act.size == 0:
            break
        lt, la_new, guess = _march_predict(st, act, dim)
        yn, cn, rn, lm = _newton(batch.take(act), np.exp(la_new), guess,
                                 max_iter=_MAX_NEWTON_STEP)
        good = cn & lm
        _march_accept(st, act[good], la_new[good], yn[good], rn[good], lt[good], max_log_step)
        _march_reject(st, act[~good], yn[~good], rn[~good])
    G = len(targets)
    return ([st.ys[g, : st.n_t[g]] for g in range(G)], [st.conv[g, : st.n_t[g]] for g in range(G)],
            [st.resid[g, : st.n_t[g]] for g in range(G)])


def _to_log(y, dim):
    z = y.copy()
    z[:, 0] = np.log(y[:, 0])
    z[:, dim] = np.log(y[:, dim])
    return z


def _from_log(z, dim):
    y = z.copy()
    y[:, 0] = np.exp(z[:, 0])
    y[:, dim] = np.exp(z[:, dim])
    return y


def _batch_for(rule: str, f, theta_rad, dim: int, quad: Quadrature, eta=None, tau=None,
               metric: str = "abs", fam=None, channel=None) -> _Batch:
    """Curves of ``rule`` at fractions ``f``, angles ``theta_rad``, label noise ``eta`` and
    selection softness ``tau`` (arrays; ``eta = None``: noiseless; ``tau = None`` with
    ``metric = "abs"``: the sharp rule). A soft or ``signed`` policy keeps the whole line with
    the weights ``pi(m)`` (:class:`theory._kept_law.Policy`, threshold from
    :func:`theory._selection.threshold`). ``fam``: ``(exp, scale, share)`` arrays of the
    power and mixed families (``None``: the defaults)."""
    f = np.asarray(f, dtype=float)
    ex, sc, sh = (None, None, None) if fam is None else fam
    if rule != "random" and (rule == "power" or metric != "abs"
                             or (tau is not None and np.any(tau > 0))
                             or (sh is not None and np.any(sh > 0))):
        th = np.asarray(theta_rad, float)
        e = np.zeros_like(f) if eta is None else np.asarray(eta, float)
        t = np.zeros_like(f) if tau is None else np.asarray(tau, float)
        pol = Policy.of(rule, f, t, metric, e if channel is None else channel, th, ex, sc, sh)
        full = f == 1.0  # pi = 1 everywhere: the whole Gaussian
        b = _batch_for("random", np.ones_like(f), th, dim, quad, eta, channel=channel)
        return dataclasses.replace(b, fnorm=np.where(full, 1.0, f),
                                   policy=None if full.all() else pol)
    if rule == "random":
        lo, hi, fnorm = np.zeros_like(f), np.full_like(f, np.inf), np.ones_like(f)
    else:
        lo, hi = _pr.kept_range(rule, f)
        fnorm = f.copy()
    full = (f == 1.0) | (rule == "random")  # no pruning: the whole Gaussian
    lo, hi = np.where(full, 0.0, lo), np.where(full, np.inf, hi)
    eta = None if eta is None or not np.any(np.asarray(eta) > 0) else np.asarray(eta, float)
    return _Batch(lo, hi, np.where(full, 1.0, fnorm), np.asarray(theta_rad, float), dim, quad,
                  eta, channel=channel)


def certify_point(
    rule: str, f: float, alpha_prune: float, theta_deg: float, R: float, S: float, kappa: float,
    *, quad: Quadrature = Quadrature(), gap_tol: float = GAP_TOL,
):
    """Certify a candidate solution ``(R, S, kappa)`` obtained by any means.

    The candidate's direction ``(R, S, sqrt(1 - R^2 - S^2))`` gets its feasible margin (the
    root of ``A = 0`` in ``k`` near ``kappa``) and the convex certificate of
    :mod:`theory._certificate`. Returns ``(certified, certificate)``; a stationary point of the
    replica equations that is not the max-margin solution (a saddle, or the spurious root with
    ``R < 0`` and ``kappa < 0``) is not certified.
    """
    pr = _pr.Pruning(rule, f, theta_deg)
    alpha = _pr.check_alpha("alpha_prune", alpha_prune)
    dim = 2 if (rule != "random" and pr.f < 1 and pr.theta_deg > 0) else 1
    batch = _batch_for(rule, [pr.f], [pr.theta], dim, quad)
    b = np.sqrt(max(0.0, 1 - R * R - S * S))
    p = np.arctan2(np.hypot(S, b), R)
    y = [p] + ([np.arctan2(b, S)] if dim == 2 else []) + [kappa]
    cert = _certify(batch, np.atleast_1d(alpha), np.array([y], dtype=float), k_steps=2)
    accept = gap_tol + min(float(np.nan_to_num(cert.gap_floor[0], nan=0.0)), GAP_FLOOR_CAP)
    ok = bool(cert.gap[0] <= accept and cert.gap[0] >= -1e-12
              and cert.residual[0] <= RESIDUAL_TOL)
    return ok, cert


def _check_options(gap_tol, max_log_step, quad):
    """One-line ``ValueError`` for a bad solver option (tolerance, step or quadrature)."""
    _pr.check_tol("gap_tol", gap_tol, 1.0, inclusive=True)
    _pr.check_tol("max_log_step", max_log_step, 5.0, inclusive=True)
    if not isinstance(quad, Quadrature):
        raise InputError(f"quad must be a theory.Quadrature; got {quad!r}")
    for name, lo in (("n", 2), ("n_v", 2)):
        v = getattr(quad, name)
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or not lo <= v <= 512:
            raise InputError(f"quad.{name} must be an integer in [{lo}, 512]; got {v!r}")
    for name in ("tail", "v_max"):
        v = getattr(quad, name)
        if not (isinstance(v, (int, float)) and np.isfinite(v) and 0 < v <= 40):
            raise InputError(f"quad.{name} must be a finite number in (0, 40]; got {v!r}")


def solve_max_margin(
    rule: str,
    f,
    alpha_prune=None,
    theta_deg=0.0,
    *,
    alpha_tot=None,
    quad: Quadrature = Quadrature(),
    gap_tol: float = GAP_TOL,
    max_log_step: float = MAX_LOG_STEP,
    strict: bool = False,
    noise=0.0,
    softness=0.0,
    metric: str = "abs",
    power_exp=0.0,
    probe_scale=1.0,
    random_share=0.0,
    labels=None,
    snr=0.0,
) -> TheoryResult:
    """The max-margin engine of :func:`prunescale.theory.solve`: solve the replica equations
    at every point of the broadcast inputs.

    Args:
        rule: ``"hard"``, ``"easy"`` or ``"random"``.
        f: kept fraction(s) in ``(0, 1]``.
        alpha_prune: examples kept per dimension, ``> 0`` (give this or ``alpha_tot``).
        theta_deg: probe angle(s) in degrees, ``[0, 90)``.
        alpha_tot: pool size per dimension; then ``alpha_prune = f * alpha_tot``.
        quad: quadrature resolution.
        gap_tol: largest relative duality gap of a certified point.
        max_log_step: largest continuation step in ``log(alpha)``.
        strict: raise :class:`~prunescale.errors.NotCertified` if any point is not certified
            (by default such points are returned with NaN answers and a ``reason``).
        noise: label-flip probability(ies) ``eta`` in ``[0, 0.5]`` of the pool (the pruning
            metric ``|p|`` ignores labels, so the kept labels are flipped with the same
            probability). The max-margin student exists only while the kept data are
            separable: at loads above the capacity ``alpha_c`` (:func:`theory.capacity.capacity`)
            a point is not certified, with the reason ``"not separable at this load ..."``,
            and has no numbers.
        softness: selection softness(es) ``tau`` in ``[0, 10]``: each pool example is kept
            with probability ``pi(m) = sigmoid((k - m)/tau)`` (hard) or
            ``sigmoid((m - k)/tau)`` (easy), ``E[pi] = f``; ``0`` is the sharp rule
            (``docs/erm.md`` section 7; the same policies as the regularized learners').
        metric: ``"abs"`` (``m = |t_p|``, label-free) or ``"signed"`` (``m = y t_p`` with ``y``
            the observed label). Loss reweighting does not exist for the max-margin student
            (it has no loss to weight: its solution would not change).
        power_exp, probe_scale: ``A`` and ``B`` of the ``power`` policy
            ``pi = min(c sigma'(B p)^A, 1)``; random_share: ``R`` of a mixed ``hard``/``easy``
            policy ``R f + (1 - R) pi_rule`` (``docs/erm.md`` section 7).
        labels: a label channel (:mod:`prunescale.theory.labels`, not a flip: that is
            ``noise``) for every point; ``eps_noisy`` is then measured against its labels.
        snr: spike strength(s) ``S`` of the inputs ``N(0, I + S u u^T)`` (``docs/structure.md``):
            solved in whitened coordinates, where the student's norm is weakened by ``1/(1+S)``
            along the teacher (the direction lies on the ellipsoid ``R'^2/(1+S) + S^2 + b^2 =
            1``); ``theta_deg`` is then the probe's whitened angle
            (:func:`prunescale.theory.spiked.effective_angle_deg`); ``kappa`` is the margin of
            the student of unit input-space norm.

    Returns:
        A :class:`TheoryResult` whose arrays have the broadcast shape of the inputs. Where a
        point is not certified its ``eps, R, S, kappa, eps_bound`` are NaN and ``reason`` says
        why; ``gap`` and ``residual`` keep the diagnostics.

    Raises:
        InputError: one line naming the bad parameter, its value and the allowed range.
        NotCertified: with ``strict=True``, when a point is not certified.

    Example:
        >>> r = solve_max_margin("hard", 0.2, 3.0)
        >>> round(float(r.eps), 6), bool(r.converged)
        (0.034721, True)
    """
    F, AL, TH, shape = _inputs(rule, f, alpha_prune, alpha_tot, theta_deg, gap_tol,
                               max_log_step, quad)
    try:
        NO = np.broadcast_to(_pr.check_noise(noise), shape).ravel()
    except ValueError:
        raise InputError(f"noise must broadcast to the shape {shape} of the other inputs; got "
                         f"shape {np.shape(noise)}") from None
    TAU = np.zeros(F.size)
    if metric != "abs" or np.any(np.asarray(softness) != 0):
        from prunescale.theory import _selection as _sel

        metric = _sel.check_metric(metric)
        try:
            TAU = np.broadcast_to(_sel.check_softness(softness), shape).ravel()
        except ValueError:
            raise InputError(f"softness must broadcast to the shape {shape} of the other "
                             f"inputs; got shape {np.shape(softness)}") from None
    fam = _family(rule, metric, shape, power_exp, probe_scale, random_share)
    from prunescale.theory.labels import as_channel

    channel = as_channel(labels)
    ETA = NO
    if channel is not None:
        if channel.is_flip:
            NO = ETA = np.full(F.size, channel.eta)
            channel = None
        elif np.any(NO != 0):
            raise InputError(f"give noise or labels, not both; got labels {channel}")
        else:
            j = channel.jumps()
            if j is not None and len(j[1]) == 0:  # a constant agreement: a flip in disguise
                ETA = np.full(F.size, 1.0 - j[0])
    solver_channel = channel if channel is not None and not np.any(ETA != NO) else None
    n = F.size
    try:
        SN = np.broadcast_to(_pr.check_snr(snr), shape).ravel().astype(float)
    except ValueError:
        raise InputError(f"snr must broadcast to the shape {shape} of the other inputs; got "
                         f"shape {np.shape(snr)}") from None
    # A kept slab narrower than F_SOLVABLE is below what float64 quadrature resolves: such
    # points are reported as not certified (solved at a placeholder f, then discarded).
    too_small = (F < F_SOLVABLE) & (rule != "random")
    F_orig, F = F, np.where(too_small, 0.5, F)
    out, newton_ok = _solve_curves(rule, F, AL, TH, quad, max_log_step, ETA, TAU, metric, fam,
                                   solver_channel, SN if np.any(SN != 0) else None)

    p, q, k = out["p"], out["q"], out["k"]
    R = np.cos(p)
    S = np.where(out["dim"] == 2, np.sin(p) * np.cos(q), 0.0)  # exactly 0 by symmetry
    spiked = SN != 0
    if spiked.any():  # the ellipsoid point (sqrt(1+S) cos p, S, b), normalised
        sc = np.sqrt(1.0 + SN)
        with np.errstate(all="ignore"):
            nrm = np.hypot(sc * np.cos(p), np.sin(p))
            R = np.where(spiked, sc * np.cos(p) / nrm, R)
            S = np.where(spiked, S / nrm, S)
        p = student_angle(p, sc)
    reason = _reasons(p, q, k, out, newton_ok, gap_tol)
    _capacity_reasons(reason, AL, out["alpha_c"])
    reason[too_small] = f"f below {F_SOLVABLE:g}: the kept slab is narrower than float64 resolves"
    F = F_orig
    converged = reason == ""
    if strict and not converged.all():
        bad = np.flatnonzero(~converged)
        i = bad[0]
        raise NotCertified(
            f"{bad.size} of {n} points not certified; first: f = {F[i]:g}, alpha_prune = "
            f"{AL[i]:g}, theta_deg = {TH[i]:g}: {reason[i]}")

    def answer(x):  # NaN where the point is not certified: never a plausible number
        return np.where(converged, x, np.nan).reshape(shape)

    def shaped(x):
        return np.asarray(x).reshape(shape)

    with np.errstate(over="ignore"):
        alpha_tot = AL / F
    eps = answer(p / np.pi)
    return TheoryResult.build(
        rule=rule, learner="max-margin", metric=metric, reweight=False, shape=shape,
        f=F, alpha_prune=AL, alpha_tot=alpha_tot, theta_deg=TH, noise=NO, softness=TAU, snr=SN,
        power_exp=fam[0], probe_scale=fam[1], random_share=fam[2], eps=eps,
        eps_noisy=(NO.reshape(shape) + (1.0 - 2.0 * NO.reshape(shape)) * eps
                   if channel is None else channel.eps_noisy(eps)),
        labels=channel,
        R=answer(R), S=answer(S), kappa=answer(k), alpha_c=out["alpha_c"],
        converged=converged, residual=out["resid"], gap=out["gap"],
        gap_floor=out["gap_floor"], eps_bound=answer(out["eps_bound"]),
        quad_err=answer(out["quad_err"]), reason=reason.astype(str))


def _inputs(rule, f, alpha_prune, alpha_tot, theta_deg, gap_tol, max_log_step, quad):
    """Step 1 of :func:`solve`: validate and broadcast; flat ``(F, AL, TH)`` and the shape."""
    _pr.check_rule(rule)
    f = _pr.check_f(f)
    theta_deg = _pr.check_theta_deg(theta_deg)
    _check_options(gap_tol, max_log_step, quad)
    if (alpha_prune is None) == (alpha_tot is None):
        if alpha_prune is None:
            raise InputError("give alpha_prune or alpha_tot")
        ap = _pr.check_alpha("alpha_prune", alpha_prune)
        at = _pr.check_alpha("alpha_tot", alpha_tot)
        ap, at_, fb = np.broadcast_arrays(ap, at, f)
        bad = np.abs(ap - fb * at_) > 1e-9 * ap
        if bad.any():
            i = np.flatnonzero(bad.ravel())[0]
            raise InputError(
                f"alpha_prune = {ap.ravel()[i]!r} is inconsistent with f * alpha_tot = "
                f"{(fb * at_).ravel()[i]!r}; give one of them or make alpha_prune = f * alpha_tot"
            )
        alpha_prune = ap
    elif alpha_prune is None:
        alpha_prune = f * _pr.check_alpha("alpha_tot", alpha_tot)
    alpha_prune = _pr.check_alpha("alpha_prune", alpha_prune)
    try:
        f, alpha_prune, theta_deg = np.broadcast_arrays(f, alpha_prune, theta_deg)
    except ValueError:
        raise InputError(
            f"f, alpha_prune and theta_deg must broadcast to one shape; got shapes "
            f"{np.shape(f)}, {np.shape(alpha_prune)} and {np.shape(theta_deg)}") from None
    F, AL, TH = f.ravel(), alpha_prune.ravel(), theta_deg.ravel()
    _pr.check_pool(AL, F)  # the pool, alpha_prune / f, must be a load too
    return F, AL, TH, f.shape


def _family(rule, metric, shape, power_exp, probe_scale, random_share):
    """Flat ``(exp, scale, share)`` arrays of the policy families, validated
    (:func:`prunescale.theory.pruning.check_family`) and broadcast to ``shape``."""
    ex, sc, sh = _pr.check_family(rule, metric, power_exp, probe_scale, random_share)
    try:
        return tuple(np.broadcast_to(a, shape).ravel().astype(float) for a in (ex, sc, sh))
    except ValueError:
        raise InputError(f"power_exp, probe_scale and random_share must broadcast to the shape "
                         f"{shape} of the other inputs; got shapes {np.shape(ex)}, "
                         f"{np.shape(sc)}, {np.shape(sh)}") from None


def _solve_curves(rule, F, AL, TH, quad, max_log_step, NO=None, TAU=None, metric="abs",
                  fam=None, channel=None, SN=None):
    """Step 2 of :func:`solve`: group the points into curves of equal ``(f, theta, noise)``,
    march each curve through its separable loads (:func:`_march`; with noise only those below
    the capacity, :mod:`theory.capacity`), and certify every point under the solving and the
    refined quadrature (:func:`_certify`). Returns the raw arrays and Newton's flags."""
    n = F.size
    NO = np.zeros(n) if NO is None else NO
    TAU = np.zeros(n) if TAU is None else TAU
    EX, SC, SH = (np.zeros(n), np.ones(n), np.zeros(n)) if fam is None else fam
    # Curves: random pruning is the unpruned problem at alpha_prune (f, theta and the policy
    # irrelevant); f = 1: no pruning at all.
    if rule == "random":
        keys = np.stack([np.zeros(n), np.zeros(n), NO, np.zeros(n), np.zeros(n), np.ones(n),
                         np.zeros(n)], -1)
    else:
        full = F == 1.0
        keys = np.stack([F, np.where(full, 0.0, TH), NO, np.where(full, 0.0, TAU),
                         np.where(full, 0.0, EX), np.where(full, 1.0, SC),
                         np.where(full, 0.0, SH)], -1)
    if SN is not None:  # spiked inputs: the spike strength is part of a curve's key
        keys = np.concatenate([keys, SN[:, None]], -1)
    ukeys, inv = np.unique(keys, axis=0, return_inverse=True)
    inv = inv.ravel()

    out = {k: np.full(n, np.nan) for k in ("p", "q", "k", "resid", "gap", "gap_floor",
                                            "eps_bound", "quad_err", "dim")}
    out["alpha_c"] = np.full(n, np.inf)
    newton_ok = np.zeros(n, bool)
    signed = metric == "signed" and rule != "random"
    for dim, pol in ((1, False), (2, False), (1, True), (2, True)):
        # the sharp |t_p| rule (tau = 0, abs) keeps its range; other policies weigh the line
        weighs = (ukeys[:, 3] > 0) | signed | (ukeys[:, 6] > 0) | (rule == "power")
        gsel = np.flatnonzero(((ukeys[:, 1] > 0) == (dim == 2)) & (weighs == pol))
        if gsel.size == 0:
            continue
        gf, gth, geta = ukeys[gsel, 0], np.radians(ukeys[gsel, 1]), ukeys[gsel, 2]
        gtau = ukeys[gsel, 3] if pol else None
        gfam = (ukeys[gsel, 4], ukeys[gsel, 5], ukeys[gsel, 6]) if pol else None
        met = metric if pol else "abs"
        gsc = None if SN is None else np.sqrt(1.0 + ukeys[gsel, 7])
        batch = dataclasses.replace(
            _batch_for(rule, gf, gth, dim, quad, geta, gtau, met, gfam, channel), sc=gsc)
        cap = np.full(gsel.size, np.inf)
        if batch.noisy:
            noisy = np.flatnonzero((geta > 0) | (channel is not None))
            Fmin, _, cap_ok = minimise_margin_loss(batch.take(noisy))
            cap[noisy] = load_capacity(Fmin, cap_ok)
        targets, members = [], []
        for gi, g in enumerate(gsel):
            pts = np.flatnonzero(inv == g)
            out["alpha_c"][pts] = cap[gi]
            pts = pts[AL[pts] < cap[gi] * (1.0 - CAPACITY_RTOL)]  # separable loads only
            tg, pos = np.unique(AL[pts], return_inverse=True)
            targets.append(tg)
            members.append((pts, tg, pos.ravel()))
        live = np.flatnonzero([len(t) > 0 for t in targets])
        if live.size == 0:
            continue
        batch, gf, gth, geta = batch.take(live), gf[live], gth[live], geta[live]
        gsc = None if gsc is None else gsc[live]
        gtau = None if gtau is None else gtau[live]
        gfam = None if gfam is None else tuple(a[live] for a in gfam)
        targets, members = [targets[i] for i in live], [members[i] for i in live]
        ys, convs, _ = _march(batch, targets, max_log_step)
        for gi, (pts, tg, pos) in enumerate(members):
            yv = ys[gi][pos]
            out["p"][pts] = yv[:, 0]
            out["q"][pts] = yv[:, 1] if dim == 2 else 0.5 * np.pi
            out["dim"][pts] = dim
            out["k"][pts] = yv[:, -1]
            newton_ok[pts] = convs[gi][pos]
        # certificate for every point of this dimension
        pts = np.concatenate([m[0] for m in members])
        grp = np.concatenate([np.full(len(m[0]), gi) for gi, m in enumerate(members)])
        y = np.stack([out["p"][pts]] + ([out["q"][pts]] if dim == 2 else []) + [out["k"][pts]],
                     -1)
        cert = _certify(batch.take(grp), AL[pts], y)
        fine = _certify(dataclasses.replace(_batch_for(rule, gf, gth, dim, quad.refined(), geta,
                                                       gtau, met, gfam, channel),
                                            sc=gsc).take(grp), AL[pts], y)
        out["k"][pts] = np.where(np.isfinite(cert.kappa), cert.kappa, y[:, -1])
        out["resid"][pts] = cert.residual
        out["gap"][pts] = cert.gap
        out["gap_floor"][pts] = cert.gap_floor
        out["eps_bound"][pts] = np.maximum(cert.eps_bound, fine.eps_bound)
        out["quad_err"][pts] = fine.eps_bound
    return out, newton_ok


#: loads within this relative distance of the capacity are not solved (separability there is
#: below what the quadrature decides)
CAPACITY_RTOL = 1e-6
#: above this fraction of the capacity a failed certificate is blamed on the vanishing margin
NEAR_CAPACITY = 0.99


def _capacity_reasons(reason, AL, alpha_c) -> None:
    """Mark the points at or beyond the capacity of their noisy kept data (in place)."""
    nan = np.isnan(alpha_c)
    reason[nan] = "capacity of the noisy kept data not found (Newton's method failed)"
    with np.errstate(invalid="ignore"):
        near = (AL >= alpha_c * (1.0 - CAPACITY_RTOL)) & (AL <= alpha_c * (1.0 + CAPACITY_RTOL))
        beyond = AL > alpha_c * (1.0 + CAPACITY_RTOL)
    with np.errstate(invalid="ignore"):
        close = (AL > alpha_c * NEAR_CAPACITY) & ~near & ~beyond
    for i in np.flatnonzero(close):
        if reason[i].startswith("duality gap"):
            reason[i] = (f"too close to the capacity alpha_c = {alpha_c[i]:.6g} of the noisy "
                         "kept data: the margin is too small for a certified duality gap")
    for i in np.flatnonzero(near):
        reason[i] = (f"within {CAPACITY_RTOL:g} of the capacity alpha_c = {alpha_c[i]:.6g} "
                     "of the noisy kept data: separability not decided")
    for i in np.flatnonzero(beyond):
        reason[i] = (f"not separable at this load: alpha_prune = {AL[i]:.6g} is above the "
                     f"capacity alpha_c = {alpha_c[i]:.6g} of the noisy kept data")


#: smallest kept fraction the quadrature resolves (smaller ones are reported not certified)
F_SOLVABLE = 1e-12

#: the rounding floor of a point's gap is added to ``gap_tol`` up to this much
GAP_FLOOR_CAP = 1e-10


def _reasons(p, q, k, out, newton_ok, gap_tol):
    """Why each point is not certified (``""`` where it is).

    A point is certified when its stationarity residual is at most :data:`RESIDUAL_TOL`, its
    relative duality gap at most ``gap_tol`` plus the gap that float64 rounding alone produces
    there (:attr:`theory._certificate.Certificate.gap_floor`, capped at :data:`GAP_FLOOR_CAP`),
    its bounds consistent, its continuation complete and its solution finite.
    """
    n = p.size
    gap = out["gap"]
    accept = gap_tol + np.minimum(np.nan_to_num(out["gap_floor"], nan=0.0), GAP_FLOOR_CAP)
    finite = np.isfinite(p) & np.isfinite(q) & np.isfinite(k)
    reason = np.full(n, "", dtype=object)
    reason[~(out["resid"] <= RESIDUAL_TOL)] = "stationarity residual above tolerance"
    reason[~(gap <= accept)] = "duality gap above tolerance (not the max-margin solution)"
    reason[gap < -1e-12] = "inconsistent bounds (expectations not accurate enough)"
    reason[~np.isfinite(out["eps_bound"])] = "no error bound under the refined quadrature"
    reason[~newton_ok] = "continuation did not reach this load (Newton's method failed)"
    reason[~finite] = "non-finite solution"
    return reason
