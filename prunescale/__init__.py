"""prunescale: how test error scales with dataset size when training data is pruned.

The command line lives in :mod:`prunescale.cli`; the science lives in the top-level packages
:mod:`theory` (replica theory), :mod:`sims` (simulations) and :mod:`figures`.
"""

__version__ = "0.2.0"
