"""Shared plotting helpers: a non-interactive backend, a consistent style, PNG + SVG output."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


STYLE = {
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "legend.fontsize": 8,
    "axes.grid": True,
    "grid.alpha": 0.3,
}


def figure(ncols: int = 1, nrows: int = 1, width: float = 4.2, height: float = 3.4):
    plt.rcParams.update(STYLE)
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows),
                             squeeze=False, constrained_layout=True)
    return fig, axes.ravel()


def save(fig, out, name: str) -> list[Path]:
    """Save ``fig`` as ``name.png`` and ``name.svg`` in ``out``; return the paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{name}.png", out / f"{name}.svg"]
    for p in paths:
        # a unique temporary name per writer: concurrent runs never clash, readers never
        # see a partial image
        fd, tmp = tempfile.mkstemp(dir=out, prefix=f".{p.stem}.", suffix=p.suffix)
        os.close(fd)
        try:
            fig.savefig(tmp)
            os.replace(tmp, p)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    plt.close(fig)
    return paths


def render(out, name: str, config: dict, draw) -> list[Path]:
    """Draw and save figure ``name`` unless it was already drawn from the same ``config``.

    ``draw()`` returns the matplotlib figure. A sidecar ``.name.key`` holding the hash of
    the configuration is written after both image files, so an interrupted save is redrawn.
    """
    from prunescale.figures._store import _atomic_write, config_key

    out = Path(out)
    key = config_key({"figure": name, **config})
    paths = [out / f"{name}.png", out / f"{name}.svg"]
    stamp = out / f".{name}.key"
    if all(p.exists() for p in paths) and stamp.exists() and stamp.read_text() == key:
        return paths
    if stamp.exists():  # never replace a figure of another configuration silently
        print(f"\nreplacing {name} (drawn from another configuration) in {out}",
              file=sys.stderr)
    paths = save(draw(), out, name)
    _atomic_write(stamp, lambda fh: fh.write(key.encode()))
    return paths


def colors(n: int):
    cmap = plt.get_cmap("viridis")
    return [cmap(x) for x in ([0.5] if n == 1 else [i / (n - 1) * 0.9 for i in range(n)])]
