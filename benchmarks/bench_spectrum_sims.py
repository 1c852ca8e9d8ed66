"""Cost of a covariance spectrum in the simulator, relative to isotropic inputs.

Runs, in one process, the same students (keep-hard ``f = 0.5``, ``alpha_prune = 2``,
``theta = 30`` degrees) with isotropic inputs at ``N`` and with the spectrum ``power:A:N``
(``A = 1``, teacher decay ``B = 2``; the isotropic draws mapped by ``Sigma^(1/2) H``,
:mod:`prunescale.sims.spectrum`), each once to compile and once timed, and prints the seconds
and the ratio to the isotropic run, for max-margin, ridge, logistic and hinge students.

Usage: ``python benchmarks/bench_spectrum_sims.py [--n 400] [--seeds 16] [--exponent 1]``.
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
    ap.add_argument("--exponent", type=float, default=1.0)
    args = ap.parse_args(argv)
    base = dict(rule="hard", f=0.5, alpha_prune=2.0, theta_deg=30.0, seeds=args.seeds)
    spec = f"power:{args.exponent:g}:{args.n}"
    for learner in (dict(learner="max-margin"), dict(learner="ridge", lam=0.01),
                    dict(learner="logistic", lam=0.01), dict(learner="hinge", lam=0.01)):
        t_iso, r_iso = timed(**base, **learner, n=args.n)
        t, r = timed(**base, **learner, spectrum=spec, teacher_decay=2.0)
        print(f"{learner['learner']:>10} N={args.n}: isotropic {t_iso:7.2f} s (eps "
              f"{r_iso.eps_mean:.4f}); {spec} B=2 {t:7.2f} s (eps {r.eps_mean:.4f}, "
              f"{r.n_flagged} flagged); ratio {t / t_iso:5.2f}")


if __name__ == "__main__":
    main()
