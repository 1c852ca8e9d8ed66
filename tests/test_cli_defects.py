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


# -- a damaged task file is set aside, never blocking the sweep ---------------------------------

def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])


def test_damaged_task_file_is_set_aside_and_recomputed_on_resume(tmp_path, capsys):
    pytest.importorskip("pyarrow")
    pytest.importorskip("pandas")
    from prunescale.sims import store, sweep

    cfg = sweep.Config(rule="hard", f=0.5, alpha_prune=1.0, alpha_tot=2.0, theta_deg=0.0)
    tasks = sweep.plan([cfg], [8], 4, 0, task_students=2)
    assert not sweep.run(tasks, out=tmp_path, in_process=True, progress=False).failed
    full = store.load(tmp_path)
    bad = store.task_path(tmp_path, tasks[0].id)
    _truncate(bad)
    capsys.readouterr()
    df = store.load(tmp_path)  # the rest still loads
    err = capsys.readouterr().err
    assert str(bad) in err and "damaged" in err and len(df) == len(full) - 2
    assert not bad.exists() and bad.with_name(bad.name + ".damaged").exists()
    todo, skipped = sweep.pending(tasks, tmp_path)  # resume: only the damaged task again
    assert [t.id for t in todo] == [tasks[0].id] and skipped == 2
    sweep.run(todo, out=tmp_path, in_process=True, progress=False)
    again = store.load(tmp_path)
    assert again[["student", "eps"]].equals(full[["student", "eps"]])


def _synthetic_sweep(folder, ns):
    """Task files of one configuration at each N, 3 students with synthetic errors (no
    simulation); their paths."""
    import dataclasses

    import numpy as np

    from prunescale.sims import store, sweep

    cfg = sweep.Config(rule="hard", f=0.5, alpha_prune=1.0, alpha_tot=2.0, theta_deg=0.0)
    paths = []
    for n in ns:
        t = sweep.Task(cfg, n, 0, (0, 1, 2))
        k = len(t.students)
        eps = 0.25 + 1.0 / n + np.array([-0.01, 0.0, 0.01])
        cols = {name: [v] * k for name, v in dataclasses.asdict(cfg).items()}
        cols.update(n=[n] * k, seed=[0] * k, student=np.arange(k), eps=eps, eps_noisy=eps,
                    R=np.cos(np.pi * eps), S=np.zeros(k), kappa=np.ones(k),
                    Q=np.full(k, np.nan), gap=np.full(k, 1e-9), flagged=np.zeros(k, bool),
                    seconds=np.full(k, 0.1), version=[t.version] * k, task=[t.id] * k)
        paths.append(store.write_task(folder, t.id, cols))
    return paths


def test_fss_warns_about_a_damaged_task_file_and_goes_on(tmp_path):
    pytest.importorskip("pyarrow")
    pytest.importorskip("pandas")
    paths = _synthetic_sweep(tmp_path, (10, 20, 40, 80))
    _truncate(paths[-1])
    p = _cli("fss", str(tmp_path), "--no-theory", "--json")
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr and str(paths[-1]) in p.stderr
    assert '"ns": [10, 20, 40]' in p.stdout


# -- oversized simulated grids, SIGTERM ----------------------------------------------------------

def test_sim_refuses_a_grid_of_millions_up_front():
    # 2000 x 2000 configurations: refused at once, before one is built or validated
    p = _cli("sim", "--rule", "hard", "--f", "0.1:0.9:2000", "--alpha-prune", "1:2:2000",
             "--n", "8", "--seeds", "1", timeout=60)
    _one_line_error(p, "4000000 points", "1000000")


@pytest.mark.slow  # an embedded Dask cluster and one task solved first: ~20 s
def test_sigterm_ends_sim_cleanly_with_143(tmp_path):
    pytest.importorskip("distributed")
    import signal
    import time

    out = tmp_path / "results"
    env = dict(os.environ, PRUNESCALE_CACHE="", JAX_PLATFORMS="cpu")
    p = subprocess.Popen([sys.executable, "-m", "prunescale.cli", "sim", "--rule", "hard",
                          "--f", "0.5", "--alpha-prune", "1:3:8", "--n", "30", "--seeds", "32",
                          "--no-theory", "--quiet", "--workers", "1", "--out", str(out)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.time() + 240
    while not list(out.glob("task-*.parquet")) and time.time() < deadline and p.poll() is None:
        time.sleep(0.1)
    assert p.poll() is None, "the sweep ended before it could be terminated"
    p.send_signal(signal.SIGTERM)
    stdout, stderr = p.communicate(timeout=120)
    assert p.returncode == 143, stderr
    assert stderr.strip().splitlines()[-1] == "prunescale: terminated (SIGTERM)", stderr
    assert "leaked" not in stderr and "Traceback" not in stderr, stderr
    assert list(out.glob("task-*.parquet"))  # finished tasks kept


def test_cli_help_documents_sigterm():
    p = _cli("--help")
    assert "143 terminated" in " ".join(p.stdout.split())


# -- the wheel without extras: each command names its extra --------------------------------------

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.slow  # builds the wheel and a fresh environment with numpy, scipy and jax: ~1-2 min
def test_wheel_without_extras_names_the_extra_of_each_command(tmp_path):
    import glob
    import venv

    wheels = tmp_path / "wheels"
    b = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                        str(wheels), REPO], capture_output=True, text=True, timeout=600)
    assert b.returncode == 0, b.stderr
    (wheel,) = glob.glob(str(wheels / "prunescale-*.whl"))
    env_dir = tmp_path / "env"
    venv.create(env_dir, with_pip=True)
    py = str(env_dir / "bin" / "python")
    i = subprocess.run([py, "-m", "pip", "install", "-q", wheel], capture_output=True,
                       text=True, timeout=900)
    assert i.returncode == 0, i.stderr
    exe = str(env_dir / "bin" / "prunescale")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(PRUNESCALE_CACHE="", JAX_PLATFORMS="cpu")

    def run(*args):
        return subprocess.run([exe, *args], capture_output=True, text=True, env=env,
                              cwd=tmp_path, timeout=300)

    p = run("--help")
    assert p.returncode == 0 and all(c in p.stdout for c in ("theory", "sim", "fss", "figures",
                                                             "app")), p.stderr
    p = run(*THEORY)
    assert p.returncode == 0 and "hard" in p.stdout, p.stderr
    p = run(*SIM, "--no-theory")
    assert p.returncode == 0 and "seed 0" in p.stdout, p.stderr
    for args, extra in [((*SIM, "--out", "results"), "sweep"), ((*SIM, "--workers", "1"), "sweep"),
                        (("fss", "results"), "sweep"), (("figures", "--out", "figs"), "figures"),
                        (("app", "--headless"), "app")]:
        p = run(*args)
        _one_line_error(p, f"pip install 'prunescale[{extra}]'")
    assert not (tmp_path / "figs").exists() and not (tmp_path / "results").exists()


# -- help texts and messages match the code ---------------------------------------------------

def test_figures_help_offers_every_figure():
    from prunescale.figures import FIGURES
    from prunescale.figures.run import MODULES, SHORT

    assert len(FIGURES) == len(MODULES) == len(SHORT)
    text = " ".join(_cli("figures", "--help").stdout.split())
    assert f"fig1..fig{len(MODULES)}" in text and "fig1..fig6" not in text
    assert f"Draw the {len(MODULES)} perceptron figures" in text
    for name in FIGURES:
        assert name in text
    for words in ("label noise", "selection policies", "theory vs simulation"):
        assert words in text


def test_fss_help_lists_every_json_key(tmp_path):
    pytest.importorskip("pyarrow")
    pytest.importorskip("pandas")
    import json
    import re

    _synthetic_sweep(tmp_path, (10, 20))
    p = _cli("fss", str(tmp_path), "--no-theory", "--json")
    assert p.returncode == 0, p.stderr
    keys = list(json.loads(p.stdout)[0])
    text = " ".join(_cli("fss", "--help").stdout.split())
    listed = text.split("--json prints a list", 1)[1].split("(null where", 1)[0]
    missing = [k for k in keys if not re.search(rf"\b{k}\b", listed)]
    assert not missing, missing


def test_readme_sample_theory_output_matches_the_command():
    readme = open(os.path.join(REPO, "docs", "cli.md"), encoding="utf-8").read()
    cmd = "prunescale theory --rule hard,easy --f 0.2 --alpha-prune 3"
    block = readme.split(f"$ {cmd}\n", 1)[1].split("```", 1)[0].splitlines()
    p = _cli(*cmd.split()[1:])
    assert p.returncode == 0, p.stderr
    got = p.stdout.splitlines()
    assert block[0] == got[0]  # the header, with every column
    assert [line.split()[:4] for line in block[1:]] == [line.split()[:4] for line in got[1:]]


def test_pool_too_large_names_the_options_given():
    p = _cli(*THEORY[:3], "--f", "0.2", "--alpha-prune", "1e12")
    line = _one_line_error(p, "alpha_prune = 1e+12", "f = 0.2", "5e+12")
    assert "alpha_tot must" not in line


# -- the browser test's skip is visible ----------------------------------------------------------

def test_skipped_browser_tests_are_named_in_the_summary(tmp_path):
    env = dict(os.environ, PRUNESCALE_CHROMIUM=str(tmp_path / "no-such-chromium"))
    p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        "-m", "slow", os.path.join(REPO, "tests", "test_app_browser.py")],
                       capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "of the app skipped: no Chromium installed" in p.stdout, p.stdout
