"""The command-line contract of the selection policies: ``--softness``, ``--metric``,
``--reweight`` for ``prunescale theory`` and ``prunescale sim``, and stored sweeps."""

import json
import subprocess
import sys

import numpy as np
import pytest

from prunescale.theory import solve


def run(cmd, *args, timeout=300):
    return subprocess.run([sys.executable, "-m", "prunescale.cli", cmd, *args],
                          capture_output=True, text=True, timeout=timeout)


def test_theory_json_matches_the_api_for_every_learner():
    out = run("theory", "--rule", "hard", "--f", "0.3", "--alpha-prune", "2", "--noise", "0.1",
              "--softness", "0,0.3", "--metric", "signed", "--json")
    assert out.returncode == 0, out.stderr
    recs = json.loads(out.stdout)
    assert [(r["softness"], r["metric"], r["reweight"]) for r in recs] == [
        (0.0, "signed", False), (0.3, "signed", False)]
    for r in recs:
        ref = solve("hard", 0.3, 2.0, noise=0.1, softness=r["softness"], metric="signed")
        assert r["eps"] == pytest.approx(float(ref.eps), abs=1e-12) and r["converged"]
    out = run("theory", "--rule", "hard", "--f", "0.3", "--alpha-prune", "2", "--softness", "0.3",
              "--learner", "ridge", "--lam", "0.1", "--reweight", "--json")
    assert out.returncode == 0, out.stderr
    (rec,) = json.loads(out.stdout)
    assert rec["reweight"] is True and rec["metric"] == "abs" and rec["softness"] == 0.3
    ref = solve("hard", 0.3, 2.0, learner="ridge", lam=0.1, softness=0.3, reweight=True)
    assert rec["eps"] == pytest.approx(float(ref.eps), abs=1e-12)
    biased = solve("hard", 0.3, 2.0, learner="ridge", lam=0.1, softness=0.3)
    assert abs(float(biased.eps) - rec["eps"]) > 1e-4  # reweighting changes the student


@pytest.mark.parametrize("cmd,extra,needle", [
    ("theory", ["--softness", "-1"], "softness must be in [0, 10]; got -1.0"),
    ("sim", ["--softness", "-1"], "softness must be in [0, 10]; got -1.0"),
    ("theory", ["--softness", "nan"], "softness must be finite"),
    ("theory", ["--metric", "loss"], "--metric must be one of abs, signed"),
    ("sim", ["--metric", "loss"], "--metric must be one of abs, signed"),
    ("theory", ["--metric", "abs,signed"], "--metric takes one of abs, signed"),
    ("theory", ["--reweight"], "--reweight is for the regularized learners"),
    ("sim", ["--reweight"], "--reweight is for the regularized learners"),
])
def test_bad_selection_input_is_one_line(cmd, extra, needle):
    base = ["--rule", "hard", "--f", "0.3", "--alpha-prune", "2"]
    if cmd == "sim":
        base += ["--n", "50", "--seeds", "2"]
    out = run(cmd, *base, *extra)
    assert out.returncode == 2, (out.stdout, out.stderr)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], out.stderr
    assert "Traceback" not in out.stderr


def test_sim_json_and_a_results_folder_with_policies(tmp_path, capsys):
    from prunescale.cli import main  # in this process: its compiled programs are shared

    rc = main(["sim", "--rule", "easy", "--f", "0.4", "--alpha-prune", "2", "--softness", "0.2",
               "--metric", "signed", "--noise", "0.1", "--n", "60", "--seeds", "3", "--json"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    (row,) = json.loads(out)
    assert (row["softness"], row["metric"], row["reweight"]) == (0.2, "signed", False)
    assert row["n_flagged"] == 0 and row["theory_converged"]
    th = float(solve("easy", 0.4, 2.0, noise=0.1, softness=0.2, metric="signed").eps)
    assert row["eps_theory"] == pytest.approx(th, abs=1e-12)
    pytest.importorskip("pyarrow")
    from prunescale.sims import load

    folder = str(tmp_path / "res")
    rc = main(["sim", "--rule", "hard", "--f", "0.3", "--alpha-prune", "2", "--softness",
               "0,0.3", "--n", "50", "--seeds", "2", "--out", folder, "--quiet"])
    assert rc == 0, capsys.readouterr().err
    df = load(folder)
    assert sorted(set(df["softness"])) == [0.0, 0.3] and set(df["metric"]) == {"abs"}
    ds = load(folder, aggregate=True)
    assert ds["eps_mean"].sizes["softness"] == 2


def test_a_folder_written_before_selection_policies_still_loads(tmp_path):
    pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    from prunescale.sims import load, store
    from prunescale.sims.sweep import Config, Task

    folder = tmp_path / "old"
    out = run("sim", "--rule", "hard", "--f", "0.3", "--alpha-prune", "2", "--n", "50",
              "--seeds", "2", "--out", str(folder), "--quiet")
    assert out.returncode == 0, out.stderr
    (path,) = folder.glob("task-*.parquet")
    t = pq.read_table(path)
    old = t.drop_columns(["softness", "metric", "reweight", "power_exp", "probe_scale",
                          "random_share"])  # the earlier schema
    pq.write_table(old, path)
    df = load(str(folder))
    assert list(df["softness"]) == [0.0, 0.0] and list(df["metric"]) == ["abs", "abs"]
    # the task id of a default-policy configuration did not change: a rerun skips it
    cfg = Config("hard", 0.3, 2.0, 2.0 / 0.3, 0.0, "pool", 1e-6, "max-margin", 0.0, 0.0)
    # without the spectrum, spiked-model, selection, family and label fields
    assert len(cfg.ident()) == len(cfg.key()) - 14
    assert Task(cfg, 50, 0, (0, 1)).id == path.name[5:-8]
    out = run("sim", "--rule", "hard", "--f", "0.3", "--alpha-prune", "2", "--n", "50",
              "--seeds", "2", "--out", str(folder))
    assert out.returncode == 0 and "2 students were already there" in out.stderr, out.stderr
    assert len(store.finished_tasks(str(folder))) == 1
    np.testing.assert_array_equal(load(str(folder))["eps"], df["eps"])
