"""Data and pruning of the simulator: exact counts, the right kept set, exact probe geometry,
and agreement in distribution of the three samplers (finite pool, literal pool, N -> inf)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from prunescale.sims.data import inputs_with_probe_margin, sample_teacher, truncated_folded_normal
from prunescale.sims.prune import prune_indices, sample_kept
from prunescale.theory.pruning import Pruning


@pytest.mark.parametrize("theta_deg", [0.0, 20.0, 75.0])
def test_teacher_probe_geometry(key, theta_deg):
    n = 50
    t = sample_teacher(key, n, np.radians(theta_deg))
    for v in (t.T, t.T2, t.Jp):
        assert float(v @ v) == pytest.approx(n, rel=1e-12)
    assert abs(float(t.T @ t.T2)) < 1e-10 * n
    assert float(t.Jp @ t.T) / n == pytest.approx(np.cos(np.radians(theta_deg)), abs=1e-12)


def test_inputs_have_requested_probe_margin(key):
    n = 30
    t = sample_teacher(key, n, 0.3)
    tp = jnp.linspace(-2, 2, 7)
    x = inputs_with_probe_margin(jax.random.key(1), tp, t.Jp)
    np.testing.assert_allclose(x @ t.Jp / np.sqrt(n), tp, atol=1e-12)


@pytest.mark.parametrize("rule", ["hard", "easy", "random"])
@pytest.mark.parametrize("n_pool,f", [(1000, 0.2), (7, 0.5), (10, 1.0), (3, 0.01)])
def test_prune_keeps_exact_count_and_right_set(key, rule, n_pool, f):
    pr = Pruning(rule, f)
    k = pr.n_kept(n_pool)
    tp = jax.random.normal(key, (n_pool,))
    idx = np.asarray(prune_indices(jax.random.key(5), tp, rule, k))
    assert idx.shape == (k,) and len(set(idx.tolist())) == k  # exactly k, no repeats
    a = np.abs(np.asarray(tp))
    kept, rest = a[idx], np.delete(a, idx)
    if rest.size and rule == "hard":
        assert kept.max() < rest.min()
    if rest.size and rule == "easy":
        assert kept.min() > rest.max()


@pytest.mark.parametrize("mode", ["pool", "direct", "materialize"])
def test_sample_kept_shapes_and_labels(key, mode):
    n, pr = 20, Pruning("hard", 0.25, 10.0)
    t, ex = sample_kept(key, pr, n, 400, mode)
    assert ex.x.shape == (100, n) and ex.y.shape == (100,)
    np.testing.assert_array_equal(np.asarray(ex.y), np.where(ex.x @ t.T >= 0, 1.0, -1.0))
    np.testing.assert_allclose(ex.x @ t.Jp / np.sqrt(n), ex.tp, atol=1e-10)
    assert float(jnp.max(jnp.abs(ex.tp))) <= 1.2  # g(0.25) = 0.3186, up to pool fluctuations


def _kept(mode, pr, n, n_pool, students, seed=0):
    keys = jax.random.split(jax.random.key(seed), students)
    t, ex = jax.jit(jax.vmap(lambda k: sample_kept(k, pr, n, n_pool, mode)))(keys)
    agree = np.asarray(ex.y == jnp.where(ex.tp >= 0, 1.0, -1.0))
    return np.abs(np.asarray(ex.tp)).ravel(), agree.ravel(), np.asarray(
        jnp.sum(ex.x**2, -1)).ravel()


@pytest.mark.parametrize("rule,f,theta", [("hard", 0.2, 20.0), ("easy", 0.3, 10.0),
                                          ("random", 0.5, 30.0)])
def test_pool_vs_direct_in_distribution(rule, f, theta):
    """The finite pool (exact order statistics) and the N -> inf law agree in distribution.

    Pool of P_tot = 2000 -> the empirical threshold fluctuates by ~1/sqrt(2000) relative,
    far below what a KS test on 8000 values resolves; p-value threshold 1e-3 (the pool's kept
    margins are order statistics, not i.i.d., which only makes the test conservative-ish;
    a wrong rule or threshold gives p ~ 0).
    """
    pr = Pruning(rule, f, theta)
    n, n_pool = 8, 2000
    students = max(1, 8000 // pr.n_kept(n_pool))
    a_pool, agree_pool, x2_pool = _kept("pool", pr, n, n_pool, students, 1)
    a_dir, agree_dir, x2_dir = _kept("direct", pr, n, n_pool, students, 2)
    assert stats.ks_2samp(a_pool, a_dir).pvalue > 1e-3
    assert stats.ks_2samp(x2_pool, x2_dir).pvalue > 1e-3
    # label-vs-probe agreement rates: two-proportion z-test, |z| < 4
    p1, p2, m = agree_pool.mean(), agree_dir.mean(), agree_pool.size
    pbar = 0.5 * (p1 + p2)
    se = np.sqrt(max(pbar * (1 - pbar), 1e-12) * 2 / m)
    assert abs(p1 - p2) <= 4 * se + 1e-12
    # and both match the exact N -> inf rate E[Phi(|t_p| cot theta)] over the kept law
    lo, hi = pr.kept_range
    rate = np.mean(stats.norm.cdf(a_dir / np.tan(np.radians(theta))))
    assert abs(p2 - rate) <= 4 * np.sqrt(rate * (1 - rate) / m) + 1e-12
    if rule != "random":  # direct margins follow the folded normal truncated to [lo, hi]
        cdf = lambda v: (stats.norm.sf(lo) - stats.norm.sf(v)) / (stats.norm.sf(lo) - stats.norm.sf(hi))
        assert stats.kstest(a_dir, cdf).pvalue > 1e-3


def test_pool_sampler_equals_literal_pool_in_distribution():
    """The factorised finite-pool sampler has the law of a materialised pool (not just N->inf):
    compare the kept margins and |x|^2 of both with small pools, where order-statistics effects
    are strong (P_tot = 20, keep 4)."""
    pr = Pruning("hard", 0.2, 15.0)
    a1, g1, x1 = _kept("pool", pr, 6, 20, 1500, 3)
    a2, g2, x2 = _kept("materialize", pr, 6, 20, 1500, 4)
    assert stats.ks_2samp(a1, a2).pvalue > 1e-3
    assert stats.ks_2samp(x1, x2).pvalue > 1e-3
    # and the small pool really differs from the N -> inf law (so the test has power):
    a3, _, _ = _kept("direct", pr, 6, 20, 1500, 5)
    assert stats.ks_2samp(a1, a3).pvalue < 1e-3


def test_truncated_folded_normal_deep_tail(key):
    """Keep-easy at f = 1e-6: threshold g = 4.89; samples stay >= g and follow the tail law."""
    pr = Pruning("easy", 1e-6)
    lo, hi = pr.kept_range
    v = np.asarray(truncated_folded_normal(key, (4000,), lo, hi))
    assert v.min() >= lo
    assert stats.kstest(v, lambda t: 1 - stats.norm.sf(t) / stats.norm.sf(lo)).pvalue > 1e-3
