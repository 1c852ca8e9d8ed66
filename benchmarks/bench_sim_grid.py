"""Cold-start cost of simulated grids: one compilation per shape bucket, not per configuration.

Every ``prunescale sim`` run here is a subprocess given a fresh, empty compilation cache
folder (``PRUNESCALE_CACHE=<new temporary folder>``, the variable :mod:`prunescale.sims.sweep`
reads): a new user's first run. Timed, whole command incl. Python start-up and the theory:

1. a 6 x 6 keep-hard grid (``--f 0.3..0.8`` x ``--alpha-prune 1..3.5``, N = 50, 2 students
   each: 72 students) against one configuration (f = 0.5, alpha_prune = 2) of 72 students;
   printed: both times and their ratio (target: at most 4);
2. the cold first run of 64 keep-hard students (f = 0.2, alpha_prune = 3, N = 200) against
   liblinear (``LinearSVC(loss="hinge", fit_intercept=False, C=1e4, max_iter=1e5)`` on the
   same students' kept data, ``fit`` only, as in ``benchmarks/bench_sims.py``); printed: the
   ratio of students per second (target: at least 100).

``--learner`` also times the grid for a regularized learner (``--lam 0.1``). ``--quick``: one
liblinear fit and one repetition (default: 3 fits, best of 2 repetitions of each command).
Usage: ``python benchmarks/bench_sim_grid.py [--quick] [--learner hinge]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

GRID = ["--rule", "hard", "--f", "0.3,0.4,0.5,0.6,0.7,0.8",
        "--alpha-prune", "1,1.5,2,2.5,3,3.5", "--n", "50", "--seeds", "2"]
ONE = ["--rule", "hard", "--f", "0.5", "--alpha-prune", "2", "--n", "50", "--seeds", "72"]
BIG = ["--rule", "hard", "--f", "0.2", "--alpha-prune", "3", "--n", "200", "--seeds", "64"]


def cold(args: list[str]) -> float:
    """Seconds of ``prunescale sim ARGS --json --quiet`` with a new, empty compilation cache."""
    cache = tempfile.mkdtemp(prefix="prunescale-cold-")
    env = dict(os.environ, PRUNESCALE_CACHE=cache)
    cmd = [sys.executable, "-m", "prunescale.cli", "sim", *args, "--json", "--quiet"]
    try:
        t0 = time.perf_counter()
        p = subprocess.run(cmd, capture_output=True, text=True, env=env)
        dt = time.perf_counter() - t0
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    if p.returncode not in (0, 1):  # 1: a theory point or student flagged (reported below)
        raise SystemExit(p.stderr)
    if p.returncode:
        print(f"  note: exit 1: {p.stderr.strip()[:200]}", flush=True)
    return dt


def best(args, reps):
    return min(cold(args) for _ in range(reps))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--learner", default=None,
                    help="also time the grid for this regularized learner (lam 0.1)")
    ap.add_argument("--ll-max-iter", type=int, default=100_000)
    a = ap.parse_args()
    reps = 1 if a.quick else 2
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from bench_sims import liblinear

    rows = [("max-margin", [])]
    if a.learner:
        rows.append((a.learner, ["--learner", a.learner, "--lam", "0.1"]))
    for name, extra in rows:
        t_one = best(ONE + extra, reps)
        t_grid = best(GRID + extra, reps)
        print(f"{name}: 6 x 6 grid (72 students) {t_grid:.2f} s, one configuration of 72 "
              f"students {t_one:.2f} s, ratio {t_grid / t_one:.2f} (target <= 4); cold cache, "
              "CLI incl. start-up", flush=True)
    t_big = best(BIG, reps)
    fits = 1 if a.quick else 3
    t_ll, _ = liblinear("hard", 0.2, 3.0, 200, fits, 0, a.ll_max_iter)
    ratio = (64 / t_big) * t_ll
    print(f"64 students, keep-hard f = 0.2, alpha_prune = 3, N = 200: {t_big:.2f} s cold "
          f"({64 / t_big:.1f} students/s); liblinear {t_ll:.2f} s per student "
          f"({fits} fits): ratio {ratio:.0f}x (target >= 100x)", flush=True)


if __name__ == "__main__":
    main()
