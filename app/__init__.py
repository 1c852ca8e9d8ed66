"""The interactive teaching app of prunescale (a marimo notebook served by ``prunescale app``).

* :mod:`app.notebook`: the marimo app (run it with ``prunescale app`` or
  ``marimo run app/notebook.py``; export it with ``marimo export html app/notebook.py``);
* :mod:`app.compute`: its computational functions (pure, cached, tested).
"""

from pathlib import Path

#: Path of the marimo notebook file served by ``prunescale app``.
NOTEBOOK = Path(__file__).with_name("notebook.py")
