"""Certified regularized students (``prunescale.sims.erm``): each solver against scikit-learn on
the simulator's own data, the certificate, label noise, input errors, and the ERM replica
theory against simulation."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from prunescale.errors import InputError
from prunescale.sims._x64 import x64_context
from prunescale import sims
from prunescale.sims import erm as E
from prunescale.theory import Pruning
from prunescale.theory import solve


def _student_data(pruning, n, n_pool, students, noise=0.0, seed=0):
    """Teachers, inputs ``z = x / sqrt(N)``, flipped labels and flip fractions of the given
    students, drawn by the simulator's own sampling function."""
    with x64_context():  # the simulator's context: its compiled programs are reused
        base = jax.random.key(seed)
        keys = jax.vmap(jax.random.fold_in, in_axes=(None, 0))(
            base, jnp.asarray(list(students), dtype=jnp.uint32))
        return E._sample_block(keys, noise, pruning, n, n_pool, "pool")


def _solve(z, y, lam, learner, cw=None):
    with x64_context():
        if cw is None:
            return E._solve_block(z, y, lam, learner, np.int64(E.MAX_ITER[learner]))
        return E._solve_block(z, y, lam, learner, np.int64(E.MAX_ITER[learner]), cw,
                              weighted=False)


def _padded_student_data(pruning, n, n_pool, students, noise=0.0, seed=0):
    """The simulator's own padded blocks: teachers, inputs, labels and row weights (1 on the
    real rows, 0 on the padding)."""
    from prunescale.sims import run as simrun

    with x64_context():
        keys = simrun.fold_keys(jax.random.key(seed),
                                jnp.asarray(list(students), dtype=jnp.uint32))
        teacher, ex, valid, flips = simrun.sample_block(keys, noise, pruning, n, n_pool, "pool")
        z, y, cw, _ = E._padded_inputs(ex, valid, flips, jnp.float64(n))
        return teacher, z, y, cw


def _sklearn(learner, z, y, lam):
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.svm import LinearSVC

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if learner == "ridge":
            m = Ridge(alpha=lam, fit_intercept=False, solver="cholesky")
        elif learner == "logistic":
            m = LogisticRegression(C=1 / lam, fit_intercept=False, tol=1e-14, max_iter=100_000)
        else:
            # liblinear's dual coordinate descent: tol 1e-10 converges (~1e-11 relative);
            # much smaller tolerances never stop and end at max_iter less accurate
            m = LinearSVC(loss="hinge", C=1 / lam, fit_intercept=False, dual=True, tol=1e-10,
                          max_iter=1_000_000)
        return m.fit(z, y).coef_.ravel()


@pytest.mark.parametrize("learner", ["ridge", "logistic", "hinge"])
def test_weights_match_scikit_learn(learner):
    """The solver's ``w`` against scikit-learn's on the very same (pruned, noisy) data."""
    pytest.importorskip("sklearn")
    n, lam, noise = 60, 0.2, 0.15
    pr = Pruning("hard", 0.4)
    res = sims.simulate(pr, alpha_prune=2.0, n=n, seeds=[3, 7], learner=learner, lam=lam, noise=noise, seed=0)
    assert res.n_flagged == 0 and res.max_eps_err < 1e-6
    teacher, z, y, cw = _padded_student_data(pr, n, res.n_pool, [3, 7], noise=noise)
    w, a, _ = _solve(z, y, lam, learner, cw)
    for i in range(2):
        real = np.asarray(cw[i]) > 0
        assert real.sum() == res.n_kept
        ws = _sklearn(learner, np.asarray(z[i])[real], np.asarray(y[i])[real], lam)
        wi = np.asarray(w[i])
        assert np.linalg.norm(wi - ws) <= 1e-5 * np.linalg.norm(ws), learner
        # the reported measurements are those of this w
        assert res.Q[i] == pytest.approx(wi @ wi / n, rel=1e-10)
        R = wi @ np.asarray(teacher.T[i]) / (np.linalg.norm(wi) * np.sqrt(n))
        assert res.eps[i] == pytest.approx(np.arccos(R) / np.pi, abs=1e-9)


def test_certificate_of_a_perturbed_student_grows():
    pr = Pruning("hard", 0.3)
    _, z, y, _ = _student_data(pr, 80, 533, range(8))  # the shapes of the next test's blocks
    for learner in ("ridge", "logistic", "hinge"):
        w, a, _ = _solve(z, y, 0.1, learner)
        z0, y0, w0, a0 = z[0], y[0], w[0], a[0]
        gap, err = E._certify(learner, z0, y0, 0.1, w0, a0)
        assert float(err) < 1e-7 and abs(float(gap)) < 1e-12, learner
        for delta in (1e-6, 1e-3):
            wp = w0 + delta * jnp.linalg.norm(w0) * jnp.cos(jnp.arange(w0.size)) / 6
            gap2, err2 = E._certify(learner, z0, y0, 0.1, wp, a0)
            assert float(err2) > max(1e-7, 100 * float(err)), (learner, delta)
            assert float(gap2) > float(gap), (learner, delta)


def test_certificate_flags_a_solver_stopped_early():
    pr = Pruning("hard", 0.3)
    for learner, its in (("logistic", 1), ("hinge", 2)):
        early = sims.simulate(pr, alpha_prune=2.0, n=80, seeds=4, learner=learner, lam=0.1, max_iter=its)
        full = sims.simulate(pr, alpha_prune=2.0, n=80, seeds=4, learner=learner, lam=0.1)
        assert early.flagged.all() and np.all(early.eps_err > 1e-6), learner
        assert early.n_flagged == 4 and np.isnan(early.eps_mean)  # never averaged in
        assert not full.flagged.any() and full.max_eps_err < 1e-6, learner


def test_noise_half_gives_chance():
    res = sims.simulate(Pruning("hard", 0.3), alpha_prune=2.0, n=40, seeds=96, learner="ridge", lam=0.1,
                         noise=0.5, progress=False)
    assert res.n_flagged == 0
    assert abs(res.eps_mean - 0.5) < 3 * res.eps_sem
    assert np.allclose(res.eps_noisy, 0.5)


def test_flip_fraction_is_binomial():
    eta = 0.2
    res = sims.simulate(Pruning("random", 0.5), alpha_prune=2.0, n=100, seeds=16, learner="ridge", lam=1.0,
                         noise=eta, progress=False)
    total = 16 * res.n_kept
    assert abs(res.flipped.mean() - eta) < 4 * np.sqrt(eta * (1 - eta) / total)
    # the flips act on exactly the max-margin simulator's kept data
    pr = Pruning("random", 0.5)
    _, _, y0, _ = _student_data(pr, 100, res.n_pool, [0, 1])
    _, _, y1, fl = _student_data(pr, 100, res.n_pool, [0, 1], noise=eta)
    assert np.allclose(np.mean(np.asarray(y0) != np.asarray(y1), axis=1), np.asarray(fl))
    assert np.allclose(np.asarray(fl), res.flipped[:2])


def test_summary_and_aggregates():
    res = sims.simulate(Pruning("easy", 0.5), alpha_prune=2.0, n=50, seeds=3, learner="logistic", lam=0.5,
                         noise=0.1)
    s = res.summary()
    assert s["learner"] == "logistic" and s["lam"] == 0.5 and s["noise"] == 0.1
    assert s["eps_noisy_mean"] == pytest.approx(0.1 + 0.8 * s["eps_mean"])
    assert s["Q_mean"] == pytest.approx(np.mean(res.Q))
    assert s["n_flagged"] == 0 and s["seeds"] == 3 and s["student_seeds"] == [0, 1, 2]


def _z_score(learner, rule, f, alpha, lam, noise, theta, n, students, seed):
    th = solve(rule, f, alpha, theta_deg=theta, learner=learner, lam=lam, noise=noise,
                   strict=True)
    res = sims.simulate(Pruning(rule, f, theta), alpha_prune=alpha, n=n, seeds=students, learner=learner, lam=lam,
                         noise=noise, seed=seed, progress=False)
    assert res.n_flagged == 0, res.eps_err
    return (res.eps_mean - float(th.eps)) / res.eps_sem, res, float(th.eps)


def test_theory_against_simulation_ridge_n400():
    """The fast check of the check value (theory eps = 0.195533)."""
    z, res, th = _z_score("ridge", "random", 1.0, 2.0, 0.1, 0.0, 0.0, 400, 16, 11)
    assert th == pytest.approx(0.195533, abs=2e-6)
    assert abs(z) < 3.5, (res.eps_mean, res.eps_sem, th)


@pytest.mark.parametrize("learner,rule,f,alpha,lam,noise,theta", [
    ("logistic", "hard", 0.3, 2.0, 0.1, 0.1, 0.0),
    # the slowest students of the suite at N = 400: the default run checks them at N = 200
    # (test_theory_against_simulation_hinge_n200)
    pytest.param("hinge", "easy", 0.5, 3.0, 0.05, 0.0, 10.0, marks=pytest.mark.slow),
])
def test_theory_against_simulation_n400(learner, rule, f, alpha, lam, noise, theta):
    z, res, th = _z_score(learner, rule, f, alpha, lam, noise, theta, 400, 16, 11)
    assert abs(z) < 3.5, (res.eps_mean, res.eps_sem, th)


def test_theory_against_simulation_hinge_n200():
    """The hinge students of test_theory_against_simulation_n400 at N = 200 (their solver
    costs about a third of N = 400's)."""
    z, res, th = _z_score("hinge", "easy", 0.5, 3.0, 0.05, 0.0, 10.0, 200, 16, 11)
    assert abs(z) < 3.5, (res.eps_mean, res.eps_sem, th)


@pytest.mark.slow
@pytest.mark.parametrize("learner,rule,f,alpha,lam,noise,theta", [
    ("ridge", "random", 1.0, 2.0, 0.1, 0.0, 0.0),
    ("logistic", "hard", 0.3, 2.0, 0.1, 0.1, 0.0),
    ("hinge", "easy", 0.5, 3.0, 0.05, 0.0, 10.0),
    ("ridge", "hard", 0.2, 3.0, 0.01, 0.2, 20.0),
    ("logistic", "easy", 0.3, 3.0, 0.01, 0.2, 0.0),
    ("hinge", "hard", 0.4, 2.5, 0.02, 0.1, 0.0),
])
def test_theory_against_simulation_n800(learner, rule, f, alpha, lam, noise, theta):
    z, res, th = _z_score(learner, rule, f, alpha, lam, noise, theta, 800, 32, 5)
    assert abs(z) < 3.5, (res.eps_mean, res.eps_sem, th)


@pytest.mark.parametrize("kw,needle", [
    ({"learner": "svm", "lam": 1.0}, "learner must be one of"),
    ({"learner": "ridge", "lam": 0.0}, "lam must be in (0, 1e+06]"),
    ({"learner": "ridge", "lam": -1.0}, "lam must be in (0, 1e+06]"),
    ({"learner": "ridge", "lam": float("nan")}, "lam must be finite"),
    ({"learner": "ridge", "lam": 1.0, "noise": 0.7}, "noise must be in [0, 0.5]"),
    ({"learner": "ridge", "lam": 1.0, "noise": -0.1}, "noise must be in [0, 0.5]"),
    ({"learner": "hinge", "lam": 1.0, "tol": 0.0}, "tol must be"),
])
def test_bad_input_is_one_line(kw, needle):
    with pytest.raises(InputError) as exc:
        sims.simulate(Pruning("hard", 0.3), alpha_prune=2.0, n=50, seeds=2, **kw)
    msg = str(exc.value)
    assert needle in msg and "\n" not in msg
