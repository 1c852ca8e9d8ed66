"""Figure 8: power-law and mixed selection policies, logistic students with label noise.

The policy families of ``docs/erm.md`` 7.5: the **power** policy keeps a pool example with
probability ``pi = min(c sigma'(B p)^A, 1)`` (``p`` the probe field, ``A > 0`` keeps hard
examples, ``A < 0`` easy ones, ``A = 0`` is random) and the **mixed** policy
``pi = R f + (1 - R) pi_rule`` mixes a random share ``R`` into keep-hard. All theory is the
certified ERM fixed point (:func:`prunescale.theory.solve`; an uncertified point is left out
of its line and marked); markers are certified simulated students
(:func:`prunescale.sims.simulate`, mean and standard error).

* (a), (b) At a fixed pool ``alpha_tot`` with flip noise ``eta``: the noisy test error
  ``eps_noisy = P(y != sign(w.x))`` against the kept fraction ``f`` for exponents ``A``, with a
  perfect probe (``theta = 0``) and an imperfect one (``theta > 0``), both at scale ``B``.
* (c), (d) Consistency: the clean error ``eps`` against the pool size ``alpha_tot`` at a fixed
  ``f`` and noise for keep-hard, keep-easy, random, mixed (``R``, hard rule) and power
  (``A = 1``), with the perfect and the imperfect probe. A policy *keeps improving* when
  ``eps`` still falls over the last decade of pool sizes at least half as fast (in
  ``log eps`` per ``log alpha_tot``) as random selection's ``~alpha_tot^-1/2``
  (:data:`STALL_SLOPE`); otherwise it *stalls*.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from prunescale.figures import _plot
from prunescale._progress import Progress
from prunescale.figures._store import cached, certification, write_table

NAME = "fig8_policies"
#: the policies of the consistency panels: name -> keywords of solve / simulate
POLICIES = {
    "hard": {"rule": "hard"},
    "easy": {"rule": "easy"},
    "random": {"rule": "random"},
    "mixed": {"rule": "hard", "random_share": None},  # R from the configuration
    "power": {"rule": "power", "power_exp": None, "probe_scale": None},
}
COLORS = {"hard": "#b2182b", "easy": "#2166ac", "random": "0.45", "mixed": "#e08214",
          "power": "#1b7837"}
#: a policy whose local slope d log eps / d log alpha_tot over the last decade is above this
#: (random selection's is about -1/2) is said to stall
STALL_SLOPE = -0.25


def config(quick: bool) -> dict:
    return {
        "learner": "logistic",
        "lam": 0.01,
        "probe_scale": 5.0,
        "thetas": [0.0, 20.0],
        # (a), (b): eps_noisy against f
        "noise": 0.05,
        "alpha_tot": 2.3,
        "exps": [-1.0, -0.5, 0.0, 0.5, 1.0],
        "f": ([0.05, 0.2, 0.4, 0.6, 0.8, 0.95] if quick
              else np.round(np.linspace(0.05, 0.95, 19), 6).tolist()),
        "sim_exps": [1.0] if quick else [-1.0, 1.0],
        "sim_f": [0.2] if quick else [0.2, 0.6],
        # (c), (d): eps against alpha_tot
        "cons_f": 0.2,
        "cons_noise": 0.1,
        "random_share": 0.2,
        "power_exp": 1.0,
        "cons_alpha_tot": (np.round(np.geomspace(1.0, 1000.0, 7), 6).tolist() if quick
                           else np.round(np.geomspace(1.0, 1000.0, 19), 6).tolist()),
        "cons_alpha_sim": [10.0] if quick else [10.0, 100.0],
        "sim_policies": ["mixed"] if quick else list(POLICIES),
        "n": 100 if quick else 400,
        "seeds": 4 if quick else 16,
        "seed": 0,
        # markers at the largest pool (a smaller N: the pool is 1000 N examples)
        "big_sims": [] if quick else [[20.0, p, 1000.0, 100] for p in ("hard", "mixed")],
        # per angle: smaller grids where a solve is slow (a policy at theta > 0 takes the
        # general two-dimensional rule)
        "per_theta": ({"20": {"exps": [-1.0, 0.0, 1.0], "f": [0.2, 0.5, 0.8],
                              "cons_alpha_tot": [1.0, 10.0, 100.0, 1000.0]}} if quick
                      else {}),
    }


def at(c: dict, theta_deg: float, key: str):
    """``c[key]``, or its override for angle ``theta_deg`` (``c["per_theta"]``)."""
    return c.get("per_theta", {}).get(f"{theta_deg:g}", {}).get(key, c[key])


def policy_kwargs(name: str, c: dict) -> dict:
    """Keywords of :func:`prunescale.theory.solve` for policy ``name`` of the consistency
    panels."""
    kw = dict(POLICIES[name])
    if "random_share" in kw:
        kw["random_share"] = c["random_share"]
    if "power_exp" in kw:
        kw.update(power_exp=c["power_exp"], probe_scale=c["probe_scale"])
    return kw


def n_steps(quick: bool) -> int:
    c = config(quick)
    n_sim = (len(c["thetas"]) * len(c["sim_exps"]) * len(c["sim_f"])
             + len(c["thetas"]) * len(c["sim_policies"]) * len(c["cons_alpha_sim"])
             + len(c["big_sims"]))
    return 2 * len(c["thetas"]) + n_sim


def f_grid(c, theta_deg: float = 0.0) -> np.ndarray:
    """Kept fractions of panels (a), (b): the line's grid and the simulated ones."""
    return np.unique(np.concatenate([at(c, theta_deg, "f"), c["sim_f"]]))


def alpha_grid(c, theta_deg: float = 0.0) -> np.ndarray:
    """Pool sizes of panels (c), (d): the line's grid and the simulated ones."""
    big = [b[2] for b in c.get("big_sims", []) if b[0] == theta_deg]
    return np.unique(np.concatenate([at(c, theta_deg, "cons_alpha_tot"), c["cons_alpha_sim"],
                                     big]))


#: the finer rule tried where the default rule leaves a point uncertified (its certificate
#: decides as for the default; a point uncertified under both stays NaN)
FINE_QUAD = {"n_p": 16, "n_z": 16, "z_max": 10.0}


def solve_certified(rule, f, **kw):
    """:func:`prunescale.theory.solve` on the broadcast inputs; points left uncertified by the
    default rule are solved again with :data:`FINE_QUAD` (regularized learners)."""
    from prunescale.theory import ErmQuadrature, solve

    r = solve(rule, f, **kw)
    bad = ~np.isfinite(np.asarray(r.eps, float))
    if not bad.any():
        return r
    shape = np.shape(r.eps)
    args = {k: np.broadcast_to(v, shape)[bad] if np.ndim(v) else v
            for k, v in {"f": f, **kw}.items()}
    r2 = solve(rule, quad=ErmQuadrature(**FINE_QUAD), **args)
    eps, eps_noisy = np.array(r.eps, float), np.array(r.eps_noisy, float)
    eps[bad], eps_noisy[bad] = r2.eps, r2.eps_noisy
    return _Solved(eps=eps, eps_noisy=eps_noisy)


class _Solved:
    def __init__(self, eps, eps_noisy):
        self.eps, self.eps_noisy = eps, eps_noisy


def exponent_curves(cache, c, theta_deg: float) -> dict:
    """``eps`` and ``eps_noisy`` of the power policy, ``[exponent, f]`` (NaN where not
    certified), and of random selection over the same ``f``. ``A = 0`` *is* random
    selection (``pi = c = f``; ``docs/erm.md`` 7.5, equal to 1e-16 in
    ``tests/test_policy_families.py``), so its row is the random solve."""
    key = {k: c[k] for k in ("learner", "lam", "probe_scale", "noise", "alpha_tot", "sim_f")}
    key.update(exps=at(c, theta_deg, "exps"), f=at(c, theta_deg, "f"))

    def compute():
        f = f_grid(c, theta_deg)
        common = dict(alpha_tot=c["alpha_tot"], theta_deg=theta_deg, learner=c["learner"],
                      lam=c["lam"], noise=c["noise"])
        rr = solve_certified("random", f, **common)
        rs = [rr if a == 0 else
              solve_certified("power", f, power_exp=a, probe_scale=c["probe_scale"], **common)
              for a in at(c, theta_deg, "exps")]
        return {"eps": np.stack([r.eps for r in rs]),
                "eps_noisy": np.stack([r.eps_noisy for r in rs]),
                "eps_random": rr.eps, "eps_noisy_random": rr.eps_noisy}

    return cached(cache, "policies-exponents",
                  {"kind": "policies-exponents", "theta_deg": float(theta_deg), **key}, compute)


def consistency_curves(cache, c, theta_deg: float) -> dict:
    """``eps`` of every policy of :data:`POLICIES` along :func:`alpha_grid` (NaN where not
    certified)."""
    key = {k: c[k] for k in ("learner", "lam", "probe_scale", "cons_f", "cons_noise",
                             "random_share", "power_exp", "cons_alpha_sim")}
    key["alpha_tot"] = alpha_grid(c, theta_deg).tolist()

    def compute():
        a = alpha_grid(c, theta_deg)
        out = {}
        for name in POLICIES:
            kw = policy_kwargs(name, c)
            out[name] = solve_certified(kw.pop("rule"), c["cons_f"], alpha_tot=a,
                                        theta_deg=theta_deg, learner=c["learner"],
                                        lam=c["lam"], noise=c["cons_noise"], **kw).eps
        return out

    return cached(cache, "policies-consistency",
                  {"kind": "policies-consistency", "theta_deg": float(theta_deg), **key},
                  compute)


def sim_point(cache, *, f, alpha_tot, noise, theta_deg, learner, lam, n, seeds, seed,
              **policy) -> dict:
    """Certified simulated students of one policy at one point (``pool`` mode)."""
    cfg = {"kind": "policies-sim", "f": float(f), "alpha_tot": float(alpha_tot),
           "noise": float(noise), "theta_deg": float(theta_deg), "learner": learner,
           "lam": float(lam), "n": int(n), "seeds": int(seeds), "seed": int(seed),
           **{k: v for k, v in policy.items()}}

    def compute():
        from prunescale import sims

        r = sims.simulate(f=f, n=n, seeds=seeds, alpha_tot=alpha_tot, theta_deg=theta_deg,
                          seed=seed, progress=False, learner=learner, lam=lam, noise=noise,
                          **policy)
        return {"eps_mean": r.eps_mean, "eps_sem": r.eps_sem,
                "eps_noisy_mean": r.eps_noisy_mean, "eps_noisy_sem": r.eps_noisy_sem,
                "n_flagged": r.n_flagged}

    return {k: v.item() for k, v in cached(cache, "policies-sim", cfg, compute).items()}


def last_decade_slope(alpha, eps) -> float:
    """``d log eps / d log alpha_tot`` between the largest pool size and the one nearest a
    tenth of it (NaN unless both are certified)."""
    alpha, eps = np.asarray(alpha, float), np.asarray(eps, float)
    j = len(alpha) - 1
    i = int(np.argmin(np.abs(np.log(alpha / (alpha[j] / 10)))))
    if i == j or not (np.isfinite(eps[i]) and np.isfinite(eps[j])):
        return float("nan")
    return float(np.log(eps[j] / eps[i]) / np.log(alpha[j] / alpha[i]))


def best_exponents(exps, eps) -> np.ndarray:
    """Per kept fraction (``eps[exponent, f]``), the exponent with the smallest error; NaN
    unless every exponent is certified there."""
    eps = np.asarray(eps, float)
    ok = np.isfinite(eps).all(axis=0)
    best = np.asarray(exps, float)[np.argmin(np.where(np.isfinite(eps), eps, np.inf), axis=0)]
    return np.where(ok, best, np.nan)


def _answers(c, fgs, ags, expo, cons) -> dict:
    """What the figure says, per probe angle: the best exponent at each ``f`` and the
    ranges of ``f`` where a negative / positive exponent wins; each policy's error at the
    largest pool, its last-decade slope and whether it keeps improving."""
    out = {}
    for th in c["thetas"]:
        fg, ag = fgs[th], ags[th]
        best = best_exponents(at(c, th, "exps"), expo[th]["eps_noisy"])
        neg, pos = fg[best < 0], fg[best > 0]
        slopes = {p: last_decade_slope(ag, cons[th][p]) for p in POLICIES}
        out[f"theta_{th:g}"] = {
            "best_exponent_by_f": {f"{f:g}": (None if not np.isfinite(b) else float(b))
                                   for f, b in zip(fg, best)},
            "negative_exponent_wins_f": [float(neg.min()), float(neg.max())] if neg.size else None,
            "positive_exponent_wins_f": [float(pos.min()), float(pos.max())] if pos.size else None,
            "eps_at_largest_pool": {p: (None if not np.isfinite(cons[th][p][-1])
                                        else float(cons[th][p][-1])) for p in POLICIES},
            "last_decade_slope": {p: (None if not np.isfinite(s) else round(s, 4))
                                  for p, s in slopes.items()},
            "keeps_improving": [p for p, s in slopes.items() if s < STALL_SLOPE],
            "stalls": [p for p, s in slopes.items() if s >= STALL_SLOPE],
        }
    return out


def label(name: str, c: dict) -> str:
    return {"hard": "keep hard", "easy": "keep easy", "random": "random",
            "mixed": f"mixed, R = {c['random_share']:g} (hard)",
            "power": f"power, A = {c['power_exp']:g}"}[name]


def main(quick: bool = True, out="prunescale-figures", cache=None, progress=None):
    c = config(quick)
    out = Path(out)
    cache = out / ".cache" if cache is None else cache
    progress = progress or Progress(n_steps(quick))
    fgs = {th: f_grid(c, th) for th in c["thetas"]}
    ags = {th: alpha_grid(c, th) for th in c["thetas"]}
    expo, cons = {}, {}
    for th in c["thetas"]:
        expo[th] = exponent_curves(cache, c, th)
        progress.step(f"theory: power exponents at theta = {th:g}")
        cons[th] = consistency_curves(cache, c, th)
        progress.step(f"theory: consistency at theta = {th:g}")
    common = dict(learner=c["learner"], lam=c["lam"], n=c["n"], seeds=c["seeds"],
                  seed=c["seed"])
    sims = []
    for th in c["thetas"]:
        for a in c["sim_exps"]:
            for f in c["sim_f"]:
                p = sim_point(cache, rule="power", power_exp=a, probe_scale=c["probe_scale"],
                              f=f, alpha_tot=c["alpha_tot"], noise=c["noise"], theta_deg=th,
                              **common)
                th_v = expo[th]["eps_noisy"][at(c, th, "exps").index(a),
                                             int(np.flatnonzero(fgs[th] == f)[0])]
                sims.append({"panel": "exponents", "theta_deg": th, "policy": "power",
                             "power_exp": a, "f": f, "alpha_tot": c["alpha_tot"],
                             "noise": c["noise"], "value": "eps_noisy",
                             "mean": p["eps_noisy_mean"], "sem": p["eps_noisy_sem"],
                             "n_flagged": p["n_flagged"], "theory": float(th_v)})
                progress.step(f"sim power A={a:g} f={f:g} theta={th:g}")
        for name in c["sim_policies"]:
            for a in c["cons_alpha_sim"]:
                p = sim_point(cache, f=c["cons_f"], alpha_tot=a, noise=c["cons_noise"],
                              theta_deg=th, **policy_kwargs(name, c), **common)
                th_v = cons[th][name][int(np.flatnonzero(ags[th] == a)[0])]
                sims.append({"panel": "consistency", "theta_deg": th, "policy": name,
                             "power_exp": np.nan, "f": c["cons_f"], "alpha_tot": a,
                             "noise": c["cons_noise"], "value": "eps", "mean": p["eps_mean"],
                             "sem": p["eps_sem"], "n_flagged": p["n_flagged"],
                             "theory": float(th_v)})
                progress.step(f"sim {name} a_tot={a:g} theta={th:g}")
    for th, name, a, n in c["big_sims"]:
        p = sim_point(cache, f=c["cons_f"], alpha_tot=a, noise=c["cons_noise"], theta_deg=th,
                      **policy_kwargs(name, c), **{**common, "n": int(n)})
        th_v = cons[th][name][int(np.flatnonzero(ags[th] == a)[0])]
        sims.append({"panel": "consistency", "theta_deg": th, "policy": name,
                     "power_exp": np.nan, "f": c["cons_f"], "alpha_tot": a,
                     "noise": c["cons_noise"], "value": "eps", "mean": p["eps_mean"],
                     "sem": p["eps_sem"], "n_flagged": p["n_flagged"], "theory": float(th_v),
                     "n": int(n)})
        progress.step(f"sim {name} a_tot={a:g} theta={th:g} N={n}")
    for s in sims:
        s.setdefault("n", c["n"])
        s["theory_converged"] = bool(np.isfinite(s["theory"]))
    answers = _answers(c, fgs, ags, expo, cons)
    exp_colors = dict(zip(c["exps"], _plot.colors(len(c["exps"]))))

    def draw():
        fig, axes = _plot.figure(2, 2, width=4.6, height=3.5)
        for k, th in enumerate(c["thetas"]):
            ax = axes[k]
            fg = fgs[th]
            for i, a in enumerate(at(c, th, "exps")):
                y = expo[th]["eps_noisy"][i]
                ax.plot(fg, y, "-", lw=1.6, color=exp_colors[a],
                        label=f"A = {a:g}" + (" (random)" if a == 0 else ""))
                _plot.mark_uncertified(ax, fg, y, exp_colors[a], f"A = {a:g}: not certified")
                pts = [s for s in sims if s["panel"] == "exponents" and s["theta_deg"] == th
                       and s["power_exp"] == a]
                if pts:
                    ax.errorbar([s["f"] for s in pts], [s["mean"] for s in pts],
                                yerr=[s["sem"] for s in pts], fmt="o", ms=4, capsize=2,
                                color=exp_colors[a])
            ax.axhline(c["noise"], color="k", lw=0.8, ls=":")
            ax.set_xlabel("kept fraction $f$")
            ax.set_ylabel(r"noisy test error $\varepsilon_{noisy}$")
            ax.set_title(f"({'ab'[k]}) power policy, $\\theta$ = {th:g}°, B = "
                         f"{c['probe_scale']:g}; $\\alpha_{{tot}}$ = {c['alpha_tot']:g}, "
                         f"flip {c['noise']:g}", fontsize=9)
            ax.legend(loc="upper right", fontsize=7)
        for k, th in enumerate(c["thetas"]):
            ax = axes[2 + k]
            ag = ags[th]
            for name in POLICIES:
                y = cons[th][name]
                ax.plot(ag, y, "-", lw=1.6, color=COLORS[name], label=label(name, c))
                _plot.mark_uncertified(ax, ag, y, COLORS[name], f"{name}: not certified")
                for big in (False, True):  # open squares: the smaller N of a large pool
                    pts = [s for s in sims if s["panel"] == "consistency"
                           and s["theta_deg"] == th and s["policy"] == name
                           and (s["n"] != c["n"]) == big]
                    if pts:
                        ax.errorbar([s["alpha_tot"] for s in pts], [s["mean"] for s in pts],
                                    yerr=[s["sem"] for s in pts], fmt="s" if big else "o",
                                    mfc="white" if big else COLORS[name], ms=4, capsize=2,
                                    color=COLORS[name])
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel(r"pool size $\alpha_{tot}$")
            ax.set_ylabel(r"test error $\varepsilon$ (clean teacher)")
            stall = answers[f"theta_{th:g}"]["stalls"]
            ax.set_title(f"({'cd'[k]}) consistency, $\\theta$ = {th:g}°, f = {c['cons_f']:g}, "
                         f"flip {c['cons_noise']:g}; stall: "
                         + (", ".join(stall) if stall else "none"), fontsize=9)
            ax.legend(loc="lower left", fontsize=7)
        fig.suptitle(f"{c['learner']} students, $\\lambda$ = {c['lam']:g}; markers: "
                     f"simulations, N = {c['n']}, {c['seeds']} students"
                     + (f" (open squares: N = {c['big_sims'][0][3]})" if c["big_sims"] else ""),
                     fontsize=9)
        return fig

    paths = _plot.render(out, NAME, c, draw)
    rows = {k: [] for k in ("source", "panel", "theta_deg", "policy", "power_exp",
                            "probe_scale", "random_share", "f", "alpha_tot", "noise", "eps",
                            "eps_noisy", "sem", "n", "n_flagged")}

    def add(**kv):
        for k in rows:
            rows[k].append(kv.get(k, np.nan))

    for th in c["thetas"]:
        fg, ag = fgs[th], ags[th]
        for i, a in enumerate(at(c, th, "exps")):
            for j, f in enumerate(fg):
                add(source="theory", panel="exponents", theta_deg=th, policy="power",
                    power_exp=a, probe_scale=c["probe_scale"], random_share=0.0, f=f,
                    alpha_tot=c["alpha_tot"], noise=c["noise"], eps=expo[th]["eps"][i, j],
                    eps_noisy=expo[th]["eps_noisy"][i, j], n_flagged=0)
        for j, f in enumerate(fg):
            add(source="theory", panel="exponents", theta_deg=th, policy="random",
                random_share=0.0, f=f, alpha_tot=c["alpha_tot"], noise=c["noise"],
                eps=expo[th]["eps_random"][j], eps_noisy=expo[th]["eps_noisy_random"][j],
                n_flagged=0)
        for name in POLICIES:
            kw = policy_kwargs(name, c)
            for j, a in enumerate(ag):
                add(source="theory", panel="consistency", theta_deg=th, policy=name,
                    power_exp=kw.get("power_exp", np.nan),
                    probe_scale=kw.get("probe_scale", np.nan),
                    random_share=kw.get("random_share", 0.0), f=c["cons_f"], alpha_tot=a,
                    noise=c["cons_noise"], eps=cons[th][name][j], n_flagged=0)
    for s in sims:
        kw = policy_kwargs(s["policy"], c) if s["panel"] == "consistency" else {
            "power_exp": s["power_exp"], "probe_scale": c["probe_scale"]}
        add(source="simulation", panel=s["panel"], theta_deg=s["theta_deg"],
            policy=s["policy"], power_exp=kw.get("power_exp", np.nan),
            probe_scale=kw.get("probe_scale", np.nan),
            random_share=kw.get("random_share", 0.0), f=s["f"], alpha_tot=s["alpha_tot"],
            noise=s["noise"], **{s["value"]: s["mean"]}, sem=s["sem"], n=s["n"],
            n_flagged=s["n_flagged"])
    # every drawn theory number: eps_noisy of (a), (b) and eps of (c), (d)
    n_unc = int(sum((~np.isfinite(expo[th]["eps_noisy"])).sum()
                    + sum((~np.isfinite(v)).sum() for v in cons[th].values())
                    for th in c["thetas"]))
    counts, z = certification(n_unc, sims, mean="mean", theory="theory", sem="sem")
    write_table(out / f"{NAME}.csv", rows, {"figure": NAME, "stall_slope": STALL_SLOPE, **c,
                                             "answers": answers, **counts})
    return {"paths": paths, "exponents": expo, "consistency": cons, "f": fgs, "alpha_tot": ags,
            "sim": sims, "config": c, "z": z, "answers": answers, **counts}


if __name__ == "__main__":
    main(quick=True)
