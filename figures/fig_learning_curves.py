"""Figure 1: learning curves eps(alpha_prune) at theta = 0, keep-hard and keep-easy.

Theory lines (certified replica solutions) for several kept fractions ``f`` with simulation
markers (mean and standard error over students), and the unpruned (random) curve, which
every rule reproduces at ``f = 1`` (Sorscher et al. 2022, Fig. 1A and App. A).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from prunescale.figures import _plot
from prunescale._progress import Progress
from prunescale.figures._data import sim_points, theory_grid
from prunescale.figures._store import write_table

NAME = "fig1_learning_curves"


def config(quick: bool) -> dict:
    return {
        "f": [0.2, 0.4, 0.7],
        "alpha_theory": np.round(np.geomspace(0.3, 12.0, 60), 6).tolist(),
        "alpha_sim": [1.0, 3.0, 6.0] if quick else [0.5, 1.0, 2.0, 3.0, 4.5, 6.0, 9.0],
        "n": 100 if quick else 400,
        "seeds": 8 if quick else 32,
        "seed": 0,
    }


def n_steps(quick: bool) -> int:
    c = config(quick)
    return 2 * len(c["f"]) * len(c["alpha_sim"]) + 1


def main(quick: bool = True, out="prunescale-figures", cache=None, progress=None):
    c = config(quick)
    out = Path(out)
    cache = out / ".cache" if cache is None else cache
    progress = progress or Progress(n_steps(quick))
    fs, at = c["f"], c["alpha_theory"]
    th = {rule: theory_grid(cache, rule, fs, at) for rule in ("hard", "easy")}
    rnd = theory_grid(cache, "random", [1.0], at)
    progress.step("theory: learning curves")
    cfgs = [{"rule": r, "f": f, "alpha_prune": a, "theta_deg": 0.0}
            for r in ("hard", "easy") for f in fs for a in c["alpha_sim"]]
    sim = sim_points(cache, cfgs, progress, n=c["n"], seeds=c["seeds"], seed=c["seed"])

    def draw():
        fig, axes = _plot.figure(2, 1, width=4.4)
        col = _plot.colors(len(fs))
        for ax, rule in zip(axes, ("hard", "easy")):
            ax.plot(at, rnd["eps"][0], "k--", lw=1.2, label="random / f = 1")
            for i, f in enumerate(fs):
                ax.plot(at, th[rule]["eps"][i], color=col[i], lw=1.6, label=f"f = {f:g}")
                bad = ~np.asarray(th[rule]["converged"][i], bool)
                if bad.any():  # uncertified theory: a gap in the line and an x on the axis
                    ax.plot(at[bad], np.full(bad.sum(), 0.5), "x", color=col[i], ms=5)
                m = (sim["rule"] == rule) & (sim["f"] == f)
                ax.errorbar(sim["alpha_prune"][m], sim["eps_mean"][m], yerr=sim["eps_sem"][m],
                            fmt="o", ms=4, color=col[i], capsize=2)
            ax.set_yscale("log")
            ax.set_xlabel(r"$\alpha_{prune} = P/N$ (examples kept per dimension)")
            ax.set_ylabel(r"test error $\varepsilon$")
            ax.set_title(f"keep {rule}, perfect metric ($\\theta = 0$)\n"
                         f"lines: theory; markers: N = {c['n']}, {c['seeds']} students")
            ax.legend(loc="lower left")
        return fig

    paths = _plot.render(out, NAME, c, draw)

    rows = {"source": [], "rule": [], "f": [], "alpha_prune": [], "eps": [], "eps_sem": [],
            "theory_converged": [], "n_flagged": [], "max_gap": []}
    for rule, grid in (*th.items(), ("random", rnd)):
        F, A, E = grid["f"], grid["alpha_prune"], grid["eps"]
        for v, k in ((["theory"] * E.size, "source"), ([rule] * E.size, "rule"),
                     (F.ravel(), "f"), (A.ravel(), "alpha_prune"), (E.ravel(), "eps"),
                     ([np.nan] * E.size, "eps_sem"),
                     (np.asarray(grid["converged"]).ravel(), "theory_converged"),
                     ([0] * E.size, "n_flagged"), ([np.nan] * E.size, "max_gap")):
            rows[k].extend(v)
    for i in range(len(sim["rule"])):
        for k, v in (("source", "simulation"), ("rule", sim["rule"][i]), ("f", sim["f"][i]),
                     ("alpha_prune", sim["alpha_prune"][i]), ("eps", sim["eps_mean"][i]),
                     ("eps_sem", sim["eps_sem"][i]),
                     ("theory_converged", sim["theory_converged"][i]),
                     ("n_flagged", sim["n_flagged"][i]), ("max_gap", sim["max_gap"][i])):
            rows[k].append(v)
    counts = {"n_uncertified": int(sum((~np.asarray(g["converged"], bool)).sum()
                                       for g in (*th.values(), rnd))),
              "n_flagged": int(np.sum(sim["n_flagged"])),
              "theory_converged": bool(np.all(sim["theory_converged"]))}
    write_table(out / f"{NAME}.csv", rows, {"figure": NAME, "theta_deg": 0.0, **c, **counts})
    return {"paths": paths, "theory": th, "random": rnd, "sim": sim, "config": c, **counts}


if __name__ == "__main__":
    main(quick=True)
