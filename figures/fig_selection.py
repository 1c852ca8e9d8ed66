"""Figure 7: which selection wins? Selection policies with noisy labels, logistic students.

Candidates at kept fraction ``f`` (``theta = 0``): random, keep-hard and keep-easy by the
label-free metric ``|p|`` (``abs``), and keep-hard and keep-easy by the label-aware metric
``y p`` (``signed``, ``y`` the observed, possibly flipped label). All theory is the certified
ERM fixed point (:func:`prunescale.theory.solve`); ``eps`` is the error against the
clean teacher.

* (a) Over pool size ``alpha_tot`` and label noise ``eta``: the policy with the smallest
  ``eps`` (colour); grey where the best or the runner-up is not certified.
* (b) By how much it wins: ``log10(eps_runner-up / eps_best)``.
* (c) Along ``eta`` at one pool size: every policy's ``eps`` (label-aware keep-hard keeps the
  mislabeled examples and learns the flipped rule, ``eps > 1/2``).
* (d) Biased vs reweighted soft selection (softness ``tau``, loss weights ``1/pi``
  normalised to mean 1) at one ``eta``: theory lines, simulation markers
  (:func:`prunescale.sims.simulate`, mean and standard error).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from prunescale.figures import _plot
from prunescale._progress import Progress
from prunescale.figures._store import cached, certification, write_table

NAME = "fig7_selection"
#: the candidate policies: (rule, metric)
POLICIES = (("random", "abs"), ("hard", "abs"), ("easy", "abs"), ("hard", "signed"),
            ("easy", "signed"))
LABELS = {("random", "abs"): "random", ("hard", "abs"): "keep hard |p|",
          ("easy", "abs"): "keep easy |p|", ("hard", "signed"): "keep hard y p",
          ("easy", "signed"): "keep easy y p"}
COLORS = {("random", "abs"): "0.55", ("hard", "abs"): "#b2182b", ("easy", "abs"): "#2166ac",
          ("hard", "signed"): "#f4a582", ("easy", "signed"): "#92c5de"}
SOFT_RULES = ("hard", "easy")


def config(quick: bool) -> dict:
    return {
        "learner": "logistic",
        "lam": 0.01,
        "f": 0.3,
        "alpha_tot": np.round(np.geomspace(1.0, 100.0, 13 if quick else 41), 6).tolist(),
        "noise": np.round(np.linspace(0.0, 0.4, 9 if quick else 33), 6).tolist(),
        "cut_alpha_tot": 20.0,
        "softness": 0.2,
        "rw_noise": 0.1,
        "rw_alpha_tot": ([2.0, 5.0, 20.0, 50.0] if quick
                         else np.round(np.geomspace(2.0, 50.0, 13), 6).tolist()),
        "rw_alpha_sim": [20.0] if quick else [3.0, 6.0, 12.0, 25.0, 50.0],
        "n": 400 if quick else 800,
        "seeds": 8 if quick else 32,
        "seed": 0,
    }


def n_steps(quick: bool) -> int:
    c = config(quick)
    return 3 + len(SOFT_RULES) * 2 * len(c["rw_alpha_sim"])


def grid(cache, c) -> dict:
    """``eps`` of every policy over ``noise x alpha_tot`` (NaN where not certified), the best
    policy's index (-1 where the best or the runner-up is not certified) and its margin."""

    def compute():
        from prunescale.theory import solve

        E, AT = np.meshgrid(c["noise"], c["alpha_tot"], indexing="ij")
        eps = np.stack([solve(rule, c["f"], alpha_tot=AT, learner=c["learner"],
                                  lam=c["lam"], noise=E, metric=metric).eps
                        for rule, metric in POLICIES])
        return {"eps": eps, **winner(eps)}

    key = {k: c[k] for k in ("learner", "lam", "f", "noise", "alpha_tot")}
    return cached(cache, "selection-grid", {"kind": "selection-grid", **key}, compute)


def winner(eps: np.ndarray) -> dict:
    """Per grid point (``eps`` stacked over policies on axis 0): the best policy's index and
    ``log10(eps_second / eps_best)``; ``-1`` and NaN unless the two best are certified (an
    uncertified policy could be the true best: no winner is claimed)."""
    filled = np.where(np.isfinite(eps), eps, np.inf)
    order = np.argsort(filled, axis=0)
    best, second = np.take_along_axis(filled, order[:2], axis=0)
    known = np.isfinite(eps).all(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        margin = np.where(known, np.log10(second / best), np.nan)
    return {"best": np.where(known, order[0], -1), "margin": margin}


def rw_alphas(c) -> np.ndarray:
    """Pool sizes of the theory lines of panel (d): the line's grid and the simulated ones."""
    return np.unique(np.concatenate([c["rw_alpha_tot"], c["rw_alpha_sim"]]))


def reweighting(cache, c) -> dict:
    """Soft keep-hard and keep-easy, biased and reweighted, along ``alpha_tot`` (at
    :func:`rw_alphas`: the simulation markers are compared with these very points)."""

    def compute():
        from prunescale.theory import solve

        a = rw_alphas(c)
        out = {}
        for rule in SOFT_RULES:
            for rw in (False, True):
                r = solve(rule, c["f"], alpha_tot=a, learner=c["learner"], lam=c["lam"],
                              noise=c["rw_noise"], softness=c["softness"], reweight=rw)
                out[f"eps_{rule}_{int(rw)}"] = r.eps
        r = solve("random", 1.0, alpha_tot=a * c["f"], learner=c["learner"],
                      lam=c["lam"], noise=c["rw_noise"])
        out["eps_random"] = r.eps
        return out

    key = {k: c[k] for k in ("learner", "lam", "f", "softness", "rw_noise", "rw_alpha_tot",
                             "rw_alpha_sim")}
    return cached(cache, "selection-reweight", {"kind": "selection-reweight", **key}, compute)


def sim_point(cache, *, rule, f, alpha_tot, noise, softness, reweight, learner, lam, n, seeds,
              seed) -> dict:
    """Certified students of a soft policy at one pool size (the theory comes from
    :func:`reweighting`)."""
    cfg = {"kind": "selection-sim", "rule": rule, "f": float(f), "alpha_tot": float(alpha_tot),
           "noise": float(noise), "softness": float(softness), "reweight": bool(reweight),
           "learner": learner, "lam": float(lam), "n": int(n), "seeds": int(seeds),
           "seed": int(seed)}

    def compute():
        from prunescale import sims
        from prunescale.theory import Pruning

        r = sims.simulate(Pruning(rule, f), n=n, seeds=seeds, alpha_tot=alpha_tot, seed=seed,
                          progress=False, learner=learner, lam=lam, noise=noise,
                          softness=softness, reweight=reweight)
        return {"eps_mean": r.eps_mean, "eps_sem": r.eps_sem, "n_flagged": r.n_flagged}

    return {k: v.item() for k, v in cached(cache, "selection-sim", cfg, compute).items()}


def main(quick: bool = True, out="prunescale-figures", cache=None, progress=None):
    c = config(quick)
    out = Path(out)
    cache = out / ".cache" if cache is None else cache
    progress = progress or Progress(n_steps(quick))
    g = grid(cache, c)
    progress.step("theory: five policies over pool size and noise")
    rw = reweighting(cache, c)
    ra = rw_alphas(c)
    progress.step("theory: biased vs reweighted soft selection")
    sims = []
    for rule in SOFT_RULES:
        for reweight in (False, True):
            for a in c["rw_alpha_sim"]:
                p = sim_point(cache, rule=rule, f=c["f"], alpha_tot=a, noise=c["rw_noise"],
                              softness=c["softness"], reweight=reweight, learner=c["learner"],
                              lam=c["lam"], n=c["n"], seeds=c["seeds"], seed=c["seed"])
                th = rw[f"eps_{rule}_{int(reweight)}"][int(np.flatnonzero(ra == a)[0])]
                sims.append({"rule": rule, "reweight": reweight, "alpha_tot": a, **p,
                             "eps_theory": float(th),
                             "theory_converged": bool(np.isfinite(th))})
                progress.step(f"sim {rule} reweight={reweight} a_tot={a:g}")
    at, et = np.asarray(c["alpha_tot"]), np.asarray(c["noise"])
    j_cut = int(np.argmin(np.abs(np.log(at / c["cut_alpha_tot"]))))

    def draw():
        fig, axes = _plot.figure(2, 2, width=4.4, height=3.4)
        ax = axes[0]
        handles = _plot.winner_map(ax, at, et, g["best"], POLICIES, COLORS, LABELS, "0.85")
        ax.set_xscale("log")
        ax.set_xlabel(r"pool size $\alpha_{tot}$")
        ax.set_ylabel(r"label noise $\eta$")
        ax.set_title(f"(a) which selection wins (f = {c['f']:g}, {c['learner']}, "
                     f"$\\lambda$ = {c['lam']:g})", fontsize=9)
        ax.legend(handles=handles, loc="upper right", fontsize=7)
        ax = axes[1]
        mesh = ax.pcolormesh(at, et, g["margin"], cmap="viridis", shading="nearest")
        cb = fig.colorbar(mesh, ax=ax)
        cb.set_label(r"$\log_{10}(\varepsilon_{runner\,up} / \varepsilon_{best})$", fontsize=8)
        ax.set_xscale("log")
        ax.set_xlabel(r"pool size $\alpha_{tot}$")
        ax.set_ylabel(r"label noise $\eta$")
        ax.set_title("(b) by how much the best policy wins", fontsize=9)
        ax = axes[2]
        for i, p in enumerate(POLICIES):
            ax.plot(et, g["eps"][i, :, j_cut], "o-", ms=3, color=COLORS[p], label=LABELS[p])
        ax.axhline(0.5, color="k", lw=0.8, ls=":")
        ax.set_xlabel(r"label noise $\eta$")
        ax.set_ylabel(r"test error $\varepsilon$ (clean teacher)")
        ax.set_title(f"(c) every policy at $\\alpha_{{tot}}$ = {at[j_cut]:.3g}", fontsize=9)
        ax.legend(loc="upper left", fontsize=7)
        ax = axes[3]
        for rule in SOFT_RULES:
            col = COLORS[(rule, "abs")]
            for r_ in (0, 1):
                ax.plot(ra, rw[f"eps_{rule}_{r_}"], color=col, lw=1.6, ls="--" if r_ else "-",
                        label=f"soft keep {rule}" + (", reweighted" if r_ else ", biased"))
                pts = [s for s in sims if s["rule"] == rule and s["reweight"] == bool(r_)]
                ax.errorbar([s["alpha_tot"] for s in pts], [s["eps_mean"] for s in pts],
                            yerr=[s["eps_sem"] for s in pts], fmt="o" if r_ == 0 else "s",
                            mfc="white" if r_ else col, ms=4, capsize=2, color=col)
        ax.plot(ra, rw["eps_random"], color="0.55", lw=1.2, label="random")
        ax.set_xscale("log")
        ax.set_yscale("log")
        from matplotlib.ticker import NullFormatter, ScalarFormatter

        ticks = [t for t in (1, 2, 5, 10, 20, 50, 100, 200) if ra[0] <= t <= ra[-1]]
        ax.set_xticks(ticks)
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel(r"pool size $\alpha_{tot}$")
        ax.set_ylabel(r"test error $\varepsilon$")
        ax.set_title(f"(d) biased vs reweighted, $\\tau$ = {c['softness']:g}, "
                     f"$\\eta$ = {c['rw_noise']:g}; markers N = {c['n']}", fontsize=9)
        ax.legend(loc="lower left", fontsize=7)
        return fig

    paths = _plot.render(out, NAME, c, draw)
    rows = {k: [] for k in ("source", "rule", "metric", "softness", "reweight", "noise",
                            "alpha_tot", "eps", "eps_sem", "n_flagged")}

    def add(**kv):
        for k in rows:
            rows[k].append(kv.get(k, np.nan))

    for i, (rule, metric) in enumerate(POLICIES):
        for a_i, eta in enumerate(et):
            for b_i, a in enumerate(at):
                add(source="theory", rule=rule, metric=metric, softness=0.0, reweight=False,
                    noise=eta, alpha_tot=a, eps=g["eps"][i, a_i, b_i], n_flagged=0)
    for rule in SOFT_RULES:
        for r_ in (0, 1):
            for a, e in zip(ra, rw[f"eps_{rule}_{r_}"]):
                add(source="theory", rule=rule, metric="abs", softness=c["softness"],
                    reweight=bool(r_), noise=c["rw_noise"], alpha_tot=a, eps=e, n_flagged=0)
    for s in sims:
        add(source="simulation", rule=s["rule"], metric="abs", softness=c["softness"],
            reweight=s["reweight"], noise=c["rw_noise"], alpha_tot=s["alpha_tot"],
            eps=s["eps_mean"], eps_sem=s["eps_sem"], n_flagged=s["n_flagged"])
    n_unc = int((~np.isfinite(g["eps"])).sum()
                + sum((~np.isfinite(v)).sum() for v in rw.values()))
    counts, z = certification(n_unc, sims)
    share = {LABELS[p]: float(np.mean(g["best"] == i)) for i, p in enumerate(POLICIES)}
    write_table(out / f"{NAME}.csv", rows, {"figure": NAME, "theta_deg": 0.0, **c,
                                             "winner_share": share, **counts})
    return {"paths": paths, "grid": g, "reweight": rw, "sim": sims, "config": c,
            "z": z, "winner_share": share, **counts}


if __name__ == "__main__":
    main(quick=True)
