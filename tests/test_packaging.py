"""Packaging: one top-level import name, immune to look-alike modules in the working directory."""

import subprocess
import sys
import zipfile

import pytest

import prunescale


def _repo_root():
    from pathlib import Path

    return Path(__file__).resolve().parents[1]


def test_wheel_installs_exactly_one_top_level_name(tmp_path):
    """The built wheel holds ``prunescale/`` and its ``.dist-info`` and nothing else at the top."""
    import shutil

    # built from a copy: setuptools writes build/ and *.egg-info into the tree it builds, and
    # the checkout is shared with the other test processes (pytest-xdist)
    src = tmp_path / "src"
    shutil.copytree(_repo_root(), src, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "*.egg-info", "__pycache__", ".hypothesis", ".pytest_cache"))
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path),
         str(src)],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    (wheel,) = tmp_path.glob("prunescale-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/", 1)[0] for n in names}
    dist_info = {t for t in top if t.endswith(".dist-info")}
    assert top - dist_info == {"prunescale"}, sorted(top)
    for sub in ("theory/solver.py", "sims/run.py", "figures/run.py", "app/notebook.py",
                "cli.py"):
        assert f"prunescale/{sub}" in names
    meta = zipfile.ZipFile(wheel).read(f"{dist_info.pop()}/METADATA").decode()
    assert f"Version: {prunescale.__version__}" in meta
    assert "License-Expression: MIT" in meta
    # the solver alone does not pull drawing, the app or the browser test
    requires = [ln for ln in meta.splitlines() if ln.startswith("Requires-Dist:")]
    core = [ln for ln in requires if "extra ==" not in ln]
    assert not any(pkg in ln for ln in core for pkg in ("marimo", "matplotlib", "playwright"))


def test_lookalike_modules_in_working_directory_do_not_shadow(tmp_path):
    (tmp_path / "theory.py").write_text("raise RuntimeError('user theory.py imported')\n")
    (tmp_path / "sims.py").write_text("raise RuntimeError('user sims.py imported')\n")
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("raise RuntimeError('user app imported')\n")
    code = (
        "import prunescale.theory as t, prunescale.sims as s, prunescale.app as a, "
        "prunescale.figures as f\n"
        "import sys\n"
        "assert 'theory' not in sys.modules and 'app' not in sys.modules, sorted(sys.modules)\n"
        "from prunescale import _cli_app\n"
        "print(t.solve('hard', 0.2, 3.0).converged, a.NOTEBOOK.is_file(),"
        " _cli_app.notebook_path())\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    converged, notebook_found, notebook = proc.stdout.split()
    assert (converged, notebook_found) == ("True", "True")
    # ``prunescale app`` serves its own notebook, never the user's app/
    assert str(tmp_path) not in notebook and notebook.endswith("notebook.py")
