"""Figure 9: self-supervised pruning, the prototype probe on spiked inputs (max-margin student).

Inputs ``x ~ N(0, I + S u u^T)`` carry a spike of strength ``S`` along the teacher ``u``
(``docs/structure.md``). The label-free metric ranks the pool by the cosine distance to the
*prototype* ``+-v``, the top eigenvector of an independent unlabeled sample of ``alpha_ssl N``
inputs (here ``alpha_ssl = alpha_tot``, a sample as large as the pool); keep-hard keeps the
examples farthest from the prototypes. Its angle to the teacher follows the BBP transition:
``90`` degrees (no information) for ``alpha_ssl S^2 <= 1``. All theory is the certified
max-margin theory (:func:`prunescale.theory.solve`; uncertified points are left out and
counted); markers are certified simulated students (:func:`prunescale.sims.simulate`, mean and
standard error).

* (a) Which selection wins over the spike ``S`` and the pool ``alpha_tot``: the smallest theory
  ``eps`` over the kept fractions :func:`config` ``["f"]`` of prototype keep-hard and prototype
  keep-easy, against no pruning (``random`` at ``f = 1``: random pruning with ``f < 1`` at a
  fixed pool is never better). The BBP line ``alpha_tot = 1/S^2`` is drawn, and the region
  where the best label-free error (of the three) is within :data:`TOL` of the best error with
  the perfect supervised probe (a fixed probe at ``theta = 0``, best of keep-hard, keep-easy
  over the same ``f`` and no pruning) is outlined.
* (b) Learning curves at two spikes: ``eps`` against ``alpha_prune`` at a fixed ``f``
  (``alpha_tot = alpha_prune / f``) for prototype keep-hard, perfect-probe keep-hard and random
  pruning; theory lines and simulation markers.
* (c) The prototype's angle to the teacher against ``alpha_ssl``: the BBP limit and the
  measured angles of the eigenvector and of 2-means (``prototype_method="kmeans"``).

The practitioner's variant, the prototype computed on the pool itself
(``prototype_source="pool"``), is compared with the independent sample at one configuration
(:func:`pool_check`; the full run only, ``config(quick)["pool_check"]["n"]``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from prunescale.figures import _plot
from prunescale._progress import Progress
from prunescale.figures._store import cached, certification, write_table

NAME = "fig9_ssl"
#: the label-free best counts as "as good as the supervised one" within this relative margin
TOL = 0.10
#: pruning counts as matching no pruning within this relative error (the certificates'
#: precision): keep-hard that keeps every support vector of the pool *is* the pool's student
#: (relative differences of 1e-14 in the theory), same error with fewer examples
TIE = 1e-4
#: the classes of the winner map (index -> name); -1: not decided (an uncertified point)
WINNERS = ("hard", "easy", "none")
WIN_LABELS = {"hard": "prototype keep hard (ties no pruning)", "easy": "prototype keep easy",
              "none": "no pruning"}
WIN_COLORS = {"hard": "#b2182b", "easy": "#2166ac", "none": "0.6"}
#: the learning-curve policies of panel (b): name -> keywords of solve / simulate
CURVES = {
    "prototype": {"rule": "hard", "probe": "prototype"},
    "perfect": {"rule": "hard", "probe": "fixed"},
    "random": {"rule": "random", "probe": "fixed"},
}
CURVE_LABELS = {"prototype": "prototype keep hard", "perfect": r"keep hard, $\theta$ = 0",
                "random": "random"}
CURVE_COLORS = {"prototype": "#b2182b", "perfect": "k", "random": "0.55"}
METHOD_COLORS = {"eigen": "#1b7837", "kmeans": "#e08214"}


def config(quick: bool) -> dict:
    return {
        "learner": "max-margin",
        # (a): the winner map
        "snr": np.round(np.geomspace(0.1, 30.0, 9 if quick else 25), 6).tolist(),
        "alpha_tot": np.round(np.geomspace(0.3, 300.0, 9 if quick else 25), 6).tolist(),
        "f": ([0.1, 0.2, 0.35, 0.5, 0.7, 0.85] if quick
              else np.round(np.linspace(0.05, 0.95, 19), 6).tolist()),
        # (b): learning curves at fixed f
        "curve_snr": [1.0, 9.0],
        "curve_f": 0.3,
        "curve_alpha_prune": np.round(np.geomspace(0.3, 20.0, 13 if quick else 31), 6).tolist(),
        "sim_alpha_prune": [4.0] if quick else [1.0, 2.0, 4.0, 8.0],
        # (c): the prototype's angle; the students are a cheap by-product (f, alpha_tot)
        "angle_snr": [2.0] if quick else [2.0, 4.0],
        "angle_alpha_ssl": ([0.1, round(4.0 / 0.3, 6)] if quick
                            else [0.03, 0.06, 0.1, 0.2, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0]),
        "angle_methods": ["eigen", "kmeans"],
        # quick: the pool and kept sizes of (b)'s markers (their compiled solver is reused);
        # full: a small pool (cheap students at N = 800)
        "angle_f": 0.3 if quick else 0.5,
        "angle_alpha_tot": round(4.0 / 0.3, 6) if quick else 1.0,
        "n": 200 if quick else 800,
        "seeds": 8 if quick else 16,
        "seed": 0,
        # the practitioner's variant: the prototype of the pool itself, against the
        # independent sample (keep-hard); no N in quick mode (about 15 s at N = 400)
        "pool_check": {"snr": 4.0, "alpha_tot": 4.0, "f": 0.5, "rule": "hard",
                       "n": [] if quick else [400, 800], "seeds": 32},
    }


def n_steps(quick: bool) -> int:
    c = config(quick)
    return (2 + len(c["curve_snr"]) * (1 + len(CURVES) * len(c["sim_alpha_prune"]))
            + len(c["angle_snr"]) * len(c["angle_alpha_ssl"]) * len(c["angle_methods"])
            + 2 * len(c["pool_check"]["n"]))


def _eps(r) -> np.ndarray:
    """The certified ``eps`` of a theory result (NaN where not certified)."""
    return np.where(np.asarray(r.converged, bool), np.asarray(r.eps, float), np.nan)


def best_over_f(eps: np.ndarray) -> np.ndarray:
    """The smallest ``eps`` over the last axis (the kept fraction); NaN unless every kept
    fraction is certified (an uncertified one could be the true best)."""
    eps = np.asarray(eps, float)
    return np.where(np.isfinite(eps).all(axis=-1), np.min(eps, axis=-1), np.nan)


def winner(best_hard, best_easy, none, tie: float = TIE) -> np.ndarray:
    """Per point: the index in :data:`WINNERS` of the smallest error, pruning preferred where
    it is within the relative ``tie`` of no pruning (the same error with fewer examples);
    ``-1`` unless all three are certified."""
    stack = np.stack([np.asarray(x, float) for x in (best_hard, best_easy, none)])
    stack[2] = stack[2] * (1.0 + tie)
    known = np.isfinite(stack).all(axis=0)
    return np.where(known, np.argmin(np.where(np.isfinite(stack), stack, np.inf), axis=0), -1)


def grid(cache, c) -> dict:
    """Panel (a): ``eps[S, alpha_tot, f]`` of prototype keep-hard / keep-easy (``alpha_ssl =
    alpha_tot``) and of the perfect probe's keep-hard / keep-easy, and no pruning
    ``eps[S, alpha_tot]`` (NaN where not certified)."""

    def compute():
        from prunescale.theory import solve

        S, A, F = np.meshgrid(c["snr"], c["alpha_tot"], c["f"], indexing="ij")
        out = {}
        for rule in ("hard", "easy"):
            out[f"proto_{rule}"] = _eps(solve(rule, F, alpha_tot=A, snr=S, probe="prototype",
                                              learner=c["learner"]))
            out[f"sup_{rule}"] = _eps(solve(rule, F, alpha_tot=A, snr=S, theta_deg=0.0,
                                            learner=c["learner"]))
        out["none"] = _eps(solve("random", 1.0, alpha_tot=A[..., 0], snr=S[..., 0],
                                 learner=c["learner"]))
        return out

    key = {k: c[k] for k in ("learner", "snr", "alpha_tot", "f")}
    return cached(cache, "ssl-grid", {"kind": "ssl-grid", **key}, compute)


def decide(g: dict, f) -> dict:
    """The winner map and the label-free vs supervised comparison of panel (a) (``f``: the
    kept fractions of the last axis of ``g``)."""
    bh, be = best_over_f(g["proto_hard"]), best_over_f(g["proto_easy"])
    best_free = np.fmin(np.fmin(bh, be), g["none"])
    sh, se = best_over_f(g["sup_hard"]), best_over_f(g["sup_easy"])
    best_sup = np.fmin(np.fmin(sh, se), g["none"])
    known = (np.isfinite(bh) & np.isfinite(be) & np.isfinite(g["none"]) & np.isfinite(sh)
             & np.isfinite(se))
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(known, best_free / best_sup, np.nan)
    # keep-hard's smallest kept fraction that reaches no pruning's error (within TIE)
    f = np.asarray(f, float)
    reach = g["proto_hard"] <= (g["none"] * (1.0 + TIE))[..., None]
    f_free = np.where(reach.any(axis=-1), np.min(np.where(reach, f, np.inf), axis=-1), np.nan)
    return {"best": winner(bh, be, g["none"]), "best_hard": bh, "best_easy": be,
            "hard_f_free": f_free,
            "hard_strictly_better": np.isfinite(bh) & (bh < g["none"] * (1.0 - TIE)),
            "best_free": np.where(known, best_free, np.nan),
            "best_sup": np.where(known, best_sup, np.nan),
            "ratio": ratio, "within": np.where(known, ratio <= 1.0 + TOL, False)}


def curve_alphas(c) -> np.ndarray:
    """Budgets of panel (b): the line's grid and the simulated ones."""
    return np.unique(np.concatenate([c["curve_alpha_prune"], c["sim_alpha_prune"]]))


def curves(cache, c, snr: float) -> dict:
    """Panel (b): ``eps`` of every policy of :data:`CURVES` along :func:`curve_alphas` at
    fixed ``f`` and spike ``snr`` (NaN where not certified)."""

    def compute():
        from prunescale.theory import solve

        a = curve_alphas(c)
        out = {}
        for name, kw in CURVES.items():
            r = solve(kw["rule"], c["curve_f"], a, snr=snr, probe=kw["probe"],
                      learner=c["learner"])
            out[name] = _eps(r)
            if kw["probe"] == "prototype":
                out["prototype_deg"] = np.asarray(r.theta_deg, float)
        return out

    key = {k: c[k] for k in ("learner", "curve_f", "curve_alpha_prune", "sim_alpha_prune")}
    return cached(cache, "ssl-curves", {"kind": "ssl-curves", "snr": float(snr), **key},
                  compute)


def sim_point(cache, *, rule, f, alpha_tot, snr, probe, n, seeds, seed, alpha_ssl=None,
              prototype_method="eigen", prototype_source="independent") -> dict:
    """Certified simulated max-margin students at one point (``pool`` mode), with the
    measured probe angle."""
    cfg = {"kind": "ssl-sim", "rule": rule, "f": float(f), "alpha_tot": float(alpha_tot),
           "snr": float(snr), "probe": probe, "n": int(n), "seeds": int(seeds),
           "seed": int(seed), "alpha_ssl": None if alpha_ssl is None else float(alpha_ssl),
           "prototype_method": prototype_method, "prototype_source": prototype_source}

    def compute():
        from prunescale import sims

        kw = {}
        if probe == "prototype":
            kw = dict(alpha_ssl=alpha_ssl, prototype_method=prototype_method,
                      prototype_source=prototype_source)
        r = sims.simulate(rule=rule, f=f, n=n, seeds=seeds, alpha_tot=alpha_tot, seed=seed,
                          snr=snr, probe=probe, progress=False, **kw)
        return {"eps_mean": r.eps_mean, "eps_sem": r.eps_sem,
                "probe_deg_mean": r.probe_deg_mean, "probe_deg_sem": r.probe_deg_sem,
                "n_flagged": r.n_flagged}

    return {k: v.item() for k, v in cached(cache, "ssl-sim", cfg, compute).items()}


def pool_check(cache, c, progress=None) -> list[dict]:
    """The prototype of the pool itself against that of an independent sample, at
    ``c["pool_check"]`` for each of its ``N``: simulated ``eps`` (and the theory, which
    assumes the independent sample)."""
    from prunescale.theory import solve

    pc = c["pool_check"]
    th = float(_eps(solve(pc["rule"], pc["f"], alpha_tot=pc["alpha_tot"], snr=pc["snr"],
                          probe="prototype", learner=c["learner"])))
    out = []
    for n in pc["n"]:
        for source in ("independent", "pool"):
            p = sim_point(cache, rule=pc["rule"], f=pc["f"], alpha_tot=pc["alpha_tot"],
                          snr=pc["snr"], probe="prototype", n=n, seeds=pc["seeds"],
                          seed=c["seed"], prototype_source=source)
            out.append({"n": int(n), "source": source, **p, "theory": th})
            if progress:
                progress.step(f"sim prototype from the {source} sample, N={n}")
    return out


def _segments(x, labels) -> list:
    """Runs of equal labels along ``x``: ``[[label, x_first, x_last], ...]``."""
    out = []
    for xi, lab in zip(x, labels):
        if out and out[-1][0] == lab:
            out[-1][2] = float(xi)
        else:
            out.append([lab, float(xi), float(xi)])
    return out


def _answers(c, g, d, cur, sims, angles, pools) -> dict:
    """What the figure says: where each selection wins, where label-free pruning is as good
    as supervised pruning (within :data:`TOL`), the learning curves at the simulated
    budgets, the measured angles against BBP and the pool-prototype check."""
    S, A = np.asarray(c["snr"]), np.asarray(c["alpha_tot"])
    names = np.array(["not certified"] + list(WINNERS))
    best = d["best"]
    below = A[None, :] * S[:, None] ** 2 <= 1.0
    within = d["within"]
    out = {
        "winner_share": {w: float(np.mean(best == i)) for i, w in enumerate(WINNERS)},
        "winner_by_snr": {f"{s:g}": _segments(A, names[best[i] + 1])
                          for i, s in enumerate(S)},
        "no_pruning_wins_below_bbp": bool(np.all(best[below] == WINNERS.index("none"))),
        # keep-hard never beats no pruning by more than TIE: it ties it (every support vector
        # kept) with a kept fraction f < 1; the smallest such f over its points
        "keep_hard_strictly_better_share": float(np.mean(d["hard_strictly_better"])),
        "keep_hard_smallest_f_tying_no_pruning": (
            [float(np.nanmin(d["hard_f_free"][best == 0])),
             float(np.nanmax(d["hard_f_free"][best == 0]))] if np.any(best == 0) else None),
        "keep_easy_largest_gain_over_no_pruning": (
            float(np.nanmax(g["none"][best == 1] / d["best_easy"][best == 1]))
            if np.any(best == 1) else None),
        "within_10pct_share": float(np.mean(within)),
        # per winner: the share of its points where the label-free best is within TOL
        "within_10pct_share_by_winner": {
            w: (float(np.mean(within[best == i])) if np.any(best == i) else None)
            for i, w in enumerate(WINNERS)},
        "within_10pct_by_snr": {
            f"{s:g}": _segments(A, np.where(np.isfinite(d["ratio"][i]),
                                            np.where(within[i], "within", "worse"),
                                            "not certified"))
            for i, s in enumerate(S)},
        "largest_ratio_label_free_to_supervised": float(np.nanmax(d["ratio"])),
    }
    ap = curve_alphas(c)
    out["curves"] = {
        f"snr_{s:g}": {f"alpha_prune_{a:g}": {
            name: (None if not np.isfinite(cur[s][name][j]) else round(float(cur[s][name][j]), 5))
            for name in CURVES} | {"prototype_deg": round(float(cur[s]["prototype_deg"][j]), 2)}
            for j, a in enumerate(ap) if a in c["sim_alpha_prune"]}
        for s in c["curve_snr"]}
    z = [(p["probe_deg_mean"] - p["bbp_deg"]) / p["probe_deg_sem"] for p in angles
         if p["method"] == "eigen" and p["alpha_ssl"] * p["snr"] ** 2 > 1.0
         and p["probe_deg_sem"] > 0]
    out["angles"] = {
        "eigen_max_abs_z_above_bbp": float(np.max(np.abs(z))) if z else None,
        "measured_deg": {f"snr_{p['snr']:g}_{p['method']}_a{p['alpha_ssl']:g}":
                         [round(p["probe_deg_mean"], 2), round(p["probe_deg_sem"], 2),
                          round(p["bbp_deg"], 2)] for p in angles},
    }
    out["pool_prototype"] = pool_answer(pools, c["pool_check"])
    return out


def pool_answer(pools, pc: dict):
    """Per ``N``: ``eps`` mean and standard error with the independent sample and with the
    pool's own prototype, and their difference in combined standard errors."""
    if not pools:
        return "not computed in quick mode (prunescale figures --full)"
    out = {}
    for n in sorted({p["n"] for p in pools}):
        out[f"n_{n}"] = {p["source"]: [round(p["eps_mean"], 5), round(p["eps_sem"], 5)]
                         for p in pools if p["n"] == n}
        out[f"n_{n}"]["diff_in_se"] = round(_diff_se(pools, n), 2)
    return {**out, "theory": round(pools[0]["theory"], 5), **pc}


def _diff_se(pools, n) -> float:
    """(pool - independent) / combined standard error at ``N = n``."""
    a, b = [next(p for p in pools if p["n"] == n and p["source"] == s)
            for s in ("independent", "pool")]
    return (b["eps_mean"] - a["eps_mean"]) / float(np.hypot(a["eps_sem"], b["eps_sem"]))


def main(quick: bool = True, out="prunescale-figures", cache=None, progress=None):
    c = config(quick)
    out = Path(out)
    cache = out / ".cache" if cache is None else cache
    progress = progress or Progress(n_steps(quick))
    from prunescale.theory.spiked import prototype_angle_deg

    g = grid(cache, c)
    d = decide(g, c["f"])
    progress.step("theory: prototype and perfect probe over spike and pool size")
    cur = {}
    for s in c["curve_snr"]:
        cur[s] = curves(cache, c, s)
        progress.step(f"theory: learning curves at S = {s:g}")
    common = dict(n=c["n"], seeds=c["seeds"], seed=c["seed"])
    ap = curve_alphas(c)
    sims = []
    for s in c["curve_snr"]:
        for name, kw in CURVES.items():
            for a in c["sim_alpha_prune"]:
                p = sim_point(cache, f=c["curve_f"], alpha_tot=a / c["curve_f"], snr=s,
                              **kw, **common)
                th = float(cur[s][name][int(np.flatnonzero(ap == a)[0])])
                sims.append({"policy": name, "snr": s, "alpha_prune": a, **p, "theory": th,
                             "theory_converged": bool(np.isfinite(th))})
                progress.step(f"sim {name} S={s:g} a_prune={a:g}")
    angles = []
    for s in c["angle_snr"]:
        for m in c["angle_methods"]:
            for a in c["angle_alpha_ssl"]:
                p = sim_point(cache, rule="hard", f=c["angle_f"], alpha_tot=c["angle_alpha_tot"],
                              snr=s, probe="prototype", alpha_ssl=a, prototype_method=m,
                              **common)
                angles.append({"snr": s, "method": m, "alpha_ssl": a, **p,
                               "bbp_deg": float(prototype_angle_deg(a, s))})
                progress.step(f"sim prototype angle {m} S={s:g} a_ssl={a:g}")
    pools = pool_check(cache, c, progress)
    progress.step("answers")
    answers = _answers(c, g, d, cur, sims, angles, pools)
    S, A = np.asarray(c["snr"]), np.asarray(c["alpha_tot"])
    a_line = np.geomspace(min(c["angle_alpha_ssl"] + [0.02]) / 2,
                          max(c["angle_alpha_ssl"]) * 2, 200)

    def draw():
        from matplotlib.lines import Line2D

        fig, axes = _plot.figure(2, 2, width=4.6, height=3.6)
        ax = axes[0]
        handles = _plot.winner_map(ax, A, S, d["best"], WINNERS, WIN_COLORS, WIN_LABELS, "0.9")
        if np.any(d["within"]) and not np.all(d["within"]):
            ax.contour(A, S, d["within"].astype(float), levels=[0.5], colors="k",
                       linewidths=1.4)
        ax.plot(A, 1.0 / np.sqrt(A), "w--", lw=1.6)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(A[0], A[-1])
        ax.set_ylim(S[0], S[-1])
        ax.set_xlabel(r"pool size $\alpha_{tot}$ (= unlabeled sample $\alpha_{ssl}$)")
        ax.set_ylabel("spike S")
        ax.set_title("(a) which selection wins (label-free prototype metric)", fontsize=9)
        handles += [Line2D([], [], color="w", ls="--", label=r"BBP: $\alpha S^2$ = 1"),
                    Line2D([], [], color="k", label=f"within {TOL:.0%} of supervised")]
        leg = ax.legend(handles=handles, loc="lower left", fontsize=7, framealpha=0.9)
        leg.get_frame().set_facecolor("0.8")
        for k, s in enumerate(c["curve_snr"]):
            ax = axes[1 + k]
            for name in CURVES:
                y = cur[s][name]
                ax.plot(ap, y, "-", lw=1.6, color=CURVE_COLORS[name], label=CURVE_LABELS[name])
                _plot.mark_uncertified(ax, ap, y, CURVE_COLORS[name], f"{name}: not certified")
                pts = [p for p in sims if p["snr"] == s and p["policy"] == name]
                if pts:
                    ax.errorbar([p["alpha_prune"] for p in pts], [p["eps_mean"] for p in pts],
                                yerr=[p["eps_sem"] for p in pts], fmt="o", ms=4, capsize=2,
                                color=CURVE_COLORS[name])
            a_bbp = c["curve_f"] / s ** 2  # alpha_tot S^2 = 1 at alpha_prune = f / S^2
            if ap[0] <= a_bbp <= ap[-1]:
                ax.axvline(a_bbp, color="k", lw=0.8, ls=":")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel(r"kept examples $\alpha_{prune}$")
            ax.set_ylabel(r"test error $\varepsilon$")
            ax.set_title(f"(b) learning curves, S = {s:g}, f = {c['curve_f']:g} "
                         f"($\\alpha_{{ssl}} = \\alpha_{{tot}}$); N = {c['n']}", fontsize=9)
            ax.legend(loc="lower left", fontsize=7)
        ax = axes[3]
        for s, ls in zip(c["angle_snr"], ("-", "--", ":")):
            ax.plot(a_line, prototype_angle_deg(a_line, s), "k", ls=ls, lw=1.4,
                    label=f"BBP limit, S = {s:g}")
            ax.axvline(1.0 / s ** 2, color="0.5", ls=ls, lw=0.8)
            for m in c["angle_methods"]:
                pts = [p for p in angles if p["snr"] == s and p["method"] == m]
                ax.errorbar([p["alpha_ssl"] for p in pts], [p["probe_deg_mean"] for p in pts],
                            yerr=[p["probe_deg_sem"] for p in pts], fmt="o" if ls == "-" else "s",
                            mfc=METHOD_COLORS[m] if ls == "-" else "white", ms=4, capsize=2,
                            color=METHOD_COLORS[m],
                            label=f"{'eigenvector' if m == 'eigen' else '2-means'}, S = {s:g}")
        ax.set_xscale("log")
        ax.set_ylim(0, 95)
        ax.set_xlabel(r"unlabeled sample $\alpha_{ssl}$")
        ax.set_ylabel("prototype's angle to the teacher (degrees)")
        ax.set_title(f"(c) prototype's angle; grey: BBP, $\\alpha_{{ssl}}$ = 1/S$^2$; "
                     f"N = {c['n']}", fontsize=9)
        ax.legend(loc="upper right", fontsize=7)
        fig.suptitle("Self-supervised pruning: max-margin students, inputs "
                     r"$N(0, I + S\,u u^T)$; markers: simulations, mean $\pm$ SE of "
                     f"{c['seeds']} students", fontsize=9)
        return fig

    paths = _plot.render(out, NAME, c, draw)
    rows = {k: [] for k in ("source", "panel", "policy", "rule", "probe", "snr", "f",
                            "alpha_tot", "alpha_prune", "alpha_ssl", "eps", "sem",
                            "probe_deg", "probe_deg_sem", "winner", "ratio_to_supervised",
                            "n", "n_flagged")}

    def add(**kv):
        for k in rows:
            rows[k].append(kv.get(k, np.nan))

    names = ["not certified"] + list(WINNERS)
    for i, s in enumerate(S):
        for j, a in enumerate(A):
            for key, rule, probe in (("proto_hard", "hard", "prototype"),
                                     ("proto_easy", "easy", "prototype"),
                                     ("sup_hard", "hard", "fixed"),
                                     ("sup_easy", "easy", "fixed")):
                for k, f in enumerate(c["f"]):
                    add(source="theory", panel="a", policy=key, rule=rule, probe=probe, snr=s,
                        f=f, alpha_tot=a, alpha_prune=f * a,
                        alpha_ssl=a if probe == "prototype" else np.nan,
                        eps=g[key][i, j, k], probe_deg=(
                            float(prototype_angle_deg(a, s)) if probe == "prototype" else 0.0),
                        n_flagged=0)
            add(source="theory", panel="a", policy="none", rule="random", probe="fixed",
                snr=s, f=1.0, alpha_tot=a, alpha_prune=a, eps=g["none"][i, j],
                winner=names[d["best"][i, j] + 1], ratio_to_supervised=d["ratio"][i, j],
                n_flagged=0)
    for s in c["curve_snr"]:
        for name, kw in CURVES.items():
            for j, a in enumerate(ap):
                add(source="theory", panel="b", policy=name, rule=kw["rule"],
                    probe=kw["probe"], snr=s, f=c["curve_f"], alpha_tot=a / c["curve_f"],
                    alpha_prune=a,
                    alpha_ssl=a / c["curve_f"] if kw["probe"] == "prototype" else np.nan,
                    eps=cur[s][name][j],
                    probe_deg=cur[s]["prototype_deg"][j] if kw["probe"] == "prototype" else (
                        0.0 if kw["rule"] == "hard" else np.nan), n_flagged=0)
    for p in sims:
        kw = CURVES[p["policy"]]
        add(source="simulation", panel="b", policy=p["policy"], rule=kw["rule"],
            probe=kw["probe"], snr=p["snr"], f=c["curve_f"],
            alpha_tot=p["alpha_prune"] / c["curve_f"], alpha_prune=p["alpha_prune"],
            alpha_ssl=(p["alpha_prune"] / c["curve_f"] if kw["probe"] == "prototype"
                       else np.nan), eps=p["eps_mean"], sem=p["eps_sem"],
            probe_deg=p["probe_deg_mean"], probe_deg_sem=p["probe_deg_sem"], n=c["n"],
            n_flagged=p["n_flagged"])
    for s in c["angle_snr"]:
        for a in a_line:
            add(source="theory", panel="c", policy="bbp", probe="prototype", snr=s,
                alpha_ssl=a, probe_deg=float(prototype_angle_deg(a, s)), n_flagged=0)
    for p in angles:
        add(source="simulation", panel="c", policy=p["method"], rule="hard", probe="prototype",
            snr=p["snr"], f=c["angle_f"], alpha_tot=c["angle_alpha_tot"],
            alpha_prune=c["angle_f"] * c["angle_alpha_tot"], alpha_ssl=p["alpha_ssl"],
            eps=p["eps_mean"], sem=p["eps_sem"], probe_deg=p["probe_deg_mean"],
            probe_deg_sem=p["probe_deg_sem"], n=c["n"], n_flagged=p["n_flagged"])
    pc = c["pool_check"]
    for p in pools:
        add(source="simulation", panel="pool_check", policy=f"prototype_{p['source']}",
            rule=pc["rule"], probe="prototype", snr=pc["snr"], f=pc["f"],
            alpha_tot=pc["alpha_tot"], alpha_prune=pc["f"] * pc["alpha_tot"],
            alpha_ssl=pc["alpha_tot"], eps=p["eps_mean"], sem=p["eps_sem"],
            probe_deg=p["probe_deg_mean"], probe_deg_sem=p["probe_deg_sem"], n=p["n"],
            n_flagged=p["n_flagged"])
    # every drawn theory number: the grid of (a) and the lines of (b)
    n_unc = int(sum((~np.isfinite(v)).sum() for v in g.values())
                + sum((~np.isfinite(cur[s][name])).sum() for s in cur for name in CURVES))
    counts, z = certification(n_unc, sims, flagged=sims + angles + pools, theory="theory")
    write_table(out / f"{NAME}.csv", rows, {"figure": NAME, "tol": TOL, **c,
                                             "answers": answers, **counts})
    return {"paths": paths, "grid": g, "decision": d, "curves": cur, "sim": sims,
            "angles": angles, "pool_check": pools, "config": c, "z": z,
            "answers": answers, **counts}


if __name__ == "__main__":
    main(quick=True)
