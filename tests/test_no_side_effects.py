"""No global side effects; failures reach the exit status; results written honestly."""

import os
import subprocess
import sys

import numpy as np
import pytest

from prunescale import cli
from prunescale import _files
from prunescale.figures import _plot, _store


def _run(*args, env_extra=None):
    env = dict(os.environ, **(env_extra or {}))  # the run's XLA cache (conftest.py)
    return subprocess.run([sys.executable, "-m", "prunescale.cli", *args],
                          capture_output=True, text=True, env=env, timeout=300)


def _draw():
    fig, (ax,) = _plot.figure(1, 1)
    ax.plot([1, 2, 3], [1, 4, 9], label="x")
    ax.legend()
    return fig


def test_figures_leave_matplotlib_state_alone(tmp_path):
    code = (
        "import sys, matplotlib\n"
        "raw = lambda: {k: dict.__getitem__(matplotlib.rcParams, k) for k in matplotlib.rcParams}\n"
        "before = raw()  # (reading rcParams['backend'] itself would select a backend)\n"
        "from prunescale.figures import _plot, run\n"
        "def draw():\n"
        "    fig, (ax,) = _plot.figure(1, 1)\n"
        "    ax.plot([1, 2], [3, 4])\n"
        "    return fig\n"
        f"_plot.render({str(tmp_path)!r}, 't', {{}}, draw)\n"
        "after = raw()\n"
        "changed = [k for k in before if before[k] != after[k] and k != 'backend']\n"
        "assert not changed, changed\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n"
        "print('ok')\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and p.stdout.strip() == "ok", p.stderr[-2000:]
    assert (tmp_path / "t.png").stat().st_size > 0


def test_svg_and_png_reproducible(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    _plot.render(a, "t", {}, _draw)
    _plot.render(b, "t", {}, _draw)
    for ext in ("svg", "png"):
        assert (a / f"t.{ext}").read_bytes() == (b / f"t.{ext}").read_bytes(), ext


def test_files_respect_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        _plot.render(tmp_path, "t", {}, _draw)
        _store.write_table(tmp_path / "t.csv", {"a": [1.0]}, {})
    finally:
        os.umask(old)
    for name in ("t.png", "t.svg", "t.csv"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o640, name


def test_stale_temporaries_of_dead_writers_are_cleaned(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    stale = tmp_path / f".fig.png.pid{dead}.abc123.tmp"
    stale.write_bytes(b"")
    mine = tmp_path / f"{_files.tmp_prefix('fig.svg')}xyz.tmp"
    mine.write_bytes(b"")
    other = tmp_path / "keep.tmp"
    other.write_bytes(b"")
    assert _store.clean_stale_temporaries(tmp_path) == 1
    assert not stale.exists() and mine.exists() and other.exists()


def test_cache_is_keyed_by_the_code(tmp_path, monkeypatch):
    calls = []

    def compute():
        calls.append(1)
        return {"x": np.arange(3)}

    _store.cached(tmp_path, "t", {"p": 1}, compute)
    _store.cached(tmp_path, "t", {"p": 1}, compute)
    assert len(calls) == 1
    monkeypatch.setattr(_store, "code_fingerprint", lambda: "changed-code")
    _store.cached(tmp_path, "t", {"p": 1}, compute)  # the solver changed: recompute
    assert len(calls) == 2
    assert len(_store.code_fingerprint()) > 0


def test_main_leaves_sys_argv_alone(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["prog", "untouched"])
    assert cli.main(["theory", "--rule", "hard", "--f", "0.2", "--alpha-prune", "3"]) == 0
    assert sys.argv == ["prog", "untouched"]
    assert "certified" in capsys.readouterr().out


def test_internal_errors_are_not_user_errors(monkeypatch):
    from prunescale import _cli_theory

    def broken(args):
        raise ValueError("a bug, not the user's input")

    monkeypatch.setattr(_cli_theory, "run", broken)
    with pytest.raises(ValueError, match="a bug"):
        cli.main(["theory", "--rule", "hard", "--f", "0.2", "--alpha-prune", "3"])


def test_no_arguments_prints_usage(capsys):
    assert cli.main([]) == 2
    err = capsys.readouterr().err
    assert "usage: prunescale" in err and "theory, sim, fss, figures, app" in err


def test_repeated_option_is_refused(capsys):
    assert cli.main(["theory", "--rule", "hard", "--f", "0.1", "--f", "0.2",
                     "--alpha-prune", "3"]) == 2
    assert "--f given more than once" in capsys.readouterr().err


def test_theory_exits_1_on_an_uncertified_point():
    p = _run("theory", "--rule", "hard", "--f", "0.2,1e-13", "--alpha-tot", "3")
    assert p.returncode == 1
    assert "1 of 2 points not certified" in p.stderr and "Traceback" not in p.stderr
    p = _run("theory", "--rule", "hard,easy", "--f", "0.2", "--alpha-prune", "-1e-3")
    assert p.returncode == 2 and "alpha_prune must be in" in p.stderr


def test_sim_exits_1_when_students_are_flagged():
    p = _run("sim", "--rule", "hard", "--f", "0.5", "--alpha-prune", "1", "--n", "8",
             "--seeds", "2", "--gap-tol", "1e-300", "--quiet")
    assert p.returncode == 1, p.stderr
    assert "2 of 2 students flagged" in p.stderr
    p = _run("sim", "--rule", "hard,easy", "--f", "0.5", "--alpha-prune", "1",
             "--theta-deg", "0,10", "--n", "8", "--seeds", "2", "--json", "--quiet")
    assert p.returncode == 0, p.stderr
    import json

    rows = json.loads(p.stdout)
    assert {(r["rule"], r["theta_deg"]) for r in rows} == {
        ("hard", 0.0), ("hard", 10.0), ("easy", 0.0), ("easy", 10.0)}


def test_sim_refuses_unrealisable_and_oversized_runs():
    p = _run("sim", "--rule", "hard", "--f", "0.2", "--alpha-prune", "0.001", "--n", "50",
             "--seeds", "2", "--quiet")
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "increase N" in p.stderr
    p = _run("sim", "--rule", "hard", "--f", "0.2", "--alpha-prune", "3", "--n", "100000",
             "--seeds", "1", "--quiet")
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "GiB of memory" in p.stderr


def test_interrupted_figures_exit_130_cleanly(tmp_path):
    import signal
    import time

    env = dict(os.environ, PRUNESCALE_CACHE="")
    p = subprocess.Popen([sys.executable, "-m", "prunescale.cli", "figures", "--out",
                          str(tmp_path / "figs")], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env)
    # interrupt inside the computation: once the first progress line (theory) is out and
    # the simulations have started
    seen, deadline = b"", time.monotonic() + 120
    while b"sim " not in seen and time.monotonic() < deadline and p.poll() is None:
        chunk = os.read(p.stderr.fileno(), 4096)
        if not chunk:
            break
        seen += chunk
    assert b"sim " in seen, seen.decode(errors="replace")[-2000:]
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    err = (seen + err).decode(errors="replace")
    assert p.returncode == 130, (p.returncode, err[-2000:])
    assert "interrupted" in err
    leftovers = [q.name for q in (tmp_path / "figs").rglob("*.tmp")]
    assert not leftovers


def test_empty_out_is_refused(tmp_path):
    p = subprocess.run([sys.executable, "-m", "prunescale.cli", "figures", "--out", ""],
                       capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert p.returncode == 2 and "--out is empty" in p.stderr
    assert not any(tmp_path.iterdir())



def test_app_port_in_use_is_one_line(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        p = _run("app", "--headless", "--no-warm", "--port", str(port))
    assert p.returncode == 2
    assert p.stderr.strip() == (f"prunescale: error: port {port} is in use on 127.0.0.1; "
                                "give another with --port")


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGHUP"])
def test_app_stops_its_server_on_sigterm_and_sighup(sig, start_app):
    import signal
    import time
    import urllib.request

    p, url = start_app()
    p.send_signal(getattr(signal, sig))
    assert p.wait(timeout=30) == 128 + getattr(signal, sig)
    time.sleep(0.5)
    with pytest.raises(OSError):  # the marimo server is gone, not orphaned
        urllib.request.urlopen(url, timeout=2)


def test_one_easy_hard_colour_convention():
    from prunescale.app import compute, plots
    from prunescale.figures import fig_phase_diagram

    fig = plots.phase_panel(compute.phase(0.0), compute.point("hard", 0.2, alpha_prune=3.0))
    (mesh,) = [c for c in fig.axes[0].collections if hasattr(c, "get_cmap")]
    assert mesh.get_cmap().name == _plot.PHASE_CMAP
    # positive log ratio (keep easy wins) is blue, as keep-easy's rule colour
    r, g, b, _ = mesh.get_cmap()(0.95)
    assert b > r
    assert "_plot.PHASE_CMAP" in open(fig_phase_diagram.__file__).read()


def test_one_frontier_floor():
    from prunescale.app import compute
    from prunescale.figures import fig_frontier, fig_imperfect
    from prunescale.theory.curves import FRONTIER_F_FLOOR

    for theta in (0.0, 20.0):
        assert compute.frontier_grids(theta)[1].min() == pytest.approx(FRONTIER_F_FLOOR)
    for mod in (fig_frontier, fig_imperfect):
        assert mod.config(True)["f_floor"] == FRONTIER_F_FLOOR


def test_theory_out_file_csv_and_json(tmp_path):
    import csv
    import json

    for ext in ("csv", "json"):
        path = tmp_path / f"t.{ext}"
        assert cli.main(["theory", "--rule", "hard,easy", "--f", "0.2,0.5", "--alpha-prune",
                         "3", "--out", str(path)]) == 0
        rows = (json.loads(path.read_text()) if ext == "json"
                else list(csv.DictReader(path.open())))
        assert len(rows) == 4 and {r["rule"] for r in rows} == {"hard", "easy"}
        assert all(abs(float(r["eps"]) - 0.05) < 0.05 for r in rows)
    assert cli.main(["theory", "--rule", "hard", "--f", "0.2", "--alpha-prune", "3",
                     "--out", str(tmp_path / "t.txt")]) == 2


def test_figures_only_rejects_unknown_names(tmp_path):
    from prunescale.figures.run import select

    assert [m.NAME for m in select(["fig3"])] == ["fig3_phase_diagram"]
    with pytest.raises(ValueError, match="unknown figure 'fig11'"):
        select(["fig11"])
