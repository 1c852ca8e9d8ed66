"""Replica-theory engine: check values, known limits, certificates and quadrature accuracy."""

import numpy as np
import pytest

from prunescale.theory import Pruning, Quadrature, solve
from prunescale.theory._equations import margin_terms
from prunescale.theory._kept_law import nodes_theta, nodes_theta0
from prunescale.theory.pruning import kept_range, threshold
from prunescale.theory.reference import solve_reference
from prunescale.theory.solver import _batch_for, _newton, certify_point


# theta, rule, f, alpha_prune, eps, R, S, kappa: from an independent nested solver
# (prunescale.theory.reference; table in docs/theory.md), eps converged to ~1e-9 there; printed to 6 decimals.
CHECK_VALUES = [
    (0, "random", 1.0, 1.0, 0.265711, 0.671358, 0, 0.786550),
    (0, "random", 1.0, 10.0, 0.049183, 0.988086, 0, 0.099889),
    (0, "hard", 0.5, 3.0, 0.081235, 0.967611, 0, 0.165246),
    (0, "hard", 0.2, 3.0, 0.034721, 0.994057, 0, 0.067131),
    (0, "hard", 0.2, 6.0, 0.016650, 0.998632, 0, 0.033461),
    (0, "easy", 0.2, 6.0, 0.033835, 0.994356, 0, 1.355108),
    (0, "easy", 0.5, 1.0, 0.181832, 0.841231, 0, 1.196545),
    (10, "easy", 0.2, 6.0, 0.064958, 0.979250, 0.172668, 1.355108),
    (20, "hard", 0.2, 3.0, 0.260973, 0.682316, -0.535650, 0.201089),
    (20, "easy", 0.5, 3.0, 0.147727, 0.894226, 0.255190, 0.793229),
]


@pytest.mark.parametrize("theta,rule,f,alpha,eps,R,S,kappa", CHECK_VALUES)
def test_check_values(theta, rule, f, alpha, eps, R, S, kappa):
    r = solve(rule, f, alpha, theta_deg=theta)
    assert r.converged.item(), r.reason.item()
    # values are given to 6 decimals: agreement within rounding (5e-7) plus 1e-7
    for got, want in ((r.eps, eps), (r.R, R), (r.S, S), (r.kappa, kappa)):
        assert abs(float(got) - want) <= 6e-7, (got, want)
    assert r.gap.item() <= 1e-12 and r.eps_bound.item() <= 1e-6


def test_grid_equals_pointwise():
    f = np.array([0.05, 0.3, 1.0])
    a = np.array([0.3, 2.0, 15.0])
    F, A = np.meshgrid(f, a, indexing="ij")
    grid = solve("hard", F, A, theta_deg=0.0)
    assert grid.shape == (3, 3) and grid.converged.all()
    for i in range(3):
        for j in range(3):
            single = solve("hard", F[i, j], A[i, j])
            assert abs(single.eps.item() - grid.eps[i, j]) < 1e-10


def test_alpha_tot_parameterisation():
    a = solve("easy", 0.25, alpha_tot=8.0)
    b = solve("easy", 0.25, 2.0)
    assert a.alpha_prune.item() == 2.0 and a.alpha_tot.item() == 8.0
    assert a.eps.item() == b.eps.item()
    with pytest.raises(ValueError, match="inconsistent"):
        solve("easy", 0.25, 3.0, alpha_tot=8.0)


# ---------------------------------------------------------------- known limits


def test_unpruned_large_alpha_limit():
    # classic maximally stable perceptron: alpha * eps -> 0.5005 (notes: 0.4999 at alpha = 40,
    # 0.5004 at alpha = 100); the rise is slow, so check the stated values to 1e-4
    r = solve("random", 1.0, [40.0, 100.0, 1000.0])
    assert r.converged.all()
    ae = r.alpha_prune * r.eps
    assert abs(ae[0] - 0.4999) < 1e-4 and abs(ae[1] - 0.5004) < 1e-4
    assert abs(ae[2] - 0.5005) < 1e-4 and np.all(np.diff(ae) > 0)


def test_unpruned_small_alpha_limit():
    # R ~ sqrt(2 alpha / pi) for small alpha. Exactly: when every example is a support vector
    # (Phi = 1, true up to ~exp(-k^2 / 2) with k ~ 1 / sqrt(alpha)), the stationarity equations
    # give R = alpha k E|t| and b^2 (1 - alpha) = alpha (k^2 - 2 k R E|t| + R^2), hence
    # R^2 = alpha E|t|^2 (1 - alpha) / (1 - alpha E|t|^2) with E|t| = sqrt(2 / pi).
    alpha = np.array([1e-2, 1e-3, 1e-4])
    r = solve("random", 1.0, alpha)
    m = 2 / np.pi
    exact = np.sqrt(alpha * m * (1 - alpha) / (1 - alpha * m))
    assert np.allclose(r.R, exact, rtol=1e-10, atol=0)
    dev = np.abs(r.R / np.sqrt(alpha * m) - 1)  # = alpha (1 - 2/pi) / 2 + O(alpha^2)
    assert dev[-1] < 1e-4 and np.allclose(dev / alpha, (1 - m) / 2, rtol=0.02)


@pytest.mark.parametrize("theta", [0.0, 25.0])
def test_hard_and_easy_coincide_at_f_one(theta):
    a = np.array([0.5, 3.0, 20.0])
    h, e, r = solve("hard", 1.0, a, theta_deg=theta), solve("easy", 1.0, a, theta_deg=theta), solve("random", 1.0, a)
    assert np.array_equal(h.eps, e.eps) and np.allclose(h.eps, r.eps, atol=1e-12)


def test_random_pruning_ignores_f_and_theta():
    a = solve("random", 0.1, 3.0, theta_deg=40.0)
    b = solve("random", 1.0, 3.0)
    assert a.eps.item() == b.eps.item() and a.S.item() == 0.0


@pytest.mark.parametrize("rule", ["hard", "easy"])
def test_theta_to_zero_is_continuous(rule):
    th = np.array([1e-3, 1e-2, 0.1])
    r = solve(rule, 0.3, 4.0, theta_deg=th)
    r0 = solve(rule, 0.3, 4.0, theta_deg=0.0)
    d = np.abs(r.eps - r0.eps)
    assert r.converged.all() and d[0] < 1e-6 and np.all(np.diff(d) > 0)


def test_keep_easy_small_theta_is_probe_teacher_problem():
    # notes' structural check: with almost no kept label disagreeing with the probe, the
    # problem is the theta = 0 one with the probe as teacher (same kappa, and overlap with
    # the probe equals the theta = 0 R)
    r0 = solve("easy", 0.2, 6.0)
    r = solve("easy", 0.2, 6.0, theta_deg=10.0)
    th = np.radians(10.0)
    assert abs(r.kappa.item() - r0.kappa.item()) < 1e-6
    assert abs(r.R.item() * np.cos(th) + r.S.item() * np.sin(th) - r0.R.item()) < 1e-6


def test_all_support_vectors_survive_keep_hard():
    # notes: keep-hard with a perfect metric and a pool so large that every support vector
    # survives learns what the whole pool would: eps = 0.5005 / alpha_tot at alpha_tot = 3000
    r = solve("hard", [0.01, 0.03], [30.0, 90.0])
    full = solve("random", 1.0, 3000.0)
    assert r.converged.all() and full.converged.all()
    assert np.allclose(r.eps, 1.6683e-4, atol=5e-9)
    assert np.allclose(r.eps, full.eps.item(), rtol=1e-6)


def test_easy_beats_hard_small_pool_and_hard_wins_large_pool():
    small = [solve(rule, 0.3, alpha_tot=1.0).eps.item() for rule in ("easy", "hard")]
    large = [solve(rule, 0.3, alpha_tot=50.0).eps.item() for rule in ("easy", "hard")]
    assert small[0] < small[1] and large[1] < large[0]


def test_imperfect_metric_aggressive_keep_hard_breaks_down():
    r = solve("hard", [0.2, 0.5], 3.0, theta_deg=20.0)
    assert abs(r.eps[0] - 0.261) < 1e-3 and r.eps[0] > r.eps[1]


# ---------------------------------------------------------------- certificates


def test_spurious_root_is_refused():
    # A plain Newton solve of the stationarity equations started from a poor guess
    # converges to a stationary point with R < 0 (eps ~ 0.567 where 0.01665 is right).
    batch = _batch_for("hard", [0.2], [0.0], 1, Quadrature())
    y, conv, resid, locmax = _newton(batch, np.array([6.0]), np.array([[0.55 * np.pi, -0.6]]))
    assert conv[0] and resid[0] < 1e-8
    R_bad, k_bad = np.cos(y[0, 0]), y[0, 1]
    assert R_bad < 0 and 0.55 < y[0, 0] / np.pi < 0.6
    ok, cert = certify_point("hard", 0.2, 6.0, 0.0, R_bad, 0.0, k_bad)
    assert not ok and not np.isfinite(cert.gap[0])
    # ... while the solver, which never starts from a guess, returns the certified maximum
    good = solve("hard", 0.2, 6.0)
    assert good.converged.item() and abs(good.eps.item() - 0.016650) < 6e-7
    ok, cert = certify_point("hard", 0.2, 6.0, 0.0, good.R.item(), 0.0, good.kappa.item())
    assert ok and cert.gap[0] <= 1e-12


def test_certificate_rejects_nearby_non_solutions():
    good = solve("hard", 0.2, 3.0, theta_deg=20.0)
    R, S, k = good.R.item(), good.S.item(), good.kappa.item()
    assert certify_point("hard", 0.2, 3.0, 20.0, R, S, k)[0]
    # a rotated student (S of the wrong sign) or a perturbed one is not the solution
    assert not certify_point("hard", 0.2, 3.0, 20.0, R, -S, k)[0]
    ok, cert = certify_point("hard", 0.2, 3.0, 20.0, R + 1e-4, S, k)
    assert not ok and cert.gap[0] > 1e-12


def test_reference_solver_agrees_theta0():
    # independent nested solver: bisection on k around a global maximisation of A
    for rule, f, alpha in (("hard", 0.1, 5.0), ("easy", 0.3, 0.7)):
        ref = solve_reference(Pruning(rule, f), alpha, k_tol=1e-10)
        r = solve(rule, f, alpha)
        assert abs(ref.eps - r.eps.item()) < 1e-6
        assert abs(ref.kappa - r.kappa.item()) < 1e-8


@pytest.mark.slow
def test_reference_solver_agrees_theta_positive():
    quad = Quadrature(n=10, n_v=8)
    ref = solve_reference(Pruning("hard", 0.3, 15.0), 2.0, quad=quad, k_tol=1e-8, n_starts=5)
    r = solve("hard", 0.3, 2.0, theta_deg=15.0, quad=quad)
    assert abs(ref.eps - r.eps.item()) < 1e-5


# ---------------------------------------------------------------- quadrature accuracy

REFINE_POINTS = [
    ("hard", 0.01, 0.05, 0.0), ("hard", 0.01, 100.0, 0.0), ("easy", 0.01, 100.0, 0.0),
    ("hard", 0.02, 20.0, 0.0), ("easy", 0.5, 0.05, 0.0), ("random", 1.0, 100.0, 0.0),
    ("hard", 0.01, 5.0, 60.0), ("easy", 0.01, 50.0, 60.0), ("hard", 0.2, 3.0, 20.0),
    ("easy", 0.2, 6.0, 10.0), ("hard", 0.05, 100.0, 5.0), ("easy", 0.05, 100.0, 1.0),
    ("hard", 0.9, 0.05, 45.0), ("easy", 0.99, 1.0, 30.0),
]


def test_quadrature_refinement_changes_eps_below_1e7():
    worst = 0.0
    for rule, f, a, th in REFINE_POINTS:
        base = solve(rule, f, a, theta_deg=th)
        fine = solve(rule, f, a, theta_deg=th, quad=Quadrature().refined(2))
        assert base.converged.item() and fine.converged.item(), (rule, f, a, th)
        worst = max(worst, abs(base.eps.item() - fine.eps.item()))
    assert worst < 1e-7, worst


@pytest.mark.parametrize("rule,f,theta", [("hard", 0.2, 0.0), ("easy", 0.1, 0.0),
                                          ("hard", 0.3, 25.0), ("easy", 0.4, 50.0)])
def test_quadrature_matches_monte_carlo(rule, f, theta):
    # E[M2(k - y(R t + S u), b)] over the kept law: quadrature against a Monte-Carlo average
    # over samples drawn directly from the pruned law (4 standard errors).
    rng = np.random.default_rng(1)
    R, S, k = 0.7, (-0.3 if theta else 0.0), 0.4
    b = np.sqrt(1 - R * R - S * S)
    lo, hi = kept_range(rule, np.array([f]))
    n = 400_000
    # |t_p| from the folded normal truncated to [lo, hi] (inverse-CDF sampling)
    from scipy import special

    u = rng.uniform(special.ndtr(lo[0]), special.ndtr(min(hi[0], 40.0)), n)
    tp = special.ndtri(u) * rng.choice([-1.0, 1.0], n)
    v = rng.standard_normal(n)
    z = rng.standard_normal(n)
    th = np.radians(theta)
    t = np.cos(th) * tp - np.sin(th) * v
    uu = np.sin(th) * tp + np.cos(th) * v
    y = np.sign(t)
    samples = np.maximum(k - y * (R * t + S * uu) - b * z, 0.0) ** 2
    mc, se = samples.mean(), samples.std() / np.sqrt(n)
    one = lambda x: np.array([x], dtype=float)  # noqa: E731
    if theta:
        nodes = nodes_theta(lo, hi, one(f), one(th), one(R), one(S), one(b), one(k), Quadrature())
    else:
        nodes = nodes_theta0(lo, hi, one(f), one(R), one(b), one(k), Quadrature())
    m2, _ = margin_terms(nodes, one(R), one(S), one(b), one(k))
    assert abs(m2[0] - mc) < 4 * se, (m2[0], mc, se)


def test_threshold_definition():
    f = np.array([1e-3, 0.2, 0.9, 0.999])
    from scipy import special

    assert np.allclose(2 * special.ndtr(threshold("hard", f)) - 1, f, rtol=1e-12)
    assert np.allclose(2 * special.ndtr(-threshold("easy", f)), f, rtol=1e-12)


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"rule": "soft", "f": 0.5, "alpha_prune": 1.0}, "rule must be one of"),
        ({"rule": "hard", "f": 0.0, "alpha_prune": 1.0}, r"f must be in \(0, 1\]"),
        ({"rule": "hard", "f": 1.2, "alpha_prune": 1.0}, r"f must be in \(0, 1\]"),
        ({"rule": "hard", "f": np.nan, "alpha_prune": 1.0}, "f must be finite"),
        ({"rule": "hard", "f": 0.5, "alpha_prune": 0.0}, r"alpha_prune must be in \(0, 1e\+12\]"),
        ({"rule": "hard", "f": 0.5, "alpha_prune": np.inf}, "alpha_prune must be finite"),
        ({"rule": "hard", "f": 0.5, "alpha_prune": 1.0, "theta_deg": 90.0},
         r"theta_deg must be in \[0, 90\)"),
        ({"rule": "hard", "f": 0.5, "alpha_prune": 1.0, "theta_deg": -1.0},
         r"theta_deg must be in \[0, 90\)"),
        ({"rule": "hard", "f": 0.5, "alpha_tot": -2.0}, r"alpha_tot must be in \(0, 1e\+12\]"),
    ],
)
def test_bad_input_is_a_one_line_value_error(kwargs, match):
    with pytest.raises(ValueError, match=match) as exc:
        solve(**kwargs)
    assert "\n" not in str(exc.value)
