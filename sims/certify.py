"""Solver-independent certificate of a max-margin student (``docs/theory.md``, last section).

Primal: ``min 1/2 |w|^2`` s.t. ``y_mu w.x_mu >= 1``; dual: ``max_{lambda >= 0} D(lambda)``,
``D(lambda) = sum_mu lambda_mu - 1/2 |sum_mu lambda_mu y_mu x_mu|^2``.

* Any ``w`` with ``m = min_mu y_mu w.x_mu > 0`` gives the feasible point ``w/m``, so the optimum
  ``P* <= P(w/m) = |w|^2 / (2 m^2)``.
* Any ``lambda >= 0`` gives ``P* >= D(lambda)``; we use the best rescaling ``c lambda``,
  ``max_c D(c lambda) = (sum lambda)^2 / (2 |sum lambda y x|^2)``, still a valid lower bound.
* Relative gap ``(P(w/m) - D) / P(w/m)``. Weak duality makes it ``>= 0``; a dual above the
  primal by more than rounding (relative :data:`ROUNDING`) is impossible for a correct
  computation and is reported as ``gap = inf`` with ``consistent = False``, never as a
  certified zero. The gap brackets the margin
  ``m/|w| <= kappa* <= 1/sqrt(2 D)``.
* The primal is 1-strongly convex: ``|w/m - w*|^2 <= 2 (P(w/m) - P*) <= 2 (P(w/m) - D)`` and
  ``|w*|^2 = 2 P* >= 2 D``, so the angle between ``w`` and ``w*`` is at most
  ``arcsin(sqrt((P(w/m) - D) / D))`` and ``|eps(w) - eps(w*)| <= that / pi``
  (``eps = angle(J, T) / pi``, triangle inequality for angles).

With inputs of unit-variance entries the margin ``kappa = min_mu y_mu w.x_mu / |w|`` is exactly
the theory's ``kappa`` (constraint ``y J.x / sqrt(N) >= kappa`` with ``|J|^2 = N``: put
``J = sqrt(N) w/|w|``).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from prunescale.sims._x64 import float64


#: relative excess of the dual over the primal still attributed to float64 rounding
ROUNDING = 1e-9


class Certificate(NamedTuple):
    """Bounds certified from ``(w, lambda)``: all scalars (or arrays when vmapped)."""

    primal: jax.Array  # P(w/m) = |w|^2 / (2 m^2) (inf if m <= 0)
    dual: jax.Array  # best D(c lambda) >= 0
    gap: jax.Array  # relative gap (P - D) / P, in [0, inf]; inf when w is infeasible
    kappa: jax.Array  # m / |w|, the certified lower bound on the max margin
    kappa_upper: jax.Array  # 1 / sqrt(2 D)
    eps_err: jax.Array  # bound on |eps(w) - eps(w*)|
    consistent: jax.Array  # False if dual > primal beyond rounding (then gap = inf)


def relative_gap(primal: jax.Array, dual: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``((P - D) / P, consistent)``: ``inf`` if ``P`` is infinite or NaN; ``inf`` and
    ``consistent = False`` if ``D`` exceeds ``P`` by more than :data:`ROUNDING` (relative),
    which weak duality forbids; a dual above the primal within rounding gives gap 0."""
    diff = primal - dual
    consistent = ~(diff < -ROUNDING * jnp.abs(primal))
    gap = jnp.where(jnp.isfinite(primal), jnp.maximum(diff, 0.0) / primal, jnp.inf)
    gap = jnp.where(jnp.isnan(gap) | ~consistent, jnp.inf, gap)
    return gap, consistent


@float64
def certify(z: jax.Array, w: jax.Array, lam: jax.Array, valid=None) -> Certificate:
    """Certificate for the problem with rows ``z_mu = y_mu x_mu`` (``P x N``).

    ``w`` is any weight vector and ``lam`` any multipliers (negative entries are clipped to 0).
    ``valid`` (optional boolean ``P``): the real rows of a padded problem; the others are
    ignored (their multipliers taken as 0, their constraints dropped), so the certificate is
    exactly that of the real rows alone.
    """
    lam = jnp.maximum(lam, 0.0)
    margins = z @ w
    if valid is not None:
        lam = jnp.where(valid, lam, 0.0)
        margins = jnp.where(valid, margins, jnp.inf)
    m = jnp.min(margins)
    w2 = w @ w
    primal = jnp.where(m > 0, w2 / (2.0 * jnp.where(m > 0, m, 1.0) ** 2), jnp.inf)
    v = z.T @ lam
    v2 = v @ v
    s = jnp.sum(lam)
    dual = jnp.where(v2 > 0, s * s / (2.0 * jnp.where(v2 > 0, v2, 1.0)), 0.0)
    diff = primal - dual
    gap, consistent = relative_gap(primal, dual)
    kappa = m / jnp.sqrt(w2)
    kappa_upper = jnp.where(dual > 0, 1.0 / jnp.sqrt(2.0 * jnp.where(dual > 0, dual, 1.0)),
                            jnp.inf)
    ratio = jnp.where(dual > 0, jnp.maximum(diff, 0.0) / jnp.where(dual > 0, dual, 1.0),
                      jnp.inf)
    eps_err = jnp.where(ratio < 1.0, jnp.arcsin(jnp.sqrt(jnp.minimum(ratio, 1.0))), jnp.pi)
    eps_err = jnp.where(consistent, eps_err, jnp.pi)
    return Certificate(primal, dual, gap, kappa, kappa_upper, eps_err / jnp.pi, consistent)
