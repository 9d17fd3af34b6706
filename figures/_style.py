"""Deterministic drawing: the Agg backend, fixed rcParams, fixed colours, atomic PNG + PDF output.

Every figure is drawn inside :func:`style` (matplotlib's defaults, then :data:`RC`; the user's
matplotlibrc never leaks in) on a :class:`matplotlib.figure.Figure` that is not registered with
pyplot, and written by :func:`save` as ``<stem>.png`` and ``<stem>.pdf`` (or only the formats a
caller chose with :func:`formats`: ``r1theory verify --quick`` writes the PNG only). The PDF carries
no creation date, so the same data give byte-identical files.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np

matplotlib.use("Agg")

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

import r1theory
from tabular_mdps.files import atomic_file

#: The rcParams every figure is drawn with (on top of matplotlib's defaults).
RC: dict[Any, Any] = {
    "font.family": "DejaVu Sans",
    "font.size": 9.0,
    "axes.titlesize": 9.5,
    "axes.labelsize": 9.0,
    "legend.fontsize": 7.5,
    "legend.framealpha": 0.9,
    "xtick.labelsize": 8.0,
    "ytick.labelsize": 8.0,
    "figure.titlesize": 11.0,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "lines.linewidth": 1.4,
    "lines.markersize": 4.5,
    "savefig.dpi": 110,
    "figure.dpi": 110,
    "pdf.fonttype": 42,
    "pdf.compression": 6,
    "path.simplify": True,
    "svg.hashsalt": "r1theory",
}

#: One colour per built-in method, the same in every figure; other registered methods take :data:`EXTRA_COLORS`.
METHOD_COLOR: dict[str, str] = {
    "pg": "#000000",
    "npg": "#7f7f7f",
    "npg-damped": "#1f77b4",
    "r1-eigen": "#9467bd",
    "r1-grad": "#d62728",
    "r1-same": "#2ca02c",
    "r1-precond": "#ff7f0e",
}

#: Colours for registered methods without an entry in :data:`METHOD_COLOR`, in registration order.
EXTRA_COLORS: tuple[str, ...] = ("#8c564b", "#e377c2", "#bcbd22", "#17becf", "#393b79", "#637939", "#843c39")

#: Line styles for up to six damping values (in increasing order of λ).
DAMPING_STYLE: tuple[Any, ...] = ("-", "--", ":", "-.", (0, (5, 1, 1, 1)), (0, (1, 3)))


def color(method: str) -> str:
    """The colour of ``method``: its own, else a default by its place among the unstyled registered methods."""
    if method in METHOD_COLOR:
        return METHOD_COLOR[method]
    others = [m.name for m in r1theory.registered_methods(stochastic=None) if m.name not in METHOD_COLOR]
    i = others.index(method) if method in others else len(others)
    return EXTRA_COLORS[i % len(EXTRA_COLORS)]


def label(method: str) -> str:
    """The legend label of ``method``: the registered record's label (the name itself if unregistered)."""
    try:
        return r1theory.get_method(method, stochastic=None).label
    except ValueError:
        return method


def fmt_num(x: float | None) -> str:
    """Short number for titles and legends (``1e-03``, ``0.1``, ``10``)."""
    if x is None:
        return "–"
    if x != 0 and (abs(x) < 1e-2 or abs(x) >= 1e4):
        return f"{x:.0e}"
    return f"{x:.3g}"


@contextmanager
def style() -> Iterator[None]:
    """Draw with matplotlib's defaults plus :data:`RC`, whatever the user's configuration."""
    with matplotlib.rc_context():
        matplotlib.rcdefaults()
        with matplotlib.rc_context(rc=RC):
            yield


def new_figure(width: float, height: float) -> Figure:
    """A constrained-layout figure of the given size in inches (not registered with pyplot)."""
    return Figure(figsize=(width, height), layout="constrained")


def grid_shape(n: int, max_cols: int = 2) -> tuple[int, int]:
    """(rows, columns) of a panel grid holding ``n`` panels."""
    cols = min(max_cols, max(n, 1))
    return math.ceil(max(n, 1) / cols), cols


def _minor_tick_marks(fig: Figure) -> None:
    """Draw each axis's unlabelled minor ticks as one marker line instead of one ``Tick`` object per tick.

    A log axis has up to eight minor ticks per decade; matplotlib builds a ``Tick`` (two marker lines, a grid
    line, two labels) for each and updates, measures and draws them one by one in every layout pass and every
    draw — a third of the drawing time of these figures. When every minor label is empty (the usual case: the
    axis spans more than a decade), the same marks — the tick lines' marker, size, width, colour, transform and
    z-order, at the minor locations inside the view limits that do not duplicate a major tick, as matplotlib
    places them — are drawn by one ``Line2D`` per visible tick side, and the axis's minor locator is set to
    none. The PNG is the same up to one grey level on a few tick pixels (the order in which the marks are
    drawn); the PDF has the same marks at the same places, as uses of one marker instead of one path each.
    Called by :func:`save` once the axes' limits are final; axes whose minor ticks carry labels are left alone.
    """
    from matplotlib.lines import Line2D
    from matplotlib.ticker import NullLocator

    plans = []
    for ax in fig.axes:
        if not ax.axison:
            continue
        for axis in (ax.xaxis, ax.yaxis):
            if not axis.get_visible() or isinstance(axis.get_minor_locator(), NullLocator):
                continue
            locs = np.asarray(axis.get_minorticklocs(), dtype=np.float64)
            if any(axis.get_minor_formatter().format_ticks(list(locs))):
                continue  # labelled minor ticks (an axis within a decade): matplotlib draws them
            tr = axis.get_transform()
            lo, hi = sorted(tr.transform(np.asarray(axis.get_view_interval(), dtype=np.float64)))
            t = tr.transform(locs) if locs.size else locs
            tol = (hi - lo) * 1e-10  # matplotlib's closeness rule for a tick at the view limit
            plans.append((ax, axis, locs[(t >= lo - tol) & (t <= hi + tol)]))
    for ax, axis, locs in plans:
        tick = axis.get_minor_ticks(1)[0]
        for line, at in ((tick.tick1line, 0.0), (tick.tick2line, 1.0)):
            if not (tick.get_visible() and line.get_visible()) or not locs.size:
                continue
            along, across = locs, np.full(locs.size, at)
            xy = (along, across) if axis is ax.xaxis else (across, along)
            marks = Line2D(*xy, linestyle="none", marker=line.get_marker(), markersize=line.get_markersize(),
                           markeredgewidth=line.get_markeredgewidth(), markeredgecolor=line.get_markeredgecolor(),
                           color=line.get_color(), zorder=axis.get_zorder(), transform=line.get_transform(),
                           clip_on=False)  # fmt: skip
            marks.set_in_layout(False)
            ax.add_artist(marks)
        axis.set_minor_locator(NullLocator())


#: The formats :func:`save` can write, in the order it writes them.
IMAGE_FORMATS: tuple[str, ...] = ("png", "pdf")
_formats: ContextVar[tuple[str, ...]] = ContextVar("figure_formats", default=IMAGE_FORMATS)


@contextmanager
def formats(chosen: Sequence[str]) -> Iterator[None]:
    """Within the block, :func:`save` writes only the ``chosen`` formats (a non-empty part of :data:`IMAGE_FORMATS`)."""
    fmts = tuple(chosen)
    if not fmts or any(f not in IMAGE_FORMATS for f in fmts):
        raise ValueError(f"formats must be a non-empty selection of {IMAGE_FORMATS}; got {fmts}")
    token = _formats.set(tuple(f for f in IMAGE_FORMATS if f in fmts))
    try:
        yield
    finally:
        _formats.reset(token)


def _write(fig: Figure, path: Path, fmt: str, metadata: dict[str, Any]) -> None:
    with atomic_file(path) as fh:
        fig.savefig(fh, format=fmt, metadata=metadata)


def save(fig: Figure, stem: Path | str) -> list[Path]:
    """Write ``<stem>.png`` and ``<stem>.pdf`` atomically (those of them :func:`formats` chose); return the paths.

    A file of a format not chosen is removed if an earlier run left one, so a folder never holds a PNG and a PDF
    of two different runs.

    The PDF is written with ``CreationDate`` removed, so the files depend only on the figure. The constrained
    layout is computed once, on the PNG's canvas, and both files are drawn with it (one draw each: a figure
    with a layout engine would otherwise be drawn twice per file, once to lay it out); the minor ticks are drawn
    by :func:`_minor_tick_marks`. Together they take a third off the drawing time of these figures.
    """
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    png, pdf = stem.with_name(stem.name + ".png"), stem.with_name(stem.name + ".pdf")
    FigureCanvasAgg(fig)
    _minor_tick_marks(fig)
    engine = fig.get_layout_engine()
    if engine is not None:  # at the PNG's resolution, as savefig would (the layout is in fractions of the figure)
        dpi, png_dpi = fig.dpi, matplotlib.rcParams["savefig.dpi"]
        fig.set_dpi(dpi if png_dpi == "figure" else png_dpi)
        engine.execute(fig)
        fig.set_dpi(dpi)
        fig.set_layout_engine(None)
    chosen = _formats.get()
    for path, fmt, metadata in ((png, "png", {}), (pdf, "pdf", {"CreationDate": None})):
        if fmt in chosen:
            _write(fig, path, fmt, metadata)
        else:  # an earlier run's file would not match this figure
            path.unlink(missing_ok=True)
    return [p for p, f in ((png, "png"), (pdf, "pdf")) if f in chosen]
