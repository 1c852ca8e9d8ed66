"""Figure 4: imperfect metrics. Frontiers bend back to a power law; f_opt and f_min(theta).

For probe angles ``theta`` the keep-hard Pareto frontier (unlimited pool, ``f`` searched on a
log grid down to ``f_floor``), the optimal fraction against the budget, and the minimum useful
fraction ``f_min(theta) = min_alpha f_opt(alpha; theta)`` (:func:`theory.curves.f_min`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from prunescale.figures import _plot
from prunescale._progress import Progress
from prunescale.theory.curves import FRONTIER_F_FLOOR, smallest_optimal_fraction
from prunescale.figures._store import cached, write_table

NAME = "fig4_imperfect_metrics"


def config(quick: bool) -> dict:
    return {
        "theta_deg": [0.0, 10.0, 20.0, 30.0],
        "alpha": np.round(np.geomspace(0.5, 60.0, 14 if quick else 30), 6).tolist(),
        "f_floor": FRONTIER_F_FLOOR,
        "n_f": 17 if quick else 33,
    }


def n_steps(quick: bool) -> int:
    return len(config(quick)["theta_deg"])


def frontier(cache, theta, c) -> dict:
    def compute():
        from prunescale.theory.curves import pareto_frontier

        fr = pareto_frontier(np.array(c["alpha"]), theta,
                             f_grid=np.geomspace(c["f_floor"], 1.0, c["n_f"]))
        return {"eps": fr.eps, "f_opt": fr.f_opt, "eps_random": fr.eps_random,
                "at_boundary": fr.at_boundary, "n_uncertified": fr.n_uncertified,
                "n_skipped": fr.n_skipped}

    cfg = {"kind": "frontier", "theta_deg": float(theta), "alpha": c["alpha"],
           "f_floor": c["f_floor"], "n_f": c["n_f"]}
    return cached(cache, "frontier", cfg, compute)


def main(quick: bool = True, out="prunescale-figures", cache=None, progress=None):
    c = config(quick)
    out = Path(out)
    cache = out / ".cache" if cache is None else cache
    progress = progress or Progress(n_steps(quick))
    a = np.array(c["alpha"])
    frs = {}
    for th in c["theta_deg"]:
        frs[th] = frontier(cache, th, c)
        progress.step(f"theory: frontier theta={th:g}")
    fmin = {th: smallest_optimal_fraction(a, fr["f_opt"], fr["at_boundary"])
            for th, fr in frs.items()}

    def draw():
        fig, (ax, ax2, ax3) = _plot.figure(3, 1, width=4.0)
        col = _plot.colors(len(frs))
        ax.plot(a, frs[c["theta_deg"][0]]["eps_random"], "k--", lw=1.2, label="no pruning")
        for (th, fr), cl in zip(frs.items(), col):
            ax.plot(a, fr["eps"], color=cl, lw=2, label=f"$\\theta = {th:g}°$")
            _plot.mark_uncertified(ax, a, fr["eps"], cl, f"$\\theta = {th:g}°$: not certified")
            ax2.plot(a, fr["f_opt"], color=cl, lw=2, label=f"$\\theta = {th:g}°$")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(r"$\alpha_{prune} = P/N$")
        ax.set_ylabel(r"Pareto-optimal test error $\varepsilon$")
        ax.set_title(f"keep-hard frontiers ($f \\geq {c['f_floor']:g}$)\n"
                     "imperfect metrics return to a power law")
        ax.legend(loc="lower left")
        ax2.set_xscale("log")
        ax2.set_yscale("log")
        ax2.set_xlabel(r"$\alpha_{prune} = P/N$")
        ax2.set_ylabel(r"optimal kept fraction $f_{opt}$")
        ax2.set_title("optimal fraction against budget")
        ths = [t for t in c["theta_deg"] if t > 0]
        edge = np.array([bool(fmin[t][2]) for t in ths])
        fm = np.array([fmin[t][0] for t in ths], float)
        ax3.plot(ths, fm, "-", color="C3")
        ax3.plot(np.array(ths)[~edge], fm[~edge], "o", color="C3",
                 label="interior minimum" if (~edge).any() else "_nolegend_")
        ax3.plot(np.array(ths)[edge], fm[edge], "o", mfc="white", color="C3",
                 label="at the search edge" if edge.any() else "_nolegend_")
        ax3.set_xlabel(r"probe angle $\theta$ (degrees)")
        ax3.set_ylabel(r"$f_{min}(\theta) = \min_\alpha f_{opt}$")
        ax3.set_title("minimum useful fraction\nover the budgets searched")
        if edge.any():  # the minimum is still falling where the search stops
            ax3.text(0.04, 0.96, f"{int(edge.sum())} of {edge.size} values at the edge of the "
                     f"search ($\\alpha \\leq {a[-1]:g}$, $f \\geq {c['f_floor']:g}$):\n"
                     "an upper bound, not the asymptotic $f_{min}$",
                     transform=ax3.transAxes, va="top", fontsize=7)
        ax3.legend(loc="lower right")
        return fig

    paths = _plot.render(out, NAME, c, draw)
    cols = {"theta_deg": [], "alpha_prune": [], "eps_frontier": [], "f_opt": [],
            "at_f_floor": [], "eps_no_pruning": []}
    for th, fr in frs.items():
        cols["theta_deg"] += [th] * len(a)
        cols["alpha_prune"] += list(a)
        cols["eps_frontier"] += list(fr["eps"])
        cols["f_opt"] += list(fr["f_opt"])
        cols["at_f_floor"] += list(fr["at_boundary"])
        cols["eps_no_pruning"] += list(fr["eps_random"])
    cols["theory_converged"] = list(np.isfinite(np.asarray(cols["eps_frontier"], float)))
    counts = {"n_uncertified": int(sum(int(fr["n_uncertified"]) for fr in frs.values())),
              "n_skipped": int(sum(int(fr["n_skipped"]) for fr in frs.values())),
              "n_flagged": 0, "theory_converged": bool(all(cols["theory_converged"]))}
    write_table(out / f"{NAME}.csv", cols,
                {"figure": NAME, "rule": "hard", **c, **counts,
                 "f_min": {str(k): v[0] for k, v in fmin.items()},
                 "alpha_at_f_min": {str(k): v[1] for k, v in fmin.items()},
                 "f_min_at_search_edge": {str(k): bool(v[2]) for k, v in fmin.items()}})
    return {"paths": paths, "frontiers": frs, "f_min": fmin, "config": c, **counts}


if __name__ == "__main__":
    main(quick=True)
