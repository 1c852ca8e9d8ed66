"""Computational functions of the interactive app (:mod:`app.notebook`).

Everything here is a pure function of its (scalar, hashable) arguments, returns frozen
dataclasses holding read-only numpy arrays, and is memoised (least recently used, thread-safe),
so that the app redraws instantly when a control returns to a value it had before
(:func:`warm_in_background` precomputes every offered angle once per process). Every
theory number comes from :func:`theory.solve` (directly or through :mod:`theory.curves`) and
only certified (``converged``) points are kept; excluded points are counted.

Grids are chosen for interactivity: at ``theta = 0`` the solver is fast and the grids are
fine; for ``theta > 0`` (slower solves) the grids are coarse. The angles offered by the app
are :data:`THETA_STEPS`, so each angle is computed once per server process.

* :func:`point`: the current point, exactly :func:`theory.solve` at the chosen controls.
* :func:`learning_curve`: ``eps(alpha_prune)`` at fixed ``(rule, f, theta)``.
* :func:`frontier`: the Pareto frontier (keep-hard, unlimited pool) and, for ``theta > 0``,
  the minimum useful fraction ``f_min``.
* :func:`phase`: keep-easy against keep-hard over ``(alpha_tot, f)`` and the boundary.
* :func:`simulate`: a small batch of simulated students at the current point.
* Spiked inputs and the probe (:func:`spike`, ``docs/structure.md``): every function takes
  ``snr`` (the spike ``S`` of ``I + S u u^T`` along the teacher), ``probe`` (``"fixed"`` at
  ``theta_deg``, or the label-free ``"prototype"``, whose angle follows from ``S`` and
  ``alpha_ssl``: ``theta_deg`` is then ignored) and ``alpha_ssl`` (``None``: the pool),
  handed to :func:`theory.solve` (and :mod:`theory.curves`) only where they differ from the
  defaults, so that ``S = 0`` with the fixed probe is exactly today's computation.
* :func:`erm_curve`, :func:`erm_point`: learning curve and current point of a regularized
  learner (hinge, logistic, ridge; :func:`prunescale.theory.solve`) with label noise, or of the
  max-margin student (through :func:`learning_curve` and :func:`point` without noise,
  :func:`theory.solve` with noise, up to the capacity of the noisy kept data).
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import math
import threading
import time

import numpy as np

from prunescale.theory import RULES, curves, solve
from prunescale.theory.spiked import prototype_angle_deg
from prunescale import validation as _pr
from prunescale.errors import InputError


#: Probe angles (degrees) offered by the app's slider.
THETA_STEPS = (0, 5, 10, 15, 20, 25, 30, 40)
#: Kept fractions offered by the app's slider.
F_STEPS = (0.01, 0.02, 0.03, 0.05, 0.07, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8,
           0.9, 1.0)
#: Loads (alpha_prune or alpha_tot) offered by the app's slider.
ALPHA_STEPS = (0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0, 5.0, 7.0, 10.0, 15.0, 20.0, 30.0, 50.0,
               70.0, 100.0, 150.0, 200.0, 300.0, 500.0, 700.0, 1000.0)
#: Largest number of kept examples ``N * alpha_prune`` of an interactive simulation.
MAX_SIM_EXAMPLES = 20_000
#: Range of alpha_prune drawn in the learning-curve panel (extended to include the point).
ALPHA_RANGE = (0.1, 100.0)


def _memo(maxsize: int):
    """Least-recently-used memoisation that computes each key once even when called
    concurrently (by the app and the background warm-up, :func:`warm_in_background`).

    The wrapper has ``cache_clear()`` and ``cached(*args) -> bool``.
    """

    def deco(fn):
        store: collections.OrderedDict = collections.OrderedDict()
        guard = threading.Lock()
        locks: dict = {}

        @functools.wraps(fn)
        def wrapper(*args):
            with guard:
                if args in store:
                    store.move_to_end(args)
                    return store[args]
                lock = locks.setdefault(args, threading.Lock())
            with lock:
                with guard:
                    if args in store:  # computed by another thread meanwhile
                        return store[args]
                value = fn(*args)
                with guard:
                    store[args] = value
                    while len(store) > maxsize:
                        store.popitem(last=False)
                    locks.pop(args, None)
                return value

        def cached(*args) -> bool:
            with guard:
                return args in store

        def cache_clear() -> None:
            with guard:
                store.clear()

        wrapper.cached = cached
        wrapper.cache_clear = cache_clear
        return wrapper

    return deco


def _key(x: float) -> float:
    """Normalise a float used as a cache key (12 significant digits)."""
    return float(f"{float(x):.12g}")


def _ro(a) -> np.ndarray:
    a = np.array(a, dtype=float, copy=True)
    a.setflags(write=False)
    return a


def _check(rule: str, f: float, theta_deg: float) -> tuple[str, float, float]:
    _pr.check_rule(rule)
    f = float(_pr.check_f(f))
    theta_deg = float(_pr.check_theta_deg(theta_deg))
    return rule, _key(f), _key(theta_deg)


#: Spike strengths S offered by the app's slider (0: isotropic inputs, today's model).
SNR_STEPS = (0.0, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0)
#: Probes offered by the app: a fixed direction at the angle theta, or the prototype.
APP_PROBES = ("fixed", "prototype")
#: Unlabeled samples alpha_ssl offered for the prototype (``0`` in the app: "= the pool").
ALPHA_SSL_STEPS = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 1000.0)


def spike(snr: float = 0.0, probe: str = "fixed", alpha_ssl: float | None = None,
          metric: str = "abs") -> tuple[float, str, float | None]:
    """The spike and probe controls, validated (the library's one-line refusals:
    :func:`prunescale.validation.check_probe`, e.g. a signed metric with the prototype) and
    normalised for the caches: ``(snr, probe, alpha_ssl)``, ``alpha_ssl`` ``None`` for the
    pool (and always for the fixed probe)."""
    snr = _key(_pr.check_snr(snr))
    if alpha_ssl is not None and probe == "fixed":
        alpha_ssl = None  # the app's alpha_ssl control is the prototype's only
    a = _pr.check_probe(probe, 0.0, alpha_ssl, metric)
    return snr, probe, (None if a is None else _key(a))


def spike_kw(snr: float = 0.0, probe: str = "fixed", alpha_ssl: float | None = None) -> dict:
    """Keywords of :func:`theory.solve` for the spike and the probe: only those that differ
    from the defaults (so ``S = 0`` with the fixed probe calls the solver as before)."""
    kw = {}
    if snr:
        kw["snr"] = snr
    if probe != "fixed":
        kw["probe"] = probe
        if alpha_ssl is not None:
            kw["alpha_ssl"] = alpha_ssl
    return kw


def prototype_angle(snr: float, alpha_ssl: float) -> float:
    """The prototype's angle to the teacher in degrees (the BBP limit,
    :func:`prunescale.theory.spiked.prototype_angle_deg`): ``90`` (uninformative) when
    ``alpha_ssl * snr^2 <= 1``."""
    return float(prototype_angle_deg(alpha_ssl, snr))


def _grid_theta(theta_deg: float, probe: str) -> float:
    """The angle that picks a panel's grid: the prototype's angle is not 0 in general (and
    varies with the pool), so it gets the coarse grids of ``theta > 0``."""
    return 1.0 if probe == "prototype" else theta_deg


# ---------------------------------------------------------------------------------------------
# current point


@dataclasses.dataclass(frozen=True)
class Point:
    """The theory at the current controls (scalars; ``nan`` where not certified).

    ``theta_deg`` is the probe's angle to the teacher: the fixed probe's, or for the prototype
    the BBP angle at this point's ``alpha_ssl`` (the pool ``alpha_tot`` unless given) as the
    solver reports it. ``snr, probe, alpha_ssl``: the spike and the probe (:func:`spike`).
    """

    rule: str
    f: float
    theta_deg: float
    alpha_prune: float
    alpha_tot: float
    eps: float
    R: float
    S: float
    kappa: float
    converged: bool
    reason: str
    snr: float = 0.0
    probe: str = "fixed"
    alpha_ssl: float | None = None


def point(rule: str, f: float, theta_deg: float = 0.0, *, alpha_prune: float | None = None,
          alpha_tot: float | None = None, snr: float = 0.0, probe: str = "fixed",
          alpha_ssl: float | None = None) -> Point:
    """:func:`theory.solve` at one point, given ``alpha_prune`` or ``alpha_tot`` (not both).

    ``eps, R, S, kappa`` are those of the solver when the point is certified, else ``nan``.
    ``snr, probe, alpha_ssl``: :func:`spike` (the prototype ignores ``theta_deg``; random
    pruning ignores the probe).
    """
    rule, f, theta_deg = _check(rule, f, theta_deg)
    sp = spike(snr, probe, alpha_ssl)
    if rule == "random" or sp[1] == "prototype":
        theta_deg = 0.0
    if rule == "random":
        sp = (sp[0], "fixed", None)
    if (alpha_prune is None) == (alpha_tot is None):
        raise InputError("give alpha_prune or alpha_tot")
    if alpha_prune is not None:
        return _point(rule, f, theta_deg, _key(_pr.check_alpha("alpha_prune", alpha_prune)),
                      None, *sp)
    return _point(rule, f, theta_deg, None, _key(_pr.check_alpha("alpha_tot", alpha_tot)), *sp)


@_memo(maxsize=4096)
def _point(rule, f, theta_deg, alpha_prune, alpha_tot, snr=0.0, probe="fixed",
           alpha_ssl=None) -> Point:
    r = solve(rule, f, alpha_prune, theta_deg=theta_deg, alpha_tot=alpha_tot,
              **spike_kw(snr, probe, alpha_ssl))
    ok = bool(r.converged)

    def val(x):
        return float(x) if ok else math.nan

    th = float(r.theta_deg) if probe == "prototype" else theta_deg
    return Point(rule=rule, f=f, theta_deg=th, alpha_prune=float(r.alpha_prune),
                 alpha_tot=float(r.alpha_tot), eps=val(r.eps), R=val(r.R), S=val(r.S),
                 kappa=val(r.kappa), converged=ok, reason=str(r.reason), snr=snr, probe=probe,
                 alpha_ssl=alpha_ssl)


# ---------------------------------------------------------------------------------------------
# learning curves


@dataclasses.dataclass(frozen=True)
class Curve:
    """``eps`` against ``alpha_prune`` at fixed ``(rule, f, theta)``: certified points only.

    Attributes:
        alpha_prune, eps: increasing budgets and their errors, same length.
        n_excluded: points of the grid that could not be certified (left out).
    """

    rule: str
    f: float
    theta_deg: float
    alpha_prune: np.ndarray
    eps: np.ndarray
    n_excluded: int
    snr: float = 0.0
    probe: str = "fixed"
    alpha_ssl: float | None = None


def alpha_grid(theta_deg: float = 0.0, lo: float = ALPHA_RANGE[0],
               hi: float = ALPHA_RANGE[1]) -> np.ndarray:
    """Log-spaced budgets of a learning curve: fine at ``theta = 0``, coarse otherwise."""
    if not (0 < lo < hi and math.isfinite(hi)):
        raise InputError(f"need 0 < lo < hi; got lo={lo!r}, hi={hi!r}")
    per_decade = 20 if float(theta_deg) == 0 else 8
    n = max(8, int(math.ceil(per_decade * math.log10(hi / lo))) + 1)
    return np.geomspace(lo, hi, n)


def _curve_key(rule, f, theta_deg, snr, probe, alpha_ssl):
    """The normalised cache key ``(rule, f, theta, snr, probe, alpha_ssl)`` of a max-margin
    curve: random pruning ignores ``f`` and the probe, the prototype ignores ``theta``."""
    rule, f, theta_deg = _check(rule, f, theta_deg)
    snr, probe, alpha_ssl = spike(snr, probe, alpha_ssl)
    if rule == "random":  # the unpruned curve: independent of f and of the probe
        f, theta_deg, probe, alpha_ssl = 1.0, 0.0, "fixed", None
    elif probe == "prototype":
        theta_deg = 0.0
    return rule, f, theta_deg, snr, probe, alpha_ssl


def learning_curve(rule: str, f: float, theta_deg: float = 0.0, *,
                   lo: float = ALPHA_RANGE[0], hi: float = ALPHA_RANGE[1], snr: float = 0.0,
                   probe: str = "fixed", alpha_ssl: float | None = None) -> Curve:
    """``eps(alpha_prune)`` on :func:`alpha_grid` ``(theta, lo, hi)``; certified points only.

    ``random`` pruning does not depend on ``f`` or the probe (it is the unpruned curve at
    ``alpha_prune``), so it is computed once, at ``f = 1`` and ``theta = 0`` (its ``snr``
    matters). ``snr, probe, alpha_ssl``: :func:`spike` (the prototype ignores ``theta_deg``
    and gets the coarse grid).
    """
    rule, f, theta_deg, snr, probe, alpha_ssl = _curve_key(rule, f, theta_deg, snr, probe,
                                                           alpha_ssl)
    return _learning_curve(rule, f, theta_deg, _key(lo), _key(hi), snr, probe, alpha_ssl)


@_memo(maxsize=512)
def _learning_curve(rule, f, theta_deg, lo, hi, snr=0.0, probe="fixed", alpha_ssl=None) -> Curve:
    a = alpha_grid(_grid_theta(theta_deg, probe), lo, hi)
    r = solve(rule, f, a, theta_deg=theta_deg, **spike_kw(snr, probe, alpha_ssl))
    ok = np.asarray(r.converged, bool)
    return Curve(rule=rule, f=f, theta_deg=theta_deg, alpha_prune=_ro(a[ok]),
                 eps=_ro(np.asarray(r.eps)[ok]), n_excluded=int((~ok).sum()), snr=snr,
                 probe=probe, alpha_ssl=alpha_ssl)


def reference_curve(*, lo: float = ALPHA_RANGE[0], hi: float = ALPHA_RANGE[1],
                    snr: float = 0.0) -> Curve:
    """No pruning (``f = 1``, equivalently random pruning): the ``~0.5 / alpha`` power law
    (at ``snr = 0``; a spike lowers it)."""
    return learning_curve("random", 1.0, 0.0, lo=lo, hi=hi, snr=snr)


# ---------------------------------------------------------------------------------------------
# frontier and f_min


@dataclasses.dataclass(frozen=True)
class FrontierData:
    """Keep-hard Pareto frontier with an unlimited pool (certified grid points only).

    Attributes:
        alpha_prune, eps, f_opt, at_boundary: the frontier (``at_boundary``: the best ``f``
            is the smallest fraction searched, ``f_floor``, so ``f_opt`` is only a bound).
        eps_random: unpruned error at the same budgets (power law ``~0.5 / alpha``).
        f_floor: smallest fraction searched.
        f_min, alpha_prune_at_min, f_min_at_boundary: minimum useful fraction
            (:func:`theory.curves.f_min`), for ``theta > 0`` only (``nan`` at ``theta = 0``, where
            it is bounded only by the grid).
        n_uncertified: grid points excluded because they could not be certified.
    """

    theta_deg: float
    alpha_prune: np.ndarray
    eps: np.ndarray
    f_opt: np.ndarray
    at_boundary: np.ndarray
    eps_random: np.ndarray
    f_floor: float
    f_min: float
    alpha_prune_at_min: float
    f_min_at_boundary: bool
    n_uncertified: int
    snr: float = 0.0
    probe: str = "fixed"
    alpha_ssl: float | None = None


def frontier_grids(theta_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """``(alpha_prune, f_grid)`` searched by :func:`frontier`: coarse for ``theta > 0``."""
    if float(theta_deg) == 0:
        return np.geomspace(0.2, 100.0, 37), np.geomspace(curves.FRONTIER_F_FLOOR, 1.0, 31)
    return np.geomspace(0.5, 100.0, 14), np.geomspace(curves.FRONTIER_F_FLOOR, 1.0, 19)


def _panel_key(theta_deg, snr, probe, alpha_ssl):
    theta_deg = _key(_pr.check_theta_deg(theta_deg))
    snr, probe, alpha_ssl = spike(snr, probe, alpha_ssl)
    return (0.0 if probe == "prototype" else theta_deg), snr, probe, alpha_ssl


def frontier(theta_deg: float = 0.0, *, snr: float = 0.0, probe: str = "fixed",
             alpha_ssl: float | None = None) -> FrontierData:
    """Keep-hard frontier at ``theta`` on :func:`frontier_grids`; ``f_min`` if ``theta > 0``
    or with the prototype. ``snr, probe, alpha_ssl``: :func:`spike` (with ``alpha_ssl`` the
    pool, the prototype's angle follows ``alpha_tot = alpha_prune / f`` over the search)."""
    return _frontier(*_panel_key(theta_deg, snr, probe, alpha_ssl))


@_memo(maxsize=64)
def _frontier(theta_deg, snr=0.0, probe="fixed", alpha_ssl=None) -> FrontierData:
    alpha, fg = frontier_grids(_grid_theta(theta_deg, probe))
    skw = spike_kw(snr, probe, alpha_ssl)
    if theta_deg > 0 or probe == "prototype":
        fm = curves.f_min(theta_deg, alpha_prune=alpha, f_grid=fg, **skw)
        fr = fm.frontier
        f_min, a_min, edge = fm.f_min, fm.alpha_prune_at_min, fm.at_boundary
    else:
        fr = curves.pareto_frontier(alpha, theta_deg, f_grid=fg, **skw)
        f_min, a_min, edge = math.nan, math.nan, True
    ok = np.isfinite(fr.eps)
    return FrontierData(
        theta_deg=theta_deg, alpha_prune=_ro(fr.alpha_prune[ok]), eps=_ro(fr.eps[ok]),
        f_opt=_ro(fr.f_opt[ok]), at_boundary=np.array(fr.at_boundary[ok], bool),
        eps_random=_ro(fr.eps_random[ok]), f_floor=float(np.min(fg)), f_min=float(f_min),
        alpha_prune_at_min=float(a_min), f_min_at_boundary=bool(edge),
        n_uncertified=int(fr.n_uncertified) + int((~ok).sum()), snr=snr, probe=probe,
        alpha_ssl=alpha_ssl)


# ---------------------------------------------------------------------------------------------
# phase diagram


@dataclasses.dataclass(frozen=True)
class PhaseData:
    """Keep-easy against keep-hard on an ``(f, alpha_tot)`` grid.

    Attributes:
        alpha_tot: shape ``[n_a]``; f: shape ``[n_f]``.
        log_ratio: ``log10(eps_hard / eps_easy)``, shape ``[n_f, n_a]``: positive where keep-easy
            wins; ``nan`` where either rule could not be certified.
        boundary_alpha_tot: for each ``f``, the pool size where the rules are equal
            (:func:`prunescale.theory.curves.phase_boundary` on this grid; ``nan``: no
            crossing on the grid, or a refining solve not certified).
    """

    theta_deg: float
    alpha_tot: np.ndarray
    f: np.ndarray
    log_ratio: np.ndarray
    boundary_alpha_tot: np.ndarray
    n_uncertified: int
    snr: float = 0.0
    probe: str = "fixed"
    alpha_ssl: float | None = None


def phase_grids(theta_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """``(alpha_tot, f)`` of :func:`phase`: fine at ``theta = 0``, coarse otherwise."""
    if float(theta_deg) == 0:
        return np.geomspace(0.3, 1000.0, 36), np.linspace(0.05, 0.95, 19)
    return np.geomspace(0.3, 1000.0, 15), np.linspace(0.1, 0.9, 9)


def phase(theta_deg: float = 0.0, *, snr: float = 0.0, probe: str = "fixed",
          alpha_ssl: float | None = None) -> PhaseData:
    """Keep-easy against keep-hard on :func:`phase_grids` at ``theta`` (cached).
    ``snr, probe, alpha_ssl``: :func:`spike`."""
    return _phase(*_panel_key(theta_deg, snr, probe, alpha_ssl))


@_memo(maxsize=64)
def _phase(theta_deg, snr=0.0, probe="fixed", alpha_ssl=None) -> PhaseData:
    at, fs = phase_grids(_grid_theta(theta_deg, probe))
    skw = spike_kw(snr, probe, alpha_ssl)
    F, AT = np.meshgrid(fs, at, indexing="ij")
    lr = curves.log_ratio(F, AT, theta_deg, **skw)
    # the grid is the boundary's scan; three refinement steps suffice at the app's resolution
    bd = curves.phase_boundary(fs, theta_deg, scan=at, scan_log_ratio=lr, n_refine=3, **skw)
    return PhaseData(theta_deg=theta_deg, alpha_tot=_ro(at), f=_ro(fs), log_ratio=_ro(lr),
                     boundary_alpha_tot=_ro(bd), n_uncertified=int(np.isnan(lr).sum()),
                     snr=snr, probe=probe, alpha_ssl=alpha_ssl)


# ---------------------------------------------------------------------------------------------
# simulations


@dataclasses.dataclass(frozen=True)
class SimPoint:
    """Mean error of a batch of simulated max-margin students at one point.

    ``eps_sem`` is the standard error of the mean over the certified students (``n_ok``);
    students whose duality-gap certificate failed (``n_flagged``) are excluded.
    """

    rule: str
    f: float
    theta_deg: float
    alpha_prune: float
    n: int
    seeds: int
    eps_mean: float
    eps_sem: float
    n_ok: int
    n_flagged: int
    seconds: float
    snr: float = 0.0
    probe: str = "fixed"
    alpha_ssl: float | None = None

    def matches(self, rule: str, f: float, theta_deg: float, snr: float = 0.0,
                probe: str = "fixed", alpha_ssl: float | None = None) -> bool:
        """Whether this point belongs on the learning curve of ``(rule, f, theta)`` at the
        spike ``snr`` and the probe (the prototype ignores ``theta``, random the probe)."""
        if not math.isclose(self.snr, snr):
            return False
        if self.rule == "random" and rule == "random":
            return True
        if probe == "prototype":
            return (self.rule == rule and self.probe == probe and math.isclose(self.f, f)
                    and self.alpha_ssl == (None if alpha_ssl is None else _key(alpha_ssl)))
        return (self.rule == rule and self.probe == probe and math.isclose(self.f, f)
                and math.isclose(self.theta_deg, theta_deg))


#: Largest pool plus unlabeled sample ``N * (alpha_tot + alpha_ssl)`` of an interactive
#: simulation with the prototype probe (it ranks a materialised pool).
MAX_SIM_POOL = 200_000


def simulate(rule: str, f: float, theta_deg: float, alpha_prune: float, *, n: int = 100,
             seeds: int = 8, seed: int = 0, snr: float = 0.0, probe: str = "fixed",
             alpha_ssl: float | None = None) -> SimPoint:
    """Simulate ``seeds`` students of dimension ``n`` (:func:`sims.simulate`, cached).

    With the fixed probe the kept data are drawn from the ``N -> inf`` pruned law
    (``direct=True``), so the cost depends on the kept set only, not on the pool. The
    prototype probe (``probe="prototype"``, ``theta_deg`` ignored) ranks a materialised pool
    of ``alpha_tot N`` inputs by its prototype of ``alpha_ssl N`` unlabeled inputs (at most
    :data:`MAX_SIM_POOL` in all). The first call for a new data shape compiles (a few
    seconds); repeated shapes take a fraction of a second.
    """
    rule, f, theta_deg = _check(rule, f, theta_deg)
    sp = spike(snr, probe, alpha_ssl)
    if rule == "random" or sp[1] == "prototype":
        theta_deg = 0.0
    if rule == "random":
        sp = (sp[0], "fixed", None)
    alpha_prune = _key(_pr.check_alpha("alpha_prune", alpha_prune))
    if int(n) < 2 or int(seeds) < 2:
        raise InputError(f"need n >= 2 and seeds >= 2; got n={n!r}, seeds={seeds!r}")
    if n * alpha_prune > MAX_SIM_EXAMPLES:
        raise InputError(f"N * alpha_prune = {n * alpha_prune:.0f} kept examples is too many for "
                         f"an interactive simulation (at most {MAX_SIM_EXAMPLES}); "
                         "lower N or alpha_prune")
    if sp[1] == "prototype":
        pool = alpha_prune / f
        total = n * (pool + (pool if sp[2] is None else sp[2]))
        if total > MAX_SIM_POOL:
            raise InputError(f"N * (alpha_tot + alpha_ssl) = {total:.0f} inputs is too many for "
                             f"an interactive simulation with the prototype (at most "
                             f"{MAX_SIM_POOL}); lower N, alpha_prune or alpha_ssl, or raise f")
    return _simulate(rule, f, theta_deg, alpha_prune, int(n), int(seeds), int(seed), *sp)


@_memo(maxsize=256)
def _simulate(rule, f, theta_deg, alpha_prune, n, seeds, seed, snr=0.0, probe="fixed",
              alpha_ssl=None) -> SimPoint:
    from prunescale import sims  # heavy (JAX): imported on first use only
    from prunescale.theory import Pruning

    t0 = time.perf_counter()
    r = sims.simulate(Pruning(rule, f, theta_deg), alpha_prune=alpha_prune, n=n, seeds=seeds,
                      seed=seed, direct=probe == "fixed", progress=False,
                      **spike_kw(snr, probe, alpha_ssl))
    return SimPoint(rule=rule, f=f, theta_deg=theta_deg, alpha_prune=alpha_prune, n=n,
                    seeds=seeds, eps_mean=float(r.eps_mean), eps_sem=float(r.eps_sem),
                    n_ok=int(r.seeds - r.n_flagged), n_flagged=int(r.n_flagged),
                    seconds=time.perf_counter() - t0, snr=snr, probe=probe,
                    alpha_ssl=alpha_ssl)


# ---------------------------------------------------------------------------------------------
# regularized learners and label noise


#: Learners offered by the app: the max-margin student and the regularized ERM learners.
APP_LEARNERS = ("max-margin", "hinge", "logistic", "ridge")
#: Ridge penalties lambda offered by the app's slider (log-spaced).
LAM_STEPS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)
#: Label-flip probabilities eta offered by the app's slider.
NOISE_STEPS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4)


@dataclasses.dataclass(frozen=True)
class ErmCurve:
    """``eps(alpha_prune)`` of one learner at fixed ``(rule, f, theta, lam, noise)``.

    Unlike :class:`Curve` the whole grid is kept: ``eps`` is ``nan`` where a point could not be
    certified (``converged`` False), so that a plot leaves a gap there.

    Attributes:
        alpha_prune, eps, converged: the grid, the error against the clean teacher and the
            certified mask, same length.
        n_excluded: uncertified grid points.
        lam: ``nan`` for the max-margin student (no penalty).
    """

    learner: str
    rule: str
    f: float
    theta_deg: float
    lam: float
    noise: float
    alpha_prune: np.ndarray
    eps: np.ndarray
    converged: np.ndarray
    n_excluded: int
    softness: float = 0.0
    metric: str = "abs"
    reweight: bool = False
    power_exp: float = 0.0
    probe_scale: float = 1.0
    random_share: float = 0.0
    labels: str = ""
    snr: float = 0.0
    probe: str = "fixed"
    alpha_ssl: float | None = None


@dataclasses.dataclass(frozen=True)
class ErmPoint:
    """One learner at the current point (``eps`` is ``nan`` where not certified)."""

    learner: str
    rule: str
    f: float
    theta_deg: float
    lam: float
    noise: float
    alpha_prune: float
    eps: float
    converged: bool
    reason: str
    softness: float = 0.0
    metric: str = "abs"
    reweight: bool = False
    power_exp: float = 0.0
    probe_scale: float = 1.0
    random_share: float = 0.0
    labels: str = ""
    #: error against labels drawn from the channel (``nan`` where not certified)
    eps_noisy: float = math.nan
    snr: float = 0.0
    probe: str = "fixed"
    alpha_ssl: float | None = None


def penalty_label(learner: str) -> str:
    """Label of the app's penalty slider: named by the learner it penalises (the max-margin
    student has none)."""
    _check_learner(learner)
    if learner == "max-margin":
        return "penalty λ (not used by max-margin)"
    return f"penalty λ ({learner})"


def _check_learner(learner: str) -> str:
    if learner not in APP_LEARNERS:
        raise InputError(f"learner must be one of {', '.join(APP_LEARNERS)}; got {learner!r}")
    return learner


#: Selection softnesses tau offered by the app's slider (0: the sharp rule).
SOFTNESS_STEPS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0)
#: Pruning metrics: label-free |p| or label-aware y p.
APP_METRICS = ("abs", "signed")


def _check_policy(softness, metric, reweight, learner):
    softness = float(softness)
    if not (math.isfinite(softness) and 0.0 <= softness <= 10.0):
        raise InputError(f"softness must be in [0, 10]; got {softness!r}")
    if metric not in APP_METRICS:
        raise InputError(f"metric must be one of {', '.join(APP_METRICS)}; got {metric!r}")
    reweight = bool(reweight)
    if reweight and learner == "max-margin":
        raise InputError(REWEIGHT_MAX_MARGIN)
    return _key(softness), metric, reweight


#: Shown instead of a number for the max-margin student with reweighting.
REWEIGHT_MAX_MARGIN = ("reweighting is for the regularized learners: loss weights do not change "
                       "the max-margin solution")


#: Exponents A of the power policy offered by the app (``pi = min(c sigma'(B p)^A, 1)``).
POWER_EXP_STEPS = tuple(float(x) for x in np.round(np.arange(-5.0, 5.01, 0.25), 2))
#: Probe scales B of the power policy offered by the app.
PROBE_SCALE_STEPS = (0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 7.5, 10.0)
#: Random shares R mixed into keep-hard / keep-easy (``pi = R f + (1 - R) pi_rule``).
SHARE_STEPS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)
#: Label channels offered by the app: ``flip`` (the noise slider's eta), ``probit:BETA`` and
#: ``logistic:BETA`` (``docs/erm.md`` section 8), for every learner.
LABEL_FAMILIES = ("flip", "probit", "logistic")
#: Steepnesses BETA of the probit and logistic channels offered by the app.
BETA_STEPS = (0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0)


def label_spec(family: str, noise: float = 0.0, beta: float = 1.0) -> str:
    """The channel string of the app's label controls: ``""`` for flips (the noise slider
    gives ``eta``), ``"probit:BETA"`` or ``"logistic:BETA"`` otherwise."""
    if family not in LABEL_FAMILIES:
        raise InputError(f"label channel must be one of {', '.join(LABEL_FAMILIES)}; "
                         f"got {family!r}")
    if family == "flip":
        return ""
    beta = float(beta)
    if not (math.isfinite(beta) and beta > 0):
        raise InputError(f"BETA must be > 0; got {beta!r}")
    return f"{family}:{_key(beta):g}"


def _check_family(rule, power_exp, probe_scale, random_share, labels):
    """The power exponent and scale (defaults unless ``rule == "power"``), the random share
    (0 unless ``hard`` or ``easy``) and the channel spec, normalised for the caches."""
    A, B, R = float(power_exp), float(probe_scale), float(random_share)
    if rule == "power":
        if not (math.isfinite(A) and abs(A) <= 50):
            raise InputError(f"power exponent A must be finite with |A| <= 50; got {A!r}")
        if not (math.isfinite(B) and B > 0):
            raise InputError(f"probe scale B must be > 0 and finite; got {B!r}")
        A, B = _key(A), _key(B)
    else:
        A, B = 0.0, 1.0
    if not (math.isfinite(R) and 0.0 <= R <= 1.0):
        raise InputError(f"random share R must be in [0, 1]; got {R!r}")
    R = _key(R) if rule in ("hard", "easy") else 0.0
    labels = "" if labels is None else str(labels)
    return A, B, R, labels


def _family_kw(power_exp, probe_scale, random_share, labels, rule) -> dict:
    """Keywords of :func:`prunescale.theory.solve` for the policy family and the channel
    (only those that differ from the defaults)."""
    kw = {}
    if rule == "power":
        kw.update(power_exp=power_exp, probe_scale=probe_scale)
    if random_share:
        kw["random_share"] = random_share
    if labels:
        kw["labels"] = labels
    return kw


def _check_erm(learner, rule, f, theta_deg, lam, noise):
    learner = _check_learner(learner)
    rule, f, theta_deg = _check(rule, f, theta_deg)
    noise = float(noise)
    if not (math.isfinite(noise) and 0.0 <= noise <= 0.5):
        raise InputError(f"noise must be in [0, 0.5]; got {noise!r}")
    if learner == "max-margin":
        lam = 0.0  # no penalty (the results report lam = nan)
    else:
        lam = float(lam)
        if not (math.isfinite(lam) and lam > 0):
            raise InputError(f"lam must be > 0; got {lam!r}")
        lam = _key(lam)
    return learner, rule, f, theta_deg, lam, _key(noise)


def erm_unavailable(learner: str, noise: float, reweight: bool = False,
                    labels: str = "") -> str | None:
    """Why ``learner`` cannot be drawn (``None``: it can). The max-margin student with noise
    is drawn up to the capacity of the noisy kept data (:mod:`theory.capacity`), beyond which
    its curve has no points; it has no loss to reweight. Every learner takes every label
    channel (a channel the theory refuses is shown as its one-line error)."""
    _check_learner(learner)
    float(noise)
    if reweight and learner == "max-margin":
        return REWEIGHT_MAX_MARGIN
    return None


def erm_alpha_grid(theta_deg: float = 0.0, lo: float = ALPHA_RANGE[0],
                   hi: float = ALPHA_RANGE[1], slow: bool = False,
                   power: bool = False) -> np.ndarray:
    """Log-spaced budgets of a regularized learning curve: about 40 points over
    ``0.1 .. 100`` at ``theta = 0``, 13 at ``theta > 0`` or with ``slow`` (a soft or
    reweighted selection policy: the general quadrature, where a solve is much slower); 8
    with ``power`` (the power policy, or a regularized learner with a non-flip label channel)
    at ``theta = 0`` and 5 at ``theta > 0`` (the slowest points)."""
    if not (0 < lo < hi and math.isfinite(hi)):
        raise InputError(f"need 0 < lo < hi; got lo={lo!r}, hi={hi!r}")
    if power:
        return np.geomspace(lo, hi, 8 if float(theta_deg) == 0 else 5)
    per_decade = 13 if float(theta_deg) == 0 and not slow else 4
    n = max(8, int(math.ceil(per_decade * math.log10(hi / lo))) + 1)
    return np.geomspace(lo, hi, n)


def _erm_norm(learner, rule, f, theta_deg, lam, noise, softness=0.0, metric="abs",
              reweight=False, power_exp=0.0, probe_scale=1.0, random_share=0.0, labels="",
              snr=0.0, probe="fixed", alpha_ssl=None):
    learner, rule, f, theta_deg, lam, noise = _check_erm(learner, rule, f, theta_deg, lam,
                                                         noise)
    pol = _check_policy(softness, metric, reweight, learner)
    fam = _check_family(rule, power_exp, probe_scale, random_share, labels)
    sp = spike(snr, probe, alpha_ssl, metric)  # the prototype refuses a signed metric
    if fam[3] and noise:
        raise InputError("give a label channel or a flip noise, not both")
    if rule == "random":  # independent of f, of the probe and of the policy
        f, theta_deg, pol = 1.0, 0.0, (0.0, "abs", False)
        sp = (sp[0], "fixed", None)
    elif sp[1] == "prototype":  # its angle follows from snr and alpha_ssl
        theta_deg = 0.0
    if rule == "power" and pol[1] != "abs":
        raise InputError("the power policy is label-free: metric must be abs")
    return (learner, rule, f, theta_deg, lam, noise) + pol + fam + sp


def erm_curve(learner: str, rule: str, f: float, theta_deg: float = 0.0, *, lam: float = 0.01,
              noise: float = 0.0, lo: float = ALPHA_RANGE[0],
              hi: float = ALPHA_RANGE[1], softness: float = 0.0, metric: str = "abs",
              reweight: bool = False, power_exp: float = 0.0, probe_scale: float = 1.0,
              random_share: float = 0.0, labels: str = "", snr: float = 0.0,
              probe: str = "fixed", alpha_ssl: float | None = None) -> ErmCurve:
    """``eps(alpha_prune)`` of ``learner`` on :func:`erm_alpha_grid` ``(theta, lo, hi)``.

    Regularized learners (hinge, logistic, ridge) come from one vectorized
    :func:`prunescale.theory.solve` over the grid; ``"max-margin"`` is :func:`learning_curve`
    (its own grid, certified points only) without noise, and :func:`theory.solve` with
    ``noise`` on the same grid otherwise (no points beyond the capacity; ``lam`` is ignored). ``random`` pruning is computed at
    ``f = 1, theta = 0``. ``softness, metric, reweight``: the selection policy
    (:func:`prunescale.theory.solve`; no reweighting for max-margin). ``power_exp,
    probe_scale``: the ``power`` rule's ``A, B``; ``random_share``: ``R`` mixed into
    ``hard`` or ``easy``; ``labels``: a channel spec (``""``: flips of probability
    ``noise``). ``snr, probe, alpha_ssl``: :func:`spike` (the prototype ignores ``theta_deg``
    and refuses ``metric="signed"``). Cached.
    """
    key = _erm_norm(learner, rule, f, theta_deg, lam, noise, softness, metric, reweight,
                    power_exp, probe_scale, random_share, labels, snr, probe, alpha_ssl)
    return _erm_curve(*key[:6], _key(lo), _key(hi), *key[6:])


@_memo(maxsize=256)
def _erm_curve(learner, rule, f, theta_deg, lam, noise, lo, hi, softness=0.0, metric="abs",
               reweight=False, power_exp=0.0, probe_scale=1.0, random_share=0.0,
               labels="", snr=0.0, probe="fixed", alpha_ssl=None) -> ErmCurve:
    pol = dict(softness=softness, metric=metric, reweight=reweight)
    sp = dict(snr=snr, probe=probe, alpha_ssl=alpha_ssl)
    fam = dict(power_exp=power_exp, probe_scale=probe_scale, random_share=random_share,
               labels=labels, **sp)
    fkw = _family_kw(power_exp, probe_scale, random_share, labels, rule)
    skw = spike_kw(snr, probe, alpha_ssl)
    gth = _grid_theta(theta_deg, probe)
    if learner == "max-margin" and (noise > 0 or softness > 0 or metric != "abs" or fkw):
        a = erm_alpha_grid(0.0, lo, hi)
        r = solve(rule, f, a, theta_deg=theta_deg, noise=noise, softness=softness,
                  metric=metric, **fkw, **skw)
        ok = np.asarray(r.converged, bool)
        return ErmCurve(learner=learner, rule=rule, f=f, theta_deg=theta_deg, lam=math.nan,
                        noise=noise, alpha_prune=_ro(a),
                        eps=_ro(np.where(ok, np.asarray(r.eps, float), np.nan)),
                        converged=_ro_bool(ok), n_excluded=int((~ok).sum()), **pol, **fam)
    if learner == "max-margin":
        c = learning_curve(rule, f, theta_deg, lo=lo, hi=hi, **sp)
        return ErmCurve(learner=learner, rule=rule, f=f, theta_deg=theta_deg, lam=math.nan,
                        noise=0.0, alpha_prune=c.alpha_prune, eps=c.eps,
                        converged=_ro_bool(np.ones(len(c.eps), bool)),
                        n_excluded=c.n_excluded, **sp)
    slow = (softness > 0 or reweight or (metric != "abs" and learner != "logistic")
            or rule == "power" or random_share > 0)
    # the power policy and a non-flip channel (regularized: a quadrature per node) are the
    # slowest points: the coarsest grid
    a = erm_alpha_grid(gth, lo, hi, slow=slow, power=rule == "power" or bool(labels))
    r = solve(rule, f, a, theta_deg=theta_deg, learner=learner, lam=lam, noise=noise, **pol,
              **fkw, **skw)
    ok = np.asarray(r.converged, bool)
    eps = np.where(ok, np.asarray(r.eps, float), np.nan)
    return ErmCurve(learner=learner, rule=rule, f=f, theta_deg=theta_deg, lam=lam, noise=noise,
                    alpha_prune=_ro(a), eps=_ro(eps), converged=_ro_bool(ok),
                    n_excluded=int((~ok).sum()), **pol, **fam)


def _ro_bool(a) -> np.ndarray:
    a = np.array(a, dtype=bool, copy=True)
    a.setflags(write=False)
    return a


def erm_point(learner: str, rule: str, f: float, theta_deg: float = 0.0, *,
              alpha_prune: float, lam: float = 0.01, noise: float = 0.0,
              softness: float = 0.0, metric: str = "abs", reweight: bool = False,
              power_exp: float = 0.0, probe_scale: float = 1.0, random_share: float = 0.0,
              labels: str = "", snr: float = 0.0, probe: str = "fixed",
              alpha_ssl: float | None = None) -> ErmPoint:
    """``learner`` at one ``alpha_prune`` (exactly :func:`prunescale.theory.solve`, or
    :func:`point` for the noiseless ``"max-margin"``, :func:`theory.solve` with noise).
    The policy family, the channel and the spike and probe as in :func:`erm_curve`.
    Cached."""
    key = _erm_norm(learner, rule, f, theta_deg, lam, noise, softness, metric, reweight,
                    power_exp, probe_scale, random_share, labels, snr, probe, alpha_ssl)
    if rule == "random":  # the point keeps its own f and theta
        key = key[:2] + (_key(f), _key(theta_deg)) + key[4:]
    return _erm_point(*key[:6], _key(_pr.check_alpha("alpha_prune", alpha_prune)), *key[6:])


@_memo(maxsize=4096)
def _erm_point(learner, rule, f, theta_deg, lam, noise, alpha_prune, softness=0.0,
               metric="abs", reweight=False, power_exp=0.0, probe_scale=1.0, random_share=0.0,
               labels="", snr=0.0, probe="fixed", alpha_ssl=None) -> ErmPoint:
    pol = dict(softness=softness, metric=metric, reweight=reweight)
    sp = dict(snr=snr, probe=probe, alpha_ssl=alpha_ssl)
    fam = dict(power_exp=power_exp, probe_scale=probe_scale, random_share=random_share,
               labels=labels, **sp)
    fkw = _family_kw(power_exp, probe_scale, random_share, labels, rule)
    skw = spike_kw(snr, probe, alpha_ssl)
    if learner == "max-margin" and (noise > 0 or softness > 0 or metric != "abs" or fkw):
        r = solve(rule, f, alpha_prune, theta_deg=theta_deg, noise=noise, softness=softness,
                  metric=metric, **fkw, **skw)
        ok = bool(r.converged)
        return ErmPoint(learner=learner, rule=rule, f=f, theta_deg=theta_deg, lam=math.nan,
                        noise=noise, alpha_prune=float(r.alpha_prune),
                        eps=float(r.eps) if ok else math.nan, converged=ok,
                        reason=str(r.reason), **pol, **fam,
                        eps_noisy=float(r.eps_noisy) if ok else math.nan)
    if learner == "max-margin":
        p = point(rule, f, theta_deg, alpha_prune=alpha_prune, **sp)
        return ErmPoint(learner=learner, rule=rule, f=f, theta_deg=theta_deg, lam=math.nan,
                        noise=0.0, alpha_prune=p.alpha_prune, eps=p.eps,
                        converged=p.converged, reason=p.reason, eps_noisy=p.eps, **sp)
    r = solve(rule, f, alpha_prune, theta_deg=theta_deg, learner=learner, lam=lam,
              noise=noise, **pol, **fkw, **skw)
    ok = bool(r.converged)
    return ErmPoint(learner=learner, rule=rule, f=f, theta_deg=theta_deg, lam=lam, noise=noise,
                    alpha_prune=float(r.alpha_prune), eps=float(r.eps) if ok else math.nan,
                    converged=ok, reason=str(r.reason), **pol, **fam,
                    eps_noisy=float(r.eps_noisy) if ok else math.nan)


def erm_is_cached(learner: str, rule: str, f: float, theta_deg: float = 0.0, *,
                  lam: float = 0.01, noise: float = 0.0, lo: float = ALPHA_RANGE[0],
                  hi: float = ALPHA_RANGE[1], softness: float = 0.0, metric: str = "abs",
                  reweight: bool = False, power_exp: float = 0.0, probe_scale: float = 1.0,
                  random_share: float = 0.0, labels: str = "", snr: float = 0.0,
                  probe: str = "fixed", alpha_ssl: float | None = None) -> bool:
    """Whether :func:`erm_curve` at these arguments is already computed (``False`` where
    it is not available, :func:`erm_unavailable`)."""
    if erm_unavailable(learner, noise, reweight, labels):
        return False
    key = _erm_norm(learner, rule, f, theta_deg, lam, noise, softness, metric, reweight,
                    power_exp, probe_scale, random_share, labels, snr, probe, alpha_ssl)
    return _erm_curve.cached(*key[:6], _key(lo), _key(hi), *key[6:])


def is_cached(panel: str, theta_deg: float, rule: str = "hard", f: float = 0.2, *,
              lo: float = ALPHA_RANGE[0], hi: float = ALPHA_RANGE[1], snr: float = 0.0,
              probe: str = "fixed", alpha_ssl: float | None = None) -> bool:
    """Whether ``panel`` (``"frontier"``, ``"phase"`` or ``"learning"``) at these arguments is
    already computed (the app then skips its "computing" indicator)."""
    if panel == "frontier":
        return _frontier.cached(*_panel_key(theta_deg, snr, probe, alpha_ssl))
    if panel == "phase":
        return _phase.cached(*_panel_key(theta_deg, snr, probe, alpha_ssl))
    if panel == "learning":
        rule, f, th, snr, probe, alpha_ssl = _curve_key(rule, f, theta_deg, snr, probe,
                                                        alpha_ssl)
        return _learning_curve.cached(rule, f, th, _key(lo), _key(hi), snr, probe, alpha_ssl)
    raise InputError(f"panel must be frontier, phase or learning; got {panel!r}")


_warm_lock = threading.Lock()
_warm_thread: threading.Thread | None = None


def warm(thetas=THETA_STEPS, f: float = 0.2) -> None:
    """Fill the caches of the theta-only panels (frontier, phase diagram) and of the default
    learning curves for every angle in ``thetas``."""
    for th in thetas:
        frontier(th)
        phase(th)
        for rule in ("hard", "easy"):
            learning_curve(rule, f, th)


def warm_in_background(thetas=THETA_STEPS) -> threading.Thread:
    """Start :func:`warm` in a daemon thread, once per process; return that thread."""
    global _warm_thread
    with _warm_lock:
        if _warm_thread is None:
            _warm_thread = threading.Thread(target=warm, args=(tuple(thetas),),
                                            name="prunescale-app-warm", daemon=True)
            _warm_thread.start()
        return _warm_thread


def clear_caches() -> None:
    """Forget every memoised result (for tests and long-running servers)."""
    for fn in (_point, _learning_curve, _frontier, _phase, _simulate, _erm_curve, _erm_point):
        fn.cache_clear()


__all__ = ["ALPHA_RANGE", "ALPHA_STEPS", "APP_LEARNERS", "BETA_STEPS", "Curve", "ErmCurve", "ErmPoint",
           "F_STEPS", "FrontierData", "LABEL_FAMILIES", "LAM_STEPS", "MAX_SIM_EXAMPLES",
           "NOISE_STEPS", "POWER_EXP_STEPS", "SNR_STEPS", "APP_PROBES", "ALPHA_SSL_STEPS",
           "MAX_SIM_POOL", "spike", "spike_kw", "prototype_angle", "PROBE_SCALE_STEPS", "PhaseData", "Point", "RULES", "SHARE_STEPS", "SimPoint", "THETA_STEPS", "alpha_grid",
           "clear_caches", "erm_alpha_grid", "erm_curve", "erm_is_cached",
           "erm_point", "erm_unavailable", "frontier", "label_spec", "penalty_label", "frontier_grids", "is_cached",
           "learning_curve", "phase", "phase_grids", "point", "reference_curve", "simulate", "warm",
           "warm_in_background"]
