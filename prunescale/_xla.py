"""The threading settings prunescale's own processes make: single-threaded Eigen and BLAS.

With jax 0.10.2, batched programs with loops around LAPACK factorizations (the regularized
students of :mod:`prunescale.sims.erm`) can wedge XLA's multithreaded CPU Eigen pool: the
process then waits forever at 0 % CPU. ``--xla_cpu_multi_thread_eigen=false`` avoids it
(measured here: the ERM simulation tests hung at the logistic student without it and pass with
it). XLA reads ``XLA_FLAGS`` when JAX creates its CPU backend, so the flag must be in the
environment before the first computation. The command line (:mod:`prunescale.cli`) and the
test suite set it for their own process (children inherit it); library users running the ERM
simulator in their own process should set it too, before importing JAX.

**BLAS.** JAX's CPU factorizations (Cholesky, in every simulator) call the LAPACK of SciPy's
bundled OpenBLAS, which starts one spinning thread per core. As soon as another process (a
second Dask worker, a test, a browser) wants a core, those threads wait on each other:
measured here with one other busy process on 2 cores, a 200 x 200 Cholesky took 0.25 s
instead of 0.0005 s, and a block of 8 logistic students 18.9 s instead of 0.26 s; a Dask worker
pinned to one core is the extreme case. :func:`single_thread_blas` sets
``OPENBLAS_NUM_THREADS=1`` (unless already set), which OpenBLAS reads when it is loaded (with
NumPy or SciPy), so it is set at the very start of the command line and of the test suite.
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


#: the environment variable OpenBLAS reads once, when it is loaded
BLAS_VAR = "OPENBLAS_NUM_THREADS"


def single_thread_blas(environ=None) -> None:
    """Set ``OPENBLAS_NUM_THREADS=1`` (of ``environ``, default ``os.environ``) unless it is
    already set; takes effect in processes that load OpenBLAS afterwards."""
    env = os.environ if environ is None else environ
    env.setdefault(BLAS_VAR, "1")
