"""What ``r1theory verify`` writes: the verdict table (terminal) and the output folder.

The output folder (:func:`write_report`):

* ``summary.md`` — one page that answers first (:func:`summary`): a claims × methods matrix of verdict counts
  and, per claim and method, in sentences, under which conditions it holds, fails or is undecided; the corpus
  counterexamples (:mod:`proofs_checks.corpus`) are stated beside the suite's verdict, never hidden by it;
* ``report/<claim>.md`` — the detail of one claim (:func:`claim_markdown`): statement, the check's own summary,
  figures, every CheckResult and its evidence;
* ``report.md`` — the index (:func:`markdown`): links to the summary, the claim files and the figures;
* ``results.json`` (:func:`write_results`) and ``results.csv`` (:func:`write_csv`, one row per CheckResult,
  conditions, measured values, bounds and evidence flattened to dotted columns; :func:`load_results` reads it
  into a pandas DataFrame).

Every markdown table cell goes through :func:`cell` (one escaping function: ``|`` and backslashes escaped,
line breaks removed), so a condition containing ``|`` cannot shift a table's columns.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tabular_mdps.files import atomic_write

from . import claims as claims_registry
from .corpus import bearing, is_replay
from .result import CheckResult, jsonable

if TYPE_CHECKING:
    import pandas

#: Verdict symbols of the summary's matrix.
SYMBOLS = {"holds": "✓", "fails": "✗", "inconclusive": "?"}

#: Folder (inside the output folder) of the per-claim detail files.
CLAIM_FOLDER = "report"


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


def cell(value: Any) -> str:
    r"""One markdown table cell: :func:`fmt` of ``value`` (a string as is) with ``\`` and ``|`` escaped.

    GitHub-flavoured markdown splits a row at every ``|`` not escaped as ``\|`` (inside code spans too), so a
    condition such as ``"a|b"`` would otherwise shift every later column; backslashes are doubled first so that
    ``\|`` in the text stays text. Line breaks become spaces (a row is one line).
    """
    text = value if isinstance(value, str) else fmt(value)
    text = text.replace("\\", "\\\\").replace("|", "\\|")
    return " ".join(text.splitlines())


def table_row(cells: Sequence[Any]) -> str:
    """A markdown table row of escaped cells (:func:`cell`)."""
    return "| " + " | ".join(cell(c) for c in cells) + " |"


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (:func:`tabular_mdps.files.atomic_write`)."""
    atomic_write(path, text.encode("utf-8"))


def write_results(
    path: Path, results: list[CheckResult], provenance: dict[str, Any], crashed: list[dict[str, str]]
) -> None:
    """``results.json``: provenance, the CheckResults and any crashed checks."""
    doc = {"provenance": jsonable(provenance), "results": [r.to_dict() for r in results], "crashed": crashed}
    write_atomic(path, json.dumps(doc, indent=1, allow_nan=False) + "\n")


def sub_label(r: CheckResult) -> str | None:
    """The protocol or part of the test when the conditions name one; ``corpus`` (and the part) for a replay."""
    extra = r.conditions.get("protocol") or r.conditions.get("part")
    if is_replay(r):
        return f"corpus, {extra}" if extra else "corpus"
    return str(extra) if extra else None


def row_label(r: CheckResult) -> str:
    """The variant, refined by the protocol or part of the test (or ``corpus`` for a replayed counterexample)."""
    extra = sub_label(r)
    return f"{r.variant} [{extra}]" if extra else r.variant


def _counts(rs: Sequence[CheckResult]) -> dict[str, int]:
    n = {"holds": 0, "fails": 0, "inconclusive": 0}
    for r in rs:
        n[r.verdict] += 1
    return n


def summary_rows(results: list[CheckResult]) -> list[tuple[str, str, dict[str, int]]]:
    """(claim, variant, verdict counts) in order of first appearance."""
    groups: dict[tuple[str, str], list[CheckResult]] = defaultdict(list)
    for r in results:
        groups[(r.claim, row_label(r))].append(r)
    return [(c, v, _counts(rs)) for (c, v), rs in groups.items()]


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


def _decisive(results: Sequence[CheckResult], claim: str, part: str | None, variant: str) -> list[CheckResult]:
    """Replays of another claim's counterexamples that decide (claim, part, variant): a ``same`` relation."""
    return [r for r, rel in bearing(results, claim, part) if r.variant == variant and rel is not None and rel.same]


def verdict_table(results: list[CheckResult], crashed: list[dict[str, str]]) -> str:
    """Plain-text table, one row per (claim, variant); a suite row a corpus counterexample fails says so."""
    groups: dict[tuple[str, str], list[CheckResult]] = defaultdict(list)
    for r in results:
        groups[(r.claim, row_label(r))].append(r)
    rows = [(c, v, _counts(rs), rs[0]) for (c, v), rs in groups.items()]
    w1 = max([len("claim"), *(len(c) for c, _, _, _ in rows)])
    w2 = max([len("variant"), *(len(v) for _, v, _, _ in rows)])
    lines = [f"{'claim':<{w1}}  {'variant':<{w2}}  {'verdict':<12}  holds  fails  inconcl."]
    lines.append("-" * len(lines[0]))
    marked = False
    for c, v, n, first in rows:
        word = overall(n)
        if not is_replay(first):
            part = first.conditions.get("part")
            own = [r for r in results if is_replay(r) and r.claim == c and r.variant == first.variant]
            if any(r.verdict == "fails" for r in own + _decisive(results, c, part, first.variant)):
                word, marked = "fails (cx)", True
        lines.append(f"{c:<{w1}}  {v:<{w2}}  {word:<12}  {n['holds']:>5}  {n['fails']:>5}  {n['inconclusive']:>8}")
    for crash in crashed:
        lines.append(f"{crash['claim']:<{w1}}  {'-':<{w2}}  CRASHED       {crash['error']}")
    lines.append("(mixed: holds under some of the tested conditions and fails under others; * some inconclusive)")
    if marked:
        lines.append(
            "(fails (cx): a counterexample in corpus/ violates this inequality (see summary.md); the counts are "
            "the suite's; [corpus] rows are the replayed records)"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------------
# results.csv and load_results
# ---------------------------------------------------------------------------------------------------------------
def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    """Nested dictionaries to dotted keys (``conditions.param.kind``); other values stay as they are."""
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}", v, out)
    else:
        out[prefix] = value


def csv_value(value: Any) -> str:
    """The text of one CSV cell: numbers as ``repr`` (read back bit for bit), NaN and None as an empty cell.

    ±∞ are written ``inf`` / ``-inf``, which :func:`pandas.read_csv` reads as floats; booleans ``True`` /
    ``False``; lists and arrays as JSON (non-finite entries as strings, :func:`proofs_checks.result.jsonable`).
    """
    if value is None:
        return ""
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        f = float(value)
        if math.isnan(f):
            return ""
        if math.isinf(f):
            return "inf" if f > 0 else "-inf"
        return repr(f)
    if isinstance(value, str):
        return value
    return json.dumps(jsonable(value), ensure_ascii=False, allow_nan=False)


def csv_rows(results: Sequence[CheckResult]) -> tuple[list[str], list[dict[str, str]]]:
    """(columns, rows) of ``results.csv``: claim, variant, verdict, slack, then the flattened fields, statement last."""
    rows: list[dict[str, str]] = []
    columns: dict[str, None] = dict.fromkeys(("claim", "variant", "verdict", "slack"))
    sections: dict[str, dict[str, None]] = {k: {} for k in ("conditions", "measured", "bound", "evidence")}
    for r in results:
        flat: dict[str, Any] = {"claim": r.claim, "variant": r.variant, "verdict": r.verdict, "slack": r.slack}
        for name, keys in sections.items():
            part: dict[str, Any] = {}
            _flatten(name, getattr(r, name), part)
            part.pop(name, None)  # an empty dictionary has no column
            keys.update(dict.fromkeys(part))
            flat.update(part)
        flat["statement"] = r.statement
        rows.append({k: csv_value(v) for k, v in flat.items()})
    for keys in sections.values():
        columns.update(keys)
    columns["statement"] = None
    return list(columns), rows


def write_csv(path: Path, results: Sequence[CheckResult]) -> None:
    """``results.csv``: one row per CheckResult (:func:`csv_rows`, :func:`csv_value`), written atomically."""
    columns, rows = csv_rows(results)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_atomic(path, buf.getvalue())


def load_results(folder: str | os.PathLike[str]) -> pandas.DataFrame:
    """The CheckResults of an output folder (``FOLDER/results.csv``) as a :class:`pandas.DataFrame`.

    One row per CheckResult; columns ``claim``, ``variant``, ``verdict``, ``slack``, ``conditions.*``,
    ``measured.*``, ``bound.*``, ``evidence.*`` (nested dictionaries flattened with dots) and ``statement``.
    Empty cells are NaN (a value that was NaN or absent), ``inf`` is a float; no other text is read as missing.

    Needs pandas, the optional extra ``analysis``: ``pip install 'r1theory[analysis]'``.

    Raises
    ------
    ImportError
        pandas is not installed (the message names the extra).
    ValueError
        ``folder`` has no ``results.csv`` (run ``r1theory verify --out FOLDER`` first).
    """
    try:
        import pandas as pd
    except ImportError as exc:
        raise ImportError(
            "proofs_checks.load_results needs pandas, the optional extra 'analysis': pip install 'r1theory[analysis]'"
        ) from exc
    path = Path(folder) / "results.csv"
    if not path.is_file():
        raise ValueError(f"folder {folder}: no results.csv in it (run `r1theory verify --out {folder}` first)")
    return pd.read_csv(path, keep_default_na=False, na_values=[""])


# ---------------------------------------------------------------------------------------------------------------
# summary.md
# ---------------------------------------------------------------------------------------------------------------
def claim_file(claim: str) -> str:
    """``report/<claim>.md``, relative to the output folder (characters other than ``[A-Za-z0-9._-]`` as ``_``)."""
    return f"{CLAIM_FOLDER}/{re.sub(r'[^A-Za-z0-9._-]', '_', claim)}.md"


def _method_order(results: Sequence[CheckResult]) -> list[str]:
    """The variants present: the method registry's order first, then the others in order of appearance."""
    from r1theory import METHODS

    seen = list(dict.fromkeys(r.variant for r in results))
    return [m for m in METHODS if m in seen] + [m for m in seen if m not in METHODS]


def _counts_text(n: dict[str, int]) -> str:
    """``holds 12 / fails 3 / ? 5`` (zeros left out)."""
    parts = [f"{w} {n[k]}" for k, w in (("holds", "holds"), ("fails", "fails"), ("inconclusive", "?")) if n[k]]
    return " / ".join(parts) or "none"


def _symbols(n: dict[str, int]) -> str:
    """``✓12 ✗3 ?5`` (zeros left out)."""
    return " ".join(f"{SYMBOLS[k]}{n[k]}" for k in ("holds", "fails", "inconclusive") if n[k])


def _scalar_conditions(r: CheckResult) -> dict[str, Any]:
    """The conditions as dotted scalar entries (lists and the corpus bookkeeping left out)."""
    flat: dict[str, Any] = {}
    _flatten("", r.conditions, flat)
    out = {}
    for k, v in flat.items():
        key = k[1:]
        if key in ("source", "file", "part", "protocol") or not (v is None or isinstance(v, str | int | float)):
            continue
        out[key] = v
    return out


def split_by_condition(rs: Sequence[CheckResult], max_values: int = 6) -> tuple[str, list[tuple[Any, dict[str, int]]]]:
    """The one condition that best separates the verdicts of ``rs``, and the verdict counts per value.

    Among the scalar conditions taking 2 to ``max_values`` values, the one whose values predict the verdict
    best (the most results share the majority verdict of their value; ties: fewer values); ("", []) when no
    condition varies.
    """
    conds = [_scalar_conditions(r) for r in rs]
    keys = list(dict.fromkeys(k for c in conds for k in c))
    best: tuple[int, int, str] | None = None
    for k in keys:
        vals = [c.get(k) for c in conds]
        distinct = list(dict.fromkeys(vals))
        if not 2 <= len(distinct) <= max_values:
            continue
        per: dict[Any, Counter[str]] = defaultdict(Counter)
        for v, r in zip(vals, rs, strict=True):
            per[v][r.verdict] += 1
        purity = sum(c.most_common(1)[0][1] for c in per.values())
        cand = (purity, -len(distinct), k)
        if best is None or cand[:2] > best[:2]:
            best = cand
    if best is None:
        return "", []
    key = best[2]
    groups: dict[Any, list[CheckResult]] = defaultdict(list)
    for c, r in zip(conds, rs, strict=True):
        groups[c.get(key)].append(r)
    return key, [(v, _counts(g)) for v, g in groups.items()]


def conditions_sentence(rs: Sequence[CheckResult]) -> str:
    """Where a mixed group holds, fails or is undecided, by the condition that best separates the verdicts."""
    key, split = split_by_condition(rs)
    if not split:
        return "no tested condition separates the verdicts"
    pure = all(sum(1 for k in n if n[k]) == 1 for _, n in split)
    by = "; ".join(f"{fmt(v)}: {_symbols(n)}" for v, n in split)
    return f"{'exactly' if pure else 'mostly'} by `{key}` — {by}"


def _cx_phrase(r: CheckResult, out: Path | None, links: bool = True) -> str:
    """``[file](link) (cos −0.145)`` for one replayed record (the file name as code without ``links``)."""
    name = Path(str(r.conditions.get("file", "?"))).name
    path = r.evidence.get("path")
    link = os.path.relpath(path, out).replace(os.sep, "/") if (out is not None and path) else str(r.conditions["file"])
    m = r.measured
    if "cosine" in m:
        what = f"cos {m['cosine']:.3g}"
    elif "value" in m and isinstance(m["value"], float):
        bound = f"{r.bound.get('relation', '')} {r.bound.get('value', 0):.3g}"
        what = f"{m['quantity']} = {m['value']:.3g} vs bound {bound}"
    else:
        what = str(r.evidence.get("reason", ""))[:100]
    kind = r.conditions.get("param", "tabular")
    ref = f"[{name}]({link})" if links else f"`{name}`"
    return f"{ref} ({what}{'' if kind == 'tabular' else f', {kind} policy'})"


def corpus_sentence(replays: Sequence[CheckResult], out: Path | None, links: bool = True) -> str:
    """What the replayed counterexamples of one row say: fails with the strongest one, no longer violates, …."""
    bits = []
    fails = sorted(
        (r for r in replays if r.verdict == "fails"),
        key=lambda r: (r.conditions.get("param", "tabular") != "tabular", r.slack if r.slack is not None else 0.0),
    )
    if fails:
        kinds = Counter(str(r.conditions.get("param", "tabular")) for r in fails)
        more = f" and {len(fails) - 1} more" if len(fails) > 1 else ""
        by_kind = f" ({', '.join(f'{n} {k}' for k, n in kinds.items())})" if len(kinds) > 1 else ""
        bits.append(f"**fails**: counterexample {_cx_phrase(fails[0], out, links)}{more}{by_kind}")
    for r in replays:
        if r.verdict == "holds":
            bits.append(f"counterexample {_cx_phrase(r, out, links)} **no longer violates** (re-measured)")
        elif r.verdict == "inconclusive":
            reason = str(r.evidence.get("reason", ""))[:120]
            bits.append(f"counterexample {_cx_phrase(r, out, links)} undecided: {reason}")
    return "; ".join(bits)


def _statement(claim: str, rs: Sequence[CheckResult], limit: int = 220) -> str:
    text = rs[0].statement if rs else ""
    try:
        text = claims_registry.get(claim).statement
    except ValueError:
        pass
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _rows(results: Sequence[CheckResult]) -> dict[str, dict[tuple[str | None, str], list[CheckResult]]]:
    """Map claim → (part or protocol, variant) → results, in order of first appearance."""
    rows: dict[str, dict[tuple[str | None, str], list[CheckResult]]] = defaultdict(lambda: defaultdict(list))
    for r in results:
        sub = r.conditions.get("protocol") or r.conditions.get("part")
        rows[r.claim][(None if sub is None else str(sub), r.variant)].append(r)
    return rows


def _split(
    results: Sequence[CheckResult], claim: str, sub: str | None, variant: str, rs: Sequence[CheckResult]
) -> tuple[list[CheckResult], list[CheckResult]]:
    """(suite results, deciding replays) of one row: its own replays, and for a suite row the ``same`` relations'."""
    suite = [r for r in rs if not is_replay(r)]
    cx = [r for r in rs if is_replay(r)]
    if suite:
        cx += _decisive(results, claim, sub, variant)
    return suite, cx


def summary(
    results: Sequence[CheckResult],
    provenance: dict[str, Any],
    crashed: Sequence[dict[str, str]] = (),
    out: Path | None = None,
    links: bool = True,
    details: Mapping[str, str] | None = None,
) -> str:
    """``summary.md``: per claim and method, where it holds, fails or is undecided, and the evidence against it.

    A row is (claim, part or protocol, method). Its suite verdict counts come from the check's CheckResults;
    the replayed counterexamples that decide it (:func:`proofs_checks.corpus.bearing`: its own records, or a
    related claim's with a ``same`` relation) are stated first — "fails: counterexample …" — and the suite's
    counts separately, "holds on the suite's instances"; related records of another statement are listed
    with the relation, not counted. ``out`` (the output folder) makes the counterexample links relative to it.
    Without ``links`` (a page outside the output folder, :mod:`proofs_checks.findings`), claims and files are
    named, not linked. ``details`` maps a claim to its check's own summary (the check module's ``summarize``:
    C1's per-family tables, C2's per-instance exponents, trapping and regimes, the SMAC comparisons;
    :func:`proofs_checks.runner.check_summaries`); they follow the per-claim sentences, one section per claim.
    """

    def ref(claim: str) -> str:
        return f"[`{claim}`]({claim_file(claim)})" if links else f"`{claim}`"

    rows = _rows(results)
    methods = _method_order(results)
    n_replays = sum(is_replay(r) for r in results)
    lines = [
        "# r1theory: what holds, what fails",
        "",
        f"Mode `{provenance.get('mode')}`, git {provenance.get('git_revision') or 'n/a'}: "
        f"{len(results) - n_replays} results on the suite's instances, {n_replays} counterexamples of corpus/ "
        "replayed (re-measured). "
        + (
            f"Details: [report.md](report.md) (index), one file per claim in [{CLAIM_FOLDER}/]({CLAIM_FOLDER}/); "
            "data: `results.csv` (`proofs_checks.load_results`), `results.json`."
            if links
            else "Details: the run's report.md and report/<claim>.md; data: its results.csv and results.json."
        ),
        "",
        "## Matrix",
        "",
        "Cells: verdict counts on the suite's instances (✓ holds, ✗ fails, ? undecided); `cx` the corpus "
        "counterexamples that decide the row (✗ still violates, ✓ no longer violates); empty: not tested.",
        "",
        table_row(["claim", "part", *methods]),
        "|---|---|" + "---|" * len(methods),
    ]
    for claim, groups in rows.items():
        subs = list(dict.fromkeys(sub for sub, _ in groups))
        for sub in subs:
            cells = []
            for m in methods:
                rs = groups.get((sub, m), [])
                suite, cx = _split(results, claim, sub, m, rs)
                text = _symbols(_counts(suite)) if suite else ""
                if cx and suite:
                    text += f" · cx {_symbols(_counts(cx))}"
                elif cx:
                    text = f"cx {_symbols(_counts(cx))}"
                cells.append(text)
            link = f"[`{cell(claim)}`]({claim_file(claim)})" if links else f"`{cell(claim)}`"
            lines.append("| " + " | ".join([link, cell(sub or ""), *(cell(c) for c in cells)]) + " |")
    lines += ["", "## Per claim and method", ""]
    for claim, groups in rows.items():
        rs_all = [r for g in groups.values() for r in g]
        lines += [f"### {ref(claim)}", "", f"> {_statement(claim, rs_all)}", ""]
        if all(is_replay(r) for r in rs_all):
            lines += ["Not verified on the suite: a searched claim; its counterexamples in corpus/:", ""]
        all_hold: list[str] = []
        for (sub, m), rs in groups.items():
            name = f"`{m}`" + (f" [{sub}]" if sub else "")
            suite, cx = _split(results, claim, sub, m, rs)
            n = _counts(suite)
            if suite and not cx and n["holds"] == len(suite):
                all_hold.append(f"{name} ({n['holds']})")
                continue
            bits = []
            if cx:
                bits.append(corpus_sentence(cx, out, links))
                ids = {id(r) for r in cx}
                rels = {r.claim: rel for r, rel in bearing(results, claim, sub) if id(r) in ids and rel is not None}
                bits += [f"counterexample(s) of `{other}`: {rel.how}" for other, rel in rels.items()]
            if suite:
                if n["holds"] == len(suite):
                    bits.append(f"holds on the suite's instances ({n['holds']} of {len(suite)})")
                elif n["fails"] == len(suite):
                    bits.append(f"fails on the suite's instances ({n['fails']} of {len(suite)})")
                elif n["inconclusive"] == len(suite):
                    bits.append(f"undecided on the suite's instances ({len(suite)})")
                elif n["fails"] <= 2:
                    at = "; ".join(
                        fmt(dict(list(_scalar_conditions(r).items())[:4])) for r in suite if r.verdict == "fails"
                    )
                    bits.append(f"on the suite's instances {_counts_text(n)}; fails at {at}")
                else:
                    bits.append(f"on the suite's instances {_counts_text(n)}, {conditions_sentence(suite)}")
            lines.append(f"- {name}: " + "; ".join(bits) + ".")
        if all_hold:
            held = ", ".join(all_hold)
            lines.append(f"- holds on all the suite's instances, no counterexample in corpus/: {held}.")
        seen: set[str] = set()
        for other, rel in claims_registry.related_to(claim):
            if rel.same or other.id in seen:
                continue
            seen.add(other.id)
            fails = [r for r in results if is_replay(r) and r.claim == other.id and r.verdict == "fails"]
            if fails:
                ms = ", ".join(f"`{m}`" for m in dict.fromkeys(r.variant for r in fails))
                lines.append(
                    f"- related, not counted: {ref(other.id)} has {len(fails)} "
                    f"counterexample(s) in corpus/ ({ms}): {rel.how}."
                )
        lines.append("")
    shown = [(claim, text.strip()) for claim, text in (details or {}).items() if text and text.strip()]
    if shown:
        lines += ["## The checks' own tables", ""]
        for claim, text in shown:
            lines += [f"### Tables of {ref(claim)}", "", _demote(text), ""]
    if crashed:
        lines += ["## Crashed", "", *(f"- `{c['claim']}`: {c['error']}" for c in crashed), ""]
    return "\n".join(lines)


def _demote(text: str) -> str:
    """A check's summary under a level-3 heading: its own markdown headings moved below level 3."""
    return re.sub(r"^(#{1,6}) ", lambda m: "#" * min(len(m.group(1)) + 3, 6) + " ", text, flags=re.MULTILINE)


# ---------------------------------------------------------------------------------------------------------------
# report/<claim>.md and the index report.md
# ---------------------------------------------------------------------------------------------------------------
def claim_markdown(
    claim: str,
    results: Sequence[CheckResult],
    summary_text: str | None = None,
    figures: Sequence[str] = (),
    prefix: str = "../",
) -> str:
    """``report/<claim>.md``: statement, the check's summary, figures, every CheckResult, evidence, related replays.

    ``results`` are all the run's results (this claim's are selected); ``figures`` paths relative to the output
    folder, written with ``prefix`` (the claim file sits one folder down).
    """
    rs = [r for r in results if r.claim == claim]
    out = [f"# `{claim}`", "", f"[index]({prefix}report.md) · [summary]({prefix}summary.md)", ""]
    for s in dict.fromkeys(r.statement for r in rs):
        out += [f"> {s}", ""]
    if summary_text:
        out += [summary_text, ""]
    for path in figures:
        out += [f"![{claim}: {Path(path).stem}]({prefix}{path})", ""]
    out += [
        table_row(["variant", "conditions", "measured", "bound", "slack", "verdict"]),
        "|---|---|---|---|---|---|",
    ]
    for r in rs:
        slack = "" if r.slack is None else f"{r.slack:.3g}"
        out.append(table_row([r.variant, r.conditions, r.measured, r.bound, slack, f"**{r.verdict}**"]))
    notes = [(r, r.evidence) for r in rs if r.evidence]
    if notes:
        out += ["", "Evidence:", ""]
        for r, ev in notes:
            figs = ev.get("figure")
            text = fmt({k: v for k, v in ev.items() if k not in ("figure", "path")})
            out.append(f"- {r.variant} ({fmt(r.conditions)}): {text}")
            if figs:
                out.append(f"\n  ![{claim} {r.variant}]({figs})")
    related = [(r, rel) for r, rel in bearing(results, claim, None) if rel is not None]
    parts = {r.conditions.get("part") for r in rs} - {None}
    related += [(r, rel) for p in parts for r, rel in bearing(results, claim, p) if rel is not None]
    if related:
        out += ["", "Counterexamples of related claims (replayed from corpus/):", ""]
        unique = {id(r): (r, rel) for r, rel in related}
        for r, rel in unique.values():
            role = "decides this part" if rel.same else "not counted"
            out.append(f"- `{r.claim}` {r.variant}: **{r.verdict}**, {r.conditions.get('file')} — {rel.how} ({role})")
    out.append("")
    return "\n".join(out)


def markdown(
    results: list[CheckResult],
    provenance: dict[str, Any],
    crashed: list[dict[str, str]],
    summaries: dict[str, str] | None = None,
    figures: dict[str, list[str]] | None = None,
) -> str:
    """``report.md``: the index — provenance, the verdict table, links to the summary, the claim files, figures.

    ``figures`` maps a claim to image paths relative to the output folder (each with its plotted data beside it,
    ``<name>.json``). ``summaries`` is accepted for the claim files (:func:`write_report`).
    """
    out = ["# r1theory verification report", ""]
    out.append(
        f"Mode `{provenance.get('mode')}`, r1theory {provenance.get('version')}, "
        f"git {provenance.get('git_revision') or 'n/a'}, numpy {provenance.get('numpy')}, "
        f"scipy {provenance.get('scipy')}. Verdicts: `holds` (measured within the bound or comparison), "
        "`fails` (a measured violation under the stated conditions), `inconclusive` (the conditions are not met "
        "or the measurement cannot decide)."
    )
    out += [
        "",
        "**Start with [summary.md](summary.md)**: per claim and method, where it holds, fails or is undecided, and "
        "the counterexamples of corpus/. Data: `results.csv` (one row per result; `proofs_checks.load_results`), "
        "`results.json`.",
        "",
        "## Claims",
        "",
    ]
    by_claim: dict[str, list[CheckResult]] = defaultdict(list)
    for r in results:
        by_claim[r.claim].append(r)
    for claim, rs in by_claim.items():
        kind = " (corpus replays)" if all(is_replay(r) for r in rs) else ""
        out.append(f"- [`{claim}`]({claim_file(claim)}){kind}: {_counts_text(_counts(rs))}")
    figs = [(c, p) for c, paths in (figures or {}).items() for p in paths]
    if figs:
        out += ["", "## Figures", ""]
        for path, claims_of in _by_path(figs).items():
            data = str(Path(path).with_suffix(".json"))
            out.append(f"- [{Path(path).stem}]({path}) (data: [{Path(data).name}]({data})): {', '.join(claims_of)}")
    out += ["", "## Verdicts", "", "```", verdict_table(results, crashed), "```", ""]
    if crashed:
        out += ["## Crashed checks", ""]
        out += [f"- `{c['claim']}`: {c['error']}" for c in crashed]
    return "\n".join(out) + "\n"


def _by_path(figs: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    paths: dict[str, list[str]] = defaultdict(list)
    for claim, path in figs:
        paths[path].append(claim)
    return paths


def write_report(
    out: Path,
    results: list[CheckResult],
    provenance: dict[str, Any],
    crashed: list[dict[str, str]],
    summaries: dict[str, str] | None = None,
    figures: dict[str, list[str]] | None = None,
) -> None:
    """Write the whole output folder (module docstring): results.json/.csv, summary.md, report/, report.md.

    Claim files of claims not in ``results`` (left by an earlier run in the same folder) are removed, so the
    folder describes this run only.

    Raises
    ------
    OSError
        A file cannot be written (full disk, permissions); the files already written are complete.
    """
    write_results(out / "results.json", results, provenance, crashed)
    write_csv(out / "results.csv", results)
    folder = out / CLAIM_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    current = set()
    for claim in dict.fromkeys(r.claim for r in results):
        path = out / claim_file(claim)
        current.add(path.name)
        text = claim_markdown(claim, results, (summaries or {}).get(claim), (figures or {}).get(claim, []))
        write_atomic(path, text)
    for stale in folder.glob("*.md"):
        if stale.name not in current:
            stale.unlink()
    write_atomic(out / "summary.md", summary(results, provenance, crashed, out, details=summaries))
    write_atomic(out / "report.md", markdown(results, provenance, crashed, summaries, figures))
