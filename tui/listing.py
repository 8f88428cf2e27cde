"""The CLI's text listings (``o1tui models``, ``o1tui history list``) as aligned columns.

On a terminal the columns get a header line; into a pipe they do not, so ``cut``/``awk``
scripts see only rows (``--json`` is the stable format for scripts). Cells are cleaned by the
caller; the last column is not padded (it is free text, e.g. a question).
"""

from __future__ import annotations

from typing import Any, Sequence

from backends.presets import DEFAULT_CPU_MODEL, PRESETS, find_preset, is_downloaded
from tui.formatting import format_seconds
from tui.sanitize import clean_line

GAP = "  "


def format_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    header: bool,
    right: Sequence[int] = (),
) -> list[str]:
    """Rows as lines of aligned columns (``right``: columns aligned right), with ``headers``
    as the first line when ``header``."""
    table = [list(headers), *map(list, rows)] if header else [list(r) for r in rows]
    if not table:
        return []
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
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


def history_table(summaries: Sequence[Any], *, header: bool) -> list[str]:
    """``o1tui history list``: newest first, one chain a line."""
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
    return format_table(headers, rows, header=header, right=(4, 5))
