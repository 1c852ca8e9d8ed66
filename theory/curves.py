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
from prunescale.theory.engine import solve
from prunescale.theory.result import TheoryResult

__all__ = ["F_GRID", "FRONTIER_F_FLOOR", "f_min", "learning_curve", "log_ratio", "pareto_frontier",
           "phase_boundary", "phase_diagram", "smallest_optimal_fraction"]


#: Default grid of kept fractions searched for the optimum (log-spaced, includes f = 1).
F_GRID = np.geomspace(1e-3, 1.0, 43)

#: The smallest kept fraction the figures and the app search for the Pareto frontier (one
#: floor everywhere; with a perfect metric the frontier's minimum sits at this floor).
FRONTIER_F_FLOOR = 0.01


def learning_curve(rule: str, f: float, alpha_prune, theta_deg: float = 0.0, *,
                   quad=None, **model) -> TheoryResult:
    """``eps`` against ``alpha_prune`` at fixed ``(rule, f, theta)`` and any other model
    fields (``learner``, ``lam``, ``noise``, ...), as :func:`prunescale.theory.solve`."""
    return solve(rule, f, np.asarray(alpha_prune, dtype=float), theta_deg=theta_deg, quad=quad,
                 **model)


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
        n_skipped: budgets whose minimum is ``nan``: the best certified grid point had an
            uncertified neighbour (the true minimum could sit there), or no point (or the
            unpruned reference) was certified.
    """

    alpha_prune: np.ndarray
    theta_deg: float
    eps: np.ndarray
    f_opt: np.ndarray
    rule_opt: np.ndarray
    eps_random: np.ndarray
    at_boundary: np.ndarray
    n_uncertified: int
    n_skipped: int = 0


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
    snr=None,
    probe=None,
    alpha_ssl=None,
) -> Frontier:
    """Minimum over the kept fraction ``f`` of ``eps(rule, f, alpha_prune, theta)``.

    $$
    \\varepsilon^*(\\alpha_{prune}) = \\min_{f,\\,\\mathrm{rule}}
    \\varepsilon(\\mathrm{rule}, f, \\alpha_{prune}, \\theta)
    $$

    The pool is unlimited, so ``alpha_tot = alpha_prune / f`` follows ``f``. The minimum is
    taken on ``f_grid`` (log-spaced; the paper's frontier uses keep-hard), then refined by a
    parabola in ``log f`` through the best grid point and its neighbours, solved and kept only
    if certified and better. A minimum is reported only when it is bracketed by certified
    grid points (or sits at the grid's end); otherwise, or when the unpruned reference
    ``eps_random`` is not certified, the budget's entries are ``nan`` and counted in
    ``n_skipped``.

    With a perfect metric (``theta = 0``) and ``alpha_prune`` above about 2 the keep-hard error
    keeps falling as ``f -> 0`` (roughly ``eps ~ f``: every support vector of the ever larger pool
    survives, and eps approaches the unpruned error at ``alpha_tot = alpha_prune / f``), so the
    minimum sits at the smallest fraction searched and is reported with ``at_boundary``; the
    frontier then depends on how small a fraction of a pool one can keep. With an imperfect
    metric (``theta > 0``) the optimum is interior.

    ``snr, probe, alpha_ssl`` (spiked inputs and the prototype probe, ``docs/structure.md``)
    are passed to :func:`prunescale.theory.solve` (``None``: its defaults); the unpruned
    reference gets ``snr`` only. With the prototype and ``alpha_ssl=None`` its sample is the
    pool ``alpha_prune / f``, which changes with ``f`` along the search.
    """
    spike = _spike_kw(snr, probe, alpha_ssl)
    alpha = _pr.check_alpha("alpha_prune", np.atleast_1d(np.asarray(alpha_prune, float)))
    fg = np.sort(_pr.check_f(F_GRID if f_grid is None else np.asarray(f_grid, float)))
    n, m = len(alpha), len(fg)
    A, Fm = np.meshgrid(alpha, fg, indexing="ij")
    best = np.full(n, np.inf)
    f_opt = np.full(n, np.nan)
    rule_opt = np.full(n, "", dtype=object)
    at_boundary = np.zeros(n, bool)
    n_bad = 0
    unbracketed = np.zeros(n, bool)
    for rule in rules:
        r = solve(rule, Fm, A, theta_deg=theta_deg, quad=quad, **spike)
        eps = np.where(r.converged, r.eps, np.inf)
        n_bad += int((~r.converged).sum())
        i = np.argmin(eps, axis=1)
        e_i = eps[np.arange(n), i]
        f_i = fg[i]
        lo_ok = (i == 0) | r.converged[np.arange(n), np.maximum(i - 1, 0)]
        hi_ok = (i == m - 1) | r.converged[np.arange(n), np.minimum(i + 1, m - 1)]
        rule_unbracketed = ~(lo_ok & hi_ok) | ~np.isfinite(e_i)
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
                r2 = solve(rule, np.exp(lf), alpha[rows], theta_deg=theta_deg, quad=quad,
                           **spike)
                better = r2.converged & (r2.eps < e_i[rows])
                e_i[rows[better]] = r2.eps[better]
                f_i[rows[better]] = r2.f[better]
        unbracketed |= rule_unbracketed  # a rule's unreliable minimum spoils the comparison
        win = e_i < best
        best[win], f_opt[win], rule_opt[win] = e_i[win], f_i[win], rule
        at_boundary[win] = i[win] == 0
    rand = solve("random", 1.0, alpha, quad=quad, snr=snr)
    skip = unbracketed | ~np.isfinite(best) | ~rand.converged
    best[skip], f_opt[skip], rule_opt[skip] = np.nan, np.nan, ""
    at_boundary[skip] = False
    return Frontier(alpha_prune=alpha, theta_deg=float(theta_deg), eps=best, f_opt=f_opt,
                    rule_opt=rule_opt.astype(str), eps_random=rand.eps, at_boundary=at_boundary,
                    n_uncertified=n_bad + int((~rand.converged).sum()),
                    n_skipped=int(skip.sum()))


@dataclasses.dataclass(frozen=True)
class PhaseDiagram:
    """Keep-easy against keep-hard over ``(alpha_tot, f)``.

    Attributes:
        alpha_tot: pool sizes, shape ``[n_a]``; f: kept fractions, shape ``[n_f]``.
        eps_easy, eps_hard: errors, shape ``[n_f, n_a]`` (``nan`` where not certified).
        log_ratio: ``log10(eps_hard / eps_easy)``: positive where keep-easy wins.
        boundary_alpha_tot: for each ``f``, the pool size where both rules give the same error
            (``nan`` if there is no crossing in the range or it could not be certified),
            shape ``[n_f]``.
        n_uncertified: grid points where either rule is not certified (``nan`` there).
        n_boundary_failed: rows whose boundary is ``nan`` because a refining solve was not
            certified.
    """

    alpha_tot: np.ndarray
    f: np.ndarray
    theta_deg: float
    eps_easy: np.ndarray
    eps_hard: np.ndarray
    log_ratio: np.ndarray
    boundary_alpha_tot: np.ndarray
    n_uncertified: int = 0
    n_boundary_failed: int = 0


def phase_diagram(alpha_tot, f, theta_deg: float = 0.0, *,
                  quad: Quadrature = Quadrature(), snr=None, probe=None,
                  alpha_ssl=None) -> PhaseDiagram:
    """Solve keep-easy and keep-hard on the ``(f, alpha_tot)`` grid and locate the boundary.
    ``snr, probe, alpha_ssl``: passed to :func:`prunescale.theory.solve`."""
    spike = _spike_kw(snr, probe, alpha_ssl)
    at = _pr.check_alpha("alpha_tot", np.atleast_1d(np.asarray(alpha_tot, float)))
    fs = _pr.check_f(np.atleast_1d(np.asarray(f, float)))
    F, AT = np.meshgrid(fs, at, indexing="ij")
    e = solve("easy", F, alpha_tot=AT, theta_deg=theta_deg, quad=quad, **spike)
    h = solve("hard", F, alpha_tot=AT, theta_deg=theta_deg, quad=quad, **spike)
    with np.errstate(all="ignore"):
        lr = np.log10(h.eps / e.eps)  # nan where either is not certified
    bd, n_failed = _boundary(fs, theta_deg, None, None, 12, quad, **spike)
    return PhaseDiagram(alpha_tot=at, f=fs, theta_deg=float(theta_deg), eps_easy=e.eps,
                        eps_hard=h.eps, log_ratio=lr, boundary_alpha_tot=bd,
                        n_uncertified=int(np.isnan(lr).sum()), n_boundary_failed=n_failed)


def log_ratio(f, alpha_tot, theta_deg: float = 0.0, *,
              quad: Quadrature = Quadrature(), snr=None, probe=None,
              alpha_ssl=None) -> np.ndarray:
    """``log10(eps_hard / eps_easy)`` at ``(f, alpha_tot)``: positive where keep-easy wins;
    ``nan`` where either rule is not certified. ``snr, probe, alpha_ssl``: passed to
    :func:`prunescale.theory.solve`."""
    spike = _spike_kw(snr, probe, alpha_ssl)
    e = solve("easy", f, alpha_tot=alpha_tot, theta_deg=theta_deg, quad=quad, **spike)
    h = solve("hard", f, alpha_tot=alpha_tot, theta_deg=theta_deg, quad=quad, **spike)
    with np.errstate(all="ignore"):
        return np.log10(h.eps / e.eps)  # nan where either is not certified


def phase_boundary(f, theta_deg: float = 0.0, *, alpha_tot_range=(1e-2, 1e4), n_scan: int = 25,
                   n_refine: int = 12, scan=None, scan_log_ratio=None,
                   quad: Quadrature = Quadrature(), snr=None, probe=None,
                   alpha_ssl=None) -> np.ndarray:
    r"""Pool size ``alpha_tot*(f)`` at which keep-easy and keep-hard give equal error.

    $$
    \varepsilon(\mathrm{easy}, f, f\alpha^*_{tot}) =
    \varepsilon(\mathrm{hard}, f, f\alpha^*_{tot})
    $$

    Keep-easy wins below it (small pools), keep-hard above it. Found by a scan of
    ``log alpha_tot`` (``n_scan`` points over ``alpha_tot_range``, or the given ``scan`` grid
    with its already computed :func:`log_ratio` values ``scan_log_ratio`` of shape
    ``[len(f), len(scan)]``) for the first sign change of :func:`log_ratio`, followed by
    ``n_refine`` Illinois (modified regula falsi) steps in ``log alpha_tot``, vectorized over
    ``f``. The root is the last certified iterate.

    ``nan`` where no crossing lies in the scanned range, at ``f = 1`` (the rules coincide),
    and wherever a solve needed by the bracketing or the refinement is not certified: an
    uncertified solve is never used as a root.

    ``snr, probe, alpha_ssl``: passed to :func:`prunescale.theory.solve` (a given
    ``scan_log_ratio`` must have been computed with the same ones).
    """
    return _boundary(f, theta_deg, scan, scan_log_ratio, n_refine, quad,
                     alpha_tot_range, n_scan, **_spike_kw(snr, probe, alpha_ssl))[0]


def _spike_kw(snr=None, probe=None, alpha_ssl=None) -> dict:
    """The spike and probe keywords of :func:`prunescale.theory.solve` that were given."""
    return {k: v for k, v in (("snr", snr), ("probe", probe), ("alpha_ssl", alpha_ssl))
            if v is not None}


def _boundary(f, theta_deg, scan, scan_lr, n_refine, quad, alpha_tot_range=(1e-2, 1e4),
              n_scan=25, **spike):
    """:func:`phase_boundary` and the number of rows whose root could not be certified."""
    fs = _pr.check_f(np.atleast_1d(np.asarray(f, float)))
    if scan is None:
        scan = np.geomspace(*alpha_tot_range, n_scan)
    scan = _pr.check_alpha("alpha_tot", np.asarray(scan, float))
    if scan_lr is None:
        F, AT = np.meshgrid(fs, scan, indexing="ij")
        scan_lr = log_ratio(F, AT, theta_deg, quad=quad, **spike)
    G = np.atleast_2d(np.asarray(scan_lr, float))
    out = np.full(len(fs), np.nan)
    # first crossing from easy-wins (G > 0) to hard-wins (G <= 0); nan never brackets
    with np.errstate(invalid="ignore"):
        cross = (G[:, :-1] > 0) & (G[:, 1:] <= 0)
    rows = np.flatnonzero(cross.any(1) & (fs < 1))
    if rows.size == 0:
        return out, 0
    j = np.argmax(cross[rows], axis=1)
    xa, xb = np.log(scan[j]), np.log(scan[j + 1])
    ga, gb = G[rows, j], G[rows, j + 1]
    failed = np.zeros(rows.size, bool)
    for _ in range(n_refine):
        # Illinois: regula falsi that halves the stale end's value when it is kept twice
        with np.errstate(all="ignore"):
            xc = np.where(gb != ga, xb - gb * (xb - xa) / (gb - ga), 0.5 * (xa + xb))
        gc = log_ratio(fs[rows], np.exp(xc), theta_deg, quad=quad, **spike)
        failed |= ~np.isfinite(gc)
        gc = np.where(failed, gb, gc)  # failed rows stop moving (and are reported as nan)
        xc = np.where(failed, xb, xc)
        flip = np.sign(gc) != np.sign(gb)
        xa, ga = np.where(flip, xb, xa), np.where(flip, gb, 0.5 * ga)
        xb, gb = xc, gc
    out[rows] = np.where(failed, np.nan, np.exp(xb))
    return out, int(failed.sum())


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
        n_skipped: budgets whose frontier point was not certified (skipped; ``f_min`` is
            ``nan`` if a skipped budget neighbours the minimum or none is certified).
    """

    theta_deg: float
    f_min: float
    alpha_prune_at_min: float
    frontier: Frontier
    at_boundary: bool
    n_skipped: int = 0


def f_min(theta_deg: float, *, alpha_prune=None, f_grid=None,
          quad: Quadrature = Quadrature(), snr=None, probe=None, alpha_ssl=None) -> FMin:
    """Minimum useful fraction ``f_min(theta)`` of keep-hard pruning with an imperfect metric.

    Following the paper (Sec. 3, Fig. 3), let ``f_opt(alpha_prune)`` be the kept fraction
    that minimises the keep-hard error at budget ``alpha_prune`` with an unlimited pool (the
    Pareto-optimal fraction). Then

    $$
    f_{\\min}(\\theta) = \\min_{\\alpha_{prune}} f_{opt}(\\alpha_{prune}; \\theta),
    $$

    the smallest fraction that is ever optimal over the budgets searched (default
    ``0.5 <= alpha_prune <= 200``): keeping fewer examples than ``f_min`` is never the best use
    of those budgets. With a perfect metric (``theta = 0``) ``f_opt`` drops to the smallest
    fraction searched as soon as ``alpha_prune`` passes about 2, so ``f_min`` is only bounded by
    the search grid (``at_boundary``). For ``theta > 0`` ``f_opt`` stays far above the grid floor
    and ``f_min`` grows with ``theta``. In this theory ``f_opt`` keeps decreasing slowly with the
    budget (e.g. 0.19, 0.13, 0.086, 0.059 at ``alpha_prune`` = 20, 60, 200, 600 for
    ``theta = 20``), so the minimum sits at the largest budget searched and ``at_boundary``
    reports it: ``f_min`` is a property of the budget range, not an asymptotic constant.

    ``snr, probe, alpha_ssl``: passed to :func:`pareto_frontier` (with the prototype probe
    ``theta_deg`` must be 0: its angle follows from ``snr`` and ``alpha_ssl``).
    """
    theta = float(_pr.check_theta_deg(theta_deg))
    alpha = np.geomspace(0.5, 200.0, 24) if alpha_prune is None else np.asarray(alpha_prune)
    fr = pareto_frontier(alpha, theta, rules=("hard",), f_grid=f_grid, quad=quad, snr=snr,
                         probe=probe, alpha_ssl=alpha_ssl)
    fm, am, edge = smallest_optimal_fraction(fr.alpha_prune, fr.f_opt, fr.at_boundary)
    return FMin(theta_deg=theta, f_min=fm, alpha_prune_at_min=am, frontier=fr,
                at_boundary=edge, n_skipped=fr.n_skipped)


def smallest_optimal_fraction(alpha_prune, f_opt, at_boundary) -> tuple[float, float, bool]:
    """``(f_min, alpha_prune at the minimum, at_edge)`` read off a frontier's ``f_opt``.

    The minimum over the budgets with a certified frontier point; ``nan`` if none is certified
    or a budget next to the minimum was skipped (the minimum could sit there). ``at_edge``: the
    optimal fraction is the smallest searched, or the minimum is at the largest budget.
    """
    f_opt = np.asarray(f_opt, float)
    ok = np.isfinite(f_opt)
    if not ok.any():
        return np.nan, np.nan, False
    i = int(np.argmin(np.where(ok, f_opt, np.inf)))
    bracketed = ok[max(i - 1, 0)] and ok[min(i + 1, len(ok) - 1)]
    edge = bool(np.asarray(at_boundary)[i] or i == len(f_opt) - 1)
    if not bracketed:
        return np.nan, np.nan, edge
    return float(f_opt[i]), float(np.asarray(alpha_prune)[i]), edge
