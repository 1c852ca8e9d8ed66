"""A point the theory cannot certify never looks like an answer, in the solver or above it."""

import numpy as np
import pytest

from prunescale.errors import NotCertified
from prunescale.theory import Quadrature, curves, solve
from prunescale.theory import solver as _solver


def test_uncertified_points_carry_nan_and_a_reason(monkeypatch):
    monkeypatch.setattr(_solver, "RESIDUAL_TOL", 0.0)  # nothing can be certified now
    r = solve("hard", [0.2, 0.5], 3.0)
    assert not r.converged.any()
    for name in ("eps", "R", "S", "kappa", "eps_bound", "quad_err"):
        assert np.isnan(getattr(r, name)).all(), name
    assert all("residual" in s for s in r.reason)
    assert np.isfinite(r.gap).all() and np.isfinite(r.residual).all()  # diagnostics kept
    rec = r.records()[0]
    assert rec["eps"] is None and rec["converged"] is False and rec["reason"]
    with pytest.raises(NotCertified, match="2 of 2 points not certified"):
        solve("hard", [0.2, 0.5], 3.0, strict=True)


def test_strict_passes_certified_points():
    r = solve("hard", 0.2, 3.0, strict=True)
    assert bool(r.converged) and np.isfinite(r.eps)


@pytest.mark.parametrize("theta", [0.0, 20.0])
def test_eps_bound_covers_the_quadrature_error(theta):
    """A deliberately coarse rule moves eps by far more than its duality gap allows; the
    refined-rule term of eps_bound must cover the move (or the point is not certified)."""
    f, a = np.array([0.1, 0.3, 0.6]), np.array([1.0, 3.0, 10.0])
    exact = solve("hard", f, a, theta_deg=theta)
    moved = 0.0
    for n in (3, 4, 6):
        c = solve("hard", f, a, theta_deg=theta, quad=Quadrature(n=n))
        err = np.abs(c.eps - exact.eps)[c.converged]
        assert np.all(err <= c.eps_bound[c.converged]), (n, err, c.eps_bound)
        moved = max(moved, err.max(initial=0.0))
    assert moved > 1e-7  # the test exercises errors far above the gap-only bound (~1e-7)


def test_gap_acceptance_scaled_to_rounding():
    # at the cliff of the f = 0.01 curve float64 cannot deliver a gap below ~1e-12
    r = solve("hard", 0.01, alpha_prune=1.989255)
    assert bool(r.converged) and r.gap > 1e-12 and r.gap <= 1e-12 + r.gap_floor
    assert r.gap_floor < _solver.GAP_FLOOR_CAP


def test_phase_boundary_never_uses_an_uncertified_refinement(monkeypatch):
    fs = np.array([0.2, 0.5])
    good = curves.phase_boundary(fs)
    assert np.all(np.isfinite(good))
    real = curves.log_ratio
    calls = {"n": 0}

    def failing_refinement(f, alpha_tot, theta_deg=0.0, **kw):
        out = real(f, alpha_tot, theta_deg, **kw)
        if np.ndim(alpha_tot) == 1 and np.size(alpha_tot) == 2:  # a refinement step
            calls["n"] += 1
            if calls["n"] >= 2:
                out = np.where(np.arange(out.size) == 0, np.nan, out)
        return out

    monkeypatch.setattr(curves, "log_ratio", failing_refinement)
    forced = curves.phase_boundary(fs)
    assert np.isnan(forced[0])  # not a moved boundary
    assert forced[1] == pytest.approx(good[1], rel=1e-12)


def test_frontier_skips_minima_next_to_uncertified_points(monkeypatch):
    alpha = np.array([20.0])
    fg = np.geomspace(0.05, 1.0, 12)
    fr = curves.pareto_frontier(alpha, 20.0, f_grid=fg)
    assert np.isfinite(fr.eps[0]) and fr.n_skipped == 0
    i = int(np.argmin(np.abs(fg - fr.f_opt[0])))
    real = curves.solve

    def hole(rule, f, alpha_prune=None, *, theta_deg=0.0, **kw):
        r = real(rule, f, alpha_prune, theta_deg=theta_deg, **kw)
        if rule == "hard" and np.ndim(f) == 2:  # the grid: un-certify the minimum's neighbour
            conv = r.converged.copy()
            conv[0, min(i + 1, len(fg) - 1)] = False
            import dataclasses
            return dataclasses.replace(r, converged=conv)
        return r

    monkeypatch.setattr(curves, "solve", hole)
    fr2 = curves.pareto_frontier(alpha, 20.0, f_grid=fg)
    assert np.isnan(fr2.eps[0]) and np.isnan(fr2.f_opt[0]) and fr2.n_skipped == 1
    assert fr2.n_uncertified == 1
    fm = curves.f_min(20.0, alpha_prune=alpha, f_grid=fg)
    assert np.isnan(fm.f_min) and fm.n_skipped == 1
