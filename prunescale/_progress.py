"""The one progress display of prunescale (figures and sweeps).

On a terminal, a ``tqdm`` bar redrawn in place (count, elapsed time, remaining time, and what
was just done); off a terminal (logs, CI), one plain line per step,
``[label: ]done/total[ unit] what  elapsed s, ~left s left`` (``done`` at the end), which a log
keeps readable where a redrawn bar would leave carriage returns.
"""

from __future__ import annotations

import sys
import time


class Progress:
    """Progress over ``total`` steps on ``stream`` (default ``sys.stderr``)."""

    def __init__(self, total: int, stream=None, label: str = "", unit: str = ""):
        self.total, self.done = max(1, total), 0
        self.label, self.unit = label, unit
        self.stream = sys.stderr if stream is None else stream
        self.t0 = time.perf_counter()
        try:
            tty = bool(self.stream.isatty())
        except (AttributeError, ValueError):
            tty = False
        self.bar = None
        if tty:
            from tqdm import tqdm

            self.bar = tqdm(total=self.total, file=self.stream, desc=label or None,
                            unit=unit.strip() or "it", dynamic_ncols=True, leave=True)

    def step(self, what: str = "") -> None:
        """One step done (``what``: a short description of it)."""
        self.done += 1
        if self.bar is not None:
            self.bar.set_postfix_str(what[:40], refresh=False)
            self.bar.update(1)
            if self.done >= self.total:
                self.bar.close()
            return
        el = time.perf_counter() - self.t0
        left = el / self.done * max(0, self.total - self.done)
        eta = f"~{left:.0f} s left" if self.done < self.total else "done"
        head = f"{self.label}: " if self.label else ""
        self.stream.write(f"{head}{self.done}/{self.total}{self.unit} {what}  {el:.0f} s, "
                          f"{eta}\n")
        self.stream.flush()
