"""The main job: draw every figure (``prunescale figures``)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from prunescale.figures import (FIGURES, fig_frontier, fig_imperfect, fig_label_noise,
                                fig_learning_curves, fig_parity, fig_phase_diagram,
                                fig_policies, fig_selection, fig_spectrum, fig_ssl)
from prunescale._progress import Progress
from prunescale._files import atomic_write
from prunescale.figures._store import clean_stale_temporaries
from prunescale.errors import InputError

MODULES = (fig_learning_curves, fig_frontier, fig_phase_diagram, fig_imperfect, fig_parity,
           fig_label_noise, fig_selection, fig_policies, fig_ssl, fig_spectrum)


def check_out(out) -> Path:
    """Validate the output folder (created if missing); one-line ``ValueError`` otherwise."""
    if not str(out).strip():
        raise InputError("--out is empty; give a folder path (for example prunescale-figures)")
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


#: names accepted by ``--only``: ``fig1`` ... ``fig10``, the names of
#: :data:`prunescale.figures.FIGURES` (``frontier``, ...) and the full file names
SHORT = {m.NAME.split("_", 1)[0]: m.NAME for m in MODULES}
ALIASES = {**SHORT, **{m.__name__.rsplit(".", 1)[1].removeprefix("fig_"): m.NAME for m in MODULES},
           **{m.NAME: m.NAME for m in MODULES}}


def select(only) -> tuple:
    """The figure modules named in ``only`` (``None``: all), in their usual order."""
    if only is None:
        return MODULES
    if not only:
        raise InputError("--only is empty; give figure names, for example fig2,fig3")
    unknown = [x for x in only if x not in ALIASES]
    if unknown:
        raise InputError(f"--only: unknown figure {unknown[0]!r}; choose from "
                         + ", ".join(SHORT) + " or " + ", ".join(FIGURES))
    names = {ALIASES[x] for x in only}
    return tuple(m for m in MODULES if m.NAME in names)


def run_all(out="prunescale-figures", full: bool = False, only=None) -> dict:
    """Draw the figures (all, or those named in ``only``) into ``out``; return a summary
    (also written to ``summary.json``, merged with the figures of earlier runs)."""
    modules = select(only)
    out = check_out(out)
    for folder in (out, out / ".cache"):
        if folder.is_dir():
            clean_stale_temporaries(folder)
    quick = not full
    t0 = time.perf_counter()
    progress = Progress(sum(m.n_steps(quick) for m in modules))
    results = {m.NAME: m.main(quick=quick, out=out, progress=progress) for m in modules}
    summary = {
        "mode": "quick" if quick else "full",
        "seconds": round(time.perf_counter() - t0, 1),
        "figures": {k: [str(p) for p in v["paths"]] for k, v in results.items()},
        "certification": {k: {c: v[c] for c in ("n_uncertified", "n_flagged",
                                                 "theory_converged")}
                          for k, v in results.items()},
    }
    if fig_frontier.NAME in results:
        summary["frontier_theta0"] = results[fig_frontier.NAME]["rates"]
    if fig_imperfect.NAME in results:
        summary["f_min"] = {str(k): {"f_min": v[0], "alpha_prune": v[1], "at_search_edge": v[2]}
                            for k, v in results[fig_imperfect.NAME]["f_min"].items()}
    if fig_parity.NAME in results:
        z = np.abs(results[fig_parity.NAME]["z"])
        summary["parity_median_abs_z"] = float(np.nanmedian(z))
        summary["parity_max_abs_z"] = float(np.nanmax(z))
    if fig_label_noise.NAME in results:
        r = results[fig_label_noise.NAME]
        summary["label_noise"] = {
            **_abs_z_stats(r["z"]),
            "boundary_noise": r["config"]["phase_noise"],
            "boundary_alpha_tot": [None if not np.isfinite(b) else float(b)
                                   for b in r["phase"]["boundary"]]}
    if fig_selection.NAME in results:
        r = results[fig_selection.NAME]
        summary["selection"] = {**_abs_z_stats(r["z"]), "winner_share": r["winner_share"]}
    if fig_policies.NAME in results:
        r = results[fig_policies.NAME]
        summary["policies"] = {**_abs_z_stats(r["z"]), **r["answers"]}
    if fig_ssl.NAME in results:
        r = results[fig_ssl.NAME]
        summary["ssl"] = {**_abs_z_stats(r["z"]), **r["answers"]}
    if fig_spectrum.NAME in results:
        r = results[fig_spectrum.NAME]
        summary["spectrum"] = {**_abs_z_stats(r["z"]), **r["answers"]}
    summary["drawn"] = list(results)
    previous = _previous_summary(out / "summary.json")
    if previous.get("mode") == summary["mode"]:  # --only: keep the other figures' entries
        for key in ("figures", "certification"):
            summary[key] = {**previous.get(key, {}), **summary[key]}
        summary = {**{k: v for k, v in previous.items() if k != "drawn"}, **summary}
    text = json.dumps(summary, indent=2)
    atomic_write(out / "summary.json", lambda fh: fh.write(text.encode()))
    return summary


def _abs_z_stats(z) -> dict:
    """Median and largest ``|z|`` of a figure's simulation markers (``None`` without any)."""
    z = np.abs(np.asarray(z, float))
    return {"median_abs_z": float(np.nanmedian(z)) if z.size else None,
            "max_abs_z": float(np.nanmax(z)) if z.size else None}


def _previous_summary(path: Path) -> dict:
    """The summary of an earlier run in the same folder (empty if none or unreadable)."""
    try:
        previous = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return previous if isinstance(previous, dict) else {}
