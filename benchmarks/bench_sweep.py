"""Speed of a sweep on Dask: scaling with workers, engine overhead, students per second.

1. **Scaling.** The same sweep (keep-hard and keep-easy, f = 0.2, alpha_prune = 3, N = 200,
   ``--students`` students each, the default task size of 16 students) on an embedded
   ``LocalCluster`` of 1 and of 2 single-threaded workers, reached through its scheduler
   address (the ``--scheduler`` path), each worker warmed up first (imports, compilation).
   Wall time from the first submission to the last result;
   the ratio 1 worker / 2 workers (target >= 1.7).
2. **Engine overhead** at the default task size: ``1 - sum(task time inside the worker) /
   (workers x wall time)`` for each run above: the share of the workers' time not spent in
   tasks (scheduling, transfers, writing results, idling at the end).
3. **Students per second** at N = 200, 500, 1000 (keep-hard f = 0.2, alpha_prune = 3, i.e.
   P = 3N kept examples) in this process: our simulator (``simulate``, warm, all cores),
   scikit-learn's liblinear (``LinearSVC(loss="hinge", fit_intercept=False, C=1e4,
   max_iter=1e5)``, the baseline of ``bench_sims.py``) and Clarabel (interior-point conic
   solver, hard-margin QP ``min |w|^2 / 2  s.t.  y_i x_i . w >= 1`` through its Python API),
   on the same students' data; only the solver calls are timed for the baselines. The margin
   each reaches is printed beside ours (``kappa``; Clarabel's ``1 / |w|``).

Run on a quiet machine: ``python benchmarks/bench_sweep.py [--students 128] [--fits 1]``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings

import numpy as np


def sweep_runs(students: int):
    from prunescale.sims import sweep

    cfgs = [sweep.Config(rule, 0.2, 3.0, 15.0) for rule in ("hard", "easy")]
    out = {}
    for k in (1, 2):
        with sweep.local_cluster(k) as cluster:
            # warm-up: every worker imports the code and compiles (or loads) the programs
            warm = sweep.plan(cfgs, [200], 8 * k, 99, task_students=8)
            sweep.run(warm, scheduler=cluster.scheduler_address, progress=False)
            tasks = sweep.plan(cfgs, [200], students, k)  # another seed: nothing reused
            rep = sweep.run(tasks, scheduler=cluster.scheduler_address, progress=False)
        assert not rep.failed, rep.failed
        busy = sum(r["busy"] for r in rep.results)
        out[k] = dict(wall=rep.wall, busy=busy, tasks=len(tasks),
                      overhead=1.0 - busy / (k * rep.wall))
    return out


def simulator_rate(n: int, students: int):
    from prunescale import sims

    pr = sims.Pruning("hard", 0.2)
    sims.simulate(pr, alpha_prune=3.0, n=n, seeds=8, seed=123, progress=False)  # compile (and warm up)
    t0 = time.perf_counter()
    res = sims.simulate(pr, alpha_prune=3.0, n=n, seeds=students, seed=0, progress=False)
    dt = time.perf_counter() - t0
    assert res.n_flagged == 0
    return students / dt, res


def _data(n: int, i: int):
    import jax

    from prunescale import sims

    pr = sims.Pruning("hard", 0.2)
    _, ex = sims.sample_kept(jax.random.fold_in(jax.random.key(0), i), pr, n,
                             sims.pool_size(n, 15.0))
    return np.asarray(ex.x), np.asarray(ex.y)


def liblinear_rate(n: int, fits: int):
    from sklearn.svm import LinearSVC

    t, kap = 0.0, []
    for i in range(fits):
        x, y = _data(n, i)
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            w = LinearSVC(loss="hinge", fit_intercept=False, C=1e4,
                          max_iter=100_000).fit(x, y).coef_.ravel()
        t += time.perf_counter() - t0
        kap.append(float(np.min((y[:, None] * x) @ w) / np.linalg.norm(w)))
    return fits / t, kap


def clarabel_rate(n: int, fits: int):
    try:
        import clarabel
        from scipy import sparse
    except ImportError:
        return None, None
    t, kap = 0.0, []
    for i in range(fits):
        x, y = _data(n, i)
        z = y[:, None] * x
        P = sparse.identity(n, format="csc")
        A = sparse.csc_matrix(-z)
        b = -np.ones(z.shape[0])
        settings = clarabel.DefaultSettings()
        settings.verbose = False
        t0 = time.perf_counter()
        sol = clarabel.DefaultSolver(P, np.zeros(n), A, b,
                                     [clarabel.NonnegativeConeT(z.shape[0])], settings).solve()
        t += time.perf_counter() - t0
        w = np.asarray(sol.x)
        kap.append(float(np.min(z @ w) / np.linalg.norm(w)) if str(sol.status) == "Solved"
                   else float("nan"))
    return fits / t, kap


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--students", type=int, default=128,
                    help="students per configuration in the scaling sweep (default 128)")
    ap.add_argument("--fits", type=int, default=1, help="baseline fits per N (default 1)")
    ap.add_argument("--ns", default="200,500,1000", help="dimensions for part 3")
    ap.add_argument("--skip-sweep", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("PRUNESCALE_CACHE", tempfile.mkdtemp(prefix="prunescale-bench-"))
    print(f"load average before: {os.getloadavg()}; cores: {os.cpu_count()}")
    if not args.skip_sweep:
        r = sweep_runs(args.students)
        for k, v in r.items():
            print(f"sweep, {k} worker(s): {v['tasks']} tasks, wall {v['wall']:.2f} s, "
                  f"task time in workers "
                  f"{v['busy']:.2f} s, engine overhead {100 * v['overhead']:.1f} %")
        print(f"speed-up 1 -> 2 workers: {r[1]['wall'] / r[2]['wall']:.2f}x (target >= 1.7)")
    from prunescale.sims.sweep import enable_compile_cache

    enable_compile_cache()
    for n in (int(s) for s in args.ns.split(",")):
        ours, res = simulator_rate(n, 16 if n <= 200 else 8)
        ll, ll_k = liblinear_rate(n, args.fits)
        cl, cl_k = clarabel_rate(n, args.fits)
        line = (f"N={n} (P={res.n_kept}): prunescale {ours:.3g} students/s (kappa "
                f"{res.kappa[0]:.4f} for student 0); liblinear {ll:.3g}/s ({ours / ll:.0f}x, "
                f"kappa {ll_k[0]:.4f})")
        if cl is not None:
            line += f"; Clarabel {cl:.3g}/s ({ours / cl:.1f}x, kappa {cl_k[0]:.4f})"
        print(line, flush=True)
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
