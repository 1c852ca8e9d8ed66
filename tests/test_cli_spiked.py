"""The command-line contract of spiked inputs and the prototype probe: ``--snr``, ``--probe``,
``--alpha-ssl`` for ``prunescale theory`` (and the same options of ``prunescale sim``)."""

import json

import pytest

from prunescale.cli import main
from prunescale.theory import solve
from prunescale.theory.spiked import prototype_angle_deg


def _run(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_theory_json_matches_the_api(capsys):
    rc, out, err = _run(capsys, "theory", "--rule", "hard,easy", "--f", "0.3", "--alpha-tot", "4",
                        "--snr", "0,4", "--probe", "prototype", "--learner", "max-margin,ridge",
                        "--lam", "0.1", "--json")
    assert rc == 0, err
    recs = json.loads(out)
    assert len(recs) == 8 and all(r["converged"] and r["probe"] == "prototype" for r in recs)
    for r in recs:
        kw = {"lam": 0.1} if r["learner"] == "ridge" else {}
        ref = solve(r["rule"], 0.3, alpha_tot=4.0, snr=r["snr"], probe="prototype",
                    learner=r["learner"], **kw)
        assert r["eps"] == pytest.approx(float(ref.eps), abs=1e-12)
        # the default unlabeled sample is the pool; theta_deg reports the prototype's angle
        assert r["alpha_ssl"] == 4.0
        assert r["theta_deg"] == pytest.approx(float(prototype_angle_deg(4.0, r["snr"])),
                                               abs=1e-12)
    # below the transition (A S^2 = 0 < 1) the prototype is uninformative: hard = easy
    low = sorted((r["learner"], r["rule"], r["eps"]) for r in recs if r["snr"] == 0)
    assert low[0][2] == pytest.approx(low[1][2], abs=1e-12)
    assert all(r["theta_deg"] == 90.0 for r in recs if r["snr"] == 0)


def test_theory_fixed_probe_with_snr_and_alpha_ssl_grid(capsys):
    rc, out, err = _run(capsys, "theory", "--rule", "hard", "--f", "0.5", "--alpha-prune", "2",
                        "--snr", "2", "--theta-deg", "10", "--json")
    assert rc == 0, err
    (r,) = json.loads(out)
    assert (r["snr"], r["probe"], r["theta_deg"]) == (2.0, "fixed", 10.0)
    assert r["eps"] == pytest.approx(float(solve("hard", 0.5, 2.0, theta_deg=10, snr=2).eps),
                                     abs=1e-12)
    rc, out, err = _run(capsys, "theory", "--rule", "hard", "--f", "0.5", "--alpha-tot", "4",
                        "--snr", "3", "--probe", "prototype", "--alpha-ssl", "0.1,8")
    assert rc == 0, err
    lines = out.splitlines()
    assert "snr" in lines[0] and "a_ssl" in lines[0] and len(lines) == 3
    assert "prototype" in lines[1] and lines[1].split()[5] == "90"  # 0.1 * 9 < 1: below BBP


@pytest.mark.parametrize("argv,words", [
    (["--probe", "prototype", "--theta-deg", "10"], "--theta-deg is not for --probe prototype"),
    (["--alpha-ssl", "2"], "--alpha-ssl is the unlabeled sample of --probe prototype"),
    (["--snr", "-1"], "snr must be in [0, 1e+06]; got -1.0"),
    (["--snr", "nan"], "snr must be finite"),
    (["--probe", "proto"], "--probe must be one of fixed, prototype; got 'proto'"),
    (["--probe", "prototype", "--alpha-ssl", "0"], "alpha_ssl must be in (0, 1e+06]; got 0.0"),
    (["--probe", "prototype", "--metric", "signed"], "--metric signed is not for --probe "
                                                     "prototype"),
])
@pytest.mark.parametrize("cmd", ["theory", "sim"])
def test_bad_structure_input_is_one_line(capsys, cmd, argv, words):
    extra = ["--n", "50", "--seeds", "2"] if cmd == "sim" else []
    rc, out, err = _run(capsys, cmd, "--rule", "hard", "--f", "0.3", "--alpha-tot", "4",
                        *extra, *argv)
    assert rc == 2 and not out
    assert len(err.strip().splitlines()) == 1 and words in err, err


def test_a_sample_too_large_is_refused_before_a_sweep_starts(capsys, tmp_path):
    out = tmp_path / "res"
    rc, stdout, err = _run(capsys, "sim", "--rule", "hard", "--f", "0.5", "--alpha-tot", "4",
                           "--snr", "4", "--probe", "prototype", "--alpha-ssl", "1e5",
                           "--n", "400", "--seeds", "2", "--quiet", "--out", str(out))
    assert rc == 2 and not stdout and not out.exists()
    assert len(err.strip().splitlines()) == 1 and "reduce alpha_ssl or N" in err, err
