"""Certified regularized students (ridge, logistic, hinge) on pruned data with label noise.

Per student ``i`` (key ``k_i = fold_in(key(seed), i)``, as in :func:`prunescale.sims.simulate`):

1. the teacher and the ``P`` kept examples from :func:`prunescale.sims.sample_kept` with key
   ``k_i`` (the same data as the max-margin simulator's student ``i``);
2. each label flipped independently with probability ``noise`` (key ``fold_in(k_i, FLIP)``);
   the pruning metric ``|p|`` ignores labels, so flipping the kept labels has exactly the law
   of flipping the pool's;
3. the student

   .. math::  w = \\arg\\min_w F(w), \\quad F(w) = \\sum_\\mu \\ell(y_\\mu, w.z_\\mu)
              + \\frac{\\lambda}{2} |w|^2, \\quad z_\\mu = x_\\mu / \\sqrt N,

   ``ridge`` ``(y - h)^2/2`` (Cholesky solve of ``(Z^T Z + lam I) w = Z^T y`` with one step
   of iterative refinement), ``logistic`` ``log(1 + e^{-y h})`` (Newton with backtracking),
   ``hinge`` ``max(0, 1 - y h)`` (primal-dual interior point on the box-constrained dual
   ``max_{0 <= a <= 1} sum a - |Z_y^T a|^2 / (2 lam)``, ``Z_y = y o Z``, then an exact solve on
   the identified margin support set); scikit-learn's ``Ridge(alpha=lam)``,
   ``LogisticRegression(C=1/lam)`` and ``LinearSVC(loss="hinge", C=1/lam)`` without intercept
   on ``x / sqrt(N)`` solve the same problems;
4. a certificate independent of the solver: ``F`` is ``lam``-strongly convex, so

   * ridge, logistic: ``|w - w*| <= |grad F(w)| / lam`` (the reported ``gap`` is the Fenchel
     duality gap at the dual point ``a = -loss'(y, h)``);
   * hinge: for any dual point ``a`` in ``[0, 1]^P``, ``G = F(w) - D(a) >= F(w) - F(w*) >=
     lam |w - w*|^2 / 2``, so ``|w - w*| <= sqrt(2 G / lam)`` (``a`` from the solver, clipped);

   and the angle between ``w`` and ``w*`` is at most ``asin(|w - w*| / |w|)``, whence the
   bound ``eps_err`` on ``|eps(w) - eps(w*)|``. Students with ``eps_err > eps_tol`` (or any
   non-finite number) are *flagged* and excluded from the means.

Selection policies (soft, label-aware ``y p``, reweighted; ``docs/erm.md`` section 7): the
kept set comes from :func:`prunescale.sims.prune.sample_policy` instead of step 1-2 (labels
flipped per pool example before selection), and the students minimise the weighted
``sum_mu c_mu loss + lam |w|^2 / 2`` with certificates weighted accordingly.

Measured: ``R = w.T / (|w||T|)``, ``S`` (overlap with the probe's part orthogonal to ``T``),
``eps = arccos(R)/pi`` against the clean teacher, ``eps_noisy = eta + (1 - 2 eta) eps`` against
noisy test labels, ``Q = |w|^2 / N`` (the theory's ``Q`` in its units).
"""

from __future__ import annotations

import sys
import time
from functools import partial
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.linalg import cho_factor, cho_solve

from prunescale.errors import InputError
from prunescale.sims._x64 import float64
from prunescale.sims.result import SimResult
from prunescale.sims.spiked import teacher_field, traced_map
from prunescale.sims.prune import (MODES, policy_buckets, policy_shape, policy_sizes,
                                   policy_statics, sample_kept, sample_policy_padded)
from prunescale.sims.prune import bucket
from prunescale.sims.run import (CHUNK_BYTES, _base_key, _check_args, block_size,
                                 channel_labels,
                                 check_memory, estimate_memory, fold_keys,
                                 realised_sizes, resolve_alphas, sample_block, draw_block, _build)
from prunescale.theory.erm import _check_learner, _check_lam, _check_noise
from prunescale.theory import _selection as _sel
from prunescale.theory.pruning import _scalar, check_family, check_tol

#: default bound on |eps - eps*| above which a student is flagged
EPS_TOL = 1e-6


# --------------------------------------------------------------------------- losses

def _loss_terms(learner, y, h):
    """``(loss, dloss/dh, d2loss/dh2)`` elementwise."""
    v = y * h
    if learner == "ridge":
        r = h - y
        return 0.5 * r * r, r, jnp.ones_like(h)
    if learner == "logistic":
        sp = jax.nn.sigmoid(-v)  # sigmoid(-y h)
        return jnp.logaddexp(0.0, -v), -y * sp, sp * (1.0 - sp)
    return jnp.maximum(0.0, 1.0 - v), jnp.where(v < 1.0, -y, 0.0), jnp.zeros_like(h)


def _objective(learner, z, y, lam, w, c=None):
    """``F(w) = sum_mu c_mu loss(y_mu, z_mu.w) + lam |w|^2 / 2`` (``c = 1`` if None)."""
    l = _loss_terms(learner, y, z @ w)[0]
    return jnp.sum(l if c is None else c * l) + 0.5 * lam * (w @ w)


# --------------------------------------------------------------------------- solvers

def _ridge(z, y, lam, cw=None):
    """Weighted normal equations ``(Z^T C Z + lam I) w = Z^T C y`` (``C = diag(cw)``)."""
    n = z.shape[1]
    zc = z if cw is None else cw[:, None] * z
    A = zc.T @ z + lam * jnp.eye(n, dtype=z.dtype)
    c = cho_factor(A, lower=True)
    b = zc.T @ y
    w = cho_solve(c, b)
    w = w + cho_solve(c, b - A @ w)  # one step of iterative refinement
    return w, jnp.zeros_like(y), jnp.asarray(1)


_STEPS = 0.5 ** jnp.arange(12)


def _logistic(z, y, lam, max_iter, cw=None):
    """Newton's method with backtracking (Armijo on the candidate steps 1, 1/2, ..., 1/2^11);
    loss weights ``cw`` (``None``: 1)."""
    n = z.shape[1]
    eye = jnp.eye(n, dtype=z.dtype)
    cv = jnp.ones_like(y) if cw is None else cw

    def body(state):
        w, it, _ = state
        h = z @ w
        _, d1, d2 = _loss_terms("logistic", y, h)
        g = z.T @ (cv * d1) + lam * w
        H = z.T @ ((cv * d2)[:, None] * z) + lam * eye
        step = -cho_solve(cho_factor(H, lower=True), g)
        f0 = _objective("logistic", z, y, lam, w, cw)
        fs = jax.vmap(lambda t: _objective("logistic", z, y, lam, w + t * step, cw))(_STEPS)
        ok = fs <= f0 + 1e-4 * _STEPS * (g @ step)
        t = jnp.where(jnp.any(ok), _STEPS[jnp.argmax(ok)], 0.0)
        w_new = w + t * step
        # stop once the Newton decrement is at rounding level (or no step decreases F)
        done = (-(g @ step) <= 1e-28 * jnp.maximum(1.0, f0)) | (t == 0.0)
        return w_new, it + 1, done

    def cond(state):
        return (state[1] < max_iter) & ~state[2]

    w, it, _ = jax.lax.while_loop(cond, body, (jnp.zeros(n, z.dtype), jnp.asarray(0),
                                               jnp.asarray(False)))
    return w, jnp.zeros_like(y), it


def _hinge(z, y, lam, max_iter, cw=None, weighted=True):
    """Primal-dual interior point on ``min 1/2 a^T K a - c^T a``, ``0 <= a <= 1``,
    ``K = Z_c Z_c^T / lam``, ``Z_c = (c y) o Z`` (Newton systems in ``N x N`` form by
    Woodbury), then an exact solve on the identified support set. With loss weights ``c`` the
    dual box of ``alpha = c a`` is ``[0, c]``; rows with ``c = 0`` (padding) drop out.
    ``weighted=False``: ``c`` is a 0/1 row mask (padded shapes), so the second polishing pass
    of general weights is skipped."""
    cv = jnp.ones_like(y) if cw is None else cw
    zy0 = y[:, None] * z
    zy = zy0 if cw is None else cv[:, None] * zy0
    p, n = zy.shape
    eye = jnp.eye(n, dtype=z.dtype)

    def kkt(a, s, v):
        w = zy.T @ a / lam
        r = zy @ w - cv - s + v
        return w, r

    def step_len(x, dx):
        ratio = jnp.where(dx < 0, -x / jnp.where(dx < 0, dx, -1.0), jnp.inf)
        return jnp.minimum(1.0, 0.99 * jnp.min(ratio))

    def body(state):
        a, s, v, it, _, best_a, best_g = state
        w, r = kkt(a, s, v)
        gap = (a @ s + (1.0 - a) @ v) / (2 * p)
        mu = 0.1 * gap
        dinv = 1.0 / (s / a + v / (1.0 - a))
        g = -r + mu / a - s - mu / (1.0 - a) + v
        # (D + Zy Zy^T / lam) da = g  by Woodbury
        M = lam * eye + zy.T @ (dinv[:, None] * zy)
        t = zy.T @ (dinv * g)
        da = dinv * g - dinv * (zy @ cho_solve(cho_factor(M, lower=True), t))
        ds = mu / a - s - (s / a) * da
        dv = mu / (1.0 - a) - v + (v / (1.0 - a)) * da
        al = jnp.minimum(jnp.minimum(step_len(a, da), step_len(1.0 - a, -da)),
                         jnp.minimum(step_len(s, ds), step_len(v, dv)))

        # the longest of the steps al, al/2, ..., al/2^11 whose iterate stays interior in
        # floating point (a = 1 - tiny can round to 1); none: the loop ends
        def interior(t):
            a1, s1, v1 = a + t * da, s + t * ds, v + t * dv
            return (jnp.all(jnp.isfinite(a1) & (a1 > 0) & (a1 < 1)) & jnp.all(s1 > 0)
                    & jnp.all(v1 > 0) & jnp.all(jnp.isfinite(s1) & jnp.isfinite(v1)))

        cand = al * _STEPS
        oks = jax.vmap(interior)(cand)
        ok = jnp.any(oks) & (al > 1e-12)
        t = jnp.where(ok, cand[jnp.argmax(oks)], 0.0)
        a, s, v = a + t * da, s + t * ds, v + t * dv
        # the iterate with the smallest duality gap F(w(a)) - D(a) is kept (iterates past
        # convergence can lose accuracy)
        g_new = _hinge_gap(zy0, lam, a, cw)
        better = g_new < best_g
        best_a = jnp.where(better, a, best_a)
        best_g = jnp.where(better, g_new, best_g)
        done = ~ok | ((a @ s + (1.0 - a) @ v) <= 1e-13 * jnp.maximum(1.0, jnp.sum(a)))
        return a, s, v, it + 1, done, best_a, best_g

    def cond(state):
        return (state[3] < max_iter) & ~state[4]

    ones = jnp.ones(p, z.dtype)
    a0 = 0.5 * ones
    a_last, _, _, it, _, a_best, _ = jax.lax.while_loop(
        cond, body, (a0, ones, ones, jnp.asarray(0), jnp.asarray(False), a0,
                     _hinge_gap(zy0, lam, a0, cw)))
    # polish: an exact solve on a guessed margin support set, from the best and the last
    # iterate with a few guesses; the dual point with the smallest gap is returned
    # one candidate at a time (lax.map): several independent P x P factorizations in one
    # program deadlocked XLA's CPU runtime (jax 0.10.2)
    K = zy @ zy.T / lam
    tols = jnp.asarray([1e-9, 1e-6, 1e-4], z.dtype)
    bases = jnp.stack([a_best, a_last])
    polished = jax.lax.map(lambda bt: _polish(K, bases[bt[0]], tols[bt[1]], cw),
                           jnp.asarray([[i, j] for i in range(2) for j in range(3)]))
    cands = jnp.concatenate([bases, polished])
    if cw is not None and weighted:
        # weighted rows (selection policies): a second pass from each polished point, whose
        # margins identify the support set where the interior point stalled (rows with a
        # small but interior a and a margin just above 1)
        again = jax.lax.map(lambda it: _polish(K, polished[it[0]], tols[it[1]], cw),
                            jnp.asarray([[3 * i + j, j] for i in range(2) for j in range(3)]))
        cands = jnp.concatenate([cands, again])
    gaps = jax.lax.map(lambda c: _hinge_gap(zy0, lam, c, cw), cands)
    gaps = jnp.where(jnp.isfinite(gaps), gaps, jnp.inf)
    a = cands[jnp.argmin(gaps)]
    return zy.T @ a / lam, a, it


def _polish(K, a, tol, cw=None):
    """Exact dual solution for the support set guessed from ``a``: free (``0 < a < 1``) where
    ``a`` is at least ``tol`` from the bounds or the margin is within ``tol`` of 1; elsewhere
    ``a = 1`` below the margin and ``0`` above. Solves ``(K a)_i = c_i`` on the free set
    (``(K a)_i = c_i`` times the margin of row ``i``); rows with ``c = 0`` are fixed at 0."""
    m = K @ a
    if cw is None:
        free = ((a > tol) & (a < 1.0 - tol)) | (jnp.abs(m - 1.0) < tol)
        a_fix = jnp.where(m < 1.0, 1.0, 0.0)
        rhs1 = 1.0
    else:
        free = (((a > tol) & (a < 1.0 - tol)) | (jnp.abs(m - cw) < tol)) & (cw > 0)
        a_fix = jnp.where((m < cw) & (cw > 0), 1.0, 0.0)
        rhs1 = cw
    M = jnp.where(free[:, None] & free[None, :], K, 0.0) + jnp.diag(jnp.where(free, 0.0, 1.0))
    rhs = jnp.where(free, rhs1 - K @ jnp.where(free, 0.0, a_fix), a_fix)
    return jnp.clip(cho_solve(cho_factor(M, lower=True), rhs), 0.0, 1.0)


def _hinge_gap(zy, lam, a, cw=None):
    """``F(w(a)) - D(a)`` for the dual point ``a`` in ``[0, 1]^P``, ``w(a) = Zy^T (c a) / lam``
    (``Zy = y o Z`` unweighted; loss weights ``c``, ``None``: 1)."""
    if cw is None:
        w = zy.T @ a / lam
        return jnp.sum(jnp.maximum(0.0, 1.0 - zy @ w)) + lam * (w @ w) - jnp.sum(a)
    w = zy.T @ (cw * a) / lam
    return (jnp.sum(cw * jnp.maximum(0.0, 1.0 - zy @ w)) + lam * (w @ w)
            - jnp.sum(cw * a))


# --------------------------------------------------------------------------- certificate

def _xlogx(b):
    return jnp.where(b > 0, b * jnp.log(jnp.where(b > 0, b, 1.0)), 0.0)


def _certify(learner, z, y, lam, w, a, cw=None):
    """``(gap, eps_err)`` of ``w``, from ``w``, the data and (hinge) the dual point ``a`` only.

    ``gap`` is the relative duality gap ``(F(w) - D(a)) / max(1, |F(w)|)`` with the dual
    ``D(a) = -sum_mu loss*(y_mu, -a_mu) - |Z^T a|^2 / (2 lam)``: for ridge and logistic at the
    dual point ``a = -loss'(y, h(w))`` (clipped into the conjugate's domain), for hinge at the
    solver's dual variables ``y o a`` clipped into ``[0, 1]``. ``F`` is ``lam``-strongly convex,
    so ``|w - w*| <= rho`` with ``rho = |grad F(w)| / lam`` (ridge, logistic) or
    ``sqrt(2 G / lam)`` (hinge), and ``eps_err = asin(min(1, rho / |w|)) / pi``.
    """
    nw = jnp.linalg.norm(w)
    h = z @ w
    F = _objective(learner, z, y, lam, w, cw)
    cv = jnp.ones_like(y) if cw is None else cw
    # weighted loss c l: the dual variable is c times the unweighted one, and the conjugate
    # (c l)*(s) = c l*(s/c) multiplies each per-example dual term by c
    if learner == "hinge":
        b = jnp.clip(a, 0.0, 1.0)                    # b_mu = y_mu a_mu in [0, 1]
        dual_loss = jnp.sum(cv * b)
    elif learner == "logistic":
        b = jnp.clip(jax.nn.sigmoid(-y * h), 0.0, 1.0)
        dual_loss = -jnp.sum(cv * (_xlogx(b) + _xlogx(1.0 - b)))
    else:
        b = y * (y - h)                              # a = y - h, b = y a
        dual_loss = jnp.sum(cv * (b - 0.5 * b * b))  # -l*(-a) = a y - a^2/2 (y^2 = 1)
    v = z.T @ (y * cv * b)
    G = F - (dual_loss - 0.5 * (v @ v) / lam)
    gap = G / jnp.maximum(1.0, jnp.abs(F))
    if learner == "hinge":
        rho = jnp.sqrt(2.0 * jnp.maximum(G, 0.0) / lam)
    else:
        _, d1, _ = _loss_terms(learner, y, h)
        rho = jnp.linalg.norm(z.T @ (cv * d1) + lam * w) / lam
    eps_err = jnp.where(rho < nw, jnp.arcsin(jnp.minimum(rho / nw, 1.0)) / jnp.pi, 1.0)
    return gap, eps_err


def _solve_one(z, y, lam, learner, max_iter, cw=None, weighted=True):
    if learner == "ridge":
        return _ridge(z, y, lam, cw)
    if learner == "logistic":
        return _logistic(z, y, lam, max_iter, cw)
    return _hinge(z, y, lam, max_iter, cw, weighted)


@partial(jax.jit, static_argnames=("pruning", "n", "n_pool", "mode", "labels", "spike_c"))
def _sample_block(keys, noise, pruning, n, n_pool, mode, labels=None, spike_c=0.0):
    """Teachers, inputs ``z = x / sqrt(N)`` and observed labels of a block of students
    (flipped with probability ``noise``, or drawn from the channel ``labels`` with the same
    uniforms, :func:`prunescale.sims.run.channel_labels`)."""

    def one(key):
        teacher, ex = sample_kept(key, pruning, n, n_pool, mode, spike_c)
        # a label channel sees the standardized teacher field u.x / sqrt(1 + S)
        t = teacher_field(ex.x, teacher.T, spike_c) if labels else None
        y, flip = channel_labels(key, t, ex.y, noise, labels)
        y = y.astype(ex.x.dtype)
        z = ex.x / jnp.sqrt(jnp.asarray(n, ex.x.dtype))
        return teacher, z, y, jnp.mean(flip.astype(ex.x.dtype))

    return jax.vmap(one)(keys)


def _solve_impl(z, y, lam, learner, max_iter, cw=None, weighted=True):
    """Solve a block of students (``lam`` and ``max_iter`` traced: one compilation per
    ``(learner, B, P, N)``); ``cw`` optional loss weights ``[B, P]`` (``weighted=False``:
    a 0/1 mask of the real rows of padded problems)."""
    if cw is None:
        return jax.vmap(lambda z1, y1: _solve_one(z1, y1, lam, learner, max_iter))(z, y)
    return jax.vmap(lambda z1, y1, c1: _solve_one(z1, y1, lam, learner, max_iter, c1,
                                                  weighted))(z, y, cw)


_solve_block = jax.jit(_solve_impl, static_argnames=("learner", "weighted"))


def _measure_impl(teacher, z, y, w, a, lam, learner, n, cw=None, c=None):
    """Certificate and overlaps of a block of students, from ``(w, a)`` and the raw data
    (``c``: spiked inputs, the whitened student's overlaps)."""
    if cw is None:
        cw = jnp.ones_like(y)

    def one(teacher, z, y, w, a, cw):
        gap, eps_err = _certify(learner, z, y, lam, w, a, cw)
        nw = jnp.linalg.norm(w)
        R = jnp.clip((w @ teacher.T) / (nw * jnp.linalg.norm(teacher.T)), -1.0, 1.0)
        nt2 = jnp.linalg.norm(teacher.T2)
        S = jnp.where(nt2 > 0, (w @ teacher.T2) / (nw * jnp.where(nt2 > 0, nt2, 1.0)), 0.0)
        if c is not None:
            from prunescale.sims.spectrum import SpectralMap, whitened_eps_err
            from prunescale.sims.spiked import whitened_overlaps

            R, S = whitened_overlaps(w, teacher.T, teacher.T2, c)
            if isinstance(c, SpectralMap):
                eps_err = whitened_eps_err(eps_err, w, c)
        return jnp.arccos(R) / jnp.pi, R, S, nw * nw / n, gap, eps_err

    return jax.vmap(one)(teacher, z, y, w, a, cw)


_measure_block = jax.jit(_measure_impl, static_argnames=("learner", "n"))


@partial(jax.jit, static_argnames=("rule", "n", "cand_b", "rows_b", "tau0", "step", "metric",
                                   "reweight", "mode", "labels", "spike_c"))
def _policy_sample_padded(keys, traced, rule, n, cand_b, rows_b, tau0, step, metric, reweight,
                          mode, labels=None, spike_c=0.0):
    """Teachers, inputs ``z = x / sqrt(N)``, labels, loss weights, flip fractions, kept counts
    and overflow flags of a block of students under a selection policy
    (:func:`prunescale.sims.prune.sample_policy_padded`): one program per buckets
    ``(cand_b, rows_b)`` and policy structure, shared by every ``f``, angle, threshold,
    softness and family parameter."""

    def one(key):
        teacher, x, y, cw, _, flipped, count, bad = sample_policy_padded(
            key, rule, n, cand_b, rows_b, tau0, step, metric, reweight, mode, labels, spike_c,
            **traced)
        z = x / jnp.sqrt(jnp.asarray(n, x.dtype))
        return teacher, z, y, cw, flipped, count, bad

    return jax.vmap(one)(keys)


def policy_traced(pruning, n_cand, n_rows, n_kept, k, shape, noise) -> dict:
    """The traced arguments of :func:`prunescale.sims.prune.sample_policy_padded`."""
    return {"n_cand": np.int32(n_cand), "n_rows": np.int32(n_rows), "n_kept": np.int32(n_kept),
            "k": np.float64(k), "shape": tuple(np.float64(v) for v in shape),
            "f": np.float64(pruning.f), "theta": np.float64(pruning.theta),
            "noise": jnp.asarray(noise, jnp.float64)}


def _policy_sample_block(keys, k, noise, pruning, n, n_cand, n_rows, n_kept, tau, metric,
                         reweight, mode, labels=None, spike_c=0.0):
    """:func:`_policy_sample_padded` at the buckets of ``(n_cand, n_rows)``
    (:func:`prunescale.sims.prune.policy_buckets`)."""
    shape = policy_shape(tau) if not isinstance(tau, tuple) else tau
    tau0, step = policy_statics(pruning.rule, shape)
    cand_b, rows_b = policy_buckets(n_cand, n_rows)
    return _policy_sample_padded(
        keys, policy_traced(pruning, n_cand, n_rows, n_kept, k, shape, noise), pruning.rule, n,
        cand_b, rows_b, tau0, step, metric, bool(reweight), mode, labels, spike_c)


def _policy_block(keys, k, noise, lam, pruning, n, sizes, tau, metric, reweight, mode, learner,
                  max_iter, labels=None, spike_c=0.0):
    n_cand, n_rows, n_kept = sizes
    teacher, z, y, cw, flipped, count, bad = _policy_sample_block(
        keys, k, noise, pruning, n, n_cand, n_rows, n_kept, tau, metric, reweight, mode, labels,
        spike_c)
    w, a, it = _solve_block(z, y, lam, learner, max_iter, cw)
    eps, R, S, Q, gap, eps_err = _measure_block(teacher, z, y, w, a, lam, learner, n, cw,
                                                _c(spike_c))
    return eps, R, S, Q, gap, eps_err, it, flipped, count, bad


@jax.jit
def _padded_inputs(ex, valid, flips, n):
    """Inputs ``x / sqrt(N)``, labels, 0/1 loss weights of the real rows and the kept fraction
    of flipped labels of a padded block."""
    cw = valid.astype(ex.x.dtype)
    flipped = jnp.sum(flips * cw, axis=1) / jnp.sum(cw, axis=1)
    return ex.x / jnp.sqrt(n), ex.y, cw, flipped


@partial(jax.jit, static_argnames=("learner", "n"))
def _students(cut, flips, sizes, lam, max_iter, learner, n):
    """Build, solve and certify a block of students from their draws: one program per
    ``(learner, B, bucket(P), N)``, shared by every rule, mode and configuration of that
    bucket (no recompilation between the solve and the certificate)."""
    teacher, ex, valid, flips = _build(cut, flips, sizes, n)
    z, y, cw, flipped = _padded_inputs(ex, valid, flips, jnp.asarray(n, ex.x.dtype))
    w, a, it = _solve_impl(z, y, lam, learner, max_iter, cw, weighted=False)
    c = sizes[6] if len(sizes) > 6 else None
    return _measure_impl(teacher, z, y, w, a, lam, learner, n, cw, c) + (it, flipped)


def _c(spike_c):
    """The spike coefficient as a traced argument, ``None`` for isotropic inputs."""
    return traced_map(spike_c)


def _block(keys, noise, lam, pruning, n, n_pool, mode, learner, max_iter, labels=None,
           spike_c=0.0, proto=None):
    """Sample, solve, certify one block: separately compiled pieces (as in
    :mod:`prunescale.sims.run`), each shared by every configuration whose kept set pads to the
    same bucket (:func:`prunescale.sims.run.sample_block`: padded rows have loss weight 0, so
    they drop out of the objective, the solver and the certificate). A label channel other
    than a flip (``labels``) draws each label from its example's teacher field: those
    configurations take the unpadded sampler, compiled once per configuration. (One program
    fusing sampling and the hinge solver also deadlocked XLA's CPU runtime with jax 0.10.2.)
    ``spike_c``: spiked inputs; ``proto``: the prototype probe
    (:func:`prunescale.sims.spiked.prepare`; the measured probe angles are returned last)."""
    c = _c(spike_c)
    if proto is not None:
        from prunescale.sims.spiked import prototype_block

        traced, static = proto
        teacher, ex, valid, flips, pdeg = prototype_block(
            keys, jnp.asarray(noise, jnp.float64), *traced, np.float64(spike_c), **static,
            labels=labels)
        z, y, cw, flipped = _padded_inputs(ex, valid, flips, jnp.float64(n))
        w, a, it = _solve_block(z, y, lam, learner, max_iter, cw, weighted=False)
        eps, R, S, Q, gap, eps_err = _measure_block(teacher, z, y, w, a, lam, learner, n, cw,
                                                    np.float64(spike_c))
        return eps, R, S, Q, gap, eps_err, it, flipped, pdeg
    if labels is not None:
        teacher, z, y, flipped = _sample_block(keys, noise, pruning, n, n_pool, mode, labels,
                                               spike_c)
        w, a, it = _solve_block(z, y, lam, learner, max_iter)
        eps, R, S, Q, gap, eps_err = _measure_block(teacher, z, y, w, a, lam, learner, n, None,
                                                    c)
        return eps, R, S, Q, gap, eps_err, it, flipped
    if mode != "materialize":
        drawn = draw_block(keys, noise, pruning, n, n_pool, mode, None, spike_c)
        return _students(*drawn, lam, max_iter, learner, n)
    teacher, ex, valid, flips = sample_block(keys, noise, pruning, n, n_pool, mode, None,
                                             spike_c)
    z, y, cw, flipped = _padded_inputs(ex, valid, flips, jnp.float64(n))
    w, a, it = _solve_block(z, y, lam, learner, max_iter, cw, weighted=False)
    eps, R, S, Q, gap, eps_err = _measure_block(teacher, z, y, w, a, lam, learner, n, cw, c)
    return eps, R, S, Q, gap, eps_err, it, flipped


#: iteration caps: Newton (logistic), interior point (hinge)
MAX_ITER = {"ridge": 1, "logistic": 100, "hinge": 100}


@float64
def simulate_regularized(pruning, alpha_prune: float | None, n: int,
                         seeds: int | Sequence[int], *, learner: str, lam: float,
                         noise: float = 0.0, softness: float = 0.0, metric: str = "abs",
                         reweight: bool = False, power_exp: float = 0.0,
                         probe_scale: float = 1.0, random_share: float = 0.0,
                         seed: int | None = 0,
                         key: jax.Array | None = None, alpha_tot: float | None = None,
                         direct: bool = False, mode: str | None = None,
                         eps_tol: float = EPS_TOL, chunk: int | None = None,
                         max_iter: int | None = None,
                         progress: bool | None = None, labels=None, snr: float = 0.0,
                         probe: str = "fixed", alpha_ssl: float | None = None,
                         prototype_method: str = "eigen",
                         prototype_source: str = "independent", spectrum=None,
                         teacher_decay: float | None = None) -> SimResult:
    """The regularized simulator of :func:`prunescale.sims.simulate`: certified ridge,
    logistic or hinge students on pruned, noisy Gaussian data.

    Args as :func:`prunescale.sims.run.simulate_max_margin`, plus ``learner``
    (``"ridge"``, ``"logistic"``, ``"hinge"``), ``lam`` (ridge penalty in ``(0, 1e6]``), ``noise`` (label-flip probability in
    ``[0, 0.5]``) and ``eps_tol`` (flag students whose certified bound on ``|eps - eps*|``
    exceeds it). Student ``i`` sees exactly the data of the max-margin simulator's student
    ``i`` before the label flips. ``labels``: a label channel
    (:mod:`prunescale.theory.labels`, spec or object; replaces ``noise``), drawn with the
    uniforms of the max-margin simulator, so ``flip:ETA`` reproduces ``noise=ETA``.

    Selection policy (``docs/erm.md`` section 7): ``softness`` ``tau`` in ``[0, 10]``,
    ``metric`` ``"abs"`` or ``"signed"`` and ``reweight`` as in
    :func:`prunescale.theory.solve`. The sharp ``abs`` rules (``softness = 0``; and
    ``random`` without reweighting) use the samplers above unchanged. Other policies use
    :func:`prunescale.sims.prune.sample_policy`: ``pool`` mode keeps each pool example
    independently with probability ``pi(m)`` (a random count, padded with weight-0 rows;
    ``softness = 0`` with ``signed`` keeps exactly ``P`` by rank of ``y p``), ``direct`` mode
    draws ``P`` i.i.d. examples of the kept law by rejection. ``materialize`` is refused there.
    The power and mixed families (``power_exp``, ``probe_scale``, ``random_share``) are such
    policies; ``pi`` uses the theory's normaliser ``c`` (or threshold ``k``), so the realised
    kept fraction fluctuates around ``f``.

    ``snr``, ``probe``, ``alpha_ssl``, ``prototype_method``, ``prototype_source``: spiked
    inputs and the prototype probe (:mod:`prunescale.sims.spiked`), as
    :func:`prunescale.sims.simulate`. ``spectrum``, ``teacher_decay``: a covariance spectrum
    (``n`` must equal its ``D``; :mod:`prunescale.sims.spectrum`).

    Returns:
        :class:`~prunescale.sims.SimResult` (``kappa`` NaN).
    """
    learner = _check_learner(learner)
    lam = _scalar("lam", _check_lam(lam), "in (0, 1e+06]")
    noise = _scalar("noise", _check_noise(noise), "in [0, 0.5]")
    from prunescale.theory.labels import as_channel

    labels = as_channel(labels)
    if labels is not None and labels.is_flip:
        noise, labels = labels.eta, None
    softness = _scalar("softness", _sel.check_softness(softness), "in [0, 10]")
    metric = _sel.check_metric(metric)
    reweight = _sel.check_reweight(reweight)
    check_tol("eps_tol", eps_tol, 0.5)
    student_seeds = _check_args(pruning, n, seeds, 1e-6, chunk,
                                1 if max_iter is None else max_iter)
    max_iter = MAX_ITER[learner] if max_iter is None else int(max_iter)
    n = int(n)
    alpha_prune, alpha_tot = resolve_alphas(pruning.f, alpha_prune, alpha_tot)
    if mode is None:
        mode = "direct" if direct else "pool"
    if mode not in MODES:
        raise InputError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
    n_pool, n_kept = realised_sizes(pruning, n, alpha_prune, alpha_tot)
    fam = [float(a) for a in check_family(pruning.rule, metric, power_exp, probe_scale,
                                              random_share)]
    policy = bool(_sel.weighs_line(pruning.rule, softness, metric, fam[0], fam[2], reweight))
    from prunescale.sims import spiked as _sp

    given = pruning
    pruning, spike_c, proto, proto_bytes = _sp.prepare(
        pruning, n, n_pool, n_kept, alpha_tot, bucket(n_kept), snr=snr, probe=probe,
        alpha_ssl=alpha_ssl, method=prototype_method, source=prototype_source, mode=mode,
        metric=metric, labels=labels)
    from prunescale.sims import spectrum as _spec

    smap = _spec.prepare(spectrum, teacher_decay, n, alpha_tot, snr=snr, probe=probe)
    if smap is not None:
        spike_c = smap
    if proto is not None and policy:
        raise InputError("the prototype probe is simulated with the sharp rules (hard, easy, "
                         "random; softness 0, no power or mixed policy, no reweighting)")
    if policy:
        if mode == "materialize":
            raise InputError("mode must be pool or direct for a selection policy (softness > 0, "
                             "metric signed, rule power, a random share or a reweighted "
                             "random selection); got 'materialize'")
        sharp_rank = mode == "pool" and _sel.is_step(pruning.rule, softness, fam[2])
        n_cand, n_rows = policy_sizes(pruning.f, n_pool, n_kept, mode, sharp_rank)
        k_thr = float(_sel.threshold(pruning.rule, pruning.f, softness, metric,
                                     noise if labels is None else labels, pruning.theta,
                                     exp=fam[0], scale=fam[1]))
        if pruning.rule == "random":
            k_thr = 0.0
    # padded rows per student (a label channel other than a flip is not padded)
    rows = (policy_buckets(n_cand, n_rows)[1] if policy else bucket(n_kept) if proto is not None
            else n_kept if labels is not None else bucket(n_kept))
    if chunk is None:
        chunk = _sp.block_with(block_size(n, rows), 8 * (6 * rows * n + 4 * n * n),
                               proto_bytes, CHUNK_BYTES)
    chunk = int(chunk)
    extra = 8 * rows * rows * chunk if learner == "hinge" else 0  # the polish's P x P
    check_memory(estimate_memory(n, n_pool, rows, chunk, "pool") + extra
                 + (8 * 4 * policy_buckets(n_cand, n_rows)[0] * chunk if policy else 0)
                 + chunk * proto_bytes)
    key, seed = _base_key(key, seed)
    t0 = time.perf_counter()
    k = student_seeds.size
    n_blocks = -(-k // chunk)
    padded = np.concatenate([student_seeds, np.full(n_blocks * chunk - k, student_seeds[-1])])
    if progress is None:
        progress = n_blocks > 1
    outs = []
    for b in range(n_blocks):
        keys = fold_keys(key, jnp.asarray(padded[b * chunk:(b + 1) * chunk], dtype=jnp.uint32))
        if policy:
            res = _policy_block(keys, np.float64(k_thr), noise, lam, pruning, n,
                                (n_cand, n_rows, n_kept), policy_shape(softness, *fam), metric,
                                reweight,
                                mode, learner, np.int64(max_iter), labels, spike_c)
        else:
            res = _block(keys, noise, lam, pruning, n, n_pool, mode, learner,
                         np.int64(max_iter), labels, spike_c, proto)
            pdeg = (res[8],) if proto is not None else ()
            res = tuple(res[:8]) + (np.full(chunk, n_kept), np.zeros(chunk, dtype=bool)) + pdeg
        outs.append([np.asarray(x) for x in res])
        if progress:
            print(f"sim: {learner} {pruning.rule} f={pruning.f:g} alpha_prune={alpha_prune:g} "
                  f"N={n}: {min((b + 1) * chunk, k)}/{k} students, "
                  f"{time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    arrays = [np.concatenate(x)[:k] for x in zip(*outs)]
    eps, R, S, Q, gap, eps_err, its, flipped, kept, bad = arrays[:10]
    probe_deg = arrays[10] if proto is not None else None
    finite = (np.isfinite(eps) & np.isfinite(eps_err) & np.isfinite(Q) & np.isfinite(gap)
              & np.isfinite(R) & np.isfinite(S) & ~bad)
    return SimResult(
        rule=given.rule, f=given.f, theta_deg=given.theta_deg,
        alpha_prune=float(alpha_prune), alpha_tot=float(alpha_tot), n=n, n_pool=n_pool,
        n_kept=n_kept, mode=mode, seed=seed, student_seeds=student_seeds, learner=learner,
        lam=float(lam), noise=float(noise), softness=float(softness), metric=metric,
        reweight=reweight, tol=float(eps_tol), eps=eps, power_exp=fam[0], probe_scale=fam[1],
        random_share=fam[2],
        eps_noisy=(noise + (1.0 - 2.0 * noise) * eps if labels is None
                   else labels.eps_noisy(eps)), labels=None if labels is None else str(labels),
        R=R, S=S, kappa=np.full(k, np.nan), Q=Q,
        gap=gap, eps_err=eps_err, iterations=its, flipped=flipped,
        kept=np.minimum(kept, n_rows if policy else n_kept).astype(float),
        flagged=~(finite & (eps_err <= eps_tol)), seconds=time.perf_counter() - t0,
        **_sp.result_fields(snr, probe, alpha_ssl, prototype_method, prototype_source,
                            probe_deg), **_spec.result_fields(smap))
