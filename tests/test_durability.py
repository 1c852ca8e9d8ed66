"""Durable results: a figures run killed with SIGKILL resumes, concurrent runs do not corrupt."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

DRIVER = textwrap.dedent("""
    import sys
    import numpy as np
    from prunescale.figures import fig_learning_curves as m
    m.config = lambda q: {"f": [0.3], "alpha_theory": [1.0, 3.0],
                          "alpha_sim": [2.0, 3.0, 4.0], "n": 20, "seeds": 2, "seed": 0}
    m.main(quick=True, out=sys.argv[1])
""")


def _run(out, **kw):
    return subprocess.Popen([sys.executable, "-c", DRIVER, str(out)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, **kw)


def _sims(out: Path):
    return sorted((out / ".cache").glob("sim-*.npz"))


@pytest.mark.slow  # two figure runs in subprocesses, each compiling JAX: ~45 s on 2 cores
def test_sigkill_then_resume(tmp_path):
    out = tmp_path / "figs"
    p = _run(out)
    deadline = time.time() + 240
    while len(_sims(out)) < 2 and time.time() < deadline and p.poll() is None:
        time.sleep(0.05)
    assert p.poll() is None, "run finished before it could be killed; enlarge the driver"
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    done = {f.name: f.stat().st_mtime_ns for f in _sims(out)}
    assert 2 <= len(done) < 6
    # every stored file is complete and readable (written to a temporary name, then renamed)
    for f in _sims(out):
        with np.load(f) as z:
            assert "__config__" in z.files
    assert _run(out).wait(timeout=600) == 0
    after = _sims(out)
    assert len(after) == 6
    # finished points were not recomputed
    for f in after:
        if f.name in done:
            assert f.stat().st_mtime_ns == done[f.name]
    assert (out / "fig1_learning_curves.png").exists()
    assert (out / "fig1_learning_curves.csv").read_text().count("simulation") == 6


@pytest.mark.slow  # two concurrent figure runs: ~80 s on 2 shared cores
def test_concurrent_runs_share_a_cache(tmp_path):
    out = tmp_path / "figs"
    procs = [_run(out), _run(out)]
    assert [p.wait(timeout=600) for p in procs] == [0, 0]
    files = _sims(out)
    assert len(files) == 6
    for f in files:
        with np.load(f) as z:
            assert np.isfinite(z["eps_mean"])
    assert not list((out / ".cache").glob(".*.tmp"))
