"""Progress bars with an ETA for sweeps and searches (tqdm), on stderr by default.

On a terminal it is a tqdm bar (``label: 40%|████      | 12/30 [00:03<00:04, 3.9task/s]``); in a
Jupyter notebook (ipykernel loaded, stderr) tqdm's notebook widget; on any other stream (a log file,
a pipe, CI) one ASCII line per 10% with the same counts, elapsed time and ETA, never carriage returns.
``r1theory verify --no-progress`` (``enabled=False``) prints nothing.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from tqdm import tqdm

__all__ = ["Progress"]


def _interactive(stream: TextIO) -> bool:
    return bool(getattr(stream, "isatty", lambda: False)())


def _notebook(stream: TextIO) -> bool:
    return stream is sys.stderr and "ipykernel" in sys.modules


class Progress:
    """A bar of ``total`` steps labelled ``label``; :meth:`advance` marks steps done, :meth:`close` ends it.

    Parameters
    ----------
    label
        Shown before the bar (a claim id, a figure name, ``falsify c1.tuned-progress``).
    total
        Number of steps; 0 disables the bar.
    stream
        Where to draw (stderr by default).
    enabled
        False draws nothing.
    unit
        Name of a step in the rate (``task``, ``example``).
    """

    def __init__(
        self, label: str, total: int, stream: TextIO | None = None, enabled: bool = True, unit: str = "task"
    ) -> None:
        self.label, self.total, self.done = label, total, 0
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled and total > 0
        self.unit = unit
        self.start = time.monotonic()
        self._last_decile = -1
        self._postfix = ""
        self._bar: Any = None
        if self.enabled and (_interactive(self.stream) or _notebook(self.stream)):
            if _notebook(self.stream):
                from tqdm.auto import tqdm as auto

                self._bar = auto(total=total, desc=label, unit=unit)
            else:
                self._bar = tqdm(total=total, desc=label, file=self.stream, unit=unit, dynamic_ncols=True)
        else:
            self._line()

    def advance(self, n: int = 1) -> None:
        """Mark ``n`` more steps done (the bar closes itself when all are)."""
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
            if self.done >= self.total:
                self.close()
        else:
            self._line()

    def note(self, text: str) -> None:
        """Show ``text`` after the counts (e.g. ``found at example 12; shrinking``)."""
        self._postfix = text
        if self._bar is not None:
            self._bar.set_postfix_str(text)
        elif self.enabled:
            self._write(self._format() + "\n")

    def close(self) -> None:
        """End the bar (idempotent); a log stream gets its final line if it has not had it."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self.enabled and self._last_decile < 10:
            self._last_decile = 10
            self._write(self._format() + "\n")

    def _format(self) -> str:
        meter = tqdm.format_meter(
            min(self.done, self.total),
            self.total,
            time.monotonic() - self.start,
            prefix=self.label,
            unit=self.unit,
            ascii=True,
        )
        return f"{meter} {self._postfix}".rstrip()

    def _line(self) -> None:
        """Log streams: a line at 0%, 10%, …, 100%."""
        if not self.enabled:
            return
        decile = min(10, int(10 * self.done / self.total))
        if decile > self._last_decile:
            self._last_decile = decile
            self._write(self._format() + "\n")

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()
