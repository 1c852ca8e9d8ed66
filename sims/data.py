"""Random teacher, probe and Gaussian examples of the teacher--student perceptron.

Model (Sorscher et al. 2022, Sec. 2; notation of ``docs/theory.md``):

* inputs ``x in R^N`` with i.i.d. ``N(0, 1)`` entries;
* teacher ``T`` uniform on the sphere ``|T|^2 = N``; label ``y = sign(T.x)``;
* probe ``J_p = cos(theta) T + sin(theta) T_2`` with ``T_2 perp T``, ``|T_2|^2 = N``, so that
  ``|J_p|^2 = N`` and the angle between probe and teacher is exactly ``theta``;
* probe margin ``t_p = J_p.x / sqrt(N)`` (standard normal).

Since ``x`` is isotropic, ``t_p`` is independent of the component of ``x`` orthogonal to ``J_p``.
An example with a *given* probe margin is therefore

.. math::  x = g + (t_p - \\hat J_p . g)\\, \\hat J_p, \\qquad g \\sim N(0, I_N),
           \\quad \\hat J_p = J_p / \\sqrt{N},

which is exactly distributed as a Gaussian input conditioned on ``J_p.x/sqrt(N) = t_p``
(:func:`inputs_with_probe_margin`). Pruning only looks at ``t_p``, so a pool can be ranked from
its ``P_tot`` scalar margins and only the ``P`` kept inputs need to be drawn: the result has the
*exact* finite-pool law (order statistics and all) at the cost of ``P N`` instead of
``P_tot N`` normals. :func:`sample_pool` draws the literal pool for tests.

All functions take explicit JAX PRNG keys and are pure (jit/vmap friendly); dtypes follow
``jax_enable_x64``; the public ones run in the float64 context of :mod:`prunescale.sims._x64`.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from prunescale.sims._x64 import float64


class Teacher(NamedTuple):
    """Teacher ``T``, orthogonal direction ``T2`` and probe ``Jp`` (each of squared norm ``N``)."""

    T: jax.Array
    T2: jax.Array
    Jp: jax.Array


class Examples(NamedTuple):
    """Examples ``x`` (``P x N``), labels ``y = sign(T.x)`` in {-1, +1} and probe margins ``tp``."""

    x: jax.Array
    y: jax.Array
    tp: jax.Array


@float64
def sample_teacher(key: jax.Array, n: int, theta: float) -> Teacher:
    """Teacher uniform on ``|T|^2 = N`` and a probe at angle ``theta`` (radians) to it.

    See :func:`teacher_from_normals`; ``key`` draws the two Gaussian vectors.
    """
    ab = jax.random.normal(key, (2, n))
    return teacher_from_normals(ab[0], ab[1], theta)


def teacher_from_normals(a: jax.Array, b: jax.Array, theta: float) -> Teacher:
    """Teacher ``T = sqrt(N) a/|a|`` (uniform on the sphere for Gaussian ``a``), ``T2`` = ``b``
    Gram--Schmidt orthogonalised against ``T`` and scaled to ``|T2|^2 = N`` (uniform on the
    sphere of the orthogonal complement), probe ``Jp = cos(theta) T + sin(theta) T2``.
    For ``n = 1`` there is no orthogonal direction: ``T2 = 0`` and only ``theta = 0`` is meaningful.
    """
    n = a.shape[0]
    sqrt_n = jnp.sqrt(jnp.asarray(n, a.dtype))
    t_hat = a / jnp.linalg.norm(a)
    b = b - (b @ t_hat) * t_hat
    b = b - (b @ t_hat) * t_hat  # re-orthogonalise (twice is enough in floating point)
    nb = jnp.linalg.norm(b)
    big = nb > 1e-8 * jnp.linalg.norm(a)
    t2_hat = jnp.where(big, b / jnp.where(big, nb, 1.0), 0.0)
    T = sqrt_n * t_hat
    T2 = sqrt_n * t2_hat
    Jp = jnp.cos(theta) * T + jnp.sin(theta) * T2
    return Teacher(T, T2, Jp)


def labels(x: jax.Array, T: jax.Array) -> jax.Array:
    """``y = sign(T.x)`` as +-1 (the measure-zero case ``T.x = 0`` is labelled +1)."""
    return jnp.where(x @ T >= 0, 1.0, -1.0).astype(x.dtype)


@float64
def inputs_with_probe_margin(key: jax.Array, tp: jax.Array, Jp: jax.Array) -> jax.Array:
    """Gaussian inputs conditioned on their probe margins: ``x = g + (t_p - Jp_hat.g) Jp_hat``.

    Row ``mu`` satisfies ``Jp.x_mu / sqrt(N) = tp[mu]`` exactly; its component orthogonal to
    ``Jp`` is standard Gaussian and independent of ``tp``.
    """
    g = jax.random.normal(key, (tp.shape[0], Jp.shape[0]), dtype=Jp.dtype)
    return inputs_from_normals(g, tp, Jp)


def inputs_from_normals(g: jax.Array, tp: jax.Array, Jp: jax.Array) -> jax.Array:
    """:func:`inputs_with_probe_margin` with the standard normals ``g`` (``P x N``) given."""
    j_hat = Jp / jnp.linalg.norm(Jp)
    return g + (tp - g @ j_hat)[:, None] * j_hat[None, :]


@float64
def sample_pool(key: jax.Array, n: int, alpha_tot: float, theta: float,
                n_pool: int | None = None) -> tuple[Teacher, Examples]:
    """Materialise a whole pool: ``P_tot = round(alpha_tot N)`` Gaussian inputs, labels, margins.

    This is the literal construction (``P_tot x N`` normals); the simulator itself uses the
    equivalent, cheaper :func:`sims.prune.sample_kept`. ``n_pool`` overrides ``P_tot``.
    """
    if n_pool is None:
        n_pool = max(1, int(round(alpha_tot * n)))
    z = jax.random.normal(key, ((n_pool + 2) * n,))  # one generator call (fast compile)
    teacher = teacher_from_normals(z[:n], z[n:2 * n], theta)
    x = z[2 * n:].reshape(n_pool, n)
    tp = x @ teacher.Jp / jnp.sqrt(jnp.asarray(n, x.dtype))
    return teacher, Examples(x, labels(x, teacher.T), tp)


@float64
def truncated_folded_normal(key: jax.Array, shape, lo: float, hi: float) -> jax.Array:
    """Draw ``|t|`` with ``t ~ N(0,1)`` conditioned on ``lo <= |t| <= hi`` (``hi`` may be inf).

    See :func:`truncated_folded_from_uniform`; ``key`` draws the uniforms.
    """
    dtype = jnp.zeros(()).dtype
    return truncated_folded_from_uniform(jax.random.uniform(key, shape, dtype=dtype), lo, hi)


def truncated_folded_from_uniform(u: jax.Array, lo: float, hi: float) -> jax.Array:
    """Inverse-CDF map of uniforms ``u in [0, 1)`` to the folded normal truncated to ``[lo, hi]``.

    Works on the upper-tail probability ``q = H(hi) + u (H(lo) - H(hi))`` (uniform between
    ``H(hi)`` and ``H(lo)``) and
    returns ``|t| = -ndtri(q)``: the small tail keeps full relative precision for thresholds deep
    in the tail (keep-easy at small ``f``).
    """
    from jax.scipy.special import ndtr, ndtri

    q_hi = ndtr(-jnp.asarray(lo, u.dtype))  # H(lo)
    q_lo = ndtr(-jnp.asarray(hi, u.dtype))  # H(hi) (0 for hi = inf)
    q = q_lo + u * (q_hi - q_lo)
    return jnp.clip(-ndtri(q), lo, hi)
