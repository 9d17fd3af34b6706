"""Every reference in the tree points inside it: no document that is not in the repository, no missing anchor.

References are file names ending in ``.md`` (``docs/claims.md``, ``corpus/README.md``) in the code, tests, docs,
README, CONTRIBUTING and CI script, and ``page.md#anchor`` links into the docs. A name resolves when the file
exists relative to the repository root, to the referring file's folder or to ``docs/``; generated outputs
(``report.md``, ``summary.md``, the report's per-claim pages, ``r1theory-out/…``) are not documents of the tree.
An anchor resolves when the page has a heading whose GitHub/MyST slug is the anchor (``myst_heading_anchors``)
or an explicit ``(label)=`` target. The working notes the code once cited by name are not in the tree, so any
mention of them fails too.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ["r1theory", "tabular_mdps", "proofs_checks", "figures", "r1theory_cli", "tests", "corpus", "benchmarks",
           "examples", "docs", "README.md", "CONTRIBUTING.md", "CITATION.cff", ".ci/run", "pyproject.toml"]  # fmt: skip
SUFFIXES = {".py", ".md", ".rst", ".toml", ".cff", ".txt", ""}
SKIP_PARTS = {"_build", "generated", "__pycache__", ".ipynb_checkpoints"}

MD_REF = re.compile(r"(?<![\w.\-/])((?:[\w.\-]+/)*[\w][\w.\-]*\.md)(#[\w\-]+)?(?![\w])")
#: names of generated outputs (the report and its pages, run folders, counterexample stems), not documents
GENERATED = re.compile(
    r"(^|/)(report|summary)\.md$|(^|/)report/|(^|/)\w*out/|-seed\d+\.md$|^(pdl|c1|c2|ascent|mei2020|agarwal2021)\b"
)
#: working notes that are not part of the repository, cited by name with or without ``.md``
NOT_IN_TREE = re.compile(r"\b(paper-claims|theory-anchors|software-anchors)\b|(?<![\w/])design\.md\b")
TARGET = re.compile(r"^\(([\w\-]+)\)=\s*$", re.M)
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*$", re.M)


def slug(heading: str) -> str:
    """The GitHub / MyST anchor of a markdown heading."""
    text = re.sub(r"[`*_]", "", heading.strip().lower()).replace(" ", "-")
    return re.sub(r"[^\w\-]", "", text)


def anchors(page: Path) -> set[str]:
    text = page.read_text(encoding="utf-8")
    text = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)  # no headings inside code blocks
    return {slug(h) for h in HEADING.findall(text)} | set(TARGET.findall(text))


def scanned_files() -> list[Path]:
    files: list[Path] = []
    for name in SCANNED:
        p = ROOT / name
        if p.is_file():
            files.append(p)
        elif p.is_dir():
            files += [
                f
                for f in sorted(p.rglob("*"))
                if f.is_file()
                and f.suffix in SUFFIXES
                and not SKIP_PARTS.intersection(f.relative_to(ROOT).parts)
                and not f.name.endswith(".json")
            ]
    return files


def resolve(name: str, referrer: Path) -> Path | None:
    for base in (ROOT, referrer.parent, ROOT / "docs"):
        if (base / name).is_file():
            return base / name
    return None


def _is_literal(text: str, m: re.Match[str]) -> bool:
    """A whole Python string literal ``"demo.md"`` is a file name in code (a test's fixture), not a reference."""
    before, after = text[m.start() - 1 : m.start()], text[m.end() : m.end() + 1]
    return before in {'"', "'"} and after == before


def problems(text: str, referrer: Path) -> list[str]:
    """The broken references in ``text`` (a file's content, ``referrer`` its path)."""
    out = [f"{m.group(0)!r}: a document that is not in the repository" for m in NOT_IN_TREE.finditer(text)]
    for m in MD_REF.finditer(text):
        name, anchor = m.group(1), m.group(2)
        if GENERATED.search(name) or _is_literal(text, m):
            continue
        page = resolve(name, referrer)
        if page is None:
            out.append(f"{name!r}: no such file in the repository")
        elif anchor and anchor[1:] not in anchors(page):
            out.append(f"{name}{anchor}: no heading or target {anchor[1:]!r} in {page.relative_to(ROOT)}")
    return out


def test_the_checker_flags_what_it_must() -> None:
    here = ROOT / "tests" / "x.py"
    assert problems("see paper-claims.md §5.3", here)
    assert problems("(theory-anchors §1.2 [R])", here)
    assert problems("as software-anchors notes", here)
    assert problems("(design.md, measurement pitfalls)", here)
    assert problems("docs/claims.md#no-such-anchor", here)
    assert problems("docs/nowhere.md", here)
    assert not problems("docs/claims.md#v2-r1-same and corpus/README.md", here)
    assert not problems("writes r1theory-out/report.md and report/c1.faster-than-pg.md", here)
    assert not problems('tmp_path / "demo.md"', here)


@pytest.mark.parametrize("page", ["claims", "findings", "conventions", "architecture", "guide"])
def test_docs_pages_exist(page: str) -> None:
    assert (ROOT / "docs" / f"{page}.md").is_file()


def test_every_reference_in_the_tree_resolves() -> None:
    found: list[str] = []
    for f in scanned_files():
        if f == Path(__file__):
            continue
        try:
            text = f.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        found += [f"{f.relative_to(ROOT)}: {p}" for p in problems(text, f)]
    assert not found, "broken references:\n" + "\n".join(found)


def test_the_code_points_into_the_docs() -> None:
    """The claims page is referenced from the code (the docstrings and statements point to its anchors)."""
    refs = [
        m.group(0)
        for f in scanned_files()
        if f.suffix == ".py" and "tests" not in f.relative_to(ROOT).parts
        for m in MD_REF.finditer(f.read_text(encoding="utf-8"))
        if m.group(1) == "docs/claims.md" and m.group(2)
    ]
    assert len(refs) >= 10
