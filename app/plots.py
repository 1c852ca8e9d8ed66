"""Matplotlib figures of the app's panels, drawn from :mod:`app.compute` results.

Each function returns a new :class:`matplotlib.figure.Figure` (Agg, no pyplot state), so that
the app can render it as a PNG and close it. :func:`to_png_html` turns a figure into an
``<img>`` tag with an ``alt`` text and a ``data-panel`` name that the browser test looks for.
"""

from __future__ import annotations

import base64
import html
import io
import math

import numpy as np
from matplotlib.figure import Figure

from prunescale.app.compute import (Curve, ErmCurve, ErmPoint, FrontierData, PhaseData,
                                    Point, SimPoint)
from prunescale.figures._plot import PHASE_CMAP

RULE_COLOR = {"hard": "#c0392b", "easy": "#2471a3", "random": "#555555", "power": "#1e8449"}
RULE_LABEL = {"hard": "keep hard", "easy": "keep easy", "random": "random (no pruning)",
              "power": "power law"}
SIZE = (6.4, 4.3)


def _fmt(x: float) -> str:
    return "n/a" if not math.isfinite(x) else f"{x:.3g}"


def learning_panel(pt: Point, selected: Curve, others: list[Curve], reference: Curve,
                   sims: list[SimPoint] = ()) -> Figure:
    """``eps`` against ``alpha_prune``: the selected rule, the other rule(s), random, the point."""
    fig = Figure(figsize=SIZE)  # fixed margins: constrained layout doubles the drawing time
    fig.subplots_adjust(left=0.13, right=0.97, bottom=0.13, top=0.92)
    ax = fig.add_subplot()
    ax.plot(reference.alpha_prune, reference.eps, "--", color=RULE_COLOR["random"], lw=1.5,
            label="random / no pruning")
    for c in others:
        ax.plot(c.alpha_prune, c.eps, ":", color=RULE_COLOR[c.rule], lw=1.5,
                label=f"{RULE_LABEL[c.rule]}, f = {c.f:g}")
    if selected.rule != "random":
        ax.plot(selected.alpha_prune, selected.eps, "-", color=RULE_COLOR[selected.rule], lw=2.5,
                label=f"{RULE_LABEL[selected.rule]}, f = {selected.f:g}")
    sims = [s for s in sims if math.isfinite(s.eps_mean)]
    if sims:
        ax.errorbar([s.alpha_prune for s in sims], [s.eps_mean for s in sims],
                    yerr=[0.0 if not math.isfinite(s.eps_sem) else s.eps_sem for s in sims],
                    fmt="s", color="black", mfc="white", ms=6, capsize=3, zorder=7,
                    label=f"simulation (N = {sims[-1].n}, mean ± s.e.m.)")
    if pt.converged:
        ax.plot(pt.alpha_prune, pt.eps, "*", color="gold", mec="black", ms=16, zorder=6,
                label=f"current: ε = {_fmt(pt.eps)} at α_prune = {pt.alpha_prune:.3g}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("α_prune  (kept examples per dimension)")
    ax.set_ylabel("test error ε")
    ax.set_title(f"Learning curves at f = {selected.f:g}, {probe_words(pt)}"
                 if selected.rule != "random" else f"Learning curve, {probe_words(pt)}")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    return fig


def frontier_panel(fr: FrontierData, pt: Point) -> Figure:
    """Left: the frontier ``eps*(alpha_prune)`` vs the power law; right: the best ``f``."""
    fig = Figure(figsize=(9.6, 4.3))
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.13, top=0.92, wspace=0.28)
    ax, bx = fig.subplots(1, 2)
    ax.plot(fr.alpha_prune, fr.eps_random, "--", color=RULE_COLOR["random"],
            label="no pruning (power law ≈ 0.5/α)")
    ax.plot(fr.alpha_prune, fr.eps, "-", color="#7d3c98", lw=2.5,
            label="frontier: best keep-hard f")
    b = fr.at_boundary
    if b.any():
        ax.plot(fr.alpha_prune[b], fr.eps[b], "o", mfc="white", color="#7d3c98", ms=5,
                label=f"best f = smallest searched ({fr.f_floor:g})")
    if pt.converged:
        ax.plot(pt.alpha_prune, pt.eps, "*", color="gold", mec="black", ms=16, zorder=6,
                label=f"current ({RULE_LABEL[pt.rule]}, f = {pt.f:g})")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("α_prune")
    ax.set_ylabel("test error ε")
    ax.set_title(f"Pareto frontier (unlimited pool), {probe_words(fr)}")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")

    bx.plot(fr.alpha_prune, fr.f_opt, "-o", color="#7d3c98", ms=3, label="optimal f")
    bx.axhline(fr.f_floor, color="gray", lw=0.8, ls=":", label="smallest f searched")
    if math.isfinite(fr.f_min):
        bx.axhline(fr.f_min, color="#117a65", lw=1.2, ls="--")
        bx.plot(fr.alpha_prune_at_min, fr.f_min, "D", color="#117a65", ms=8, zorder=5,
                label=f"f_min ≈ {fr.f_min:.3g}" + (" (bound)" if fr.f_min_at_boundary else ""))
    bx.plot(pt.alpha_prune, pt.f, "*", color="gold", mec="black", ms=16, zorder=6,
            label="current (α_prune, f)")
    bx.set_xscale("log")
    bx.set_yscale("log")
    bx.set_ylim(min(fr.f_floor, pt.f) * 0.6, 1.6)
    bx.set_xlabel("α_prune")
    bx.set_ylabel("kept fraction f")
    bx.set_title("Best kept fraction on the frontier")
    bx.grid(True, alpha=0.3)
    bx.legend(fontsize=8, loc="lower left")
    return fig


def phase_panel(ph: PhaseData, pt: Point) -> Figure:
    """``log10(eps_hard / eps_easy)`` over ``(alpha_tot, f)``, the boundary and the point."""
    fig = Figure(figsize=SIZE)
    fig.subplots_adjust(left=0.11, right=0.97, bottom=0.13, top=0.92)
    ax = fig.add_subplot()
    finite = ph.log_ratio[np.isfinite(ph.log_ratio)]
    lim = max(0.05, float(np.max(np.abs(finite)))) if finite.size else 1.0
    mesh = ax.pcolormesh(ph.alpha_tot, ph.f, ph.log_ratio, cmap=PHASE_CMAP, vmin=-lim, vmax=lim,
                         shading="nearest")
    cb = fig.colorbar(mesh, ax=ax)
    cb.set_label("log10(ε_hard / ε_easy)   (> 0: keep easy wins)")
    ok = np.isfinite(ph.boundary_alpha_tot)
    ax.plot(ph.boundary_alpha_tot[ok], ph.f[ok], "k-", lw=2, label="ε_easy = ε_hard")
    ax.plot(pt.alpha_tot, pt.f, "*", color="gold", mec="black", ms=18, zorder=6,
            label=f"current (α_tot = {pt.alpha_tot:.3g}, f = {pt.f:g})")
    ax.text(0.03, 0.5, "keep easy\nwins", transform=ax.transAxes, color="#1a5276",
            fontsize=11, weight="bold", va="center")
    ax.text(0.97, 0.5, "keep hard\nwins", transform=ax.transAxes, color="#922b21",
            fontsize=11, weight="bold", va="center", ha="right")
    ax.set_xscale("log")
    ax.set_xlim(min(ph.alpha_tot[0], pt.alpha_tot / 1.5), max(ph.alpha_tot[-1], pt.alpha_tot * 1.5))
    ax.set_ylim(0, 1)
    ax.set_xlabel("α_tot  (pool size per dimension)")
    ax.set_ylabel("kept fraction f")
    ax.set_title(f"Which examples to keep? {probe_words(ph)}")
    ax.legend(fontsize=8, loc="upper center", framealpha=0.9)
    return fig


def _learner_title(learner: str, lam: float, noise: float, labels: str = "") -> str:
    if learner == "max-margin":
        return f"max-margin, labels {labels}" if labels else (
            "max-margin, noiseless" if not noise else f"max-margin, η = {noise:g}")
    return f"{learner}, λ = {lam:g}, η = {noise:g}"


def _curve_label(c) -> str:
    """Legend entry of an :class:`ErmCurve`: the rule and its policy family."""
    if c.rule == "random":
        return RULE_LABEL["random"]
    if c.rule == "power":
        return (f"power law A = {c.power_exp:g}, B = {c.probe_scale:g}, f = {c.f:g}")
    share = getattr(c, "random_share", 0.0)
    return f"{RULE_LABEL[c.rule]}, f = {c.f:g}" + (f", R = {share:g}" if share else "")


def erm_panel(curves: list[ErmCurve], selected_rule: str, pt: ErmPoint | None = None) -> Figure:
    """``eps`` against ``alpha_prune`` of one learner for several rules (keep-hard, keep-easy,
    random) at fixed ``(f, theta, lam, noise)``, and the current point.

    Uncertified points are ``nan`` in the curves and leave gaps; an uncertified current point
    is not drawn.
    """
    fig = Figure(figsize=SIZE)
    fig.subplots_adjust(left=0.13, right=0.97, bottom=0.13, top=0.92)
    ax = fig.add_subplot()
    ref = curves[0] if curves else None
    for c in curves:
        sel = c.rule == selected_rule
        style = "--" if c.rule == "random" else ("-" if sel else ":")
        label = _curve_label(c)
        ok = np.isfinite(c.eps)
        ax.plot(c.alpha_prune, c.eps, style, color=RULE_COLOR[c.rule],
                lw=2.5 if sel and c.rule != "random" else 1.5, label=label)
        # isolated certified points (between two gaps) would draw no line: mark them
        iso = ok & ~np.r_[False, ok[:-1]] & ~np.r_[ok[1:], False]
        if iso.any():
            ax.plot(c.alpha_prune[iso], c.eps[iso], "o", color=RULE_COLOR[c.rule], ms=3)
    if pt is not None and pt.converged and math.isfinite(pt.eps) and pt.eps > 0:
        ax.plot(pt.alpha_prune, pt.eps, "*", color="gold", mec="black", ms=16, zorder=6,
                label=f"current: ε = {_fmt(pt.eps)} at α_prune = {pt.alpha_prune:.3g}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("α_prune  (kept examples per dimension)")
    ax.set_ylabel("test error ε  (against the clean teacher)")
    if ref is not None:
        src = pt if pt is not None else next(
            (c for c in curves if c.rule != "random"), ref)
        ax.set_title(f"{_learner_title(ref.learner, ref.lam, ref.noise, ref.labels)}; "
                     f"{probe_words(src)}", fontsize=11)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    return fig


def probe_words(obj) -> str:
    """The probe of a computed panel or point, for a title: ``"θ = 20°"`` (the fixed probe;
    ``", S = 5"`` added with a spike) or ``"prototype probe, S = 5"`` (with its angle ``θ``
    for a :class:`Point`, whose prototype angle the solver reports)."""
    snr = float(getattr(obj, "snr", 0.0) or 0.0)
    spike = f", S = {snr:g}" if snr else ""
    if getattr(obj, "probe", "fixed") == "prototype":
        a = getattr(obj, "alpha_ssl", None)
        ssl = "" if a is None else f", α_ssl = {a:g}"
        if isinstance(obj, Point):
            return f"prototype probe (θ = {obj.theta_deg:.3g}°){spike}{ssl}"
        return f"prototype probe{spike}{ssl}"
    return f"θ = {obj.theta_deg:g}°{spike}"


def to_png(fig: Figure, dpi: int = 90) -> bytes:
    """The figure as PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def to_png_html(fig: Figure, panel: str, alt: str, dpi: int = 90) -> str:
    """An ``<img>`` tag holding the figure as a base64 PNG, tagged ``data-panel=panel``."""
    data = base64.b64encode(to_png(fig, dpi)).decode("ascii")
    return (f'<img data-panel="{html.escape(panel)}" alt="{html.escape(alt)}" '
            f'src="data:image/png;base64,{data}" style="max-width:100%;height:auto"/>')
