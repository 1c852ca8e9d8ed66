"""The app's spike and probe controls (structured inputs, ``docs/structure.md``): the spike
strength S, the fixed probe at theta or the label-free prototype with its unlabeled sample
alpha_ssl. They reach every theory panel through :mod:`app.compute`; S = 0 with the fixed
probe is exactly the isotropic app."""

import math
import subprocess
from pathlib import Path

import numpy as np
import pytest

from prunescale.app import compute, plots
from prunescale.theory import curves, solve
from prunescale.theory.spiked import prototype_angle_deg

ROOT = Path(__file__).resolve().parents[1]
#: The last commit before the app had spike and probe controls (for the S = 0 identity).
BEFORE_SPIKE = "f636e48"


def _html(outputs):
    return " ".join(getattr(o, "text", "") or "" for o in outputs if o is not None)


def _controls(snr=0.0, probe="fixed", alpha_ssl=0.0, theta=0, learner="max-margin",
              metric="abs", noise=0.0):
    """Controls of the notebook by name (``nb.run(defs=...)``); the regularized panel is
    the max-margin student without noise (its curves are the learning curves: no extra
    solves)."""
    import marimo as mo

    return {
        "snr_slider": mo.ui.slider(steps=list(compute.SNR_STEPS), value=snr),
        "probe_choice": mo.ui.dropdown(options=list(compute.APP_PROBES), value=probe),
        "alpha_ssl_choice": mo.ui.dropdown(options={"pool": 0.0, "a": float(alpha_ssl or 1.0)},
                                           value="pool" if not alpha_ssl else "a"),
        "theta": mo.ui.slider(steps=list(compute.THETA_STEPS), value=theta),
        "rule": mo.ui.dropdown(options=list(compute.RULES[:3]), value="hard"),
        "f_slider": mo.ui.slider(steps=list(compute.F_STEPS), value=0.2),
        "mode": mo.ui.dropdown(options=["prune", "tot"], value="prune"),
        "learner": mo.ui.dropdown(options=list(compute.APP_LEARNERS), value=learner),
        "noise_slider": mo.ui.slider(steps=list(compute.NOISE_STEPS), value=noise),
        "metric": mo.ui.dropdown(options=list(compute.APP_METRICS), value=metric),
        "softness_slider": mo.ui.slider(steps=list(compute.SOFTNESS_STEPS), value=0.0),
        "reweight": mo.ui.checkbox(value=False),
    }


def test_spike_controls_reach_the_theory():
    from prunescale.app.notebook import app as nb

    outputs, defs = nb.run(defs=_controls(snr=5.0))
    html = _html(outputs)
    assert defs["spike_args"] == {"snr": 5.0, "probe": "fixed", "alpha_ssl": None}
    pt, f, ap = defs["pt"], defs["f"], defs["alpha_prune"]
    r = solve(pt.rule, f, ap, snr=5.0)
    assert pt.converged and pt.eps == float(r.eps) and pt.snr == 5.0
    assert pt.eps != compute.point(pt.rule, f, alpha_prune=ap).eps  # the spike matters
    assert "S = 5" in html and "Traceback" not in html
    for panel in ("learning", "frontier", "phase", "erm"):
        assert f'data-panel="{panel}"' in html
    c = compute.learning_curve(pt.rule, f, 0.0, lo=0.1, hi=100.0, snr=5.0)
    rc = solve(pt.rule, f, c.alpha_prune, snr=5.0)
    np.testing.assert_array_equal(c.eps, rc.eps)
    ref = compute.reference_curve(snr=5.0)
    np.testing.assert_array_equal(ref.eps, solve("random", 1.0, ref.alpha_prune, snr=5.0).eps)
    # the panels were computed at the spike (cached by the notebook)
    assert compute.is_cached("frontier", 0.0, snr=5.0) and compute.is_cached("phase", 0.0,
                                                                             snr=5.0)
    ph = compute.phase(0.0, snr=5.0)
    at, fs = compute.phase_grids(0.0)
    e = solve("easy", fs[3], alpha_tot=at, snr=5.0)  # one row of the diagram
    h = solve("hard", fs[3], alpha_tot=at, snr=5.0)
    np.testing.assert_allclose(ph.log_ratio[3], np.log10(h.eps / e.eps), rtol=0, atol=1e-9)
    fr = compute.frontier(0.0, snr=5.0)
    a, fg = compute.frontier_grids(0.0)
    ref_fr = curves.pareto_frontier(a, 0.0, f_grid=fg, snr=5.0)
    ok = np.isfinite(ref_fr.eps)
    np.testing.assert_array_equal(fr.eps, ref_fr.eps[ok])
    assert not np.allclose(fr.eps, compute.frontier(0.0).eps[: len(fr.eps)], rtol=1e-3)


def test_regularized_learner_and_simulation_take_the_spike():
    p = compute.erm_point("logistic", "hard", 0.2, 10.0, alpha_prune=2.0, lam=0.1,
                          noise=0.1, snr=3.0)
    r = solve("hard", 0.2, 2.0, theta_deg=10.0, learner="logistic", lam=0.1, noise=0.1,
              snr=3.0)
    assert p.converged and p.eps == float(r.eps) and p.snr == 3.0
    q = compute.erm_point("ridge", "easy", 0.3, alpha_prune=2.0, lam=0.1, snr=3.0,
                          probe="prototype", alpha_ssl=2.0)
    r = solve("easy", 0.3, 2.0, learner="ridge", lam=0.1, snr=3.0, probe="prototype",
              alpha_ssl=2.0)
    assert q.converged and q.eps == float(r.eps) and q.probe == "prototype"
    # a simulated point belongs to the curve of its own spike and probe only
    s = compute.SimPoint("hard", 0.2, 0.0, 2.0, 50, 4, 0.1, 0.01, 4, 0, 1.0, snr=3.0,
                         probe="prototype", alpha_ssl=None)
    assert s.matches("hard", 0.2, 20.0, snr=3.0, probe="prototype")
    assert not s.matches("hard", 0.2, 0.0, snr=3.0) and not s.matches("hard", 0.2, 0.0)
    with pytest.raises(ValueError, match="too many"):
        compute.simulate("hard", 0.01, 0.0, 50.0, n=200, snr=3.0, probe="prototype")


def test_prototype_ignores_theta_shows_the_bbp_angle_and_refuses_signed():
    from prunescale.app.notebook import app as nb

    outputs, defs = nb.run(defs=_controls(snr=2.0, probe="prototype", alpha_ssl=1.0,
                                          theta=20))
    html = _html(outputs)
    assert defs["spike_args"] == {"snr": 2.0, "probe": "prototype", "alpha_ssl": 1.0}
    angle = float(prototype_angle_deg(1.0, 2.0))  # cos^2 = (1 - 1/4) / (1 + 1/2): 45 degrees
    pt = defs["pt"]
    r = solve(pt.rule, defs["f"], defs["alpha_prune"], snr=2.0, probe="prototype",
              alpha_ssl=1.0)
    assert pt.eps == float(r.eps) and pt.theta_deg == pytest.approx(angle, abs=1e-9)
    assert defs["proto_deg"] == pytest.approx(angle, abs=1e-12)
    assert "θ slider is not used by the prototype probe" in html
    assert f"prototype angle θ = {angle:.3g}°" in html and "Below the transition" not in html
    # theta is ignored: the same cached panels as at theta = 0
    assert compute.learning_curve("hard", 0.2, 20.0, snr=2.0, probe="prototype",
                                  alpha_ssl=1.0) is \
        compute.learning_curve("hard", 0.2, 0.0, snr=2.0, probe="prototype", alpha_ssl=1.0)
    assert compute.frontier(20.0, snr=2.0, probe="prototype", alpha_ssl=1.0) is \
        compute.frontier(0.0, snr=2.0, probe="prototype", alpha_ssl=1.0)
    ph = compute.phase(30.0, snr=2.0, probe="prototype", alpha_ssl=1.0)
    assert ph.probe == "prototype" and ph.theta_deg == 0.0
    assert plots.probe_words(ph) == "prototype probe, S = 2, α_ssl = 1"
    assert plots.probe_words(pt) == "prototype probe (θ = 45°), S = 2, α_ssl = 1"
    assert angle == pytest.approx(45.0)
    for panel in ("learning", "frontier", "phase", "erm"):
        assert f'data-panel="{panel}"' in html
    assert "Traceback" not in html
    # with the signed metric: the library's one-line refusal in the regularized panel
    # (the max-margin panels are those above, from the caches)
    outputs, defs = nb.run(defs=_controls(snr=2.0, probe="prototype", alpha_ssl=1.0,
                                          learner="logistic", metric="signed", noise=0.1))
    html = _html(outputs)
    assert defs["erm_notice"].startswith("metric signed is not for the prototype probe")
    assert "\n" not in defs["erm_notice"] and defs["erm_curves"] == []
    assert "Metric signed is not for the prototype probe" in html and "Traceback" not in html
    assert 'data-panel="learning"' in html and 'data-panel="erm"' not in html
    with pytest.raises(ValueError, match="metric signed is not for the prototype probe"):
        compute.erm_curve("logistic", "hard", 0.2, snr=2.0, probe="prototype",
                          metric="signed")


def test_below_the_transition_the_prototype_is_uninformative():
    # S = 0.5 and alpha_ssl = 2: alpha_ssl S^2 = 0.5 <= 1, the prototype is at 90 degrees
    assert compute.prototype_angle(0.5, 2.0) == 90.0
    assert compute.prototype_angle(5.0, 10.0) < 10.0
    from prunescale.app.notebook import app as nb

    _, defs = nb.run(defs=_controls(snr=0.5, probe="prototype", alpha_ssl=2.0))
    note = defs["probe_note"]
    assert "prototype angle θ = 90°" in note and "Below the transition" in note
    assert "uninformative" in note and "α_ssl·S² = 0.5 ≤ 1" in note
    assert "random pruning here" in note
    assert defs["pt"].theta_deg == 90.0


def test_zero_spike_with_the_fixed_probe_calls_the_solver_as_before(monkeypatch):
    seen = []
    real = compute.solve

    def spy(*args, **kw):
        seen.append(set(kw))
        return real(*args, **kw)

    monkeypatch.setattr(compute, "solve", spy)
    compute.clear_caches()
    p = compute.point("hard", 0.2, 10.0, alpha_prune=3.0, snr=0.0, probe="fixed",
                      alpha_ssl=5.0)  # alpha_ssl belongs to the prototype: ignored here
    c = compute.learning_curve("easy", 0.2, 10.0, snr=0.0)
    e = compute.erm_point("ridge", "hard", 0.2, 10.0, alpha_prune=3.0, lam=0.1)
    assert seen and all(not ({"snr", "probe", "alpha_ssl"} & k) for k in seen)
    assert compute.point("hard", 0.2, 10.0, alpha_prune=3.0) is p
    assert compute.learning_curve("easy", 0.2, 10.0) is c
    assert compute.erm_point("ridge", "hard", 0.2, 10.0, alpha_prune=3.0, lam=0.1,
                             snr=0.0, probe="fixed") is e
    assert (p.snr, p.probe, p.alpha_ssl) == (0.0, "fixed", None)
    assert p.eps == float(real("hard", 0.2, 3.0, theta_deg=10.0).eps)
    assert plots.probe_words(p) == "θ = 10°"  # the titles of today


def _old_notebook(tmp_path):
    try:
        src = subprocess.run(["git", "show", f"{BEFORE_SPIKE}:app/notebook.py"], cwd=ROOT,
                             capture_output=True, text=True, check=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        pytest.skip("the notebook before the spike controls is not in this checkout")
    import importlib.util

    path = tmp_path / "notebook_before_spike.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("notebook_before_spike", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.app


@pytest.mark.slow  # the cheap check: test_zero_spike_with_the_fixed_probe_calls_the_solver_as_before
def test_zero_spike_panels_are_identical_to_the_app_before(tmp_path):
    """S = 0 with the fixed probe: every panel image and the current point of today's
    notebook (the commit before the controls; both use today's :mod:`app.compute`, whose
    S = 0 calls of the solver are those of before:
    :func:`test_zero_spike_with_the_fixed_probe_calls_the_solver_as_before`)."""
    import re

    old = _old_notebook(tmp_path)
    from prunescale.app.notebook import app as nb

    out_old, defs_old = old.run()
    out_new, defs_new = nb.run()
    h_old, h_new = _html(out_old), _html(out_new)

    def panels(h):
        return dict(re.findall(r'<img data-panel="(\w+)"[^>]*src="([^"]+)"', h))

    p_old, p_new = panels(h_old), panels(h_new)
    assert set(p_old) == {"learning", "frontier", "phase", "erm"} == set(p_new)
    for k in p_old:
        assert p_old[k] == p_new[k], k
    assert defs_new["pt"].eps == defs_old["pt"].eps
    assert defs_new["pt"] == compute.dataclasses.replace(defs_old["pt"])
    for r, q in defs_old["erm_pts"].items():
        assert defs_new["erm_pts"][r].eps == q.eps or (math.isnan(q.eps)
                                                       and math.isnan(
                                                           defs_new["erm_pts"][r].eps))


def test_curves_pass_the_spike_and_the_probe_to_solve():
    """theory.curves forwards ``snr, probe, alpha_ssl`` (pass-through keywords)."""
    f, at = np.array([0.2, 0.5]), np.array([5.0, 50.0])
    lr = curves.log_ratio(f, at, snr=3.0, probe="prototype", alpha_ssl=4.0)
    kw = dict(snr=3.0, probe="prototype", alpha_ssl=4.0)
    ref = np.log10(solve("hard", f, alpha_tot=at, **kw).eps
                   / solve("easy", f, alpha_tot=at, **kw).eps)
    np.testing.assert_array_equal(lr, ref)
    np.testing.assert_array_equal(curves.log_ratio(f, at, 0.0, snr=None),
                                  curves.log_ratio(f, at, 0.0))
    a = np.array([1.0, 5.0])
    fg = np.geomspace(0.05, 1.0, 7)
    fr = curves.pareto_frontier(a, 0.0, f_grid=fg, snr=3.0)
    grid = solve("hard", fg[None, :], a[:, None], snr=3.0).eps
    assert np.all(fr.eps <= grid.min(1) + 1e-15)
    np.testing.assert_array_equal(fr.eps_random, solve("random", 1.0, a, snr=3.0).eps)
    fm = curves.f_min(0.0, alpha_prune=a, f_grid=fg, snr=3.0, probe="prototype")
    assert fm.frontier.eps[0] != curves.pareto_frontier(a, 0.0, f_grid=fg).eps[0]
    bd = curves.phase_boundary([0.3], 0.0, n_scan=9, n_refine=2, snr=3.0)
    bd0 = curves.phase_boundary([0.3], 0.0, n_scan=9, n_refine=2)
    assert np.isfinite(bd).all() and bd[0] != bd0[0]
