"""Sweeps on the real Dask engine: an external scheduler with worker processes, a worker
killed mid-sweep, and a sweep killed with SIGKILL then resumed.

Every test checks the results folder row by row: each expected (configuration, N, student)
exactly once, with the values an in-process simulation gives for the same students.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

pytest.importorskip("distributed")
pytest.importorskip("pyarrow")

from prunescale.sims import load, store  # noqa: E402

#: workers as the embedded cluster starts them (one XLA thread); the compilation cache is a
#: fresh folder shared by this module's processes (set by the ``env`` fixture)
ENV = dict(os.environ, PRUNESCALE_CACHE="",
           XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")


@pytest.fixture(scope="module", autouse=True)
def env(tmp_path_factory):
    ENV["PRUNESCALE_CACHE"] = str(tmp_path_factory.mktemp("jax-cache"))
    yield ENV


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(cond, timeout, what):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if cond():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture
def cluster(tmp_path):
    """A ``dask scheduler`` and two ``dask worker`` processes (no nanny: a killed worker stays
    dead) on 127.0.0.1; yields ``(address, [worker Popen, ...], scheduler file)``."""
    from distributed import Client

    port = _free_port()
    addr = f"tcp://127.0.0.1:{port}"
    sched_file = tmp_path / "scheduler.json"
    procs = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler",
                               "--host", "127.0.0.1", "--port", str(port), "--no-dashboard",
                               "--scheduler-file", str(sched_file)],
                              env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    workers = []
    try:
        for i in range(2):
            w = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", addr,
                                  "--nthreads", "1", "--no-nanny", "--no-dashboard",
                                  "--name", f"w{i}", "--host", "127.0.0.1"],
                                 env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(w)
            workers.append(w)
        with Client(addr, timeout=60) as c:
            c.wait_for_workers(2, timeout=90)
        yield addr, workers, str(sched_file)
    finally:  # workers first (they hold no state), then the scheduler
        for p in reversed(procs):
            if p.poll() is None:
                p.kill() if p in workers else p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


SWEEP = ["--rule", "hard,easy", "--f", "0.5", "--alpha-prune", "1", "--theta-deg", "0,10",
         "--n", "8", "--seed", "3"]


def _sim(*args, **kw):
    return subprocess.run([sys.executable, "-m", "prunescale.cli", "sim", *args],
                          capture_output=True, text=True, env=ENV, timeout=600, **kw)


def _check_complete(folder, students):
    """Every (rule, theta, N, student) of SWEEP exactly once; values as simulated here."""
    from prunescale import sims

    df = load(folder)
    key = ["rule", "theta_deg", "n", "student"]
    assert not df.duplicated(key).any(), df[df.duplicated(key, keep=False)]
    got = set(map(tuple, df[key].itertuples(index=False)))
    want = {(r, t, 8, s) for r in ("hard", "easy") for t in (0.0, 10.0)
            for s in range(students)}
    assert got == want
    # the students are the ones the simulator gives for these keys (none mixed up)
    for rule, theta, n in (("easy", 10.0, 8), ("hard", 0.0, 8)):
        ref = sims.simulate(sims.Pruning(rule, 0.5, theta), alpha_prune=1.0, n=n, seeds=students, seed=3,
                            alpha_tot=2.0, progress=False)
        sel = df[(df.rule == rule) & (df.theta_deg == theta) & (df.n == n)]
        sel = sel.sort_values("student")
        np.testing.assert_allclose(sel["eps"], ref.eps, rtol=1e-9)
        np.testing.assert_allclose(sel["R"], ref.R, rtol=1e-9)
    return df


@pytest.mark.slow  # an external scheduler with two worker processes: CI's slow stage
def test_sweep_through_an_external_scheduler(cluster, tmp_path):
    addr, _, _ = cluster
    out = tmp_path / "res"
    p = _sim(*SWEEP, "--seeds", "3", "--task-students", "2", "--scheduler", addr,
             "--out", str(out), "--json")
    assert p.returncode == 0, p.stderr[-3000:]
    rows = json.loads(p.stdout)
    assert len(rows) == 4 and all(r["seeds"] == 3 for r in rows)
    df = _check_complete(out, 3)
    assert len(store.finished_tasks(out)) == 4 * 2  # 3 students in blocks of 2
    # the printed summary is the stored students' mean
    for r in rows:
        sel = df[(df.rule == r["rule"]) & (df.theta_deg == r["theta_deg"]) & (df.n == r["n"])]
        assert r["eps_mean"] == pytest.approx(sel["eps"].mean(), rel=1e-12)
    # both workers took part
    from distributed import Client

    with Client(addr) as c:
        assert len(c.scheduler_info()["workers"]) == 2


@pytest.mark.slow  # the embedded cluster's other tests (Ctrl-C, resume) stay in the default run
def test_killed_worker_loses_no_row_and_duplicates_none(cluster, tmp_path):
    _, workers, sched_file = cluster
    out = tmp_path / "res"
    p = subprocess.Popen([sys.executable, "-m", "prunescale.cli", "sim", *SWEEP, "--seeds",
                          "8", "--task-students", "1", "--scheduler", sched_file, "--out",
                          str(out),
                          "--quiet"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    try:
        _wait_for(lambda: len(store.finished_tasks(out)) >= 3, 300, "the first tasks")
        workers[0].send_signal(signal.SIGKILL)  # mid-sweep: 32 tasks, a few done
        assert len(store.finished_tasks(out)) < 32
        stdout, stderr = p.communicate(timeout=600)
    finally:
        if p.poll() is None:
            p.kill()
    assert workers[0].wait(timeout=10) == -signal.SIGKILL
    assert p.returncode == 0, stderr[-3000:]
    _check_complete(out, 8)
    assert len(store.finished_tasks(out)) == 32


@pytest.mark.slow  # a second Dask cluster and a sweep run twice: CI's slow stage
def test_sigkilled_sweep_resumes_without_recomputing(tmp_path):
    out = tmp_path / "res"
    args = [*SWEEP, "--seeds", "6", "--task-students", "1", "--workers", "1", "--out",
            str(out), "--quiet"]
    p = subprocess.Popen([sys.executable, "-m", "prunescale.cli", "sim", *args],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=ENV,
                         start_new_session=True)
    try:
        _wait_for(lambda: len(store.finished_tasks(out)) >= 4, 300, "the first tasks")
    finally:
        os.killpg(p.pid, signal.SIGKILL)  # the whole sweep: client, cluster, worker
        p.wait(timeout=30)
    time.sleep(0.5)
    before = {t: os.stat(store.task_path(out, t)) for t in store.finished_tasks(out)}
    assert 4 <= len(before) < 24
    r = _sim(*args[:-1], "--json")  # rerun, with the progress lines
    assert r.returncode == 0, r.stderr[-3000:]
    assert f"{len(before)} of 24 students already stored" in r.stderr
    after = store.finished_tasks(out)
    assert len(after) == 24
    for t, st in before.items():  # finished tasks were not recomputed nor rewritten
        now = os.stat(store.task_path(out, t))
        assert (now.st_ino, now.st_mtime_ns) == (st.st_ino, st.st_mtime_ns)
    assert not [n for n in os.listdir(out) if n.endswith(".tmp")]
    _check_complete(out, 6)
    rows = json.loads(r.stdout)
    assert all(row["seeds"] == 6 for row in rows)  # the summary covers both runs


def test_ctrl_c_ends_the_sweep_with_130_and_keeps_finished_tasks(tmp_path):
    out = tmp_path / "res"
    p = subprocess.Popen([sys.executable, "-m", "prunescale.cli", "sim", *SWEEP, "--seeds", "10",
                          "--task-students", "1", "--workers", "1", "--out", str(out)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
                         start_new_session=True)
    try:
        _wait_for(lambda: len(store.finished_tasks(out)) >= 2, 300, "the first tasks")
        os.killpg(p.pid, signal.SIGINT)  # what Ctrl-C at a terminal does: the whole group
        _, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
    assert p.returncode == 130
    assert err.rstrip().endswith("prunescale: interrupted") and "Traceback" not in err, err
    time.sleep(1)
    left = subprocess.run(["ps", "-o", "pid=,stat=", "-g", str(p.pid)], capture_output=True,
                          text=True).stdout.split("\n")
    assert not [x for x in left if x.strip() and "Z" not in x.split()[-1]]  # no worker left
    done = store.finished_tasks(out)
    assert 2 <= len(done) < 40 and len(load(out)) == len(done)
    assert not [n for n in os.listdir(out) if n.endswith(".tmp")]


def _affinity_after_pinning(_):
    from prunescale.sims import sweep

    sweep.pin_worker()
    return sorted(os.sched_getaffinity(0)), len(os.listdir("/proc/self/task"))


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs 2 cores and CPU affinity")
def test_embedded_workers_pin_themselves_to_distinct_cores():
    from distributed import Client

    from prunescale.sims import sweep

    cores = sorted(os.sched_getaffinity(0))
    with sweep.local_cluster(2) as cluster, Client(cluster) as client:
        addrs = sorted(client.scheduler_info()["workers"])
        seen = client.gather([client.submit(_affinity_after_pinning, a, workers=[a],
                                            pure=False) for a in addrs])
    affinities = [tuple(a) for a, _ in seen]
    assert sorted(affinities) == [(cores[0],), (cores[1],)], seen
    # outside a worker (and without the embedded cluster's environment) nothing is pinned
    assert sweep.pin_worker() is None and sorted(os.sched_getaffinity(0)) == cores
