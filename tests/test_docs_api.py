"""Every public name has an entry in the API pages (docs/api/*.rst), as the docs build also enforces."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
API = ROOT / "docs" / "api"
MODULES = ["r1theory", "tabular_mdps", "proofs_checks", "proofs_checks.falsify", "proofs_checks.claims"]


def documented() -> set[str]:
    """``module.name`` for every autosummary entry, qualified by the page's current ``currentmodule``."""
    names: set[str] = set()
    for page in API.glob("*.rst"):
        module = ""
        for line in page.read_text(encoding="utf-8").splitlines():
            m = re.match(r"\.\. currentmodule:: (\S+)", line)
            if m:
                module = m.group(1)
            elif re.match(r"   [\w.]+$", line) and module:
                names.add(f"{module}.{line.strip()}")
    return names


@pytest.mark.parametrize("module", MODULES)
def test_every_public_name_has_an_api_entry(module: str) -> None:
    public = [n for n in importlib.import_module(module).__all__ if not n.startswith("__")]
    missing = [n for n in public if f"{module}.{n}" not in documented()]
    assert not missing, f"add to docs/api/{module.split('.')[0]}.rst: {missing}"


def test_the_docs_build_enforces_it() -> None:
    conf = (ROOT / "docs" / "conf.py").read_text(encoding="utf-8")
    assert '"api_coverage"' in conf
    for module in MODULES:
        assert f'"{module}"' in conf
