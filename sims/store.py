"""Durable sweep results: one Parquet file per finished task, written atomically.

A results folder holds ``task-<id>.parquet`` files, one per finished task (a block of students
of one configuration at one ``N``), each with one row per student:

    rule, f, alpha_prune, alpha_tot, theta_deg, mode, gap_tol,
    learner, lam, noise, softness, metric, reweight, ...       (the configuration: CONFIG,
                                                                with the spiked model's snr,
                                                                probe, alpha_ssl)
    n, seed, student                                           (which student)
    eps, eps_noisy, R, S, kappa, Q, gap, flagged               (its certified measurements;
                                                                kappa: max-margin only,
                                                                Q = |w|^2/N: regularized only)
    seconds, version, task                                     (task time / students, code, id)

A file appears only complete (temporary name in the same folder, ``fsync``, ``os.replace``,
mode ``0o666 & ~umask``): a crash loses at most the tasks in flight, never leaves a half file
under a final name. A file
that is damaged anyway (a truncated copy) is renamed ``task-<id>.parquet.damaged`` with a
warning when met, and its task counts as not done. :func:`load` reads the folder as a pandas
``DataFrame`` (or, aggregated, an xarray ``Dataset`` of per-configuration means and standard errors of the mean over the
unflagged students, ``sem = std(ddof=1) / sqrt(k)``). pandas, pyarrow and xarray are imported
only here, on use (the ``sweep`` extra).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from prunescale import _files as _files_mod
from prunescale.errors import InputError

__all__ = ["clean_stale_temporaries", "finished_tasks", "load", "read_task", "read_task_or_none",
           "set_aside", "stored_keys", "summarize", "task_path", "to_dataset", "write_task"]

#: the configuration columns; with ``n`` they label one point of a sweep
CONFIG = ("rule", "f", "alpha_prune", "alpha_tot", "theta_deg", "mode", "gap_tol", "learner",
          "lam", "noise", "softness", "metric", "reweight", "power_exp", "probe_scale",
          "random_share", "labels", "snr", "probe", "alpha_ssl", "prototype_method",
          "prototype_source", "spectrum", "teacher_decay")
#: values of the selection columns in files written before selection policies (and the
#: spiked model: ``snr``, ``probe``, ``alpha_ssl``, 0 meaning ``alpha_tot``) existed
POLICY_DEFAULTS = {"softness": 0.0, "metric": "abs", "reweight": False, "power_exp": 0.0,
                   "probe_scale": 1.0, "random_share": 0.0, "labels": "", "snr": 0.0,
                   "probe": "fixed", "alpha_ssl": 0.0, "prototype_method": "eigen",
                   "prototype_source": "independent", "spectrum": "", "teacher_decay": ""}
#: the measured columns, one value per student
MEASURED = ("eps", "eps_noisy", "R", "S", "kappa", "Q", "gap", "probe_deg")
#: the measured quantities averaged per configuration
AVERAGED = ("eps", "eps_noisy", "R", "S", "kappa", "Q", "probe_deg")
#: measured columns added later: files written before them read as NaN (not measured)
MEASURED_DEFAULTS = {"probe_deg": float("nan")}
#: every column of a task file, in order
COLUMNS = CONFIG + ("n", "seed", "student") + MEASURED + ("flagged", "seconds", "version",
                                                         "task")
#: one student: its configuration, N, base seed, index and the code version
ROW_KEY = CONFIG + ("n", "seed", "student", "version")

_FILE = re.compile(r"^task-([0-9a-f]{16,64})\.parquet$")
_TMP = re.compile(r"^\.task-[0-9a-f]{16,64}\.parquet\.pid(\d+)\.[^/]*\.tmp$")


def task_path(folder, task_id: str) -> Path:
    return Path(folder) / f"task-{task_id}.parquet"


def finished_tasks(folder) -> set[str]:
    """Ids of the tasks whose file is in ``folder`` (an absent folder has none).

    A file whose Parquet footer cannot be read (truncated or damaged, for example by a disk
    that filled up or a copy cut short) is set aside (:func:`set_aside`) with a warning and is
    not counted: a rerun of the sweep recomputes its task."""
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return set()
    out = set()
    for name in names:
        m = _FILE.match(name)
        if m and _readable(Path(folder) / name):
            out.add(m.group(1))
    return out


#: suffix of a damaged task file set aside (no longer matched as a finished task)
DAMAGED = ".damaged"
#: ``(path, size, mtime_ns)`` of task files whose footer was read (files are never rewritten
#: in place: a new version is a new inode, size and time)
_CHECKED: set = set()


def _readable(path: Path) -> bool:
    """Whether the task file ``path`` has a readable Parquet footer (else it is set aside)."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return False
    key = (str(path), st.st_size, st.st_mtime_ns, st.st_ino)
    if key in _CHECKED:
        return True
    import pyarrow.parquet as pq

    try:
        pq.read_metadata(path)
    except FileNotFoundError:
        return False
    except Exception as exc:  # pyarrow.ArrowException, OSError: damaged or truncated
        set_aside(path, exc)
        return False
    _CHECKED.add(key)
    return True


def set_aside(path, reason) -> Path | None:
    """Rename a damaged task file to ``<name>.damaged`` (replacing an earlier one) and warn on
    stderr naming it; its task then counts as not done and a rerun recomputes it."""
    import sys

    path = Path(path)
    target = path.with_name(path.name + DAMAGED)
    why = " ".join(str(reason).split())[:200] or type(reason).__name__
    try:
        os.replace(path, target)
    except FileNotFoundError:
        return None
    except OSError as exc:
        print(f"prunescale: warning: damaged task file {str(path)!r} ({why}) could not be set "
              f"aside ({exc.strerror or exc}); it is skipped", file=sys.stderr)
        return None
    print(f"prunescale: warning: damaged task file {str(path)!r} ({why}) set aside as "
          f"{target.name!r}; rerun the sweep to recompute its students", file=sys.stderr)
    return target


def read_task_or_none(path, columns=None):
    """:func:`read_task`, or ``None`` (the file set aside, with a warning) if it is damaged."""
    try:
        return read_task(path, columns)
    except FileNotFoundError:
        return None
    except Exception as exc:  # pyarrow.ArrowException, OSError: a damaged file
        set_aside(path, exc)
        return None


def clean_stale_temporaries(folder) -> int:
    """Remove the temporary task files of writers that died mid-write (pid no longer
    running); return how many. Temporaries of live processes (another sweep writing) are
    kept."""
    return _files_mod.clean_stale_temporaries(folder, _TMP)


def _files(folder) -> list[Path]:
    return sorted(task_path(folder, t) for t in finished_tasks(folder))


def write_task(folder, task_id: str, columns: dict) -> Path:
    """Write one task's rows (``columns``: name -> sequence, see :data:`COLUMNS`; a measured
    column of :data:`MEASURED_DEFAULTS` not given is written as NaN) atomically.

    The temporary file carries the writer's pid (``.task-<id>.parquet.pid<pid>.*.tmp``, the
    pattern :func:`clean_stale_temporaries` removes once the writer is dead).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = task_path(folder, task_id)
    rows = len(columns["task"])
    columns = {**{k: [v] * rows for k, v in MEASURED_DEFAULTS.items()}, **columns}
    table = pa.table({k: columns[k] for k in COLUMNS})
    return _files_mod.atomic_write(path, lambda fh: pq.write_table(table, fh), sync_dir=True)


def read_task(path, columns=None):
    """A task file as a pyarrow ``Table`` (all columns, or ``columns``); a file written before
    selection policies existed gets their default columns (:data:`POLICY_DEFAULTS`), one
    written before a measured column existed gets NaN there (:data:`MEASURED_DEFAULTS`)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = pq.read_schema(path).names
    want = list(COLUMNS) if columns is None else list(columns)
    t = pq.read_table(path, columns=[c for c in want if c in names] if columns else None)
    for c, v in {**POLICY_DEFAULTS, **MEASURED_DEFAULTS}.items():
        if c in want and c not in t.column_names:
            t = t.append_column(c, pa.array([v] * t.num_rows))
    return t


def stored_keys(folder) -> set[tuple]:
    """The :data:`ROW_KEY` of every stored student (to skip students already computed)."""
    files = _files(folder)
    if not files:
        return set()
    out = set()
    for p in files:
        t = read_task_or_none(p, columns=ROW_KEY)
        if t is not None:
            t = t.to_pydict()
            out.update(zip(*(t[k] for k in ROW_KEY)))
    return out


def load(folder, aggregate: bool = False):
    """The students stored in ``folder``: a pandas ``DataFrame``, one row per student.

    With ``aggregate=True``, an xarray ``Dataset`` of ``eps_mean, eps_sem, R_mean, R_sem, ...``,
    ``students`` (unflagged students averaged), ``n_flagged`` and ``max_gap`` (see
    :func:`to_dataset`): one dimension per configuration field that takes several values in
    the folder, and ``n``; combinations not simulated are NaN. Students of every base seed and
    code version are pooled.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{str(folder)!r} is not a folder of sweep results")
    files = _files(folder)
    if not files:
        raise InputError(f"{str(folder)!r} holds no sweep results (no task-*.parquet files)")
    import pandas as pd

    tables = [t for t in map(read_task_or_none, files) if t is not None]
    if not tables:
        raise InputError(f"{str(folder)!r} holds no readable sweep results (every task file "
                         "was damaged and set aside)")
    df = pd.concat([t.to_pandas() for t in tables], ignore_index=True)
    df = df.sort_values(list(CONFIG) + ["n", "seed", "student"], ignore_index=True)
    return to_dataset(summarize(df)) if aggregate else df


def summarize(df):
    """Per-configuration statistics of a student table (flagged students excluded from the
    means): one row per ``CONFIG + (n,)`` with ``students, n_flagged, max_gap`` and
    ``<q>_mean, <q>_sem`` for ``q`` in :data:`AVERAGED` (``sem`` NaN below 2 students)."""
    import numpy as np
    import pandas as pd

    keys = list(CONFIG) + ["n"]
    rows = []
    for key, g in df.groupby(keys, sort=True, dropna=False):
        ok = g[~g["flagged"].astype(bool)]
        k = len(ok)
        row = dict(zip(keys, key))
        row.update(students=k, n_flagged=int(len(g) - k),
                   max_gap=float(g["gap"].max()) if len(g) else float("nan"))
        for q in AVERAGED:
            v = ok[q].to_numpy(dtype=float)
            row[f"{q}_mean"] = float(v.mean()) if k else float("nan")
            row[f"{q}_sem"] = float(v.std(ddof=1) / np.sqrt(k)) if k >= 2 else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)


def to_dataset(summary):
    """xarray ``Dataset`` of :func:`summarize`'s table.

    Its dimensions are ``n`` and the configuration fields (``rule, learner, f, alpha_prune,
    theta_deg, lam, noise, softness, metric, reweight, power_exp, probe_scale, random_share,
    labels, snr, probe, alpha_ssl, spectrum, teacher_decay``)
    that take more than one value; a field
    with a single value is kept as a scalar coordinate (``ds.rule``, ``ds.attrs`` untouched), so
    a sweep over ``f`` and ``n`` is a two-dimensional dataset. Refuses a table mixing modes or
    gap tolerances (select one first)."""
    for col in ("mode", "gap_tol"):
        if summary[col].nunique() > 1:
            raise InputError(f"the results mix several {col} values "
                             f"({', '.join(map(str, sorted(summary[col].unique())))}); "
                             "select one before aggregating")
    dims = ["rule", "learner", "f", "alpha_prune", "theta_deg", "lam", "noise", "softness",
            "metric", "reweight", "power_exp", "probe_scale", "random_share", "labels", "snr",
            "probe", "alpha_ssl", "spectrum", "teacher_decay", "n"]
    ds = summary.drop(columns=["mode", "gap_tol"]).set_index(dims).to_xarray()
    single = [d for d in dims if d != "n" and ds.sizes[d] == 1]
    return ds.squeeze(single)
