"""The main job: draw every figure (``prunescale figures``)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from prunescale.figures import (fig_frontier, fig_imperfect, fig_learning_curves, fig_parity,
                     fig_phase_diagram)
from prunescale.figures._data import Progress
from prunescale.figures._store import _atomic_write
from prunescale.errors import InputError

MODULES = (fig_learning_curves, fig_frontier, fig_phase_diagram, fig_imperfect, fig_parity)


def check_out(out) -> Path:
    """Validate the output folder (created if missing); one-line ``ValueError`` otherwise."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {str(out)!r} exists and is not a folder; give a folder path")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".prunescale-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise InputError(f"--out {str(out)!r} is not a writable folder ({exc.strerror})") from None
    return out


def run_all(out="prunescale-figures", full: bool = False) -> dict:
    """Draw all figures into ``out``; return a summary (also written to ``summary.json``)."""
    out = check_out(out)
    quick = not full
    t0 = time.perf_counter()
    progress = Progress(sum(m.n_steps(quick) for m in MODULES))
    results = {m.NAME: m.main(quick=quick, out=out, progress=progress) for m in MODULES}
    summary = {
        "mode": "quick" if quick else "full",
        "seconds": round(time.perf_counter() - t0, 1),
        "figures": {k: [str(p) for p in v["paths"]] for k, v in results.items()},
        "frontier_theta0": results[fig_frontier.NAME]["rates"],
        "f_min": {str(k): {"f_min": v[0], "alpha_prune": v[1], "at_search_edge": v[2]}
                  for k, v in results[fig_imperfect.NAME]["f_min"].items()},
        "parity_median_abs_z": float(np.median(np.abs(results[fig_parity.NAME]["z"]))),
        "parity_max_abs_z": float(np.max(np.abs(results[fig_parity.NAME]["z"]))),
    }
    text = json.dumps(summary, indent=2)
    _atomic_write(out / "summary.json", lambda fh: fh.write(text.encode()))
    return summary
