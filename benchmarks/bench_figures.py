"""Saving a figure: ``figures._style.save`` vs matplotlib's own two ``savefig`` calls (#17).

Run ``python benchmarks/bench_figures.py`` (or ``python benchmarks/run.py bench_figures``).

The figure is the shape of the C2 and C1 figures: a constrained-layout grid of 3 × 4 log-log panels over
four to six decades, each with four point-and-line series and a legend, drawn inside ``_style.style()``.
Both sides build the same figure afresh in every call (the build is in both times) and write PNG and PDF
into memory:

* baseline — what ``save`` did before #17: ``savefig`` PNG (matplotlib lays the figure out in a draw of
  its own, then draws it), the layout engine set to ``"none"`` (a placeholder: the PDF is again drawn
  twice), ``savefig`` PDF; every minor tick a matplotlib ``Tick``;
* measured — ``_style.save``: the constrained layout once, one draw per file, unlabelled minor ticks as
  one marker line per axis (:func:`figures._style._minor_tick_marks`).

    BENCH figures_save ratio = t_baseline / t_save   target = 1.3

(``_timing.py`` convention: a speed-up, passes iff ratio ≥ target.) A detail line checks that both PNGs
are the same image to one grey level.
"""

from __future__ import annotations

import io
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from _timing import describe, done, emit, paired_ratio, start, time_interleaved

TARGET = 1.3


def build() -> Any:
    """A 3 × 4 grid of log-log panels with four series and a legend each (constrained layout)."""
    from figures import _style

    rng = np.random.default_rng(0)
    fig = _style.new_figure(16.0, 10.0)
    for k, ax in enumerate(fig.subplots(3, 4).ravel()):
        x = np.geomspace(1e-4, 1.0, 12 + k)
        for j in range(4):
            ax.plot(x, 10.0 ** (2 + j) * x ** (-1.0 - 0.2 * j) * (1 + 0.1 * rng.random(x.size)), "o-", label=f"m{j}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"panel {k}: episodes against ε")
        ax.set_xlabel("ε")
        ax.set_ylabel("episodes N(ε)")
        ax.legend(fontsize=6.5, loc="upper right")
    fig.suptitle("a C2-like grid of log-log panels")
    return fig


def baseline() -> bytes:
    """The save of before #17: matplotlib lays out on the PNG's draw, the PDF drawn twice too."""
    from figures import _style

    with _style.style():
        fig = build()
        png, pdf = io.BytesIO(), io.BytesIO()
        fig.savefig(png, format="png")
        fig.set_layout_engine("none")
        fig.savefig(pdf, format="pdf", metadata={"CreationDate": None})
    return png.getvalue()


def measured(folder: Path) -> bytes:
    from figures import _style

    with _style.style():
        paths = _style.save(build(), folder / "fig")
    return paths[0].read_bytes()


def main() -> int:
    from PIL import Image

    t0 = start("bench_figures")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        a = np.asarray(Image.open(io.BytesIO(baseline())), dtype=np.int16)
        b = np.asarray(Image.open(io.BytesIO(measured(folder))), dtype=np.int16)
        same = a.shape == b.shape and int(np.abs(a - b).max()) <= 1
        print(f"  the same PNG to one grey level: {same} ({a.shape[1]} × {a.shape[0]} px)")
        if not same:
            print("  ERROR: the two routes draw different images", flush=True)
            return 1
        timings = time_interleaved({"baseline": baseline, "save": lambda: measured(folder)}, repeats=5, budget=20.0)
    t_base, t_save = timings["baseline"], timings["save"]
    print(describe("matplotlib's two savefig calls (before #17)", t_base))
    print(describe("_style.save", t_save))
    emit("figures_save", paired_ratio(t_base, t_save), TARGET)
    done("bench_figures", t0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
