"""``prunescale sim``: JSON contract, table output, and one-line errors for bad input."""

import json
import os
import subprocess
import sys

import pytest

REQUIRED = {"rule", "f", "alpha_prune", "alpha_tot", "theta_deg", "n", "seeds", "seed",
            "eps_mean", "eps_sem", "eps_theory", "z", "theory_converged", "n_flagged",
            "max_gap", "R_mean", "kappa_mean"}


def _run(*args, env_extra=None):
    env = dict(os.environ)  # the run's XLA cache (conftest.py)
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
        assert r["seed"] == 7 and r["seeds"] == 3
        assert r["max_gap"] <= 1e-6 and r["n_flagged"] == 0
        assert 0 < r["eps_mean"] < 0.5
        assert r["eps_theory"] is None or 0 < r["eps_theory"] < 0.5


@pytest.mark.slow
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


@pytest.mark.slow
def test_every_grid_option_takes_a_list():
    p = _run("--rule", "hard,easy", "--f", "0.5", "--alpha-prune", "1", "--theta-deg", "0,10",
             "--n", "8,12", "--seeds", "2", "--json", "--quiet")
    assert p.returncode == 0, p.stderr
    rows = json.loads(p.stdout)
    assert sorted((r["rule"], r["theta_deg"], r["n"]) for r in rows) == sorted(
        (rule, t, n) for rule in ("hard", "easy") for t in (0.0, 10.0) for n in (8, 12))
    for r in rows:
        assert REQUIRED <= set(r) and r["theory_converged"] is True
        assert r["z"] == pytest.approx((r["eps_mean"] - r["eps_theory"]) / r["eps_sem"])
    # the same students at the same N and seed whatever else is in the sweep
    q = _run("--rule", "easy", "--f", "0.5", "--alpha-prune", "1", "--theta-deg", "10",
             "--n", "12", "--seeds", "2", "--json", "--quiet")
    (one,) = json.loads(q.stdout)
    (same,) = [r for r in rows if (r["rule"], r["theta_deg"], r["n"]) == ("easy", 10.0, 12)]
    assert one["eps_mean"] == pytest.approx(same["eps_mean"], rel=1e-10)


def test_z_is_null_without_a_certified_theory_point(monkeypatch, capsys):
    from prunescale import _cli_sim, cli

    monkeypatch.setenv("PRUNESCALE_CACHE", "")
    monkeypatch.setattr(_cli_sim, "_theory_eps", lambda *a: (None, False))
    code = cli.main(["sim", "--rule", "hard", "--f", "0.5", "--alpha-prune", "1", "--n", "8",
                     "--seeds", "2", "--json", "--quiet"])
    out, err = capsys.readouterr()
    (r,) = json.loads(out)
    assert code == 1 and r["z"] is None and r["eps_theory"] is None
    assert r["theory_converged"] is False and r["eps_mean"] is not None
    assert "1 of 1 theory points not certified" in err


def test_small_job_stays_in_process_and_out_csv_writes_the_table(tmp_path):
    code = ("import sys, json; from prunescale.cli import main; "
            "c = main(['sim', '--rule', 'hard', '--f', '0.5', '--alpha-prune', '1', '--n', '8',"
            " '--seeds', '2', '--quiet', '--no-theory', '--out', sys.argv[1]]); "
            "print(json.dumps([c, 'distributed' in sys.modules]))")
    p = subprocess.run([sys.executable, "-c", code, str(tmp_path / "t.csv")],
                       capture_output=True, text=True, timeout=300,
                       env=dict(os.environ))
    assert json.loads(p.stdout.strip().splitlines()[-1]) == [0, False], p.stderr
    lines = (tmp_path / "t.csv").read_text().splitlines()
    assert len(lines) == 2 and lines[0].startswith("rule,f,alpha_prune,alpha_tot,theta_deg,n")


@pytest.mark.parametrize("extra,needle", [
    (["--workers", "0"], "--workers"),
    (["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], "not both"),
    (["--scheduler", " "], "--scheduler"),
    (["--task-students", "0"], "--task-students"),
    (["--out", "{file}"], "is a file"),
    (["--out", "{nodir}/res"], "does not exist"),
])
def test_bad_sweep_options_are_one_line_errors(tmp_path, extra, needle):
    (tmp_path / "plain").write_text("x")
    extra = [e.format(file=tmp_path / "plain", nodir=tmp_path / "nope") for e in extra]
    p = _run("--rule", "hard", "--f", "0.5", "--alpha-prune", "1", "--n", "8", "--seeds", "2",
             *extra)
    assert p.returncode == 2, p.stderr
    assert p.stderr.count("\n") == 1 and needle in p.stderr and "Traceback" not in p.stderr
