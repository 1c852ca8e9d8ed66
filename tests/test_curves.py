"""Curves built on the solver: frontier, phase boundary, minimum useful fraction."""

import numpy as np

from prunescale.theory import curves, solve


def test_learning_curve_decreases_with_alpha():
    r = curves.learning_curve("hard", 0.3, np.geomspace(0.2, 30, 12))
    assert r.converged.all() and np.all(np.diff(r.eps) < 0)


def test_frontier_theta0_beats_unpruned_and_is_below_every_grid_point():
    alpha = np.array([0.5, 1.5, 3.0, 8.0])
    fr = curves.pareto_frontier(alpha, 0.0, f_grid=np.geomspace(0.01, 1, 15))
    assert fr.n_uncertified == 0
    assert np.all(fr.eps <= fr.eps_random * (1 + 1e-12))
    assert np.all(fr.eps[2:] < 0.2 * fr.eps_random[2:])  # pruning wins by far at alpha >= 3
    # the optimum over f is a minimum: every grid fraction does at least as badly
    for f in (0.01, 0.1, 0.5, 1.0):
        assert np.all(solve("hard", f, alpha).eps >= fr.eps - 1e-12)


def test_frontier_imperfect_metric_has_interior_optimum():
    alpha = np.array([4.0, 10.0])
    fr = curves.pareto_frontier(alpha, 20.0, f_grid=np.geomspace(0.02, 1, 12))
    assert fr.n_uncertified == 0 and not fr.at_boundary.any()
    assert np.all((fr.f_opt > 0.05) & (fr.f_opt < 1))
    # refined optimum is no worse than its neighbours on a finer local grid
    for a, f in zip(alpha, fr.f_opt):
        local = solve("hard", f * np.array([0.8, 1.25]), a, theta_deg=20.0).eps
        assert np.all(local >= solve("hard", f, a, theta_deg=20.0).eps.item() - 1e-9)


def test_phase_boundary_separates_easy_and_hard():
    f = np.array([0.2, 0.5])
    at = curves.phase_boundary(f)
    assert np.all(np.isfinite(at))
    for fi, ai in zip(f, at):
        below = [solve(r, fi, alpha_tot=0.5 * ai).eps.item() for r in ("easy", "hard")]
        above = [solve(r, fi, alpha_tot=2.0 * ai).eps.item() for r in ("easy", "hard")]
        at_b = [solve(r, fi, alpha_tot=ai).eps.item() for r in ("easy", "hard")]
        assert below[0] < below[1] and above[1] < above[0]
        assert abs(at_b[0] - at_b[1]) < 1e-6 * at_b[0]
