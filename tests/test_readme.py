"""The README's commands and example are the ones CI runs and they work."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _first_block() -> list[str]:
    block = README.split("```bash", 1)[1].split("```", 1)[0]
    return [line.split("#", 1)[0].strip() for line in block.strip().splitlines()]


def test_readme_opens_with_the_two_commands() -> None:
    main, tests = _first_block()
    assert main == "pip install -e . && r1theory verify"
    assert tests == "pip install -e '.[test]' && pytest"


def test_ci_runs_the_readme_commands() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    install, test_cmd = _first_block()[1].split(" && ")
    assert re.search(rf"^{re.escape(install)}$", ci, re.M), "CI must install exactly as the README says"
    assert re.search(rf"^{re.escape(test_cmd)}( |$)", ci, re.M), "CI must run the README's test command"
    assert "r1theory verify" in ci


def test_readme_example_runs() -> None:
    code = README.split("## A short example", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    namespace: dict[str, object] = {}
    exec(compile(code, "README.md", "exec"), namespace)
    run = namespace["run"]
    assert run.status in ("converged", "max_iterations", "stalled")  # type: ignore[attr-defined]
    assert namespace["x"].shape == (4, 3)  # type: ignore[attr-defined]
