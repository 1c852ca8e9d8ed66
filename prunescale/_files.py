"""Files written atomically, and the temporaries of writers that died.

Every result prunescale writes (sweep task files, figure images and tables, the cache, an
``fss`` plot) goes through :func:`atomic_write`: a hidden temporary in the same folder named
``.<name>.pid<pid>.<random>.tmp``, ``fsync``, mode ``0o666 & ~umask``, then ``os.replace``;
a reader never sees a partial file. :func:`clean_stale_temporaries` removes the temporaries of
writers that no longer run (a killed run), and leaves those of live processes alone.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

#: any temporary of :func:`atomic_write`; the group is the writer's pid
TMP = re.compile(r"^\..*\.pid(\d+)\.[^/]*\.tmp$")


def umask() -> int:
    """The process's file-creation mask (new files get ``0o666 & ~umask()``)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def tmp_prefix(name: str) -> str:
    """Prefix of this process's temporary files for ``name`` (hidden, with the pid)."""
    return f".{name}.pid{os.getpid()}."


def atomic_write(path, write, *, sync_dir: bool = False) -> Path:
    """Write ``path`` by ``write(binary file)`` through a temporary file and a rename; with
    ``sync_dir`` the rename itself is made durable (``fsync`` of the folder)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=tmp_prefix(path.name), suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~umask())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    if sync_dir:
        try:
            dfd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        except OSError:
            pass
    return path


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists (also when it is not ours)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists but not ours
        return True
    return True


def clean_stale_temporaries(folder, pattern: re.Pattern = TMP) -> int:
    """Remove the temporaries in ``folder`` matching ``pattern`` (group 1: the writer's pid)
    whose writer no longer runs; return how many were removed."""
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return 0
    removed = 0
    for name in names:
        m = pattern.match(name)
        if not m or int(m.group(1)) == os.getpid() or alive(int(m.group(1))):
            continue
        try:
            os.unlink(Path(folder) / name)
            removed += 1
        except OSError:
            pass
    return removed
