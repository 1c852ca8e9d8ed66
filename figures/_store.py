"""Durable, configuration-keyed storage of the data behind the figures.

* :func:`cached`: results are stored as ``.npz`` files named by a hash of their configuration
  and of the source code that computes them (:func:`code_fingerprint`); a rerun with the same configuration loads them, a
  changed configuration computes only what changed, and an interrupted run resumes from
  every item already stored. Files are written to a temporary name and renamed into place
  (atomic on POSIX), so a killed run never leaves a torn file; a file whose stored
  configuration differs from the requested one (or that cannot be read) is recomputed.
* :func:`certification`: the counts every figure reports (uncertified theory points, flagged
  students) and the z-scores of its simulations against the theory.
* :func:`write_table`: a tidy CSV whose header lines (``# key: value``) record the
  configuration, written atomically as well.
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path

import numpy as np

from prunescale import __version__, _files
from prunescale.errors import InputError


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """Hash of the source of the code that computes the numbers (:mod:`prunescale.theory`,
    :mod:`prunescale.sims`, :mod:`prunescale.figures`) and the version: any change to it
    invalidates every cached result, with no version to bump by hand."""
    import prunescale.figures
    import prunescale.sims
    import prunescale.theory

    h = hashlib.sha256(__version__.encode())
    for pkg in (prunescale.theory, prunescale.sims, prunescale.figures):
        root = Path(pkg.__file__).parent
        for src in sorted(root.rglob("*.py")):  # subpackages too
            h.update(src.relative_to(root).as_posix().encode())
            h.update(src.read_bytes())
    return h.hexdigest()[:16]


def config_key(config: dict) -> str:
    """Stable hash of a JSON-serialisable configuration and the :func:`code_fingerprint`."""
    blob = json.dumps({**config, "code": code_fingerprint()}, sort_keys=True, default=float)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def clean_stale_temporaries(folder) -> int:
    """Remove temporary files left in ``folder`` by writers that no longer run (a killed
    run); return how many were removed. Files of live processes are left alone."""
    return _files.clean_stale_temporaries(folder)


def cached(cache_dir, name: str, config: dict, compute) -> dict:
    """Return ``compute()`` (a dict of arrays) for ``config``, from the cache when present."""
    cache_dir = Path(cache_dir)
    full = {**config, "version": __version__, "code": code_fingerprint()}
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
    _files.atomic_write(path, lambda fh: np.savez(fh, __config__=np.asarray(blob), **data))
    return data


def certification(n_uncertified, sims, flagged=None, mean="eps_mean", theory="eps_theory",
                  sem="eps_sem") -> tuple[dict, np.ndarray]:
    """The counts a figure reports and the z-scores of its simulated points.

    Returns ``(counts, z)``: ``counts`` holds ``n_uncertified`` (as given: the theory numbers
    drawn that are not certified), ``n_flagged`` (students flagged in ``flagged``, default
    ``sims``) and ``theory_converged`` (every point of ``sims`` has a certified theory
    value); ``z`` holds ``(mean - theory) / sem`` of each point of ``sims`` with a certified
    theory value and a positive ``sem``, in order.
    """
    counts = {"n_uncertified": int(n_uncertified),
              "n_flagged": int(sum(p["n_flagged"] for p in (sims if flagged is None else flagged))),
              "theory_converged": bool(all(p["theory_converged"] for p in sims))}
    z = [(p[mean] - p[theory]) / p[sem] for p in sims if p["theory_converged"] and p[sem] > 0]
    return counts, np.asarray(z)


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
    _files.atomic_write(path, lambda fh: fh.write(text.encode()))
