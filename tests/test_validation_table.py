"""One table of bad inputs, walked through the Python API and the command line.

Every row is a bad parameter (out of range, non-finite, malformed or inconsistent). The API
(:func:`theory.solve`, :class:`theory.Pruning`, :func:`sims.simulate`) must raise one
one-line ``ValueError`` that names the parameter, its value and the allowed range; the CLI
(``python -m prunescale.cli theory|sim ...``) must print exactly one line
``prunescale: error: ...`` with the same information on stderr, nothing on stdout, no
traceback, and exit with status 2. The CLI rows never reach the (slow) solvers: validation
comes first.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from prunescale.theory import Pruning, solve
from prunescale.theory._kept_law import Quadrature

NAN, INF = float("nan"), float("inf")


def _sim(model, alpha_prune=None, n=None, seeds=None, **kw):
    from prunescale import sims

    return sims.simulate(model, alpha_prune=alpha_prune, n=n, seeds=seeds, **kw)


# (id, API call or None, CLI argv or None, regexes that the message must contain)
TABLE = [
    # ---- rule
    ("rule-unknown", lambda: solve("soft", 0.5, 1.0),
     ["theory", "--rule", "soft", "--f", "0.5", "--alpha-prune", "1"],
     [r"rule must be one of hard, easy, random", "soft"]),
    ("rule-not-str", lambda: Pruning(3, 0.5), None, [r"rule must be one of", "3"]),
    ("sim-rule-unknown", None,
     ["sim", "--rule", "keep", "--f", "0.5", "--alpha-prune", "1", "--n", "4", "--seeds", "1"],
     [r"rule must be one of", "keep"]),
    # ---- f
    ("f-zero", lambda: solve("hard", 0.0, 1.0),
     ["theory", "--rule", "hard", "--f", "0", "--alpha-prune", "1"],
     [r"f must be in \(0, 1\]", r"0\.0"]),
    ("f-above-one", lambda: solve("easy", 1.5, 1.0),
     ["theory", "--rule", "easy", "--f", "1.5", "--alpha-prune", "1"],
     [r"f must be in \(0, 1\]", r"1\.5"]),
    ("f-negative", lambda: Pruning("hard", -0.1),
     ["sim", "--rule", "hard", "--f", "-0.1", "--alpha-prune", "1", "--n", "4", "--seeds", "1"],
     [r"f must be in \(0, 1\]", r"-0\.1"]),
    ("f-nan", lambda: solve("hard", NAN, 1.0),
     ["theory", "--rule", "hard", "--f", "nan", "--alpha-prune", "1"],
     [r"f must be finite and in \(0, 1\]", "nan"]),
    ("f-inf", lambda: Pruning("hard", INF),
     ["sim", "--rule", "hard", "--f", "inf", "--alpha-prune", "1", "--n", "4", "--seeds", "1"],
     [r"f must be finite and in \(0, 1\]", "inf"]),
    ("f-in-list", lambda: solve("hard", [0.2, 2.0], 1.0),
     ["theory", "--rule", "hard", "--f", "0.2,2", "--alpha-prune", "1"],
     [r"f must be in \(0, 1\]", r"2\.0"]),
    ("f-range", None, ["theory", "--rule", "hard", "--f", "0:1:3", "--alpha-prune", "1"],
     [r"f must be in \(0, 1\]", r"0\.0"]),
    ("f-string", lambda: solve("hard", "abc", 1.0),
     ["theory", "--rule", "hard", "--f", "abc", "--alpha-prune", "1"],
     [r"f", "abc", "number"]),
    ("f-none", lambda: solve("hard", None, 1.0), None, [r"f must be a number", "None"]),
    ("f-array-in-pruning", lambda: Pruning("hard", [0.1, 0.2]), None,
     [r"f must be a single number in \(0, 1\]"]),
    # ---- alpha_prune / alpha_tot
    ("alpha-zero", lambda: solve("hard", 0.5, 0.0),
     ["theory", "--rule", "hard", "--f", "0.5", "--alpha-prune", "0"],
     [r"alpha_prune must be in \(0, 1e\+12\]", r"0\.0"]),
    ("alpha-negative", lambda: _sim(Pruning("hard", 0.5), -1.0, 4, 1),
     ["sim", "--rule", "hard", "--f", "0.5", "--alpha-prune", "-1", "--n", "4", "--seeds", "1"],
     [r"alpha_prune must be in \(0, 1e\+12\]", r"-1\.0"]),
    ("alpha-inf", lambda: solve("hard", 0.5, INF),
     ["theory", "--rule", "hard", "--f", "0.5", "--alpha-prune", "inf"],
     [r"alpha_prune must be finite and in \(0, 1e\+12\]", "inf"]),
    ("alpha-nan-sim", lambda: _sim(Pruning("easy", 0.5), NAN, 4, 1),
     ["sim", "--rule", "easy", "--f", "0.5", "--alpha-prune", "nan", "--n", "4", "--seeds", "1"],
     [r"alpha_prune must be finite and in \(0, 1e\+12\]", "nan"]),
    ("alpha-tot-negative", lambda: solve("hard", 0.5, alpha_tot=-2.0),
     ["theory", "--rule", "hard", "--f", "0.5", "--alpha-tot", "-2"],
     [r"alpha_tot must be in \(0, 1e\+12\]", r"-2\.0"]),
    ("alpha-tot-nan-sim", lambda: _sim(Pruning("hard", 0.5), None, 4, 1, alpha_tot=NAN),
     ["sim", "--rule", "hard", "--f", "0.5", "--alpha-tot", "nan", "--n", "4", "--seeds", "1"],
     [r"alpha_tot must be finite and in \(0, 1e\+12\]", "nan"]),
    ("alpha-missing", lambda: solve("hard", 0.5), ["sim", "--rule", "hard", "--f", "0.5", "--n",
                                                    "4", "--seeds", "1"],
     [r"alpha.prune", "alpha.tot"]),
    ("alpha-inconsistent", lambda: solve("hard", 0.5, 1.0, alpha_tot=3.0),
     ["sim", "--rule", "hard", "--f", "0.5", "--alpha-prune", "1", "--alpha-tot", "3", "--n",
      "4", "--seeds", "1"],
     [r"alpha.prune", r"alpha.tot", "f"]),
    ("alpha-inconsistent-sim", lambda: _sim(Pruning("hard", 0.5), 1.0, 4, 1, alpha_tot=3.0),
     None, [r"alpha_prune = 1\.0 must equal f \* alpha_tot"]),
    ("alpha-both-theory-cli", None,
     ["theory", "--rule", "hard", "--f", "0.5", "--alpha-prune", "1", "--alpha-tot", "2"],
     [r"--alpha-tot", "not allowed with"]),
    ("alpha-malformed-range", None,
     ["theory", "--rule", "hard", "--f", "0.5", "--alpha-prune", "1:2"],
     [r"malformed range", "1:2"]),
    ("alpha-range-num-zero", None,
     ["theory", "--rule", "hard", "--f", "0.5", "--alpha-prune", "1:2:0"],
     [r"num must be >= 1"]),
    ("alpha-empty-item", None, ["theory", "--rule", "hard", "--f", "0.5", "--alpha-prune", "1,"],
     [r"is not a number"]),
    # ---- theta
    ("theta-90", lambda: solve("hard", 0.5, 1.0, theta_deg=90.0),
     ["theory", "--rule", "hard", "--f", "0.5", "--alpha-prune", "1", "--theta-deg", "90"],
     [r"theta_deg must be in \[0, 90\)", r"90\.0"]),
    ("theta-negative", lambda: Pruning("easy", 0.5, -5.0),
     ["sim", "--rule", "easy", "--f", "0.5", "--alpha-prune", "1", "--theta-deg", "-5", "--n",
      "4", "--seeds", "1"],
     [r"theta_deg must be in \[0, 90\)", r"-5\.0"]),
    ("theta-nan", lambda: solve("hard", 0.5, 1.0, theta_deg=NAN),
     ["theory", "--rule", "hard", "--f", "0.5", "--alpha-prune", "1", "--theta-deg", "nan"],
     [r"theta_deg must be finite and in \[0, 90\)", "nan"]),
    ("theta-inf-sim", lambda: Pruning("hard", 0.5, INF),
     ["sim", "--rule", "hard", "--f", "0.5", "--alpha-prune", "1", "--theta-deg", "inf", "--n",
      "4", "--seeds", "1"],
     [r"theta_deg must be finite and in \[0, 90\)", "inf"]),
    ("theta-shape", lambda: solve("hard", [0.2, 0.5], 1.0, theta_deg=[1.0, 2.0, 3.0]), None,
     [r"must broadcast to one shape", r"\(2,\)", r"\(3,\)"]),
    # ---- solver options
    ("gap-tol-negative", lambda: solve("hard", 0.5, 1.0, tol=-1.0), None,
     [r"tol must be a finite number in \(0, 1\]", r"-1\.0"]),
    ("max-log-step-zero", lambda: solve("hard", 0.5, 1.0, max_log_step=0.0), None,
     [r"max_log_step must be a finite number in \(0, 5\]", r"0\.0"]),
    ("quad-n-zero", lambda: solve("hard", 0.5, 1.0, quad=Quadrature(n=0)), None,
     [r"quad\.n must be an integer in \[2, 512\]", "0"]),
    # ---- simulator
    ("n-zero", lambda: _sim(Pruning("hard", 0.5), 1.0, 0, 1),
     ["sim", "--rule", "hard", "--f", "0.5", "--alpha-prune", "1", "--n", "0", "--seeds", "1"],
     [r"n must be an integer", r"0"]),
    ("n-float", lambda: _sim(Pruning("hard", 0.5), 1.0, 2.5, 1),
     ["sim", "--rule", "hard", "--f", "0.5", "--alpha-prune", "1", "--n", "2.5", "--seeds", "1"],
     [r"n", r"2\.5"]),
    ("n-huge-cli", None,
     ["sim", "--rule", "hard", "--f", "0.5", "--alpha-prune", "1", "--n", "1000000000",
      "--seeds", "1"],
     [r"--n must be an integer in \[1, 100000\]", "1000000000"]),
    ("pool-huge-cli", None,
     ["sim", "--rule", "hard", "--f", "0.001", "--alpha-prune", "1000", "--n", "1000",
      "--seeds", "1"],
     [r"pool of alpha_tot \* N", r"at most"]),
    ("seeds-zero", lambda: _sim(Pruning("hard", 0.5), 1.0, 4, 0),
     ["sim", "--rule", "hard", "--f", "0.5", "--alpha-prune", "1", "--n", "4", "--seeds", "0"],
     [r"seeds must be", r"0"]),
    ("seeds-bad-list", lambda: _sim(Pruning("hard", 0.5), 1.0, 4, [1, -2]), None,
     [r"seeds must be a count >= 1 or a non-empty list", r"-2"]),
    ("seed-negative", lambda: _sim(Pruning("hard", 0.5), 1.0, 4, 1, seed=-3),
     ["sim", "--rule", "hard", "--f", "0.5", "--alpha-prune", "1", "--n", "4", "--seeds", "1",
      "--seed", "-3"],
     [r"seed must be an integer", r"-3"]),
    ("tol-sim", lambda: _sim(Pruning("hard", 0.5), 1.0, 4, 1, tol=NAN),
     ["sim", "--rule", "hard", "--f", "0.5", "--alpha-prune", "1", "--n", "4", "--seeds", "1",
      "--tol", "nan"],
     [r"tol must be", "nan"]),
    ("chunk-zero", lambda: _sim(Pruning("hard", 0.5), 1.0, 4, 1, chunk=0),
     ["sim", "--rule", "hard", "--f", "0.5", "--alpha-prune", "1", "--n", "4", "--seeds", "1",
      "--chunk", "0"],
     [r"chunk must be an integer >= 1", "0"]),
    ("max-iter-zero", lambda: _sim(Pruning("hard", 0.5), 1.0, 4, 1, max_iter=0), None,
     [r"max_iter must be an integer >= 1", "0"]),
    ("pruning-not-pruning", lambda: _sim(("hard", 0.5), 1.0, 4, 1), None,
     [r"rule must be one of hard, easy, random", r"\('hard', 0\.5\)"]),
    ("sim-alpha-list-api", lambda: _sim(Pruning("hard", 0.5), [1.0, 2.0], 4, 1), None,
     [r"alpha_prune must be a single number > 0"]),
]

IDS = [row[0] for row in TABLE]


@pytest.mark.parametrize("name,call,argv,patterns", [r for r in TABLE if r[1] is not None],
                         ids=[r[0] for r in TABLE if r[1] is not None])
def test_api_rejects(name, call, argv, patterns):
    with pytest.raises(ValueError) as exc:
        call()
    msg = str(exc.value)
    assert "\n" not in msg and msg.strip() == msg
    for pat in patterns:
        assert re.search(pat, msg), (pat, msg)


def _run_cli(argv):
    env = dict(os.environ, PRUNESCALE_CACHE="", JAX_PLATFORMS="cpu")
    return subprocess.run([sys.executable, "-m", "prunescale.cli", *argv], capture_output=True,
                          text=True, env=env, timeout=120)


_CLI_ROWS = [r for r in TABLE if r[2] is not None]


@pytest.mark.parametrize("name,call,argv,patterns", _CLI_ROWS, ids=[r[0] for r in _CLI_ROWS])
def test_cli_rejects(name, call, argv, patterns):
    # one subprocess per row, in this test: the pytest-xdist workers share the rows out
    # (a module fixture running every row would run them all once per worker)
    out = _run_cli(argv)
    assert out.returncode == 2, (out.returncode, out.stdout, out.stderr)
    assert out.stdout == ""
    lines = out.stderr.splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("prunescale: error: "), out.stderr
    assert "Traceback" not in out.stderr
    for pat in patterns:
        assert re.search(pat, lines[0]), (pat, lines[0])


def test_table_is_well_formed():
    assert len(set(IDS)) == len(IDS)
    assert all(r[1] is not None or r[2] is not None for r in TABLE)
    # the table covers both layers and every public entry point
    assert sum(r[1] is not None for r in TABLE) >= 30 and len(_CLI_ROWS) >= 25
