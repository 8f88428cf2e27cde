"""The history sidebar's list: past chains, newest first, grouped by day, lazy.

Textual's ListView and OptionList build a widget or an option per item and slow down past a
few thousand, and the history may hold 100 000 chains. So :class:`HistoryList` is a Line API
widget (a ``ScrollView`` with ``render_line``) over a *window* of summaries: a few pages
(``PAGE_SIZE`` chains each) fetched with ``History.list(search, limit, offset)``. When the
cursor or the scroll position comes near an edge of the window, the next page is fetched on
that side and the farthest one dropped, keeping what is on screen in place. Day headers are
rows of their own, computed within the window, so grouping needs no extra query.

Keys: ``j``/``k``/arrows move, ``g``/``G``/Home/End jump, PageUp/PageDown, Enter opens.
The sidebar around it (search, delete, export, re-run) is :mod:`history_panel`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import partial
from typing import Any

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.worker import get_current_worker

from tui.app.widgets.history_reads import HistoryLike, Loaded, query, read_page
from tui.formatting import day_label, format_seconds, local_day
from tui.sanitize import clean_line

#: Chains fetched per query.
PAGE_SIZE = 100
#: Most chains held at once; past this the page farthest from the cursor is dropped.
MAX_WINDOW_PAGES = 5
#: Rows from an edge of the window at which the next page on that side is fetched.
EDGE_ROWS = 20

#: One-cell status marks, with the component class that colours them.
_STATUS_MARKS: dict[str, tuple[str, str]] = {
    "done": ("✓", "history-list--ok"),
    "running": ("…", "history-list--running"),
    "cancelled": ("⊘", "history-list--warn"),
    "step_limit": ("⊘", "history-list--warn"),
    "error": ("✗", "history-list--error"),
}


def status_name(status: Any) -> str:
    """``Status.DONE`` or ``"done"`` -> ``"done"``."""
    return str(getattr(status, "value", status))


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the list: a day header (``summary`` None) or a chain.

    ``offset`` is the chain's position in the whole result set (for a header: that of the
    first chain under it), so a row keeps its identity when the window moves.
    """

    offset: int
    summary: Any
    label: str = ""

    @property
    def is_header(self) -> bool:
        return self.summary is None


def build_rows(start: int, summaries: Sequence[Any], today: date) -> list[Row]:
    """Rows for ``summaries`` (the chains at ``start``, ``start + 1``, ...), with day headers."""
    rows: list[Row] = []
    previous: date | None | bool = False  # False: no chain seen yet
    for i, summary in enumerate(summaries):
        day = local_day(summary.created_at)
        if day != previous:
            rows.append(Row(start + i, None, day_label(day, today)))
            previous = day
        rows.append(Row(start + i, summary))
    return rows


class HistoryList(ScrollView, can_focus=True):
    """A virtual list of chain summaries over a sliding window of pages (see module doc)."""

    COMPONENT_CLASSES = {
        "history-list--header",
        "history-list--cursor",
        "history-list--meta",
        "history-list--empty",
        "history-list--ok",
        "history-list--running",
        "history-list--warn",
        "history-list--error",
    }

    DEFAULT_CSS = """
    HistoryList {
        height: 1fr;
        overflow-x: hidden;
        background: $surface;
        & > .history-list--header { color: $accent; text-style: bold; }
        & > .history-list--cursor {
            color: $block-cursor-blurred-foreground;
            background: $block-cursor-blurred-background;
            text-style: $block-cursor-blurred-text-style;
        }
        &:focus > .history-list--cursor {
            color: $block-cursor-foreground;
            background: $block-cursor-background;
            text-style: $block-cursor-text-style;
        }
        & > .history-list--meta { color: $text-muted; }
        & > .history-list--empty { color: $text-muted; text-style: italic; }
        & > .history-list--ok { color: $success; }
        & > .history-list--running { color: $accent; }
        & > .history-list--warn { color: $warning; }
        & > .history-list--error { color: $error; }
    }
    """

    BINDINGS = [
        Binding("down,j", "cursor_down", "Down", show=False),
        Binding("up,k", "cursor_up", "Up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("home,g", "first", "First", show=False),
        Binding("end,G", "last", "Last", show=False),
        Binding("enter", "open", "Open"),
    ]

    #: Index into :attr:`rows` of the selected chain row (-1: nothing to select).
    cursor: reactive[int] = reactive(-1, always_update=True, init=False)

    class CursorMoved(Message):
        """The selection changed (the panel updates its position line)."""

        def __init__(self, history_list: HistoryList) -> None:
            super().__init__()
            self.history_list = history_list

    class Activated(Message):
        """Enter or a click on the selected chain."""

        def __init__(self, summary: Any) -> None:
            super().__init__()
            self.summary = summary

    def __init__(
        self,
        history: HistoryLike | None = None,
        *,
        page_size: int = PAGE_SIZE,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._history = history
        self.page_size = page_size
        self.search: str | None = None
        #: Chains matching :attr:`search`, as counted at the last (re)load.
        self.total = 0
        self._start = 0
        self._summaries: list[Any] = []
        self.rows: list[Row] = []
        self._row_of_offset: dict[int, int] = {}
        self._line_cache: dict[tuple[int, int, bool], Strip] = {}
        self._styles: dict[str, Style] = {}
        self._adjusting = False
        self.error: str | None = None

    # --- data ------------------------------------------------------------------------------

    @property
    def history(self) -> HistoryLike:
        return self._history if self._history is not None else self.app.history  # type: ignore[attr-defined]

    @property
    def selected(self) -> Any | None:
        """The ChainSummary under the cursor, if any."""
        if 0 <= self.cursor < len(self.rows):
            return self.rows[self.cursor].summary
        return None

    @property
    def selected_offset(self) -> int | None:
        """Position of the selected chain in the whole result set (0 = newest)."""
        if 0 <= self.cursor < len(self.rows):
            return self.rows[self.cursor].offset
        return None

    @property
    def window(self) -> tuple[int, int]:
        """``(first, end)`` offsets of the chains held now."""
        return self._start, self._start + len(self._summaries)

    def load(self, search: str | None = None, *, at: int = 0) -> None:
        """Count and fetch the chains matching ``search``, selecting the one at offset ``at``
        (here, on the UI loop: the first page of the unfiltered list is an index read)."""
        self._apply(query(self.history, search, at, self.page_size))

    def load_in_background(self, search: str | None = None, *, at: int = 0) -> None:
        """:meth:`load` off the UI loop (a full-text search over 100 000 chains costs tens of
        ms); the newest call wins, and the list changes once the answer is there."""
        self.run_worker(
            partial(self._query_then_apply, self.history, search, at),
            thread=True,
            group="history-load",
            exclusive=True,
        )

    def _query_then_apply(self, history: HistoryLike, search: str | None, at: int) -> None:
        loaded = query(history, search, at, self.page_size)
        if not get_current_worker().is_cancelled:  # a newer search replaced this one
            self.app.call_from_thread(self._apply, loaded)

    def _apply(self, loaded: Loaded) -> None:
        self.search, self.total, self.error = loaded.search, loaded.total, loaded.error
        self._start = loaded.start
        self._summaries = loaded.summaries
        self._rebuild()
        self._select_offset(loaded.at, scroll="center")

    def _fetch(self, offset: int, limit: int) -> list[Any]:
        summaries, error = read_page(self.history, self.search, offset, limit)
        if error is not None:
            self.error = error
        return summaries

    def _rebuild(self) -> None:
        self.rows = build_rows(self._start, self._summaries, date.today())
        self._row_of_offset = {r.offset: i for i, r in enumerate(self.rows) if not r.is_header}
        self._line_cache.clear()
        self.virtual_size = Size(self.size.width, max(len(self.rows), 1))
        self.refresh()

    def _extend(self, forward: bool) -> bool:
        """Fetch one more page after (or before) the window; True if anything came."""
        first, end = self.window
        if forward:
            if end >= self.total:
                return False
            more = self._fetch(end, self.page_size)
            if not more:
                return False
        else:
            if first <= 0:
                return False
            new_first = max(0, first - self.page_size)
            more = self._fetch(new_first, first - new_first)
            if not more:
                return False

        # Keep the row at the top of the viewport and the cursor's chain where they are.
        anchor_index = self._anchor_index()
        anchor = self.rows[anchor_index] if anchor_index is not None else None
        anchor_shift = (anchor_index - self.scroll_y) if anchor_index is not None else 0
        cursor_offset = self.selected_offset

        # Never drop the chains under the cursor or at the top of the view.
        kept = [o for o in (cursor_offset, anchor.offset if anchor else None) if o is not None]
        if forward:
            self._summaries.extend(more)
            surplus = len(self._summaries) - self.page_size * MAX_WINDOW_PAGES
            if kept:
                surplus = min(surplus, min(kept) - self._start)
            if surplus > 0:
                del self._summaries[:surplus]
                self._start += surplus
        else:
            self._summaries[:0] = more
            self._start -= len(more)
            surplus = len(self._summaries) - self.page_size * MAX_WINDOW_PAGES
            if kept:
                surplus = min(surplus, self._start + len(self._summaries) - 1 - max(kept))
            if surplus > 0:
                del self._summaries[-surplus:]
        self._rebuild()

        self._adjusting = True
        try:
            if anchor is not None and anchor.offset in self._row_of_offset:
                y = self._row_of_offset[anchor.offset] - anchor_shift
                self.scroll_to(y=y, animate=False, immediate=True, force=True)
            if cursor_offset is not None and cursor_offset in self._row_of_offset:
                self.cursor = self._row_of_offset[cursor_offset]
            else:
                self.cursor = self._nearest_chain_row(
                    min(max(int(self.scroll_y), 0), len(self.rows) - 1)
                )
        finally:
            self._adjusting = False
        return True

    def _anchor_index(self) -> int | None:
        """The first chain row at or below the top of the viewport."""
        for i in range(max(int(self.scroll_y), 0), len(self.rows)):
            if not self.rows[i].is_header:
                return i
        return None

    def _nearest_chain_row(self, index: int) -> int:
        if not self.rows:
            return -1
        index = max(0, min(index, len(self.rows) - 1))
        if not self.rows[index].is_header:
            return index
        if index + 1 < len(self.rows):
            return index + 1
        return index - 1 if index > 0 else -1

    def _select_offset(self, offset: int, *, scroll: str = "nearest") -> None:
        if not self.rows:
            self.cursor = -1
            return
        row = self._row_of_offset.get(offset)
        if row is None:
            row = self._nearest_chain_row(0)
        self.cursor = row
        self._scroll_to_cursor(center=scroll == "center")

    def _scroll_to_cursor(self, *, center: bool = False) -> None:
        if self.cursor < 0:
            return
        if not self.scrollable_content_region.height:
            # Not laid out yet (loaded on mount, or the sidebar is hidden): on_resize places
            # the view once it has a size.
            return
        height = self.scrollable_content_region.height
        # Show the day header above the cursor when it is the first chain of its day.
        top = (
            self.cursor - 1
            if self.cursor > 0 and self.rows[self.cursor - 1].is_header
            else self.cursor
        )
        y = self.scroll_y
        if center:
            y = self.cursor - height // 2
        elif top < y:
            y = top
        elif self.cursor >= y + height:
            y = self.cursor - height + 1
        y = max(0, min(y, self.max_scroll_y))
        if y != self.scroll_y:
            self.scroll_to(y=y, animate=False, immediate=True, force=True)

    def _maybe_extend(self) -> None:
        """Fetch a page on the side the viewport or the cursor is close to."""
        if self._adjusting or not self.rows:
            return
        height = max(self.scrollable_content_region.height, 1)
        bottom = max(self.scroll_y + height, self.cursor + 1)
        if bottom >= len(self.rows) - EDGE_ROWS:
            self._extend(forward=True)
        top = min(self.scroll_y, max(self.cursor, 0))
        if top <= EDGE_ROWS:
            self._extend(forward=False)

    # --- movement --------------------------------------------------------------------------

    def _move(self, rows: int) -> None:
        if self.cursor < 0:
            return
        step = 1 if rows > 0 else -1
        remaining = abs(rows)
        index = self.cursor
        while remaining:
            nxt = index + step
            while 0 <= nxt < len(self.rows) and self.rows[nxt].is_header:
                nxt += step
            if not 0 <= nxt < len(self.rows):
                # At an edge of the window: fetch more there and retry from the same chain.
                offset = self.rows[index].offset
                if not self._extend(forward=step > 0):
                    break
                index = self._row_of_offset[offset]
                continue
            index = nxt
            remaining -= 1
        self.cursor = index
        self._scroll_to_cursor()
        self._maybe_extend()

    def action_cursor_down(self) -> None:
        self._move(1)

    def action_cursor_up(self) -> None:
        self._move(-1)

    def action_page_down(self) -> None:
        self._move(max(self.scrollable_content_region.height - 1, 1))

    def action_page_up(self) -> None:
        self._move(-max(self.scrollable_content_region.height - 1, 1))

    def action_first(self) -> None:
        self.load(self.search, at=0)

    def action_last(self) -> None:
        self.load(self.search, at=max(self.total - 1, 0))
        self.scroll_to(y=self.max_scroll_y, animate=False, immediate=True, force=True)

    def action_open(self) -> None:
        summary = self.selected
        if summary is not None:
            self.post_message(self.Activated(summary))

    def watch_cursor(self, old: int, new: int) -> None:
        self._line_cache.pop((old, self.size.width, True), None)
        self.refresh()
        self.post_message(self.CursorMoved(self))

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if not self._adjusting and round(old_value) != round(new_value):
            self._maybe_extend()

    def on_resize(self, event: events.Resize) -> None:
        self._line_cache.clear()
        self.virtual_size = Size(event.size.width, max(len(self.rows), 1))
        self._scroll_to_cursor()

    def on_click(self, event: events.Click) -> None:
        index = int(self.scroll_y) + event.y
        if 0 <= index < len(self.rows) and not self.rows[index].is_header:
            already = index == self.cursor
            self.cursor = index
            if already or event.chain >= 2:
                self.action_open()

    # --- rendering -------------------------------------------------------------------------

    def notify_style_update(self) -> None:
        # Theme, CSS or focus changed: the cached styles and lines are stale.
        super().notify_style_update()
        self._styles.clear()
        self._line_cache.clear()

    def _style(self, name: str) -> Style:
        """The rich style of a component class ("" = the widget's own), cached.

        Looking styles up costs more than drawing a row; they change only with the CSS.
        """
        style = self._styles.get(name)
        if style is None:
            style = self._styles[name] = (
                self.rich_style if not name else self.get_component_rich_style(name)
            )
        return style

    def _combined(self, base: Style, name: str) -> Style:
        key = f"{id(base)}+{name}"
        style = self._styles.get(key)
        if style is None:
            style = self._styles[key] = base + self._style(name)
        return style

    def render_line(self, y: int) -> Strip:
        size = self.size
        width = size.width - (
            self.styles.scrollbar_size_vertical if self.show_vertical_scrollbar else 0
        )
        index = int(self.scroll_y) + y
        base = self._style("")
        if not self.rows:
            if y == 0:
                return self._line(
                    self._empty_text(), width, self._combined(base, "history-list--empty")
                )
            return Strip.blank(width, base)
        if index >= len(self.rows):
            return Strip.blank(width, base)
        is_cursor = index == self.cursor
        key = (index, width, is_cursor)
        strip = self._line_cache.get(key)
        if strip is None:
            row = self.rows[index]
            if row.is_header:
                strip = self._line(
                    " " + row.label, width, self._combined(base, "history-list--header")
                )
            else:
                style = self._combined(base, "history-list--cursor") if is_cursor else base
                strip = self._chain_line(row.summary, width, style)
            self._line_cache[key] = strip
        return strip

    def _empty_text(self) -> str:
        if self.error:
            return f" Search failed: {self.error}"
        if self.search:
            return " No chains match " + clean_line(self.search, 60)
        return " No chains yet"

    @staticmethod
    def _line(text: str, width: int, style: Style) -> Strip:
        return Strip([Segment(fit_cells(text, width), style)], width)

    def _chain_line(self, summary: Any, width: int, style: Style) -> Strip:
        """`` question…   g1 ✓  12.3s`` in exactly ``width`` cells.

        Built from segments directly (no ``Text``): a screenful of rows is drawn on every
        window move, and this is several times cheaper. Every string is cleaned first.
        """
        status = status_name(summary.status)
        mark, mark_class = _STATUS_MARKS.get(status, ("?", "history-list--meta"))
        strategy = fit_cells(clean_line(str(summary.strategy or ""), 8), 8)
        seconds = f"{format_seconds(summary.total_s, digits=1):>6} "
        tail_cells = 1 + 8 + 1 + 1 + len(seconds)
        room = max(width - tail_cells - 1, 4)
        meta = self._combined(style, "history-list--meta")
        segments = [
            # A group's entry leads with its outcome (tui.store.group_store.GroupEntry.list_text).
            Segment(" " + fit_cells(clean_line(_list_text(summary), room * 2), room), style),
            Segment(f" {strategy} ", meta),
            Segment(mark, self._combined(style, mark_class)),
            Segment(" " + seconds, meta),
        ]
        return Strip(segments).adjust_cell_length(width, style)


def _list_text(summary: Any) -> str:
    return str(getattr(summary, "list_text", None) or summary.question or "")


def fit_cells(text: str, width: int) -> str:
    """``text`` padded or cut (with ``…``) to exactly ``width`` terminal cells."""
    if width <= 0:
        return ""
    length = cell_len(text)
    if length <= width:
        return text + " " * (width - length)
    return set_cell_size(text, width - 1) + "…"
