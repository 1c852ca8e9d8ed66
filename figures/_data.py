"""Computations behind the figures, each cached by configuration (see :mod:`figures._store`)."""

from __future__ import annotations

import numpy as np

from prunescale._progress import Progress
from prunescale.figures._store import cached


def sim_point(cache, *, rule, f, alpha_prune, theta_deg, n, seeds, seed) -> dict:
    """Certified simulation of one configuration, with the matching theory, cached."""
    config = {"kind": "sim", "rule": rule, "f": float(f), "alpha_prune": float(alpha_prune),
              "theta_deg": float(theta_deg), "n": int(n), "seeds": int(seeds),
              "seed": int(seed)}

    def compute():
        from prunescale import sims
        from prunescale.theory import Pruning, solve

        r = sims.simulate(Pruning(rule, f, theta_deg), alpha_prune=alpha_prune, n=n,
                          seeds=seeds, seed=seed, progress=False)
        th = solve(rule, f, alpha_prune, theta_deg=theta_deg)
        return {"eps_mean": r.eps_mean, "eps_sem": r.eps_sem, "R_mean": r.R_mean,
                "kappa_mean": r.kappa_mean, "max_gap": r.max_gap, "n_flagged": r.n_flagged,
                "n_students": r.seeds, "eps_theory": float(th.eps.item()),
                "theory_converged": bool(th.converged.item())}

    return {k: v.item() for k, v in cached(cache, "sim", config, compute).items()}


def sim_points(cache, configs: list[dict], progress: Progress | None = None, **common):
    """:func:`sim_point` for each configuration; returns a dict of columns."""
    rows = []
    for c in configs:
        rows.append({**c, **sim_point(cache, **c, **common)})
        if progress:
            progress.step(f"sim {c['rule']} f={c['f']:g} a={c['alpha_prune']:g} "
                          f"theta={c['theta_deg']:g}")
    return {k: np.array([r[k] for r in rows]) for k in rows[0]} if rows else {}


def theory_grid(cache, rule, f, alpha_prune, theta_deg=0.0) -> dict:
    """Certified theory on the ``f x alpha_prune`` grid, cached."""
    f = np.atleast_1d(np.asarray(f, float))
    a = np.atleast_1d(np.asarray(alpha_prune, float))
    config = {"kind": "theory", "rule": rule, "f": f.tolist(), "alpha_prune": a.tolist(),
              "theta_deg": float(theta_deg)}

    def compute():
        from prunescale.theory import solve

        F, A = np.meshgrid(f, a, indexing="ij")
        r = solve(rule, F, A, theta_deg=theta_deg)
        return {"f": F, "alpha_prune": A, "eps": np.where(r.converged, r.eps, np.nan),
                "R": r.R, "S": r.S, "kappa": r.kappa, "converged": r.converged}

    return cached(cache, "theory", config, compute)
