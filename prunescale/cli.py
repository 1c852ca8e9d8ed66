"""The ``prunescale`` command line: a thin layer over :mod:`theory`, :mod:`sims` and :mod:`figures`.

Sub-commands import their (heavy) modules lazily so that ``prunescale theory`` starts fast.
User errors (bad values, malformed ranges) print one line ``prunescale: error: ...`` and exit
with status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import functools
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
    "fss": "prunescale._cli_fss",
    "figures": "prunescale._cli_figures",
    "app": "prunescale._cli_app",
}


#: actions meant to be given several times
_REPEATABLE = (argparse._AppendAction, argparse._AppendConstAction, argparse._CountAction,
               argparse._HelpAction, argparse._VersionAction, argparse._SubParsersAction)


class _Parser(argparse.ArgumentParser):
    """The parser class of every ``prunescale`` command (sub-commands included).

    * one-line errors (``prunescale: error: ...``, exit status 2), no usage dump;
    * values that start like a negative number (``-1e-3``, ``-1:2:3``, ``-.5``) reach the
      option's validator instead of being taken for an option;
    * an option given twice (``--f 0.1 --f 0.2``, or an abbreviation of it) is refused
      instead of the last value silently winning.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = re.compile(r"^-(\d|\.\d|inf\b|nan\b)")
        self._seen: set[str] = set()

    def error(self, message):  # one line, no usage dump
        self.exit(2, f"prunescale: error: {message}\n")

    def parse_known_args(self, args=None, namespace=None):
        self._seen = set()
        return super().parse_known_args(args, namespace)

    def _add_action(self, action):
        if action.option_strings and not isinstance(action, _REPEATABLE):
            action.__class__ = _once(type(action))
        return super()._add_action(action)


@functools.lru_cache(maxsize=None)
def _once(cls):
    """A subclass of the action class ``cls`` that refuses a second occurrence."""

    def __call__(self, parser, namespace, values, option_string=None):
        seen = getattr(parser, "_seen", None)
        if seen is not None:
            if self.dest in seen:
                name = next((o for o in self.option_strings if o.startswith("--")),
                            self.option_strings[0])
                parser.error(f"option {name} given more than once; give it once "
                             "(a comma list or start:stop:num for several values)")
            seen.add(self.dest)
        return cls.__call__(self, parser, namespace, values, option_string)

    return type(f"Once{cls.__name__}", (cls,), {"__call__": __call__})


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser; only the sub-command named first in ``argv`` imports its module."""
    parser = _Parser(
        prog="prunescale",
        description="Data-pruning scaling laws in the teacher-student perceptron.",
        epilog="exit status: 0 success; 1 some result not certified or flagged (or an internal "
               "error, reported with its traceback); 2 bad input; 130 interrupted; 143 terminated "
               "(SIGTERM; finished results are kept as for Ctrl-C). Run 'prunescale COMMAND "
               "--help' for each command.",
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


class Terminated(KeyboardInterrupt):
    """SIGTERM received: the run stops as for Ctrl-C (workers and clusters closed, finished
    results kept), and the command line exits with status 143 (128 + SIGTERM)."""


def _raise_terminated(signum, frame):
    raise Terminated()


def _on_sigterm():
    """Make SIGTERM raise :class:`Terminated` in the main thread; return the previous handler
    (``None`` where it cannot be set: not the main thread, or no SIGTERM)."""
    import signal
    import threading

    if (threading.current_thread() is not threading.main_thread()
            or not hasattr(signal, "SIGTERM")):
        return None
    return signal.signal(signal.SIGTERM, _raise_terminated)


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
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # bad usage (status 2) or --help / --version (status 0)
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    previous = _on_sigterm()
    try:
        return int(args.run(args) or 0)
    except InputError as exc:
        print(f"prunescale: error: {exc}", file=sys.stderr)
        return 2
    except Terminated:
        print("prunescale: terminated (SIGTERM)", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print("prunescale: interrupted", file=sys.stderr)
        return 130
    finally:
        if previous is not None:
            import signal

            signal.signal(signal.SIGTERM, previous)


def entry() -> None:
    """The ``prunescale`` console script: :func:`main`, then exit with its status.

    An exception other than bad input is an internal error: its traceback, then the line
    ``prunescale: internal error ...``, and exit status 1.

    The process runs XLA's CPU Eigen and OpenBLAS single-threaded (:mod:`prunescale._xla`).

    After an interruption the process ends with ``os._exit(130)`` (after SIGTERM,
    ``os._exit(143)``): every result was already written atomically, and skipping the
    interpreter's teardown avoids crashes of native threads (XLA's, matplotlib's) stopped
    mid-computation.
    """
    from prunescale._xla import single_thread_blas, single_thread_eigen

    single_thread_eigen()  # before JAX starts: its multithreaded CPU Eigen pool can wedge
    single_thread_blas()  # before NumPy/SciPy load OpenBLAS: spinning threads thrash
    try:
        code = main()
    except Exception:  # a bug, not the user's input: full traceback, then one clear line
        import traceback

        traceback.print_exc()
        print("prunescale: internal error (a bug in prunescale, not in your input); "
              "the traceback above says where", file=sys.stderr)
        code = 1
    if code in (130, 143):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    entry()
