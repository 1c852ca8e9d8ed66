"""The command line, the app and the figures use the library through its public API only:
the modules documented in the API reference (``docs/api/*.md``) and the names they export."""

import ast
import importlib
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
#: the library's own layers (they may use its internals); everything else is a caller
LIBRARY = {"prunescale/model.py", "prunescale/errors.py", "prunescale/validation.py"}
CALLERS = [p for d in ("prunescale", "app", "figures") for p in sorted((ROOT / d).glob("*.py"))
           if str(p.relative_to(ROOT)) not in LIBRARY]


def _documented() -> set[str]:
    out = set()
    for md in (ROOT / "docs" / "api").glob("*.md"):
        out.update(re.findall(r"^::: (prunescale[\w.]*)", md.read_text(), re.M))
    return out


def _library_imports(path):
    """``(module, name)`` for each import of ``prunescale.theory``/``prunescale.sims`` in a file
    (``name`` None for ``import module``)."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.startswith(("prunescale.theory", "prunescale.sims")):
                for a in node.names:
                    yield node.module, a.name
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith(("prunescale.theory", "prunescale.sims")):
                    yield a.name, None


def _public(module: str, name: str | None, documented: set[str]) -> bool:
    if module not in documented:
        return False
    if name is None:
        return True
    if f"{module}.{name}" in documented:  # a documented submodule or object
        return True
    mod = importlib.import_module(module)
    exported = getattr(mod, "__all__", None)
    return exported is not None and name in exported


def test_the_callers_are_found():
    names = {p.name for p in CALLERS}
    assert {"_cli_sim.py", "_cli_theory.py", "compute.py", "fig_policies.py"} <= names


@pytest.mark.parametrize("path", CALLERS, ids=lambda p: str(p.relative_to(ROOT)))
def test_callers_import_only_the_public_api(path):
    documented = _documented()
    private = [f"{m}.{n}" if n else m for m, n in _library_imports(path)
               if not _public(m, n, documented)]
    assert not private, f"{path.relative_to(ROOT)} imports {', '.join(private)}"
