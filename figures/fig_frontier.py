"""Figure 2: the Pareto frontier with a perfect metric, beside the power law of no pruning.

For each budget ``alpha_prune`` the smallest keep-hard error over kept fractions
``f >= f_floor`` with an unlimited pool (:func:`theory.curves.pareto_frontier`), the learning
curves it envelopes, and the unpruned error (``~0.5 / alpha`` at large ``alpha``). The
frontier's local decay is measured two ways: the local exponential rate
``-d log(eps) / d alpha`` and the local power-law exponent ``-d log(eps) / d log(alpha)``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from prunescale.figures import _plot
from prunescale._progress import Progress
from prunescale.figures._data import theory_grid
from prunescale.theory.curves import FRONTIER_F_FLOOR
from prunescale.figures._store import cached, write_table

NAME = "fig2_frontier"


def config(quick: bool) -> dict:
    return {
        "alpha": np.round(np.geomspace(0.3, 12.0, 40 if quick else 80), 6).tolist(),
        "f_floor": FRONTIER_F_FLOOR,
        "n_f": 25 if quick else 49,
        "f_curves": [1.0, 0.3, 0.1, 0.03, 0.01],
    }


def n_steps(quick: bool) -> int:
    return 2


def frontier_data(cache, c) -> dict:
    def compute():
        from prunescale.theory.curves import pareto_frontier

        fr = pareto_frontier(np.array(c["alpha"]), 0.0,
                             f_grid=np.geomspace(c["f_floor"], 1.0, c["n_f"]))
        return {"alpha_prune": fr.alpha_prune, "eps": fr.eps, "f_opt": fr.f_opt,
                "eps_random": fr.eps_random, "at_boundary": fr.at_boundary,
                "n_uncertified": fr.n_uncertified, "n_skipped": fr.n_skipped}

    return cached(cache, "frontier", {"kind": "frontier", "theta_deg": 0.0, **c}, compute)


def decay_rates(alpha, eps) -> dict:
    """Largest local exponential rate and power-law exponent of ``eps(alpha)``."""
    la, le = np.log(alpha), np.log(eps)
    exp_rate = -np.diff(le) / np.diff(alpha)
    pow_exp = -np.diff(le) / np.diff(la)
    i = int(np.argmax(exp_rate))
    return {"max_exp_rate": float(exp_rate[i]),
            "alpha_at_max_rate": float(np.sqrt(alpha[i] * alpha[i + 1])),
            "max_power_exponent": float(np.max(pow_exp)),
            "final_power_exponent": float(pow_exp[-1])}


def main(quick: bool = True, out="prunescale-figures", cache=None, progress=None):
    c = config(quick)
    out = Path(out)
    cache = out / ".cache" if cache is None else cache
    progress = progress or Progress(n_steps(quick))
    fr = frontier_data(cache, c)
    progress.step("theory: Pareto frontier")
    curves = theory_grid(cache, "hard", c["f_curves"], c["alpha"])
    progress.step("theory: keep-hard curves")
    a, e = fr["alpha_prune"], fr["eps"]
    rates = decay_rates(a, e)

    def draw():
        fig, (ax, ax2) = _plot.figure(2, 1, width=5.2)
        col = _plot.colors(len(c["f_curves"]))
        for i, f in enumerate(c["f_curves"]):
            # f = 1 is the unpruned curve: drawn dotted on top so it is not hidden
            style = dict(ls=":", lw=2.0, zorder=5) if f == 1 else dict(lw=0.9, alpha=0.8)
            ax.plot(a, curves["eps"][i], color=col[i], label=f"keep hard, f = {f:g}", **style)
        ax.plot(a, fr["eps_random"], "k--", lw=1.2, label=r"no pruning ($\approx 0.5/\alpha$)")
        ax.plot(a, e, "r-", lw=2.4, label=f"Pareto frontier ($f \\geq {c['f_floor']:g}$)")
        _plot.mark_uncertified(ax, a, e, "r", "frontier: not certified")
        for i, f in enumerate(c["f_curves"]):
            _plot.mark_uncertified(ax, a, curves["eps"][i], col[i], f"f = {f:g}: not certified")
        ax.set_yscale("log")
        ax.set_xlabel(r"$\alpha_{prune} = P/N$")
        ax.set_ylabel(r"test error $\varepsilon$")
        ax.set_title("Pareto frontier, perfect metric ($\\theta = 0$)\n"
                     f"steepest decay: rate {rates['max_exp_rate']:.2f} per unit $\\alpha$ "
                     f"at $\\alpha \\approx$ {rates['alpha_at_max_rate']:.2f}")
        # outside the axes: the cliff near alpha = 2 stays visible
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
        ax2.plot(a, fr["f_opt"], "r-", lw=2)
        ax2.set_xscale("log")
        ax2.set_yscale("log")
        ax2.set_xlabel(r"$\alpha_{prune} = P/N$")
        ax2.set_ylabel(r"optimal kept fraction $f_{opt}$")
        ax2.set_title("optimal fraction (at the floor $f = %g$:\nall support vectors of the pool "
                      "survive)" % c["f_floor"])
        return fig

    paths = _plot.render(out, NAME, c, draw)
    counts = {"n_uncertified": int(fr["n_uncertified"]) + int(
                  (~np.asarray(curves["converged"], bool)).sum()),
              "n_skipped": int(fr["n_skipped"]), "n_flagged": 0,
              "theory_converged": bool(np.isfinite(e).all())}
    # every plotted line is a column: the frontier, no pruning, and each keep-hard curve
    curve_cols = {f"eps_hard_f{f:g}": curves["eps"][i] for i, f in enumerate(c["f_curves"])}
    write_table(out / f"{NAME}.csv",
                {"alpha_prune": a, "eps_frontier": e, "f_opt": fr["f_opt"],
                 "at_f_floor": fr["at_boundary"], "eps_no_pruning": fr["eps_random"],
                 **curve_cols, "theory_converged": np.isfinite(e)},
                {"figure": NAME, "theta_deg": 0.0, "rule": "hard", **c, **rates, **counts})
    return {"paths": paths, "frontier": fr, "rates": rates, "config": c, **counts}


if __name__ == "__main__":
    main(quick=True)
