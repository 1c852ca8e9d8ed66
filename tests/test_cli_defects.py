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


# -- --scheduler: one line, exit 2 --------------------------------------------------------------

def _free_loopback_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("kind, words", [
    ("missing.json", ["no such scheduler file"]),
    ("no-address.json", ["no \"address\""]),
    ("garbage.json", ["not valid JSON"]),
    ("unreachable", ["cannot connect", "Timed out"]),
])
def test_bad_scheduler_is_one_line(tmp_path, kind, words):
    pytest.importorskip("distributed")
    (tmp_path / "no-address.json").write_text('{"x": 1}')
    (tmp_path / "garbage.json").write_text("garbage")
    target = (f"tcp://127.0.0.1:{_free_loopback_port()}" if kind == "unreachable"
              else str(tmp_path / kind))
    p = _cli(*SIM, "--no-theory", "--scheduler", target, timeout=120,
             env_extra={"DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "2s"})
    _one_line_error(p, "--scheduler", repr(target), *words)
