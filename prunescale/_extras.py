"""Optional dependencies (``pip install 'prunescale[EXTRA]'``) checked at a command's start.

A command that needs an extra which is not installed stops at once with one line naming the
extra to install (exit status 2), instead of a ``ModuleNotFoundError`` traceback later on.
"""

from __future__ import annotations

import importlib.util
import sys

from prunescale.errors import InputError

#: extra -> the top-level modules it provides that the commands import
EXTRAS = {
    "figures": ("matplotlib",),
    "app": ("marimo", "matplotlib"),
    "sweep": ("distributed", "pyarrow", "pandas"),
}


def missing(modules) -> list[str]:
    """The names in ``modules`` that cannot be imported (not installed, or blocked)."""
    out = []
    for name in modules:
        if name in sys.modules:
            if sys.modules[name] is None:
                out.append(name)
            continue
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        if spec is None:
            out.append(name)
    return out


def require(what: str, extra: str, modules=None) -> None:
    """One-line :class:`InputError` unless ``modules`` (default: every module of ``extra``)
    can be imported; ``what`` names the command or option that needs them."""
    absent = missing(EXTRAS[extra] if modules is None else modules)
    if absent:
        raise InputError(f"{what} needs {', '.join(absent)} (the {extra} extra): "
                         f"pip install 'prunescale[{extra}]'")
