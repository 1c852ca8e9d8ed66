"""Cost of the ERM theory away from its base case: probe angle, soft selection, logistic grid.

For each regularized learner (keep-hard, lam = 0.1, label noise eta = 0.1), all in one process:

* a ``--size`` x ``--size`` grid (default 30 x 30) of f in 0.1..1 and alpha_prune in 0.3..10 at
  ``theta = 0`` and at ``theta = 20`` deg, and their ratio (target: at most 10);
* a ``--soft-size`` grid (default 20 x 20) at ``theta = 0``, sharp and with softness 0.5 (the
  ``hard`` policy ``sigmoid((k - |p|)/0.5)``), and their ratio (target: at most 5);
* the logistic base case, a ``--base-size`` grid (default 50 x 50) at ``theta = 0``
  (target: under 10 s);
* the teaching app's regularized learning curve (logistic, lam 0.01, eta 0.1, keep-hard,
  f = 0.2, :func:`app.compute.erm_curve` with its caches cleared) at ``theta = 0``, at
  ``theta = 20`` and with softness 0.5 (target: each under 2 s);

with the number of certified points of each grid (every point should be). Quick run:
``python benchmarks/bench_erm_grid.py --size 8 --soft-size 6 --base-size 10``.
Set ``OPENBLAS_NUM_THREADS=1`` on a shared machine. Each line also prints the process's CPU
seconds: on a machine shared with other jobs the wall time includes waiting for a core.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from prunescale import theory  # noqa: E402

LEARNERS = ("ridge", "logistic", "hinge")


def grid(n):
    return np.linspace(0.1, 1.0, n)[:, None], np.geomspace(0.3, 10.0, n)[None, :]


def timed(learner, n, **kw):
    f, a = grid(n)
    t0, c0 = time.perf_counter(), time.process_time()
    r = theory.solve("hard", f, a, learner=learner, lam=0.1, noise=0.1, **kw)
    dt = time.perf_counter() - t0
    _CPU.append(time.process_time() - c0)
    return dt, int(np.asarray(r.converged).sum()), n * n


#: CPU seconds of each timed solve (on a shared machine the wall time also counts waiting)
_CPU: list = []


def cpu():
    return f" cpu {_CPU[-1]:6.2f}s"


def app_curves():
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    from app import compute

    out = []
    for label, kw in (("theta 0", {}), ("theta 20", {"theta_deg": 20.0}),
                      ("softness 0.5", {"softness": 0.5})):
        compute.clear_caches()
        t0, c0 = time.perf_counter(), time.process_time()
        c = compute.erm_curve("logistic", "hard", 0.2, lam=0.01, noise=0.1, **kw)
        out.append((label, time.perf_counter() - t0, int(np.sum(c.converged)), len(c.eps)))
        _CPU.append(time.process_time() - c0)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=30, help="theta grids: size x size")
    ap.add_argument("--soft-size", type=int, default=20, help="soft grids: n x n")
    ap.add_argument("--base-size", type=int, default=50, help="logistic base case: n x n")
    ap.add_argument("--learners", default=",".join(LEARNERS))
    ap.add_argument("--no-app", action="store_true", help="skip the app's learning curves")
    args = ap.parse_args(argv)
    learners = [s for s in args.learners.split(",") if s]
    theory.solve("hard", 0.5, 1.0, theta_deg=20.0, learner="ridge", lam=0.1)  # imports
    n, m = args.size, args.soft_size
    print(f"{'learner':9s} {'grid':>22s} {'time':>9s} {'certified':>11s}")
    for L in learners:
        t0, c0, n0 = timed(L, n)
        t20, c20, n20 = timed(L, n, theta_deg=20.0)
        ts, cs, ns = timed(L, m)
        tf, cf, nf = timed(L, m, softness=0.5)
        c = _CPU[-4:]
        print(f"{L:9s} {f'{n}x{n} theta 0':>22s} {t0:8.2f}s {c0:5d}/{n0:<5d} cpu {c[0]:6.2f}s")
        print(f"{L:9s} {f'{n}x{n} theta 20':>22s} {t20:8.2f}s {c20:5d}/{n20:<5d} cpu {c[1]:6.2f}s"
              f"  ratio {t20 / t0:5.2f} (cpu {c[1] / c[0]:5.2f}; target <= 10)")
        print(f"{L:9s} {f'{m}x{m} sharp':>22s} {ts:8.2f}s {cs:5d}/{ns:<5d} cpu {c[2]:6.2f}s")
        print(f"{L:9s} {f'{m}x{m} softness 0.5':>22s} {tf:8.2f}s {cf:5d}/{nf:<5d} cpu {c[3]:6.2f}s"
              f"  ratio {tf / ts:5.2f} (cpu {c[3] / c[2]:5.2f}; target <= 5)")
    if "logistic" in learners:
        b = args.base_size
        tb, cb, nb = timed("logistic", b)
        print(f"{'logistic':9s} {f'{b}x{b} theta 0 (base)':>22s} {tb:8.2f}s {cb:5d}/{nb:<5d}"
              + cpu() + "  (target < 10 s at 50x50)")
    if not args.no_app:
        curves = app_curves()
        for (label, dt, c, k), cp in zip(curves, _CPU[-len(curves):]):
            print(f"{'app':9s} {'logistic curve ' + label:>22s} {dt:8.2f}s {c:5d}/{k:<5d}"
                  f" cpu {cp:6.2f}s  (target < 2 s)")


if __name__ == "__main__":
    main()
