"""Parsing of numeric command-line values shared by every ``prunescale`` sub-command.

A value is a number (``0.2``), a comma list (``0.1,0.2,0.5``) or an evenly spaced range
``start:stop:num`` with the meaning of ``numpy.linspace(start, stop, num)``.
"""

from __future__ import annotations

import argparse
import math

import numpy as np


from prunescale.errors import InputError


class CliError(InputError):
    """A user error: printed as one line by the command line, which then exits with status 2."""


def parse_values(name: str, text: str) -> np.ndarray:
    """Parse ``text`` for option ``name`` into a 1-d float array (no range checks here)."""
    text = text.strip()
    if not text:
        raise CliError(f"{name}: empty value; expected a number, a comma list or start:stop:num")
    if ":" in text:
        parts = text.split(":")
        if len(parts) != 3:
            raise CliError(f"{name}: malformed range {text!r}; expected start:stop:num")
        try:
            start, stop = float(parts[0]), float(parts[1])
            num = int(parts[2])
        except ValueError:
            raise CliError(
                f"{name}: malformed range {text!r}; expected start:stop:num with an integer num"
            ) from None
        if num < 1:
            raise CliError(f"{name}: range {text!r} has num = {num}; num must be >= 1")
        if not (math.isfinite(start) and math.isfinite(stop)):
            raise CliError(f"{name}: range {text!r} has a non-finite end; ends must be finite")
        return np.linspace(start, stop, num)
    out = []
    for item in text.split(","):
        try:
            out.append(float(item))
        except ValueError:
            raise CliError(
                f"{name}: {item.strip()!r} is not a number; expected a number, "
                "a comma list or start:stop:num"
            ) from None
    return np.asarray(out, dtype=float)


def values_type(name: str):
    """An ``argparse`` ``type=`` callable for :func:`parse_values` that reports one-line errors."""

    def _parse(text: str) -> np.ndarray:
        try:
            return parse_values(name, text)
        except CliError as exc:  # argparse prefixes "argument NAME: " itself
            raise argparse.ArgumentTypeError(str(exc).removeprefix(f"{name}: ")) from None

    _parse.__name__ = name
    return _parse


def parse_names(name: str, text: str, allowed) -> list[str]:
    """Parse a comma list of names (``hard,easy``) for option ``name``; each must be ``allowed``."""
    items = [t.strip() for t in text.split(",")]
    if not text.strip() or any(not t for t in items):
        raise CliError(f"{name}: empty name in {text!r}; expected a comma list of "
                       f"{', '.join(allowed)}")
    for t in items:
        if t not in allowed:
            raise CliError(f"{name} must be one of {', '.join(allowed)}; got {t!r}")
    return list(dict.fromkeys(items))  # unique, in the order given


def names_type(name: str, allowed):
    """An ``argparse`` ``type=`` callable for :func:`parse_names` (one-line errors)."""

    def _parse(text: str) -> list[str]:
        try:
            return parse_names(name, text, tuple(allowed))
        except CliError as exc:
            raise argparse.ArgumentTypeError(str(exc).removeprefix(f"{name}: ")) from None

    _parse.__name__ = name
    return _parse
