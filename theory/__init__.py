"""Replica theory of data pruning in the teacher-student perceptron, for every learner.

Public API:

* :func:`solve` and :class:`TheoryResult`: certified solutions at broadcast grids of model
  points, for the max-margin student and the regularized learners (ridge, logistic, hinge);
  the model point is a :class:`prunescale.model.Model` or the same fields as arguments;
* :class:`Pruning`, :data:`RULES`, :func:`threshold`, :func:`kept_range`: the pruning rules;
* :class:`Quadrature` (max-margin) and :class:`ErmQuadrature` (regularized): resolutions;
* curves in :mod:`prunescale.theory.curves`, the capacity in :mod:`prunescale.theory.capacity`;
* spiked inputs and the prototype probe (:mod:`prunescale.theory.spiked`):
  :func:`prototype_cos2`, :func:`prototype_angle_deg` (the BBP angle) and
  :func:`effective_angle_deg` (the whitened angle).

References:
    B. Sorscher, R. Geirhos, S. Shekhar, S. Ganguli, A. S. Morcos, "Beyond neural scaling laws:
    beating power law scaling via data pruning", NeurIPS 2022, https://arxiv.org/abs/2206.14486
"""

from prunescale.theory._kept_law import Quadrature as Quadrature
from prunescale.theory.engine import solve as solve
from prunescale.theory.pruning import RULES as RULES
from prunescale.theory.pruning import Pruning as Pruning
from prunescale.theory.pruning import kept_range as kept_range
from prunescale.theory.pruning import threshold as threshold
from prunescale.theory.result import TheoryResult as TheoryResult
from prunescale.theory.spiked import effective_angle_deg as effective_angle_deg
from prunescale.theory.spiked import prototype_angle_deg as prototype_angle_deg
from prunescale.theory.spiked import prototype_cos2 as prototype_cos2


def __getattr__(name):  # ErmQuadrature imports scipy: only when asked for
    if name == "ErmQuadrature":
        from prunescale.theory._erm_law import ErmQuadrature

        return ErmQuadrature
    raise AttributeError(f"module 'prunescale.theory' has no attribute {name!r}")


__all__ = ["ErmQuadrature", "Pruning", "Quadrature", "RULES", "TheoryResult",
           "effective_angle_deg", "kept_range", "prototype_angle_deg", "prototype_cos2", "solve",
           "threshold"]
