"""Figure 5: theory against simulation over many configurations, including theta > 0.

Left: simulated mean error (with standard errors) against the replica prediction. Right: the
residual in units of the standard error. Simulations are certified students (relative
duality gap below 1e-6); the configurations are those of Fig. 1 plus imperfect-metric ones.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.ticker import NullFormatter
import numpy as np

from prunescale.figures import _plot, fig_learning_curves
from prunescale._progress import Progress
from prunescale.figures._data import sim_points
from prunescale.figures._store import write_table

NAME = "fig5_theory_vs_simulation"

EXTRA = [
    {"rule": "hard", "f": 0.2, "alpha_prune": 3.0, "theta_deg": 20.0},
    {"rule": "easy", "f": 0.5, "alpha_prune": 3.0, "theta_deg": 20.0},
    {"rule": "easy", "f": 0.2, "alpha_prune": 6.0, "theta_deg": 10.0},
    {"rule": "hard", "f": 0.5, "alpha_prune": 4.0, "theta_deg": 10.0},
    {"rule": "hard", "f": 0.3, "alpha_prune": 2.0, "theta_deg": 30.0},
    {"rule": "random", "f": 0.5, "alpha_prune": 2.0, "theta_deg": 0.0},
]


def config(quick: bool) -> dict:
    c = fig_learning_curves.config(quick)
    return {"n": c["n"], "seeds": c["seeds"], "seed": c["seed"], "extra": EXTRA,
            "base_f": c["f"], "base_alpha": c["alpha_sim"]}


def n_steps(quick: bool) -> int:
    return len(config(quick)["extra"])


def main(quick: bool = True, out="prunescale-figures", cache=None, progress=None):
    c = config(quick)
    out = Path(out)
    cache = out / ".cache" if cache is None else cache
    progress = progress or Progress(n_steps(quick) + fig_learning_curves.n_steps(quick))
    base = [{"rule": r, "f": f, "alpha_prune": a, "theta_deg": 0.0}
            for r in ("hard", "easy") for f in c["base_f"] for a in c["base_alpha"]]
    common = {"n": c["n"], "seeds": c["seeds"], "seed": c["seed"]}
    s0 = sim_points(cache, base, None, **common)  # shared with Fig. 1 (cached there)
    s1 = sim_points(cache, c["extra"], progress, **common)
    sim = {k: np.concatenate([s0[k], s1[k]]) for k in s0}
    with np.errstate(all="ignore"):  # no z-score without a certified theory point
        z = np.where(sim["theory_converged"],
                     (sim["eps_mean"] - sim["eps_theory"]) / sim["eps_sem"], np.nan)

    counts = {"n_uncertified": int((~sim["theory_converged"].astype(bool)).sum()),
              "n_flagged": int(np.sum(sim["n_flagged"])),
              "theory_converged": bool(np.all(sim["theory_converged"]))}
    caveats = "".join([
        f"; {counts['n_uncertified']} without certified theory (not shown)"
        if counts["n_uncertified"] else "",
        f"; {counts['n_flagged']} students flagged (excluded)" if counts["n_flagged"] else ""])

    def draw():
        fig, (ax, ax2) = _plot.figure(2, 1, width=4.3)
        pos = sim["theta_deg"] > 0
        for m, lab, mk in ((~pos, r"$\theta = 0$", "o"), (pos, r"$\theta > 0$", "s")):
            ax.errorbar(sim["eps_theory"][m], sim["eps_mean"][m], yerr=sim["eps_sem"][m], fmt=mk,
                        ms=4, capsize=2, label=lab)
            ax2.plot(sim["eps_theory"][m], z[m], mk, label=lab)
        lo, hi = 0.5 * np.nanmin(sim["eps_theory"]), 1.5 * np.nanmax(sim["eps_theory"])
        ax.plot([lo, hi], [lo, hi], "k-", lw=0.8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(r"replica theory $\varepsilon$")
        ax.set_ylabel(r"simulation $\varepsilon$ (mean $\pm$ s.e.)")
        ax.set_title(f"theory vs simulation, N = {c['n']}, {c['seeds']} students\n"
                     f"{len(z)} configurations{caveats}")
        ax.legend()
        ax2.axhline(0, color="k", lw=0.8)
        for y in (-2, 2):
            ax2.axhline(y, color="k", lw=0.6, ls=":")
        ax2.set_xscale("log")
        ax2.xaxis.set_minor_formatter(NullFormatter())
        ax2.set_xlabel(r"replica theory $\varepsilon$")
        ax2.set_ylabel("(simulation - theory) / s.e.")
        ax2.set_title(f"residuals: median |z| = {np.nanmedian(np.abs(z)):.2f}\n"
                      "(finite N bias included)")
        return fig

    paths = _plot.render(out, NAME, c, draw)
    write_table(out / f"{NAME}.csv", {**sim, "z": z}, {"figure": NAME, **c, **counts})
    return {"paths": paths, "sim": sim, "z": z, "config": c, **counts}


if __name__ == "__main__":
    main(quick=True)
