"""Spiked inputs and the prototype probe in the simulators.

Model (``prunescale.model.Data.snr``, ``Selection.probe``): inputs
``x ~ N(0, Sigma)``, ``Sigma = I_N + S u u^T`` with ``u = T / sqrt(N)`` the teacher's unit
vector, labels ``y = sign(u.x)`` (then the flips or the label channel as for isotropic inputs).
With ``Sigma^(1/2) = I + c u u^T``, ``c = sqrt(1 + S) - 1``, an input is ``x = Sigma^(1/2) g``,
``g ~ N(0, I_N)`` (:func:`spike`), and a student ``w`` sees ``w.x = w~.g`` with
``w~ = Sigma^(1/2) w``: in the whitened coordinates ``g`` the problem is the isotropic one, the
student ``w~`` (trained with the isotropic penalty on ``w``, which is what makes the spiked
model differ). The clean test error is ``eps = arccos(rho) / pi``, ``rho = w~.u / |w~|``
(:func:`whitened_overlaps`).

Fixed probe ``v = cos(theta) u + sin(theta) e`` (``theta`` in input space): ``v.x =
(Sigma^(1/2) v).g`` is proportional to the isotropic probe field of ``g`` at the effective
angle ``tan(theta_eff) = tan(theta) / sqrt(1 + S)`` (:func:`effective_theta`), so the kept set
is today's isotropic kept set at ``theta_eff`` (every sampler, mode and policy), mapped by
``Sigma^(1/2)``. At ``S = 0`` nothing changes (the same programs and numbers).

Prototype probe (:func:`sample_prototype`): ``v`` is the top eigenvector of the second-moment
matrix of an unlabeled sample of ``M = alpha_ssl N`` spiked inputs (``method="eigen"``), or
the normalized difference of the two centroids of a 2-means clustering of the normalized
sample ``x / |x|`` (``"kmeans"``). The sample is independent of the pool (key
``fold_in(key, SSL)``; ``source="independent"``) or is the pool itself (``source="pool"``).
The pool is materialised and ranked by the cosine distance to the nearest prototype
``d = 1 - |v.x| / |x|``: ``hard`` keeps the largest ``d``, ``easy`` the smallest. The
measured angle ``probe_deg = arccos(|v.u|)`` (degrees) is reported per student.
"""

from __future__ import annotations

import math
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from prunescale.errors import InputError
from prunescale.sims.data import Examples, Teacher, teacher_from_normals

#: fold-in constant of the prototype's unlabeled sample (independent of the pool's draw)
SSL = 0x7373_6C31
#: fold-in constant of the k-means initialisation
KMEANS = 0x6B6D_6E73
#: the prototype's computation and sample
METHODS = ("eigen", "kmeans")
SOURCES = ("independent", "pool")
#: Lloyd iterations of the 2-means prototype at most (it stops when no assignment changes)
KMEANS_ITER = 100


def spike_coefficient(snr: float) -> float:
    """``c = sqrt(1 + S) - 1``: ``Sigma^(1/2) = I + c u u^T`` (exactly 0 at ``S = 0``)."""
    return math.sqrt(1.0 + float(snr)) - 1.0


def effective_theta(theta: float, snr: float) -> float:
    """The isotropic probe angle (radians) of the whitened problem of a fixed probe at
    ``theta`` in input space: ``tan(theta_eff) = tan(theta) / sqrt(1 + S)`` (``theta`` itself
    at ``S = 0``)."""
    if snr == 0:
        return theta
    return math.atan2(math.sin(theta), math.sqrt(1.0 + snr) * math.cos(theta))


def spike(x, T, c):
    """``Sigma^(1/2) x = x + c u (u.x)`` row-wise (``u = T / |T|``); ``c`` a
    :class:`~prunescale.sims.spectrum.SpectralMap`: ``Sigma^(1/2) H x`` of a spectrum."""
    from prunescale.sims.spectrum import SpectralMap

    if isinstance(c, SpectralMap):
        return c.inputs(x, T)
    u = T / jnp.linalg.norm(T)
    return x + c * (x @ u)[..., None] * u


def whitened_overlaps(w, T, T2, c):
    """``(R, S)`` of the whitened student ``w~ = Sigma^(1/2) w`` with ``T`` and ``T2``
    (``T2`` is orthogonal to ``u``, so ``w~.T2 = w.T2``); ``eps = arccos(R) / pi``. ``c`` a
    :class:`~prunescale.sims.spectrum.SpectralMap`: its :meth:`~prunescale.sims.spectrum.
    SpectralMap.overlaps`."""
    from prunescale.sims.spectrum import SpectralMap

    if isinstance(c, SpectralMap):
        return c.overlaps(w, T, T2)
    wt = spike(w, T, c)
    nw = jnp.linalg.norm(wt)
    R = jnp.clip((wt @ T) / (nw * jnp.linalg.norm(T)), -1.0, 1.0)
    nt2 = jnp.linalg.norm(T2)
    S = jnp.where(nt2 > 0, (wt @ T2) / (nw * jnp.where(nt2 > 0, nt2, 1.0)), 0.0)
    return R, S


def teacher_field(x, T, c):
    """The standardized teacher field of mapped inputs ``x`` (what a label channel sees):
    ``u.x / sqrt(1 + S)`` (``= u.g``) of spiked inputs, ``u.Sigma^(-1/2) x`` of a spectrum
    (``c`` a :class:`~prunescale.sims.spectrum.SpectralMap`)."""
    from prunescale.sims.spectrum import SpectralMap

    if isinstance(c, SpectralMap):
        return c.teacher_field(x)
    return x @ T / jnp.sqrt(jnp.asarray(x.shape[-1], x.dtype)) / (1.0 + c)


def traced_map(c):
    """The input map as a traced argument: ``None`` for isotropic inputs (``c = 0``), the
    spike coefficient as a float64, or the :class:`~prunescale.sims.spectrum.SpectralMap`."""
    from prunescale.sims.spectrum import SpectralMap

    if isinstance(c, SpectralMap):
        return c
    return None if not c else np.float64(c)


def bbp_angle_deg(alpha_ssl: float, snr: float) -> float:
    """The ``N -> inf`` angle (degrees) between the top eigenvector of ``M = alpha_ssl N``
    spiked inputs and ``u``: ``cos^2 = (1 - 1/(A S^2)) / (1 + 1/(A S))`` above the BBP
    transition ``A S^2 > 1``, 90 below."""
    a, s = float(alpha_ssl), float(snr)
    if s <= 0 or a * s * s <= 1:
        return 90.0
    c2 = (1.0 - 1.0 / (a * s * s)) / (1.0 + 1.0 / (a * s))
    return math.degrees(math.acos(math.sqrt(min(max(c2, 0.0), 1.0))))


def check_prototype_options(method, source) -> tuple[str, str]:
    """The prototype's ``method`` and ``source``, validated (one-line errors)."""
    if method not in METHODS:
        raise InputError(f"prototype_method must be one of {', '.join(METHODS)}; got {method!r}")
    if source not in SOURCES:
        raise InputError(f"prototype_source must be one of {', '.join(SOURCES)}; got "
                         f"{source!r}")
    return method, source


def prototype_bytes(n: int, pool_b: int, ssl_b: int, keep_b: int) -> int:
    """Bytes one student of the prototype sampler needs at most (float64): the pool (raw,
    spiked, norms), the unlabeled sample (raw, spiked, normalized) and the ``N x N`` (or
    ``M x M``) second-moment matrix with its eigenvectors."""
    m = min(n, ssl_b)
    return 8 * (3 * pool_b * n + 3 * ssl_b * n + 3 * m * m + 2 * keep_b * n)


# --------------------------------------------------------------------------- the prototype

def eigen_direction(xs, mask):
    """Top eigenvector of ``sum_mu x_mu x_mu^T`` over the real rows (``mask``) of ``xs``
    (``M_b x N``): ``eigh`` of the ``N x N`` matrix, or of the ``M_b x M_b`` Gram matrix
    when that is smaller (``v = X^T a / |X^T a|``)."""
    xs = jnp.where(mask[:, None], xs, 0.0)
    m, n = xs.shape
    if m >= n:
        vecs = jnp.linalg.eigh(xs.T @ xs)[1]
        return vecs[:, -1]
    a = jnp.linalg.eigh(xs @ xs.T)[1][:, -1]
    v = xs.T @ a
    return v / jnp.linalg.norm(v)


def kmeans_direction(key, xs, mask, n_real, iters: int = KMEANS_ITER):
    """2-means (Lloyd) on the normalized real rows ``x / |x|`` of ``xs``; returns the unit
    vector along the difference of the two centroids and the number of Lloyd iterations.
    Initialisation: two distinct rows drawn uniformly with ``key`` (Forgy). An empty cluster
    keeps its centroid."""
    nrm = jnp.linalg.norm(xs, axis=1)
    p = jnp.where(mask[:, None], xs / jnp.where(mask & (nrm > 0), nrm, 1.0)[:, None], 0.0)
    w = mask.astype(xs.dtype)
    u = jax.random.uniform(key, (2,), dtype=xs.dtype)
    nf = n_real.astype(xs.dtype)
    i1 = jnp.minimum(jnp.floor(u[0] * nf), nf - 1).astype(jnp.int32)
    i2 = (i1 + 1 + jnp.minimum(jnp.floor(u[1] * (nf - 1)), nf - 2).astype(jnp.int32)) % n_real
    c0 = jnp.stack([p[i1], p[i2]])

    def assign(c):
        score = p @ c.T - 0.5 * jnp.sum(c * c, axis=1)  # larger: nearer
        return score[:, 0] >= score[:, 1]

    def update(a, c):
        w1 = w * a
        w2 = w * (~a)
        s1, s2 = jnp.sum(w1), jnp.sum(w2)
        m1 = jnp.where(s1 > 0, (w1 @ p) / jnp.where(s1 > 0, s1, 1.0), c[0])
        m2 = jnp.where(s2 > 0, (w2 @ p) / jnp.where(s2 > 0, s2, 1.0), c[1])
        return jnp.stack([m1, m2])

    def body(st):
        c, a, it, _ = st
        c = update(a, c)
        a_new = assign(c)
        return c, a_new, it + 1, jnp.any((a_new != a) & mask)

    def cond(st):
        return (st[2] < iters) & st[3]

    a0 = assign(c0)
    c, _, it, _ = jax.lax.while_loop(cond, body, (c0, a0, jnp.asarray(0), jnp.asarray(True)))
    d = c[0] - c[1]
    return d / jnp.linalg.norm(d), it


def sample_prototype(key, noise, n_pool, n_keep, n_ssl, c, *, rule: str, n: int, pool_b: int,
                     keep_b: int, ssl_b: int, method: str, source: str, labels=None):
    """Teacher, the padded kept examples, the row mask, the label flips and the measured
    probe angle (degrees) of one student under the prototype probe.

    Draws (explicit keys): the teacher's two normal vectors and the pool's ``g`` rows are
    ``jax.random.normal(key, (2 N + pool_b N,))`` (the teacher as every other sampler's);
    the unlabeled sample ``jax.random.normal(fold_in(key, SSL), (ssl_b N,))``; a random
    subset's scores ``fold_in(key, SELECT)``; the k-means start ``fold_in(key, KMEANS)``;
    the label flips of the kept rows ``fold_in(key, FLIP)`` (as the other samplers). Shapes
    are the buckets ``pool_b >= n_pool``, ``keep_b >= n_keep``, ``ssl_b >= n_ssl`` (static);
    sizes and ``c`` may be traced. Padded draws start with the unpadded ones, so a student
    does not depend on its bucket.
    """
    from prunescale.sims.prune import SELECT
    from prunescale.sims.run import channel_labels

    z = jax.random.normal(key, (2 * n + pool_b * n,))
    teacher = teacher_from_normals(z[:n], z[n:2 * n], 0.0)
    T = teacher.T
    sqn = jnp.sqrt(jnp.asarray(n, z.dtype))
    u = T / sqn
    g = z[2 * n:].reshape(pool_b, n)
    in_pool = jnp.arange(pool_b) < n_pool
    x = spike(g, T, c)
    y0 = jnp.where(g @ T >= 0, 1.0, -1.0).astype(z.dtype)  # sign(u.x) = sign(u.g)
    if source == "pool":
        xs, smask, m_real = x, in_pool, n_pool
    else:
        gs = jax.random.normal(jax.random.fold_in(key, SSL), (ssl_b * n,)).reshape(ssl_b, n)
        smask = jnp.arange(ssl_b) < n_ssl
        xs, m_real = spike(gs, T, c), n_ssl
    if method == "eigen":
        v = eigen_direction(xs, smask)
    else:
        v = kmeans_direction(jax.random.fold_in(key, KMEANS), xs, smask,
                             jnp.asarray(m_real, jnp.int32))[0]
    v = jnp.where(v @ u >= 0, v, -v)  # the sign is arbitrary: report it towards u
    cos = jnp.clip(v @ u, 0.0, 1.0)
    probe_deg = jnp.degrees(jnp.arccos(cos))
    nx = jnp.linalg.norm(x, axis=1)
    d = 1.0 - jnp.abs(x @ v) / jnp.where(nx > 0, nx, 1.0)
    if rule == "random":
        score = jax.random.normal(jax.random.fold_in(key, SELECT), (pool_b,), dtype=z.dtype)
    elif rule == "hard":
        score = d
    else:
        score = -d
    idx = jax.lax.top_k(jnp.where(in_pool, score, -jnp.inf), keep_b)[1]
    valid = jnp.arange(keep_b) < n_keep
    xk = jnp.where(valid[:, None], x[idx], 0.0)
    yk = jnp.where(valid, y0[idx], 1.0)
    # the channel sees the standardized teacher field u.x / sqrt(1 + S) (= u.g, as the theory)
    t = xk @ T / sqn / (1.0 + c) if labels is not None else None
    y, flip = channel_labels(key, t, yk, noise, labels)
    flip = flip & valid
    y = jnp.where(valid, y, 1.0)
    # the probe's part orthogonal to u as T2, so that S keeps its meaning (overlap with it)
    e = v - (v @ u) * u
    ne = jnp.linalg.norm(e)
    T2 = jnp.where(ne > 1e-12, sqn * e / jnp.where(ne > 1e-12, ne, 1.0), 0.0)
    teacher = Teacher(T, T2, sqn * v)
    pm = jnp.where(valid, (xk @ v), 0.0)
    return teacher, Examples(xk, y, pm), valid, flip, probe_deg


@partial(jax.jit, static_argnames=("rule", "n", "pool_b", "keep_b", "ssl_b", "method",
                                   "source", "labels"))
def prototype_block(keys, noise, n_pool, n_keep, n_ssl, c, *, rule, n, pool_b, keep_b, ssl_b,
                    method, source, labels=None):
    """:func:`sample_prototype` for a block of students (one program per buckets)."""
    return jax.vmap(lambda k: sample_prototype(
        k, noise, n_pool, n_keep, n_ssl, c, rule=rule, n=n, pool_b=pool_b, keep_b=keep_b,
        ssl_b=ssl_b, method=method, source=source, labels=labels))(keys)


def ssl_size(n: int, alpha_ssl: float | None, alpha_tot: float, source: str) -> int:
    """Rows ``M = round(alpha_ssl N)`` of the unlabeled sample (``alpha_ssl`` ``None``: the
    pool's ``alpha_tot``); the pool's size for ``source="pool"``."""
    a = alpha_tot if (alpha_ssl is None or source == "pool") else alpha_ssl
    m = a * n
    if not round(m) >= 1:
        raise InputError(f"alpha_ssl * N = {m:.3g} rounds to an empty unlabeled sample; need "
                         "alpha_ssl * N > 0.5 (increase N)")
    return int(round(m))


def prepare(pruning, n: int, n_pool: int, n_kept: int, alpha_tot: float, keep_b: int, *,
            snr=0.0, probe="fixed", alpha_ssl=None, method="eigen", source="independent",
            mode="pool", metric="abs", labels=None):
    """Validate the spiked model and the probe of a simulation; returns
    ``(sampling, spike_c, proto, proto_bytes)``: the :class:`~prunescale.theory.Pruning` to
    sample with (the effective angle of a fixed probe, :func:`effective_theta`), the spike
    coefficient ``c``, the prototype's ``(traced, static)`` arguments of
    :func:`prototype_block` (``None`` for a fixed probe) and the bytes one student of the
    prototype sampler needs. Refuses (one line) what is not simulated: the prototype with
    ``metric="signed"`` (the eigenvector's sign carries no label information, so ``y v.x``
    is undefined), in ``direct`` mode, and an unlabeled sample (with the pool) that does not fit
    in memory for even one student."""
    from prunescale.theory.pruning import Pruning

    snr = float(snr)
    c = spike_coefficient(snr)
    if probe != "prototype":
        if (method, source) != ("eigen", "independent"):
            raise InputError("prototype_method and prototype_source are options of the "
                             "prototype probe (probe='prototype'); got a fixed probe")
        if snr > 0 and labels is not None and metric == "signed":
            raise InputError("a label channel with spiked inputs (snr > 0) and metric signed "
                             "is not simulated (the policy's threshold assumes a standard "
                             "teacher field); use noise, metric abs or snr = 0")
        sampling = pruning if snr == 0 else Pruning(
            pruning.rule, pruning.f, math.degrees(effective_theta(pruning.theta, snr)))
        return sampling, c, None, 0
    method, source = check_prototype_options(method, source)
    if metric != "abs":
        raise InputError("metric signed is not defined for the prototype probe: the "
                         "unlabeled sample carries no labels to orient v; use metric abs")
    if mode == "direct":
        raise InputError("mode direct (the N -> inf kept law) is not simulated for the "
                         "prototype probe; use mode pool")
    if source == "pool" and alpha_ssl is not None:
        raise InputError("alpha_ssl sizes the independent unlabeled sample; with "
                         "prototype_source='pool' the prototype is computed on the pool")
    from prunescale.sims.prune import bucket
    from prunescale.sims.run import available_memory

    n_ssl = ssl_size(n, alpha_ssl, alpha_tot, source)
    pool_b = bucket(n_pool, 1)
    ssl_b = 0 if source == "pool" else bucket(n_ssl, 1)
    need = prototype_bytes(n, pool_b, ssl_b, keep_b)
    avail = available_memory()
    if avail is not None and need > avail:
        what = ("the pool" if source == "pool" else
                f"unlabeled sample of M = {n_ssl} inputs (alpha_ssl N) and the pool")
        raise InputError(f"the prototype probe's {what} need about {need / 2**30:.3g} GiB of "
                         f"memory per student and {avail / 2**30:.3g} GiB are available; "
                         "reduce alpha_ssl or N")
    traced = (np.int32(n_pool), np.int32(n_kept), np.int32(n_ssl))
    static = dict(rule=pruning.rule, n=int(n), pool_b=pool_b, keep_b=keep_b, ssl_b=ssl_b,
                  method=method, source=source)
    return pruning, c, (traced, static), need


def block_with(chunk: int, per_student: int, extra: int, budget: int) -> int:
    """Students per block, fewer than ``chunk`` when the prototype's ``extra`` bytes per
    student would push a block past ``budget``."""
    if not extra:
        return chunk
    return int(max(1, min(chunk, budget // (per_student + extra))))


def result_fields(snr, probe, alpha_ssl, method, source, probe_deg) -> dict:
    """The spiked-model and probe fields of a :class:`~prunescale.sims.SimResult`."""
    proto = probe == "prototype"
    return dict(snr=float(snr), probe=probe,
                alpha_ssl=None if alpha_ssl is None else float(alpha_ssl),
                prototype_method=method if proto else None,
                prototype_source=source if proto else None, probe_deg=probe_deg)
