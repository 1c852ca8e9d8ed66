"""Replica theory of the max-margin perceptron trained on margin-pruned data.

Public API:

* :class:`Pruning`, :data:`RULES`, :func:`threshold`, :func:`kept_range`: the pruning
  specification shared with the simulator;
* :func:`solve` and :class:`TheoryResult`: certified solutions ``(eps, R, S, kappa)``;
* :class:`Quadrature`: quadrature resolution;
* curves in :mod:`theory.curves`.

References:
    B. Sorscher, R. Geirhos, S. Shekhar, S. Ganguli, A. S. Morcos, "Beyond neural scaling laws:
    beating power law scaling via data pruning", NeurIPS 2022, https://arxiv.org/abs/2206.14486
"""

from prunescale.theory._kept_law import Quadrature as Quadrature
from prunescale.theory.pruning import RULES as RULES
from prunescale.theory.pruning import Pruning as Pruning
from prunescale.theory.pruning import kept_range as kept_range
from prunescale.theory.pruning import threshold as threshold
from prunescale.theory.solver import TheoryResult as TheoryResult
from prunescale.theory.solver import solve as solve


__all__ = ["Pruning", "Quadrature", "RULES", "TheoryResult", "kept_range", "solve", "threshold"]
