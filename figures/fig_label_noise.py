"""Figure 6: pruning with noisy labels, logistic-regression students.

Top row and bottom left: learning curves ``eps(alpha_prune)`` at kept fraction ``f`` for
keep-hard, keep-easy and random pruning (label-free metric ``|p|``, ``theta = 0``) with each
label flipped with probability ``eta`` = 0, 0.1, 0.2; theory lines from the certified ERM
fixed point (:func:`prunescale.theory.solve`), markers from certified simulated
students (:func:`prunescale.sims.simulate`, mean and standard error). ``eps`` is the
error against the clean teacher. Bottom right: the easy-vs-hard phase diagram over pool size
``alpha_tot`` and noise ``eta`` at the same ``f``: colour ``log10(eps_hard / eps_easy)``
(blue: keep easy wins, as in figure 3), black line: equal error (interpolated in
``log alpha_tot`` between certified grid points).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from prunescale.figures import _plot
from prunescale._progress import Progress
from prunescale.figures._store import cached, certification, write_table

NAME = "fig6_label_noise"
RULES = ("hard", "easy", "random")
RULE_COLORS = {"hard": "#b2182b", "easy": "#2166ac", "random": "0.35"}


def config(quick: bool) -> dict:
    return {
        "learner": "logistic",
        "lam": 0.01,
        "f": 0.3,
        "noise": [0.0, 0.1, 0.2],
        "alpha_theory": np.round(np.geomspace(0.5, 16.0, 40 if quick else 80), 6).tolist(),
        "alpha_sim": [2.0, 8.0] if quick else [0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 12.0],
        "phase_alpha_tot": np.round(np.geomspace(1.0, 100.0, 24 if quick else 60), 6).tolist(),
        "phase_noise": np.round(np.linspace(0.0, 0.4, 9 if quick else 41), 6).tolist(),
        "n": 200 if quick else 800,
        "seeds": 8 if quick else 32,
        "seed": 0,
    }


def n_steps(quick: bool) -> int:
    c = config(quick)
    return 2 + len(RULES) * len(c["noise"]) * len(c["alpha_sim"])


def theory_curves(cache, c) -> dict:
    """Certified theory on ``rule x noise x alpha_prune`` (NaN where not certified)."""

    def compute():
        from prunescale.theory import solve

        N, A = np.meshgrid(c["noise"], c["alpha_theory"], indexing="ij")
        out = {}
        for rule in RULES:
            r = solve(rule, c["f"], A, learner=c["learner"], lam=c["lam"], noise=N)
            out[f"eps_{rule}"] = r.eps
            out[f"converged_{rule}"] = r.converged
        return out

    key = {k: c[k] for k in ("learner", "lam", "f", "noise", "alpha_theory")}
    return cached(cache, "erm-curves", {"kind": "erm-curves", **key}, compute)


def phase(cache, c) -> dict:
    """``log10(eps_hard / eps_easy)`` over ``noise x alpha_tot`` and the equal-error boundary."""

    def compute():
        from prunescale.theory import solve

        N, AT = np.meshgrid(c["phase_noise"], c["phase_alpha_tot"], indexing="ij")
        kw = dict(alpha_tot=AT, learner=c["learner"], lam=c["lam"], noise=N)
        hard = solve("hard", c["f"], **kw)
        easy = solve("easy", c["f"], **kw)
        lr = np.log10(hard.eps / easy.eps)  # NaN wherever either is not certified
        return {"eps_hard": hard.eps, "eps_easy": easy.eps, "log_ratio": lr,
                "boundary": boundary(np.asarray(c["phase_alpha_tot"]), lr)}

    key = {k: c[k] for k in ("learner", "lam", "f", "phase_noise", "phase_alpha_tot")}
    return cached(cache, "erm-phase", {"kind": "erm-phase", **key}, compute)


def boundary(alpha_tot: np.ndarray, log_ratio: np.ndarray) -> np.ndarray:
    """Per row, the first ``alpha_tot`` where ``log_ratio`` changes sign from easy-wins (> 0)
    to hard-wins (< 0), linear in ``log alpha_tot`` between the two certified grid points that
    bracket it; NaN if the row has no such change or a bracketing point is not certified."""
    out = np.full(log_ratio.shape[0], np.nan)
    la = np.log(alpha_tot)
    for i, row in enumerate(log_ratio):
        for j in range(len(row) - 1):
            a, b = row[j], row[j + 1]
            if np.isfinite(a) and np.isfinite(b) and a > 0 >= b:
                out[i] = float(np.exp(la[j] + (la[j + 1] - la[j]) * a / (a - b)))
                break
            if not (np.isfinite(a) and np.isfinite(b)):
                break  # an uncertified point before the change: no boundary claimed
    return out


def sim_point(cache, *, rule, f, alpha_prune, noise, learner, lam, n, seeds, seed) -> dict:
    """Certified regularized students at one configuration, with the matching theory."""
    cfg = {"kind": "erm-sim", "rule": rule, "f": float(f), "alpha_prune": float(alpha_prune),
           "noise": float(noise), "learner": learner, "lam": float(lam), "n": int(n),
           "seeds": int(seeds), "seed": int(seed)}

    def compute():
        from prunescale import sims
        from prunescale.theory import Pruning
        from prunescale.theory import solve

        r = sims.simulate(Pruning(rule, f), alpha_prune=alpha_prune, n=n, seeds=seeds,
                          learner=learner, lam=lam, noise=noise, seed=seed, progress=False)
        th = solve(rule, f, alpha_prune, learner=learner, lam=lam, noise=noise)
        return {"eps_mean": r.eps_mean, "eps_sem": r.eps_sem, "n_flagged": r.n_flagged,
                "max_eps_err": r.max_eps_err, "eps_theory": float(th.eps.item()),
                "theory_converged": bool(th.converged.item())}

    return {k: v.item() for k, v in cached(cache, "erm-sim", cfg, compute).items()}


def main(quick: bool = True, out="prunescale-figures", cache=None, progress=None):
    c = config(quick)
    out = Path(out)
    cache = out / ".cache" if cache is None else cache
    progress = progress or Progress(n_steps(quick))
    th = theory_curves(cache, c)
    progress.step("theory: noisy learning curves")
    ph = phase(cache, c)
    progress.step("theory: noise phase diagram")
    sims = []
    for eta in c["noise"]:
        for rule in RULES:
            for a in c["alpha_sim"]:
                p = sim_point(cache, rule=rule, f=c["f"], alpha_prune=a, noise=eta,
                              learner=c["learner"], lam=c["lam"], n=c["n"], seeds=c["seeds"],
                              seed=c["seed"])
                sims.append({"rule": rule, "noise": eta, "alpha_prune": a, **p})
                progress.step(f"sim {rule} eta={eta:g} a={a:g}")
    at = np.asarray(c["alpha_theory"])

    def draw():
        fig, axes = _plot.figure(2, 2, width=4.2, height=3.3)
        for k, eta in enumerate(c["noise"]):
            ax = axes[k]
            for rule in RULES:
                eps = th[f"eps_{rule}"][k]
                ax.plot(at, eps, color=RULE_COLORS[rule], lw=1.6,
                        label="random" if rule == "random" else f"keep {rule}")
                _plot.mark_uncertified(ax, at, eps, color=RULE_COLORS[rule])  # NaN: uncertified
                pts = [s for s in sims if s["rule"] == rule and s["noise"] == eta]
                ax.errorbar([s["alpha_prune"] for s in pts], [s["eps_mean"] for s in pts],
                            yerr=[s["eps_sem"] for s in pts], fmt="o", ms=4, capsize=2,
                            color=RULE_COLORS[rule])
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel(r"$\alpha_{prune} = P/N$")
            ax.set_ylabel(r"test error $\varepsilon$ (clean teacher)")
            ax.set_title(f"label noise $\\eta$ = {eta:g}, f = {c['f']:g}\n"
                         f"{c['learner']}, $\\lambda$ = {c['lam']:g}; markers: N = {c['n']}, "
                         f"{c['seeds']} students", fontsize=9)
            ax.legend(loc="lower left", fontsize=7)
        ax = axes[3]
        lr = ph["log_ratio"]
        pat, pno = np.asarray(c["phase_alpha_tot"]), np.asarray(c["phase_noise"])
        lim = np.nanmax(np.abs(lr))
        mesh = ax.pcolormesh(pat, pno, lr, cmap=_plot.PHASE_CMAP, vmin=-lim, vmax=lim,
                             shading="nearest")
        cb = fig.colorbar(mesh, ax=ax)
        cb.set_label(r"$\log_{10}(\varepsilon_{hard} / \varepsilon_{easy})$ (> 0: easy wins)",
                     fontsize=8)
        ax.plot(ph["boundary"], pno, "k-", lw=2, label="equal error")
        bad = ~np.isfinite(lr)
        if bad.any():
            ax.plot(np.broadcast_to(pat, lr.shape)[bad], np.broadcast_to(pno[:, None],
                    lr.shape)[bad], "kx", ms=4, label="not certified")
        ax.set_xscale("log")
        ax.set_xlabel(r"pool size $\alpha_{tot}$")
        ax.set_ylabel(r"label noise $\eta$")
        ax.set_title(f"keep easy vs keep hard with noise, f = {c['f']:g}", fontsize=9)
        ax.legend(loc="upper right", fontsize=7)
        return fig

    paths = _plot.render(out, NAME, c, draw)
    rows = {k: [] for k in ("source", "rule", "noise", "alpha_prune", "alpha_tot", "eps",
                            "eps_sem", "theory_converged", "n_flagged")}

    def add(**kv):
        for k in rows:
            rows[k].append(kv.get(k, np.nan))

    for rule in RULES:
        for k, eta in enumerate(c["noise"]):
            for j, a in enumerate(at):
                add(source="theory", rule=rule, noise=eta, alpha_prune=a, alpha_tot=a / c["f"],
                    eps=th[f"eps_{rule}"][k, j], theory_converged=bool(
                        th[f"converged_{rule}"][k, j]), n_flagged=0)
    for s in sims:
        add(source="simulation", rule=s["rule"], noise=s["noise"], alpha_prune=s["alpha_prune"],
            alpha_tot=s["alpha_prune"] / c["f"], eps=s["eps_mean"], eps_sem=s["eps_sem"],
            theory_converged=s["theory_converged"], n_flagged=s["n_flagged"])
    for i, eta in enumerate(c["phase_noise"]):
        for j, a in enumerate(c["phase_alpha_tot"]):
            for rule in ("hard", "easy"):
                e = ph[f"eps_{rule}"][i, j]
                add(source="phase", rule=rule, noise=eta, alpha_prune=a * c["f"], alpha_tot=a,
                    eps=e, theory_converged=bool(np.isfinite(e)), n_flagged=0)
    n_unc = int(sum((~np.asarray(th[f"converged_{r}"], bool)).sum() for r in RULES)
                + (~np.isfinite(ph["log_ratio"])).sum())
    counts, z = certification(n_unc, sims)
    write_table(out / f"{NAME}.csv", rows,
                {"figure": NAME, "theta_deg": 0.0, **c, "boundary_noise": c["phase_noise"],
                 "boundary_alpha_tot": np.asarray(ph["boundary"]).tolist(), **counts})
    return {"paths": paths, "theory": th, "phase": ph, "sim": sims, "config": c,
            "z": z, **counts}


if __name__ == "__main__":
    main(quick=True)
