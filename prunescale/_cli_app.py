"""``prunescale app``: serve the interactive teaching app (a marimo notebook) in the browser."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from prunescale.errors import InputError


def add_parser(sub):
    p = sub.add_parser(
        "app",
        help="open the interactive teaching app in a web browser",
        description=(
            "Serve the interactive data-pruning app (a marimo notebook) on a local web server "
            "and open it in the default browser. Controls: pruning rule, kept fraction f, "
            "alpha_prune or alpha_tot, probe angle theta; panels: learning curves with "
            "simulations, Pareto frontier with f_min, easy/hard phase diagram. Works offline. "
            "Stop it with Ctrl-C."
        ),
        epilog="Ctrl-C, SIGTERM and SIGHUP stop the app and its server (on Linux the server "
               "also stops if prunescale is killed outright). Exit status: 0 "
               "server ended; 2 bad input (for example a port in use); 130 interrupted "
               "(Ctrl-C); 128 + the signal number for SIGTERM or SIGHUP.",
    )
    p.add_argument("--host", default="127.0.0.1",
                   help="interface to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=None,
                   help="port to listen on (default: marimo picks a free one from 2718)")
    p.add_argument("--headless", action="store_true",
                   help="do not open a browser; just print the URL")
    p.add_argument("--no-warm", dest="warm", action="store_false",
                   help="do not precompute the panels of every probe angle in the background "
                        "(by default moving theta is slow only until that is done, ~30 s)")
    p.add_argument("--edit", action="store_true",
                   help="open the notebook in marimo's editor instead of as a read-only app")
    p.set_defaults(run=run)
    return p


def notebook_path() -> Path:
    """The app's marimo notebook file (``prunescale/app/notebook.py`` once installed)."""
    from prunescale.app import NOTEBOOK

    if NOTEBOOK.is_file():
        return NOTEBOOK
    raise InputError(f"the app's notebook is missing from the installation ({NOTEBOOK})")


def build_command(args) -> list[str]:
    """The ``marimo`` command line that serves the app for the parsed ``args``."""
    if args.port is not None and not 1 <= args.port <= 65535:
        raise InputError(f"--port must be in 1..65535; got {args.port}")
    if not str(args.host).strip():
        raise InputError("--host must not be empty")
    from prunescale._extras import require

    require("prunescale app", "app")
    cmd = [sys.executable, "-m", "marimo", "edit" if args.edit else "run",
           str(notebook_path()), "--host", str(args.host)]
    if args.port is not None:
        cmd += ["--port", str(args.port)]
    if args.headless:
        cmd.append("--headless")
    if not args.edit:
        cmd.append("--no-sandbox")
    return cmd


class _Stop(Exception):
    """SIGTERM or SIGHUP received: stop the server as Ctrl-C does."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def check_port(host: str, port: int | None) -> None:
    """One-line error if ``port`` is already taken on ``host`` (``None``: marimo picks)."""
    if port is None:
        return
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            raise InputError(f"port {port} is in use on {host}; give another with --port") from None


def _die_with_parent():
    """On Linux, a ``preexec_fn`` that has the kernel send the server SIGTERM when this
    process dies, even by SIGKILL (no orphaned server); ``None`` elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def preexec():
        prctl(1, int(signal.SIGTERM), 0, 0, 0)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


def run(args) -> int:
    """Serve the app until Ctrl-C, SIGTERM or SIGHUP, which all stop the marimo server too
    (exit status 130 for Ctrl-C, 128 + the signal number otherwise)."""
    cmd = build_command(args)
    check_port(str(args.host), args.port)
    env = dict(os.environ)
    env.setdefault("MARIMO_SKIP_UPDATE_CHECK", "1")  # offline: no version check on PyPI
    env["PRUNESCALE_APP_WARM"] = "1" if args.warm else "0"
    print(f"prunescale: serving {cmd[4]} (Ctrl-C to stop)", file=sys.stderr, flush=True)

    def stop(signum, frame):
        raise _Stop(signum)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGHUP)}
    proc = subprocess.Popen(cmd, env=env, preexec_fn=_die_with_parent())
    try:
        return proc.wait()
    except (KeyboardInterrupt, _Stop) as exc:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if isinstance(exc, KeyboardInterrupt):
            raise
        return 128 + exc.signum
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv: list[str] | None = None) -> int:
    """``python -m prunescale._cli_app [options]``: the same as ``prunescale app [options]``."""
    from prunescale.cli import _Parser

    parser = _Parser(prog="prunescale")
    add_parser(parser.add_subparsers(dest="command", required=True, parser_class=_Parser))
    args = parser.parse_args(["app", *(sys.argv[1:] if argv is None else argv)])
    try:
        return int(args.run(args) or 0)
    except InputError as exc:  # other exceptions are bugs: they keep their traceback
        print(f"prunescale: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
