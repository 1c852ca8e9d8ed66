"""BLAS threads scoped to the library's own work.

NumPy's BLAS (OpenBLAS) spins one thread per core; prunescale's numerical work is many small
matrix operations, for which those threads only compete with each other and with JAX's (on a
busy 2-core machine a 200 x 200 Cholesky ran 500x slower). :func:`single_blas` runs a function
with BLAS limited to one thread through ``threadpoolctl``, and restores the caller's setting
afterwards: nothing is changed at import, and the same call costs the same from Python, the
command line, a Dask worker or the app.
"""

from __future__ import annotations

import functools
import threading

_state = threading.local()


def single_blas(fn):
    """Decorator: run ``fn`` with one BLAS thread (scoped; a no-op inside another such call)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if getattr(_state, "depth", 0):
            return fn(*args, **kwargs)
        from threadpoolctl import threadpool_limits

        _state.depth = 1
        try:
            with threadpool_limits(limits=1, user_api="blas"):
                return fn(*args, **kwargs)
        finally:
            _state.depth = 0

    return wrapper

