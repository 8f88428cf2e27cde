"""What the history sidebar's list reads from the store: a count and pages of summaries.

Kept apart from the widget (:mod:`history_list`) because these reads run in worker threads
and touch no Textual object; a failing read becomes one line shown in the list.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from tui.sanitize import clean_line
from tui.store.history import HistoryError

if TYPE_CHECKING:
    from tui.core.chain import Chain

#: What a failing store query raises; shown in the list instead of crashing the app.
STORE_ERRORS = (HistoryError, sqlite3.Error, ValueError)


class HistoryLike(Protocol):
    """The slice of ``tui.store.history.History`` the sidebar uses."""

    def list(
        self, search: str | None = None, limit: int = 50, offset: int = 0
    ) -> Sequence[Any]: ...

    def count(self, search: str | None = None) -> int: ...

    def get(self, id_or_prefix: str) -> Chain | None: ...

    def delete(self, row_id: str) -> bool: ...


@dataclass(frozen=True)
class Loaded:
    """What a (re)load read from the store: the matches' count and the page around ``at``."""

    search: str | None
    total: int
    start: int
    summaries: list[Any]
    at: int
    error: str | None


def read_page(
    history: HistoryLike, search: str | None, offset: int, limit: int
) -> tuple[list[Any], str | None]:
    """A page of summaries, or none and the store's error as one line."""
    if limit <= 0:
        return [], None
    try:
        return list(history.list(search, limit=limit, offset=offset)), None
    except STORE_ERRORS as exc:
        return [], clean_line(str(exc), 200)


def query(history: HistoryLike, search: str | None, at: int, page_size: int) -> Loaded:
    """The store reads of a (re)load; safe in a worker thread (the store has its own lock)."""
    search = search or None
    error = None
    try:
        total = history.count(search)
    except STORE_ERRORS as exc:
        # A search the store cannot parse: say so in place, keep the app usable.
        total, error = 0, clean_line(str(exc), 200)
    at = max(0, min(at, total - 1))
    start = max(0, min(at - page_size // 2, total - page_size))
    summaries: list[Any] = []
    if total:
        summaries, page_error = read_page(history, search, start, page_size)
        error = error or page_error
    return Loaded(search, total, start, summaries, at, error)
