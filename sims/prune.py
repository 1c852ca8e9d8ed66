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
                mode: str = "pool") -> tuple[Teacher, Examples]:
    """Teacher and the ``P = pruning.n_kept(n_pool)`` kept examples of one student.

    ``key`` determines everything: all the randomness of a student is *one* call to
    ``jax.random.normal(key, (total,))``, cut into pieces (teacher, margins or their uniforms,
    selection scores, inputs). One generator call site keeps XLA compile times short (each
    threefry call site costs about a second of compilation on CPU). Uniforms are
    ``Phi(normal)`` and a uniform random subset is the ``P`` largest of i.i.d. normal scores.
    See the module docstring for ``mode``. Pure and jit/vmap compatible (all arguments but
    ``key`` static).
    """
    if mode not in MODES:
        raise InputError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
    n_keep = pruning.n_kept(n_pool)
    if mode == "materialize":
        teacher, pool = sample_pool(key, n, 0.0, pruning.theta, n_pool=n_pool)
        idx = prune_indices(jax.random.fold_in(key, 7), pool.tp, pruning.rule, n_keep)
        return teacher, Examples(pool.x[idx], pool.y[idx], pool.tp[idx])
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
    return teacher, Examples(x, labels(x, teacher.T), tp)
