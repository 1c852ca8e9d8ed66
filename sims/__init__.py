"""Simulations of the teacher--student perceptron with margin-pruned data (Sorscher et al. 2022).

Public API:

* :func:`simulate` -> :class:`SimResult`: certified students of one model point (a
  :class:`prunescale.model.Model`, or its fields as arguments) for every learner (max-margin,
  ridge, logistic, hinge): per-student arrays (``eps, R, S, kappa, Q, gap, eps_err``) and
  aggregates (``eps_mean, eps_sem, ...``);
* :func:`solve_max_margin`: the batched interior-point + active-set max-margin solver;
* :func:`certify`: the solver-independent duality-gap certificate;
* :func:`sample_kept`, :func:`prune_indices`, :func:`sample_pool`, :func:`sample_teacher`,
  :func:`truncated_folded_normal`: data and pruning;
* :func:`load`: a sweep's results folder (``prunescale sim --out DIR``) as a pandas
  ``DataFrame``, or aggregated as an xarray ``Dataset`` (:mod:`prunescale.sims.store`);
* :func:`plan` -> :class:`RunPlan`: the sizes, block, memory and compiled-program shape of a
  simulation before it runs (:mod:`prunescale.sims.planning`);
* :func:`aggregates_defined`: whether a run's means estimate the model's error;
* :class:`Pruning` is re-exported from :mod:`theory.pruning` (the shared specification).

Every public function computes in float64 (certificates at a relative gap of 1e-6 need it)
inside JAX's thread-local x64 context (:mod:`prunescale.sims._x64`); importing
:mod:`prunescale.sims` leaves the process-wide ``jax_enable_x64`` flag untouched.
"""

from prunescale.theory.pruning import Pruning

from prunescale.sims.certify import Certificate, certify
from prunescale.sims.data import (
    Examples,
    Teacher,
    inputs_with_probe_margin,
    sample_pool,
    sample_teacher,
    truncated_folded_normal,
)
from prunescale.sims.prune import MODES, pool_size, prune_indices, sample_kept
from prunescale.sims.engine import simulate
from prunescale.sims.planning import RunPlan, plan
from prunescale.sims.result import SimResult, aggregates_defined
from prunescale.sims.run import resolve_alphas
from prunescale.sims.store import load
from prunescale.sims.student import Solution, solve_max_margin

__all__ = [
    "Certificate", "Examples", "MODES", "Pruning", "RunPlan", "SimResult", "Solution",
    "Teacher", "aggregates_defined", "certify", "inputs_with_probe_margin", "load", "plan",
    "pool_size", "prune_indices", "resolve_alphas", "sample_kept", "sample_pool",
    "sample_teacher", "simulate", "solve_max_margin", "truncated_folded_normal"
]
