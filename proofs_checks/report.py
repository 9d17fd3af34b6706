"""Verdict table (terminal), ``report.md`` and ``results.json``."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from tabular_mdps.files import atomic_write

from .result import CheckResult, jsonable


def fmt(value: Any) -> str:
    """Compact human formatting of numbers, lists and dictionaries."""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{k}={fmt(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        if len(value) > 8:
            return "[" + ", ".join(fmt(v) for v in value[:8]) + f", … ({len(value)} items)]"
        return "[" + ", ".join(fmt(v) for v in value) + "]"
    return str(value)


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (:func:`tabular_mdps.files.atomic_write`)."""
    atomic_write(path, text.encode("utf-8"))


def write_results(
    path: Path, results: list[CheckResult], provenance: dict[str, Any], crashed: list[dict[str, str]]
) -> None:
    """``results.json``: provenance, the CheckResults and any crashed checks."""
    doc = {"provenance": jsonable(provenance), "results": [r.to_dict() for r in results], "crashed": crashed}
    write_atomic(path, json.dumps(doc, indent=1, allow_nan=False) + "\n")


def row_label(r: CheckResult) -> str:
    """The variant, refined by the protocol or part of the test when the conditions name one."""
    extra = r.conditions.get("protocol") or r.conditions.get("part")
    return f"{r.variant} [{extra}]" if extra else r.variant


def summary_rows(results: list[CheckResult]) -> list[tuple[str, str, dict[str, int]]]:
    """(claim, variant, verdict counts) in order of first appearance."""
    groups: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: {"holds": 0, "fails": 0, "inconclusive": 0})
    for r in results:
        groups[(r.claim, row_label(r))][r.verdict] += 1
    return [(c, v, n) for (c, v), n in groups.items()]


def overall(counts: dict[str, int]) -> str:
    """One word for a group: all holds → holds, all fails → fails, mixed → mixed."""
    decided = {k for k in ("holds", "fails") if counts[k]}
    if decided == {"holds"}:
        return "holds" if not counts["inconclusive"] else "holds*"
    if decided == {"fails"}:
        return "fails" if not counts["inconclusive"] else "fails*"
    if decided:
        return "mixed"
    return "inconclusive"


def verdict_table(results: list[CheckResult], crashed: list[dict[str, str]]) -> str:
    """Plain-text table, one row per (claim, variant)."""
    rows = summary_rows(results)
    w1 = max([len("claim"), *(len(c) for c, _, _ in rows)])
    w2 = max([len("variant"), *(len(v) for _, v, _ in rows)])
    lines = [f"{'claim':<{w1}}  {'variant':<{w2}}  {'verdict':<12}  holds  fails  inconcl."]
    lines.append("-" * len(lines[0]))
    for c, v, n in rows:
        lines.append(
            f"{c:<{w1}}  {v:<{w2}}  {overall(n):<12}  {n['holds']:>5}  {n['fails']:>5}  {n['inconclusive']:>8}"
        )
    for crash in crashed:
        lines.append(f"{crash['claim']:<{w1}}  {'-':<{w2}}  CRASHED       {crash['error']}")
    lines.append("(mixed: holds under some of the tested conditions and fails under others; * some inconclusive)")
    return "\n".join(lines)


def markdown(
    results: list[CheckResult],
    provenance: dict[str, Any],
    crashed: list[dict[str, str]],
    summaries: dict[str, str] | None = None,
    figures: dict[str, list[str]] | None = None,
) -> str:
    """``report.md``: the verdict table, then every claim with its statement, summary, conditions and evidence.

    ``figures`` maps a claim to image paths (relative to the report's folder) shown under its summary.
    """
    out = ["# r1theory verification report", ""]
    out.append(
        f"Mode `{provenance.get('mode')}`, r1theory {provenance.get('version')}, "
        f"git {provenance.get('git_revision') or 'n/a'}, numpy {provenance.get('numpy')}, "
        f"scipy {provenance.get('scipy')}. Verdicts: `holds` (measured within the bound or comparison), "
        "`fails` (a measured violation under the stated conditions), `inconclusive` (the conditions are not met "
        "or the measurement cannot decide)."
    )
    out += ["", "## Verdicts", "", "```", verdict_table(results, crashed), "```", ""]
    by_claim: dict[str, list[CheckResult]] = defaultdict(list)
    for r in results:
        by_claim[r.claim].append(r)
    for claim, rs in by_claim.items():
        out += [f"## `{claim}`", ""]
        statements = list(dict.fromkeys(r.statement for r in rs))
        for s in statements:
            out += [f"> {s}", ""]
        if summaries and summaries.get(claim):
            out += [summaries[claim], ""]
        for path in (figures or {}).get(claim, []):
            out += [f"![{claim}: {Path(path).stem}]({path})", ""]
        out += ["| variant | conditions | measured | bound | slack | verdict |", "|---|---|---|---|---|---|"]
        for r in rs:
            slack = "" if r.slack is None else f"{r.slack:.3g}"
            cells = [r.variant, fmt(r.conditions), fmt(r.measured), fmt(r.bound), slack, f"**{r.verdict}**"]
            out.append("| " + " | ".join(cells) + " |")
        notes = [(r, r.evidence) for r in rs if r.evidence]
        if notes:
            out += ["", "Evidence:", ""]
            for r, ev in notes:
                figs = ev.get("figure")
                text = fmt({k: v for k, v in ev.items() if k != "figure"})
                out.append(f"- {r.variant} ({fmt(r.conditions)}): {text}")
                if figs:
                    out.append(f"\n  ![{claim} {r.variant}]({figs})")
        out.append("")
    if crashed:
        out += ["## Crashed checks", ""]
        out += [f"- `{c['claim']}`: {c['error']}" for c in crashed]
    return "\n".join(out) + "\n"
