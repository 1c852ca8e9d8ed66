"""The max-margin perceptron through the origin (hard-margin linear SVM without bias), batched.

Problem, with rows ``z_mu = y_mu x_mu / sqrt(N)`` (scaled so that ``|z_mu| ~ 1``)::

    min_w 1/2 |w|^2   subject to   Z w >= 1          (Z: P x N)

Its solution ``w*`` gives the student ``J = sqrt(N) w*/|w*|`` and the margin
``kappa = sqrt(N) min_mu z_mu.w* / |w*| = sqrt(N) / |w*|`` in the units of the theory.

Algorithm: primal--dual interior-point method (Mehrotra predictor--corrector) on the KKT system
``w = Z^T lambda``, ``Z w - s = 1``, ``s, lambda >= 0``, ``s o lambda = 0``. Eliminating
``ds`` and ``dlambda`` leaves one ``N x N`` symmetric positive-definite system per iteration,

    (I + Z^T D Z) dw = -r_d + Z^T (r_c / s - D r_p),     D = diag(lambda / s),

solved by a Cholesky factorisation shared by predictor and corrector. The IPM converges
globally from ``w = 0, s = lambda = 1`` in a bounded number of iterations (``lax.while_loop``
with a maximum). Once the IPM has (nearly) identified the support vectors
``A = {mu : lambda_mu > s_mu}``, an *active-set polish* solves the equality-constrained
problem on ``A`` exactly,

    lambda_A = (Z_A Z_A^T)^{-1} 1,   w = Z_A^T lambda_A,

which is the exact optimum when ``A`` is the true support set (at most ``N`` rows for generic
data). Each iterate and each polish is judged by the independent certificate of
:mod:`sims.certify`; the loop stops for a student once its certified relative duality gap is
below ``tol``, and the best certified pair ``(w, lambda)`` is returned. Typical cost:
10--15 IPM iterations of ``O(P N^2)`` each.

Batching: the per-student kernels are ``jax.vmap``-ed; the loop runs at the batch level so
that the polish (``lax.cond`` on a batch predicate) is only computed when some student needs it,
and finished students are frozen with ``jnp.where``.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.scipy.linalg import cho_solve

from prunescale.sims.certify import certify
from prunescale.sims._x64 import float64


class Solution(NamedTuple):
    """Batched solver output (leading axis: students)."""

    w: jax.Array  # (B, N) weights of the scaled problem (best certified)
    lam: jax.Array  # (B, P) multipliers
    gap: jax.Array  # (B,) certified relative gap of (w, lam)
    iterations: jax.Array  # (B,) IPM iterations used
    polished: jax.Array  # (B,) whether the returned pair came from the active-set polish


class _State(NamedTuple):
    w: jax.Array
    s: jax.Array
    lam: jax.Array
    best_w: jax.Array
    best_lam: jax.Array
    best_gap: jax.Array
    polished: jax.Array
    it: jax.Array
    done: jax.Array


def _max_step(v, dv):
    """Largest a in (0, 1] with v + a dv >= 0 (v > 0)."""
    ratio = jnp.where(dv < 0, -v / jnp.where(dv < 0, dv, -1.0), jnp.inf)
    return jnp.minimum(1.0, jnp.min(ratio))


#: rows per block of :func:`gram`
GRAM_ROWS = 64


def gram(z, d, p):
    """``Z^T diag(d) Z`` over the first ``p`` rows of ``z`` only (``p`` traced; the rows
    beyond are padding with ``d = 0``), one block of :data:`GRAM_ROWS` rows at a time: the
    ``O(P N^2)`` work grows with the real rows, not with the padded shape, so kept sets can be
    padded to coarse buckets at no cost in the dominant term."""
    rows, n = z.shape
    r = min(GRAM_ROWS, rows)
    if rows % r:  # not a padded shape: one product
        return z.T @ (d[:, None] * z)
    blocks = jnp.ceil(p / r).astype(jnp.int32)

    def body(i, acc):
        zb = jax.lax.dynamic_slice_in_dim(z, i * r, r)
        db = jax.lax.dynamic_slice_in_dim(d, i * r, r)
        return acc + zb.T @ (db[:, None] * zb)

    return jax.lax.fori_loop(0, blocks, body, jnp.zeros((n, n), z.dtype))


def _ipm_step(z, w, s, lam, valid, p):
    """One Mehrotra predictor--corrector step for ``min 1/2|w|^2, Z w >= 1`` (one student).

    Rows outside ``valid`` (padding: zero rows) keep ``lambda = 0`` and ``s`` unchanged, so
    they enter no sum: the step is that of the ``p`` real rows alone."""
    n = z.shape[1]
    rd = w - z.T @ lam
    rp = jnp.where(valid, z @ w - s - 1.0, 0.0)
    mu = (s @ lam) / p
    d = lam / s
    m = jnp.eye(n, dtype=z.dtype) + gram(z, d, p)
    chol = jnp.linalg.cholesky(m)

    def direction(rc):
        rhs = -rd + z.T @ (rc / s - d * rp)
        dw = cho_solve((chol, True), rhs)
        ds = jnp.where(valid, z @ dw + rp, 0.0)
        dlam = jnp.where(valid, (rc - lam * ds) / s, 0.0)
        return dw, ds, dlam

    dw_a, ds_a, dl_a = direction(-s * lam)
    a_aff = jnp.minimum(_max_step(s, ds_a), _max_step(lam, dl_a))
    mu_aff = ((s + a_aff * ds_a) @ (lam + a_aff * dl_a)) / p
    sigma = jnp.clip((mu_aff / mu) ** 3, 0.0, 1.0)
    dw, ds, dl = direction(sigma * mu - s * lam - ds_a * dl_a)
    a = jnp.minimum(_max_step(s, ds), _max_step(lam, dl))
    a = jnp.minimum(1.0, 0.995 * a)
    s_new = jnp.maximum(s + a * ds, 1e-300)
    lam_new = jnp.where(valid, jnp.maximum(lam + a * dl, 1e-300), 0.0)
    return w + a * dw, s_new, lam_new


def _polish(z, s, lam):
    """Exact solve on the predicted support set ``{lambda > s}`` (at most ``min(P, N)`` rows)."""
    p, n = z.shape
    k = min(p, n)
    score = lam / s
    top, idx = jax.lax.top_k(score, k)
    mask = (top > 1.0).astype(z.dtype)
    zk = z[idx] * mask[:, None]
    g = zk @ zk.T + jnp.diag(1.0 - mask)
    chol = jnp.linalg.cholesky(g)
    lk = cho_solve((chol, True), mask)
    # one step of iterative refinement (G is well conditioned, but cheap insurance)
    lk = lk + cho_solve((chol, True), mask - g @ lk)
    w = zk.T @ lk
    lam_full = jnp.zeros((p,), z.dtype).at[idx].set(lk * mask)
    return w, lam_full


def _init(z, valid):
    """Starting point: w = 0, s = lambda = 1 (infeasible start; the IPM handles it);
    ``lambda = 0`` on padded rows."""
    p, n = z.shape
    one = jnp.ones((p,), z.dtype)
    return jnp.zeros((n,), z.dtype), one, jnp.where(valid, one, 0.0)


@float64
@jax.jit
def solve_max_margin(z: jax.Array, tol: float = 1e-6, max_iter: int = 60,
                     polish_mu: float = 1e-4, valid: jax.Array | None = None) -> Solution:
    """Max-margin students for a batch of problems ``z`` (``B x P x N``, rows ``y x / sqrt(N)``).

    ``valid`` (optional boolean ``B x P``): the real rows of padded problems. Padded rows must
    be zero; they keep ``lambda = 0`` and drop out of every sum, step and certificate, so the
    solution is that of the real rows alone (up to rounding), and problems of different
    sizes padded to one shape share one compiled program.

    Phases: (1) IPM until every student has a certified gap ``<= tol`` or a relative
    complementarity ``mean(s o lambda) P / (1/2 |w|^2) <= polish_mu`` (support set identified);
    (2) active-set polish of every student; (3) IPM again for the students still above ``tol``;
    (4) a last polish. A student stops after ``max_iter`` IPM iterations in all; the returned
    ``gap`` is the certified relative duality gap of the best pair found, and callers flag
    ``gap > tol``.
    """
    b, p, n = z.shape
    if valid is None:
        valid = jnp.ones((b, p), bool)
    p_real = jnp.sum(valid, axis=1).astype(z.dtype)
    w0, s0, l0 = jax.vmap(_init)(z, valid)
    cert0 = jax.vmap(certify)(z, w0, l0, valid)
    state = _State(w0, s0, l0, w0, l0, cert0.gap, jnp.zeros((b,), bool),
                   jnp.zeros((b,), jnp.int32), cert0.gap <= tol)

    def bsel(mask, new, old):
        return jnp.where(mask.reshape((-1,) + (1,) * (old.ndim - 1)), new, old)

    def keep_best(st, w, lam, from_polish):
        gap = jax.vmap(certify)(z, w, lam, valid).gap
        better = (gap < st.best_gap) & ~st.done
        return st._replace(best_w=bsel(better, w, st.best_w),
                           best_lam=bsel(better, lam, st.best_lam),
                           best_gap=jnp.where(better, gap, st.best_gap),
                           polished=jnp.where(better, from_polish, st.polished))

    def finish(st):
        return st._replace(done=st.done | (st.best_gap <= tol) | (st.it >= max_iter))

    def rel_mu(st):
        return jnp.sum(st.s * st.lam, axis=1) / (0.5 * jnp.sum(st.w * st.w, axis=1) + 1e-300)

    # One loop through four phases (IPM until every student is done or paused for its
    # polish; polish; IPM until done; polish): a single copy of the IPM step and of the
    # polish in the compiled program, which halves its compilation time.
    def ipm(st, active):
        w, s, lam = jax.vmap(_ipm_step)(z, st.w, st.s, st.lam, valid, p_real)
        st = st._replace(w=bsel(active, w, st.w), s=bsel(active, s, st.s),
                         lam=bsel(active, lam, st.lam),
                         it=st.it + active.astype(jnp.int32))
        return finish(keep_best(st, st.w, st.lam, False))

    def polish(st):
        def do(st):
            pw, pl = jax.vmap(_polish)(z, st.s, st.lam)
            return finish(keep_best(st, pw, pl, True))

        return jax.lax.cond(jnp.any(~st.done), do, lambda st: st, st)

    def body(carry):
        st, phase = carry
        ipm_phase = (phase == 0) | (phase == 2)
        pause = (phase == 0) & (rel_mu(st) <= polish_mu)
        active = ~st.done & ~pause
        run = ipm_phase & jnp.any(active)

        def other(st):
            return jax.lax.cond(ipm_phase, lambda st: st, polish, st)

        st = jax.lax.cond(run, lambda st: ipm(st, active), other, st)
        return st, jnp.where(run, phase, phase + 1)

    st, _ = jax.lax.while_loop(lambda c: c[1] < 4, body, (state, jnp.asarray(0, jnp.int32)))
    return Solution(st.best_w, st.best_lam, st.best_gap, st.it, st.polished)
