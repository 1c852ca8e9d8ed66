"""The command-line contract of the learners: ``--learner``, ``--lam`` and ``--noise``."""

import json
import subprocess
import sys

import numpy as np
import pytest

from prunescale.theory import solve


def run(cmd, *args, timeout=300):
    return subprocess.run([sys.executable, "-m", "prunescale.cli", cmd, *args],
                          capture_output=True, text=True, timeout=timeout)


def test_theory_json_grid_matches_the_api():
    out = run("theory", "--rule", "hard", "--f", "0.3", "--alpha-prune", "2,4",
              "--learner", "logistic,ridge", "--lam", "0.1", "--noise", "0:0.2:2", "--json")
    assert out.returncode == 0, out.stderr
    recs = json.loads(out.stdout)
    assert len(recs) == 8
    keys = {"rule", "learner", "f", "alpha_prune", "alpha_tot", "theta_deg", "lam", "noise",
            "eps", "eps_noisy", "R", "S", "converged", "eps_bound", "Q", "V"}
    assert all(keys <= set(r) for r in recs)
    assert {(r["learner"], r["noise"]) for r in recs} == {
        (a, b) for a in ("logistic", "ridge") for b in (0.0, 0.2)}
    for r in recs:
        assert r["converged"] and r["eps_bound"] <= 1e-5
        direct = solve("hard", r["f"], r["alpha_prune"], learner=r["learner"],
                           lam=r["lam"], noise=r["noise"])
        assert abs(r["eps"] - float(direct.eps)) < 1e-12
        assert abs(r["eps_noisy"] - (r["noise"] + (1 - 2 * r["noise"]) * r["eps"])) < 1e-12
    # noise hurts every learner here
    by = {(r["learner"], r["alpha_prune"], r["noise"]): r["eps"] for r in recs}
    assert all(by[(lr, a, 0.2)] > by[(lr, a, 0.0)] for lr in ("logistic", "ridge") for a in (2, 4))


def test_theory_check_values_and_table():
    out = run("theory", "--rule", "random", "--f", "1", "--alpha-prune", "2",
              "--learner", "ridge,logistic", "--lam", "0.1")
    assert out.returncode == 0, out.stderr
    assert "0.1955327" in out.stdout and "0.1796624" in out.stdout
    assert "eps_noisy" in out.stdout and "learner" in out.stdout


def test_max_margin_records_carry_the_learner_keys():
    out = run("theory", "--rule", "hard", "--f", "0.2", "--alpha-prune", "3", "--json")
    (rec,) = json.loads(out.stdout)
    assert rec["learner"] == "max-margin" and rec["lam"] is None and rec["noise"] == 0.0
    assert rec["eps_noisy"] == rec["eps"] and rec["kappa"] > 0


BAD = [
    (["--learner", "ridge", "--lam", "0"], "lam must be in (0, 1e+06]; got 0.0"),
    (["--learner", "ridge", "--lam", "-1"], "lam must be in (0, 1e+06]"),
    (["--learner", "ridge", "--lam", "inf"], "lam must be finite"),
    (["--learner", "ridge", "--lam", "nan"], "lam must be finite"),
    (["--learner", "ridge", "--lam", "1", "--noise", "0.6"], "noise must be in [0, 0.5]; got 0.6"),
    (["--learner", "ridge", "--lam", "1", "--noise", "-0.1"], "noise must be in [0, 0.5]"),
    (["--learner", "svm", "--lam", "1"], "--learner must be one of max-margin, hinge, logistic"),
    (["--learner", "ridge"], "--learner ridge needs --lam"),
    (["--lam", "1"], "--lam is for the regularized learners"),
    (["--noise", "0.7"], "noise must be in [0, 0.5]; got 0.7"),
]


@pytest.mark.parametrize("cmd", ["theory", "sim"])
@pytest.mark.parametrize("extra,needle", BAD)
def test_bad_learner_input_is_one_line(cmd, extra, needle):
    base = ["--rule", "hard", "--f", "0.3", "--alpha-prune", "2"]
    if cmd == "sim":
        base += ["--n", "50", "--seeds", "2"]
    out = run(cmd, *base, *extra)
    assert out.returncode == 2, (out.stdout, out.stderr)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], out.stderr
    assert "Traceback" not in out.stderr


def test_learners_compared_in_one_command():
    """``--lam`` applies to the regularized learners of a ``--learner`` list; max-margin has
    none, and every record equals the API's point."""
    out = run("theory", "--rule", "hard", "--f", "0.3", "--alpha-prune", "2", "--learner",
              "ridge,max-margin", "--lam", "0.1", "--json")
    assert out.returncode == 0, out.stderr
    recs = json.loads(out.stdout)
    assert [(r["learner"], r["lam"]) for r in recs] == [("ridge", 0.1), ("max-margin", None)]
    ridge = solve(rule="hard", f=0.3, alpha_prune=2.0, learner="ridge", lam=0.1)
    mm = solve(rule="hard", f=0.3, alpha_prune=2.0)
    assert recs[0]["eps"] == pytest.approx(float(ridge.eps), abs=1e-12)
    assert recs[1]["eps"] == pytest.approx(float(mm.eps), abs=1e-12)
    assert recs[1]["kappa"] is not None and recs[0]["kappa"] is None


def test_sim_regularized_students_json():
    out = run("sim", "--rule", "hard", "--f", "0.3", "--alpha-prune", "2", "--n", "60",
              "--seeds", "4", "--learner", "ridge", "--lam", "0.1", "--noise", "0,0.1",
              "--json", "--quiet")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert [r["noise"] for r in rows] == [0.0, 0.1]
    for r in rows:
        assert r["learner"] == "ridge" and r["lam"] == 0.1 and r["seeds"] == 4
        assert r["n_flagged"] == 0 and r["kappa_mean"] is None and r["Q_mean"] > 0
        assert abs(r["eps_noisy_mean"] - (r["noise"] + (1 - 2 * r["noise"]) * r["eps_mean"])) < 1e-12
        direct = solve("hard", 0.3, 2.0, learner="ridge", lam=0.1, noise=r["noise"])
        assert abs(r["eps_theory"] - float(direct.eps)) < 1e-12
