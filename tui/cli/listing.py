"""The CLI's text listings (``o1tui models``, ``o1tui history list``, ``o1tui eval --runs``)
as aligned columns.

On a terminal the columns get a header line and fit the terminal's width (free-text columns
are cut with "…" rather than letting rows wrap); into a pipe there is no header and nothing is
cut, so ``cut``/``awk`` scripts see whole rows (``--json`` is the stable format for scripts).
Cells are cleaned by the caller; the last column is not padded (it is free text, e.g. a
question).
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from backends.presets import DEFAULT_CPU_MODEL, PRESETS, find_preset, is_downloaded
from tui.formatting import format_seconds
from tui.sanitize import clean_line

GAP = "  "
#: A column cut to fit the terminal keeps at least this many cells.
MIN_CUT_WIDTH = 8


def terminal_width(stream: TextIO | None = None) -> int | None:
    """The width to fit listings to: the terminal's columns, or None into a pipe or file."""
    stream = stream or sys.stdout
    if not stream.isatty():
        return None
    return shutil.get_terminal_size().columns


def _cut(cell: str, width: int) -> str:
    return cell if len(cell) <= width else cell[: max(0, width - 1)] + "…"


def _fit(widths: list[int], width: int, shrink: Sequence[int]) -> list[int]:
    """Column widths narrowed, last ``shrink`` column first, so a row takes at most ``width``
    cells (as close as the columns' minimum allows)."""
    widths = list(widths)
    excess = sum(widths) + len(GAP) * (len(widths) - 1) - width
    for i in sorted(shrink, reverse=True):
        if excess <= 0:
            break
        give = min(excess, max(0, widths[i] - MIN_CUT_WIDTH))
        widths[i] -= give
        excess -= give
    return widths


def format_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    header: bool,
    right: Sequence[int] = (),
    width: int | None = None,
    shrink: Sequence[int] = (),
) -> list[str]:
    """Rows as lines of aligned columns (``right``: columns aligned right), with ``headers``
    as the first line when ``header``. With ``width``, the ``shrink`` columns (free text) are
    cut with "…" so that rows fit it."""
    table = [list(headers), *map(list, rows)] if header else [list(r) for r in rows]
    if not table:
        return []
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    if width is not None:
        widths = _fit(widths, width, shrink)
        table = [[_cut(c, widths[i]) for i, c in enumerate(r)] for r in table]
    lines = []
    for row in table:
        cells = []
        for i, cell in enumerate(row):
            last = i == len(row) - 1
            if i in right:
                cells.append(cell.rjust(widths[i]))
            else:
                cells.append(cell if last else cell.ljust(widths[i]))
        lines.append(GAP.join(cells).rstrip())
    return lines


def models_table(default_model: str | None, *, header: bool) -> list[str]:
    """``o1tui models``: each preset, its source, size, and what it is to this install."""
    chosen = find_preset(default_model) if default_model else None
    rows = []
    for preset in PRESETS:
        notes = []
        if chosen is not None and preset.name == chosen.name:
            notes.append("default")
        if preset.name == DEFAULT_CPU_MODEL:
            notes.append("CPU fallback")
        if is_downloaded(preset):
            notes.append("downloaded")
        rows.append([preset.name, preset.modelscope_id or "-", preset.size, ", ".join(notes)])
    return format_table(("MODEL", "MODELSCOPE ID", "SIZE", "NOTES"), rows, header=header)


def history_table(summaries: Sequence[Any], *, header: bool, width: int | None = None) -> list[str]:
    """``o1tui history list``: newest first, one chain a line (the question cut to fit
    ``width``)."""
    rows = [
        [
            s.id,
            s.created_at[:16].replace("T", " "),
            getattr(s.status, "value", str(s.status)),
            clean_line(str(s.strategy)),
            str(s.n_steps),
            format_seconds(s.total_s or 0.0),
            clean_line(s.question, 70),
        ]
        for s in summaries
    ]
    headers = ("ID", "CREATED (UTC)", "STATUS", "STRATEGY", "STEPS", "TIME", "QUESTION")
    return format_table(headers, rows, header=header, right=(4, 5), width=width, shrink=(6,))


def eval_runs_table(runs: Sequence[Any], *, header: bool, width: int | None) -> list[str]:
    """``o1tui eval --runs``: newest first, one run a line, fitted to ``width`` (see
    :func:`format_table`): the set, strategies and model are cut before anything else."""
    rows = [
        [
            r.id,
            r.created_at[:16].replace("T", " "),
            r.status,
            f"{r.n_answered}/{r.n_items}",
            clean_line(r.set_name, 120),
            clean_line(",".join(r.strategies), 200),
            clean_line(r.model, 200),
        ]
        for r in runs
    ]
    headers = ("ID", "CREATED (UTC)", "STATUS", "DONE", "SET", "STRATEGIES", "MODEL")
    return format_table(headers, rows, header=header, right=(3,), width=width, shrink=(4, 5, 6))
