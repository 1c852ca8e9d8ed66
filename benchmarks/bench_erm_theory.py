"""Speed of the ERM theory on a 50 x 50 grid, against a straightforward per-point solve.

For each learner (ridge, logistic, hinge; lam = 0.1, label noise eta = 0.1, keep-hard,
theta = 0): :func:`prunescale.theory.solve` on a 50 x 50 grid of (f in 0.1..1,
alpha_prune in 0.3..10), every point certified, against the textbook route run in the same
process: per point, the damped fixed-point iteration of the saddle-point equations

    Vhat = -alpha E[df], qhat = alpha E[f^2], V = 1/(lam + Vhat), tau = sqrt(qhat) V,
    m <- (alpha E[f t] + Vhat m) / (lam + Vhat)

with every expectation a nested adaptive QUADPACK integral (``scipy.integrate.quad``: the kept
probe field ``p`` outside, the Gaussian ``xi`` inside, split at the loss's kinks), iterated
until the state moves by less than 1e-10. The baseline also checks the fast engine: its eps
must agree with the grid's certified value to 1e-6 at the timed points.

Run on a quiet machine: ``python benchmarks/bench_erm_theory.py [--points 2]``.
"""

from __future__ import annotations

import argparse
import math
import os
import time

import numpy as np
from scipy import integrate, stats

from prunescale.theory import kept_range
from prunescale.theory._erm_prox import prox

LAM, ETA, RULE = 0.1, 0.1, "hard"


def _expect(g, lo, hi, kinks):
    """``E[g(p, xi)]`` over the kept half-law ``p ~ phi`` on ``[lo, hi]`` and ``xi ~ N(0,1)``."""
    norm = stats.norm.cdf(hi) - stats.norm.cdf(lo)

    def inner(p):
        pts = sorted(k for k in kinks(p) if -12 < k < 12)
        return integrate.quad(lambda x: g(p, x) * math.exp(-x * x / 2) / math.sqrt(2 * math.pi),
                              -12, 12, points=pts or None, limit=200, epsabs=1e-13,
                              epsrel=1e-11)[0]

    top = min(hi, lo + 12.0)
    val = integrate.quad(lambda p: inner(p) * math.exp(-p * p / 2) / math.sqrt(2 * math.pi),
                         lo, top, limit=200, epsabs=1e-13, epsrel=1e-11)[0]
    return val / norm


def baseline_point(learner, f, alpha, tol=1e-10, max_iter=2000, damping=0.5):
    """Per-point damped fixed-point iteration with nested QUADPACK expectations (theta = 0)."""
    lo, hi = (float(x) for x in kept_range(RULE, f))
    m, tau, V = 0.5, 0.5, 1.0
    for it in range(max_iter):
        def parts(p, x, V=V, m=m, tau=tau):
            om = m * p + tau * x
            out = np.zeros(3)
            for y, w in ((1.0, 1.0 - ETA), (-1.0, ETA)):
                _, fv, dfv, _ = prox(learner, y, om, V)
                out += w * np.array([float(fv) * p, float(fv) ** 2, float(dfv)])
            return out

        def kinks(p, V=V, m=m, tau=tau):
            if learner != "hinge" or tau <= 0:
                return []
            return [(s * k - m * p) / tau for s in (1, -1) for k in (1.0, 1.0 - V)]

        ft, f2, df = (_expect(lambda p, x, i=i: parts(p, x)[i], lo, hi, kinks)
                      for i in range(3))
        vh, qh = -alpha * df, alpha * f2
        Vn = 1.0 / (LAM + vh)
        new = np.array([(alpha * ft + vh * m) / (LAM + vh), math.sqrt(max(qh, 0.0)) * Vn, Vn])
        old = np.array([m, tau, V])
        if np.max(np.abs(new - old)) < tol:
            m, tau, V = new
            break
        m, tau, V = (1 - damping) * old + damping * new
    R = m / math.hypot(m, tau)
    return math.acos(max(-1.0, min(1.0, R))) / math.pi, it + 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=2, help="baseline points per learner")
    args = ap.parse_args()
    from prunescale.theory import solve

    print(f"load average before: {os.getloadavg()}")
    F, A = np.meshgrid(np.linspace(0.1, 1.0, 50), np.geomspace(0.3, 10.0, 50), indexing="ij")
    for learner in ("ridge", "logistic", "hinge"):
        solve(RULE, 0.5, 1.0, learner=learner, lam=LAM, noise=ETA)  # warm imports
        t0 = time.perf_counter()
        r = solve(RULE, F, A, learner=learner, lam=LAM, noise=ETA)
        grid_s = time.perf_counter() - t0
        picks = [(24, 24), (10, 40), (45, 5), (30, 12)][:args.points]
        per, worst, its = 0.0, 0.0, []
        for i, j in picks:
            t0 = time.perf_counter()
            eps_b, it = baseline_point(learner, float(F[i, j]), float(A[i, j]))
            per += time.perf_counter() - t0
            its.append(it)
            worst = max(worst, abs(eps_b - float(r.eps[i, j])))
        per /= len(picks)
        print(f"{learner:8s}: grid 50x50 {grid_s:.2f} s ({int(r.converged.sum())}/2500 certified, "
              f"max eps_bound {np.nanmax(r.eps_bound):.1e}); baseline {per:.1f} s/point "
              f"({its} iterations) -> {per * F.size / grid_s:.3g}x; |eps_grid - eps_baseline| "
              f"<= {worst:.1e}", flush=True)
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
