"""The ``prunescale`` command line: a thin layer over :mod:`theory`, :mod:`sims` and :mod:`figures`.

Sub-commands import their (heavy) modules lazily so that ``prunescale theory`` starts fast.
User errors (bad values, malformed ranges) print one line ``prunescale: error: ...`` and exit
with status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
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
    def error(self, message):  # one line, no usage dump
        self.exit(2, f"prunescale: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="prunescale",
        description="Data-pruning scaling laws in the teacher-student perceptron.",
    )
    parser.add_argument("--version", action="version", version=f"prunescale {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    argv = sys.argv[1:]
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
    if argv is not None:
        sys.argv = [sys.argv[0], *argv]
    parser = build_parser()
    args = parser.parse_args()
    try:
        return int(args.run(args) or 0)
    except InputError as exc:
        print(f"prunescale: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("prunescale: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
