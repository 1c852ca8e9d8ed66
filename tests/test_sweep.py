"""Sweep tasks and their durable store: identity, atomic files, resume without duplicates."""

import dataclasses
import os
import stat

import numpy as np
import pytest

pytest.importorskip("pyarrow")
pytest.importorskip("pandas")

from prunescale.sims import store, sweep  # noqa: E402


def _cfg(**kw):
    base = dict(rule="hard", f=0.5, alpha_prune=1.0, alpha_tot=2.0, theta_deg=0.0)
    base.update(kw)
    return sweep.Config(**base)


def _fake_columns(task, eps=None):
    """Columns of a finished task with synthetic measurements (no simulation)."""
    k = len(task.students)
    cols = {name: [v] * k for name, v in dataclasses.asdict(task.config).items()}
    eps = np.full(k, 0.25) if eps is None else eps
    cols.update(n=[task.n] * k, seed=[task.seed] * k,
                student=np.asarray(task.students, np.int64), eps=eps, eps_noisy=eps,
                R=np.cos(np.pi * eps), S=np.zeros(k), kappa=np.ones(k), Q=np.full(k, np.nan),
                gap=np.full(k, 1e-9),
                flagged=np.zeros(k, bool), seconds=np.full(k, 0.1),
                version=[task.version] * k, task=[task.id] * k)
    return cols


def test_task_identity_changes_with_every_part():
    t = sweep.Task(_cfg(), 100, 0, (0, 1, 2))
    assert t.id == sweep.Task(_cfg(), 100, 0, (0, 1, 2)).id  # stable
    others = [sweep.Task(_cfg(f=0.25, alpha_tot=4.0), 100, 0, (0, 1, 2)),
              sweep.Task(_cfg(rule="easy"), 100, 0, (0, 1, 2)),
              sweep.Task(_cfg(theta_deg=10.0), 100, 0, (0, 1, 2)),
              sweep.Task(_cfg(mode="direct"), 100, 0, (0, 1, 2)),
              sweep.Task(_cfg(gap_tol=1e-8), 100, 0, (0, 1, 2)),
              sweep.Task(_cfg(), 200, 0, (0, 1, 2)),
              sweep.Task(_cfg(), 100, 1, (0, 1, 2)),
              sweep.Task(_cfg(), 100, 0, (0, 1, 3)),
              sweep.Task(_cfg(), 100, 0, (0, 1, 2), version="0.0.0-other")]
    ids = {t.id} | {o.id for o in others}
    assert len(ids) == len(others) + 1


def test_plan_covers_every_student_once():
    tasks = sweep.plan([_cfg(), _cfg(rule="easy")], [10, 20], 7, 3, task_students=3)
    assert len(tasks) == 2 * 2 * 3  # blocks of 3, 3 and 1
    keys = [k for t in tasks for k in t.row_keys()]
    assert len(keys) == len(set(keys)) == 2 * 2 * 7
    assert {t.students for t in tasks} == {(0, 1, 2), (3, 4, 5), (6,)}


def test_task_file_is_atomic_respects_umask_and_round_trips(tmp_path):
    task = sweep.Task(_cfg(), 50, 4, (5, 6, 7))
    eps = np.array([0.1, 0.2, 0.3])
    old = os.umask(0o027)
    try:
        path = store.write_task(tmp_path, task.id, _fake_columns(task, eps))
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    assert os.listdir(tmp_path) == [path.name]  # no temporary left behind
    df = store.load(tmp_path)
    assert list(df.columns) == list(store.COLUMNS)
    assert df["student"].tolist() == [5, 6, 7] and np.allclose(df["eps"], eps)
    assert set(df["task"]) == {task.id} and (df["n"] == 50).all() and (df["seed"] == 4).all()


def test_half_written_temporaries_are_ignored_and_dead_ones_removed(tmp_path):
    task = sweep.Task(_cfg(), 50, 0, (0, 1))
    store.write_task(tmp_path, task.id, _fake_columns(task))
    # a writer killed mid-write: garbage under its temporary name (pid that cannot exist)
    dead = tmp_path / f".task-{'ab' * 16}.parquet.pid{2**22 + 12345}.x1.tmp"
    dead.write_bytes(b"PAR1 truncated")
    live = tmp_path / f".task-{'cd' * 16}.parquet.pid{os.getpid()}.x2.tmp"
    live.write_bytes(b"PAR1 being written")
    assert store.finished_tasks(tmp_path) == {task.id}
    assert len(store.load(tmp_path)) == 2
    assert store.clean_stale_temporaries(tmp_path) == 1
    assert not dead.exists() and live.exists()


def test_pending_skips_finished_tasks_and_stored_students(tmp_path):
    tasks = sweep.plan([_cfg()], [30], 6, 0, task_students=2)  # (0,1) (2,3) (4,5)
    for t in tasks[:2]:
        store.write_task(tmp_path, t.id, _fake_columns(t))
    todo, skipped = sweep.pending(tasks, tmp_path)
    assert [t.students for t in todo] == [(4, 5)] and skipped == 4
    # another blocking of the same sweep: only the students not stored yet run
    tasks3 = sweep.plan([_cfg()], [30], 6, 0, task_students=3)  # (0,1,2) (3,4,5)
    todo, skipped = sweep.pending(tasks3, tmp_path)
    assert [t.students for t in todo] == [(4, 5)] and skipped == 4
    assert todo[0].id == tasks[2].id  # the same students, the same identity
    # a new seed is a new sweep
    todo, skipped = sweep.pending(sweep.plan([_cfg()], [30], 6, 1, 2), tmp_path)
    assert len(todo) == 3 and skipped == 0


def test_in_process_run_writes_each_task_and_matches_simulate(tmp_path):
    from prunescale import sims

    tasks = sweep.plan([_cfg(), _cfg(rule="easy", theta_deg=10.0)], [8], 3, 5,
                       task_students=2)
    rep = sweep.run(tasks, out=tmp_path, in_process=True, progress=False)
    assert not rep.failed and len(rep.results) == 4
    assert store.finished_tasks(tmp_path) == {t.id for t in tasks}
    df = store.load(tmp_path)
    assert len(df) == 6 and not df.duplicated(["rule", "student"]).any()
    ref = sims.simulate(sims.Pruning("easy", 0.5, 10.0), alpha_prune=1.0, n=8, seeds=3, seed=5, alpha_tot=2.0,
                        progress=False)
    got = df[df["rule"] == "easy"].sort_values("student")
    np.testing.assert_allclose(got["eps"], ref.eps, rtol=1e-10)
    np.testing.assert_allclose(got["kappa"], ref.kappa, rtol=1e-10)


def test_aggregate_is_an_xarray_of_means_and_sems(tmp_path):
    xr = pytest.importorskip("xarray")
    rng = np.random.default_rng(0)
    for n in (10, 20):
        t = sweep.Task(_cfg(), n, 0, tuple(range(5)))
        eps = rng.uniform(0.1, 0.3, 5)
        cols = _fake_columns(t, eps)
        cols["flagged"] = np.array([False, False, False, False, True])
        store.write_task(tmp_path, t.id, cols)
        if n == 20:
            last = eps
    ds = store.load(tmp_path, aggregate=True)
    # one configuration at two sizes: n is the one dimension, the fields are scalar coordinates
    assert isinstance(ds, xr.Dataset) and set(ds.sizes) == {"n"}
    assert ds["rule"].item() == "hard" and float(ds["f"]) == 0.5
    assert ds["learner"].item() == "max-margin" and not bool(ds["reweight"])
    pt = ds.sel(n=20)
    ok = last[:4]  # the flagged student is excluded
    assert float(pt["eps_mean"]) == pytest.approx(ok.mean(), rel=1e-12)
    assert float(pt["eps_sem"]) == pytest.approx(ok.std(ddof=1) / 2.0, rel=1e-12)
    assert int(pt["students"]) == 4 and int(pt["n_flagged"]) == 1


def test_load_refuses_a_folder_without_results(tmp_path):
    from prunescale.errors import InputError

    with pytest.raises(InputError, match="no sweep results"):
        store.load(tmp_path)
    with pytest.raises(InputError, match="not a folder"):
        store.load(tmp_path / "absent")
