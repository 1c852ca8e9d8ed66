"""The simulator against an independent exact solver, its certificate's honesty, and its
float64 without global side effects."""

import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from prunescale import sims
from prunescale.sims.certify import relative_gap
from prunescale.sims.prune import pool_size
from prunescale.theory import Pruning


@pytest.mark.parametrize("rule,f,alpha,theta,n", [
    ("hard", 0.5, 2.0, 0.0, 40),
    ("easy", 0.4, 1.5, 20.0, 30),
    ("random", 1.0, 1.2, 0.0, 50),
])
def test_simulated_student_equals_exact_solution(rule, f, alpha, theta, n, exact_max_margin):
    pr = Pruning(rule, f, theta)
    seed, student = 3, 1
    # a tight certified gap (1e-12) makes the simulator's student exact to rounding
    res = sims.simulate(pr, alpha_prune=alpha, n=n, seeds=[student], seed=seed, progress=False, tol=1e-12)
    assert not res.flagged.any()
    loose = sims.simulate(pr, alpha_prune=alpha, n=n, seeds=[student], seed=seed, progress=False)  # default 1e-6
    key = jax.random.fold_in(jax.random.key(seed), student)
    teacher, ex = sims.sample_kept(key, pr, n, pool_size(n, alpha / f), "pool")
    x, y = np.asarray(ex.x), np.asarray(ex.y)
    T, T2 = np.asarray(teacher.T), np.asarray(teacher.T2)
    w = exact_max_margin(y[:, None] * x / np.sqrt(n))
    nw = np.linalg.norm(w)
    R = w @ T / (nw * np.linalg.norm(T))
    S = w @ T2 / (nw * np.linalg.norm(T2)) if np.linalg.norm(T2) > 0 else 0.0
    kappa = np.min(y * (x @ w)) / nw
    for name, want in (("R", R), ("S", S), ("kappa", kappa), ("eps", np.arccos(R) / np.pi)):
        got = float(getattr(res, name)[0])
        assert abs(got - want) <= 1e-8 * max(1.0, abs(want)), (name, got, want)
    # at the default gap the error of eps stays inside the student's own certified bound
    assert abs(float(loose.eps[0]) - np.arccos(R) / np.pi) <= float(loose.eps_err[0])
    # the exact solution really is the max margin: its own certificate closes the gap
    assert float(sims.certify(jnp.asarray(y[:, None] * x), jnp.asarray(w),
                              jnp.zeros(x.shape[0])).kappa) == pytest.approx(kappa, rel=1e-12)


def test_dual_above_primal_is_inconsistent_not_certified():
    gap, ok = relative_gap(jnp.asarray([1.0, 1.0, 1.0, jnp.inf]),
                           jnp.asarray([0.9, 1.0 + 1e-13, 1.01, 0.5]))
    np.testing.assert_allclose(np.asarray(gap)[:2], [0.1, 0.0], atol=1e-15)
    assert np.isinf(np.asarray(gap)[2]) and not bool(ok[2])  # impossible: reported, not 0
    assert np.isinf(np.asarray(gap)[3]) and bool(ok[0]) and bool(ok[1])


def test_import_leaves_jax_x64_flag_alone_and_still_computes_in_float64():
    code = (
        "import jax\n"
        "import prunescale.sims as s\n"
        "from prunescale.theory import Pruning\n"
        "assert not jax.config.jax_enable_x64\n"
        "r = s.simulate(Pruning('hard', 0.5), alpha_prune=2.0, n=20, seeds=2, seed=0, progress=False)\n"
        "assert r.eps.dtype.name == 'float64' and r.gap.max() <= 1e-6, (r.eps.dtype, r.gap)\n"
        "assert not jax.config.jax_enable_x64\n"
        "import jax.numpy as jnp\n"
        "assert jnp.ones(1).dtype.name == 'float32'\n"
        "print('ok')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, env={**__import__("os").environ, "JAX_ENABLE_X64": "0"})
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]


def test_unrealisable_configuration_is_refused():
    from prunescale.errors import InputError

    with pytest.raises(InputError, match="alpha_tot \\* N"):
        sims.simulate(Pruning("hard", 0.2), alpha_prune=0.001, n=50, seeds=2, progress=False)
    with pytest.raises(InputError, match="realises f"):
        sims.simulate(Pruning("hard", 0.2), alpha_prune=0.03, n=50, seeds=2, progress=False)  # pool 8, kept 2


def test_run_that_cannot_fit_in_memory_is_refused():
    from prunescale.errors import InputError
    from prunescale.sims import run

    with pytest.raises(InputError, match="GiB of memory"):
        sims.simulate(Pruning("hard", 0.2), alpha_prune=3.0, n=100_000, seeds=1, progress=False)
    need = run.estimate_memory(1000, 15000, 3000, 8, "pool")
    assert 8 * 8 * (6 * 3000 * 1000) < need < 2 * 8 * 8 * (6 * 3000 * 1000 + 4 * 1000**2)
    run.check_memory(need, available=need)  # exactly enough is fine
    with pytest.raises(InputError):
        run.check_memory(need, available=need - 1)
