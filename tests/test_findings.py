"""docs/findings.md: written from a run's stored results, by the writer of summary.md (issue #17)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from proofs_checks.findings import findings_markdown, load_run, results_path, write_findings
from proofs_checks.report import summary
from r1theory_cli import main

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_the_committed_findings_page_is_what_the_writer_makes_of_its_stored_results() -> None:
    """Not a re-run: the page must be the writer's rendering of the results file committed beside it."""
    page = DOCS / "findings.md"
    stored = results_path(page)
    assert stored.name == "findings.results.json.gz" and stored.exists()
    results, prov, crashed = load_run(stored)
    assert prov["mode"] == "full" and not crashed, "docs/findings.md must come from a complete full run"
    text = page.read_text(encoding="utf-8")
    assert text == findings_markdown(results, prov, crashed)
    # the checks' own tables are on the page: C2 per instance (exponents, censoring, noise onset, trapping)
    tables = text.split("## The checks' own tables", 1)[1]
    for heading in (
        "Tables of `c1.faster-than-pg`",
        "Tables of `c2.sample-complexity`",
        "Tables of `smac.vs-baselines`",
    ):
        assert heading in tables
    c2 = tables.split("Tables of `c2.sample-complexity`", 1)[1]
    assert "**random-4x3**" in c2 and "| k_sgd | k_method | decades | censored | noise from ε |" in c2
    assert "Trapped fraction" in c2


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run")
    assert main(["verify", "--quick", "--only", "pdl", "--out", str(out / "out"), "--no-progress",
                 "--findings", str(out / "docs" / "findings.md")]) == 0  # fmt: skip
    return out


def test_verify_writes_the_page_and_its_results(run: Path) -> None:
    page, stored = run / "docs" / "findings.md", run / "docs" / "findings.results.json.gz"
    raw = (run / "out" / "results.json").read_bytes()
    assert gzip.decompress(stored.read_bytes()) == raw
    text = page.read_text(encoding="utf-8")
    prov = json.loads(raw)["provenance"]
    assert text.startswith("# Findings\n")
    assert "- command: `r1theory verify --quick --only pdl --out" in text
    assert f"git revision `{prov['git_revision']}`" in text if prov["git_revision"] else True
    assert prov["date"] in text and "UTC" in prov["date"]
    assert f"({prov['elapsed_seconds']:.0f} s)" in text
    # the body is the summary's, without links to the run's report folder
    results, prov2, crashed = load_run(stored)
    body = summary(results, prov2, crashed, links=False).split("\n", 1)[1].lstrip("\n")
    assert body.rstrip("\n") in text
    assert "](report/" not in text and "](report.md)" not in text
    assert "| `pdl` |" in text


def test_the_findings_command_regenerates_the_page(run: Path, tmp_path: Path) -> None:
    stored = run / "docs" / "findings.results.json.gz"
    again = tmp_path / "findings.md"
    assert main(["findings", str(stored), "--to", str(again)]) == 0
    assert again.read_text(encoding="utf-8") == (run / "docs" / "findings.md").read_text(encoding="utf-8")
    # the stored copy is byte-stable: written again from the same results, the same bytes
    write_findings(run / "out" / "results.json", tmp_path / "f2.md")
    assert results_path(tmp_path / "f2.md").read_bytes() == stored.read_bytes()


def test_not_a_results_file_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "x.json"
    bad.write_text('{"rows": []}')
    with pytest.raises(SystemExit) as exc:
        main(["findings", str(bad), "--to", str(tmp_path / "f.md")])
    assert exc.value.code == 2
    assert "is not the results.json of an r1theory verify run" in capsys.readouterr().err
    assert not (tmp_path / "f.md").exists()
