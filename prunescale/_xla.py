"""The one XLA option prunescale's own processes set: single-threaded Eigen on CPU.

With jax 0.10.2, batched programs with loops around LAPACK factorizations (the regularized
students of :mod:`prunescale.sims.erm`) can wedge XLA's multithreaded CPU Eigen pool: the
process then waits forever at 0 % CPU. ``--xla_cpu_multi_thread_eigen=false`` avoids it
(measured here: the ERM simulation tests hung at the logistic student without it and pass with
it). XLA reads ``XLA_FLAGS`` when JAX creates its CPU backend, so the flag must be in the
environment before the first computation. The command line (:mod:`prunescale.cli`) and the
test suite set it for their own process (children inherit it); library users running the ERM
simulator in their own process should set it too, before importing JAX.
"""

from __future__ import annotations

import os

FLAG = "--xla_cpu_multi_thread_eigen=false"


def single_thread_eigen(environ=None) -> None:
    """Add :data:`FLAG` to ``XLA_FLAGS`` (of ``environ``, default ``os.environ``) unless an
    ``xla_cpu_multi_thread_eigen`` setting is already there."""
    env = os.environ if environ is None else environ
    flags = env.get("XLA_FLAGS", "")
    if "xla_cpu_multi_thread_eigen" not in flags:
        env["XLA_FLAGS"] = (flags + " " + FLAG).strip()


def has_single_thread_eigen(environ=None) -> bool:
    env = os.environ if environ is None else environ
    return FLAG in env.get("XLA_FLAGS", "")
