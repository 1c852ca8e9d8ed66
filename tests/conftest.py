"""Test configuration: float64 everywhere for JAX, one folder for the persistent XLA
compilation cache of the whole run (used by the ``prunescale`` subprocesses and the sweep
tasks, which enable that cache; the test processes themselves compile in memory), a PRNG key
fixture and an exact max-margin reference solver."""

import os
import shutil
import tempfile

from prunescale._xla import single_thread_blas, single_thread_eigen

single_thread_eigen()  # before JAX's CPU backend starts (prunescale._xla); subprocesses inherit
single_thread_blas()  # before NumPy/SciPy load OpenBLAS (prunescale._xla)

import jax  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from scipy import optimize  # noqa: E402


jax.config.update("jax_enable_x64", True)


def pytest_configure(config):
    """``$PRUNESCALE_CACHE`` (the persistent XLA compilation cache of ``prunescale sim`` and the
    sweeps, ``sims.sweep.enable_compile_cache``) is a fresh folder for this run unless set:
    nothing is written to ``~/.cache``, and a program that one ``prunescale sim`` subprocess or
    sweep task compiled is loaded, not recompiled, by the others (the test processes do not
    enable the persistent cache: enabling it there gave no gain in the suite's CPU time). The
    pytest-xdist workers start after this hook and inherit the variable."""
    if "PRUNESCALE_CACHE" not in os.environ:
        path = tempfile.mkdtemp(prefix="prunescale-test-xla-")
        os.environ["PRUNESCALE_CACHE"] = path
        config.add_cleanup(lambda: shutil.rmtree(path, ignore_errors=True))


@pytest.fixture
def key():
    return jax.random.key(0)


def _ldp(z):
    """Reference: least-distance programming via scipy's NNLS (Lawson & Hanson 1974, ch. 23).

    min |w| s.t. z w >= 1  <=>  u = argmin_{u >= 0} |E u - e|, E = [z^T; 1^T], e = (0, .., 0, 1);
    with r = E u - e, w = -r[:N] / r[N]. An exact active-set method, independent of our IPM.
    """
    z = np.asarray(z)
    p, n = z.shape
    e_mat = np.vstack([z.T, np.ones((1, p))])
    e_vec = np.zeros(n + 1)
    e_vec[-1] = 1.0
    u, _ = optimize.nnls(e_mat, e_vec, maxiter=100 * p)
    r = e_mat @ u - e_vec
    assert abs(r[-1]) > 1e-12  # feasible (separable data)
    return -r[:n] / r[-1]


@pytest.fixture
def exact_max_margin():
    """The exact max-margin weights ``w`` (``min |w|`` s.t. ``z w >= 1``) of rows ``z``."""
    return _ldp


@pytest.fixture
def start_app():
    """Start ``prunescale app --headless`` on a free port and wait until it serves; returns
    ``start() -> (process, url)``. Any process still running at the end is killed."""
    import os
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    procs = []

    def start():
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = dict(os.environ, MARIMO_SKIP_UPDATE_CHECK="1")
        p = subprocess.Popen([sys.executable, "-m", "prunescale.cli", "app", "--headless",
                              "--no-warm", "--port", str(port)], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(p)
        url = f"http://127.0.0.1:{port}/"
        deadline = time.time() + 90
        while True:
            try:
                urllib.request.urlopen(url, timeout=2)
                return p, url
            except OSError:
                assert time.time() < deadline and p.poll() is None, "the app did not start"
                time.sleep(0.5)

    yield start
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()


def pytest_terminal_summary(terminalreporter):
    """Say in the summary when the browser tests (tests/test_app_browser.py) were skipped and
    why: a plain ``python -m pytest`` without Chromium installed otherwise only counts them
    among the skips."""
    skipped = [r for r in terminalreporter.stats.get("skipped", [])
               if "test_app_browser.py" in (getattr(r, "nodeid", "") or "")]
    if not skipped:
        return
    reason = ""
    longrepr = skipped[0].longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        reason = str(longrepr[2]).removeprefix("Skipped: ")
    terminalreporter.write_line(
        f"prunescale: {len(skipped)} browser test{'s' if len(skipped) != 1 else ''} of the app "
        "skipped"
        + (f": {reason}" if reason else ""), yellow=True)
