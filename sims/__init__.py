"""Simulations of the teacher--student perceptron with margin-pruned data (Sorscher et al. 2022).

Public API:

* :func:`simulate` -> :class:`SimResult`: certified max-margin students, per-student arrays
  (``eps, R, S, kappa, gap, eps_err``) and aggregates (``eps_mean, eps_sem, ...``);
* :func:`solve_max_margin`: the batched interior-point + active-set max-margin solver;
* :func:`certify`: the solver-independent duality-gap certificate;
* :func:`sample_kept`, :func:`prune_indices`, :func:`sample_pool`, :func:`sample_teacher`,
  :func:`truncated_folded_normal`: data and pruning;
* :class:`Pruning` is re-exported from :mod:`theory.pruning` (the shared specification).

Importing :mod:`sims` enables JAX float64 (``jax_enable_x64``): certificates at a relative
gap of 1e-6 need it.
"""

import jax

jax.config.update("jax_enable_x64", True)

from prunescale.theory.pruning import Pruning  # noqa: E402

from prunescale.sims.certify import Certificate, certify  # noqa: E402
from prunescale.sims.data import (  # noqa: E402
    Examples,
    Teacher,
    inputs_with_probe_margin,
    sample_pool,
    sample_teacher,
    truncated_folded_normal,
)
from prunescale.sims.prune import MODES, pool_size, prune_indices, sample_kept  # noqa: E402
from prunescale.sims.run import SimResult, resolve_alphas, simulate  # noqa: E402
from prunescale.sims.student import Solution, solve_max_margin  # noqa: E402

__all__ = [
    "Certificate", "Examples", "MODES", "Pruning", "SimResult", "Solution", "Teacher",
    "certify", "inputs_with_probe_margin", "pool_size", "prune_indices", "resolve_alphas",
    "sample_kept", "sample_pool", "sample_teacher", "simulate", "solve_max_margin",
    "truncated_folded_normal",
]
