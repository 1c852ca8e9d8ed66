"""The app's regularized-learner panel: :func:`compute.erm_curve`, :func:`compute.erm_point`,
:func:`plots.erm_panel` and the notebook section "Regularized learners and label noise"."""

import dataclasses
import math

import numpy as np
import pytest

from prunescale.app import compute, plots
from prunescale.theory import erm as theory_erm
from prunescale.theory import solve


@pytest.fixture(autouse=True)
def _fresh_caches():
    compute.clear_caches()
    yield
    compute.clear_caches()


@pytest.mark.parametrize("learner,rule,lam,noise", [
    ("logistic", "hard", 0.01, 0.1),
    ("hinge", "easy", 0.1, 0.2),
    ("ridge", "hard", 0.1, 0.0),
])
def test_erm_curve_matches_solve_and_is_cached(learner, rule, lam, noise):
    c = compute.erm_curve(learner, rule, 0.2, 0.0, lam=lam, noise=noise)
    grid = compute.erm_alpha_grid(0.0)
    r = solve(rule, 0.2, grid, theta_deg=0.0, learner=learner, lam=lam, noise=noise)
    assert (c.learner, c.rule, c.f, c.theta_deg, c.lam, c.noise) == (learner, rule, 0.2, 0.0,
                                                                     lam, noise)
    np.testing.assert_array_equal(c.alpha_prune, grid)
    np.testing.assert_array_equal(c.converged, r.converged)
    np.testing.assert_array_equal(c.eps, r.eps)  # nan exactly where not certified
    assert np.all(np.isnan(c.eps[~c.converged]))
    assert c.n_excluded == int((~r.converged).sum()) <= 3
    ok = c.eps[c.converged]
    assert np.all((ok > 0) & (ok < 0.6))
    assert not c.eps.flags.writeable and not c.alpha_prune.flags.writeable
    assert compute.erm_is_cached(learner, rule, 0.2, 0.0, lam=lam, noise=noise)
    assert compute.erm_curve(learner, rule, 0.2, 0, lam=lam, noise=noise) is c


def test_erm_alpha_grid_about_40_points_coarse_at_theta():
    g0, g1 = compute.erm_alpha_grid(0.0), compute.erm_alpha_grid(20.0)
    assert 35 <= len(g0) <= 45 and 8 <= len(g1) <= 15
    assert g0[0] == pytest.approx(0.1) and g1[-1] == pytest.approx(100.0)
    with pytest.raises(ValueError):
        compute.erm_alpha_grid(0.0, 5.0, 1.0)


def test_noise_hurts_keep_easy_more_than_keep_hard():
    def at(rule, noise, a=10.0):
        c = compute.erm_curve("logistic", rule, 0.2, 0.0, lam=0.01, noise=noise)
        return float(np.interp(np.log(a), np.log(c.alpha_prune), c.eps))

    hard = at("hard", 0.2) / at("hard", 0.0)
    easy = at("easy", 0.2) / at("easy", 0.0)
    assert easy > 2 * hard


def test_erm_point_matches_solve():
    p = compute.erm_point("hinge", "hard", 0.3, 0.0, alpha_prune=3.0, lam=0.05, noise=0.1)
    r = solve("hard", 0.3, 3.0, theta_deg=0.0, learner="hinge", lam=0.05, noise=0.1)
    assert p.converged and bool(r.converged) and p.reason == ""
    assert p.eps == float(r.eps) and p.alpha_prune == 3.0
    assert compute.erm_point("hinge", "hard", 0.3, 0.0, alpha_prune=3.0, lam=0.05,
                             noise=0.1) is p


def test_max_margin_with_noise_stops_at_the_capacity():
    from prunescale.theory import solve
    from prunescale.theory.capacity import capacity

    assert compute.erm_unavailable("max-margin", 0.1) is None
    assert compute.erm_unavailable("logistic", 0.4) is None
    c = compute.erm_curve("max-margin", "hard", 0.2, 0.0, noise=0.1)
    alpha_c = float(capacity("hard", 0.2, noise=0.1).alpha_c)
    below = c.alpha_prune < 0.99 * alpha_c
    assert c.converged[below].all() and not c.converged[c.alpha_prune > alpha_c].any()
    assert np.isnan(c.eps[c.alpha_prune > alpha_c]).all() and c.noise == 0.1
    r = solve("hard", 0.2, c.alpha_prune[below], noise=0.1)
    np.testing.assert_allclose(c.eps[below], r.eps, rtol=0, atol=1e-12)
    p = compute.erm_point("max-margin", "hard", 0.2, 0.0, alpha_prune=2 * alpha_c, noise=0.1)
    assert not p.converged and math.isnan(p.eps)
    assert p.reason.startswith("not separable at this load")
    assert compute.erm_is_cached("max-margin", "hard", 0.2, 0.0, noise=0.1)


def test_max_margin_without_noise_is_the_existing_theory():
    # noiseless: exactly the max-margin curve and point; lambda is ignored
    c = compute.erm_curve("max-margin", "hard", 0.2, 0.0, lam=1.0)
    ref = compute.learning_curve("hard", 0.2, 0.0)
    np.testing.assert_array_equal(c.eps, ref.eps)
    np.testing.assert_array_equal(c.alpha_prune, ref.alpha_prune)
    assert math.isnan(c.lam) and c.noise == 0.0 and c.n_excluded == ref.n_excluded
    assert compute.erm_curve("max-margin", "hard", 0.2, 0.0, lam=0.001) is c
    p = compute.erm_point("max-margin", "hard", 0.2, 0.0, alpha_prune=3.0)
    assert p.eps == compute.point("hard", 0.2, 0.0, alpha_prune=3.0).eps and p.converged


def test_random_rule_ignores_f_and_theta():
    c = compute.erm_curve("ridge", "random", 0.3, 20.0, lam=0.1, noise=0.1)
    assert c.f == 1.0 and c.theta_deg == 0.0
    assert compute.erm_curve("ridge", "random", 1.0, 0.0, lam=0.1, noise=0.1) is c


def test_erm_rejects_bad_input():
    with pytest.raises(ValueError, match="learner"):
        compute.erm_curve("svm", "hard", 0.2)
    with pytest.raises(ValueError, match="lam"):
        compute.erm_curve("ridge", "hard", 0.2, lam=0.0)
    with pytest.raises(ValueError, match="noise"):
        compute.erm_curve("ridge", "hard", 0.2, noise=0.7)
    with pytest.raises(ValueError, match="rule"):
        compute.erm_curve("ridge", "medium", 0.2)


def test_uncertified_points_are_gaps(monkeypatch):
    real = theory_erm.solve_regularized

    def fake(*args, **kw):
        r = real(*args, **kw)
        conv = np.array(r.converged, bool, copy=True)
        conv[::3] = False
        return dataclasses.replace(r, converged=conv, eps=np.where(conv, r.eps, np.nan))

    monkeypatch.setattr(theory_erm, "solve_regularized", fake)
    c = compute.erm_curve("ridge", "hard", 0.2, 0.0, lam=0.1, noise=0.1)
    n = len(compute.erm_alpha_grid(0.0))
    assert c.n_excluded == len(range(0, n, 3)) and len(c.eps) == n
    assert np.all(np.isnan(c.eps[::3])) and np.all(np.isfinite(c.eps[1::3]))
    fig = plots.erm_panel([c], "hard", None)
    assert np.isnan(fig.axes[0].lines[0].get_ydata()).sum() == c.n_excluded


def test_erm_panel_draws():
    cs = [compute.erm_curve("hinge", r, 0.2, 0.0, lam=0.1, noise=0.1)
          for r in ("hard", "easy", "random")]
    p = compute.erm_point("hinge", "easy", 0.2, 0.0, alpha_prune=3.0, lam=0.1, noise=0.1)
    fig = plots.erm_panel(cs, "easy", p)
    assert len(fig.axes) == 1 and len(fig.axes[0].lines) >= 4
    assert "hinge" in fig.axes[0].get_title()
    html = plots.to_png_html(fig, "erm", "regularized learners")
    assert html.startswith('<img data-panel="erm"')
    bad = dataclasses.replace(p, eps=math.nan, converged=False)
    assert len(plots.erm_panel(cs, "easy", bad).axes[0].lines) == len(fig.axes[0].lines) - 1


def _html(outputs):
    return " ".join(getattr(o, "text", "") or "" for o in outputs if o is not None)


def test_notebook_draws_the_learner_panel():
    from prunescale.app.notebook import app as nb

    outputs, defs = nb.run()
    html = _html(outputs)
    assert 'data-panel="erm"' in html and "Regularized learners and label noise" in html
    assert defs["erm_learner"] == "logistic" and not defs["erm_notice"] and not defs["erm_error"]
    pt = defs["pt"]
    cur = defs["erm_pts"][pt.rule]
    r = solve(pt.rule, defs["f"], defs["alpha_prune"], theta_deg=defs["theta_deg"],
                  learner="logistic", lam=defs["erm_lam"], noise=defs["erm_noise"])
    assert cur.eps == float(r.eps) and f"ε = {cur.eps:.4g}" in html
    for panel in ("learning", "frontier", "phase"):  # the max-margin panels are still there
        assert f'data-panel="{panel}"' in html


def test_notebook_max_margin_with_noise_draws_up_to_the_capacity():
    import marimo as mo

    from prunescale.app.notebook import app as nb

    controls = {
        "learner": mo.ui.dropdown(options=list(compute.APP_LEARNERS), value="max-margin"),
        "lam_slider": mo.ui.slider(steps=list(compute.LAM_STEPS), value=0.01),
        "noise_slider": mo.ui.slider(steps=list(compute.NOISE_STEPS), value=0.2),
        "softness_slider": mo.ui.slider(steps=list(compute.SOFTNESS_STEPS), value=0.0),
        "metric": mo.ui.dropdown(options=list(compute.APP_METRICS), value="abs"),
        "reweight": mo.ui.checkbox(value=False),
    }
    outputs, defs = nb.run(defs=controls)
    html = _html(outputs)
    assert not defs["erm_notice"] and not defs["erm_error"] and len(defs["erm_curves"]) == 3
    assert "capacity" in html and "Traceback" not in html
    assert 'data-panel="erm"' in html and 'data-panel="learning"' in html
    for c in defs["erm_curves"]:  # a gap beyond the capacity, numbers below it
        assert c.converged.any() and not c.converged[-1]


def test_selection_policy_controls_reach_the_theory():
    import marimo as mo

    from prunescale.app.notebook import app as nb
    from prunescale.theory import solve

    def controls(learner, metric, reweight):
        return {
            "learner": mo.ui.dropdown(options=list(compute.APP_LEARNERS), value=learner),
            "lam_slider": mo.ui.slider(steps=list(compute.LAM_STEPS), value=0.01),
            "noise_slider": mo.ui.slider(steps=list(compute.NOISE_STEPS), value=0.2),
            "softness_slider": mo.ui.slider(steps=list(compute.SOFTNESS_STEPS), value=0.0),
            "metric": mo.ui.dropdown(options=list(compute.APP_METRICS), value=metric),
            "reweight": mo.ui.checkbox(value=reweight),
        }

    outputs, defs = nb.run(defs=controls("logistic", "signed", False))
    html = _html(outputs)
    assert defs["erm_pol"] == {"softness": 0.0, "metric": "signed", "reweight": False}
    assert "y·p (y the observed label)" in html and not defs["erm_error"]
    pt = defs["pt"]
    cur = defs["erm_pts"][pt.rule]
    r = solve(pt.rule, defs["f"], defs["alpha_prune"], theta_deg=defs["theta_deg"],
                  learner="logistic", lam=0.01, noise=0.2, metric="signed")
    assert cur.eps == pytest.approx(float(r.eps), abs=1e-12) and cur.metric == "signed"
    # reweighting the max-margin student: a notice, never a number
    outputs, defs = nb.run(defs=controls("max-margin", "abs", True))
    assert defs["erm_notice"] == compute.REWEIGHT_MAX_MARGIN and defs["erm_curves"] == []
    with pytest.raises(ValueError, match="reweighting is for the regularized learners"):
        compute.erm_point("max-margin", "hard", 0.2, 0.0, alpha_prune=2.0, reweight=True)


def test_penalty_slider_is_labelled_by_the_learner():
    import marimo as mo

    from prunescale.app.notebook import app as nb

    assert compute.penalty_label("logistic") == "penalty λ (logistic)"
    assert "max-margin" in compute.penalty_label("max-margin")
    with pytest.raises(ValueError):
        compute.penalty_label("svm")
    controls = {
        "learner": mo.ui.dropdown(options=list(compute.APP_LEARNERS), value="ridge"),
        "noise_slider": mo.ui.slider(steps=list(compute.NOISE_STEPS), value=0.1),
        "softness_slider": mo.ui.slider(steps=list(compute.SOFTNESS_STEPS), value=0.0),
        "metric": mo.ui.dropdown(options=list(compute.APP_METRICS), value="abs"),
        "reweight": mo.ui.checkbox(value=False),
    }
    outputs, defs = nb.run(defs=controls)
    html = _html(outputs)
    assert "penalty λ (ridge)" in html and "ridge penalty" not in html
    assert defs["erm_lam"] == 0.01 and defs["erm_learner"] == "ridge"


@pytest.mark.parametrize("kw", [{"theta_deg": 20.0}, {"softness": 0.5}],
                         ids=["theta20", "soft"])
def test_regularized_panel_away_from_the_base_case_is_certified(kw):
    """The app's regularized panel (logistic, lam 0.01, eta 0.1) at theta = 20 and with
    softness 0.5: every point of its curves certified and equal to the engine's
    (``benchmarks/bench_erm_grid.py`` times these; the browser test checks the latency)."""
    compute.clear_caches()
    for rule in ("hard", "easy"):
        c = compute.erm_curve("logistic", rule, 0.2, lam=0.01, noise=0.1, **kw)
        assert c.converged.all() and c.n_excluded == 0
        r = solve(rule, 0.2, np.asarray(c.alpha_prune), learner="logistic", lam=0.01,
                  noise=0.1, **kw)
        assert np.asarray(r.converged).all()
        np.testing.assert_allclose(c.eps, np.asarray(r.eps), rtol=0, atol=1e-12)
        p = compute.erm_point("logistic", rule, 0.2, alpha_prune=2.0, lam=0.01, noise=0.1,
                              **kw)
        assert p.converged and np.isfinite(p.eps)


def _family_controls(learner="logistic", family="rule", A=1.0, B=5.0, R=0.0, channel="flip",
                     beta=2.0, noise=0.1):
    import marimo as mo

    return {
        "learner": mo.ui.dropdown(options=list(compute.APP_LEARNERS), value=learner),
        "lam_slider": mo.ui.slider(steps=list(compute.LAM_STEPS), value=0.01),
        "noise_slider": mo.ui.slider(steps=list(compute.NOISE_STEPS), value=noise),
        "softness_slider": mo.ui.slider(steps=list(compute.SOFTNESS_STEPS), value=0.0),
        "metric": mo.ui.dropdown(options=list(compute.APP_METRICS), value="abs"),
        "reweight": mo.ui.checkbox(value=False),
        "family": mo.ui.dropdown(options=["rule", "power"], value=family),
        "power_exp_slider": mo.ui.slider(steps=list(compute.POWER_EXP_STEPS), value=A),
        "probe_scale_slider": mo.ui.slider(steps=list(compute.PROBE_SCALE_STEPS), value=B),
        "share_slider": mo.ui.slider(steps=list(compute.SHARE_STEPS), value=R),
        "channel": mo.ui.dropdown(options=list(compute.LABEL_FAMILIES), value=channel),
        "beta_slider": mo.ui.slider(steps=list(compute.BETA_STEPS), value=beta),
    }


def test_power_and_mixed_controls_reach_the_theory():
    from prunescale.app.notebook import app as nb

    outputs, defs = nb.run(defs=_family_controls(family="power", A=-1.0, B=3.0))
    html = _html(outputs)
    assert not defs["erm_error"] and not defs["erm_notice"]
    assert [c.rule for c in defs["erm_curves"]] == ["power", "random"]
    cur = defs["erm_pts"]["power"]
    r = solve("power", defs["f"], defs["alpha_prune"], theta_deg=defs["theta_deg"],
              learner="logistic", lam=0.01, noise=0.1, power_exp=-1.0, probe_scale=3.0)
    assert cur.converged and cur.eps == float(r.eps) and cur.eps_noisy == float(r.eps_noisy)
    assert (cur.power_exp, cur.probe_scale) == (-1.0, 3.0)
    assert f"ε = {cur.eps:.4g}" in html and "power law" in html
    c = defs["erm_curves"][0]
    rc = solve("power", defs["f"], c.alpha_prune, learner="logistic", lam=0.01, noise=0.1,
               power_exp=-1.0, probe_scale=3.0)
    np.testing.assert_array_equal(c.eps, rc.eps)
    # a random share mixed into the rule of the current point
    outputs, defs = nb.run(defs=_family_controls(R=0.2))
    pt = defs["pt"]
    cur = defs["erm_pts"][pt.rule]
    r = solve(pt.rule, defs["f"], defs["alpha_prune"], theta_deg=defs["theta_deg"],
              learner="logistic", lam=0.01, noise=0.1, random_share=0.2)
    pure = solve(pt.rule, defs["f"], defs["alpha_prune"], theta_deg=defs["theta_deg"],
                 learner="logistic", lam=0.01, noise=0.1)
    assert cur.eps == float(r.eps) and cur.random_share == 0.2 and cur.eps != float(pure.eps)
    assert "random share R = 0.2" in _html(outputs)


def test_label_channel_reaches_the_theory_for_every_learner():
    from prunescale.app.notebook import app as nb

    outputs, defs = nb.run(defs=_family_controls(learner="max-margin", channel="probit",
                                                 beta=10.0))
    assert not defs["erm_error"] and not defs["erm_notice"] and defs["erm_noise"] == 0.0
    pt = defs["pt"]
    cur = defs["erm_pts"][pt.rule]
    r = solve(pt.rule, defs["f"], defs["alpha_prune"], theta_deg=defs["theta_deg"],
              labels="probit:10")
    assert cur.labels == "probit:10" and cur.converged and cur.eps == float(r.eps)
    assert cur.eps_noisy == float(r.eps_noisy) and f"{cur.eps_noisy:.4g}" in _html(outputs)
    # a regularized learner with a logistic channel: the same numbers as the theory
    outputs, defs = nb.run(defs=_family_controls(learner="ridge", channel="logistic",
                                                 beta=2.0))
    html = _html(outputs)
    assert not defs["erm_error"] and not defs["erm_notice"] and "Traceback" not in html
    cur = defs["erm_pts"][pt.rule]
    r = solve(pt.rule, defs["f"], defs["alpha_prune"], theta_deg=defs["theta_deg"],
              learner="ridge", lam=0.01, labels="logistic:2")
    assert cur.labels == "logistic:2" and cur.eps == float(r.eps)
    assert cur.eps_noisy == float(r.eps_noisy) and "logistic:2" in html
    # a flip channel is the noise slider's eta
    assert compute.label_spec("flip", 0.1) == "" and compute.label_spec("probit", 0, 5) == \
        "probit:5"
    with pytest.raises(ValueError, match="both"):
        compute.erm_point("max-margin", "hard", 0.2, 0.0, alpha_prune=2.0, noise=0.1,
                          labels="probit:2")


def test_family_inputs_are_checked():
    with pytest.raises(ValueError, match="probe scale"):
        compute.erm_point("logistic", "power", 0.2, alpha_prune=2.0, probe_scale=0.0)
    with pytest.raises(ValueError, match="random share"):
        compute.erm_point("logistic", "hard", 0.2, alpha_prune=2.0, random_share=1.5)
    with pytest.raises(ValueError, match="label-free"):
        compute.erm_curve("logistic", "power", 0.2, metric="signed")
