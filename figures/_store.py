"""Durable, configuration-keyed storage of the data behind the figures.

* :func:`cached`: results are stored as ``.npz`` files named by a hash of their configuration
  (which includes the package version); a rerun with the same configuration loads them, a
  changed configuration computes only what changed, and an interrupted run resumes from
  every item already stored. Files are written to a temporary name and renamed into place
  (atomic on POSIX), so a killed run never leaves a torn file; a file whose stored
  configuration differs from the requested one (or that cannot be read) is recomputed.
* :func:`write_table`: a tidy CSV whose header lines (``# key: value``) record the
  configuration, written atomically as well.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from prunescale import __version__
from prunescale.errors import InputError


def config_key(config: dict) -> str:
    """Stable hash of a JSON-serialisable configuration (version included)."""
    blob = json.dumps({**config, "version": __version__}, sort_keys=True, default=float)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def _atomic_write(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def cached(cache_dir, name: str, config: dict, compute) -> dict:
    """Return ``compute()`` (a dict of arrays) for ``config``, from the cache when present."""
    cache_dir = Path(cache_dir)
    full = {**config, "version": __version__}
    path = cache_dir / f"{name}-{config_key(config)}.npz"
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as z:
                if json.loads(str(z["__config__"])) == json.loads(json.dumps(full, default=float)):
                    return {k: z[k] for k in z.files if k != "__config__"}
        except (OSError, ValueError, KeyError, json.JSONDecodeError):
            pass  # unreadable or foreign: recompute
    data = {k: np.asarray(v) for k, v in compute().items()}
    blob = json.dumps(full, sort_keys=True, default=float)
    _atomic_write(path, lambda fh: np.savez(fh, __config__=np.asarray(blob), **data))
    return data


def write_table(path, columns: dict, config: dict) -> None:
    """Write a tidy CSV: one row per entry of the (equal-length) ``columns``."""
    path = Path(path)
    names = list(columns)
    cols = [np.asarray(columns[k]).ravel() for k in names]
    n = len(cols[0])
    if any(len(c) != n for c in cols):
        raise InputError("all columns of a table must have the same length")
    lines = [f"# {k}: {json.dumps(v, default=float)}" for k, v in
             {**config, "prunescale_version": __version__}.items()]
    lines.append(",".join(names))
    for i in range(n):
        row = []
        for c in cols:
            v = c[i]
            row.append(repr(float(v)) if isinstance(v, (float, np.floating)) else str(v))
        lines.append(",".join(row))
    text = "\n".join(lines) + "\n"
    _atomic_write(path, lambda fh: fh.write(text.encode()))
