"""The output folder answers first: summary.md (size, corpus verdicts), escaped tables, results.csv, figure data."""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from proofs_checks import corpus, load_results, report
from proofs_checks.report import cell, markdown, summary, verdict_table, write_csv, write_report
from proofs_checks.result import CheckResult

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
V2_SEED1 = CORPUS / "ascent.stated-step-r1-same-seed1.json"
METHODS = ("pg", "npg-damped", "r1-eigen", "r1-grad", "r1-same", "r1-precond")


def _cells(row: str) -> list[str]:
    """Split a markdown table row as GitHub does: at every ``|`` not escaped (``\\x`` is one escaped character)."""
    inner = row.strip()[1:-1]
    return [c.strip() for c in re.findall(r"((?:\\.|[^\\|])*)(?:\||$)", inner)][:-1] or [inner]


def _suite() -> list[CheckResult]:
    """A result set shaped like `verify --quick`'s: C1 (5 methods × 3 protocols × 10 families × 3 λ × 2 ε), ascent."""
    out = []
    verdicts = ("holds", "fails", "inconclusive")
    families = [f"family-{i}" for i in range(10)]
    for m in METHODS[1:]:
        for p in ("equal-step", "tuned", "pg-at-effective-step"):
            for i, fam in enumerate(families):
                for j, lam in enumerate((1e-3, 0.1, 10.0)):
                    for eps in ("loose", "tight"):
                        out.append(
                            CheckResult(
                                "c1.faster-than-pg",
                                "C1: fewer iterations than PG",
                                m,
                                {"family": fam, "protocol": p, "damping": lam, "epsilon": eps, "steps": [1, 10]},
                                {"T_method": 10 + i, "T_pg": math.inf, "ratio": math.nan},
                                {"T_pg": "T_method < T_pg"},
                                verdicts[(i + j) % 3],
                                slack=float(i - j),
                                evidence={"reason": "x" * 80},
                            )
                        )
    for m in METHODS:
        for part in ("direction", "monotone"):
            for fam in families[:5]:
                out.append(
                    CheckResult(
                        "ascent",
                        "Ascent: ⟨d, ∇J⟩ ≥ 0",
                        m,
                        {"family": fam, "damping": 0.1, "part": part},
                        {"min_effective_step": 0.0},
                        {"min_effective_step": ">= 0"},
                        "holds",
                    )
                )
    return out


@pytest.fixture(scope="module")
def v2_replay() -> CheckResult:
    return corpus.replay_result(V2_SEED1)


def test_summary_is_one_page_on_a_realistic_result_set(v2_replay: CheckResult) -> None:
    results = [*_suite(), v2_replay]
    assert len(results) > 500
    text = summary(results, {"mode": "quick"})
    assert len(text.encode("utf-8")) < 20_000
    assert "## Matrix" in text and "[`c1.faster-than-pg`](report/c1.faster-than-pg.md)" in text
    # a mixed row names the condition that separates its verdicts, with the counts per value
    line = next(x for x in text.splitlines() if x.startswith("- `r1-grad` [tuned]"))
    assert "holds 20 / fails 20 / ? 20" in line and "by `" in line


def test_corpus_counterexample_fails_the_related_part_beside_the_suite_verdict(v2_replay: CheckResult) -> None:
    assert v2_replay.claim == "ascent.stated-step" and v2_replay.verdict == "fails"
    assert v2_replay.conditions["source"] == "corpus" and v2_replay.conditions["part"] == "direction"
    assert v2_replay.conditions["file"] == "corpus/ascent.stated-step-r1-same-seed1.json"
    assert v2_replay.measured["cosine"] == pytest.approx(-0.145, abs=1e-3)
    results = [*_suite(), v2_replay]
    text = summary(results, {"mode": "quick"})
    line = next(x for x in text.splitlines() if x.startswith("- `r1-same` [direction]") and "suite" in x)
    assert "**fails**: counterexample [ascent.stated-step-r1-same-seed1.json]" in line and "cos -0.145" in line
    assert "holds on the suite's instances (5 of 5)" in line and "same inequality" in line
    # the other methods' direction part has no counterexample: a plain holds
    assert "`r1-grad` [direction] (5)" in text
    matrix = next(x for x in text.splitlines() if x.startswith("| [`ascent`]") and "| direction |" in x)
    assert "✓5 · cx ✗1" in _cells(matrix)[2 + list(report._method_order(results)).index("r1-same")]
    # the corpus-backed claim has its own row, and the terminal table never says a bare holds
    assert any(x.startswith("| [`ascent.stated-step`]") for x in text.splitlines())
    table = verdict_table(results, [])
    row = next(x for x in table.splitlines() if x.startswith("ascent ") and "r1-same [direction]" in x)
    assert "fails (cx)" in row and row.split()[-3:] == ["5", "0", "0"]
    # without the replay the same row holds
    assert "fails (cx)" not in verdict_table(_suite(), [])


def test_a_record_that_no_longer_violates_says_so(tmp_path: Path) -> None:
    folder = tmp_path / "corpus"
    folder.mkdir()
    rec = json.loads(V2_SEED1.read_text())
    shutil.copy(CORPUS / rec["mdp"], folder / rec["mdp"])
    theta = np.asarray(rec["theta"], dtype=float)
    rec["theta"] = np.zeros_like(theta).tolist()  # the uniform policy: V2 is an ascent direction there
    (folder / V2_SEED1.name).write_text(json.dumps(rec))
    (folder / "broken.json").write_text("{not json")
    results = corpus.replay_all(folder)
    by_file = {Path(r.conditions["file"]).name: r for r in results}
    fixed, broken = by_file[V2_SEED1.name], by_file["broken.json"]
    assert fixed.verdict == "holds" and "no longer violates" in fixed.evidence["reason"]
    assert fixed.measured["cosine"] > 0 and fixed.slack is not None and fixed.slack > 0
    assert broken.verdict == "inconclusive" and "cannot replay" in broken.evidence["reason"]
    text = summary([*_suite(), fixed], {"mode": "quick"})
    line = next(x for x in text.splitlines() if x.startswith("- `r1-same` [direction]"))
    assert "**no longer violates**" in line and "**fails**" not in line
    assert "fails (cx)" not in verdict_table([*_suite(), fixed], [])
    # a selection replays only the records of the selected claims or of claims related to them
    assert corpus.replay_all(folder, ["pdl"]) == []
    assert [r.claim for r in corpus.replay_all(folder, ["ascent"])] == ["ascent.stated-step"]


def test_a_pipe_in_a_condition_does_not_shift_the_verdict_column(tmp_path: Path) -> None:
    r = CheckResult("demo", "x ≤ 1", "pg", {"instance": "a|b", "note": "c\\|d"}, {"x": 0.5}, {"x": 1.0}, "fails")
    assert cell("a|b") == "a\\|b" and cell("two\nlines") == "two lines"
    write_report(tmp_path, [r], {"mode": "quick"}, [])
    detail = (tmp_path / "report" / "demo.md").read_text()
    row = next(x for x in detail.splitlines() if x.startswith("| pg |"))
    cells = _cells(row)
    assert len(cells) == 6 and cells[-1] == "**fails**"
    assert "a\\|b" in cells[1]
    # the unescaped writer would have split the row: the test's splitter sees it
    assert len(_cells("| pg | instance=a|b | x | y | | **fails** |")) == 7


def test_output_folder_layout_and_index(tmp_path: Path, v2_replay: CheckResult) -> None:
    results = [*_suite(), v2_replay]
    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "stale.md").write_text("old")
    figs = {"ascent": ["figures/ascent_map.png"]}
    write_report(tmp_path, results, {"mode": "quick"}, [], {"ascent": "ASCENT-SUMMARY"}, figs)
    names = sorted(p.name for p in (tmp_path / "report").iterdir())
    assert names == ["ascent.md", "ascent.stated-step.md", "c1.faster-than-pg.md"]
    index = (tmp_path / "report.md").read_text()
    for link in ("(summary.md)", "(report/ascent.md)", "(report/ascent.stated-step.md)", "(figures/ascent_map.png)"):
        assert link in index
    assert "(figures/ascent_map.json)" in index
    detail = (tmp_path / "report" / "ascent.md").read_text()
    assert "ASCENT-SUMMARY" in detail and "![ascent: ascent_map](../figures/ascent_map.png)" in detail
    assert "`ascent.stated-step` r1-same: **fails**" in detail  # the related replay, with its relation
    assert markdown(results, {"mode": "quick"}, [], None, figs) == index
    page = (tmp_path / "summary.md").read_text()
    assert "## The checks' own tables" in page and "### Tables of [`ascent`](report/ascent.md)" in page
    assert page.index("ASCENT-SUMMARY") > page.index("## Per claim and method")


def test_a_checks_summary_goes_under_its_own_heading_with_its_headings_demoted() -> None:
    text = summary(_suite(), {"mode": "quick"}, details={"c1.faster-than-pg": "# Title\n\n## Sub\n\nbody", "x": " "})
    tail = text.split("## The checks' own tables", 1)[1]
    assert "### Tables of [`c1.faster-than-pg`]" in tail and "\n#### Title\n" in tail and "\n##### Sub\n" in tail
    assert "Tables of [`x`]" not in tail  # an empty summary adds no section
    assert "## The checks' own tables" not in summary(_suite(), {"mode": "quick"})


def test_results_csv_reads_back_with_pandas(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    results = [
        CheckResult(
            "demo",
            "s",
            "pg",
            {"gamma": 0.9, "param": {"kind": "log-linear", "k": 4}, "label": "a,b|c"},
            {"T_method": 12, "gap": math.nan, "ratio": math.inf, "low": -math.inf, "arr": np.array([1.0, np.nan])},
            {"x": 1.0},
            "holds",
            slack=0.25,
        ),
        CheckResult("demo", "s", "r1-grad", {"gamma": 0.5}, {"T_method": None, "gap": 0.125}, {}, "fails"),
    ]
    write_csv(tmp_path / "results.csv", results)
    df = load_results(tmp_path)
    assert len(df) == 2 and list(df.columns[:4]) == ["claim", "variant", "verdict", "slack"]
    assert df["conditions.gamma"].dtype == np.float64 and list(df["conditions.gamma"]) == [0.9, 0.5]
    assert df.loc[0, "conditions.param.kind"] == "log-linear" and df.loc[0, "conditions.label"] == "a,b|c"
    assert df["measured.gap"].dtype == np.float64 and math.isnan(df.loc[0, "measured.gap"])
    assert df.loc[1, "measured.gap"] == 0.125
    assert df["measured.ratio"].dtype == np.float64 and df.loc[0, "measured.ratio"] == math.inf
    assert df.loc[0, "measured.low"] == -math.inf
    assert df.loc[0, "measured.T_method"] == 12 and math.isnan(df.loc[1, "measured.T_method"])
    assert json.loads(df.loc[0, "measured.arr"]) == [1.0, "nan"]
    assert math.isnan(df.loc[1, "slack"]) and df.loc[0, "slack"] == 0.25
    assert isinstance(df, pd.DataFrame)
    with pytest.raises(ValueError, match=r"no results\.csv"):
        load_results(tmp_path / "nowhere")


def test_load_results_names_the_extra_without_pandas(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas raises ImportError
    with pytest.raises(ImportError, match=r"r1theory\[analysis\]"):
        load_results(tmp_path)


def test_verify_replays_the_corpus_into_the_claims_verdicts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from proofs_checks import runner

    suite = [r for r in _suite() if r.claim == "ascent"]
    fake = SimpleNamespace(CLAIM="ascent", __name__="proofs_checks.ascent", check=lambda ctx: suite)
    monkeypatch.setattr(runner, "select", lambda only: [fake])
    folder = tmp_path / "corpus"
    folder.mkdir()
    for name in (V2_SEED1.name, json.loads(V2_SEED1.read_text())["mdp"]):
        shutil.copy(CORPUS / name, folder / name)
    out = tmp_path / "out"
    assert runner.verify("quick", "ascent", out, 1, progress=False, corpus=folder) == 0
    doc = json.loads((out / "results.json").read_text())["results"]
    replays = [r for r in doc if r["conditions"].get("source") == "corpus"]
    assert [(r["claim"], r["verdict"]) for r in replays] == [("ascent.stated-step", "fails")]
    text = (out / "summary.md").read_text()
    assert "**fails**: counterexample" in text and "holds on the suite's instances (5 of 5)" in text
    df_rows = (out / "results.csv").read_text().splitlines()
    assert len(df_rows) == 1 + len(suite) + 1 and "conditions.source" in df_rows[0]
