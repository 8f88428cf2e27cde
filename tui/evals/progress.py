"""The eval's progress on stderr: one bar redrawn in place on a terminal, sparse lines elsewhere.

On a terminal the bar is one line rewritten with ``\\r`` and erase-to-end, at most
:data:`REDRAW_S` apart (a 16-way run ends items faster than a terminal over SSH wants to be
drawn). Into a file or pipe (CI logs) a line is written every :data:`LINE_EVERY_PCT` percent
or :data:`LINE_EVERY_S` seconds, whichever comes first, so a log stays readable.
"""

from __future__ import annotations

import time
from typing import TextIO

from tui.evals.runner import Progress
from tui.formatting import format_seconds

BAR_WIDTH = 24
REDRAW_S = 0.1
LINE_EVERY_PCT = 10
LINE_EVERY_S = 30.0


def percent(done: int, total: int) -> int:
    """``done`` of ``total`` as a whole percentage, rounded (1/6 is 17 %), but 100 only when
    everything is done and 0 only before anything is."""
    if not total or done >= total:
        return 100
    return min(99, max(1 if done > 0 else 0, round(done * 100 / total)))


def eta_text(seconds: float) -> str:
    """An estimate in whole seconds (``4 s``, then minutes and seconds): its hundredths
    would claim a precision a guess from a few items does not have. Items are left, so
    never ``0 s``."""
    if seconds < 59.5:
        return f"{max(1, int(seconds + 0.5))} s"
    return format_seconds(seconds)


def progress_text(p: Progress, width: int = BAR_WIDTH) -> str:
    """``[#########-------] 12/40  30%  ETA 1 min 20 s`` (the bar only when ``width``)."""
    frac = p.done / p.total if p.total else 1.0
    pct = percent(p.done, p.total)
    eta = p.eta_s
    ending = "ETA --" if eta is None else f"ETA {eta_text(eta)}"
    if p.done >= p.total:
        ending = f"in {format_seconds(p.elapsed_s)}"
    bar = ""
    if width:
        filled = int(round(frac * width))
        bar = "[" + "#" * filled + "-" * (width - filled) + "] "
    return f"{bar}{p.done}/{p.total} {pct:3d}%  {ending}"


class ProgressBar:
    """Callable taking :class:`Progress` updates; :meth:`close` ends the bar's line."""

    def __init__(self, stream: TextIO, *, label: str = "eval", tty: bool | None = None) -> None:
        self.stream = stream
        self.label = label
        self.tty = stream.isatty() if tty is None else tty
        self._last_draw = 0.0
        self._last_pct = -LINE_EVERY_PCT
        self._drawn = False
        self._pending: Progress | None = None

    def __call__(self, p: Progress) -> None:
        now = time.monotonic()
        final = p.done >= p.total
        if self.tty:
            if final or now - self._last_draw >= REDRAW_S:
                self._draw(p)
                self._last_draw = now
            else:
                self._pending = p
            return
        pct = int(p.done * 100 / p.total) if p.total else 100
        if final or pct >= self._last_pct + LINE_EVERY_PCT or now - self._last_draw >= LINE_EVERY_S:
            self.stream.write(f"{self.label}: {progress_text(p, width=0)}\n")
            self.stream.flush()
            self._last_pct = pct - pct % LINE_EVERY_PCT
            self._last_draw = now

    def start(self, total: int, done: int = 0) -> None:
        """Show the bar before the first item ends (a slow model takes minutes for one)."""
        self(Progress(done, total, 0, 0.0))

    def _draw(self, p: Progress) -> None:
        self.stream.write(f"\r{self.label} {progress_text(p)}\x1b[K")
        self.stream.flush()
        self._drawn = True
        self._pending = None

    def close(self) -> None:
        """Draw the last update held back and end the line."""
        if self.tty and self._pending is not None:
            self._draw(self._pending)
        if self.tty and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False
