"""Command-line defects: every output path checked before the work, one-line errors (exit 2)
for a bad ``--scheduler``, damaged task files set aside, oversized simulated grids refused,
SIGTERM, missing extras, and help texts that match the code."""

import os
import subprocess
import sys

import pytest


def _cli(*args, timeout=300, env_extra=None):
    env = dict(os.environ, PRUNESCALE_CACHE="", JAX_PLATFORMS="cpu", **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "prunescale.cli", *args], capture_output=True,
                          text=True, env=env, timeout=timeout)


def _one_line_error(p, *words):
    assert p.returncode == 2, (p.returncode, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("prunescale: error:"), p.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


# -- output paths are checked before any work ------------------------------------------------

THEORY = ("theory", "--rule", "hard", "--f", "0.5", "--alpha-prune", "1")
SIM = ("sim", "--rule", "hard", "--f", "0.5", "--alpha-prune", "1", "--n", "8", "--seeds", "2",
       "--quiet")


@pytest.fixture
def a_file(tmp_path):
    p = tmp_path / "plain-file"
    p.write_text("")
    return p


@pytest.mark.parametrize("cmd, opt, name", [
    (THEORY, "--out", "x.csv"), (SIM, "--out", "x.json"), (SIM, "--out", "results"),
    (("fss", "."), "--plot", "x.png")])
@pytest.mark.parametrize("where", ["under_a_file", "proc"])
def test_unwritable_output_refused_before_the_work(cmd, opt, name, where, a_file):
    path = str(a_file / name) if where == "under_a_file" else f"/proc/{name}"
    p = _cli(*cmd, opt, path)
    _one_line_error(p, opt, repr(path))
    assert p.stdout == ""  # nothing computed
