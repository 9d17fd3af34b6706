"""figures: one module per theory figure, drawn from the runs the checks made (docs/architecture.md).

Each figure module exposes

* ``NAME`` — the file stem (``DIR/figures/NAME.png`` and ``.pdf``);
* ``CLAIMS`` — the claim identifiers (``r1theory claims``) the figure illustrates in the report;
* ``data(ctx) -> dict`` — the numbers plotted, computed through the context's sweep (so every run a
  check already made is read from the cache, and only what is missing is computed);
* ``draw(data, path_stem) -> list[Path]`` — writes ``<stem>.png`` and ``<stem>.pdf`` deterministically (the
  formats of :func:`figures._style.save`: both unless the caller asked for fewer, see below).

:func:`draw_one` also saves the plotted numbers beside the images, ``<stem>.json`` (:func:`save_data`): the
``data`` dictionary with arrays as (nested) lists and NaN/±∞ as the JSON literals ``NaN`` / ``Infinity``
that Python's :func:`json.load` reads back as floats. JSON rather than ``.npz`` or ``.csv`` because the data
are nested (panels of dictionaries keyed by family, λ and method, of arrays of different lengths, with
titles and labels) — exactly what ``draw`` takes — so a figure is restyled with
``mod.draw(figures.load_data(path), stem)`` or re-plotted from the lists by any tool.

``r1theory figures`` / ``python -m figures`` redraws them all as PNG and PDF (:func:`main`, quick or full);
``r1theory verify`` embeds them in its report through :func:`for_report`, which writes PNG and PDF in full mode
and the PNG only in quick mode (:data:`QUICK_FORMATS`: the report embeds the PNG, and the PDFs are a third of
the drawing time); ``r1theory figures --quick --out DIR`` adds the PDFs of a quick run from its cache, drawing
only. Importing this package is cheap: the figure modules (and matplotlib) are imported on first use.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from proofs_checks.context import Context, Mode
    from proofs_checks.result import CheckResult
    from proofs_checks.studies import Study

#: Figure modules, in drawing order (the stochastic C2 figures last).
FIGURES: tuple[str, ...] = (
    "gap_curves",
    "c1_protocols",
    "iterations_vs_damping",
    "fisher_spectrum",
    "cosines",
    "ascent_map",
    "sample_complexity",
    "estimator_bias_variance",
    "smac_learning_curves",
)

#: CPU seconds of one process to draw and save each figure (quick mode; measured for #17). Only the order
#: matters: :func:`draw_all` hands the processes the longest first, so they finish together; a figure not
#: listed (a plugin's) counts as 1 s.
DRAW_SECONDS: dict[str, float] = {
    "estimator_bias_variance": 2.2,
    "sample_complexity": 1.8,
    "fisher_spectrum": 1.7,
    "ascent_map": 1.6,
    "c1_protocols": 1.3,
    "gap_curves": 1.2,
    "cosines": 1.05,
    "smac_learning_curves": 1.05,
    "iterations_vs_damping": 0.8,
}

#: The image formats every figure is written in, in this order (:func:`draw_all`, ``r1theory figures``).
FORMATS: tuple[str, ...] = ("png", "pdf")
#: The formats ``r1theory verify --quick`` writes (:func:`for_report`): the PNG its report embeds.
QUICK_FORMATS: tuple[str, ...] = ("png",)

#: Sub-folder of the output folder that receives the figures.
FOLDER = "figures"


def module(name: str) -> ModuleType:
    """The figure module called ``name``."""
    if name not in FIGURES:
        raise ValueError(f"unknown figure {name!r}; figures are: {', '.join(FIGURES)}")
    return importlib.import_module(f"{__name__}.{name}")


def select(only: str | None) -> list[str]:
    """Figure names matching ``only`` (an exact name, a prefix or a glob); all when ``only`` is empty."""
    import fnmatch

    if not only:
        return list(FIGURES)
    chosen = [n for n in FIGURES if n == only or n.startswith(only) or fnmatch.fnmatch(n, only)]
    if not chosen:
        raise ValueError(f"--only {only!r} matches no figure; figures are: {', '.join(FIGURES)}")
    return chosen


def context(
    out: Path, mode: Mode = "quick", jobs: int = 1, progress: bool = True, study: Study | None = None
) -> Context:
    """The context ``r1theory verify --out out`` uses: its sweep cache is ``out/cache``; ``study`` as verify's."""
    from proofs_checks.context import Context
    from proofs_checks.studies import Study
    from proofs_checks.sweep import Sweep

    sweep = Sweep(out / "cache", jobs=jobs, progress=progress)
    return Context(mode=mode, sweep=sweep, out=out, study=study if study is not None else Study())


def save_data(data: dict[str, Any], path: Path) -> Path:
    """Write a figure's ``data`` dictionary as JSON (arrays as lists, NaN/±∞ as ``NaN``/``Infinity``); atomic."""
    from proofs_checks.report import write_atomic

    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(_plain(data), ensure_ascii=False) + "\n")
    return path


def _plain(value: Any) -> Any:
    """``jsonable(value, nonfinite_as_strings=False)`` (:func:`proofs_checks.result.jsonable`), numeric arrays fast.

    The same objects — dictionaries with string keys, lists, Python bools, ints and floats (NaN and ±∞ kept),
    other values as they are — but a boolean, integer or float array becomes its nested lists by one
    ``ndarray.tolist`` call instead of element by element: saving the ascent map's ten megabytes of grids
    takes half the time.
    """
    import numpy as np

    from proofs_checks.result import jsonable

    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        return value.tolist()
    return jsonable(value, nonfinite_as_strings=False)


def load_data(path: str | Path) -> dict[str, Any]:
    """A figure's data saved by :func:`save_data` (``figures/<name>.json``), ready for the module's ``draw``."""
    data: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
    return data


def draw_one(name: str, ctx: Context, folder: Path, formats: Sequence[str] = FORMATS) -> list[Path]:
    """Compute the data of figure ``name``; write ``folder/name.png``, ``.pdf`` and its data ``.json``; the paths.

    ``formats``: the images written (:data:`FORMATS`, or a part of it such as :data:`QUICK_FORMATS`). The images
    come first in the returned list, the data file (:func:`save_data`) last.
    """
    return _draw_saved(name, module(name).data(ctx), folder, tuple(formats), catch=False)[0]


def draw_all(
    ctx: Context,
    names: Sequence[str] | None = None,
    folder: Path | None = None,
    progress: bool = True,
    formats: Sequence[str] = FORMATS,
) -> tuple[dict[str, list[Path]], dict[str, str]]:
    """Draw the named figures (all by default) into ``folder`` (``ctx.out/figures``), in ``formats``.

    Returns (name → written paths, name → error message for figures that raised); a failing figure
    does not stop the others.
    """
    folder = folder if folder is not None else ctx.out / FOLDER
    written: dict[str, list[Path]] = {}
    failed: dict[str, str] = {}
    chosen = list(names if names is not None else FIGURES)
    jobs = ctx.sweep.jobs if ctx.sweep.scheduler is None else 1
    if jobs > 1 and len(chosen) > 1:  # data here (it shares the sweep's memoised runs), drawing in parallel
        datas: dict[str, dict[str, Any]] = {}
        for name in chosen:
            try:
                datas[name] = module(name).data(ctx)
            except Exception as exc:
                failed[name] = f"{type(exc).__name__}: {exc}"
                traceback.print_exc(file=sys.stderr)
        from joblib import Parallel, delayed

        from proofs_checks.sweep import _worker_start

        t0 = time.monotonic()
        order = sorted(datas, key=lambda n: -DRAW_SECONDS.get(n, 1.0))  # longest first: the processes end together
        # the sweep's worker settings: joblib hands back its warm workers (no new processes, r1theory imported),
        # and they die with this process as the sweep's do
        par = Parallel(n_jobs=jobs, initializer=_worker_start, initargs=(os.getpid(),))
        fmts = tuple(formats)
        outcomes = dict(zip(order, par(delayed(_draw_saved)(n, datas[n], folder, fmts) for n in order), strict=True))
        for name in datas:
            paths, error = outcomes[name]
            if error is None:
                written[name] = paths
            else:
                failed[name] = error
                print(f"figure {name} failed to draw: {error}", file=sys.stderr)
        if progress:
            print(
                f"[figures] {len(written)} drawn by {jobs} processes in {time.monotonic() - t0:.1f}s", file=sys.stderr
            )
        return written, failed
    for name in chosen:
        t0 = time.monotonic()
        try:
            written[name] = draw_one(name, ctx, folder, formats)
        except Exception as exc:
            failed[name] = f"{type(exc).__name__}: {exc}"
            traceback.print_exc(file=sys.stderr)
        if progress:
            state = "failed" if name in failed else "drawn"
            print(f"[figure {name}] {state} in {time.monotonic() - t0:.1f}s", file=sys.stderr)
    return written, failed


def _draw_saved(
    name: str, data: dict[str, Any], folder: Path, formats: tuple[str, ...], catch: bool = True
) -> tuple[list[Path], str | None]:
    """Draw figure ``name`` from its data in ``formats`` and save it with its data (a worker of :func:`draw_all`).

    With ``catch``, an exception becomes the error message of the pair (paths, message).
    """
    from ._style import formats as image_formats

    try:
        with image_formats(formats):
            paths: list[Path] = module(name).draw(data, folder / name)
        return [*paths, save_data(data, folder / f"{name}.json")], None
    except Exception as exc:
        if not catch:
            raise
        return [], f"{type(exc).__name__}: {exc}"


def for_report(ctx: Context, results: Sequence[CheckResult]) -> dict[str, list[str]]:
    """The ``r1theory verify`` hook: draw the figures of the claims present in ``results``.

    Writes them into ``ctx.out/figures`` — PNG and PDF in full mode, the PNG only in quick mode
    (:data:`QUICK_FORMATS`; ``r1theory figures --quick --out DIR`` adds the PDFs from the cache) — and returns
    claim → PNG paths relative to ``ctx.out``. Figures whose claims were not run (e.g. ``verify --only
    mei2020``) are not drawn, so the hook never starts a sweep the checks did not need.
    """
    present = {r.claim for r in results}
    names = [n for n in FIGURES if present.intersection(module(n).CLAIMS)]
    formats = QUICK_FORMATS if ctx.mode == "quick" else FORMATS
    written, _ = draw_all(ctx, names, progress=ctx.sweep.progress, formats=formats)
    out: dict[str, list[str]] = {}
    for n in names:
        if n not in written:
            continue
        for claim in module(n).CLAIMS:
            if claim in present:
                out.setdefault(claim, []).append(f"{FOLDER}/{n}.png")
    return out


def main(argv: list[str] | None = None, prog: str = "python -m figures") -> int:
    """Command line of ``python -m figures`` (the same options as ``r1theory figures``)."""
    import argparse

    from ._cli import add_arguments, run

    parser = argparse.ArgumentParser(prog=prog, description="Redraw the theory figures from the sweep cache.")
    add_arguments(parser)
    return run(parser, parser.parse_args(argv))
