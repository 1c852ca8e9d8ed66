"""Benchmark: selection-policy theory grids against baselines run in the same process.

1. A sharp label-aware (``signed``) logistic grid at ``theta = 0``: the closed-form ``p``
   kernel per observed label against the general ``(p, z)`` rule on the same grid (what every
   other policy uses; agreement printed).
2. A soft-policy grid (``softness > 0``, ridge, hinge and logistic): one vectorized
   :func:`prunescale.theory.solve` call against solving the same points one at a
   time (the straightforward per-point loop, every point timed).
3. The max-margin student under the same soft policy: one vectorized
   :func:`prunescale.theory.solve` against a loop of single-point solves.

Usage: ``python benchmarks/bench_selection.py [--size 6]`` (grid ``size x size`` over pool
size and noise at ``f = 0.3``).
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def _timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=6)
    args = ap.parse_args(argv)
    from prunescale.theory import _erm_law as law
    from prunescale.theory import solve
    from prunescale.theory import solve

    n = args.size
    AT, E = np.meshgrid(np.geomspace(2.0, 50.0, n), np.linspace(0.0, 0.3, n), indexing="ij")
    kw = dict(learner="logistic", lam=0.01, noise=E, metric="signed")
    fast, t_fast = _timed(lambda: solve("hard", 0.3, alpha_tot=AT, **kw))
    orig = law.omega_kernel
    law.omega_kernel = lambda pts: False
    try:
        slow, t_slow = _timed(lambda: solve("hard", 0.3, alpha_tot=AT, **kw))
    finally:
        law.omega_kernel = orig
    diff = float(np.nanmax(np.abs(fast.eps - slow.eps)))
    print(f"sharp signed logistic {n}x{n}: kernel {t_fast:.2f} s, general rule {t_slow:.2f} s "
          f"-> {t_slow / t_fast:.1f}x; certified {int(fast.converged.sum())}/{fast.converged.size}; "
          f"max |eps difference| {diff:.1e}")
    for learner in ("ridge", "hinge", "logistic"):
        kw = dict(learner=learner, lam=0.1, softness=0.2)
        grid, t_grid = _timed(lambda: solve("hard", 0.3, alpha_tot=AT, noise=E, **kw))
        pts = list(zip(AT.ravel(), E.ravel()))  # every point of the grid
        _, t_loop = _timed(lambda: [solve("hard", 0.3, alpha_tot=a, noise=e, **kw)
                                    for a, e in pts])
        per = t_loop / len(pts)
        print(f"soft keep-hard {learner} {n}x{n}: grid {t_grid:.2f} s "
              f"({int(grid.converged.sum())}/{grid.converged.size} certified); one point at a time "
              f"{per:.2f} s/point ({len(pts)} timed) -> {per * grid.converged.size / t_grid:.1f}x")
    mm, t_mm = _timed(lambda: solve("hard", 0.3, alpha_tot=AT, noise=E * 0.3, softness=0.2))
    pts = list(zip(AT.ravel(), (E * 0.3).ravel()))
    _, t_loop = _timed(lambda: [solve("hard", 0.3, alpha_tot=a, noise=e, softness=0.2)
                                for a, e in pts])
    per = t_loop / len(pts)
    print(f"soft keep-hard max-margin {n}x{n} (noise <= 0.09): grid {t_mm:.2f} s "
          f"({int(mm.converged.sum())}/{mm.converged.size} certified); one point at a time {per:.2f} "
          f"s/point -> {per * mm.converged.size / t_mm:.1f}x")


if __name__ == "__main__":
    main()
