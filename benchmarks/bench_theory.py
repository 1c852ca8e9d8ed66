"""Benchmark of the replica-theory solver against a straightforward per-point solve.

Run ``python benchmarks/bench_theory.py`` (a script, not a test). In one run it

1. times the two reference CLI commands through a subprocess, Python start-up and JSON output
   included (best of ``--repeat`` runs), and checks that every point is certified;
2. times :func:`theory.reference.solve_reference` (bisection on ``kappa`` around a nested scipy
   maximisation of ``A``; at ``theta = 0`` with adaptive QUADPACK expectations, the
   straightforward choice; at ``theta = 20`` with this package's own fast quadrature, since a
   QUADPACK double integral per evaluation would take hours, so that ratio is conservative)
   on a few points of each grid, extrapolates that per-point time to the
   whole grid, and prints the ratio to the CLI time (targets: >= 10,000x at ``theta = 0`` and
   >= 1,000x at ``theta = 20``) with the per-point agreement of ``eps`` and ``kappa``;
3. prints the same ratio against the in-process :func:`~prunescale.theory.solve` of the grid
   (no start-up, imports or JSON), the solver's own speed-up.

Targets on 2 cores: the ``theta = 0`` grid (10,000 points) in <= 2 s, the ``theta = 20`` grid
(2,500 points) in <= 15 s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np

GRIDS = {
    "theta=0": {"f": (0.02, 1.0, 100), "alpha": (0.2, 20.0, 100), "theta": 0.0,
                "target_s": 2.0, "target_ratio": 1e4, "ref_idx": [(10, 10), (50, 30), (90, 90)],
                "k_tol": 1e-10, "expectation": "scipy"},
    "theta=20": {"f": (0.02, 1.0, 50), "alpha": (0.2, 20.0, 50), "theta": 20.0,
                 "target_s": 15.0, "target_ratio": 1e3, "ref_idx": [(25, 12)], "k_tol": 1e-6,
                 "expectation": "quadrature"},
}


def _cli() -> list[str]:
    exe = shutil.which("prunescale", path=os.path.dirname(sys.executable))
    return [exe] if exe else [sys.executable, "-m", "prunescale.cli"]


def _span(lo_hi_n) -> str:
    lo, hi, n = lo_hi_n
    return f"{lo:g}:{hi:g}:{n}"


def time_cli(grid: dict, repeat: int):
    """Best wall time of the CLI over ``repeat`` runs, and its records (last run)."""
    args = _cli() + ["theory", "--rule", "hard", "--f", _span(grid["f"]), "--alpha-prune",
                     _span(grid["alpha"]), "--json"]
    if grid["theta"]:
        args += ["--theta-deg", f"{grid['theta']:g}"]
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = subprocess.run(args, capture_output=True, text=True, check=False)
        best = min(best, time.perf_counter() - t0)
        if out.returncode not in (0, 1):
            raise SystemExit(f"CLI failed: {' '.join(args)}\n{out.stderr}")
    return best, json.loads(out.stdout), " ".join(args[len(_cli()):])


def time_in_process(grid: dict, repeat: int) -> float:
    """Best wall time of :func:`prunescale.theory.solve` on the grid inside this process (no
    start-up, imports or JSON): the solver's own share of the CLI time."""
    from prunescale.theory import solve

    f = np.linspace(*grid["f"])
    a = np.linspace(*grid["alpha"])
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        solve("hard", f[:, None], alpha_prune=a[None, :], theta_deg=grid["theta"])
        best = min(best, time.perf_counter() - t0)
    return best


def time_reference(grid: dict, recs: list[dict]):
    """Per-point reference solves; returns mean seconds per point and the worst disagreements."""
    from prunescale.theory import Pruning
    from prunescale.theory.reference import solve_reference

    n_alpha = grid["alpha"][2]
    times, d_eps, d_kappa = [], [], []
    for i, j in grid["ref_idx"]:
        rec = recs[i * n_alpha + j]
        t0 = time.perf_counter()
        ref = solve_reference(Pruning("hard", rec["f"], grid["theta"]), rec["alpha_prune"],
                              k_tol=grid["k_tol"], expectation=grid["expectation"])
        times.append(time.perf_counter() - t0)
        d_eps.append(abs(ref.eps - rec["eps"]))
        d_kappa.append(abs(ref.kappa - rec["kappa"]))
        print(f"  reference f={rec['f']:.4g} alpha_prune={rec['alpha_prune']:.4g} "
              f"theta={grid['theta']:g}: {times[-1]:.2f} s, eps {ref.eps:.8f} vs {rec['eps']:.8f}"
              f" (|d| {d_eps[-1]:.1e}), kappa |d| {d_kappa[-1]:.1e}", flush=True)
    return float(np.mean(times)), max(d_eps), max(d_kappa)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="CLI runs per grid (best is kept)")
    ap.add_argument("--no-reference", action="store_true", help="skip the reference timings")
    ap.add_argument("--grid", choices=sorted(GRIDS), action="append",
                    help="only this grid (repeatable; default: all)")
    args = ap.parse_args(argv)

    rows, ok = [], True
    for name, grid in GRIDS.items():
        if args.grid and name not in args.grid:
            continue
        wall, recs, cmd = time_cli(grid, args.repeat)
        solve_s = time_in_process(grid, args.repeat)
        n = len(recs)
        certified = sum(r["converged"] for r in recs)
        print(f"{name}: prunescale {cmd}\n  {n} points, {certified} certified, best of "
              f"{args.repeat}: {wall:.2f} s (target {grid['target_s']:g} s); in-process solve "
              f"{solve_s:.2f} s", flush=True)
        ratio, ratio_solve, d_eps, d_kappa = np.nan, np.nan, np.nan, np.nan
        if not args.no_reference:
            per_point, d_eps, d_kappa = time_reference(grid, recs)
            ratio = per_point * n / wall
            ratio_solve = per_point * n / solve_s
        ok &= certified == n and wall <= grid["target_s"]
        if not args.no_reference:
            ok &= ratio >= grid["target_ratio"]
        rows.append((name, n, certified, wall, grid["target_s"], ratio, grid["target_ratio"],
                     solve_s, ratio_solve, d_eps, d_kappa))

    print()
    print(f"{'grid':<9} {'points':>6} {'certified':>9} {'CLI s':>7} {'target':>6} "
          f"{'ref/CLI':>9} {'target':>7} {'solve s':>7} {'ref/solve':>9} {'max|d eps|':>10} "
          f"{'max|d kappa|':>12}")
    for name, n, c, wall, ts, ratio, tr, ss, rs, de, dk in rows:
        print(f"{name:<9} {n:>6} {c:>9} {wall:>7.2f} {ts:>6g} {ratio:>9.3g} {tr:>7g} {ss:>7.2f} "
              f"{rs:>9.3g} {de:>10.1e} {dk:>12.1e}")
    print("all targets met" if ok else "some target missed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
