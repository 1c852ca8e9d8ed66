"""Figure 3: the easy-vs-hard phase diagram over pool size ``alpha_tot`` and kept fraction ``f``.

Colour: ``log10(eps_hard / eps_easy)`` (positive, blue: keep-easy wins; negative, red: keep-hard
wins; the app uses the same convention and the same rule colours). Line: the boundary where
both rules give the same error (:func:`theory.curves.phase_boundary`). Small pools favour
keeping easy examples, large pools keeping hard ones (Sorscher et al. 2022, Fig. 1).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from prunescale.figures import _plot
from prunescale._progress import Progress
from prunescale.figures._store import cached, write_table

NAME = "fig3_phase_diagram"


def config(quick: bool) -> dict:
    return {
        "alpha_tot": np.round(np.geomspace(0.3, 300.0, 36 if quick else 72), 6).tolist(),
        "f": np.round(np.linspace(0.05, 0.95, 19 if quick else 37), 6).tolist(),
        "theta_deg": 0.0,
    }


def n_steps(quick: bool) -> int:
    return 1


def main(quick: bool = True, out="prunescale-figures", cache=None, progress=None):
    c = config(quick)
    out = Path(out)
    cache = out / ".cache" if cache is None else cache
    progress = progress or Progress(n_steps(quick))

    def compute():
        from prunescale.theory.curves import phase_diagram

        pd = phase_diagram(np.array(c["alpha_tot"]), np.array(c["f"]), c["theta_deg"])
        return {"eps_easy": pd.eps_easy, "eps_hard": pd.eps_hard, "log_ratio": pd.log_ratio,
                "boundary": pd.boundary_alpha_tot, "n_uncertified": pd.n_uncertified,
                "n_boundary_failed": pd.n_boundary_failed}

    d = cached(cache, "phase", {"kind": "phase", **c}, compute)
    progress.step("theory: phase diagram")
    at, fs = np.array(c["alpha_tot"]), np.array(c["f"])
    lr = d["log_ratio"]

    def draw():
        fig, (ax,) = _plot.figure(1, 1, width=5.4, height=4.0)
        lim = np.nanmax(np.abs(lr))
        mesh = ax.pcolormesh(at, fs, lr, cmap=_plot.PHASE_CMAP, vmin=-lim, vmax=lim, shading="nearest")
        cb = fig.colorbar(mesh, ax=ax)
        cb.set_label(r"$\log_{10}(\varepsilon_{hard} / \varepsilon_{easy})$"
                     "   (> 0, blue: keep easy wins)")
        ax.plot(d["boundary"], fs, "k-", lw=2, label="boundary: equal error")
        bad = ~np.isfinite(lr)
        if bad.any():  # uncertified grid points are marked, never coloured
            ax.plot(np.broadcast_to(at, lr.shape)[bad], np.broadcast_to(fs[:, None], lr.shape)[bad],
                    "kx", ms=4, label="not certified")
        ax.set_xscale("log")
        ax.set_xlabel(r"pool size $\alpha_{tot} = P_{tot}/N$")
        ax.set_ylabel(r"kept fraction $f$")
        ax.set_title("keep easy (blue) vs keep hard (red), $\\theta = 0$\n"
                     r"colour: $\log_{10}$ error ratio; $\alpha_{prune} = f\,\alpha_{tot}$")
        ax.text(0.04, 0.06, "small pools:\nkeep easy wins", transform=ax.transAxes, fontsize=8)
        ax.text(0.70, 0.06, "large pools:\nkeep hard wins", transform=ax.transAxes, fontsize=8)
        # below the axes: the boundary reaches f = 0.9 near the top right
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
        return fig

    paths = _plot.render(out, NAME, c, draw)
    F, AT = np.meshgrid(fs, at, indexing="ij")
    counts = {"n_uncertified": int(d["n_uncertified"]) + int(d["n_boundary_failed"]),
              "n_flagged": 0, "theory_converged": bool(np.isfinite(lr).all())}
    write_table(out / f"{NAME}.csv",
                {"f": F, "alpha_tot": AT, "alpha_prune": F * AT, "eps_easy": d["eps_easy"],
                 "eps_hard": d["eps_hard"], "log10_hard_over_easy": lr,
                 "theory_converged": np.isfinite(lr)},
                {"figure": NAME, **c, "boundary_f": fs.tolist(),
                 "boundary_alpha_tot": d["boundary"].tolist(), **counts})
    return {"paths": paths, "data": d, "config": c, **counts}


if __name__ == "__main__":
    main(quick=True)
