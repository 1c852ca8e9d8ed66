"""MkDocs hook: a source tree in which griffe finds every ``prunescale`` subpackage.

The distribution maps top-level folders into one namespace (``[tool.setuptools.package-dir]``
in pyproject.toml: ``prunescale.theory`` is ``theory/``). griffe, which mkdocstrings uses to
read the docstrings statically, looks for ``prunescale/theory/``. Before the build this hook
writes ``build/api-source/prunescale/``: links to every entry of ``prunescale/`` plus one link
per mapped subpackage; ``mkdocs.yml`` points the Python handler's ``paths`` there. Nothing is
imported, and the site builds the same with or without an installed prunescale.
"""

from __future__ import annotations

import os
import shutil
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TREE = ROOT / "build" / "api-source"


def _mapping() -> dict[str, Path]:
    with open(ROOT / "pyproject.toml", "rb") as fh:
        pyproject = tomllib.load(fh)
    package_dir = pyproject["tool"]["setuptools"].get("package-dir", {})
    return {name: ROOT / folder for name, folder in package_dir.items()}


def build_tree() -> Path:
    if TREE.exists():
        shutil.rmtree(TREE)
    top = TREE / "prunescale"
    top.mkdir(parents=True)
    mapped = {name.split(".", 1)[1]: path for name, path in _mapping().items()
              if name.startswith("prunescale.") and name.count(".") == 1}
    for entry in (ROOT / "prunescale").iterdir():
        if entry.name not in mapped and entry.name != "__pycache__":
            os.symlink(entry, top / entry.name)
    for sub, path in mapped.items():
        os.symlink(path, top / sub, target_is_directory=True)
    return TREE


def on_startup(**kwargs):
    """Write the tree before any plugin reads its configuration: mkdocstrings resolves its
    ``paths`` in its own ``on_config``, which runs before a hook's, and a ``paths`` entry that
    does not exist yet sends griffe to the installed package, whose mapped subpackages it
    cannot see (a fresh clone's first build then fails to find ``prunescale.theory``)."""
    build_tree()
