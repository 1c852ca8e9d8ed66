"""Figures: theory lines with simulation markers, one script per figure.

Each ``fig_*.py`` module has ``main(quick: bool = True, out=..., cache=...)`` that computes
(or loads from the cache) the data behind the figure, writes it as a tidy CSV with the
configuration recorded in its header, and draws the figure as PNG and SVG.
:func:`figures.run.run_all` draws them all (the ``prunescale figures`` command).
"""

FIGURES = ("learning_curves", "frontier", "phase_diagram", "imperfect", "parity", "label_noise",
           "selection", "policies", "ssl", "spectrum")
