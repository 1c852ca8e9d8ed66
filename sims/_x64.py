"""float64 for the simulator without touching JAX's process-wide ``jax_enable_x64`` flag.

Certificates at a relative duality gap of 1e-6 need float64. Rather than flipping the global
flag when :mod:`prunescale.sims` is imported (which would change every other JAX computation
in the user's process), each public entry point runs inside JAX's thread-local x64 context:
arrays it creates and programs it compiles are float64, and the caller's setting is restored
on return. Compiled programs are cached per x64 state, so this costs nothing after the first
call.
"""

from __future__ import annotations

import functools

import jax


def x64_context():
    """JAX's thread-local float64 context (``jax.enable_x64(True)``, or the older
    ``jax.experimental.enable_x64()``)."""
    ctx = getattr(jax, "enable_x64", None)
    if ctx is not None:
        return ctx(True)
    from jax.experimental import enable_x64  # jax < 0.6

    return enable_x64()


def float64(fn):
    """Decorator: run ``fn`` in :func:`x64_context` (inputs and outputs keep their dtypes)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with x64_context():
            return fn(*args, **kwargs)

    return wrapper
