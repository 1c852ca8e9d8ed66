"""Cost of the spiked prototype probe in the simulator, relative to the isotropic fixed probe.

Runs, in one process, the same students (keep-hard ``f = 0.5``, ``alpha_tot = 4``) with
isotropic inputs and a fixed probe, and with spiked inputs (``snr = 4``) and the prototype
probe (eigenvector of an independent sample of ``alpha_ssl N = alpha_tot N`` inputs, and the
2-means variant), each once to compile and once timed, and prints the seconds and the ratio
to the isotropic run, for max-margin and ridge students.

Usage: ``python benchmarks/bench_spiked_sims.py [--n 400] [--seeds 16]``.
"""

from __future__ import annotations

import argparse
import time


def timed(**kw):
    from prunescale import sims

    sims.simulate(**kw, progress=False)  # compile
    t0 = time.perf_counter()
    r = sims.simulate(**kw, progress=False)
    return time.perf_counter() - t0, r


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=400)
    ap.add_argument("--seeds", type=int, default=16)
    args = ap.parse_args(argv)
    base = dict(rule="hard", f=0.5, alpha_tot=4.0, n=args.n, seeds=args.seeds)
    for learner in (dict(learner="max-margin"), dict(learner="ridge", lam=0.1)):
        t_iso, r_iso = timed(**base, **learner)
        print(f"{learner['learner']:>10} N={args.n} isotropic fixed probe: {t_iso:7.2f} s "
              f"eps {r_iso.eps_mean:.4f}")
        for method in ("eigen", "kmeans"):
            t, r = timed(**base, **learner, snr=4.0, probe="prototype",
                         prototype_method=method)
            print(f"{learner['learner']:>10} N={args.n} spiked prototype ({method}): {t:7.2f} s "
                  f"ratio {t / t_iso:5.2f}  eps {r.eps_mean:.4f}  angle "
                  f"{r.probe_deg_mean:.2f} deg")


if __name__ == "__main__":
    main()
