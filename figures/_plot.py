"""Shared plotting helpers: a consistent style, PNG + SVG output, no global side effects.

Figures are :class:`matplotlib.figure.Figure` objects drawn without pyplot, so importing or
running the figures never selects a backend or opens a window, and the style is applied only
inside :func:`render` (``matplotlib.rc_context``): the user's ``rcParams`` are untouched. SVGs
carry no date and use a fixed hash salt, so identical runs write identical files.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from prunescale._files import atomic_write


STYLE = {
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "legend.fontsize": 8,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "svg.hashsalt": "prunescale",  # reproducible clip-path ids
}

#: colour map of the easy-vs-hard phase diagram, shared with the app: positive
#: ``log10(eps_hard / eps_easy)`` (keep-easy wins) is blue, negative (keep-hard wins) red,
#: matching the rule colours (keep easy blue, keep hard red)
PHASE_CMAP = "RdBu"

#: metadata per format: no creation date, so identical runs give identical files
METADATA = {".png": {"Software": None}, ".svg": {"Date": None}}


def figure(ncols: int = 1, nrows: int = 1, width: float = 4.2, height: float = 3.4):
    """A pyplot-free figure and its flat list of axes (call inside :func:`render`'s style)."""
    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes.ravel()


def save(fig, out, name: str) -> list[Path]:
    """Save ``fig`` as ``name.png`` and ``name.svg`` in ``out``; return the paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{name}.png", out / f"{name}.svg"]
    for p in paths:  # atomic: concurrent runs never clash, readers never see a partial image
        atomic_write(p, lambda fh, p=p: fig.savefig(fh, format=p.suffix[1:],
                                                    metadata=METADATA.get(p.suffix)))
    return paths


def render(out, name: str, config: dict, draw) -> list[Path]:
    """Draw and save figure ``name`` unless it was already drawn from the same ``config``.

    ``draw()`` returns the matplotlib figure. A sidecar ``.name.key`` holding the hash of
    the configuration is written after both image files, so an interrupted save is redrawn.
    """
    from prunescale.figures._store import config_key

    out = Path(out)
    key = config_key({"figure": name, **config})
    paths = [out / f"{name}.png", out / f"{name}.svg"]
    stamp = out / f".{name}.key"
    if all(p.exists() for p in paths) and stamp.exists() and stamp.read_text() == key:
        return paths
    if stamp.exists():  # never replace a figure of another configuration silently
        lead = "\n" if sys.stderr.isatty() else ""  # after a progress bar drawn in place
        print(f"{lead}replacing {name} (drawn from another configuration or code version) "
              f"in {out}", file=sys.stderr)
    with matplotlib.rc_context(STYLE):
        paths = save(draw(), out, name)
    atomic_write(stamp, lambda fh: fh.write(key.encode()))
    return paths


def colors(n: int):
    cmap = matplotlib.colormaps["viridis"]
    return [cmap(x) for x in ([0.5] if n == 1 else [i / (n - 1) * 0.9 for i in range(n)])]


def mark_uncertified(ax, x, y, color="k", label="not certified") -> int:
    """Mark with an ``x`` on the bottom edge of ``ax`` each ``x`` whose value ``y`` is not
    finite (an uncertified theory point, left out of the line); return how many."""
    from matplotlib.transforms import blended_transform_factory

    bad = ~np.isfinite(np.asarray(y, float))
    if bad.any():
        ax.plot(np.asarray(x, float)[bad], np.full(int(bad.sum()), 0.03), "x", color=color,
                ms=5, clip_on=False, label=label,
                transform=blended_transform_factory(ax.transData, ax.transAxes))
    return int(bad.sum())


def winner_map(ax, x, y, best, names, colors, labels, blank) -> list:
    """Colour each point of the grid ``x`` by ``y`` of ``ax`` by its winner ``best`` (an index
    into ``names``; -1 where no winner is certified, drawn in the colour ``blank``); return
    the legend handles of the winners present, and of "not certified" where a point is."""
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    best = np.asarray(best)
    cmap = ListedColormap([blank] + [colors[n] for n in names])
    ax.pcolormesh(x, y, best + 1, cmap=cmap, vmin=-0.5, vmax=len(names) + 0.5,
                  shading="nearest")
    present = sorted({int(b) for b in np.ravel(best)})
    handles = [Patch(color=colors[names[b]], label=labels[names[b]])
               for b in present if b >= 0]
    if -1 in present:
        handles.append(Patch(color=blank, label="not certified"))
    return handles
