"""Running many certified students: :func:`simulate` and its result :class:`SimResult`.

Per student ``i`` (key ``fold_in(key(seed), i)``):

1. draw teacher, probe and the ``P = Pruning.n_kept(P_tot)`` kept examples
   (:func:`sims.prune.sample_kept`; ``P_tot = round(alpha_tot N)``);
2. solve the max-margin problem (:func:`sims.student.solve_max_margin`);
3. certify it independently on the raw data (:func:`sims.certify.certify`) and measure

   .. math::  R = \\frac{J.T}{|J||T|}, \\quad S = \\frac{J.T_2}{|J||T_2|}, \\quad
              \\epsilon = \\arccos(R)/\\pi, \\quad
              \\kappa = \\min_\\mu y_\\mu w.x_\\mu / |w|

   (``J`` parallel to ``w``; ``eps`` is exact for Gaussian test inputs, no test set needed).

Students whose certified relative duality gap exceeds ``gap_tol`` are *flagged*: counted,
reported, and excluded from the means (never averaged in silently). Students are processed in
chunks of equal size (host loop over chunks, ``vmap`` inside one compiled function) so memory
stays bounded; the same ``(seed, student index)`` always gives the same student.
"""

from __future__ import annotations

import math
import os
import sys
import time
from functools import partial
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from prunescale.theory.pruning import (Pruning, _scalar, check_alpha, check_int, check_noise,
                                       check_tol)

from prunescale.sims.certify import certify
from prunescale.sims.data import Examples
from prunescale.sims.prune import (FLIP, MAX_MARGIN_PER_OCTAVE, MODES, bucket, build_kept,
                                   cut_normals, draw_normals, padded_args, padded_sizes,
                                   policy_buckets, policy_shape, policy_sizes, policy_statics,
                                   pool_size, rank_kept, sample_kept, sample_policy_padded)
from prunescale.sims.student import solve_max_margin
from prunescale.errors import InputError
from prunescale.sims._x64 import float64
from prunescale.sims.result import SimResult
from prunescale.sims.spiked import teacher_field, traced_map

#: default memory budget of one chunk of students, in bytes
CHUNK_BYTES = 1 << 30


def _measure(teacher, ex, w_scaled, lam_scaled, valid, n, c=None):
    """Raw-data certificate and overlaps of one student (solver-independent), on its real
    rows ``valid`` only; ``c``: spiked inputs (the whitened student's overlaps,
    :func:`prunescale.sims.spiked.whitened_overlaps`)."""
    z = ex.y[:, None] * ex.x
    # scaled problem rows z / sqrt(N): w_raw = w / sqrt(N), lambda_raw = lambda / N
    sqrt_n = jnp.sqrt(jnp.asarray(n, z.dtype))
    cert = certify(z, w_scaled / sqrt_n, lam_scaled / n, valid)
    nw = jnp.linalg.norm(w_scaled)
    R = (w_scaled @ teacher.T) / (nw * jnp.linalg.norm(teacher.T))
    nt2 = jnp.linalg.norm(teacher.T2)
    S = jnp.where(nt2 > 0, (w_scaled @ teacher.T2) / (nw * jnp.where(nt2 > 0, nt2, 1.0)), 0.0)
    R = jnp.clip(R, -1.0, 1.0)
    eps_err = cert.eps_err
    if c is not None:
        from prunescale.sims.spectrum import SpectralMap, whitened_eps_err
        from prunescale.sims.spiked import whitened_overlaps

        R, S = whitened_overlaps(w_scaled, teacher.T, teacher.T2, c)
        if isinstance(c, SpectralMap):
            eps_err = whitened_eps_err(eps_err, w_scaled, c)
    return jnp.arccos(R) / jnp.pi, R, S, cert.kappa, cert.gap, eps_err




def flip_labels(key, y, noise):
    """``y`` with each label flipped independently with probability ``noise`` (key
    ``fold_in(key, FLIP)``, :data:`prunescale.sims.prune.FLIP`: every learner at the same noise
    sees the same labels); returns ``(labels, flipped)``."""
    flip = jax.random.bernoulli(jax.random.fold_in(key, FLIP), noise, y.shape)
    return jnp.where(flip, -y, y), flip


def channel_labels(key, t, y, noise, labels=None):
    """Observed labels of clean labels ``y = sign(t)``: flipped with probability ``noise``
    (:func:`flip_labels`, the same draws) or, under a label channel ``labels``
    (:mod:`prunescale.theory.labels`), with probability ``P(y != sign(t) | t)`` (the same
    uniforms, key ``fold_in(key, FLIP)``); returns ``(labels, flipped)``."""
    if labels is None:
        return flip_labels(key, y, noise)
    q = labels.flip_prob(t, jnp)
    flip = jax.random.bernoulli(jax.random.fold_in(key, FLIP), q, y.shape)
    return jnp.where(flip, -y, y), flip


@partial(jax.jit, static_argnames=("size", "rows"))
def _draw_chunk(keys, noise, size, rows):
    """The random numbers of a block of students: ``size`` normals each
    (:func:`prunescale.sims.prune.draw_normals`) and the label flips of ``rows`` rows
    (:func:`flip_labels`; the first ``P`` are those of the unpadded kept set). Compiled once
    per bucketed ``(size, rows)``: the generator is the costly part of a sampler to compile."""

    def one(k):
        return draw_normals(k, size), flip_labels(k, jnp.ones((rows,)), noise)[1]

    return jax.vmap(one)(keys)


@partial(jax.jit, static_argnames=("rule", "n", "mode", "pool_b", "keep_b"))
def _rank_chunk(normals, sizes, rule, n, mode, pool_b, keep_b):
    """Teacher normals, inputs' normals and kept probe margins of a block
    (:func:`prunescale.sims.prune.cut_normals`, :func:`prunescale.sims.prune.rank_kept`):
    the one program that depends on the pool's bucket; ``sizes`` =
    :func:`prunescale.sims.prune.padded_args` is traced."""
    n_pool, n_keep, _, lo, hi, g_off = sizes

    def one(z):
        tp = rank_kept(z, rule, n, mode, pool_b, keep_b, n_pool, n_keep, lo, hi)
        return cut_normals(z, n, keep_b, g_off) + (tp,)

    return jax.vmap(one)(normals)


def _build(cut, flips, sizes, n):
    """Teachers, padded kept examples (observed labels), row masks and label flips of a block
    (:func:`prunescale.sims.prune.build_kept`) from :func:`_rank_chunk`'s ``cut``; traceable
    inside a larger program; the same program for every rule, mode and pool size. A 7th entry
    of ``sizes`` (:func:`draw_block` with ``spike_c``) maps the inputs by
    ``Sigma^(1/2)`` (spiked inputs)."""
    _, n_keep, theta, _, _, _ = sizes[:6]
    c = sizes[6] if len(sizes) > 6 else None

    def one(a, b, g, tp, flip):
        teacher, ex, valid = build_kept(a, b, g, tp, n_keep, theta)
        if c is not None:
            from prunescale.sims.spiked import spike

            ex = ex._replace(x=spike(ex.x, teacher.T, c))
        flip = flip & valid
        return teacher, ex._replace(y=jnp.where(flip, -ex.y, ex.y)), valid, flip

    return jax.vmap(one)(*cut, flips)


_build_chunk = jax.jit(_build, static_argnames=("n",))


def draw_block(keys, noise, pruning, n, n_pool, mode, per_octave=None, spike_c=0.0):
    """The random numbers and the kept probe margins of a block of students:
    ``(cut, flips, sizes)``, the arguments of :func:`_build` (padded shapes, which depend on
    the bucket of ``P`` only). ``spike_c`` (nonzero: spiked inputs) is appended to ``sizes``
    (traced: one program for every ``S > 0``)."""
    pool_b, keep_b, draw_b = padded_sizes(pruning, n, n_pool, mode, per_octave)
    normals, flips = _draw_chunk(keys, jnp.asarray(noise, jnp.float64), draw_b, keep_b)
    sizes = padded_args(pruning, n, n_pool, mode)
    cut = _rank_chunk(normals, sizes, pruning.rule, n, mode, pool_b, keep_b)
    if spike_c:
        sizes = sizes + (traced_map(spike_c),)
    return cut, flips, sizes


def sample_block(keys, noise, pruning, n, n_pool, mode, per_octave=None, spike_c=0.0):
    """Teachers, kept examples padded to ``bucket(P)`` rows (zero rows beyond the ``P`` real
    ones; labels flipped with probability ``noise``), the row masks and the flips of a block of
    students (keys ``keys``). The real rows are exactly the unpadded draw's: the same
    numbers of the same key. ``pool`` and ``direct`` modes compile once per bucket of
    ``(P_tot, P)``; ``materialize`` (tests) once per configuration. ``spike_c``: spiked
    inputs (:mod:`prunescale.sims.spiked`)."""
    if mode == "materialize":
        noise = jnp.asarray(noise, jnp.float64)
        teacher, ex = _sample_chunk(keys, noise, pruning, n, n_pool, mode, None, spike_c)
        p = ex.x.shape[1]
        pad = bucket(p, per_octave) - p
        flips = ex.y != _sample_chunk(keys, jnp.float64(0.0), pruning, n, n_pool, mode, None,
                                      spike_c)[1].y
        ex = Examples(jnp.pad(ex.x, ((0, 0), (0, pad), (0, 0))),
                      jnp.pad(ex.y, ((0, 0), (0, pad)), constant_values=1.0),
                      jnp.pad(ex.tp, ((0, 0), (0, pad))))
        valid = jnp.broadcast_to(jnp.arange(p + pad) < p, ex.y.shape)
        return teacher, ex, valid, jnp.pad(flips, ((0, 0), (0, pad)))
    cut, flips, sizes = draw_block(keys, noise, pruning, n, n_pool, mode, per_octave, spike_c)
    return _build_chunk(cut, flips, sizes, n)


@partial(jax.jit, static_argnames=("pruning", "n", "n_pool", "mode", "labels", "spike_c"))
def _sample_chunk(keys, noise, pruning, n, n_pool, mode, labels=None, spike_c=0.0):
    def one(k):
        teacher, ex = sample_kept(k, pruning, n, n_pool, mode, spike_c)
        # a label channel sees the standardized teacher field u.x / sqrt(1 + S) (the theory's;
        # u.Sigma^(-1/2) x of a spectrum)
        t = teacher_field(ex.x, teacher.T, spike_c) if labels else None
        return teacher, ex._replace(y=channel_labels(k, t, ex.y, noise, labels)[0])

    return jax.vmap(one)(keys)


@partial(jax.jit, static_argnames=("rule", "n", "cand_b", "rows_b", "tau0", "step", "metric",
                                   "mode", "labels", "spike_c"))
def _sample_policy_padded(keys, traced, rule, n, cand_b, rows_b, tau0, step, metric, mode,
                          labels=None, spike_c=0.0):
    """A block of students' kept sets under a selection policy
    (:func:`prunescale.sims.prune.sample_policy_padded`): one program per buckets and policy
    structure, shared by every ``f``, angle, threshold and policy parameter. Returns the
    teachers, the examples, the row masks (the rows beyond a student's random kept count are
    masked out of the solver) and whether the draw was flagged (overflow)."""

    def one(key):
        teacher, x, y, _, valid, _, _, bad = sample_policy_padded(
            key, rule, n, cand_b, rows_b, tau0, step, metric, False, mode, labels, spike_c,
            **traced)
        return teacher, Examples(x, y, jnp.zeros_like(y)), valid, bad

    return jax.vmap(one)(keys)


def _sample_policy_chunk(keys, k, noise, pruning, n, n_cand, n_rows, n_kept, tau, metric, mode,
                         labels=None, spike_c=0.0):
    """:func:`_sample_policy_padded` at the buckets of ``(n_cand, n_rows)`` (rows in powers of
    two, as the max-margin solver pads)."""
    from prunescale.sims.erm import policy_traced

    shape = policy_shape(tau) if not isinstance(tau, tuple) else tau
    tau0, step = policy_statics(pruning.rule, shape)
    cand_b, rows_b = policy_buckets(n_cand, n_rows, MAX_MARGIN_PER_OCTAVE)
    return _sample_policy_padded(
        keys, policy_traced(pruning, n_cand, n_rows, n_kept, k, shape, noise), pruning.rule, n,
        cand_b, rows_b, tau0, step, metric, mode, labels, spike_c)


@partial(jax.jit, static_argnames=("n",))
def _measure_chunk(teacher, ex, w, lam, valid, n, c=None):
    return jax.vmap(partial(_measure, n=n, c=c))(teacher, ex, w, lam, valid)


def _rows(ex, n):
    """The scaled problem rows ``y x / sqrt(N)`` of a block."""
    return ex.y[..., None] * ex.x / jnp.sqrt(jnp.asarray(n, ex.x.dtype))


@partial(jax.jit, static_argnames=("n",))
def _students(cut, flips, sizes, tol, max_iter, n):
    """Build, solve and certify a block of max-margin students from their draws: one
    program per ``(B, bucket(P), N)``, shared by every rule, mode and configuration of that
    bucket (no recompilation between the solve and the certificate)."""
    teacher, ex, valid, _ = _build(cut, flips, sizes, n)
    sol = solve_max_margin(_rows(ex, n), tol, max_iter=max_iter, valid=valid)
    c = sizes[6] if len(sizes) > 6 else None
    meas = jax.vmap(partial(_measure, n=n, c=c))(teacher, ex, sol.w, sol.lam, valid)
    return meas + (sol.iterations,)


def _chunk(keys, pruning, n, n_pool, mode, gap_tol, max_iter, noise=0.0, policy=None,
           labels=None, spike_c=0.0, proto=None):
    """Sample, solve, measure one chunk: separately compiled pieces, each shared by every
    configuration whose kept set pads to the same bucket (:func:`sample_block`), so a grid
    compiles once per bucket, not once per configuration. A label channel other than a flip
    (``labels``) draws each label from its example's teacher field: those configurations
    take the unpadded sampler, compiled once per configuration.
    ``policy``: ``(k, (n_cand, n_rows, n_kept), tau, metric)`` of a selection policy.
    ``spike_c``: spiked inputs; ``proto``: the prototype probe (:func:`prototype_setup`;
    then the measured probe angles are returned last)."""
    bad = jnp.zeros(keys.shape[0], bool)
    c = traced_map(spike_c)
    if proto is not None:
        from prunescale.sims.spiked import prototype_block

        traced, static = proto
        teacher, ex, valid, _, pdeg = prototype_block(
            keys, jnp.asarray(noise, jnp.float64), *traced, np.float64(spike_c), **static,
            labels=labels)
        sol = solve_max_margin(_rows(ex, n), gap_tol / 10.0, max_iter=max_iter, valid=valid)
        meas = _measure_chunk(teacher, ex, sol.w, sol.lam, valid, n, np.float64(spike_c))
        return tuple(meas) + (sol.iterations, pdeg)
    if policy is None and labels is None and mode != "materialize":
        drawn = draw_block(keys, noise, pruning, n, n_pool, mode, MAX_MARGIN_PER_OCTAVE,
                           spike_c)
        return _students(*drawn, gap_tol / 10.0, max_iter, n)
    if policy is None and labels is None:
        teacher, ex, valid, _ = sample_block(keys, noise, pruning, n, n_pool, mode,
                                             MAX_MARGIN_PER_OCTAVE, spike_c)
    elif policy is None:
        teacher, ex = _sample_chunk(keys, jnp.asarray(noise, jnp.float64), pruning, n,
                                    n_pool, mode, labels, spike_c)
        valid = jnp.ones(ex.y.shape, bool)
    else:
        k, (n_cand, n_rows, n_kept), tau, metric = policy
        teacher, ex, valid, bad = _sample_policy_chunk(
            keys, k, noise, pruning, n, n_cand, n_rows, n_kept, tau, metric, mode, labels,
            spike_c)
    z = _rows(ex, n)
    sol = solve_max_margin(z, gap_tol / 10.0, max_iter=max_iter, valid=valid)
    eps, R, S, kappa, gap, eps_err = _measure_chunk(teacher, ex, sol.w, sol.lam, valid, n, c)
    gap = jnp.where(bad, jnp.inf, gap)  # an overflowing draw is flagged
    return eps, R, S, kappa, gap, eps_err, sol.iterations


def default_chunk(n: int, n_kept: int, budget: int = CHUNK_BYTES) -> int:
    """Students per chunk so that one chunk needs about ``budget`` bytes (float64 arrays)."""
    per_student = 8 * (6 * n_kept * n + 4 * n * n) + 1
    return max(1, budget // per_student)


@float64
def simulate_max_margin(pruning: Pruning, alpha_prune: float | None, n: int,
             seeds: int | Sequence[int], *, seed: int | None = 0, key: jax.Array | None = None,
             alpha_tot: float | None = None, direct: bool = False, mode: str | None = None,
             gap_tol: float = 1e-6, chunk: int | None = None, max_iter: int = 80,
             progress: bool | None = None, noise: float = 0.0, softness: float = 0.0,
             metric: str = "abs", power_exp: float = 0.0, probe_scale: float = 1.0,
             random_share: float = 0.0, labels=None, snr: float = 0.0, probe: str = "fixed",
             alpha_ssl: float | None = None, prototype_method: str = "eigen",
             prototype_source: str = "independent", spectrum=None,
             teacher_decay: float | None = None) -> SimResult:
    """The max-margin simulator of :func:`prunescale.sims.simulate`: certified max-margin
    students on pruned Gaussian data.

    Args:
        pruning: rule, kept fraction ``f`` and probe angle (:class:`theory.pruning.Pruning`).
        alpha_prune: kept examples per dimension, ``P = alpha_prune N``; the pool is
            ``alpha_tot = alpha_prune / f`` (also for ``random``). May be ``None`` if
            ``alpha_tot`` is given; if both are given they must satisfy
            ``alpha_prune = f alpha_tot`` (relative tolerance 1e-9).
        n: input dimension ``N >= 1``.
        seeds: number of students ``K`` (students ``0..K-1``) or explicit student indices.
        seed: base seed (ignored if ``key`` is given); student ``i`` uses
            ``jax.random.fold_in(jax.random.key(seed), i)``.
        key: base PRNG key instead of ``seed``.
        direct: draw the kept data from the ``N -> inf`` law (``mode="direct"``) instead of a
            finite pool (``mode="pool"``); ``mode`` may also be ``"materialize"`` (literal pool).
        gap_tol: certified relative duality gap above which a student is flagged; the solver
            aims at ``gap_tol / 10``.
        chunk: students per compiled block (default :func:`block_size`: 8, fewer if that
            exceeds a 1 GiB memory budget). Every block has this shape, so a student's
            result does not depend on the other students of the run.
        max_iter: IPM iteration cap per student.
        progress: print one line per chunk on stderr (default: when there is more than one
            chunk).
        noise: label-flip probability in ``[0, 0.5]``: each kept label is flipped
            independently (key ``fold_in(k_i, FLIP)``, the same flips as
            :func:`prunescale.sims.simulate`'s). A student whose noisy data admit no
            certified positive margin (typically: not separable at this load) is flagged;
            with ``noise > 0`` the aggregates are then NaN (:attr:`SimResult.complete`), since
            the max-margin student does not exist for every draw.
        softness, metric: the selection policy (as :func:`prunescale.theory.solve`): with
            ``softness > 0`` or ``metric = "signed"`` the kept set comes from
            :func:`prunescale.sims.prune.sample_policy` (``pool``: each pool example kept with
            probability ``pi(m)``, so the kept count is random; sharp ``signed``: the ``P``
            of smallest or largest ``y p``; ``direct``: the kept law by rejection). The
            sharp ``abs`` rule keeps the samplers above (the same students as before).
        power_exp, probe_scale, random_share: the power and mixed policy families (as
            :func:`prunescale.theory.solve`), sampled by the same Bernoulli keeps over the
            pool with the theory's normaliser ``c`` or threshold ``k`` (the realised kept
            fraction fluctuates around ``f``).
        snr, probe, alpha_ssl, prototype_method, prototype_source: spiked inputs and the
            prototype probe (:mod:`prunescale.sims.spiked`, as :func:`prunescale.sims.simulate`).
        spectrum, teacher_decay: a covariance spectrum (``n`` must equal its ``D``) and its
            teacher (:mod:`prunescale.sims.spectrum`, as :func:`prunescale.sims.simulate`).

    Returns:
        :class:`SimResult`. The same ``(seed or key, student indices, arguments)`` gives the
        same students on the same machine; a student does not depend on which other students
        are run with it (fixed block shape; checked to 1e-12 across processors by the tests).

    Raises:
        InputError: bad arguments, a configuration a finite ``N`` cannot realise
            (:func:`realised_sizes`), or a run that needs more memory than is available.
    """
    student_seeds = _check_args(pruning, n, seeds, gap_tol, chunk, max_iter)
    noise = _scalar("noise", check_noise(noise), "in [0, 0.5]")
    from prunescale.theory.labels import as_channel

    labels = as_channel(labels)
    if labels is not None and labels.is_flip:
        noise, labels = labels.eta, None
    n = int(n)
    alpha_prune, alpha_tot = resolve_alphas(pruning.f, alpha_prune, alpha_tot)
    if mode is None:
        mode = "direct" if direct else "pool"
    if mode not in MODES:
        raise InputError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
    n_pool, n_kept = realised_sizes(pruning, n, alpha_prune, alpha_tot)
    from prunescale.sims import spiked as _sp

    keep_b = bucket(n_kept, MAX_MARGIN_PER_OCTAVE)
    given = pruning
    pruning, spike_c, proto, proto_bytes = _sp.prepare(
        pruning, n, n_pool, n_kept, alpha_tot, keep_b, snr=snr, probe=probe,
        alpha_ssl=alpha_ssl, method=prototype_method, source=prototype_source, mode=mode,
        metric=metric, labels=labels)
    from prunescale.sims import spectrum as _spec

    smap = _spec.prepare(spectrum, teacher_decay, n, alpha_tot, snr=snr, probe=probe)
    if smap is not None:
        spike_c = smap
    policy = None
    from prunescale.theory import _selection as _sel
    from prunescale.theory.pruning import check_family

    fam = [float(a) for a in check_family(pruning.rule, metric, power_exp, probe_scale,
                                          random_share)]
    if pruning.rule != "random" and (metric != "abs" or softness != 0
                                     or _sel.weighs_line(pruning.rule, 0.0, metric, *fam[::2])):
        softness = _scalar("softness", _sel.check_softness(softness), "in [0, 10]")
        metric = _sel.check_metric(metric)
        if mode == "materialize":
            raise InputError("mode must be pool or direct for a selection policy (softness > 0, "
                             "metric signed, rule power or a random share); got 'materialize'")
        sharp_rank = mode == "pool" and _sel.is_step(pruning.rule, softness, fam[2])
        n_cand, n_rows = policy_sizes(pruning.f, n_pool, n_kept, mode, sharp_rank)
        k_thr = float(_sel.threshold(pruning.rule, pruning.f, softness, metric,
                                     noise if labels is None else labels,
                                     pruning.theta, exp=fam[0], scale=fam[1]))
        policy = (k_thr, (n_cand, n_rows, n_kept), policy_shape(softness, *fam), metric)
    elif metric not in ("abs", "signed"):
        raise InputError(f"metric must be one of abs, signed; got {metric!r}")
    if proto is not None and policy is not None:
        raise InputError("the prototype probe is simulated with the sharp rules (hard, easy, "
                         "random; softness 0, no power or mixed policy)")
    rows = (policy_buckets(*policy[1][:2], MAX_MARGIN_PER_OCTAVE)[1] if policy is not None
            else keep_b if proto is not None
            else n_kept if labels is not None else keep_b)
    if chunk is None:
        chunk = _sp.block_with(block_size(n, rows), 8 * (6 * rows * n + 4 * n * n),
                               proto_bytes, CHUNK_BYTES)
    check_memory(estimate_memory(n, n_pool, rows, int(chunk), mode) + int(chunk) * proto_bytes)
    key, seed = _base_key(key, seed)
    t0 = time.perf_counter()
    outs = _run_blocks(key, student_seeds, int(chunk), pruning, n, n_pool, n_kept, mode,
                       float(gap_tol), max_iter, alpha_prune, progress, t0, noise, policy,
                       labels, spike_c, proto)
    k = student_seeds.size
    arrays = [np.concatenate(a)[:k] for a in zip(*outs)]
    eps, R, S, kappa, gap, eps_err, its = arrays[:7]
    probe_deg = arrays[7] if proto is not None else None
    gap = np.where(np.isnan(gap), np.inf, gap)
    nan = np.full(k, np.nan)
    return SimResult(
        rule=given.rule, f=given.f, theta_deg=given.theta_deg,
        alpha_prune=float(alpha_prune), alpha_tot=float(alpha_tot), n=n, n_pool=n_pool,
        n_kept=n_kept, mode=mode, seed=seed, student_seeds=student_seeds,
        learner="max-margin", lam=float("nan"), noise=noise,
        softness=float(softness) if policy else 0.0, metric=metric if policy else "abs",
        reweight=False, tol=float(gap_tol), eps=eps, power_exp=fam[0], probe_scale=fam[1],
        random_share=fam[2],
        eps_noisy=(noise + (1.0 - 2.0 * noise) * eps if labels is None
                   else labels.eps_noisy(eps)), labels=None if labels is None else str(labels),
        R=R, S=S, kappa=kappa, Q=nan, gap=gap,
        eps_err=eps_err, iterations=its, flipped=nan,
        kept=np.full(k, float(n_kept) if policy is None else np.nan),  # policy: not recorded
        flagged=~(gap <= gap_tol), seconds=time.perf_counter() - t0, **_sp.result_fields(
            snr, probe, alpha_ssl, prototype_method, prototype_source, probe_deg),
        **_spec.result_fields(smap))


def _check_args(pruning, n, seeds, gap_tol, chunk, max_iter) -> np.ndarray:
    """Validate the arguments of :func:`simulate`; return the student indices."""
    if not isinstance(pruning, Pruning):
        raise InputError(f"pruning must be a prunescale.theory.Pruning; got {pruning!r}")
    if not isinstance(n, (int, np.integer)):  # a float N is a mistake here, not a count
        raise InputError(f"n must be an integer >= 1; got {n!r}")
    check_int("n", n, 1)
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        if seeds < 1:
            raise InputError(f"seeds must be >= 1; got {seeds!r}")
        student_seeds = np.arange(int(seeds), dtype=np.int64)
    else:
        try:
            items = list(seeds)
            ok = all(isinstance(s, (int, np.integer)) and not isinstance(s, bool)
                     and 0 <= s < 2 ** 32 for s in items)
        except TypeError:
            ok = False
        if not ok or not items:
            raise InputError("seeds must be a count >= 1 or a non-empty list of integer indices "
                             f"in [0, 2**32); got {seeds!r}")
        student_seeds = np.asarray(items, dtype=np.int64).ravel()
    check_tol("gap_tol", gap_tol)
    if chunk is not None and (not isinstance(chunk, (int, np.integer)) or isinstance(chunk, bool)
                              or chunk < 1):
        raise InputError(f"chunk must be an integer >= 1 (or None); got {chunk!r}")
    if not isinstance(max_iter, (int, np.integer)):
        raise InputError(f"max_iter must be an integer >= 1; got {max_iter!r}")
    check_int("max_iter", max_iter, 1)
    return student_seeds


#: largest relative difference between the requested and the realised ``f`` or
#: ``alpha_prune`` (integer example counts) that a simulation accepts
REALISED_RTOL = 0.1


def realised_sizes(pruning: Pruning, n: int, alpha_prune: float, alpha_tot: float):
    """``(P_tot, P) = (round(alpha_tot N), round(f P_tot))``, refusing what cannot be realised.

    A finite simulation realises ``f_eff = P / P_tot`` and ``alpha_eff = P / N``. If the pool
    or the kept set rounds to no example, or either realised value differs from the requested
    one by more than :data:`REALISED_RTOL` (relative), the configuration is refused with a
    one-line :class:`~prunescale.errors.InputError` naming the effective values (increase N).
    """
    pool_exact = alpha_tot * n
    if not round(pool_exact) >= 1:
        raise InputError(f"alpha_tot * N = {pool_exact:.3g} rounds to an empty pool; need "
                         f"alpha_tot * N > 0.5 (increase N)")
    n_pool = pool_size(n, alpha_tot)
    n_kept = pruning.n_kept(n_pool)
    if round(pruning.f * n_pool) < 1:
        raise InputError(f"f * alpha_tot * N = {pruning.f * n_pool:.3g} rounds to no kept "
                         f"example; need f * P_tot > 0.5 (increase N)")
    f_eff, a_eff = n_kept / n_pool, n_kept / n
    for name, want, got in (("f", pruning.f, f_eff), ("alpha_prune", alpha_prune, a_eff)):
        if abs(got - want) > REALISED_RTOL * want:
            raise InputError(
                f"N = {n} realises {name} = {got:.4g} instead of {want:.4g} (pool {n_pool}, "
                f"kept {n_kept}); the difference must be within {REALISED_RTOL:.0%} "
                f"(increase N)")
    return n_pool, n_kept


#: students per compiled block: every block has this fixed shape (the last one padded), so a
#: student's result does not depend on which other students share its run
BLOCK = 8


def block_size(n: int, n_kept: int) -> int:
    """Students per block: :data:`BLOCK`, fewer when one block would exceed the memory budget.

    Depends on the problem size only, never on how many students are run.
    """
    return int(min(BLOCK, default_chunk(n, n_kept)))


def estimate_memory(n: int, n_pool: int, n_kept: int, chunk: int, mode: str) -> int:
    """Bytes one block of ``chunk`` students needs (float64): inputs, IPM work arrays and the
    ``N x N`` normal matrix and its factor, plus the literal pool in ``"materialize"`` mode."""
    per_student = 8 * (6 * n_kept * n + 4 * n * n + 4 * n_pool)
    if mode == "materialize":
        per_student += 8 * n_pool * n
    return chunk * per_student


def available_memory() -> int | None:
    """Bytes of memory available to this process (``MemAvailable``), or ``None`` if unknown."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(needed: int, available: int | None = None) -> None:
    """Refuse (one line) a run whose estimated memory exceeds what the machine has."""
    available = available_memory() if available is None else available
    if available is not None and needed > available:
        raise InputError(f"this simulation needs about {needed / 2**30:.3g} GiB of memory and "
                         f"{available / 2**30:.3g} GiB are available; reduce N or alpha")


def _base_key(key, seed):
    """The base PRNG key and the seed to record (``None`` when an explicit key is given)."""
    if key is not None:
        return key, None
    if (seed is None or not isinstance(seed, (int, np.integer)) or isinstance(seed, bool)
            or seed < 0):
        raise InputError(f"seed must be an integer >= 0; got {seed!r}")
    return jax.random.key(int(seed)), int(seed)


#: the students' keys ``fold_in(key, i)`` of a block (one compiled program per block size)
fold_keys = jax.jit(jax.vmap(jax.random.fold_in, in_axes=(None, 0)))


def _run_blocks(key, student_seeds, chunk, pruning, n, n_pool, n_kept, mode, gap_tol,
                max_iter, alpha_prune, progress, t0, noise=0.0, policy=None,
                labels=None, spike_c=0.0, proto=None) -> list:
    """Sample, solve and certify the students in blocks of exactly ``chunk`` (the last block
    padded with copies of its last student, dropped afterwards)."""
    n_chunks = -(-student_seeds.size // chunk)
    padded = np.concatenate([student_seeds, np.full(n_chunks * chunk - student_seeds.size,
                                                    student_seeds[-1])])
    if progress is None:
        progress = n_chunks > 1
    outs = []
    for c in range(n_chunks):
        idx = padded[c * chunk:(c + 1) * chunk]
        keys = fold_keys(key, jnp.asarray(idx, dtype=jnp.uint32))
        res = _chunk(keys, pruning, n, n_pool, mode, gap_tol, max_iter, noise, policy, labels,
                     spike_c, proto)
        outs.append([np.asarray(a) for a in res])
        if progress:
            el = time.perf_counter() - t0
            done = min((c + 1) * chunk, student_seeds.size)
            print(f"sim: {pruning.rule} f={pruning.f:g} alpha_prune={alpha_prune:g} N={n}: "
                  f"{done}/{student_seeds.size} students, {el:.1f} s", file=sys.stderr,
                  flush=True)
    return outs


def resolve_alphas(f: float, alpha_prune, alpha_tot) -> tuple[float, float]:
    """``(alpha_prune, alpha_tot)`` from either or both, checking ``alpha_prune = f alpha_tot``."""
    if alpha_prune is None and alpha_tot is None:
        raise InputError("give alpha_prune or alpha_tot")
    if alpha_tot is not None:
        alpha_tot = _scalar("alpha_tot", check_alpha("alpha_tot", alpha_tot), "> 0")
    if alpha_prune is not None:
        alpha_prune = _scalar("alpha_prune", check_alpha("alpha_prune", alpha_prune), "> 0")
    if alpha_prune is None:
        return f * alpha_tot, alpha_tot
    if alpha_tot is None:
        return alpha_prune, alpha_prune / f
    if not math.isclose(alpha_prune, f * alpha_tot, rel_tol=1e-9):
        raise InputError(
            f"alpha_prune = {alpha_prune!r} must equal f * alpha_tot = {f!r} * {alpha_tot!r} "
            f"= {f * alpha_tot!r} (relative tolerance 1e-9)")
    return alpha_prune, alpha_tot


def compiled_programs() -> dict:
    """How many programs each compiled piece of the simulators holds in this process (its jit
    cache size): ``draw`` (random numbers), ``rank`` (pruning of the pool), ``max-margin`` and
    ``regularized`` (build, solve and certificate of a block), ``policy`` (the samplers of
    selection policies: one per buckets and policy structure). A grid compiles one
    ``max-margin`` or ``regularized`` program per learner, ``N`` and bucket of kept-set sizes
    (:func:`prunescale.sims.prune.program_shape`), not one per configuration."""
    from prunescale.sims import erm

    return {"draw": _draw_chunk._cache_size(), "rank": _rank_chunk._cache_size(),
            "max-margin": _students._cache_size(), "regularized": erm._students._cache_size(),
            "policy": _sample_policy_padded._cache_size()
            + erm._policy_sample_padded._cache_size()}
