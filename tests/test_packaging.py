"""The package list in pyproject.toml must name every package directory (it is explicit because
``resources/`` is mapped to ``grokviz.resources``), and the layers stay clean (design.md §1)."""

import ast
import re
import pathlib
import sys

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_every_package_is_listed_in_pyproject():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "grokviz").rglob("__init__.py")}
    assert found - listed == set(), "add these to [tool.setuptools] packages"
    assert "grokviz.resources" in listed


def imported_modules(path: pathlib.Path) -> set:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_only_gui_imports_qt():
    """Nothing outside grokviz/gui imports Qt; core and analysis do not even reach into gui."""
    for path in (ROOT / "grokviz").rglob("*.py"):
        if path.is_relative_to(ROOT / "grokviz" / "gui"):
            continue
        modules = imported_modules(path)
        qt = {m for m in modules if m.split(".")[0] in ("PySide6", "pyqtgraph")}
        assert not qt, f"{path.relative_to(ROOT)} imports {qt}"
        if path.parent.name in ("core", "analysis") or "core" in path.parts or "analysis" in path.parts:
            gui = {m for m in modules if m.startswith("grokviz.gui")}
            assert not gui, f"{path.relative_to(ROOT)} imports {gui}"


def test_core_does_not_import_analysis():
    for path in (ROOT / "grokviz" / "core").rglob("*.py"):
        assert not [m for m in imported_modules(path) if m.startswith("grokviz.analysis")], path


def test_import_contracts_hold():
    """pyproject.toml's import-linter contracts (layers, no Qt below gui, no cycles) hold; a broken
    one prints which import breaks it."""
    import os
    import subprocess

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; "
                             "sys.argv[1:] = ['--no-cache']; lint_imports_command()"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert re.search(r"Contracts: [1-9][0-9]* kept, 0 broken", result.stdout), result.stdout[-3000:]
