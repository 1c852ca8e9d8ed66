"""Finite-size extrapolation of simulated test errors to N -> infinity, and its plot.

Per configuration, the mean test error of the certified students at each dimension N,
``m(N) +- s(N)`` (standard error of the mean), is fitted by weighted least squares to

$$
\\epsilon(N) = \\epsilon_\\infty + a / N \\quad (+\\, b / N^2 \\text{ with quadratic}),
$$

with weights ``1 / s(N)^2``: ``beta = (X^T W X)^{-1} X^T W m`` for the design ``X = [1, 1/N,
(1/N^2)]``, and the covariance ``(X^T W X)^{-1}`` (the ``s(N)`` are measured errors, so the
covariance is not rescaled by chi^2; ``chi2`` and its degrees of freedom are reported to judge
the model). ``eps_inf`` with its standard error is set beside the replica theory,
``z = (eps_inf - eps_theory) / eps_inf_se``. A fit needs at least as many N with a defined
standard error as parameters; otherwise its numbers are NaN and ``reason`` says why.
"""

from __future__ import annotations

import math

import numpy as np

from prunescale.sims.store import CONFIG

__all__ = ["extrapolate", "fit", "plot", "theory_eps"]


def fit(ns, means, sems, quadratic: bool = False) -> dict:
    """Weighted least-squares fit of ``eps(N) = eps_inf + a/N (+ b/N^2)``.

    Returns ``eps_inf, eps_inf_se, slope (a), slope_se, curvature (b or NaN), chi2, dof,
    n_points, reason`` (``reason`` is ``None`` for a fit, else why the numbers are NaN).
    """
    ns, m, s = (np.asarray(a, float).ravel() for a in (ns, means, sems))
    ok = np.isfinite(m) & np.isfinite(s) & (s > 0) & np.isfinite(ns) & (ns > 0)
    p = 3 if quadratic else 2
    nan = float("nan")
    out = {"eps_inf": nan, "eps_inf_se": nan, "slope": nan, "slope_se": nan,
           "curvature": nan, "chi2": nan, "dof": int(ok.sum()) - p,
           "n_points": int(ok.sum()), "reason": None}
    if len(np.unique(ns[ok])) < p:
        out["reason"] = (f"needs {p} values of N with a standard error (>= 2 certified "
                         f"students each); has {len(np.unique(ns[ok]))}")
        return out
    x = 1.0 / ns[ok]
    X = np.stack([np.ones_like(x), x] + ([x * x] if quadratic else []), axis=1)
    w = 1.0 / s[ok] ** 2
    A = X.T @ (w[:, None] * X)
    try:
        cov = np.linalg.inv(A)
    except np.linalg.LinAlgError:
        out["reason"] = "singular normal equations"
        return out
    beta = cov @ (X.T @ (w * m[ok]))
    r = m[ok] - X @ beta
    out.update(eps_inf=float(beta[0]), eps_inf_se=float(math.sqrt(cov[0, 0])),
               slope=float(beta[1]), slope_se=float(math.sqrt(cov[1, 1])),
               curvature=float(beta[2]) if quadratic else nan, chi2=float(w @ (r * r)))
    return out


def extrapolate(summary, quadratic: bool = False, theory: bool = True) -> list[dict]:
    """Fit every configuration of ``summary`` (:func:`prunescale.sims.store.summarize`).

    One dict per configuration: its :data:`CONFIG` keys, ``ns``, the :func:`fit` results,
    ``eps_theory`` (``None`` where not certified or not asked), ``theory_converged``,
    ``z = (eps_inf - eps_theory) / eps_inf_se``, and for comparison the largest-N mean
    ``eps_largest_n +- sem_largest_n`` with its own ``z_largest_n``, plus ``n_flagged``.
    For a spectrum family ``power:A`` (``D = N``) the theory is that of ``D = Nmax``
    (:func:`theory_eps`), so ``z`` is NaN and ``z_largest_n`` is the comparison.
    """
    out = []
    for key, g in summary.groupby(list(CONFIG), sort=True):
        g = g.sort_values("n")
        row = dict(zip(CONFIG, key))
        row["ns"] = [int(n) for n in g["n"]]
        row.update(fit(g["n"], g["eps_mean"], g["eps_sem"], quadratic))
        big = g.iloc[-1]
        row["eps_largest_n"] = float(big["eps_mean"])
        row["sem_largest_n"] = float(big["eps_sem"])
        row["n_flagged"] = int(g["n_flagged"].sum())
        row["eps_theory"], row["theory_converged"] = None, None
        if theory:
            row["eps_theory"], row["theory_converged"] = theory_eps(row)
        th = row["eps_theory"]
        # a spectrum family (power:A, D = N) has its theory at D = Nmax, not at N -> inf:
        # eps_inf has no theory to meet, only eps(Nmax) does
        family = _spectrum_family(row.get("spectrum"))
        row["z"] = float("nan") if family else _z(row["eps_inf"], th, row["eps_inf_se"])
        row["z_largest_n"] = _z(row["eps_largest_n"], th, row["sem_largest_n"])
        out.append(row)
    return out


def _spectrum_family(spec) -> bool:
    """Whether a stored spectrum is a family ``power:A`` (``D = N`` per task)."""
    return isinstance(spec, str) and spec.startswith("power:") and spec.count(":") == 1


def _z(value, ref, se):
    if ref is None or not (math.isfinite(value) and math.isfinite(se) and se > 0):
        return float("nan")
    return (value - ref) / se


def theory_eps(row: dict):
    """``(eps, converged)`` of the replica theory at the row's configuration, the whole
    stored model point (every :data:`prunescale.model.FIELDS`; ``eps`` is ``None`` unless
    certified). A spectrum ``power:A`` stored without ``D`` (a sweep over ``N`` with ``D = N``)
    is solved at ``D = n`` of the row, or at the largest of its ``ns`` (a fit's row): the
    theory at that finite ``D``, not a ``D -> infinity`` limit."""
    from prunescale import theory
    from prunescale.model import FIELDS, Model

    fields = {k: row[k] for k in FIELDS if k in row}
    if not fields.get("alpha_ssl"):  # stored as 0: the default (alpha_tot)
        fields["alpha_ssl"] = None
    if "spectrum" in fields:  # stored as "": isotropic inputs, a teacher isotropic in input space
        from prunescale.sims.spectrum import at_dim

        # power:A (no D): D = N; a fit over several N (row "ns") takes the largest
        n = row.get("n", max(row["ns"]) if row.get("ns") else None)
        fields["spectrum"] = (at_dim(fields["spectrum"], n) if n else fields["spectrum"]) or None
        td = fields.get("teacher_decay")
        fields["teacher_decay"] = float(td) if td not in (None, "") else None
    model = Model.from_fields(**fields)
    res = theory.solve(model, alpha_prune=row["alpha_prune"])
    eps, conv = float(np.asarray(res.eps)), bool(np.asarray(res.converged))
    return (eps if conv and math.isfinite(eps) else None), conv


def plot(fits: list[dict], summary, path) -> None:
    """Draw eps against 1/N, one panel per configuration: the means +- sem, the fitted line
    down to 1/N = 0, eps_inf +- se there, and the theory point (star); saved atomically to
    ``path`` (format by extension). matplotlib's object API with the Agg canvas (no pyplot)."""
    import os

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    k = max(1, len(fits))
    ncols = min(3, k)
    nrows = -(-k // ncols)
    fig = Figure(figsize=(3.4 * ncols, 2.8 * nrows), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[len(fits):]:
        ax.set_visible(False)
    for row, ax in zip(fits, axes):
        sel = np.ones(len(summary), bool)
        for key in CONFIG:
            sel &= (summary[key] == row[key]).to_numpy()
        g = summary[sel].sort_values("n")
        x = 1.0 / g["n"].to_numpy(float)
        ax.errorbar(x, g["eps_mean"], yerr=g["eps_sem"], fmt="o", color="C0", ms=4,
                    capsize=2, label="simulation, mean $\\pm$ sem")
        if math.isfinite(row["eps_inf"]):
            xs = np.linspace(0.0, x.max() * 1.05, 50)
            ys = row["eps_inf"] + row["slope"] * xs
            if math.isfinite(row["curvature"]):
                ys = ys + row["curvature"] * xs * xs
            ax.plot(xs, ys, "-", color="C0", lw=1, label="weighted fit")
            ax.errorbar([0.0], [row["eps_inf"]], yerr=[row["eps_inf_se"]], fmt="s", color="C0",
                        ms=5, capsize=3, mfc="white", label="$\\epsilon_\\infty \\pm$ se")
        if row["eps_theory"] is not None:
            ax.plot([0.0], [row["eps_theory"]], "*", color="C3", ms=11, mec="black", mew=0.5,
                    label="theory", zorder=5)
        title = (f"{row['rule']}, f={row['f']:g}, $\\alpha$={row['alpha_prune']:g}, "
                 f"$\\theta$={row['theta_deg']:g}$^\\circ$")
        if row.get("learner", "max-margin") != "max-margin":
            title += (f"\n{row['learner']}, $\\lambda$={row['lam']:g}, "
                      f"$\\eta$={row['noise']:g}")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("1 / N", fontsize=8)
        ax.set_ylabel("test error $\\epsilon$", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_xlim(left=-0.04 * x.max())
    axes[0].legend(fontsize=6, loc="best")
    from prunescale._files import atomic_write

    ext = os.path.splitext(os.fspath(path))[1]
    atomic_write(path, lambda fh: fig.savefig(fh, format=ext.lstrip(".").lower() or "png",
                                              dpi=150))
