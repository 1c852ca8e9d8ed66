"""Pruning a pool by probe margin, and drawing the kept examples of one student.

The rules come from :mod:`theory.pruning` (the single shared specification):

* ``hard``   keeps the ``P = Pruning.n_kept(P_tot)`` examples with the smallest ``|t_p|``;
* ``easy``   keeps the ``P`` examples with the largest ``|t_p|``;
* ``random`` keeps a uniform subset of size ``P`` (without replacement).

Three samplers of the kept set are provided (:func:`sample_kept`, argument ``mode``):

``"pool"`` (default)
    Exact finite pool. Draw the ``P_tot`` probe margins ``t_p ~ N(0,1)``, rank them, keep
    exactly ``P``, then draw only the kept inputs conditionally on their margins
    (:func:`sims.data.inputs_with_probe_margin`). Equal in law to materialising the pool.
``"materialize"``
    The literal construction (draw ``P_tot x N`` inputs, compute margins, prune); for tests.
``"direct"``
    The ``N -> inf`` law: ``P`` i.i.d. margins ``|t_p|`` from the standard normal folded and
    truncated to ``Pruning.kept_range`` with a random sign, orthogonal directions Gaussian.
    Differences from the finite pool: the pool's kept set is a set of *order statistics*, so
    its threshold (the ``P``-th smallest/largest ``|t_p|``) fluctuates by ``O(1/sqrt(P_tot))``
    around ``g`` and the kept margins are exchangeable but not independent (exactly ``P`` lie
    below the empirical threshold); the direct sampler has a fixed threshold ``g`` and
    independent margins. Both keep exactly ``P`` examples; the difference vanishes as
    ``N -> inf`` and is tested to be invisible at moderate ``N`` (``tests/test_sims_data.py``).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from prunescale.theory.pruning import Pruning

import numpy as np
from jax.scipy.special import ndtr

from prunescale.sims.data import (
    Examples,
    Teacher,
    inputs_from_normals,
    labels,
    sample_pool,
    teacher_from_normals,
    truncated_folded_from_uniform,
)
from prunescale.errors import InputError
from prunescale.sims._x64 import float64

MODES = ("pool", "direct", "materialize")


def pool_size(n: int, alpha_tot: float) -> int:
    """``P_tot = round(alpha_tot N)``, at least 1."""
    return max(1, int(round(alpha_tot * n)))


@float64
def prune_indices(key: jax.Array, tp: jax.Array, rule: str, n_keep: int) -> jax.Array:
    """Indices of the ``n_keep`` kept examples of a pool with probe margins ``tp``.

    ``hard``: the ``n_keep`` smallest ``|tp|``; ``easy``: the largest; ``random``: a uniform
    subset without replacement (``key`` is only used by ``random``). Ties have probability 0.
    """
    if rule == "hard":
        return jax.lax.top_k(-jnp.abs(tp), n_keep)[1]
    if rule == "easy":
        return jax.lax.top_k(jnp.abs(tp), n_keep)[1]
    if rule == "random":
        return jax.random.permutation(key, tp.shape[0])[:n_keep]
    raise InputError(f"rule must be one of hard, easy, random; got {rule!r}")


@float64
def sample_kept(key: jax.Array, pruning: Pruning, n: int, n_pool: int,
                mode: str = "pool", spike_c: float = 0.0) -> tuple[Teacher, Examples]:
    """Teacher and the ``P = pruning.n_kept(n_pool)`` kept examples of one student.

    ``key`` determines everything: all the randomness of a student is *one* call to
    ``jax.random.normal(key, (total,))``, cut into pieces (teacher, margins or their uniforms,
    selection scores, inputs). One generator call site keeps XLA compile times short (each
    threefry call site costs about a second of compilation on CPU). Uniforms are
    ``Phi(normal)`` and a uniform random subset is the ``P`` largest of i.i.d. normal scores.
    See the module docstring for ``mode``. Pure and jit/vmap compatible (all arguments but
    ``key`` static). ``spike_c``: spiked inputs (:mod:`prunescale.sims.spiked`), the kept
    inputs mapped by ``Sigma^(1/2) = I + c u u^T`` after the labels (``pruning`` then carries
    the effective angle); 0 (default): isotropic, unchanged.
    """
    if mode not in MODES:
        raise InputError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
    n_keep = pruning.n_kept(n_pool)
    if mode == "materialize":
        teacher, pool = sample_pool(key, n, 0.0, pruning.theta, n_pool=n_pool)
        idx = prune_indices(jax.random.fold_in(key, 7), pool.tp, pruning.rule, n_keep)
        return teacher, _spiked(Examples(pool.x[idx], pool.y[idx], pool.tp[idx]), teacher,
                                spike_c)
    n_margin = n_pool if mode == "pool" else 2 * n_keep
    n_select = n_pool if (mode == "pool" and pruning.rule == "random") else 0
    sizes = (n, n, n_margin, n_select, n_keep * n)
    z = jax.random.normal(key, (sum(sizes),))
    a, b, m, sel, g = jnp.split(z, np.cumsum(sizes)[:-1])
    teacher = teacher_from_normals(a, b, pruning.theta)
    if mode == "pool":
        if pruning.rule == "random":
            idx = jax.lax.top_k(sel, n_keep)[1]  # uniform subset without replacement
        else:
            idx = prune_indices(None, m, pruning.rule, n_keep)
        tp = m[idx]
    elif pruning.rule == "random":
        tp = m[:n_keep]
    else:
        lo, hi = pruning.kept_range
        mag = truncated_folded_from_uniform(ndtr(m[:n_keep]), lo, hi)
        tp = jnp.where(m[n_keep:] >= 0, mag, -mag)
    x = inputs_from_normals(g.reshape(n_keep, n), tp, teacher.Jp)
    return teacher, _spiked(Examples(x, labels(x, teacher.T), tp), teacher, spike_c)


def _spiked(ex: Examples, teacher: Teacher, c) -> Examples:
    """``ex`` with its inputs mapped by ``Sigma^(1/2)`` (``c = 0``: ``ex`` itself)."""
    if not c:
        return ex
    from prunescale.sims.spiked import spike

    return ex._replace(x=spike(ex.x, teacher.T, c))


#: fold-in constants of a student's selection uniforms and label flips (``FLIP`` is shared by
#: every simulator: :func:`prunescale.sims.run.flip_labels`)
SELECT = 0x73656C65
FLIP = 0x6E6F6973


def policy_shape(tau=0.0, power_exp=0.0, probe_scale=1.0, random_share=0.0) -> tuple:
    """The static shape ``(tau, A, B, R)`` of a policy's ``pi`` (softness, power exponent and
    scale, random share), as :func:`keep_prob` and :func:`sample_policy` take it."""
    return (float(tau), float(power_exp), float(probe_scale), float(random_share))


def _shape(shape) -> tuple:
    return policy_shape(shape) if not isinstance(shape, tuple) else shape


def keep_prob(rule: str, m, k, shape, f, tau0: bool | None = None):
    """``pi(m)`` of a selection policy in JAX (:func:`prunescale.theory._selection.keep_prob`):
    ``sigmoid((k - m)/tau)`` (hard), ``sigmoid((m - k)/tau)`` (easy), ``f`` (random); the step
    ``1{m <= k}`` / ``1{m >= k}`` at ``tau = 0``; mixed with random, ``R f + (1 - R) pi``;
    ``power``: ``min(exp(k + A log sigma'(B m)), 1)``, ``k = log c``. ``shape``:
    :func:`policy_shape` (a bare number is the softness); its entries and ``k``, ``f`` may be
    traced, only ``tau0`` (whether ``tau = 0``; default: read from ``shape``) selects the
    formula. At ``A = 0`` the power formula is ``min(exp(k), 1)`` exactly and at ``R = 0`` the
    mixture is ``pi`` exactly (``0 f + 1 pi``), so no other value needs a branch."""
    tau, a, b, r = _shape(shape)
    if rule == "random":
        return jnp.full_like(m, f)
    if rule == "power":
        z = jnp.abs(b * m)
        return jnp.exp(jnp.minimum(k + a * (-z - 2.0 * jnp.log1p(jnp.exp(-z))), 0.0))
    d = (k - m) if rule == "hard" else (m - k)
    if (tau == 0) if tau0 is None else tau0:
        pi = jnp.where(d >= 0, 1.0, 0.0).astype(m.dtype)
    else:
        pi = jax.nn.sigmoid(d / tau)
    return r * f + (1.0 - r) * pi


def policy_statics(rule: str, shape) -> tuple:
    """``(tau0, step)`` of a policy: whether its softness is 0, and whether it is the sharp
    hard/easy step (``tau = 0``, no random share), kept by rank in ``pool`` mode."""
    tau, _, _, r = _shape(shape)
    tau0 = float(tau) == 0.0
    return tau0, rule in ("hard", "easy") and tau0 and float(r) == 0.0


def policy_sizes(f: float, n_pool: int, n_kept: int, mode: str, sharp_rank: bool):
    """``(n_cand, n_rows)``: candidates drawn and padded rows of the kept set.

    ``pool``: the ``n_pool`` pool examples; the kept count is Binomial(``n_pool``, ``f``) and
    the rows are padded to ``mean + 8 sd + 10`` (at most ``n_pool``; a larger draw is flagged).
    With ``sharp_rank`` (``tau = 0``) exactly ``n_kept`` are kept by rank. ``direct``: enough
    i.i.d. candidates that ``n_kept`` are accepted except with probability ~1e-15 (else the
    student is flagged), and ``n_kept`` rows."""
    if mode == "pool":
        if sharp_rank:
            return n_pool, n_kept
        mean, sd = n_pool * f, math.sqrt(n_pool * f * (1.0 - f))
        return n_pool, int(min(n_pool, math.ceil(mean + 8.0 * sd + 10.0)))
    n_cand = int(math.ceil((n_kept + 8.0 * math.sqrt(n_kept) + 10.0) / f))
    return n_cand, n_kept


@float64
def sample_policy(key: jax.Array, pruning: Pruning, n: int, n_cand: int, n_rows: int,
                  n_kept: int, k, tau, noise, metric: str, reweight: bool,
                  mode: str, labels=None, spike_c: float = 0.0):
    """Teacher and the kept examples of one student under a selection policy
    (``docs/erm.md`` section 7).

    Candidates: probe fields ``p ~ N(0, 1)``, in-span orthogonal fields ``r ~ N(0, 1)``, clean
    labels ``sign(cos(theta) p - sin(theta) r)`` flipped with probability ``noise`` (key
    ``fold_in(key, FLIP)``), metric ``m = |p|`` or ``y p``. ``pool`` mode: the
    ``n_cand = P_tot`` pool examples, each kept independently when its uniform (key
    ``fold_in(key, SELECT)``) is below ``pi(m)``, so the kept count is random; rows are padded
    to ``n_rows`` with weight 0. At ``tau = 0`` (``sharp``) exactly ``n_kept`` are kept by rank
    of ``m``. ``direct`` mode: the first ``n_kept`` accepted of ``n_cand`` i.i.d. candidates,
    an exact sample of ``n_kept`` i.i.d. examples of the kept law (rejection sampling).
    ``tau``: the softness, or the policy's :func:`policy_shape` ``(tau, A, B, R)`` (the power
    and mixed families). The threshold ``k`` (``log c`` of the power policy) is the theory's,
    from the ``N -> inf`` law (:func:`prunescale.theory._selection.threshold`), not refitted
    to the realised pool: each pool example is kept independently with probability ``pi``, so
    the kept count is Binomial(``P_tot``, ``f``) and the realised fraction fluctuates around
    ``f`` by ``sqrt(f (1 - f) / P_tot)``.
    Only the kept rows' inputs are drawn: ``x = g - (g.j) j - (g.e) e + p j + r e`` with
    ``j``, ``e`` the unit probe and in-span orthogonal directions, so ``J_p.x/sqrt(N) = p`` and
    ``T.x/sqrt(N) = cos(theta) p - sin(theta) r`` exactly in law.

    Returns ``(teacher, x, y, cw, valid, flipped, count, bad)``: inputs ``[n_rows, n]``
    (padded rows 0), observed labels, loss weights (``1/pi`` normalised to mean 1 over the kept
    rows when ``reweight``, else 1; 0 on padded rows), the row mask, the kept fraction of
    flipped labels, the kept count and whether the draw overflowed ``n_rows`` (pool) or fell
    short of ``n_kept`` (direct).

    ``spike_c``: spiked inputs (:mod:`prunescale.sims.spiked`; ``pruning`` at the effective
    angle): the kept inputs mapped by ``Sigma^(1/2) = I + c u u^T``; a label channel sees the
    standardized teacher field ``t = u.x / sqrt(1 + S)``, as the theory; 0: isotropic,
    unchanged.
    """
    shape = _shape(tau)
    tau0, step = policy_statics(pruning.rule, shape)
    return sample_policy_padded(
        key, pruning.rule, n, n_cand, n_rows, tau0, step, metric, reweight, mode, labels,
        spike_c, n_cand=n_cand, n_rows=n_rows, n_kept=n_kept, k=k,
        shape=tuple(jnp.asarray(v, jnp.float64) for v in shape), f=pruning.f,
        theta=pruning.theta, noise=noise)


def policy_buckets(n_cand: int, n_rows: int, per_octave: int | None = None) -> tuple:
    """``(cand_b, rows_b)``: the padded candidate and row counts of :func:`sample_policy_padded`
    (:func:`bucket`; ``per_octave`` for the rows, as the learner's solver pads)."""
    return bucket(n_cand), bucket(n_rows, per_octave)


def sample_policy_padded(key, rule: str, n: int, cand_b: int, rows_b: int, tau0: bool,
                         step: bool, metric: str, reweight: bool, mode: str, labels, spike_c,
                         *, n_cand, n_rows, n_kept, k, shape, f, theta, noise):
    """:func:`sample_policy` on padded shapes: ``cand_b >= n_cand`` candidates and
    ``rows_b >= n_rows`` rows (the extra rows are masked: weight 0, ``valid`` False).

    Static: ``rule``, ``n``, the buckets, ``tau0`` and ``step`` (:func:`policy_statics`),
    ``metric``, ``reweight``, ``mode``, ``labels``, ``spike_c``; everything else
    (``n_cand, n_rows, n_kept``, the threshold ``k``, the policy ``shape`` ``(tau, A, B, R)``,
    ``f``, ``theta``, ``noise``) may be traced, so one compiled program serves every
    configuration of the same buckets. The draw ``normal(key, (2 N + 2 cand_b + rows_b N,))``
    starts with the unpadded one (:func:`draw_normals`) and every piece is cut from the same
    position as without padding (the probe fields from ``2 N``, the orthogonal fields from
    ``2 N + n_cand``, the inputs from ``2 N + 2 n_cand``); the flips and selection uniforms
    of the padded candidates follow the real ones. So a student's kept set does not depend on
    its bucket."""
    tau, a_exp, b_sc, r_sh = shape
    zz = draw_normals(key, 2 * n + 2 * cand_b + rows_b * n)
    a, b = zz[:n], zz[n:2 * n]
    p = jax.lax.dynamic_slice(zz, (2 * n,), (cand_b,))
    r = jax.lax.dynamic_slice(zz, (2 * n + n_cand,), (cand_b,))
    g = jax.lax.dynamic_slice(zz, (2 * n + 2 * n_cand,), (rows_b * n,))
    in_cand = jnp.arange(cand_b) < n_cand
    teacher = teacher_from_normals(a, b, theta)
    cth, sth = jnp.cos(theta), jnp.sin(theta)
    t = cth * p - sth * r
    if labels is None:
        flip = jax.random.bernoulli(jax.random.fold_in(key, FLIP), noise, (cand_b,))
    else:  # a label channel (prunescale.theory.labels): P(y != sign(t) | t)
        flip = jax.random.bernoulli(jax.random.fold_in(key, FLIP),
                                    labels.flip_prob(t, jnp), (cand_b,))
    y0 = jnp.where(t >= 0, 1.0, -1.0)
    y = jnp.where(flip, -y0, y0)
    m = jnp.abs(p) if metric == "abs" else y * p
    pi = jnp.where(in_cand, keep_prob(rule, m, k, (tau, a_exp, b_sc, r_sh), f, tau0), 0.0)
    if mode == "pool" and step:  # the sharp rule by rank: exactly n_rows = P kept
        score = jnp.where(in_cand, -m if rule == "hard" else m, -jnp.inf)
        idx = jax.lax.top_k(score, rows_b)[1]
        count = jnp.asarray(n_rows)
    else:
        u = jax.random.uniform(jax.random.fold_in(key, SELECT), (cand_b,), dtype=p.dtype)
        acc = (u < pi) & in_cand
        count = jnp.sum(acc)
        idx = jnp.nonzero(acc, size=rows_b, fill_value=0)[0]
    valid = jnp.arange(rows_b) < jnp.minimum(count, n_rows)
    if mode == "pool":
        bad = count > n_rows
    else:
        bad = count < n_kept
    pk, rk, yk, pik = p[idx], r[idx], y[idx], pi[idx]
    sqn = jnp.sqrt(jnp.asarray(n, p.dtype))
    j_hat = teacher.Jp / jnp.linalg.norm(teacher.Jp)
    e_vec = (-sth * teacher.T + cth * teacher.T2) / sqn
    gm = g.reshape(rows_b, n)
    x = (gm - (gm @ j_hat)[:, None] * j_hat[None, :] - (gm @ e_vec)[:, None] * e_vec[None, :]
         + pk[:, None] * j_hat[None, :] + rk[:, None] * e_vec[None, :])
    vf = valid.astype(p.dtype)
    x = x * vf[:, None]
    if spike_c:
        from prunescale.sims.spiked import spike

        x = spike(x, teacher.T, spike_c)
    yk = jnp.where(valid, yk, 1.0)
    nv = jnp.maximum(jnp.sum(vf), 1.0)
    if reweight and not step and rule != "random":
        inv = jnp.where(valid, 1.0 / jnp.where(valid, pik, 1.0), 0.0)
        cw = inv / (jnp.sum(inv) / nv)
    elif reweight and rule == "random":
        inv = jnp.where(valid, 1.0 / f, 0.0)
        cw = inv / (jnp.sum(inv) / nv)
    else:
        cw = vf
    flipped = jnp.sum(jnp.where(valid, flip[idx], False).astype(p.dtype)) / nv
    return teacher, x, yk, cw, valid, flipped, count, bad


# --------------------------------------------------------------------------- shape buckets

#: padded sizes per octave (:func:`bucket`) by default: 2 (``8, 12, 16, 24, 32, ...``), at
#: most 50 % more rows, and a grid spanning a factor ``r`` of sizes compiles at most about
#: ``2 log2(r) + 1`` programs. The max-margin solver, whose dominant work grows with the real
#: rows only (:func:`prunescale.sims.student.gram`), pads to powers of two
#: (:data:`MAX_MARGIN_PER_OCTAVE`).
BUCKETS_PER_OCTAVE = 2
MAX_MARGIN_PER_OCTAVE = 1

#: sizes up to this are padded to it (the smallest bucket)
MIN_BUCKET = 8


def bucket(size: int, per_octave: int | None = None) -> int:
    """The padded size of ``size`` rows: the smallest ``m 2^e >= size`` with
    ``m`` in ``{B, B + 1, ..., 2B - 1}`` (``B = per_octave``, default
    :data:`BUCKETS_PER_OCTAVE`; ``B = 1``: powers of two), at least :data:`MIN_BUCKET`.
    Monotone: ``a <= b`` implies ``bucket(a) <= bucket(b)``."""
    size = int(size)
    if size <= MIN_BUCKET:
        return MIN_BUCKET
    b = BUCKETS_PER_OCTAVE if per_octave is None else int(per_octave)
    e = max(0, (size - 1).bit_length() - b.bit_length())
    while True:
        m = -(-size // (1 << e))  # ceil(size / 2^e)
        if m < 2 * b:
            return m << e
        e += 1


def program_shape(learner: str, n: int, n_kept: int, policy: bool = False) -> tuple:
    """What the compiled programs of a simulation depend on besides the block size: the
    learner, ``N`` and the bucket of the kept-set size (a selection policy: the bucket of its
    row count, a bound on its random kept count, approximately that of ``P``). Configurations
    of equal shape share their programs."""
    per = MAX_MARGIN_PER_OCTAVE if learner == "max-margin" else None
    if policy:  # its rows: a bound on the random kept count, bucketed (policy_buckets)
        return (learner, "policy", int(n), bucket(n_kept, per))
    return (learner, int(n), bucket(n_kept, per))


def padded_sizes(pruning: Pruning, n: int, n_pool: int, mode: str,
                 per_octave: int | None = None):
    """``(pool_b, keep_b, draw_b)``: the static (padded) shapes of :func:`sample_kept_padded`,
    from the buckets of the pool and kept sizes, and the (bucketed) length of the student's
    draw of normals (:func:`draw_normals`)."""
    n_keep = pruning.n_kept(n_pool)
    keep_b = bucket(n_keep, per_octave)
    pool_b = bucket(n_pool, 1) if mode == "pool" else 2 * keep_b
    select_b = pool_b if (mode == "pool" and pruning.rule == "random") else 0
    return pool_b, keep_b, bucket(2 * n + pool_b + select_b + keep_b * n, 1)


def padded_args(pruning: Pruning, n: int, n_pool: int, mode: str):
    """The traced arguments of :func:`sample_kept_padded` for ``pruning`` and a pool of
    ``n_pool``: ``(n_pool, n_keep, theta, lo, hi, g_off)`` (``g_off``: where the inputs'
    normals start in the draw)."""
    lo, hi = pruning.kept_range
    n_keep = pruning.n_kept(n_pool)
    return (np.int32(n_pool), np.int32(n_keep), np.float64(pruning.theta),
            np.float64(lo), np.float64(hi),
            np.int32(_inputs_offset(pruning.rule, n, mode, n_pool, n_keep)))


def draw_normals(key: jax.Array, size: int) -> jax.Array:
    """The standard normals of one student, ``jax.random.normal(key, (size,))``.

    With JAX's partitionable threefry (``jax_threefry_partitionable``, the default) entry
    ``i`` depends on ``key`` and ``i`` only, so a longer draw starts with the shorter one: a
    padded draw holds exactly the numbers of the unpadded :func:`sample_kept`."""
    return jax.random.normal(key, (size,))


def sample_kept_padded(z: jax.Array, rule: str, n: int, mode: str, pool_b: int, keep_b: int,
                       n_pool, n_keep, theta, lo, hi):
    """:func:`sample_kept` on padded shapes: the teacher, the ``keep_b`` rows of which the
    first ``n_keep`` are the kept examples (the others zero, label ``+1``) and the mask of
    real rows.

    ``z`` is the student's :func:`draw_normals` (at least the length
    :func:`padded_sizes` gives); ``rule``, ``n``, ``mode`` and the buckets ``pool_b >= n_pool``,
    ``keep_b >= n_keep`` are static, everything else may be traced, so one compiled program
    serves every configuration of the same buckets. The real rows are those of
    :func:`sample_kept` with the same key: the same numbers are cut from the same positions
    of the draw (``mode`` ``"pool"`` or ``"direct"``). Two steps: :func:`rank_kept` (the
    only one that depends on the pool's bucket) and :func:`build_kept`.
    """
    tp = rank_kept(z, rule, n, mode, pool_b, keep_b, n_pool, n_keep, lo, hi)
    g_off = _inputs_offset(rule, n, mode, n_pool, n_keep)
    return build_kept(*cut_normals(z, n, keep_b, g_off), tp, n_keep, theta)


def cut_normals(z, n, keep_b, g_off):
    """The teacher's two normal vectors and the ``keep_b x N`` inputs' normals (from
    ``g_off``) of a student's draw ``z``."""
    g = jax.lax.dynamic_slice(z, (g_off,), (keep_b * n,)).reshape(keep_b, n)
    return z[:n], z[n:2 * n], g


def _inputs_offset(rule, n, mode, n_pool, n_keep):
    n_margin = n_pool if mode == "pool" else 2 * n_keep
    n_select = n_pool if (mode == "pool" and rule == "random") else 0
    return 2 * n + n_margin + n_select


def rank_kept(z, rule, n, mode, pool_b, keep_b, n_pool, n_keep, lo, hi):
    """The probe margins of the kept examples in order (the first ``n_keep`` of ``keep_b``;
    the others 0): the pruning step of :func:`sample_kept_padded`."""
    valid = jnp.arange(keep_b) < n_keep
    m_len = pool_b if mode == "pool" else 2 * keep_b
    m = jax.lax.dynamic_slice(z, (2 * n,), (m_len,))
    if mode == "pool":
        in_pool = jnp.arange(pool_b) < n_pool
        if rule == "random":
            score = jax.lax.dynamic_slice(z, (2 * n + n_pool,), (pool_b,))
        elif rule == "hard":
            score = -jnp.abs(m)
        else:
            score = jnp.abs(m)
        idx = jax.lax.top_k(jnp.where(in_pool, score, -jnp.inf), keep_b)[1]
        tp = m[idx]
    elif rule == "random":
        tp = m[:keep_b]
    else:
        sign = jax.lax.dynamic_slice(m, (n_keep,), (keep_b,))
        mag = truncated_folded_from_uniform(ndtr(m[:keep_b]), lo, hi)
        tp = jnp.where(sign >= 0, mag, -mag)
    return jnp.where(valid, tp, 0.0)


def build_kept(a, b, g, tp, n_keep, theta):
    """Teacher, padded kept examples with probe margins ``tp`` (:func:`rank_kept`) and the
    mask of real rows: the input step of :func:`sample_kept_padded`, the same for every rule,
    mode and pool (normals ``a``, ``b`` of the teacher and ``g`` of the inputs,
    :func:`cut_normals`)."""
    keep_b = g.shape[0]
    teacher = teacher_from_normals(a, b, theta)
    valid = jnp.arange(keep_b) < n_keep
    x = inputs_from_normals(g, tp, teacher.Jp)
    x = jnp.where(valid[:, None], x, 0.0)
    return teacher, Examples(x, labels(x, teacher.T), tp), valid
