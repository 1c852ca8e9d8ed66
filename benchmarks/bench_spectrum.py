"""Cost of a covariance spectrum in the theory: a power-law grid against the isotropic grid.

For each learner (max-margin; ridge, logistic and hinge at ``lam = 0.01``), keep-hard at
``theta = 10`` deg: a ``--size`` x ``--size`` grid (default 30 x 30) of f in 0.1..1 and
alpha_tot in 0.05..20 with the spectrum ``power:--exponent:--dim`` (default ``power:1.5:1000``,
teacher decay 2: sums over ``D`` eigenvalues at every evaluation of the fixed point) and the same
grid with isotropic inputs (the engines' closed forms), all in one process; the ratio and the
number of certified points of each. Target: the spectrum grid under 30 s per learner on 2 cores.

Quick run: ``python benchmarks/bench_spectrum.py --size 8``. Each line also prints the
process's CPU seconds: on a machine shared with other jobs the wall time includes waiting for
a core.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from prunescale.theory import solve  # noqa: E402


def _timed(**kw):
    w, c = time.perf_counter(), time.process_time()
    r = solve(**kw)
    return r, time.perf_counter() - w, time.process_time() - c


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=30)
    ap.add_argument("--exponent", type=float, default=1.5)
    ap.add_argument("--dim", type=int, default=1000)
    ap.add_argument("--learners", default="max-margin,ridge,logistic,hinge")
    args = ap.parse_args(argv)
    n = args.size
    F, AT = np.meshgrid(np.linspace(0.1, 1.0, n), np.geomspace(0.05, 20.0, n), indexing="ij")
    spec = f"power:{args.exponent:g}:{args.dim}"
    solve("hard", 0.5, 1.0, learner="ridge", lam=0.1, spectrum=spec)  # first-call costs
    for learner in args.learners.split(","):
        lam = None if learner == "max-margin" else 0.01
        base = dict(rule="hard", f=F, alpha_tot=AT, theta_deg=10.0, learner=learner, lam=lam)
        r0, w0, c0 = _timed(**base)
        r1, w1, c1 = _timed(**base, spectrum=spec, teacher_decay=2.0)
        print(f"{learner:<10} {n}x{n}: isotropic {w0:6.2f} s (cpu {c0:6.2f}, "
              f"{int(r0.converged.sum())}/{r0.eps.size} certified)  {spec} {w1:6.2f} s "
              f"(cpu {c1:6.2f}, {int(r1.converged.sum())}/{r1.eps.size})  ratio "
              f"{w1 / w0:.2f} (cpu {c1 / c0:.2f})", flush=True)


if __name__ == "__main__":
    main()
