"""What the paper draws, as functions returning arrays (Sorscher et al. 2022, Sec. 2-3, Figs. 1-3).

* :func:`learning_curve`: ``eps(alpha_prune)`` at fixed ``f``.
* :func:`pareto_frontier`: for each ``alpha_prune`` the smallest ``eps`` over the kept fraction
  ``f`` when the pool is unlimited (``alpha_tot = alpha_prune / f`` is free), and the best ``f``.
* :func:`phase_diagram` / :func:`phase_boundary`: over ``(alpha_tot, f)``, which of keep-easy
  and keep-hard gives the smaller error, and the curve where they are equal.
* :func:`f_min`: the minimum useful fraction of an imperfect metric.

All functions are thin layers over :func:`theory.solve`: every number they return comes from a
certified point, and points that could not be certified are excluded (and counted).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from prunescale.theory import pruning as _pr
from prunescale.theory._kept_law import Quadrature
from prunescale.theory.solver import TheoryResult, solve


#: Default grid of kept fractions searched for the optimum (log-spaced, includes f = 1).
F_GRID = np.geomspace(1e-3, 1.0, 43)


def learning_curve(rule: str, f: float, alpha_prune, theta_deg: float = 0.0, *,
                   quad: Quadrature = Quadrature()) -> TheoryResult:
    """``eps`` against ``alpha_prune`` at fixed ``(rule, f, theta)`` (:func:`theory.solve`)."""
    return solve(rule, f, np.asarray(alpha_prune, dtype=float), theta_deg, quad=quad)


@dataclasses.dataclass(frozen=True)
class Frontier:
    """Pareto frontier: the best error at each data budget with an unlimited pool.

    Attributes:
        alpha_prune: budgets, shape ``[n]``.
        theta_deg: probe angle.
        eps: smallest error over ``f`` (and over ``rules``), shape ``[n]``.
        f_opt: the minimising kept fraction, shape ``[n]``.
        rule_opt: the minimising rule, shape ``[n]`` (strings).
        eps_random: error without pruning (``f = 1``), the power law ``~0.5 / alpha``.
        at_boundary: the optimum sits at the smallest fraction searched (the true optimum may
            be smaller still); ``f_opt`` is then a bound, not a minimiser.
        n_uncertified: grid points excluded because they could not be certified.
    """

    alpha_prune: np.ndarray
    theta_deg: float
    eps: np.ndarray
    f_opt: np.ndarray
    rule_opt: np.ndarray
    eps_random: np.ndarray
    at_boundary: np.ndarray
    n_uncertified: int


def _parabola_vertex(x, y):
    """Vertex abscissa of the parabola through three points per row (``x, y``: ``[n, 3]``)."""
    x0, x1, x2 = x.T
    y0, y1, y2 = y.T
    num = (x1 - x0) ** 2 * (y1 - y2) - (x1 - x2) ** 2 * (y1 - y0)
    den = (x1 - x0) * (y1 - y2) - (x1 - x2) * (y1 - y0)
    with np.errstate(all="ignore"):
        v = x1 - 0.5 * num / den
    return np.where(np.isfinite(v), np.clip(v, x0, x2), x1)


def pareto_frontier(
    alpha_prune,
    theta_deg: float = 0.0,
    *,
    rules: tuple[str, ...] = ("hard",),
    f_grid=None,
    quad: Quadrature = Quadrature(),
) -> Frontier:
    """Minimum over the kept fraction ``f`` of ``eps(rule, f, alpha_prune, theta)``.

    .. math::  \\varepsilon^*(\\alpha_{prune}) = \\min_{f,\\,\\mathrm{rule}}
               \\varepsilon(\\mathrm{rule}, f, \\alpha_{prune}, \\theta)

    The pool is unlimited, so ``alpha_tot = alpha_prune / f`` follows ``f``. The minimum is
    taken on ``f_grid`` (log-spaced; the paper's frontier uses keep-hard), then refined by a
    parabola in ``log f`` through the best grid point and its neighbours, solved and kept only
    if certified and better.

    With a perfect metric (``theta = 0``) and ``alpha_prune`` above about 2 the keep-hard error
    keeps falling as ``f -> 0`` (roughly ``eps ~ f``: every support vector of the ever larger pool
    survives, and eps approaches the unpruned error at ``alpha_tot = alpha_prune / f``), so the
    minimum sits at the smallest fraction searched and is reported with ``at_boundary``; the
    frontier then depends on how small a fraction of a pool one can keep. With an imperfect
    metric (``theta > 0``) the optimum is interior.
    """
    alpha = _pr.check_alpha("alpha_prune", np.atleast_1d(np.asarray(alpha_prune, float)))
    fg = np.sort(_pr.check_f(F_GRID if f_grid is None else np.asarray(f_grid, float)))
    n, m = len(alpha), len(fg)
    A, Fm = np.meshgrid(alpha, fg, indexing="ij")
    best = np.full(n, np.inf)
    f_opt = np.full(n, np.nan)
    rule_opt = np.full(n, "", dtype=object)
    at_boundary = np.zeros(n, bool)
    n_bad = 0
    for rule in rules:
        r = solve(rule, Fm, A, theta_deg, quad=quad)
        eps = np.where(r.converged, r.eps, np.inf)
        n_bad += int((~r.converged).sum())
        i = np.argmin(eps, axis=1)
        e_i = eps[np.arange(n), i]
        f_i = fg[i]
        # refine interior minima with a parabola in log f
        inner = (i > 0) & (i < m - 1) & np.isfinite(e_i)
        if inner.any():
            rows = np.flatnonzero(inner)
            cols = i[rows][:, None] + np.array([-1, 0, 1])
            y = eps[rows[:, None], cols]
            ok = np.isfinite(y).all(1)
            rows, cols, y = rows[ok], cols[ok], y[ok]
            if rows.size:
                lf = _parabola_vertex(np.log(fg[cols]), y)
                r2 = solve(rule, np.exp(lf), alpha[rows], theta_deg, quad=quad)
                better = r2.converged & (r2.eps < e_i[rows])
                e_i[rows[better]] = r2.eps[better]
                f_i[rows[better]] = r2.f[better]
        win = e_i < best
        best[win], f_opt[win], rule_opt[win] = e_i[win], f_i[win], rule
        at_boundary[win] = i[win] == 0
    rand = solve("random", 1.0, alpha, quad=quad)
    return Frontier(alpha_prune=alpha, theta_deg=float(theta_deg), eps=best, f_opt=f_opt,
                    rule_opt=rule_opt.astype(str), eps_random=rand.eps, at_boundary=at_boundary,
                    n_uncertified=n_bad)


@dataclasses.dataclass(frozen=True)
class PhaseDiagram:
    """Keep-easy against keep-hard over ``(alpha_tot, f)``.

    Attributes:
        alpha_tot: pool sizes, shape ``[n_a]``; f: kept fractions, shape ``[n_f]``.
        eps_easy, eps_hard: errors, shape ``[n_f, n_a]`` (``nan`` where not certified).
        log_ratio: ``log10(eps_hard / eps_easy)``: positive where keep-easy wins.
        boundary_alpha_tot: for each ``f``, the pool size where both rules give the same error
            (``nan`` if there is no crossing in the range), shape ``[n_f]``.
    """

    alpha_tot: np.ndarray
    f: np.ndarray
    theta_deg: float
    eps_easy: np.ndarray
    eps_hard: np.ndarray
    log_ratio: np.ndarray
    boundary_alpha_tot: np.ndarray


def phase_diagram(alpha_tot, f, theta_deg: float = 0.0, *,
                  quad: Quadrature = Quadrature()) -> PhaseDiagram:
    """Solve keep-easy and keep-hard on the ``(f, alpha_tot)`` grid and locate the boundary."""
    at = _pr.check_alpha("alpha_tot", np.atleast_1d(np.asarray(alpha_tot, float)))
    fs = _pr.check_f(np.atleast_1d(np.asarray(f, float)))
    F, AT = np.meshgrid(fs, at, indexing="ij")
    e = solve("easy", F, alpha_tot=AT, theta_deg=theta_deg, quad=quad)
    h = solve("hard", F, alpha_tot=AT, theta_deg=theta_deg, quad=quad)
    ee = np.where(e.converged, e.eps, np.nan)
    eh = np.where(h.converged, h.eps, np.nan)
    return PhaseDiagram(alpha_tot=at, f=fs, theta_deg=float(theta_deg), eps_easy=ee,
                        eps_hard=eh, log_ratio=np.log10(eh / ee),
                        boundary_alpha_tot=phase_boundary(fs, theta_deg, quad=quad))


def phase_boundary(f, theta_deg: float = 0.0, *, alpha_tot_range=(1e-2, 1e4), n_scan: int = 25,
                   n_refine: int = 12, quad: Quadrature = Quadrature()) -> np.ndarray:
    """Pool size ``alpha_tot*(f)`` at which keep-easy and keep-hard give equal error.

    .. math::  \\varepsilon(\\mathrm{easy}, f, f\\alpha^*_{tot}) =
               \\varepsilon(\\mathrm{hard}, f, f\\alpha^*_{tot})

    Keep-easy wins below it (small pools), keep-hard above it. Found by a scan of
    ``log alpha_tot`` for the first sign change of ``log(eps_hard / eps_easy)`` followed by
    Illinois (modified regula falsi) steps in ``log alpha_tot``, vectorized over ``f``.
    ``nan`` where no crossing lies in ``alpha_tot_range`` (and at ``f = 1``, where the rules
    coincide).
    """
    fs = _pr.check_f(np.atleast_1d(np.asarray(f, float)))
    scan = np.geomspace(*alpha_tot_range, n_scan)

    def g(fv, atv):
        e = solve("easy", fv, alpha_tot=atv, theta_deg=theta_deg, quad=quad)
        h = solve("hard", fv, alpha_tot=atv, theta_deg=theta_deg, quad=quad)
        val = np.log(h.eps / e.eps)
        return np.where(e.converged & h.converged, val, np.nan)

    F, AT = np.meshgrid(fs, scan, indexing="ij")
    G = g(F, AT)
    out = np.full(len(fs), np.nan)
    # first crossing from easy-wins (G > 0) to hard-wins (G < 0)
    cross = (G[:, :-1] > 0) & (G[:, 1:] <= 0)
    has = cross.any(1) & (fs < 1)
    rows = np.flatnonzero(has)
    if rows.size == 0:
        return out
    j = np.argmax(cross[rows], axis=1)
    xa, xb = np.log(scan[j]), np.log(scan[j + 1])
    ga, gb = G[rows, j], G[rows, j + 1]
    for _ in range(n_refine):
        # Illinois: regula falsi that halves the stale end's value when it is kept twice
        with np.errstate(all="ignore"):
            xc = np.where(gb != ga, xb - gb * (xb - xa) / (gb - ga), 0.5 * (xa + xb))
        gc = g(fs[rows], np.exp(xc))
        gc = np.where(np.isfinite(gc), gc, 0.0)
        flip = np.sign(gc) != np.sign(gb)
        xa, ga = np.where(flip, xb, xa), np.where(flip, gb, 0.5 * ga)
        xb, gb = xc, gc
    out[rows] = np.exp(xb)
    return out


@dataclasses.dataclass(frozen=True)
class FMin:
    """Minimum useful kept fraction of an imperfect metric.

    Attributes:
        theta_deg: probe angle.
        f_min: the smallest optimal fraction over the budgets searched.
        alpha_prune_at_min: the budget where the optimal fraction is smallest.
        frontier: the keep-hard frontier it was read from.
        at_boundary: the optimal fraction reached the smallest fraction searched, or the
            minimum over budgets lies at the end of the budget range: ``f_min`` is then only a
            bound (this is the case at ``theta = 0``, where ``f_opt -> 0``).
    """

    theta_deg: float
    f_min: float
    alpha_prune_at_min: float
    frontier: Frontier
    at_boundary: bool


def f_min(theta_deg: float, *, alpha_prune=None, f_grid=None,
          quad: Quadrature = Quadrature()) -> FMin:
    """Minimum useful fraction ``f_min(theta)`` of keep-hard pruning with an imperfect metric.

    Following the paper (Sec. 3, Fig. 3), let ``f_opt(alpha_prune)`` be the kept fraction
    that minimises the keep-hard error at budget ``alpha_prune`` with an unlimited pool (the
    Pareto-optimal fraction). Then

    .. math::  f_{\\min}(\\theta) = \\min_{\\alpha_{prune}} f_{opt}(\\alpha_{prune}; \\theta),

    the smallest fraction that is ever optimal over the budgets searched (default
    ``0.5 <= alpha_prune <= 200``): keeping fewer examples than ``f_min`` is never the best use
    of those budgets. With a perfect metric (``theta = 0``) ``f_opt`` drops to the smallest
    fraction searched as soon as ``alpha_prune`` passes about 2, so ``f_min`` is only bounded by
    the search grid (``at_boundary``). For ``theta > 0`` ``f_opt`` stays far above the grid floor
    and ``f_min`` grows with ``theta``. In this theory ``f_opt`` keeps decreasing slowly with the
    budget (e.g. 0.19, 0.13, 0.086, 0.059 at ``alpha_prune`` = 20, 60, 200, 600 for
    ``theta = 20``), so the minimum sits at the largest budget searched and ``at_boundary``
    reports it: ``f_min`` is a property of the budget range, not an asymptotic constant.
    """
    theta = float(_pr.check_theta_deg(theta_deg))
    alpha = np.geomspace(0.5, 200.0, 24) if alpha_prune is None else np.asarray(alpha_prune)
    fr = pareto_frontier(alpha, theta, rules=("hard",), f_grid=f_grid, quad=quad)
    i = int(np.nanargmin(fr.f_opt))
    edge = bool(fr.at_boundary[i] or i == len(alpha) - 1)
    return FMin(theta_deg=theta, f_min=float(fr.f_opt[i]),
                alpha_prune_at_min=float(fr.alpha_prune[i]), frontier=fr, at_boundary=edge)
