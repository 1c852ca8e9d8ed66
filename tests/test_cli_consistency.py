"""The command line's contract: figure selection, exit statuses, user errors against bugs."""

import json
import sys

import pytest

from prunescale import _cli_app, _cli_theory, cli
from prunescale.errors import InputError
from prunescale.figures import FIGURES
from prunescale.figures import run as figrun


def test_only_accepts_every_figure_name_and_refuses_an_empty_list():
    by_short = [m.NAME for m in figrun.select(["fig2", "fig5"])]
    by_name = [m.NAME for m in figrun.select(["parity", "frontier"])]
    assert by_short == by_name == ["fig2_frontier", "fig5_theory_vs_simulation"]
    assert len(figrun.select(list(FIGURES))) == len(FIGURES)
    with pytest.raises(InputError, match="--only is empty"):
        figrun.select([])


def test_empty_only_writes_nothing(tmp_path, capsys):
    out = tmp_path / "figs"
    assert cli.main(["figures", "--only", "", "--out", str(out)]) == 2
    assert "--only is empty" in capsys.readouterr().err
    assert not out.exists()


def _fake(name, bad=0, **extra):
    def main(quick=True, out=None, progress=None):
        return {"paths": [out / f"{name}.png"], "n_uncertified": bad, "n_flagged": 0,
                "theory_converged": not bad, **extra}
    return main


def test_only_keeps_the_other_figures_in_the_summary(tmp_path, monkeypatch):
    from prunescale.figures import fig_frontier, fig_phase_diagram

    monkeypatch.setattr(fig_phase_diagram, "main", _fake(fig_phase_diagram.NAME))
    monkeypatch.setattr(fig_frontier, "main", _fake(fig_frontier.NAME, rates={"r": 1.0}))
    figrun.run_all(tmp_path, only=["fig3"])
    summary = figrun.run_all(tmp_path, only=["fig2"])
    assert summary["drawn"] == [fig_frontier.NAME]
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    assert set(on_disk["figures"]) == set(on_disk["certification"]) == {
        fig_frontier.NAME, fig_phase_diagram.NAME}


@pytest.mark.parametrize("bad, status", [(0, 0), (3, 1)])
def test_figures_warn_when_a_point_is_not_certified(tmp_path, monkeypatch, capsys, bad, status):
    from prunescale.figures import fig_phase_diagram

    monkeypatch.setattr(fig_phase_diagram, "main", _fake(fig_phase_diagram.NAME, bad=bad))
    assert cli.main(["figures", "--only", "phase_diagram", "--out", str(tmp_path)]) == status
    cap = capsys.readouterr()
    assert f"{fig_phase_diagram.NAME}: " in cap.out  # where the figure went
    assert ("3 theory points uncertified" in cap.err) == bool(bad)
    assert ("prunescale: warning: not everything certified" in cap.err) == bool(bad)
    # the figures are written either way; the summary records the count
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["certification"][fig_phase_diagram.NAME]["n_uncertified"] == bad


def test_figures_exit_1_for_a_flagged_student_but_not_for_an_earlier_run(tmp_path, monkeypatch,
                                                                         capsys):
    """Status 1 when a figure drawn by this run flags a student; a later --only run of a clean
    figure exits 0 even though summary.json still lists the earlier figure's flags."""
    from prunescale.figures import fig_frontier, fig_phase_diagram

    def flagged(quick=True, out=None, progress=None):
        return {**_fake(fig_phase_diagram.NAME)(quick, out, progress), "n_flagged": 2}

    monkeypatch.setattr(fig_phase_diagram, "main", flagged)
    monkeypatch.setattr(fig_frontier, "main", _fake(fig_frontier.NAME, rates={"r": 1.0}))
    assert cli.main(["figures", "--only", "phase_diagram", "--out", str(tmp_path)]) == 1
    assert "2 students flagged" in capsys.readouterr().err
    assert cli.main(["figures", "--only", "frontier", "--out", str(tmp_path)]) == 0
    assert "warning" not in capsys.readouterr().err


def test_figures_help_states_the_exit_status(capsys):
    assert cli.main(["figures", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "1 a figure drawn by this run holds an uncertified theory point or a flagged student" \
        in text


def test_negative_values_and_ranges_reach_the_validator(capsys):
    for value in ("-1e-3", "-1:2:3", "-.5"):
        assert cli.main(["theory", "--rule", "hard", "--f", "0.2", "--alpha-prune", value]) == 2
        err = capsys.readouterr().err
        assert "alpha_prune must be in" in err and "expected one argument" not in err


def test_a_bug_is_an_internal_error_not_bad_input(monkeypatch, capsys):
    def broken(args):
        raise ValueError("a bug, not the user's input")

    monkeypatch.setattr(_cli_theory, "run", broken)
    monkeypatch.setattr(sys, "argv", ["prunescale", "theory", "--rule", "hard", "--f", "0.2",
                                      "--alpha-prune", "3"])
    with pytest.raises(SystemExit) as exc:
        cli.entry()
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "prunescale: internal error" in err
    assert "prunescale: error:" not in err


def test_app_module_main_separates_bad_input_from_bugs(monkeypatch, capsys):
    def bad_input(args):
        raise InputError("--port must be in 1..65535; got 0")

    monkeypatch.setattr(_cli_app, "build_command", bad_input)
    assert _cli_app.main(["--port", "0"]) == 2
    assert capsys.readouterr().err == "prunescale: error: --port must be in 1..65535; got 0\n"

    def bug(args):
        raise ValueError("a bug")

    monkeypatch.setattr(_cli_app, "build_command", bug)
    with pytest.raises(ValueError, match="a bug"):
        _cli_app.main([])


def test_code_fingerprint_follows_every_source_file_of_the_solvers(tmp_path, monkeypatch):
    import prunescale.figures
    import prunescale.sims
    import prunescale.theory
    from prunescale.figures import _store

    for pkg in (prunescale.theory, prunescale.sims, prunescale.figures):
        root = tmp_path / pkg.__name__
        (root / "sub").mkdir(parents=True)
        (root / "__init__.py").write_text("")
        monkeypatch.setattr(pkg, "__file__", str(root / "__init__.py"))

    def fingerprint():
        _store.code_fingerprint.cache_clear()
        return _store.code_fingerprint()

    try:
        base = fingerprint()
        assert fingerprint() == base
        solver = tmp_path / "prunescale.theory" / "sub" / "solver.py"
        solver.write_text("TOL = 1e-10\n")  # a new module in a subpackage
        changed = fingerprint()
        assert changed != base
        solver.write_text("TOL = 1e-12\n")  # a solver change
        assert fingerprint() not in (base, changed)
    finally:
        _store.code_fingerprint.cache_clear()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_app_server_dies_with_a_killed_parent(start_app):
    import os
    import signal
    import time
    import urllib.request

    p, url = start_app()
    with open(f"/proc/{p.pid}/task/{p.pid}/children") as fh:
        server_pids = [int(x) for x in fh.read().split()]
    p.send_signal(signal.SIGKILL)  # no handler can run: the kernel must stop the server
    p.wait(timeout=10)
    try:
        deadline = time.time() + 20
        while True:
            try:
                urllib.request.urlopen(url, timeout=2)
            except OSError:
                break  # the server is gone
            assert time.time() < deadline, "the marimo server outlived its killed parent"
            time.sleep(0.5)
    finally:  # never leave an orphaned server behind, even when the test fails
        for pid in server_pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.mark.parametrize("argv, name", [
    (["theory", "--rule", "hard", "--f", "0.2", "--alpha-prune", "3", "--alpha-prune", "4"],
     "--alpha-prune"),
    (["theory", "--rule", "hard", "--f", "0.2", "--alpha-prune", "3", "--theta-deg", "1",
      "--th", "2"], "--theta-deg"),  # an abbreviation is the same option
    (["theory", "--rule=hard", "--rule", "easy", "--f", "0.2", "--alpha-prune", "3"], "--rule"),
    (["sim", "--rule", "hard", "--f", "0.5", "--alpha-prune", "1", "--n", "8", "--n", "9"],
     "--n"),
    (["figures", "--out", "a", "--out", "b"], "--out"),
])
def test_every_command_refuses_a_repeated_option(argv, name, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"option {name} given more than once" in err


def test_the_parser_class_itself_refuses_repeats():
    parser = cli._Parser(prog="x")
    parser.add_argument("--a", type=float)
    parser.add_argument("--v", action="append")
    assert parser.parse_args(["--a", "-1", "--v", "1", "--v", "2"]).v == ["1", "2"]
    assert parser.parse_args(["--a", "2"]).a == 2.0  # a fresh parse forgets the last one
    with pytest.raises(SystemExit):
        parser.parse_args(["--a", "1", "--a", "2"])


def test_progress_is_one_line_per_step_off_a_terminal():
    import io

    from prunescale._progress import Progress

    log = io.StringIO()
    p = Progress(3, stream=log)
    for th in (0, 10, 20):
        p.step(f"theory: frontier theta={th}")
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue() and len(lines) == 3
    assert lines[0].startswith("1/3 theory: frontier theta=0") and "s left" in lines[0]
    assert lines[-1].startswith("3/3") and lines[-1].endswith("done")

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    term = Terminal()
    p = Progress(2, stream=term)
    p.step("a")
    p.step("b")
    assert term.getvalue().count("\r") == 2 and term.getvalue().count("\n") == 1


def test_theory_starts_without_plotting_jax_or_marimo():
    import subprocess

    code = (
        "import sys\n"
        "from prunescale import cli\n"
        "status = cli.main(['theory', '--rule', 'hard,easy', '--f', '0.2', '--alpha-prune', '3'])\n"
        "heavy = [m for m in ('matplotlib', 'jax', 'marimo', 'prunescale.sims',\n"
        "                     'prunescale.figures', 'prunescale.app') if m in sys.modules]\n"
        "assert status == 0 and not heavy, heavy\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr[-2000:]
