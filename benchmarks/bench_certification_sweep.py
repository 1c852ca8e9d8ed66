"""Certification sweep: many random points over the whole domain, every certified one cross-checked.

Run ``python benchmarks/bench_certification_sweep.py [--points N] [--n-ref M] [--seed S]``
(a script, not a test; ``tests/test_certification_sweep.py`` runs a smaller sweep).

Points: rule uniform in {hard, easy, random}, ``f`` log-uniform in [0.005, 1], ``alpha_prune``
log-uniform in [0.02, 200], ``theta`` uniform in [0, 80) degrees, and a quarter of the points
at exactly ``theta = 0``. They are solved with :func:`theory.solve` (vectorized, one call per
rule). Every point marked ``converged`` is then checked by methods that share neither its
continuation nor its default quadrature:

* ``refined``: :func:`theory.solve` again with every node count doubled
  (``Quadrature().refined(2)``); ``|eps - eps_refined|``.
* ``tensor`` (``theta > 0`` and pruned): the convex certificate of the returned point evaluated
  with the plain two-dimensional tensor Gauss-Legendre rule
  (:func:`theory._kept_law.nodes_theta_tensor`, split at the label flip and the kinks) instead of
  the solver's closed-form ``v`` integral, at a different node count. Its ``eps_bound`` bounds
  ``|eps - eps*|`` for the exact solution ``eps*`` of that independent discretisation.
* ``reference`` (``theta = 0``, random, or ``f = 1``, on ``--n-ref`` points):
  :func:`theory.reference.solve_reference` with ``expectation="scipy"`` (bisection on ``kappa``
  around a global maximisation of ``A`` with adaptive QUADPACK expectations, ~1 s per point).

A *disagreement* is a converged point with ``|eps - eps_refined| > TOL``, or a tensor bound
above ``TOL``, or ``|eps - eps_reference| > TOL``; ``TOL = 1e-6``. The figure of merit is zero
disagreements. The report gives points tried, flagged (not converged) grouped by ``reason``,
disagreements per check and the largest differences seen.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import time

import numpy as np

#: Largest allowed difference in eps between a certified point and an independent method.
TOL = 1e-6
DOMAIN = {"f": (0.005, 1.0), "alpha_prune": (0.02, 200.0), "theta_deg": (0.0, 80.0)}
RULES = ("hard", "easy", "random")


def sample_points(n: int, seed: int = 0, theta0_fraction: float = 0.25) -> dict:
    """``n`` random points of the domain (arrays ``rule, f, alpha_prune, theta_deg``)."""
    rng = np.random.default_rng(seed)
    lf, la = np.log(DOMAIN["f"]), np.log(DOMAIN["alpha_prune"])
    theta = rng.uniform(*DOMAIN["theta_deg"], n)
    theta[rng.random(n) < theta0_fraction] = 0.0
    return {
        "rule": rng.choice(RULES, n),
        "f": np.exp(rng.uniform(*lf, n)),
        "alpha_prune": np.exp(rng.uniform(*la, n)),
        "theta_deg": theta,
    }


def _tensor_bound(rule, f, alpha, theta_deg, R, S, kappa, chunk: int = 16):
    """``eps_bound`` of the convex certificate under the tensor rule (theta > 0, pruned)."""
    from prunescale.theory._certificate import certify
    from prunescale.theory._equations import margin_terms
    from prunescale.theory._kept_law import Quadrature, nodes_theta_tensor
    from prunescale.theory.solver import _batch_for

    quad = Quadrature(n=24, n_v=24)
    out = np.full(len(f), np.nan)
    for lo in range(0, len(f), chunk):
        sl = slice(lo, lo + chunk)
        batch = _batch_for(rule, f[sl], np.radians(theta_deg[sl]), 2, quad)
        r, s, al = R[sl], S[sl], alpha[sl]
        b = np.sqrt(np.maximum(0.0, (1 - r) * (1 + r) - s * s))
        k = kappa[sl].copy()

        def nodes(k):
            return nodes_theta_tensor(batch.lo, batch.hi, batch.fnorm, batch.theta, r, s, b, k,
                                      quad)

        with np.errstate(all="ignore"):
            for _ in range(3):  # root of A = 0 in k under this quadrature (direction fixed)
                m2, m1 = margin_terms(nodes(k), r, s, b, k)
                k = np.where(m1 > 0, k + (b * b - al * m2) / (2 * al * m1), k)
            out[sl] = certify(nodes(k), al, r, s, b, k).eps_bound
    return out


def run_sweep(points: dict, n_ref: int = 0, seed: int = 0, tol: float = TOL,
              progress: bool = False) -> dict:
    """Solve every point, cross-check the converged ones; returns the report (a dict)."""
    from prunescale.theory import Pruning, solve
    from prunescale.theory._kept_law import Quadrature
    from prunescale.theory.reference import solve_reference

    t0 = time.perf_counter()
    n = len(points["f"])
    eps = np.full(n, np.nan)
    R, S, kappa = eps.copy(), eps.copy(), eps.copy()
    conv = np.zeros(n, bool)
    reason = np.full(n, "", dtype=object)
    d_ref = np.full(n, np.nan)
    d_refined = np.full(n, np.nan)
    refined_conv = np.zeros(n, bool)
    tensor = np.full(n, np.nan)
    t_solve = t_refined = t_tensor = 0.0
    for rule in RULES:
        idx = np.flatnonzero(points["rule"] == rule)
        if idx.size == 0:
            continue
        args = (points["f"][idx], points["alpha_prune"][idx], points["theta_deg"][idx])
        t = time.perf_counter()
        r = solve(rule, args[0], args[1], theta_deg=args[2])
        t_solve += time.perf_counter() - t
        eps[idx], R[idx], S[idx], kappa[idx] = r.eps, r.R, r.S, r.kappa
        conv[idx], reason[idx] = r.converged, r.reason
        t = time.perf_counter()
        rf = solve(rule, args[0], args[1], theta_deg=args[2], quad=Quadrature().refined(2))
        t_refined += time.perf_counter() - t
        refined_conv[idx] = rf.converged
        d_refined[idx] = np.where(r.converged & rf.converged, np.abs(r.eps - rf.eps), np.nan)
        two_d = (rule != "random") & (args[0] < 1) & (args[2] > 0) & r.converged
        if two_d.any():
            j = np.flatnonzero(two_d)
            t = time.perf_counter()
            tensor[idx[j]] = _tensor_bound(rule, args[0][j], args[1][j], args[2][j], r.R[j],
                                           r.S[j], r.kappa[j])
            t_tensor += time.perf_counter() - t
        if progress:
            print(f"sweep: {rule}: {idx.size} points solved and cross-checked", file=sys.stderr)

    # scipy reference on a random subsample of the converged one-dimensional points
    one_d = conv & ((points["theta_deg"] == 0) | (points["rule"] == "random")
                    | (points["f"] == 1.0))
    cand = np.flatnonzero(one_d)
    rng = np.random.default_rng(seed + 1)
    pick = rng.choice(cand, size=min(n_ref, cand.size), replace=False) if n_ref else []
    t = time.perf_counter()
    for i in pick:
        pr = Pruning(str(points["rule"][i]), float(points["f"][i]), float(points["theta_deg"][i]))
        ref = solve_reference(pr, float(points["alpha_prune"][i]), k_tol=1e-11,
                              expectation="scipy")
        d_ref[i] = abs(ref.eps - eps[i])
    t_ref = time.perf_counter() - t

    bad = {
        "refined": conv & (d_refined > tol),
        "tensor": conv & (tensor > tol),
        "reference": conv & (d_ref > tol),
    }
    any_bad = bad["refined"] | bad["tensor"] | bad["reference"]
    # a converged point whose refinement is not converged is not checked by "refined"
    flagged = collections.Counter(str(x) for x in reason[~conv])
    bad_nan = conv & ~(np.isfinite(eps) & np.isfinite(R) & np.isfinite(kappa))

    def worst(a):
        a = a[np.isfinite(a)]
        return float(a.max()) if a.size else None

    disagreements = []
    for i in np.flatnonzero(any_bad):
        disagreements.append({
            "rule": str(points["rule"][i]), "f": float(points["f"][i]),
            "alpha_prune": float(points["alpha_prune"][i]),
            "theta_deg": float(points["theta_deg"][i]), "eps": float(eps[i]),
            "d_refined": float(d_refined[i]), "tensor_bound": float(tensor[i]),
            "d_reference": float(d_ref[i]),
            "checks": [k for k, v in bad.items() if v[i]],
        })
    return {
        "tol": tol,
        "points": int(n),
        "converged": int(conv.sum()),
        "flagged": int((~conv).sum()),
        "flagged_by_reason": dict(flagged),
        "converged_with_nan": int(bad_nan.sum()),
        "eps_out_of_range": int((conv & ~((eps >= 0) & (eps <= 0.5))).sum()),
        "checked_refined": int((conv & refined_conv).sum()),
        "checked_tensor": int(np.isfinite(tensor).sum()),
        "checked_reference": int(np.isfinite(d_ref).sum()),
        "disagreements": int(any_bad.sum()),
        "disagreements_by_check": {k: int(v.sum()) for k, v in bad.items()},
        "max_d_refined": worst(d_refined),
        "max_tensor_bound": worst(tensor),
        "max_d_reference": worst(d_ref),
        "disagreement_points": disagreements,
        "seconds": {"solve": t_solve, "refined": t_refined, "tensor": t_tensor,
                    "reference": t_ref, "total": time.perf_counter() - t0},
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=3000)
    ap.add_argument("--n-ref", type=int, default=100,
                    help="converged theta = 0 points checked against the scipy reference")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    pts = sample_points(args.points, args.seed)
    rep = run_sweep(pts, n_ref=args.n_ref, seed=args.seed, progress=not args.json)
    if args.json:
        print(json.dumps(rep, indent=1))
    else:
        print(f"points tried: {rep['points']}   converged: {rep['converged']}   "
              f"flagged (not converged): {rep['flagged']}")
        for why, c in sorted(rep["flagged_by_reason"].items(), key=lambda x: -x[1]):
            print(f"   {c:6d}  {why}")
        print(f"converged with NaN: {rep['converged_with_nan']}   eps outside [0, 0.5]: "
              f"{rep['eps_out_of_range']}")
        print(f"checked: refined {rep['checked_refined']}, tensor certificate "
              f"{rep['checked_tensor']}, scipy reference {rep['checked_reference']}")
        print(f"disagreements (> {rep['tol']:g}): {rep['disagreements']}  "
              f"{rep['disagreements_by_check']}")
        print(f"max |eps - eps_refined| = {rep['max_d_refined']}, max tensor bound = "
              f"{rep['max_tensor_bound']}, max |eps - eps_reference| = {rep['max_d_reference']}")
        for d in rep["disagreement_points"][:20]:
            print("   ", d)
        print("seconds:", {k: round(v, 1) for k, v in rep["seconds"].items()})
    return 0 if rep["disagreements"] == 0 and rep["converged_with_nan"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
