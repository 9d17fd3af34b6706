"""The engine imports no upper package, at import time or lazily.

The command line lives above all four packages (docs/architecture.md).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UPPER = ("proofs_checks", "figures", "tabular_mdps", "r1theory_cli")
ENGINE = sorted((ROOT / "r1theory").rglob("*.py"))


def _upward_imports(path: Path, root: Path = ROOT) -> list[str]:
    """Every import of an upper package in ``path``, including imports inside functions and ``importlib`` calls."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif (
            isinstance(node, ast.Call)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and (
                (isinstance(node.func, ast.Name) and node.func.id == "__import__")
                or (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
            )
        ):
            names = [node.args[0].value]
        found += [f"{path.relative_to(root)}:{node.lineno}: {n}" for n in names if n.split(".")[0] in UPPER]
    return found


def test_engine_modules_exist() -> None:
    assert len(ENGINE) > 10 and (ROOT / "r1theory" / "__init__.py") in ENGINE


@pytest.mark.parametrize("path", ENGINE, ids=lambda p: str(p.relative_to(ROOT)))
def test_engine_imports_no_upper_package(path: Path) -> None:
    assert _upward_imports(path) == []


def test_the_scanner_sees_lazy_imports(tmp_path: Path) -> None:
    src = tmp_path / "m.py"
    src.write_text(
        "import numpy\n"
        "def f():\n"
        "    from proofs_checks.runner import verify\n"
        "    import figures\n"
        "    return __import__('tabular_mdps'), importlib.import_module('r1theory_cli')\n"
    )
    hits = _upward_imports(src, root=tmp_path)
    expected = ["figures", "proofs_checks.runner", "r1theory_cli", "tabular_mdps"]
    assert sorted(hit.split(": ")[1] for hit in hits) == expected


def test_importing_the_engine_loads_no_upper_package() -> None:
    code = f"import sys, r1theory; print(sorted(m for m in sys.modules if m.split('.')[0] in {UPPER!r}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
