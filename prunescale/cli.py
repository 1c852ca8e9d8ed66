"""The ``prunescale`` command line: a thin layer over :mod:`theory`, :mod:`sims` and :mod:`figures`.

Sub-commands import their (heavy) modules lazily so that ``prunescale theory`` starts fast.
User errors (bad values, malformed ranges) print one line ``prunescale: error: ...`` and exit
with status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys

from prunescale import __version__
from prunescale.errors import InputError


#: sub-command name -> module providing ``add_parser(subparsers)`` and ``run(args) -> int``
SUBCOMMANDS = {
    "theory": "prunescale._cli_theory",
    "sim": "prunescale._cli_sim",
    "figures": "prunescale._cli_figures",
    "app": "prunescale._cli_app",
}


class _Parser(argparse.ArgumentParser):
    """One-line errors; values that start like a negative number (``-1e-3``, ``-1:2:3``)
    reach the option's validator instead of being taken for an option."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = re.compile(r"^-(\d|\.\d|inf\b|nan\b)")

    def error(self, message):  # one line, no usage dump
        self.exit(2, f"prunescale: error: {message}\n")


def _repeated_option(argv: list[str]) -> str | None:
    """The first ``--option`` given more than once (its later value would silently win)."""
    seen = set()
    for tok in argv:
        if tok == "--":
            break
        if tok.startswith("--") and len(tok) > 2:
            name = tok.split("=", 1)[0]
            if name in seen:
                return name
            seen.add(name)
    return None


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser; only the sub-command named first in ``argv`` imports its module."""
    parser = _Parser(
        prog="prunescale",
        description="Data-pruning scaling laws in the teacher-student perceptron.",
        epilog="exit status: 0 success; 1 some result not certified or flagged (or an internal "
               "error, reported with its traceback); 2 bad input; 130 interrupted. Run 'prunescale COMMAND --help' for each command.",
    )
    parser.add_argument("--version", action="version", version=f"prunescale {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    argv = sys.argv[1:] if argv is None else argv
    for name, modname in SUBCOMMANDS.items():
        # Only import the module of the sub-command being run (and all for --help).
        if argv and argv[0] in SUBCOMMANDS and argv[0] != name:
            sub.add_parser(name)
            continue
        try:
            mod = importlib.import_module(modname)
        except ModuleNotFoundError as exc:
            if exc.name != modname:
                raise
            continue
        mod.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line on ``argv`` (default ``sys.argv[1:]``, which is never modified).

    Bad input (:class:`~prunescale.errors.InputError`) is one line and exit status 2; any
    other exception is an internal error and keeps its traceback (exit status 1).
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
    if not argv:
        parser.print_usage(sys.stderr)
        print("prunescale: error: give a command: " + ", ".join(SUBCOMMANDS)
              + " (prunescale --help for more)", file=sys.stderr)
        return 2
    rep = _repeated_option(argv)
    if rep is not None:
        print(f"prunescale: error: option {rep} given more than once; give it once "
              "(a comma list or start:stop:num for several values)", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except InputError as exc:
        print(f"prunescale: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("prunescale: interrupted", file=sys.stderr)
        return 130


def entry() -> None:
    """The ``prunescale`` console script: :func:`main`, then exit with its status.

    An exception other than bad input is an internal error: its traceback, then the line
    ``prunescale: internal error ...``, and exit status 1.

    After an interruption the process ends with ``os._exit(130)``: every result was already
    written atomically, and skipping the interpreter's teardown avoids crashes of native
    threads (XLA's, matplotlib's) stopped mid-computation.
    """
    try:
        code = main()
    except Exception:  # a bug, not the user's input: full traceback, then one clear line
        import traceback

        traceback.print_exc()
        print("prunescale: internal error (a bug in prunescale, not in your input); "
              "the traceback above says where", file=sys.stderr)
        code = 1
    if code == 130:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)
    sys.exit(code)


if __name__ == "__main__":
    entry()
