"""Figure 10: does pruning beat a slow power law? Max-margin on power-law Gaussian inputs.

Inputs ``x ~ N(0, Sigma)`` with eigenvalues ``lambda_k ∝ k^(-A)`` in ``D`` dimensions and a
teacher whose share of the label signal in eigendirection ``k`` is ``∝ k^(-B)``
(``docs/spectrum.md``). For two spectra ``A`` and two teacher decays ``B`` (one column each),
all at ``D`` = :func:`config` ``["dim"]``:

* top: ``eps`` against the kept examples ``alpha_prune`` without pruning (``random`` at
  ``f = 1``; random pruning at ``f < 1`` has the same error at the same ``alpha_prune``, and is
  simulated as a check), and along the keep-hard Pareto frontier, the smallest ``eps`` over the
  kept fractions :func:`config` ``["f"]`` (pool ``alpha_prune / f``, so ``f >= f_min`` bounds
  the pool at ``alpha_prune / f_min``), with the perfect probe (``theta = 0``) and an imperfect
  one (``theta`` = :func:`config` ``["theta_imperfect"]``). Theory lines (certified
  :func:`prunescale.theory.solve`; uncertified points are left out and counted), simulation
  markers (certified :func:`prunescale.sims.simulate` students at the frontier's ``f``, mean
  and standard error).
* bottom: the local exponent ``-d log eps / d log alpha_prune`` of each theory curve, with the
  source/capacity exponent of the unpruned max-margin learner, ``A m / (1 + A m)``,
  ``m = min(r, 1/2)``, ``r = (B - 1) / (2 A)`` (Cui et al. 2022), valid for
  ``1 << alpha D << D``.

:func:`answers` reads the curves: the exponent at the largest loads with and without pruning,
the prefactor there, and the range of ``alpha_prune`` over which the frontier's local exponent
exceeds the unpruned one by more than :data:`EXCESS` (a transient faster-than-power-law
regime).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from prunescale.figures import _plot
from prunescale._progress import Progress
from prunescale.figures._store import cached, write_table

NAME = "fig10_spectrum"
#: a local exponent counts as faster than the unpruned one when it exceeds it by this much
EXCESS = 0.1
CURVES = ("none", "perfect", "imperfect")
CURVE_LABELS = {"none": "no pruning", "perfect": r"keep hard frontier, $\theta$ = 0",
                "imperfect": "keep hard frontier, imperfect probe"}
CURVE_COLORS = {"none": "0.45", "perfect": "#b2182b", "imperfect": "#2166ac"}


def config(quick: bool) -> dict:
    ap = np.round(np.geomspace(0.01, 10.0, 9 if quick else 25), 6).tolist()
    return {
        "dim": 1000,
        "spectra": [[1.0, 2.0], [1.0, 3.0], [2.0, 3.0], [2.0, 5.0]],  # (A, B) per column
        "alpha_prune": ap,
        "f": np.round(np.geomspace(0.02, 1.0, 9 if quick else 30), 6).tolist(),
        "theta_imperfect": 10.0,
        # points of the curves' grid (quick: 0.056 and 0.32; full: 0.018 to 1.8)
        "sim_alpha_prune": [ap[2], ap[4]] if quick else ap[2:18:3],
        "sim_columns": [2] if quick else [0, 1, 2, 3],
        "seeds": 6 if quick else 16,
        "seed": 10,
    }


def n_steps(quick: bool) -> int:
    c = config(quick)
    return len(c["spectra"]) + len(c["sim_columns"]) * len(c["sim_alpha_prune"]) * 3 + 1


def _spec(c, A) -> str:
    return f"power:{A:g}:{c['dim']}"


def curves(cache, c, A: float, B: float) -> dict:
    """The theory of one column: ``eps`` without pruning and along the two frontiers (NaN
    where a point, or any kept fraction of a frontier point, is not certified), and the
    frontier's best ``f``."""
    key = {k: c[k] for k in ("dim", "alpha_prune", "f", "theta_imperfect")}

    def compute():
        from prunescale import theory

        ap = np.asarray(c["alpha_prune"])
        fs = np.asarray(c["f"])
        kw = dict(spectrum=_spec(c, A), teacher_decay=B)
        r0 = theory.solve("random", 1.0, ap, **kw)
        out = {"none": np.where(r0.converged, r0.eps, np.nan)}
        for name, th in (("perfect", 0.0), ("imperfect", c["theta_imperfect"])):
            r = theory.solve("hard", fs[None, :], ap[:, None], theta_deg=th, **kw)
            e = np.where(r.converged, r.eps, np.nan)
            ok = np.isfinite(e).all(axis=1)
            out[name] = np.where(ok, np.nanmin(np.where(ok[:, None], e, np.inf), axis=1), np.nan)
            out[f"{name}_f"] = np.where(ok, fs[np.argmin(np.where(np.isfinite(e), e, np.inf),
                                                         axis=1)], np.nan)
        return out

    return cached(cache, "spectrum-curves", {"kind": "spectrum-curves", "A": float(A),
                                             "B": float(B), **key}, compute)


def sim_point(cache, c, *, A, B, rule, f, alpha_prune, theta_deg) -> dict:
    """Certified simulated max-margin students at one point (``pool`` mode, ``N = D``)."""
    cfg = {"kind": "spectrum-sim", "A": float(A), "B": float(B), "dim": c["dim"], "rule": rule,
           "f": float(f), "alpha_prune": float(alpha_prune), "theta_deg": float(theta_deg),
           "seeds": c["seeds"], "seed": c["seed"]}

    def compute():
        from prunescale import sims

        r = sims.simulate(rule=rule, f=f, alpha_prune=alpha_prune, theta_deg=theta_deg,
                          seeds=c["seeds"], seed=c["seed"], spectrum=_spec(c, A),
                          teacher_decay=B, progress=False)
        return {"eps_mean": r.eps_mean, "eps_sem": r.eps_sem, "n_flagged": r.n_flagged}

    return {k: v.item() for k, v in cached(cache, "spectrum-sim", cfg, compute).items()}


def local_exponent(alpha, eps) -> np.ndarray:
    """``-d log eps / d log alpha`` at the midpoints of ``alpha`` (NaN next to a NaN)."""
    la, le = np.log(np.asarray(alpha, float)), np.log(np.asarray(eps, float))
    return -np.diff(le) / np.diff(la)


def source_capacity_exponent(A: float, B: float) -> float:
    """The unpruned max-margin exponent ``A m / (1 + A m)``, ``m = min(r, 1/2)``,
    ``r = (B - 1) / (2 A)`` (Cui et al. 2022); NaN where ``r <= 0``."""
    r = (B - 1.0) / (2.0 * A)
    if r <= 0:
        return float("nan")
    m = min(r, 0.5)
    return A * m / (1.0 + A * m)


def answers(c, cur) -> dict:
    """Per column: the local exponents at the largest loads (the last three curve points),
    the prefactor there (``eps`` without pruning over the frontier's), and the first contiguous
    ``alpha_prune`` range (midpoints of the curve's grid) where the frontier's local exponent
    exceeds the unpruned one by :data:`EXCESS`."""
    ap = np.asarray(c["alpha_prune"])
    mid = np.sqrt(ap[1:] * ap[:-1])
    out = []
    for (A, B), cu in zip(c["spectra"], cur):
        k0 = local_exponent(ap, cu["none"])
        row = {"A": A, "B": B, "predicted_unpruned": round(source_capacity_exponent(A, B), 3),
               "tail_unpruned": round(float(np.nanmean(k0[-3:])), 3)}
        for name in ("perfect", "imperfect"):
            k = local_exponent(ap, cu[name])
            fast = np.flatnonzero(k > k0 + EXCESS)
            if fast.size:  # the first contiguous stretch
                gaps = np.flatnonzero(np.diff(fast) > 1)
                fast = fast[:gaps[0] + 1] if gaps.size else fast
            row[f"tail_{name}"] = round(float(np.nanmean(k[-3:])), 3)
            row[f"prefactor_{name}"] = round(float(cu["none"][-1] / cu[name][-1]), 3)
            row[f"peak_{name}"] = round(float(np.nanmax(k)), 3)
            row[f"fast_{name}"] = ([round(float(mid[fast[0]]), 4), round(float(mid[fast[-1]]), 4)]
                                   if fast.size else None)
            row[f"f_floor_{name}"] = bool(np.nanmin(cu[f"{name}_f"]) <= min(c["f"]))
        out.append(row)
    return {"columns": out, "summary": _sentence(c, out)}


def _sentence(c, rows) -> str:
    parts = []
    for r in rows:
        d = r["tail_perfect"] - r["tail_unpruned"]
        verdict = ("changed the exponent at the largest loads" if abs(d) > EXCESS
                   else "only changed the prefactor at the largest loads")
        fast = r["fast_perfect"]
        tr = (f"a faster transient (local exponent up to {r['peak_perfect']:g} against "
              f"{r['tail_unpruned']:g}) for alpha_prune in [{fast[0]:g}, {fast[1]:g}]"
              if fast else "no faster transient")
        parts.append(f"A = {r['A']:g}, B = {r['B']:g}: {tr}; keep-hard (theta = 0) "
                     f"{verdict} ({r['tail_perfect']:g} against {r['tail_unpruned']:g}, "
                     f"error {r['prefactor_perfect']:g} times smaller)")
    ap = c["alpha_prune"]
    return (f"At D = {c['dim']}, alpha_prune in [{min(ap):g}, {max(ap):g}], kept fractions "
            f"f >= {min(c['f']):g} (pools up to {1 / min(c['f']):g} alpha_prune): "
            + "; ".join(parts) + ". Where the frontier's best f reaches the floor f_min, it is "
            "pruning at a fixed f.")


def main(quick: bool = True, out="prunescale-figures", cache=None, progress=None):
    c = config(quick)
    out = Path(out)
    cache = out / ".cache" if cache is None else cache
    progress = progress or Progress(n_steps(quick))
    ap = np.asarray(c["alpha_prune"])
    cur = []
    for A, B in c["spectra"]:
        cur.append(curves(cache, c, A, B))
        progress.step(f"theory: A = {A:g}, B = {B:g}")
    from prunescale import theory

    sims = []
    for col in c["sim_columns"]:
        A, B = c["spectra"][col]
        kw = dict(spectrum=_spec(c, A), teacher_decay=B)
        for a in c["sim_alpha_prune"]:
            i = int(np.argmin(np.abs(np.log(ap / a))))
            for name in CURVES:
                if name == "none":  # random pruning at f = 1/2: on the unpruned curve
                    rule, f, th = "random", 0.5, 0.0
                else:
                    rule, th = "hard", 0.0 if name == "perfect" else c["theta_imperfect"]
                    f = float(cur[col][f"{name}_f"][i])
                if not np.isfinite(f):
                    progress.step(f"sim {name} skipped (frontier not certified)")
                    continue
                r = theory.solve(rule, f, a, theta_deg=th, **kw)
                th_eps = float(r.eps) if bool(r.converged) else float("nan")
                p = sim_point(cache, c, A=A, B=B, rule=rule, f=f, alpha_prune=a, theta_deg=th)
                sims.append({"column": col, "A": A, "B": B, "policy": name, "rule": rule,
                             "f": f, "theta_deg": th, "alpha_prune": a, **p, "theory": th_eps,
                             "theory_converged": bool(np.isfinite(th_eps))})
                progress.step(f"sim {name} A={A:g} B={B:g} a_prune={a:g}")
    progress.step("answers")
    ans = answers(c, cur)

    def draw():
        fig, axes = _plot.figure(len(c["spectra"]), 2, width=3.6, height=3.1)
        ncol = len(c["spectra"])
        mid = np.sqrt(ap[1:] * ap[:-1])
        for j, ((A, B), cu) in enumerate(zip(c["spectra"], cur)):
            ax, bx = axes[j], axes[ncol + j]
            labels = {**CURVE_LABELS, "imperfect": "keep hard frontier, "
                      + rf"$\theta$ = {c['theta_imperfect']:g}"}
            for name in CURVES:
                ax.plot(ap, cu[name], "-", lw=1.6, color=CURVE_COLORS[name],
                        label=labels[name])
                _plot.mark_uncertified(ax, ap, cu[name], CURVE_COLORS[name],
                                       f"{name}: not certified")
                bx.plot(mid, local_exponent(ap, cu[name]), "-", lw=1.4,
                        color=CURVE_COLORS[name])
                pts = [p for p in sims if p["column"] == j and p["policy"] == name]
                if pts:
                    ax.errorbar([p["alpha_prune"] for p in pts], [p["eps_mean"] for p in pts],
                                yerr=[p["eps_sem"] for p in pts], fmt="o", ms=4, capsize=2,
                                color=CURVE_COLORS[name],
                                mfc="white" if name == "none" else CURVE_COLORS[name])
            floor = np.flatnonzero(cu["perfect_f"] <= min(c["f"]))
            if floor.size:  # from here on the perfect-probe frontier prunes at f = f_min
                bx.axvline(ap[floor[0]], color=CURVE_COLORS["perfect"], ls="--", lw=0.8,
                           label=rf"$\theta$ = 0 frontier at f = {min(c['f']):g}")
            pred = source_capacity_exponent(A, B)
            if np.isfinite(pred):
                bx.axhline(pred, color="k", ls=":", lw=1.0,
                           label=f"source/capacity, no pruning: {pred:.2f}")
            ax.set_xscale("log")
            ax.set_yscale("log")
            bx.set_xscale("log")
            ax.set_title(f"A = {A:g}, B = {B:g} (r = {(B - 1) / (2 * A):.2g})", fontsize=9)
            ax.set_xlabel(r"kept examples $\alpha_{prune}$")
            bx.set_xlabel(r"kept examples $\alpha_{prune}$")
            if j == 0:
                ax.set_ylabel(r"test error $\varepsilon$")
                bx.set_ylabel(r"local exponent $-d\log\varepsilon/d\log\alpha$")
                ax.legend(fontsize=7, loc="lower left")
            bx.legend(fontsize=7, loc="upper left")
            bx.set_ylim(0.0, max(2.0, float(np.nanmax([np.nanmax(local_exponent(ap, cu[n]))
                                                       for n in CURVES])) * 1.05))
        fig.suptitle(f"Max-margin on power-law inputs (D = {c['dim']}): theory lines, "
                     f"simulated students (markers, {c['seeds']} seeds; open: random "
                     f"pruning f = 0.5); frontier over f >= {min(c['f']):g}", fontsize=9)
        return fig

    paths = _plot.render(out, NAME, c, draw)
    rows = {k: [] for k in ("source", "policy", "A", "B", "alpha_prune", "f", "theta_deg",
                            "eps", "sem", "n_flagged")}

    def add(**kw):
        for k in rows:
            rows[k].append(kw.get(k, np.nan))

    for (A, B), cu in zip(c["spectra"], cur):
        for name in CURVES:
            for i, a in enumerate(ap):
                add(source="theory", policy=name, A=A, B=B, alpha_prune=a,
                    f=1.0 if name == "none" else cu[f"{name}_f"][i],
                    theta_deg=c["theta_imperfect"] if name == "imperfect" else 0.0,
                    eps=cu[name][i], n_flagged=0)
    for p in sims:
        add(source="simulation", policy=p["policy"], A=p["A"], B=p["B"],
            alpha_prune=p["alpha_prune"], f=p["f"], theta_deg=p["theta_deg"], eps=p["eps_mean"],
            sem=p["eps_sem"], n_flagged=p["n_flagged"])
    n_unc = int(sum((~np.isfinite(cu[name])).sum() for cu in cur for name in CURVES))
    counts = {"n_uncertified": n_unc, "n_flagged": int(sum(p["n_flagged"] for p in sims)),
              "theory_converged": bool(all(p["theory_converged"] for p in sims))}
    z = [(p["eps_mean"] - p["theory"]) / p["eps_sem"] for p in sims
         if p["theory_converged"] and p["eps_sem"] > 0]
    write_table(out / f"{NAME}.csv", rows, {"figure": NAME, **c, "answers": ans, **counts})
    return {"paths": paths, "curves": cur, "sim": sims, "config": c, "z": np.asarray(z),
            "answers": ans, **counts}


if __name__ == "__main__":
    main(quick=True)
