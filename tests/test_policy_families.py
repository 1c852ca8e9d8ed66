"""The power and mixed selection-policy families (``docs/erm.md`` section 7.3): limits,
normalisation, theory against simulation, bad input, and defaults that keep today's names."""

import hashlib
import json

import numpy as np
import pytest
from scipy.integrate import quad

from prunescale.cli import main
from prunescale.errors import InputError
from prunescale.model import Model
from prunescale.theory import _selection as sel
from prunescale.theory import solve

RIDGE = dict(learner="ridge", lam=0.1)


# ----------------------------------------------------------------------------- normalisation

@pytest.mark.parametrize("f", [0.05, 0.3, 0.9])
@pytest.mark.parametrize("A,B", [(-20.0, 2.0), (-1.0, 0.5), (0.5, 1.0), (3.0, 5.0), (50.0, 5.0)])
def test_power_normaliser_gives_the_kept_fraction(f, A, B):
    """E[pi] = f for the bisected log c, checked by scipy's adaptive quad (independent of the
    package's Gauss-Legendre panels), split at the clipping point."""
    k = float(sel.power_log_c(f, A, B))

    def pi(p):
        return float(sel.keep_prob("power", p, k, 0.0, 1.0, A, B))

    clip = float(sel.power_clip(k, A, B))
    pts = [clip] if np.isfinite(clip) and 0 < clip < 12 else None
    val = 2 * quad(lambda p: pi(p) * np.exp(-p * p / 2) / np.sqrt(2 * np.pi), 0, 12, points=pts,
                   limit=500, epsabs=1e-14, epsrel=1e-12)[0]
    assert abs(val - f) < 1e-9
    # the clipping point is where c sigma'(B p)^A = 1
    if pts:
        assert abs(k + A * float(sel.log_dsigmoid(B * clip))) < 1e-9 * max(1.0, abs(k))


def test_mixed_kept_fraction_is_f_for_every_share():
    f, k = 0.3, float(sel.threshold("hard", 0.3, 0.2, "abs", 0.0, 0.0))
    for share in (0.0, 0.3, 1.0):
        v = sel.kept_fraction("hard", k, 0.2, "abs", 0.0, 1.0, 0.0, f=f, share=share)
        assert abs(float(v) - f) < 1e-12


def test_power_keep_probability_limits():
    p = np.linspace(0, 4, 9)
    assert np.all(sel.keep_prob("power", p, np.log(0.3), 0.0, 1.0, 0.0, 2.0) == pytest.approx(0.3,
                                                                                          abs=1e-15))
    # A > 0 keeps small |p| (hard examples), A < 0 large |p| (easy ones)
    hard = sel.keep_prob("power", p, sel.power_log_c(0.3, 2.0, 1.0), 0.0, 1.0, 2.0, 1.0)
    easy = sel.keep_prob("power", p, sel.power_log_c(0.3, -2.0, 1.0), 0.0, 1.0, -2.0, 1.0)
    assert np.all(np.diff(hard) <= 0) and np.all(np.diff(easy) >= 0)
    assert np.all(sel.keep_prob("power", p, np.inf, 0.0, 1.0, 2.0, 1.0) == 1.0)  # f = 1


# ----------------------------------------------------------------------------------- limits

@pytest.mark.parametrize("kw", [{}, RIDGE], ids=["max-margin", "ridge"])
def test_power_exponent_zero_is_random(kw):
    r0 = solve("random", 0.3, alpha_prune=1.5, **kw)
    r = solve("power", 0.3, alpha_prune=1.5, power_exp=0.0, probe_scale=3.0, theta_deg=20.0,
              **kw)
    assert bool(r.converged)
    assert abs(float(r.eps) - float(r0.eps)) < 1e-10


@pytest.mark.parametrize("kw", [{}, RIDGE], ids=["max-margin", "ridge"])
def test_random_share_limits(kw):
    """R = 0 is the rule (the same code path: bit for bit), R = 1 is random (1e-10)."""
    rnd = float(solve("random", 0.3, alpha_prune=1.5, **kw).eps)
    for rule in ("hard", "easy"):
        pure = solve(rule, 0.3, alpha_prune=1.5, softness=0.2, **kw)
        mix = solve(rule, 0.3, alpha_prune=1.5, softness=0.2, random_share=[0.0, 1.0],
                    **kw)
        assert mix.converged.all()
        assert float(mix.eps[0]) == float(pure.eps)
        assert abs(float(mix.eps[1]) - rnd) < 1e-10


def test_large_exponents_approach_the_sharp_rules():
    """A -> +inf approaches keep-hard, A -> -inf keep-easy, monotonically. Near the threshold
    g the policy is a sigmoid-like step of width ~ 1/(|A| B |d log sigma'/dz|), whose
    symmetric smoothing moves eps at second order: the gap falls like 1/A^2 (measured ratios
    13 and 6 for A = 5 -> 20 -> 50 against 16 and 6.25), and is below 3e-5 at |A| = 50."""
    A = np.array([5.0, 20.0, 50.0])
    for rule, sign in (("hard", 1.0), ("easy", -1.0)):
        sharp = float(solve(rule, 0.3, alpha_prune=1.5).eps)
        r = solve("power", 0.3, alpha_prune=1.5, power_exp=sign * A, probe_scale=5.0)
        assert r.converged.all()
        gap = np.abs(r.eps - sharp)
        assert np.all(np.diff(gap) < 0), (rule, gap)
        assert gap[-1] < 3e-5 and gap[1] / gap[2] > 4.0, (rule, gap)


# ---------------------------------------------------------------------- theory vs simulation

def _z(model, alpha_prune, n, seeds):
    from prunescale.sims import simulate

    r = simulate(model, alpha_prune=alpha_prune, n=n, seeds=seeds, progress=False)
    th = solve(model, alpha_prune=alpha_prune)
    assert bool(th.converged) and r.n_flagged == 0
    return (r.eps_mean - float(th.eps)) / r.eps_sem


CASES = [
    dict(rule="power", f=0.5, power_exp=1.0, probe_scale=3.0),
    dict(rule="easy", f=0.5, random_share=0.3),
    dict(rule="power", f=0.5, power_exp=-1.0, probe_scale=2.0, theta_deg=20.0, **RIDGE),
    dict(rule="hard", f=0.5, softness=0.2, random_share=0.4, reweight=True, **RIDGE),
]


@pytest.mark.parametrize("fields", CASES, ids=["power-mm", "mixed-mm", "power-ridge",
                                               "mixed-ridge"])
def test_theory_matches_simulation(fields):
    z = _z(Model.from_fields(**fields), 1.0, 400, 8)
    assert abs(z) < 3.0, z


@pytest.mark.slow
@pytest.mark.parametrize("fields", CASES + [
    dict(rule="power", f=0.3, power_exp=2.0, probe_scale=2.0, theta_deg=10.0,
         learner="logistic", lam=0.1, reweight=True),
    dict(rule="hard", f=0.3, random_share=0.2, theta_deg=15.0, learner="hinge", lam=0.1)])
def test_theory_matches_simulation_n800(fields):
    z = _z(Model.from_fields(**fields), 1.5, 800, 24)
    assert abs(z) < 3.0, z


# -------------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("fields,match", [
    (dict(rule="power", probe_scale=0.0), "probe_scale must be finite and > 0"),
    (dict(rule="power", probe_scale=float("inf")), "probe_scale must be finite"),
    (dict(rule="power", power_exp=float("nan")), "power_exp must be finite"),
    (dict(rule="power", power_exp=-51.0), r"power_exp must be in \[-50, 50\]"),
    (dict(rule="hard", random_share=1.5), r"random_share must be in \[0, 1\]"),
    (dict(rule="hard", random_share=-0.1), r"random_share must be in \[0, 1\]"),
    (dict(rule="random", random_share=0.5), "random_share mixes"),
    (dict(rule="power", random_share=0.5), "random_share mixes"),
    (dict(rule="hard", power_exp=1.0), "power_exp is a parameter of rule power"),
    (dict(rule="easy", probe_scale=2.0), "probe_scale is a parameter of rule power"),
    (dict(rule="power", metric="signed"), "metric signed is not for the power policy"),
])
def test_bad_family_input_is_one_line(fields, match):
    with pytest.raises(InputError, match=match) as exc:
        Model.from_fields(f=0.3, **fields)
    assert "\n" not in str(exc.value)
    with pytest.raises(InputError, match=match):
        solve(alpha_prune=1.0, f=0.3, **fields)


@pytest.mark.parametrize("cmd", ["theory", "sim"])
@pytest.mark.parametrize("opts,match", [
    ("--rule power --probe-scale 0", "probe_scale must be finite and > 0"),
    ("--rule power --probe-scale nan", "probe_scale must be finite"),
    ("--rule power --power-exp inf", "power_exp must be finite"),
    ("--rule power --power-exp 60", "power_exp must be in"),
    ("--rule hard --random-share 2", "random_share must be in"),
    ("--rule random --random-share 0.2", "--random-share mixes .* not for --rule random"),
    ("--rule power --random-share 0", "--random-share mixes .* not for --rule power"),
    ("--rule hard --power-exp 1", "--power-exp is a parameter of --rule power"),
    ("--rule easy --probe-scale 2", "--probe-scale is a parameter of --rule power"),
    ("--rule power --metric signed", "--metric signed is not for --rule power"),
])
def test_cli_refuses_bad_family_input(cmd, opts, match, capsys):
    import re

    extra = ["--n", "20", "--seeds", "2"] if cmd == "sim" else []
    rc = main([cmd, "--f", "0.3", "--alpha-prune", "1", *opts.split(), *extra])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert len(err.splitlines()) == 1 and re.search(match, err), err


def test_cli_theory_grid_and_json(capsys):
    rc = main(["theory", "--rule", "power,easy", "--f", "0.3", "--alpha-prune", "1.5",
               "--power-exp", "-1,1", "--probe-scale", "2", "--json"])
    recs = json.loads(capsys.readouterr().out)
    assert rc == 0 and len(recs) == 3
    assert [(r["rule"], r["power_exp"], r["probe_scale"], r["random_share"]) for r in recs] == [
        ("power", -1.0, 2.0, 0.0), ("power", 1.0, 2.0, 0.0), ("easy", 0.0, 1.0, 0.0)]
    api = solve("power", 0.3, alpha_prune=1.5, power_exp=1.0, probe_scale=2.0)
    assert recs[1]["eps"] == float(api.eps)


# ------------------------------------------------------------------------- names unchanged

def test_defaults_keep_model_keys_and_task_ids():
    """A model without the families keeps the key and the task id it had before they existed
    (the key omits family fields at their defaults; the task id hashes the configuration
    without them)."""
    from prunescale import __version__
    from prunescale.sims.sweep import Config, Task

    m = Model.from_fields(rule="hard", f=0.2, learner="ridge", lam=0.1)
    assert m.key() == ('{"f":0.2,"lam":0.1,"learner":"ridge","metric":"abs","noise":0.0,'
                       '"reweight":false,"rule":"hard","softness":0.0,"theta_deg":0.0}')
    assert m.fields()["power_exp"] == 0.0 and m.fields()["probe_scale"] == 1.0
    for c, old in [
        (Config("hard", 0.2, 1.0, 5.0), ["hard", 0.2, 1.0, 5.0, 0.0, "pool", 1e-6, "max-margin",
                                         0.0, 0.0]),
        (Config("easy", 0.3, 1.0, 1 / 0.3, softness=0.5, learner="ridge", lam=0.1),
         ["easy", 0.3, 1.0, 1 / 0.3, 0.0, "pool", 1e-6, "ridge", 0.1, 0.0, 0.5, "abs", False]),
    ]:
        t = Task(c, 40, 0, (0, 1))
        text = json.dumps([old, 40, 0, [0, 1], __version__], separators=(",", ":"))
        assert t.id == hashlib.sha256(text.encode()).hexdigest()[:32]
    # a family field set changes the key and the id
    mixed = Config("hard", 0.2, 1.0, 5.0, random_share=0.2)
    assert Task(mixed, 40, 0, (0,)).id != Task(Config("hard", 0.2, 1.0, 5.0), 40, 0, (0,)).id
    assert Model.from_fields(rule="hard", f=0.2, random_share=0.2).key() != \
        Model.from_fields(rule="hard", f=0.2).key()
