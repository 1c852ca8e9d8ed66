"""Padded kept sets (shape buckets): exact, and a grid compiles once per bucket."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from prunescale import sims
from prunescale.sims import erm as E
from prunescale.sims import run as simrun
from prunescale.sims._x64 import x64_context
from prunescale.sims.certify import certify
from prunescale.sims.prune import bucket, program_shape, sample_kept
from prunescale.sims.student import solve_max_margin
from prunescale.theory import Pruning


def _keys(students, seed=0):
    return simrun.fold_keys(jax.random.key(seed), jnp.asarray(students, dtype=jnp.uint32))


def test_buckets_are_monotone_and_few():
    for per in (1, 2, 4):
        prev = 0
        for p in range(1, 5000):
            b = bucket(p, per)
            assert b >= p and b >= prev
            assert p <= 8 or b < p * (1 + 1 / per) + 1e-9
            prev = b
        # a factor 10 of sizes: about per * log2(10) + 1 buckets
        assert len({bucket(p, per) for p in range(100, 1001)}) <= per * 4 + 1
    assert [bucket(p, 1) for p in (1, 9, 64, 65)] == [8, 16, 64, 128]


@pytest.mark.parametrize("mode", ["pool", "direct"])
@pytest.mark.parametrize("rule,f", [("hard", 0.3), ("easy", 0.4), ("random", 0.5),
                                    ("random", 1.0)])
def test_padding_keeps_the_drawn_examples(mode, rule, f):
    """Draw first, then pad: the real rows are the unpadded sampler's examples and labels;
    the padding is zero."""
    pr, n, n_pool, noise = Pruning(rule, f, 10.0), 12, 91, 0.2
    with x64_context():
        keys = _keys([0, 5, 9])
        teacher, ex, valid, flips = simrun.sample_block(keys, noise, pr, n, n_pool, mode)
        t0, ex0 = jax.vmap(lambda k: sample_kept(k, pr, n, n_pool, mode))(keys)
        y0 = jax.vmap(lambda k, y: simrun.flip_labels(k, y, noise)[0])(keys, ex0.y)
    p = pr.n_kept(n_pool)
    assert ex.x.shape[1] == bucket(p) > p
    assert np.asarray(valid).sum(axis=1).tolist() == [p] * 3
    np.testing.assert_allclose(ex.x[:, :p], ex0.x, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(ex.y[:, :p], y0)
    np.testing.assert_allclose(teacher.T, t0.T, rtol=0, atol=1e-12)
    assert not np.any(np.asarray(ex.x[:, p:])) and not np.any(np.asarray(flips[:, p:]))


def _problem(n=30, alpha=2.5, f=0.4, students=(1, 2)):
    pr = Pruning("hard", f)
    n_pool = sims.pool_size(n, alpha / f)
    with x64_context():
        keys = _keys(list(students))
        _, ex = jax.vmap(lambda k: sample_kept(k, pr, n, n_pool))(keys)
        z = ex.y[..., None] * ex.x / np.sqrt(n)
    return np.asarray(z), np.asarray(ex.y), np.asarray(ex.x) / np.sqrt(n)


def _pad(a, rows, value=0.0):
    width = [(0, 0), (0, rows)] + [(0, 0)] * (a.ndim - 2)
    return np.pad(a, width, constant_values=value)


@pytest.mark.parametrize("extra", [1, 37])
def test_padded_max_margin_equals_unpadded(extra):
    z, _, _ = _problem()
    p = z.shape[1]
    zp = _pad(z, extra)
    valid = np.arange(p + extra)[None, :] < p
    valid = np.broadcast_to(valid, zp.shape[:2])
    with x64_context():
        a = solve_max_margin(jnp.asarray(z), 1e-12)
        b = solve_max_margin(jnp.asarray(zp), 1e-12, valid=jnp.asarray(valid))
        for i in range(z.shape[0]):
            assert float(a.gap[i]) <= 1e-12 and float(b.gap[i]) <= 1e-12
            wa, wb = np.asarray(a.w[i]), np.asarray(b.w[i])
            assert np.linalg.norm(wa - wb) <= 1e-9 * np.linalg.norm(wa)
            assert not np.any(np.asarray(b.lam[i, p:]))
            # the masked certificate is that of the real rows alone
            c0 = certify(jnp.asarray(z[i]), b.w[i], b.lam[i, :p])
            c1 = certify(jnp.asarray(zp[i]), b.w[i], b.lam[i], jnp.asarray(valid[i]))
            for name in ("primal", "dual", "kappa", "kappa_upper"):
                x0, x1 = float(getattr(c0, name)), float(getattr(c1, name))
                assert x1 == pytest.approx(x0, rel=1e-12), name
            # gap ~ 1e-14 here: rounding of P - D (and its square root in eps_err)
            assert float(c1.gap) == pytest.approx(float(c0.gap), abs=1e-13)
            assert float(c1.eps_err) == pytest.approx(float(c0.eps_err), abs=1e-9)
            assert bool(c1.consistent) and bool(c0.consistent)


@pytest.mark.parametrize("learner", ["ridge", "logistic", "hinge"])
def test_padded_regularized_equals_unpadded(learner):
    _, y, x = _problem(alpha=2.0)
    rng = np.random.default_rng(0)
    y = np.where(rng.random(y.shape) < 0.1, -y, y)  # label noise: a non-separable problem
    p, extra, lam = y.shape[1], 21, 0.1
    xp, yp = _pad(x, extra), _pad(y, extra, 1.0)
    cw = np.broadcast_to((np.arange(p + extra) < p).astype(float), yp.shape)
    its = np.int64(E.MAX_ITER[learner])
    with x64_context():
        wa, aa, _ = E._solve_block(jnp.asarray(x), jnp.asarray(y), lam, learner, its)
        wb, ab, _ = E._solve_block(jnp.asarray(xp), jnp.asarray(yp), lam, learner, its,
                                   jnp.asarray(cw), weighted=False)
        for i in range(y.shape[0]):
            assert np.linalg.norm(wa[i] - wb[i]) <= 1e-9 * np.linalg.norm(wa[i])
            g0, e0 = E._certify(learner, jnp.asarray(x[i]), jnp.asarray(y[i]), lam, wb[i],
                                ab[i, :p])
            g1, e1 = E._certify(learner, jnp.asarray(xp[i]), jnp.asarray(yp[i]), lam, wb[i],
                                ab[i], jnp.asarray(cw[i]))
            # the certificates agree up to rounding (hinge: a square root of a gap ~ 1e-15)
            assert float(e1) <= 1e-6 and float(e0) <= 1e-6
            assert float(e1) == pytest.approx(float(e0), abs=1e-8)
            assert float(g1) == pytest.approx(float(g0), abs=1e-13)


@pytest.mark.parametrize("learner", [pytest.param("max-margin", marks=pytest.mark.slow),
                                     "ridge"])
def test_a_grid_compiles_once_per_bucket(learner):
    """A 4 x 4 grid of (f, alpha_prune) compiles one student program per bucket of kept-set
    sizes, and its students match those of single runs."""
    n, fs, alphas = 16, (0.3, 0.5, 0.7, 0.9), (1.0, 1.5, 2.5, 4.0)
    lam = None if learner == "max-margin" else 0.1
    kind = "max-margin" if learner == "max-margin" else "regularized"
    before = simrun.compiled_programs()[kind]
    shapes = set()
    for f in fs:
        for a in alphas:
            r = sims.simulate("hard", f, a, n=n, seeds=2, learner=learner, lam=lam,
                              progress=False)
            assert r.n_flagged == 0
            shapes.add(program_shape(learner, n, r.n_kept))
    grew = simrun.compiled_programs()[kind] - before
    # kept sets 5..64: 3 power-of-two buckets (max-margin), 5 of two per octave
    assert grew <= len(shapes) <= (3 if learner == "max-margin" else 5) < len(fs) * len(alphas)


def test_a_policy_grid_compiles_its_sampler_once_per_bucket():
    """Soft, signed, mixed and power policies: the sampler is compiled per buckets of
    candidates and rows and per policy structure, not per kept fraction, angle, softness,
    threshold or family parameter; the students match those of a single run."""
    n, fs = 16, (0.3, 0.35, 0.4)
    before = simrun.compiled_programs()["policy"]
    runs = {}
    for f in fs:
        for theta in (0.0, 20.0):
            for tau in (0.2, 0.5):
                runs[f, theta, tau] = sims.simulate("hard", f, alpha_tot=8.0, n=n, seeds=2,
                                                    theta_deg=theta, softness=tau,
                                                    learner="ridge", lam=0.1, progress=False)
    grew = simrun.compiled_programs()["policy"] - before
    assert grew <= 2 < len(runs)  # candidates 128 (one bucket); rows of 3 fractions: <= 2
    one = sims.simulate("hard", 0.35, alpha_tot=8.0, n=n, seeds=[1], theta_deg=20.0,
                        softness=0.5, learner="ridge", lam=0.1, progress=False)
    assert float(one.eps[0]) == pytest.approx(float(runs[0.35, 20.0, 0.5].eps[1]), abs=1e-12)
