"""``prunescale sim``: JSON contract, table output, and one-line errors for bad input."""

import json
import os
import subprocess
import sys

import pytest

REQUIRED = {"rule", "f", "alpha_prune", "alpha_tot", "theta_deg", "n", "seeds", "seed",
            "eps_mean", "eps_sem", "R_mean", "kappa_mean", "max_gap", "eps_theory"}


def _run(*args, env_extra=None):
    env = dict(os.environ, PRUNESCALE_CACHE="")
    return subprocess.run([sys.executable, "-m", "prunescale.cli", "sim", *args],
                          capture_output=True, text=True, env=env, timeout=300)


def test_json_contract_grid():
    # N = 8: pools (0.25, 1) -> 32 keep 8, (0.5, 1) -> 16 keep 8, ... (the solver compiles
    # once per kept size)
    p = _run("--rule", "hard", "--f", "0.25,0.5", "--alpha-prune", "1:2:2", "--n", "8",
             "--seeds", "3", "--seed", "7", "--json", "--quiet")
    assert p.returncode == 0, p.stderr
    rows = json.loads(p.stdout)
    assert len(rows) == 4  # every (f, alpha) combination
    assert {(r["f"], r["alpha_prune"]) for r in rows} == {(0.25, 1.0), (0.25, 2.0), (0.5, 1.0),
                                                          (0.5, 2.0)}
    for r in rows:
        assert REQUIRED <= set(r)
        assert r["alpha_tot"] == pytest.approx(r["alpha_prune"] / r["f"], rel=1e-12)
        assert r["seed"] == 7 and r["seeds"] == 3 and r["student_seeds"] == [0, 1, 2]
        assert r["max_gap"] <= 1e-6 and r["n_flagged"] == 0
        assert 0 < r["eps_mean"] < 0.5
        assert r["eps_theory"] is None or 0 < r["eps_theory"] < 0.5


def test_alpha_tot_only_and_consistent_pair_and_table():
    p = _run("--rule", "random", "--f", "0.5", "--alpha-tot", "4", "--alpha-prune", "2",
             "--n", "20", "--seeds", "2", "--theta-deg", "10", "--no-theory", "--quiet")
    assert p.returncode == 0, p.stderr
    assert "eps" in p.stdout and "random" in p.stdout and "seed 0" in p.stdout
    p = _run("--rule", "easy", "--f", "0.5", "--alpha-tot", "4", "--n", "20", "--seeds", "2",
             "--json", "--no-theory", "--quiet")
    r = json.loads(p.stdout)[0]
    assert r["alpha_prune"] == 2.0 and r["alpha_tot"] == 4.0 and r["eps_theory"] is None


@pytest.mark.parametrize("args,needle", [
    (["--rule", "hard", "--f", "0.2", "--alpha-prune", "3", "--n", "0", "--seeds", "2"], "--n"),
    (["--rule", "hard", "--f", "0.2", "--alpha-prune", "3", "--n", "10", "--seeds", "0"],
     "--seeds"),
    (["--rule", "hard", "--f", "1.5", "--alpha-prune", "3", "--n", "10", "--seeds", "2"], "f"),
    (["--rule", "hard", "--f", "nan", "--alpha-prune", "3", "--n", "10", "--seeds", "2"], "f"),
    (["--rule", "hard", "--f", "0.2", "--alpha-prune", "-1", "--n", "10", "--seeds", "2"],
     "alpha_prune"),
    (["--rule", "hard", "--f", "0.2", "--alpha-prune", "inf", "--n", "10", "--seeds", "2"],
     "alpha_prune"),
    (["--rule", "hard", "--f", "0.2", "--alpha-prune", "3", "--alpha-tot", "10", "--n", "10",
      "--seeds", "2"], "alpha-prune"),
    (["--rule", "soft", "--f", "0.2", "--alpha-prune", "3", "--n", "10", "--seeds", "2"],
     "rule"),
    (["--rule", "hard", "--f", "0.2", "--alpha-prune", "3", "--theta-deg", "90", "--n", "10",
      "--seeds", "2"], "theta"),
    (["--rule", "hard", "--f", "0.2", "--n", "10", "--seeds", "2"], "alpha"),
    (["--rule", "hard", "--f", "0.2:x:3", "--alpha-prune", "3", "--n", "10", "--seeds", "2"],
     "--f"),
])
def test_bad_input_is_one_line_error(args, needle):
    p = _run(*args)
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("prunescale: error:"), p.stderr
    assert needle in lines[0] and "Traceback" not in p.stderr
