"""Cost of spiked inputs in the theory: a spiked grid against the same grid at snr = 0.

For the max-margin student and ridge (lam = 0.1), keep-hard at ``theta = 0`` and at
``theta = 20`` deg (fixed probe), all in one process: a ``--size`` x ``--size`` grid (default
30 x 30) of f in 0.1..1 and alpha_prune in 0.3..10 at ``snr = 0`` (the isotropic engines) and at
``snr = --snr`` (default 4: the whitened angle and the anisotropic penalty), and their ratio
(target: at most 1.5), with the number of certified points of each grid (every point should
be); then the prototype probe (``alpha_ssl`` = the pool) on the same grid.

Quick run: ``python benchmarks/bench_spiked.py --size 8``. Set ``OPENBLAS_NUM_THREADS=1`` on a
shared machine. Each line also prints the process's CPU seconds: on a machine shared with
other jobs the wall time includes waiting for a core.
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
    ap.add_argument("--snr", type=float, default=4.0)
    args = ap.parse_args(argv)
    n = args.size
    F, AL = np.meshgrid(np.linspace(0.1, 1.0, n), np.geomspace(0.3, 10.0, n), indexing="ij")
    solve("hard", 0.5, 1.0, snr=1.0)  # imports and first-call costs outside the timings
    solve("hard", 0.5, 1.0, learner="ridge", lam=0.1, snr=1.0)
    for learner, lam in (("max-margin", None), ("ridge", 0.1)):
        for th in (0.0, 20.0):
            base = dict(rule="hard", f=F, alpha_prune=AL, theta_deg=th, learner=learner, lam=lam)
            r0, w0, c0 = _timed(**base)
            r1, w1, c1 = _timed(**base, snr=args.snr)
            print(f"{learner:<10} theta {th:4.0f}  {n}x{n}: snr 0 {w0:6.2f} s (cpu {c0:6.2f}, "
                  f"{int(r0.converged.sum())}/{r0.eps.size} certified)  snr {args.snr:g} "
                  f"{w1:6.2f} s (cpu {c1:6.2f}, {int(r1.converged.sum())}/{r1.eps.size})  "
                  f"ratio {w1 / w0:.2f} (cpu {c1 / c0:.2f})", flush=True)
        r2, w2, c2 = _timed(rule="hard", f=F, alpha_prune=AL, learner=learner, lam=lam,
                            snr=args.snr, probe="prototype")
        print(f"{learner:<10} prototype  {n}x{n}: snr {args.snr:g} {w2:6.2f} s (cpu {c2:6.2f}, "
              f"{int(r2.converged.sum())}/{r2.eps.size} certified)", flush=True)


if __name__ == "__main__":
    main()
