"""``--out FILE`` for ``prunescale theory`` and ``prunescale sim``: a table of records written
atomically as CSV or JSON, chosen by the file's extension."""

from __future__ import annotations

import csv
import io
import os
import sys
from pathlib import Path

from prunescale.errors import InputError

FORMATS = (".csv", ".json")


def check_out_file(path: str | None) -> Path | None:
    """Validate ``--out`` (``None``: print only); one-line error otherwise."""
    if path is None:
        return None
    if not str(path).strip():
        raise InputError("--out is empty; give a file name ending in .csv or .json")
    p = Path(path)
    if p.suffix.lower() not in FORMATS:
        raise InputError(f"--out {str(path)!r}: the extension must be .csv or .json")
    if p.is_dir():
        raise InputError(f"--out {str(path)!r} is a folder; give a file name")
    check_writable_parent("--out", path)
    return p


def check_writable_parent(option: str, path) -> None:
    """One-line :class:`InputError` unless a file can be created beside ``path`` (its folder
    exists, is a folder and accepts a new file): checked before any work, so that a result is
    never computed and then lost. A probe file is created there and removed at once."""
    import tempfile

    parent = Path(os.path.abspath(path)).parent
    for up in (parent, *parent.parents):
        if up.exists() or up.is_symlink():
            if not up.is_dir():
                raise InputError(f"{option} {str(path)!r}: {str(up)!r} is a file, not a folder")
            if up != parent:
                raise InputError(f"{option} {str(path)!r}: folder {str(parent)!r} does not "
                                 "exist")
            break
    try:
        fd, probe = tempfile.mkstemp(dir=parent, prefix=".prunescale-write-test.")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise InputError(f"{option} {str(path)!r}: cannot write in folder {str(parent)!r} "
                         f"({exc.strerror or exc})") from None


def json_text(records: list[dict]) -> str:
    """``records`` as one JSON list (orjson: about 10x the standard library's encoder on a
    10,000-row grid; floats written in the shortest form that reads back to the same value,
    as ``json.dumps`` does, non-finite floats as ``null``)."""
    import orjson

    return orjson.dumps(records).decode()


def write_records(path: Path, records: list[dict]) -> None:
    """Write ``records`` (dicts with the same keys) to ``path`` atomically, by extension."""
    from prunescale._files import atomic_write

    if path.suffix.lower() == ".json":
        text = json_text(records) + "\n"
    else:
        buf = io.StringIO()
        keys = list(dict.fromkeys(k for r in records for k in r))
        writer = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
        writer.writeheader()
        for r in records:
            writer.writerow({k: _cell(r.get(k)) for k in keys})
        text = buf.getvalue()
    if path.exists():
        print(f"prunescale: replacing {path}", file=sys.stderr)
    atomic_write(path, lambda fh: fh.write(text.encode()))


def _cell(v):
    if v is None:
        return "nan"
    if isinstance(v, (list, tuple)):
        return " ".join(str(x) for x in v)
    return v
