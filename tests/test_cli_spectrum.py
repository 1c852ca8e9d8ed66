"""The command-line contract of a covariance spectrum: ``--spectrum`` and ``--teacher-decay``
of ``prunescale theory`` and ``prunescale sim`` (N = D), and their one-line errors."""

import json
import warnings

import numpy as np
import pytest

from prunescale.cli import main
from prunescale.theory import solve


def _run(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_theory_json_and_table_show_the_spectrum(capsys):
    rc, out, err = _run(capsys, "theory", "--rule", "hard", "--f", "0.5", "--alpha-prune", "2",
                        "--spectrum", "power:1:300", "--teacher-decay", "2", "--learner",
                        "ridge", "--lam", "0.01", "--json")
    assert rc == 0, err
    (r,) = json.loads(out)
    assert (r["spectrum"], r["teacher_decay"]) == ("power:1:300", 2.0)
    ref = solve("hard", 0.5, alpha_prune=2.0, learner="ridge", lam=0.01,
                spectrum="power:1:300", teacher_decay=2.0)
    assert r["eps"] == pytest.approx(float(ref.eps), abs=1e-12)
    rc, out, err = _run(capsys, "theory", "--rule", "hard", "--f", "0.5", "--alpha-prune", "2",
                        "--spectrum", "power:1:300")
    assert rc == 0, err
    assert out.splitlines()[0].startswith("spectrum power:1:300, teacher decay none")


def test_sim_takes_n_from_the_spectrum(capsys):
    rc, out, err = _run(capsys, "sim", "--rule", "hard", "--f", "0.5", "--alpha-prune", "2",
                        "--spectrum", "power:1:40", "--teacher-decay", "2", "--learner",
                        "ridge", "--lam", "0.1", "--seeds", "2", "--quiet", "--json",
                        "--no-theory")
    assert rc == 0, err
    (r,) = json.loads(out)
    assert (r["n"], r["spectrum"], r["teacher_decay"], r["seeds"]) == (40, "power:1:40", 2.0, 2)
    assert r["gap_tol"] == 1e-5  # a regularized student with a spectrum (sims.spectrum.EPS_TOL)


@pytest.mark.parametrize("cmd", ["theory", "sim"])
@pytest.mark.parametrize("argv,words", [
    (["--spectrum", "power:-1:40"], "spectrum exponent A must be finite and in [0, 20]"),
    (["--spectrum", "power:inf:40"], "spectrum exponent A must be finite and in [0, 20]"),
    (["--spectrum", "power:1:1"], "spectrum dimension D must be an integer in [2, 1000000]"),
    (["--spectrum", "power:1:x"], "spectrum dimension D must be an integer"),
    (["--spectrum", "gauss:1:40"], "spectrum must be power:A:D (A >= 0, integer D >= 2) or "
                                   "file:PATH"),
    (["--spectrum", "power:1:40", "--teacher-decay", "nan"], "teacher_decay must be finite"),
    (["--teacher-decay", "1"], "needs a spectrum"),
    (["--spectrum", "file:/nonexistent/eig.npy"], "does not exist"),
    (["--spectrum", "power:1:40", "--snr", "1"], "give --snr or --spectrum, not both"),
])
def test_bad_spectrum_is_one_line_and_exit_2(capsys, cmd, argv, words):
    extra = ["--seeds", "1"] if cmd == "sim" else []
    rc, out, err = _run(capsys, cmd, "--rule", "hard", "--f", "0.5", "--alpha-prune", "2",
                        *extra, *argv)
    assert rc == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and words in err, err


@pytest.mark.parametrize("content,words", [
    (None, "is empty"), ("1.0\n2.0\nnan\n", "non-finite eigenvalue"),
    ("1.0\n0.0\n2.0\n", "eigenvalue <= 0"), ("1.0\n-2.0\n", "eigenvalue <= 0"),
    ("1.0\nabc\n", "could not be read as numbers")])
@pytest.mark.parametrize("cmd", ["theory", "sim"])
def test_bad_spectrum_file(tmp_path, capsys, cmd, content, words):
    path = tmp_path / "eig.txt"
    path.write_text("" if content is None else content)
    extra = ["--seeds", "1"] if cmd == "sim" else []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing but the one line (numpy warns on empty files)
        rc, _, err = _run(capsys, cmd, "--rule", "hard", "--f", "0.5", "--alpha-prune", "2",
                          *extra, "--spectrum", f"file:{path}")
    assert rc == 2 and len(err.strip().splitlines()) == 1 and words in err, err


@pytest.mark.slow
def test_spectrum_file_is_simulated(tmp_path, capsys):
    path = tmp_path / "eig.npy"
    np.save(path, np.linspace(3.0, 0.5, 30))
    rc, out, err = _run(capsys, "sim", "--rule", "random", "--f", "0.5", "--alpha-prune", "2",
                        "--spectrum", f"file:{path}", "--seeds", "2", "--quiet", "--json",
                        "--no-theory")
    assert rc == 0, err
    (r,) = json.loads(out)
    assert r["n"] == 30 and r["spectrum"] == f"file:{path}"


@pytest.mark.parametrize("argv,words", [
    (["--spectrum", "power:1:40", "--n", "30"],
     "--n 30 differs from the spectrum's dimension D = 40"),
    (["--spectrum", "power:1:40", "--n", "40,50"],
     "--n 50 differs from the spectrum's dimension D = 40"),
    (["--spectrum", "power:1:90000"], "GiB of memory per student"),
    (["--spectrum", "power:1"], "give --n"),
    (["--spectrum", "power:1", "--n", "1"], "D = N must be >= 2"),
    (["--spectrum", "power:-1", "--n", "40"], "spectrum exponent A must be finite"),
    ([], "give --n"),
])
def test_sim_dimension_errors(capsys, argv, words):
    rc, out, err = _run(capsys, "sim", "--rule", "hard", "--f", "0.5", "--alpha-prune", "2",
                        "--seeds", "1", *argv)
    assert rc == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and words in err, err


def test_theory_refuses_a_spectrum_without_d(capsys):
    rc, _, err = _run(capsys, "theory", "--rule", "hard", "--f", "0.5", "--alpha-prune", "2",
                      "--spectrum", "power:1")
    assert rc == 2 and "spectrum must be power:A:D" in err


@pytest.mark.slow
def test_sweep_family_takes_d_from_each_n(capsys):
    rc, out, err = _run(capsys, "sim", "--rule", "random", "--f", "0.5", "--alpha-prune", "2",
                        "--spectrum", "power:1", "--n", "20,30", "--learner", "ridge", "--lam",
                        "0.1", "--seeds", "2", "--quiet", "--json")
    assert rc == 0, err
    rows = json.loads(out)
    assert [(r["n"], r["spectrum"]) for r in rows] == [(20, "power:1:20"), (30, "power:1:30")]
    for r in rows:
        ref = solve("random", 0.5, alpha_prune=2.0, learner="ridge", lam=0.1,
                    spectrum=r["spectrum"])
        assert r["eps_theory"] == pytest.approx(float(ref.eps), abs=1e-12)


def test_isotropic_task_ids_are_unchanged():
    from prunescale.sims.sweep import Config, Task

    cfg = Config("hard", 0.5, 2.0, 4.0)
    assert len(cfg.ident()) == 10
    spec = Config("hard", 0.5, 2.0, 4.0, spectrum="power:1")
    assert spec.ident()[-2:] == ["power:1", ""]
    assert Task(cfg, 40, 0, (0, 1)).id != Task(spec, 40, 0, (0, 1)).id
    assert spec.model_at(40).data.spectrum == "power:1:40"


def test_fss_of_a_spectrum_family_compares_only_the_largest_n():
    """A family power:A changes its model with D = N: its theory (at D = Nmax) is no
    reference for the N -> inf intercept, so z is left out and z_largest_n is kept."""
    import dataclasses

    import pandas as pd

    from prunescale.sims.fss import extrapolate
    from prunescale.sims.sweep import Config

    base = dataclasses.asdict(Config("random", 0.5, 2.0, 4.0, learner="ridge", lam=0.1,
                                     spectrum="power:1.5"))
    th = float(solve("random", 0.5, alpha_prune=2.0, learner="ridge", lam=0.1,
                     spectrum="power:1.5:400").eps)
    rows = [{**base, "n": n, "eps_mean": th + 0.3 / n, "eps_sem": 0.002, "n_flagged": 0}
            for n in (100, 200, 400)]
    (r,) = extrapolate(pd.DataFrame(rows))
    assert r["eps_theory"] == pytest.approx(th, abs=1e-12)
    assert np.isnan(r["z"]) and r["z_largest_n"] == pytest.approx(0.3 / 400 / 0.002)
    iso = {**base, "spectrum": ""}
    (r0,) = extrapolate(pd.DataFrame([{**row, **iso} for row in rows]))
    assert np.isfinite(r0["z"])
