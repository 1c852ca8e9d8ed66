"""prunescale: an interactive tour of data pruning in the teacher-student perceptron.

A marimo app. Serve it with ``prunescale app`` (or ``marimo run app/notebook.py``), edit it
with ``marimo edit app/notebook.py``, export it with ``marimo export html app/notebook.py``.
All numbers come from :mod:`app.compute` (certified replica theory, small simulations).
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="full", app_title="prunescale: data pruning explorer")


@app.cell(hide_code=True)
def _():
    import contextlib
    import math

    import marimo as mo

    from prunescale.app import compute, plots  # pip install -e ".[app]" first
    return compute, contextlib, math, mo, plots


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    # Beating power-law scaling by pruning data

    A **teacher** perceptron labels Gaussian inputs; a **student** (the max-margin
    perceptron) learns from them. Before training, a **probe** ranks a pool of
    α_tot·N examples by their margin and keeps a fraction **f** of it:
    **keep hard** keeps the smallest margins, **keep easy** the largest, **random** a
    uniform subset. The student then sees α_prune = f·α_tot examples per dimension.
    The probe sits at an angle **θ** to the teacher: θ = 0 is a perfect pruning metric.
    Inputs can carry a **spike** of strength **S** along the teacher (covariance
    I + S·u uᵀ; S = 0: isotropic), and the probe can be the label-free **prototype**: the
    top eigenvector of α_ssl·N unlabeled inputs, whose angle to the teacher follows from S
    and α_ssl (the BBP transition) instead of the θ slider.
    Curves are the exact N → ∞ replica theory (every point certified); the *simulate*
    button trains real students. (Sorscher et al., *Beyond neural scaling laws*, 2022.)
    """)
    return


@app.cell(hide_code=True)
def _(compute, mo):
    rule = mo.ui.dropdown(
        options={"keep hard": "hard", "keep easy": "easy", "random": "random"},
        value="keep hard", label="pruning rule",
    )
    f_slider = mo.ui.slider(steps=list(compute.F_STEPS), value=0.2, show_value=True,
                            label="kept fraction f")
    mode = mo.ui.radio(
        options={"α_prune (kept examples)": "prune", "α_tot (pool size)": "tot"},
        value="α_prune (kept examples)", inline=True, label="hold fixed",
    )
    theta = mo.ui.slider(steps=list(compute.THETA_STEPS), value=0, show_value=True,
                         debounce=True, label="probe angle θ (degrees)")
    return f_slider, mode, rule, theta


@app.cell(hide_code=True)
def _(compute, mo):
    # spiked inputs along the teacher and the probe (docs/structure.md)
    snr_slider = mo.ui.slider(steps=list(compute.SNR_STEPS), value=0.0, show_value=True,
                              debounce=True, label="spike strength S")
    probe_choice = mo.ui.radio(
        options={"fixed at θ": "fixed", "prototype (label-free)": "prototype"},
        value="fixed at θ", inline=True, label="probe",
    )
    alpha_ssl_choice = mo.ui.dropdown(
        options={"= pool (α_tot)": 0.0, **{f"{a:g}": a for a in compute.ALPHA_SSL_STEPS}},
        value="= pool (α_tot)", label="unlabeled sample α_ssl (prototype)",
    )
    return alpha_ssl_choice, probe_choice, snr_slider


@app.cell(hide_code=True)
def _(compute, mo, mode):
    alpha_slider = mo.ui.slider(
        steps=list(compute.ALPHA_STEPS), value=3.0 if mode.value == "prune" else 15.0,
        show_value=True,
        label="α_prune (kept per dimension)" if mode.value == "prune"
        else "α_tot (pool per dimension)",
    )
    return (alpha_slider,)


@app.cell(hide_code=True)
def _(
    alpha_slider,
    alpha_ssl_choice,
    f_slider,
    mo,
    mode,
    probe_choice,
    probe_note,
    rule,
    snr_slider,
    theta,
):
    mo.vstack([
        mo.hstack([rule, f_slider, mode, alpha_slider, theta], justify="start", gap=2,
                  wrap=True),
        mo.hstack([snr_slider, probe_choice]
                  + ([alpha_ssl_choice] if probe_choice.value == "prototype" else []),
                  justify="start", gap=2, wrap=True),
        mo.md(probe_note) if probe_note else "",
    ])
    return


@app.cell(hide_code=True)
def _(alpha_ssl_choice, probe_choice, snr_slider):
    # the spike and probe controls as keywords of every compute call (S = 0 with the fixed
    # probe: exactly the isotropic app)
    _a = float(alpha_ssl_choice.value or 0.0)
    spike_args = dict(snr=float(snr_slider.value), probe=str(probe_choice.value),
                      alpha_ssl=_a if _a > 0 and probe_choice.value == "prototype" else None)
    return (spike_args,)


@app.cell(hide_code=True)
def _(alpha_slider, compute, f_slider, mode, rule, spike_args, theta):
    f = float(f_slider.value)
    theta_deg = float(theta.value)
    if mode.value == "prune":
        pt = compute.point(rule.value, f, theta_deg, alpha_prune=float(alpha_slider.value),
                           **spike_args)
    else:
        pt = compute.point(rule.value, f, theta_deg, alpha_tot=float(alpha_slider.value),
                           **spike_args)
    alpha_prune, alpha_tot = pt.alpha_prune, pt.alpha_tot
    return alpha_prune, alpha_tot, f, pt, theta_deg


@app.cell(hide_code=True)
def _(alpha_tot, compute, math, spike_args, theta_deg):
    from prunescale.theory import effective_angle_deg

    # the probe in words: the theta slider, or the prototype's BBP angle (theta ignored)
    _S = spike_args["snr"]
    if spike_args["probe"] == "prototype":
        _pool = spike_args["alpha_ssl"] is None
        _A = alpha_tot if _pool else spike_args["alpha_ssl"]
        proto_deg = compute.prototype_angle(_S, _A)
        theta_label = f"the prototype probe (θ = {proto_deg:.3g}°, S = {_S:g})"
        probe_note = (
            f"**The θ slider is not used by the prototype probe:** its angle to the teacher "
            f"follows from S and α_ssl. Here α_ssl = {_A:.4g}"
            + (" (the pool α_tot; the angle changes along each curve with α_tot)"
               if _pool else "")
            + f", S = {_S:g}: **prototype angle θ = {proto_deg:.3g}°** (BBP: "
            "cos²θ = (1 − 1/(α_ssl·S²)) / (1 + 1/(α_ssl·S)) above α_ssl·S² = 1)."
        )
        if _A * _S * _S <= 1:
            probe_note += (
                f"\n\n**Below the transition** (α_ssl·S² = {_A * _S * _S:.3g} ≤ 1) the "
                "prototype is uninformative: the top direction of the unlabeled inputs "
                "has nothing to do with the teacher (90°), so ranking examples by it cannot "
                "find the easy or the hard ones: keep-hard and keep-easy are random pruning "
                "here. Raise S or α_ssl."
            )
    else:
        proto_deg = math.nan
        theta_label = f"θ = {theta_deg:g}°" + (f", S = {_S:g}" if _S else "")
        probe_note = ""
        if _S and theta_deg > 0:
            _eff = float(effective_angle_deg(theta_deg, _S))
            probe_note = (f"With the spike S = {_S:g} the fixed probe at θ = {theta_deg:g}° "
                          f"acts like a probe at θ_eff = {_eff:.3g}° on isotropic inputs "
                          "(tan θ_eff = tan θ / √(1+S)): the teacher's direction dominates "
                          "the probe's field.")
    return probe_note, proto_deg, theta_label


@app.cell(hide_code=True)
def _(alpha_prune, alpha_tot, compute, math, mo, pt, spike_args):
    _same = compute.point("random", 1.0, alpha_prune=alpha_prune, snr=spike_args["snr"])
    _pool = compute.point("random", 1.0, alpha_prune=alpha_tot, snr=spike_args["snr"])

    def _e(x):
        return f"{x:.4g}" if math.isfinite(x) else "not certified"

    _status = ("certified" if pt.converged
               else f"**not certified** ({pt.reason}); nothing is drawn for it")
    mo.callout(
        mo.md(
            f"""
            **Current point** — {pt.rule}, f = {pt.f:g},
            {"prototype probe at θ = " if pt.probe == "prototype" else "θ = "}{pt.theta_deg:.3g}°{f", S = {pt.snr:g}" if pt.snr else ""},
            α_prune = {alpha_prune:.4g}, α_tot = {alpha_tot:.4g}: test error
            **ε = {_e(pt.eps)}** (R = {_e(pt.R)}, S = {_e(pt.S)}, κ = {_e(pt.kappa)};
            {_status}).
            For comparison, a random subset of the same size gives ε = {_e(_same.eps)};
            training on the whole pool gives ε = {_e(_pool.eps)}.
            """
        ),
        kind="info" if pt.converged else "warn",
    )
    return


@app.cell(hide_code=True)
def _(mo):
    get_sims, set_sims = mo.state([])
    return get_sims, set_sims


@app.cell(hide_code=True)
def _(mo, set_sims):
    sim_n = mo.ui.dropdown(options=["50", "100", "200"], value="100", label="N")
    sim_seeds = mo.ui.slider(4, 16, step=4, value=8, show_value=True, label="students")
    sim_button = mo.ui.run_button(label="simulate", kind="success",
                                  tooltip="train a batch of students at the current point")
    sim_clear = mo.ui.button(label="clear", on_click=lambda _: set_sims([]))
    return sim_button, sim_clear, sim_n, sim_seeds


@app.cell(hide_code=True)
def _(
    alpha_prune,
    compute,
    f,
    math,
    mo,
    pt,
    set_sims,
    sim_button,
    sim_n,
    sim_seeds,
    spike_args,
    theta_deg,
):
    sim_message = ""
    if sim_button.value:
        with mo.status.spinner(title="Training students",
                               subtitle="the first run of a new size compiles (a few seconds)"):
            try:
                _res = compute.simulate(pt.rule, f, theta_deg, alpha_prune,
                                        n=int(sim_n.value), seeds=int(sim_seeds.value),
                                        **spike_args)
            except Exception as exc:  # shown to the user, the app keeps running
                sim_message = f"Simulation failed: {exc}"
            else:
                set_sims(lambda old: [s for s in old if s != _res] + [_res])
                _sem = f"{_res.eps_sem:.2g}" if math.isfinite(_res.eps_sem) else "n/a"
                sim_message = (
                    f"Simulated {_res.n_ok} students (N = {_res.n}) at α_prune = "
                    f"{_res.alpha_prune:.3g}: ε = {_res.eps_mean:.4g} ± {_sem} "
                    f"(theory {pt.eps:.4g}); {_res.seconds:.1f} s"
                    + (f"; {_res.n_flagged} uncertified student(s) left out"
                       if _res.n_flagged else "")
                )
    return (sim_message,)


@app.cell(hide_code=True)
def _(
    alpha_prune,
    compute,
    contextlib,
    f,
    get_sims,
    mo,
    plots,
    pt,
    sim_button,
    sim_clear,
    sim_message,
    sim_n,
    sim_seeds,
    spike_args,
    theta_deg,
    theta_label,
):
    _lo = min(compute.ALPHA_RANGE[0], alpha_prune / 1.5)
    _hi = max(compute.ALPHA_RANGE[1], alpha_prune * 1.5)
    _rules = ["hard", "easy"]
    _ready = all(compute.is_cached("learning", theta_deg, r, f, lo=_lo, hi=_hi, **spike_args)
                 for r in _rules)
    with (contextlib.nullcontext() if _ready
          else mo.status.spinner(title="Solving learning curves")):
        _curves = {r: compute.learning_curve(r, f, theta_deg, lo=_lo, hi=_hi, **spike_args)
                   for r in _rules}
        _ref = compute.reference_curve(lo=_lo, hi=_hi, snr=spike_args["snr"])
    _sel = _curves.get(pt.rule, _ref)
    _others = [c for r, c in _curves.items() if r != pt.rule]
    _sims = [s for s in get_sims() if s.matches(pt.rule, f, theta_deg, **spike_args)]
    _fig = plots.learning_panel(pt, _sel, _others, _ref, _sims)
    _img = mo.Html(plots.to_png_html(_fig, "learning", "learning curves"))
    _excl = sum(c.n_excluded for c in (*_curves.values(), _ref))
    _text = mo.md(
        f"""
        ### Learning curves
        **Plotted:** test error ε against the number of kept examples per dimension,
        α_prune, at fixed f = {f:g} and {theta_label}. Solid: the selected rule; dotted:
        the other rule; dashed gray: random pruning, which is just the ordinary learning
        curve ε ≈ 0.5/α_prune at large α. The star is the current point.

        **Try:** at f = 0.2 and θ = 0, follow both rules from small to large α_prune.
        Then lower f, and raise θ to 20°.

        **Notice:** keeping the *easy* examples is best when data are scarce, keeping the
        *hard* ones wins only once the pool is large (α_tot = α_prune/f big); then keep-hard
        falls far faster than the power law. With an imperfect probe (θ > 0) aggressive
        keep-hard pruning (small f) breaks down: the examples nearest the probe's boundary
        are no longer the informative ones, and a small f can do worse than a larger one.

        **Simulate** trains {sim_seeds.value} max-margin students of dimension
        N = {sim_n.value} at the current point (mean ± standard error): they land on the
        theory up to finite-N effects. Points stay while you explore other α_prune.
        """
        + (f"\n\n_{_excl} uncertified grid point(s) left out._" if _excl else "")
    )
    _sim_row = mo.hstack([sim_n, sim_seeds, sim_button, sim_clear], justify="start", gap=1)
    learning_drawn = True
    mo.hstack(
        [_img, mo.vstack([_text, _sim_row, mo.md(sim_message) if sim_message else ""])],
        widths=[3, 2], align="start", gap=2,
    )
    return (learning_drawn,)


@app.cell(hide_code=True)
def _(compute, contextlib, mo, plots, pt, spike_args, theta_deg, theta_label):
    _proto = spike_args["probe"] == "prototype"
    with (contextlib.nullcontext() if compute.is_cached("frontier", theta_deg, **spike_args)
          else mo.status.spinner(title=f"Solving the Pareto frontier at {theta_label}",
                                 subtitle="cached after the first time")):
        _fr = compute.frontier(theta_deg, **spike_args)
    _fig = plots.frontier_panel(_fr, pt)
    _img = mo.Html(plots.to_png_html(_fig, "frontier", "Pareto frontier"))
    if theta_deg > 0 or _proto:
        _fmin = (
            f"Here {theta_label}: the diamond marks **f_min ≈ {_fr.f_min:.3g}**, "
            f"the smallest fraction that is ever optimal over the budgets searched "
            f"(reached at α_prune ≈ {_fr.alpha_prune_at_min:.3g}"
            + (", the end of the range: it keeps decreasing slowly, so f_min is a bound "
               "for this range" if _fr.f_min_at_boundary else "")
            + "). Keeping fewer examples than f_min wastes the budget."
        )
    else:
        _fmin = (
            "Here θ = 0: past α_prune ≈ 2 the best f is the smallest fraction searched "
            f"({_fr.f_floor:g}, open circles): with a perfect metric the frontier is limited "
            "only by how small a fraction of a huge pool one can keep. Raise θ to see f_min."
        )
    _text = mo.md(
        f"""
        ### Pareto frontier
        **Plotted (left):** for each data budget α_prune, the smallest keep-hard error over
        all kept fractions f when the pool is unlimited (α_tot = α_prune/f is free), against
        the unpruned power law. **Right:** the f achieving it, with the current (α_prune, f).

        **Notice:** with a perfect metric the frontier drops off a cliff near α_prune ≈ 2,
        far faster than any power law: pruning beats power-law scaling. An imperfect metric
        (θ > 0) bends the frontier back toward a power law, and the optimal f becomes
        interior and grows with θ.

        {_fmin}

        **Try:** θ = 0, 10, 20, 30° and compare how far the frontier stays below the
        dashed line at α_prune = 100.
        """
    )
    frontier_drawn = True
    mo.hstack([_img, _text], widths=[3, 2], align="start", gap=2)
    return (frontier_drawn,)


@app.cell(hide_code=True)
def _(compute, contextlib, mo, plots, pt, spike_args, theta_deg, theta_label):
    with (contextlib.nullcontext() if compute.is_cached("phase", theta_deg, **spike_args)
          else mo.status.spinner(title=f"Solving the phase diagram at {theta_label}",
                                 subtitle="cached after the first time")):
        _ph = compute.phase(theta_deg, **spike_args)
    _fig = plots.phase_panel(_ph, pt)
    _img = mo.Html(plots.to_png_html(_fig, "phase", "easy versus hard phase diagram"))
    _text = mo.md(
        f"""
        ### Keep easy or keep hard?
        **Plotted:** log10(ε_hard / ε_easy) for a pool of α_tot examples per dimension
        pruned to a fraction f (blue: keep-easy is better, red: keep-hard is better); the
        black line is where both rules give the same error. The star is the current
        (α_tot, f).

        **Notice:** small pools favour keeping the easy examples, large pools the hard ones:
        the crossing moves to smaller pools as f grows towards 1/2. At f = 1 the rules
        coincide.

        **Try:** set *hold fixed* to α_tot, pick a small pool (α_tot = 2) and then a large one
        (α_tot = 200), and switch the rule: the winner flips. Raise θ to see the boundary
        move.
        """
        + (f"\n\n_{_ph.n_uncertified} uncertified grid point(s) left blank._"
           if _ph.n_uncertified else "")
    )
    phase_drawn = True
    mo.hstack([_img, _text], widths=[3, 2], align="start", gap=2)
    return (phase_drawn,)


@app.cell(hide_code=True)
def _(compute, mo):
    learner = mo.ui.dropdown(options=list(compute.APP_LEARNERS), value="logistic",
                             label="learner")
    noise_slider = mo.ui.slider(steps=list(compute.NOISE_STEPS), value=0.1, show_value=True,
                                debounce=True, label="label noise η")
    softness_slider = mo.ui.slider(steps=list(compute.SOFTNESS_STEPS), value=0.0,
                                   show_value=True, debounce=True, label="selection softness τ")
    metric = mo.ui.dropdown(options={"|p| (label-free)": "abs", "y·p (label-aware)": "signed"},
                            value="|p| (label-free)", label="metric")
    reweight = mo.ui.checkbox(value=False, label="reweight by 1/π")
    return learner, metric, noise_slider, reweight, softness_slider


@app.cell(hide_code=True)
def _(compute, mo):
    # the policy families (docs/erm.md 7.5) and the label channel (section 8)
    family = mo.ui.dropdown(options={"keep hard / keep easy": "rule",
                                     "power law σ'(B·p)^A": "power"},
                            value="keep hard / keep easy", label="selection family")
    power_exp_slider = mo.ui.slider(steps=list(compute.POWER_EXP_STEPS), value=1.0,
                                    show_value=True, debounce=True, label="power exponent A")
    probe_scale_slider = mo.ui.slider(steps=list(compute.PROBE_SCALE_STEPS), value=5.0,
                                      show_value=True, debounce=True, label="probe scale B")
    share_slider = mo.ui.slider(steps=list(compute.SHARE_STEPS), value=0.0, show_value=True,
                                debounce=True, label="random share R (keep hard / easy)")
    channel = mo.ui.dropdown(options={"flip (η)": "flip", "probit Φ(β t)": "probit",
                                      "logistic σ(β t)": "logistic"},
                             value="flip (η)", label="label channel")
    beta_slider = mo.ui.slider(steps=list(compute.BETA_STEPS), value=2.0, show_value=True,
                               debounce=True, label="channel steepness β")
    return (beta_slider, channel, family, power_exp_slider, probe_scale_slider,
            share_slider)


@app.cell(hide_code=True)
def _(mo):
    # the penalty slider is redrawn with the learner's name; its value lives in this state
    get_lam, set_lam = mo.state(0.01)
    return get_lam, set_lam


@app.cell(hide_code=True)
def _(compute, get_lam, learner, mo, set_lam):
    lam_slider = mo.ui.slider(steps=list(compute.LAM_STEPS), value=get_lam(), show_value=True,
                              debounce=True, label=compute.penalty_label(learner.value),
                              on_change=set_lam)
    return (lam_slider,)


@app.cell(hide_code=True)
def _(
    alpha_prune,
    beta_slider,
    channel,
    compute,
    contextlib,
    f,
    family,
    lam_slider,
    learner,
    metric,
    mo,
    noise_slider,
    power_exp_slider,
    probe_scale_slider,
    reweight,
    share_slider,
    softness_slider,
    spike_args,
    theta_deg,
):
    erm_learner = learner.value
    erm_lam = float(lam_slider.value)
    erm_labels = compute.label_spec(channel.value, beta=float(beta_slider.value))
    # the noise slider is the flip channel's eta; another channel replaces it
    erm_noise = 0.0 if erm_labels else float(noise_slider.value)
    erm_pol = dict(softness=float(softness_slider.value), metric=metric.value,
                   reweight=bool(reweight.value))
    erm_power = family.value == "power"
    erm_fam = dict(power_exp=float(power_exp_slider.value),
                   probe_scale=float(probe_scale_slider.value),
                   random_share=float(share_slider.value), labels=erm_labels)
    # the power policy replaces keep-hard and keep-easy (random stays as the reference)
    erm_rules = ("power", "random") if erm_power else ("hard", "easy", "random")
    erm_curves, erm_pts, erm_error = [], {}, ""
    erm_notice = compute.erm_unavailable(erm_learner, erm_noise, erm_pol["reweight"],
                                         erm_labels) or ""
    if not erm_notice:
        try:  # the library's one-line refusal (the prototype has no signed metric)
            compute.spike(**spike_args, metric=erm_pol["metric"])
        except ValueError as exc:
            erm_notice = str(exc)
    if not erm_notice:
        _lo = min(compute.ALPHA_RANGE[0], alpha_prune / 1.5)
        _hi = max(compute.ALPHA_RANGE[1], alpha_prune * 1.5)
        _ready = all(compute.erm_is_cached(erm_learner, r, f, theta_deg, lam=erm_lam,
                                           noise=erm_noise, lo=_lo, hi=_hi, **erm_pol,
                                           **erm_fam, **spike_args)
                     for r in erm_rules)
        _slow = ("a regularized learner at θ > 0, with a power or mixed policy, a soft or "
                 "reweighted selection or a probit or logistic label channel can take a while "
                 "the first time"
                 if (theta_deg > 0 or erm_pol["softness"] > 0 or erm_pol["reweight"]
                     or erm_power or erm_fam["random_share"] > 0 or erm_labels
                     or spike_args["probe"] == "prototype")
                 and erm_learner != "max-margin" else "cached afterwards")
        with (contextlib.nullcontext() if _ready
              else mo.status.spinner(title=f"Solving {erm_learner} learning curves",
                                     subtitle=_slow)):
            try:
                erm_curves = [compute.erm_curve(erm_learner, r, f, theta_deg, lam=erm_lam,
                                                noise=erm_noise, lo=_lo, hi=_hi, **erm_pol,
                                                **erm_fam, **spike_args)
                              for r in erm_rules]
                erm_pts = {r: compute.erm_point(erm_learner, r, f, theta_deg,
                                                alpha_prune=alpha_prune, lam=erm_lam,
                                                noise=erm_noise, **erm_pol, **erm_fam,
                                                **spike_args)
                           for r in erm_rules}
            except Exception as exc:  # shown to the user, the app keeps running
                erm_curves, erm_pts = [], {}
                erm_error = f"Could not solve the {erm_learner} learner here: {exc}"
    return (
        erm_curves,
        erm_error,
        erm_fam,
        erm_labels,
        erm_lam,
        erm_learner,
        erm_noise,
        erm_notice,
        erm_pol,
        erm_power,
        erm_pts,
    )


@app.cell(hide_code=True)
def _(
    alpha_prune,
    alpha_slider,
    beta_slider,
    channel,
    compute,
    erm_curves,
    erm_error,
    erm_fam,
    erm_labels,
    erm_lam,
    erm_learner,
    erm_noise,
    erm_notice,
    erm_pol,
    erm_power,
    erm_pts,
    f,
    f_slider,
    family,
    lam_slider,
    learner,
    math,
    metric,
    mo,
    mode,
    noise_slider,
    plots,
    power_exp_slider,
    probe_choice,
    probe_scale_slider,
    pt,
    reweight,
    rule,
    share_slider,
    snr_slider,
    softness_slider,
    theta,
    theta_label,
):
    _controls = mo.vstack([
        mo.hstack([learner, lam_slider, channel, noise_slider if channel.value == "flip"
                   else beta_slider], justify="start", gap=2, wrap=True),
        mo.hstack([family] + ([power_exp_slider, probe_scale_slider] if erm_power
                              else [share_slider, softness_slider, metric])
                  + [reweight], justify="start", gap=2, wrap=True),
        mo.hstack([rule, f_slider, mode, alpha_slider, theta, snr_slider, probe_choice],
                  justify="start", gap=2, wrap=True),
    ])
    _sel_rule = "power" if erm_power else pt.rule
    _cur = erm_pts.get(_sel_rule)
    if erm_notice:
        _panel = mo.callout(mo.md(f"**{erm_notice[0].upper() + erm_notice[1:]}.**"),
                            kind="warn")
        _now = ("**Current point:** no number for the max-margin student with reweighting: "
                "untick it or choose hinge, logistic or ridge."
                if erm_notice == compute.REWEIGHT_MAX_MARGIN else
                "**Current point:** no number for the prototype probe with the y·p metric: "
                "choose |p| or the fixed probe.")
    elif erm_error:
        _panel = mo.callout(mo.md(erm_error), kind="danger")
        _now = "**Current point:** not available."
    else:
        _fig = plots.erm_panel(erm_curves, _sel_rule, _cur)
        _panel = mo.Html(plots.to_png_html(_fig, "erm", "regularized learners with label noise"))
        if _cur is not None and _cur.converged and math.isfinite(_cur.eps):
            _now = (f"**Current point** ({_sel_rule}, f = {f:g}, {theta_label}, "
                    f"α_prune = {alpha_prune:.4g}): **ε = {_cur.eps:.4g}** against the clean "
                    f"teacher"
                    + (f"; against noisy test labels η + (1 − 2η)ε = {_cur.eps_noisy:.4g}"
                       if erm_noise > 0 and not erm_labels else "")
                    + (f"; against test labels of the channel {erm_labels}: "
                       f"ε_noisy = {_cur.eps_noisy:.4g}" if erm_labels else "") + ".")
        else:
            _why = f" ({_cur.reason})" if _cur is not None and _cur.reason else ""
            _now = f"**Current point:** not certified{_why}; nothing is drawn for it."
    _lam_note = ("λ is ignored by the max-margin student (the λ → 0 limit of hinge while the "
                 "data are separable; with η > 0 its curve stops at the capacity α_c of the "
                 "noisy kept data, beyond which no separating student exists)."
                 if erm_learner == "max-margin"
                 else f"The student minimises its loss plus (λ/2)|w|², λ = {erm_lam:g}.")
    _pol = erm_pol
    _sel_note = (
        "Selection: the sharp rule by |p|" if _pol["softness"] == 0 and _pol["metric"] == "abs"
        else ("Selection: each pool example is kept with probability π(m) = "
              f"sigmoid(±(k − m)/τ), τ = {_pol['softness']:g}, m = "
              + ("|p|" if _pol["metric"] == "abs" else "y·p (y the observed label)")))
    if erm_power:
        _sel_note = ("Selection: the power law π = min(c σ'(B·p)^A, 1), A = "
                     f"{erm_fam['power_exp']:g}, B = {erm_fam['probe_scale']:g} (A > 0 keeps "
                     "hard examples, A < 0 easy ones, A = 0 is random)")
    elif erm_fam["random_share"] > 0:
        _sel_note += (f", mixed with a random share R = {erm_fam['random_share']:g}: "
                      "π = R f + (1 − R) π_rule")
    _sel_note += (", losses reweighted by 1/π (unbiased selection)." if _pol["reweight"]
                  else ".")
    if erm_labels:
        _sel_note += (f" Labels drawn from the channel {erm_labels} (P(y = +1 | t) = "
                      + ("Φ(β t)" if channel.value == "probit" else "σ(β t)")
                      + f", β = {beta_slider.value:g}); the η slider is not used.")
    _which = ("the power-law policy (green) and random pruning (gray dashed)" if erm_power
              else "keep-hard (red), keep-easy (blue) and random pruning (gray dashed)")
    _noise_words = (f"with labels drawn from the channel {erm_labels}" if erm_labels
                    else f"when each training label is flipped with probability η = "
                         f"{erm_noise:g}")
    _excl = sum(c.n_excluded for c in erm_curves)
    _text = mo.md(
        f"""
        ### Regularized learners and label noise
        **Plotted:** test error ε of the **{erm_learner}** student against α_prune, for
        {_which} at f = {f:g} and {theta_label}, {_noise_words}. Solid: the selected
        rule; the star is the current point. Hinge is
        the soft-margin SVM, logistic the logistic regression, ridge least squares.
        {_lam_note} ε is measured against the clean teacher. {_sel_note}

        {_now}

        **Notice:** with label noise, keep-easy degrades much more than keep-hard. Keep-easy
        keeps the examples far from the boundary, so each flipped label there is a
        large-margin outlier that pulls the student hard; near the boundary (keep-hard) a
        flipped label costs little.

        **Try:** raise the noise η from 0 to 0.3 and watch the easy/hard crossing move to
        smaller pools; then compare hinge, logistic and ridge, and vary λ. Switch the metric
        to y·p: keep-hard then keeps the mislabeled examples (ε can pass 1/2), keep-easy
        drops them.
        """
        + (f"\n\n_{_excl} uncertified grid point(s) left as gaps"
           + (" (a small λ is harder to certify: raise it to fill them)"
              if erm_learner != "max-margin" else "") + "._" if _excl else "")
    )
    erm_drawn = True
    mo.vstack([_controls, mo.hstack([_panel, _text], widths=[3, 2], align="start", gap=2)])
    return (erm_drawn,)


@app.cell(hide_code=True)
def _(compute, frontier_drawn, learning_drawn, phase_drawn):
    # once the first panels are drawn, precompute the other angles (``prunescale app`` sets
    # PRUNESCALE_APP_WARM=1 unless given --no-warm) so that moving theta is instant later
    import os as _os

    _drawn = learning_drawn and frontier_drawn and phase_drawn
    if _drawn and _os.environ.get("PRUNESCALE_APP_WARM") == "1":
        compute.warm_in_background()
    return


if __name__ == "__main__":
    app.run()
