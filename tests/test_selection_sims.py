"""Selection policies in the ERM simulator (``docs/erm.md`` section 7): the weighted solvers
against scikit-learn, the policy sampler (Bernoulli pool, rejection ``direct``, sharp signed by
rank), reweighting a random selection, input errors, and theory against simulation."""

import math
import time
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from prunescale.errors import InputError
from prunescale import sims
from prunescale.sims import erm as E
from prunescale.sims._x64 import x64_context
from prunescale.sims.prune import policy_sizes
from prunescale.theory import Pruning
from prunescale.theory import _selection as S
from prunescale.theory import solve


def _keys(students, seed=0):
    base = jax.random.key(seed)
    return jax.vmap(jax.random.fold_in, in_axes=(None, 0))(
        base, jnp.asarray(list(students), dtype=jnp.uint32))


def _policy_data(pruning, n, n_pool, students, tau, metric, reweight, noise, mode="pool",
                 seed=0):
    n_kept = pruning.n_kept(n_pool)
    sharp = mode == "pool" and tau == 0 and pruning.rule != "random"
    n_cand, n_rows = policy_sizes(pruning.f, n_pool, n_kept, mode, sharp)
    k = 0.0 if pruning.rule == "random" else float(
        S.threshold(pruning.rule, pruning.f, tau, metric, noise, pruning.theta))
    with x64_context():
        out = E._policy_sample_block(_keys(students, seed), np.float64(k), noise, pruning, n,
                                     n_cand, n_rows, n_kept, float(tau), metric, reweight,
                                     mode)
    return (k, n_rows) + tuple(out)


def _sklearn(learner, z, y, lam, cw):
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.svm import LinearSVC

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if learner == "ridge":
            m = Ridge(alpha=lam, fit_intercept=False, solver="cholesky")
        elif learner == "logistic":
            m = LogisticRegression(C=1 / lam, fit_intercept=False, tol=1e-14, max_iter=100_000)
        else:
            m = LinearSVC(loss="hinge", C=1 / lam, fit_intercept=False, dual=True, tol=1e-10,
                          max_iter=1_000_000)
        return m.fit(z, y, sample_weight=cw).coef_.ravel()


@pytest.mark.parametrize("learner", ["ridge", pytest.param("logistic", marks=pytest.mark.slow),
                                     "hinge"])
def test_weighted_solvers_match_scikit_learn(learner):
    """Reweighted soft keep-easy data with padded rows (weight 0): the weighted solver's ``w``
    against scikit-learn's ``sample_weight`` fit on the kept rows only."""
    pytest.importorskip("sklearn")
    n, lam, noise = 60, 0.2, 0.15
    pr = Pruning("easy", 0.4, 10.0)
    n_pool = 300
    _, _, teacher, z, y, cw, flipped, count, bad = _policy_data(
        pr, n, n_pool, [3, 7], 0.3, "signed", True, noise)
    assert not np.any(bad)
    cw_np = np.asarray(cw)
    assert np.all(cw_np[:, -1] == 0)  # padded rows carry no weight
    with x64_context():
        w, a, _ = E._solve_block(z, y, lam, learner, np.int64(E.MAX_ITER[learner]), cw)
        _, _, _, _, gap, eps_err = E._measure_block(teacher, z, y, w, a, lam, learner, n, cw)
    assert np.all(np.asarray(eps_err) < E.EPS_TOL)
    for i in range(2):
        c = int(count[i])
        zi, yi, ci = np.asarray(z[i])[:c], np.asarray(y[i])[:c], cw_np[i, :c]
        assert abs(ci.mean() - 1.0) < 1e-12 and ci.std() > 0.1
        ref = _sklearn(learner, zi, yi, lam, ci)
        # scikit-learn's own tolerance (lbfgs, liblinear) limits this to ~1e-7 relative; the
        # certificate above (eps_err < 1e-8) is the sharp check of the weighted objective
        assert np.linalg.norm(np.asarray(w[i]) - ref) < 1e-5 * np.linalg.norm(ref)


def test_pool_policy_keeps_a_binomial_count_and_direct_keeps_p():
    pr = Pruning("hard", 0.3)
    n, n_pool = 50, 400
    students = range(16)
    k, n_rows, _, z, y, cw, flipped, count, bad = _policy_data(pr, n, n_pool, students, 0.3,
                                                               "abs", False, 0.1)
    count = np.asarray(count)
    assert not np.any(bad) and n_rows > 120
    # Binomial(400, 0.3): mean 120, sd 9.2; the mean of 16 within 4 sd
    assert abs(count.mean() - 120) < 4 * math.sqrt(400 * 0.21 / 16)
    assert np.all(np.asarray(cw).sum(axis=1) == count)  # weight 1 on kept rows, 0 on padding
    _, _, _, z, y, cw, _, count_d, bad_d = _policy_data(pr, n, n_pool, students, 0.3, "abs",
                                                        False, 0.1, mode="direct")
    p_kept = pr.n_kept(n_pool)  # direct: exactly P rows of weight 1, the bucket's rest 0
    assert not np.any(bad_d) and np.all(np.asarray(cw)[:, :p_kept] == 1.0)
    assert np.all(np.asarray(cw)[:, p_kept:] == 0.0)
    assert np.all(np.asarray(count_d) >= pr.n_kept(n_pool))
    # sharp signed in the pool: exactly P kept by rank of y p, all at or below the threshold
    _, n_rows, _, z, y, cw, _, count_s, _ = _policy_data(pr, n, n_pool, students, 0.0,
                                                         "signed", False, 0.1)
    assert n_rows == 120 and np.all(np.asarray(count_s) == 120)


def test_policy_kept_law_matches_theory():
    """The kept examples' probe fields and flip fraction against the kept law (quadrature):
    pooled over students, E[p^2] and P(flipped) within 4 standard errors."""
    pr = Pruning("hard", 0.3, 10.0)
    noise, tau = 0.2, 0.3
    n, n_pool = 40, 2000
    _, _, teacher, z, y, cw, flipped, count, _ = _policy_data(pr, n, n_pool, range(8), tau,
                                                              "signed", False, noise)
    z, cw, teacher = np.asarray(z), np.asarray(cw), teacher
    jp = np.asarray(teacher.Jp) / math.sqrt(n)
    p = np.einsum("brn,bn->br", z * math.sqrt(n), jp)
    keep = cw > 0
    p2 = (p ** 2)[keep]
    # theory: density ~ phi(p) [P(y=+1|p) pi(p) + P(y=-1|p) pi(-p)]
    k = S.threshold("hard", 0.3, tau, "signed", noise, pr.theta)
    x = np.linspace(-9, 9, 200001)
    lp = S.label_plus(x, math.cos(pr.theta), math.sin(pr.theta), noise)
    dens = np.exp(-x * x / 2) * (lp * S.keep_prob("hard", x, k, tau, 0.3)
                                 + (1 - lp) * S.keep_prob("hard", -x, k, tau, 0.3))
    ep2 = np.sum(dens * x * x) / np.sum(dens)
    assert abs(p2.mean() - ep2) < 4 * p2.std() / math.sqrt(p2.size), (p2.mean(), ep2)


def test_reweighting_a_random_selection_changes_nothing():
    """The same random (Bernoulli f) selection with and without 1/pi weights: weights 1 to
    rounding, and the same students."""
    pr = Pruning("random", 0.4)
    n, n_pool = 60, 300
    outs = []
    for rw in (False, True):
        _, _, teacher, z, y, cw, _, count, _ = _policy_data(pr, n, n_pool, [1, 2], 0.5,
                                                            "signed", rw, 0.1)
        with x64_context():
            w, a, _ = E._solve_block(z, y, 0.1, "ridge", np.int64(1), cw)
            eps = E._measure_block(teacher, z, y, w, a, 0.1, "ridge", n, cw)[0]
        outs.append((np.asarray(cw), np.asarray(eps), np.asarray(count)))
    assert np.array_equal(outs[0][2], outs[1][2])
    assert np.max(np.abs(outs[0][0] - outs[1][0])) < 1e-12
    assert np.max(np.abs(outs[0][1] - outs[1][1])) < 1e-10


@pytest.mark.parametrize("kw,needle", [
    ({"softness": -1.0}, "softness must be in [0, 10]"),
    ({"softness": 10.5}, "softness must be in [0, 10]"),
    ({"softness": float("inf")}, "softness must be finite"),
    ({"metric": "el2n"}, "metric must be one of abs, signed"),
    ({"reweight": "yes"}, "reweight must be a bool"),
    ({"softness": 0.3, "mode": "materialize"}, "mode must be pool or direct"),
])
def test_bad_policy_input_is_one_line(kw, needle):
    with pytest.raises(InputError) as exc:
        sims.simulate(Pruning("hard", 0.3), alpha_prune=2.0, n=50, seeds=2, learner="ridge", lam=1.0, **kw)
    msg = str(exc.value)
    assert needle in msg and "\n" not in msg


# ---------------------------------------------------------------- theory against simulation

def _z_score(learner, rule, f, alpha, lam, noise, theta, tau, metric, rw, n, students, seed,
             mode="pool"):
    th = solve(rule, f, alpha, theta_deg=theta, learner=learner, lam=lam, noise=noise,
                   softness=tau, metric=metric, reweight=rw, strict=True)
    res = sims.simulate(Pruning(rule, f, theta), alpha_prune=alpha, n=n, seeds=students, learner=learner, lam=lam,
                         noise=noise, softness=tau, metric=metric, reweight=rw, seed=seed,
                         mode=mode, progress=False)
    assert res.n_flagged == 0, res.eps_err
    return (res.eps_mean - float(th.eps)) / res.eps_sem, res, float(th.eps)


def test_theory_against_simulation_soft_keep_hard_ridge_n400():
    """Soft keep-hard by |p| (tau = 0.3), the fast default check."""
    t0 = time.perf_counter()
    z, res, th = _z_score("ridge", "hard", 0.3, 2.0, 0.1, 0.1, 0.0, 0.3, "abs", False, 400, 16,
                          21)
    print(f"soft keep-hard ridge: theory {th:.6f} sim {res.eps_mean:.6f} +- "
          f"{res.eps_sem:.6f} z {z:.2f} ({time.perf_counter() - t0:.1f} s)")
    assert abs(z) < 3.5, (res.eps_mean, res.eps_sem, th)
    s = res.summary()  # the summary carries the policy
    assert s["softness"] == 0.3 and s["metric"] == "abs" and s["reweight"] is False
    assert s["n_flagged"] == 0 and s["kept_mean"] == pytest.approx(np.mean(res.kept))
    assert abs(s["kept_mean"] - 0.3 * res.n_pool) < 5 * math.sqrt(0.21 * res.n_pool / 16)


@pytest.mark.slow
@pytest.mark.parametrize("learner,rule,f,alpha,lam,noise,theta,tau,metric,rw,mode", [
    ("logistic", "hard", 0.3, 2.0, 0.1, 0.1, 10.0, 0.3, "abs", False, "pool"),
    ("logistic", "hard", 0.4, 2.0, 0.1, 0.1, 0.0, 0.0, "signed", False, "pool"),
    ("ridge", "hard", 0.3, 2.0, 0.05, 0.1, 15.0, 0.2, "signed", False, "direct"),
    ("hinge", "easy", 0.4, 2.5, 0.05, 0.1, 10.0, 0.3, "abs", True, "pool"),
    ("ridge", "easy", 0.3, 3.0, 0.1, 0.2, 0.0, 0.5, "signed", True, "direct"),
])
def test_theory_against_simulation_policies_n400(learner, rule, f, alpha, lam, noise, theta,
                                                 tau, metric, rw, mode):
    z, res, th = _z_score(learner, rule, f, alpha, lam, noise, theta, tau, metric, rw, 400, 24,
                          31, mode)
    print(f"{learner} {rule} tau={tau} {metric} rw={rw} {mode}: theory {th:.6f} sim "
          f"{res.eps_mean:.6f} +- {res.eps_sem:.6f} z {z:.2f}")
    assert abs(z) < 3.5, (res.eps_mean, res.eps_sem, th)


@pytest.mark.slow
@pytest.mark.parametrize("learner,rule,f,alpha,lam,noise,theta,tau,metric,rw,mode", [
    ("hinge", "hard", 0.3, 2.0, 0.05, 0.1, 0.0, 0.0, "signed", False, "pool"),
    ("logistic", "easy", 0.5, 2.0, 0.05, 0.2, 20.0, 1.0, "signed", True, "pool"),
])
def test_theory_against_simulation_policies_n800(learner, rule, f, alpha, lam, noise, theta,
                                                 tau, metric, rw, mode):
    z, res, th = _z_score(learner, rule, f, alpha, lam, noise, theta, tau, metric, rw, 800, 24,
                          41, mode)
    print(f"{learner} {rule} tau={tau} {metric} rw={rw} {mode} N=800: theory {th:.6f} sim "
          f"{res.eps_mean:.6f} +- {res.eps_sem:.6f} z {z:.2f}")
    assert abs(z) < 3.5, (res.eps_mean, res.eps_sem, th)
