"""The ``prunescale theory`` command-line contract."""

import json
import subprocess
import sys

import pytest


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "prunescale.cli", "theory", *args],
        capture_output=True, text=True, timeout=300,
    )


def test_json_contract_and_grid():
    out = run("--rule", "hard", "--f", "0.2,0.5", "--alpha-prune", "1:3:3", "--json")
    assert out.returncode == 0, out.stderr
    recs = json.loads(out.stdout)
    assert len(recs) == 6
    keys = {"rule", "f", "alpha_prune", "alpha_tot", "theta_deg", "eps", "R", "S", "kappa",
            "converged"}
    assert all(keys <= set(r) for r in recs)
    assert sorted({r["alpha_prune"] for r in recs}) == [1.0, 2.0, 3.0]
    hit = [r for r in recs if r["f"] == 0.2 and r["alpha_prune"] == 3.0][0]
    assert abs(hit["eps"] - 0.034721) < 6e-7 and hit["converged"] is True
    assert abs(hit["alpha_tot"] - 15.0) < 1e-12


def test_alpha_tot_and_theta():
    out = run("--rule", "easy", "--f", "0.5", "--alpha-tot", "6", "--theta-deg", "20", "--json")
    assert out.returncode == 0, out.stderr
    (rec,) = json.loads(out.stdout)
    assert rec["alpha_prune"] == 3.0 and abs(rec["eps"] - 0.147727) < 6e-7


def test_table_output():
    out = run("--rule", "random", "--f", "1", "--alpha-prune", "1")
    assert out.returncode == 0 and "eps" in out.stdout and "0.2657115" in out.stdout


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--rule", "hard", "--f", "1.5", "--alpha-prune", "3"], "f must be in (0, 1]; got 1.5"),
        (["--rule", "hard", "--f", "0", "--alpha-prune", "3"], "f must be in (0, 1]"),
        (["--rule", "hard", "--f", "0.5", "--alpha-prune", "-1"], "alpha_prune must be in (0, 1e+12]"),
        (["--rule", "hard", "--f", "0.5", "--alpha-tot", "0"], "alpha_tot must be in (0, 1e+12]"),
        (["--rule", "hard", "--f", "nan", "--alpha-prune", "3"], "f must be finite"),
        (["--rule", "hard", "--f", "0.5", "--alpha-prune", "inf"], "must be finite"),
        (["--rule", "hard", "--f", "0.5", "--alpha-prune", "3", "--theta-deg", "90"],
         "theta_deg must be in [0, 90)"),
        (["--rule", "soft", "--f", "0.5", "--alpha-prune", "3"], "--rule must be one of"),
        (["--rule", "hard", "--f", "0.5", "--alpha-prune", "1:2"], "malformed range"),
        (["--rule", "hard", "--f", "0.5", "--alpha-prune", "1:2:0"], "num must be >= 1"),
        (["--rule", "hard", "--f", "a,b", "--alpha-prune", "1"], "is not a number"),
        (["--rule", "hard", "--f", "0.5"], "--alpha-prune --alpha-tot is required"),
        (["--rule", "hard", "--f", "0.5", "--alpha-prune", "1", "--alpha-tot", "2"],
         "not allowed with"),
    ],
)
def test_bad_input_one_line_error(args, needle):
    out = run(*args)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("prunescale: error:"), out.stderr
    assert needle in lines[0] and "Traceback" not in out.stderr
