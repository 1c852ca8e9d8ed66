"""Sweeps: every (configuration, N, block of students) is one task, run on Dask or in-process.

A :class:`Task` is a block of students ``i`` (key ``fold_in(key(seed), i)``, as in
:func:`prunescale.sims.simulate`) of one :class:`Config` at one ``N``. Its identity
:attr:`Task.id` is a SHA-256 of the configuration, ``N``, the student indices, the base seed
and the code version, so a rerun of the same sweep recognises its finished tasks (one file
each in the results folder, :mod:`prunescale.sims.store`) and never recomputes or re-stores
them. Students do not depend on the block they run in (the simulator's fixed block shape),
so splitting a sweep into tasks changes no number beyond floating-point reassociation.

Tasks run on a ``dask.distributed`` cluster (an embedded ``LocalCluster`` of single-threaded
worker processes, or an existing scheduler) or, for small jobs, in this process. Results are
written by this (the client) process only, as each task completes; a task lost with a worker
is rerun by Dask on another one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import sys
import time
from typing import Callable, Iterable, Sequence

from prunescale import __version__

__all__ = ["Config", "SweepReport", "Task", "check_scheduler", "connect", "default_workers",
           "enable_compile_cache", "local_cluster", "pending", "pin_worker", "plan", "run",
           "run_task"]

#: students per task by default: two blocks of the simulator's compiled shape (8 students);
#: at N = 200 a task takes about a second, far above Dask's per-task cost (~ms)
TASK_STUDENTS = 16

#: environment of the embedded cluster's workers: one BLAS/Eigen thread each, and
#: :data:`PIN_ENV` so that each worker pins itself to one core (:func:`pin_worker`): K worker
#: processes then use K cores instead of competing for all of them
PIN_ENV = "PRUNESCALE_PIN_CORE"
WORKER_ENV = {"XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
              "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              PIN_ENV: "1"}

_PINNED = False


def pin_worker() -> int | None:
    """Pin this Dask worker process, every thread of it, to one core; return the core.

    Only in the embedded cluster (``PRUNESCALE_PIN_CORE=1``): worker ``i`` (its name) takes the
    ``i``-th core this process may use (modulo their number). JAX's CPU runtime runs one
    program on several threads whatever ``XLA_FLAGS`` say (measured: a single process keeps
    both cores of a 2-core machine ~90 % busy), so unpinned workers only compete: 2 workers
    ran a sweep 1.01x faster than 1. Called by :func:`run_task` before JAX is imported, so the
    runtime's thread pools inherit the affinity. Best effort: any failure leaves it unpinned.
    """
    global _PINNED
    if _PINNED or os.environ.get(PIN_ENV) != "1" or not hasattr(os, "sched_setaffinity"):
        return None
    _PINNED = True
    try:
        from distributed import get_worker

        cpus = sorted(os.sched_getaffinity(0))
        cpu = cpus[int(get_worker().name) % len(cpus)]
        for tid in os.listdir("/proc/self/task"):
            try:
                os.sched_setaffinity(int(tid), {cpu})
            except OSError:
                pass
        return cpu
    except Exception:  # not in a worker, a non-integer name, no /proc: stay unpinned
        return None


@dataclasses.dataclass(frozen=True)
class Config:
    """One simulated configuration: a model point (:class:`prunescale.model.Model`, flat:
    every one of its :data:`~prunescale.model.FIELDS` is a field here, so it is a column of
    the stored table), the loads (``alpha_prune = f alpha_tot``), the sampling ``mode`` and
    ``gap_tol``, the flagging threshold of the learner's certificate (``tol`` of
    :func:`prunescale.sims.simulate`). ``lam`` is 0 for max-margin.
    """

    rule: str
    f: float
    alpha_prune: float
    alpha_tot: float
    theta_deg: float = 0.0
    mode: str = "pool"
    gap_tol: float = 1e-6
    learner: str = "max-margin"
    lam: float = 0.0      # the ridge penalty of hinge, logistic and ridge; 0 for max-margin
    noise: float = 0.0    # label-flip probability
    softness: float = 0.0  # selection policy (docs/erm.md section 7); 0, abs: the sharp rule
    metric: str = "abs"
    reweight: bool = False
    power_exp: float = 0.0     # the power policy (rule power); 0 elsewhere
    probe_scale: float = 1.0   # the power policy's B; 1 elsewhere
    random_share: float = 0.0  # a mixed hard/easy policy's R; 0 elsewhere
    labels: str = ""           # a label channel other than a flip (prunescale.theory.labels)
    snr: float = 0.0           # spike S of the input covariance I + S u u^T
    probe: str = "fixed"       # fixed (theta_deg) or prototype
    alpha_ssl: float = 0.0     # the prototype's unlabeled sample per dimension; 0: alpha_tot
    prototype_method: str = "eigen"         # the prototype: top eigenvector or 2-means
    prototype_source: str = "independent"   # of an independent sample or of the pool
    spectrum: str = ""         # the input covariance's spectrum (power:A:D, file:PATH, or
    #                            power:A: D = N of each task); "": isotropic
    teacher_decay: str = ""    # B as text; "": a teacher isotropic in input space

    def key(self) -> tuple:
        return dataclasses.astuple(self)

    @property
    def model(self):
        """The :class:`prunescale.model.Model` of this configuration (a spectrum ``power:A``
        without ``D`` needs the dimension: :meth:`model_at`)."""
        return self.model_at(None)

    def model_at(self, n: int | None):
        """The :class:`prunescale.model.Model` of this configuration at dimension ``N = n``:
        a spectrum written ``power:A`` (no ``D``) is ``power:A:N`` there
        (:func:`prunescale.sims.spectrum.at_dim`); any other spectrum is unchanged."""
        from prunescale.model import FIELDS, Model
        from prunescale.sims.spectrum import at_dim

        d = {k: getattr(self, k) for k in FIELDS}
        d["alpha_ssl"] = d["alpha_ssl"] or None  # stored as 0: the default (alpha_tot)
        d["spectrum"] = (d["spectrum"] if n is None else at_dim(d["spectrum"], n)) or None
        d["teacher_decay"] = float(d["teacher_decay"]) if d["teacher_decay"] else None
        return Model.from_fields(**d)

    @classmethod
    def of(cls, model, alpha_prune: float, alpha_tot: float, mode: str = "pool",
           gap_tol: float = 1e-6) -> "Config":
        """The configuration of ``model`` at these loads."""
        d = model.fields()
        d["lam"] = 0.0 if d["lam"] is None else d["lam"]
        d["labels"] = "" if d["labels"] is None else d["labels"]
        d["alpha_ssl"] = 0.0 if d["alpha_ssl"] is None else float(d["alpha_ssl"])
        d["spectrum"] = d["spectrum"] or ""
        d["teacher_decay"] = "" if d["teacher_decay"] is None else repr(d["teacher_decay"])
        return cls(alpha_prune=float(alpha_prune), alpha_tot=float(alpha_tot), mode=mode,
                   gap_tol=float(gap_tol), **d)

    def ident(self) -> list:
        """What a task id hashes: :meth:`key`, without the policy-family fields
        (``power_exp, probe_scale, random_share``) when they are the defaults and there is no
        label channel (``labels = ""``), and then without
        the selection fields when they are the defaults too (so that sweeps stored before
        policies and families existed keep their task ids). The spiked model's fields
        (``snr, probe, alpha_ssl``) and the prototype's simulation options
        (``prototype_method, prototype_source``) are left out at their defaults (isotropic,
        fixed probe; eigenvector of an independent sample), and so are the spectrum's
        (``spectrum, teacher_decay``; isotropic inputs)."""
        k = list(self.key())
        if (self.spectrum, self.teacher_decay) != ("", ""):
            return k
        k = k[:-2]
        if (self.prototype_method, self.prototype_source) != ("eigen", "independent"):
            return k
        k = k[:-2]
        if (self.snr, self.probe, self.alpha_ssl) != (0.0, "fixed", 0.0):
            return k
        k = k[:-3]
        if self.labels == "":  # the flip channel (noise): no labels field
            k = k[:-1]
        else:
            return k
        if (self.power_exp, self.probe_scale, self.random_share) == (0.0, 1.0, 0.0):
            k = k[:-3]
            if (self.softness, self.metric, self.reweight) == (0.0, "abs", False):
                k = k[:-3]
        return k


@dataclasses.dataclass(frozen=True)
class Task:
    """Students ``students`` (indices) of ``config`` at dimension ``n``, base seed ``seed``."""

    config: Config
    n: int
    seed: int
    students: tuple[int, ...]
    version: str = __version__

    @property
    def id(self) -> str:
        """SHA-256 (first 16 bytes, hex) of configuration, N, students, seed and version."""
        ident = [self.config.ident(), int(self.n), int(self.seed),
                 [int(s) for s in self.students], self.version]
        text = json.dumps(ident, separators=(",", ":"), allow_nan=False)
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def row_keys(self) -> list[tuple]:
        """The :data:`prunescale.sims.store.ROW_KEY` of each of its students."""
        return [self.config.key() + (self.n, self.seed, s, self.version) for s in self.students]


def plan(configs: Iterable[Config], ns: Sequence[int], students: int, seed: int,
         task_students: int = TASK_STUDENTS) -> list[Task]:
    """Tasks for ``students`` students (``0..students-1``) of every configuration and N, in
    blocks of ``task_students`` (the last block shorter)."""
    tasks = []
    for cfg in configs:
        for n in ns:
            for lo in range(0, students, task_students):
                block = tuple(range(lo, min(lo + task_students, students)))
                tasks.append(Task(cfg, int(n), int(seed), block))
    return tasks


def pending(tasks: Sequence[Task], out=None) -> tuple[list[Task], int]:
    """``(tasks still to run, number of students already stored)`` for results folder ``out``.

    A task whose file exists is done. If the folder holds some of a task's students under
    other tasks (a rerun with another ``--task-students``), only its missing students run,
    so no student is ever stored twice.
    """
    if out is None:
        return list(tasks), 0
    from prunescale.sims import store

    store.clean_stale_temporaries(out)
    done_ids = store.finished_tasks(out)
    todo = [t for t in tasks if t.id not in done_ids]
    skipped = sum(len(t.students) for t in tasks if t.id in done_ids)
    if todo and done_ids:
        have = store.stored_keys(out)
        kept = []
        for t in todo:
            missing = tuple(s for s, k in zip(t.students, t.row_keys()) if k not in have)
            skipped += len(t.students) - len(missing)
            if missing:
                kept.append(dataclasses.replace(t, students=missing))
        todo = kept
    return todo, skipped


_CACHE_READY = False


def enable_compile_cache() -> None:
    """Persist XLA compilations across runs and processes (``$PRUNESCALE_CACHE`` or
    ``~/.cache/prunescale/jax``; ``PRUNESCALE_CACHE=""`` disables it)."""
    global _CACHE_READY
    if _CACHE_READY:
        return
    _CACHE_READY = True
    path = os.environ.get("PRUNESCALE_CACHE")
    if path is None:
        path = os.path.join(os.path.expanduser("~"), ".cache", "prunescale", "jax")
    if not path:
        return
    try:
        import jax

        jax.config.update("jax_compilation_cache_dir", path)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    except Exception:  # the cache is an optimisation only
        pass


def run_task(task: Task, chunk: int | None = None, max_iter: int = 80) -> dict:
    """Simulate one task; return its columns (:data:`prunescale.sims.store.COLUMNS`) plus
    ``busy`` (seconds spent in this function), ``n_pool``, ``n_kept`` and ``id``."""
    t0 = time.perf_counter()
    pin_worker()
    enable_compile_cache()
    import numpy as np

    from prunescale import sims

    c = task.config
    k = len(task.students)
    proto = ({"prototype_method": c.prototype_method, "prototype_source": c.prototype_source}
             if c.probe == "prototype" else {})
    res = sims.simulate(c.model_at(task.n), alpha_prune=c.alpha_prune, alpha_tot=c.alpha_tot, n=task.n,
                        seeds=list(task.students), seed=task.seed, mode=c.mode, tol=c.gap_tol,
                        chunk=chunk, max_iter=max_iter if c.learner == "max-margin" else None,
                        progress=False, **proto)
    extra = dict(eps_noisy=res.eps_noisy, kappa=res.kappa, Q=res.Q)
    cols = {name: [value] * k for name, value in dataclasses.asdict(c).items()}
    cols.update(n=[task.n] * k, seed=[task.seed] * k,
                student=np.asarray(task.students, dtype=np.int64),
                eps=res.eps, R=res.R, S=res.S, gap=res.gap, probe_deg=res.probe_deg, **extra,
                flagged=np.asarray(res.flagged, dtype=bool),
                seconds=np.full(k, res.seconds / k), version=[task.version] * k,
                task=[task.id] * k)
    busy = time.perf_counter() - t0
    return {"columns": cols, "busy": busy, "n_pool": res.n_pool, "n_kept": res.n_kept,
            "id": task.id}


@dataclasses.dataclass
class SweepReport:
    """What :func:`run` did: results of the tasks it ran, failures, timings."""

    results: list = dataclasses.field(default_factory=list)
    failed: list = dataclasses.field(default_factory=list)  # (task, exception text)
    wall: float = 0.0          # seconds from the first submission to the last result
    workers: int = 0           # worker processes (0: in this process)


def run(tasks: Sequence[Task], *, out=None, scheduler: str | None = None,
        workers: int | None = None, in_process: bool = False, progress: bool = True,
        chunk: int | None = None, on_result: Callable[[Task, dict], None] | None = None
        ) -> SweepReport:
    """Run ``tasks``; write each finished one to results folder ``out`` (if given) at once.

    ``in_process``: run here, one after another (no cluster). Otherwise ``scheduler`` (an
    address such as ``tcp://host:8786``, or the JSON file of ``dask scheduler
    --scheduler-file``) or an embedded ``LocalCluster`` of ``workers``
    single-threaded processes (default: the cores this process may use). A task that raises
    is reported in :attr:`SweepReport.failed` and the others go on.
    """
    from prunescale.sims import store

    by_id = {t.id: t for t in tasks}
    rep = SweepReport()
    from prunescale._progress import Progress

    bar = Progress(len(by_id), label="sim", unit=" tasks") if progress and by_id else None

    def finish(task, res):
        if out is not None:
            store.write_task(out, task.id, res["columns"])
        rep.results.append(res)
        if on_result is not None:
            on_result(task, res)
        if bar is not None:
            c = task.config
            bar.step(f"({c.rule} f={c.f:g} a={c.alpha_prune:g} th={c.theta_deg:g} "
                     f"N={task.n})")

    if not by_id:
        return rep
    t0 = time.perf_counter()
    if in_process:
        for task in by_id.values():
            finish(task, run_task(task, chunk))
        rep.wall = time.perf_counter() - t0
        return rep

    from distributed import Client, as_completed

    cluster = None
    if scheduler is None:
        k = workers or default_workers()
        cluster = local_cluster(k)
        client = Client(cluster)
    else:
        client = connect(scheduler)
    futures = []
    try:
        rep.workers = len(client.scheduler_info(n_workers=-1)["workers"])
        t0 = time.perf_counter()
        futures = [client.submit(run_task, t, chunk, key=f"prunescale-sim-{tid}", pure=False,
                                 retries=0) for tid, t in by_id.items()]
        for fut in as_completed(futures):
            task = by_id[fut.key.removeprefix("prunescale-sim-")]
            if fut.status == "error":
                rep.failed.append((task, repr(fut.exception())))
                if bar is not None:
                    bar.step("failed")
            else:
                finish(task, fut.result())
            fut.release()
        rep.wall = time.perf_counter() - t0
    finally:
        # after an interrupt, the event loop's shutdown may log errors of its own (seen:
        # a NameError in distributed's sync() cancel callback): the user asked to stop, and
        # the command's one line "interrupted" is the whole message
        with _quiet_logs(sys.exc_info()[0] is not None):
            if futures:
                client.cancel(futures)
            client.close()
            if cluster is not None:
                cluster.close()
    return rep


@contextlib.contextmanager
def _quiet_logs(quiet: bool):
    """Silence the cluster's loggers (``distributed``, ``tornado``, ``asyncio``) inside the
    block when ``quiet``."""
    import logging

    names = ("distributed", "tornado", "asyncio")
    saved = [(lg, lg.level) for lg in map(logging.getLogger, names)] if quiet else []
    for lg, _ in saved:
        lg.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for lg, level in saved:
            lg.setLevel(level)


def check_scheduler(scheduler: str) -> None:
    """One-line :class:`~prunescale.errors.InputError` unless ``scheduler`` is an address or
    a readable ``dask scheduler --scheduler-file`` (a ``.json`` file with an ``address``)."""
    import json

    from prunescale.errors import InputError

    if not scheduler.strip():
        raise InputError("--scheduler is empty; give an address such as tcp://host:8786")
    if not scheduler.endswith(".json"):
        return
    what = f"--scheduler {scheduler!r}"
    try:
        with open(scheduler, encoding="utf-8") as fh:
            info = json.load(fh)
    except FileNotFoundError:
        raise InputError(f"{what}: no such scheduler file (the .json file written by 'dask "
                         "scheduler --scheduler-file'); or give an address tcp://host:port"
                         ) from None
    except OSError as exc:
        raise InputError(f"{what}: cannot read the scheduler file ({exc.strerror or exc})"
                         ) from None
    except ValueError as exc:
        raise InputError(f"{what}: the scheduler file is not valid JSON "
                         f"({str(exc).splitlines()[0]})") from None
    if not (isinstance(info, dict) and isinstance(info.get("address"), str)
            and info["address"].strip()):
        raise InputError(f"{what}: the scheduler file has no \"address\" (not written by "
                         "'dask scheduler --scheduler-file'?)")


def connect(scheduler: str):
    """A ``distributed.Client`` of the scheduler at ``scheduler`` (an address, or the JSON
    file of ``dask scheduler --scheduler-file``), waiting up to Dask's connect timeout
    (``distributed.comm.timeouts.connect``, 30 s by default); one-line
    :class:`~prunescale.errors.InputError` if it cannot be reached or parsed."""
    from distributed import Client

    from prunescale.errors import InputError

    check_scheduler(scheduler)
    try:
        if scheduler.endswith(".json"):  # dask scheduler --scheduler-file
            return Client(scheduler_file=scheduler)
        return Client(scheduler)
    except (OSError, ValueError, TypeError, AssertionError) as exc:
        msg = " ".join(str(exc).split()) or type(exc).__name__
        raise InputError(f"--scheduler {scheduler!r}: cannot connect to the Dask scheduler "
                         f"({msg[:300]})") from None


def local_cluster(workers: int):
    """An embedded ``LocalCluster`` of ``workers`` single-threaded worker processes
    (:data:`WORKER_ENV`), no dashboard, its HTTP endpoint on a free local port."""
    import logging

    from distributed import LocalCluster

    import signal
    import threading

    # Workers start with SIGINT ignored (an ignored signal stays ignored in a child, and
    # Python then installs no KeyboardInterrupt handler): Ctrl-C at a terminal reaches the
    # whole process group, and only this process should react, by closing the cluster.
    main = threading.current_thread() is threading.main_thread()
    old = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    try:
        return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                            host="127.0.0.1", dashboard_address=None,
                            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                            silence_logs=logging.ERROR, env=dict(WORKER_ENV))
    finally:
        if main:
            signal.signal(signal.SIGINT, old)


def default_workers() -> int:
    """Cores this process may use (the embedded cluster's default size)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)
