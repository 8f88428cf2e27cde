"""The history sidebar: a search box over the list of past chains, and what to do with one.

The list itself (a virtual, lazily paged Line API widget) is :mod:`history_list`. Every store
call made here (a search, a delete, an export, reading a chain to re-run it) runs off the UI
loop in a worker, and a store error becomes a message rather than a crash.

Keys: ``/`` searches, ``d`` deletes (after a confirm), ``e`` exports to Markdown, ``r``
re-runs the question, ``R`` re-runs it with a chosen strategy. Esc clears a search.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.timer import Timer
from textual.widgets import Input, Static

from tui.app.messages import OpenChain, RerunChain
from tui.app.screens.confirm import ChoiceScreen, ConfirmScreen
from tui.app.widgets.history_list import HistoryList
from tui.app.widgets.history_reads import STORE_ERRORS, HistoryLike
from tui.core.chain import Status
from tui.core.export import write_markdown
from tui.core.strategies import STRATEGY_NAMES
from tui.sanitize import clean_line

T = TypeVar("T")

#: Pause in typing before a search runs (seconds).
SEARCH_DEBOUNCE_S = 0.15


class _Failed:
    """A store call that failed (already said to the user)."""


FAILED = _Failed()


class HistoryPanel(Vertical):
    """The sidebar: a search input, the list and a position line.

    ``history``: the store (defaults to ``self.app.history``). ``export_dir``: where ``e``
    writes Markdown (defaults to the current directory at the time of the export).
    ``strategies``: the names ``R`` offers.
    """

    DEFAULT_CSS = """
    HistoryPanel {
        width: 48;
        height: 1fr;
        border-right: vkey $foreground 15%;
        background: $surface;
        /* :focus too: Input's own focus style would put its tall border back, leaving
           two border rows and no row for the text. */
        & > Input, & > Input:focus { margin: 0; border: none; height: 1; padding: 0 1; }
        & > Input:focus { background: $boost; }
        & > #history-position { height: 1; color: $text-muted; padding: 0 1; }
    }
    """

    BINDINGS = [
        Binding("slash", "focus_search", "Search", show=False),
        Binding("escape", "clear_search", "Clear search", show=False),
        Binding("d", "delete", "Delete"),
        Binding("e", "export", "Export"),
        Binding("r", "rerun", "Re-run"),
        Binding("R", "rerun_with", "Re-run with…", show=False),  # in help: the footer fits 120
    ]

    def __init__(
        self,
        history: HistoryLike | None = None,
        *,
        export_dir: Path | str | None = None,
        strategies: Sequence[str] | None = None,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._history = history
        self.export_dir = Path(export_dir) if export_dir is not None else None
        self._strategies = tuple(strategies) if strategies else None
        self._search_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Input(placeholder="/ search history", id="history-search")
        yield HistoryList(self._history, id="history-list")
        yield Static("", id="history-position")

    def on_mount(self) -> None:
        self.history_list.load()

    @property
    def history_list(self) -> HistoryList:
        return self.query_one(HistoryList)

    @property
    def search_input(self) -> Input:
        return self.query_one("#history-search", Input)

    @property
    def history(self) -> HistoryLike:
        return self.history_list.history

    # --- public ----------------------------------------------------------------------------

    def refresh_list(self) -> None:
        """Reload (after a chain was saved or deleted elsewhere), keeping the selection's place.

        A new chain arrives at the top; when the newest chain was selected the selection
        moves to the newcomer, otherwise it stays on the same offset.
        """
        offset = self.history_list.selected_offset
        self.history_list.load_in_background(self.history_list.search, at=offset or 0)

    def focus_list(self) -> None:
        self.history_list.focus()

    # --- search ----------------------------------------------------------------------------

    def action_focus_search(self) -> None:
        self.search_input.focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Esc with nothing to clear goes on to the app (it may cancel a running chain).
        if action == "clear_search":
            return bool(self.search_input.value) or self.search_input.has_focus
        if action in {"delete", "export", "rerun", "rerun_with"}:
            return not self.search_input.has_focus
        return True

    def action_clear_search(self) -> None:
        self.search_input.value = ""
        self._cancel_timer()
        self.history_list.load_in_background(None)
        self.history_list.focus()

    @on(Input.Changed, "#history-search")
    def _search_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._cancel_timer()
        self._search_timer = self.set_timer(SEARCH_DEBOUNCE_S, self.run_search)

    @on(Input.Submitted, "#history-search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._cancel_timer()
        self.run_search()
        self.history_list.focus()

    def run_search(self) -> None:
        """Apply the search box now (the debounce timer calls this)."""
        self._search_timer = None
        query = self.search_input.value.strip() or None
        # Setting the box from code (Esc clears it) also sends Changed: don't reload for
        # that, it would throw away where the user has moved since.
        if query != self.history_list.search:
            self.history_list.load_in_background(query)

    def _cancel_timer(self) -> None:
        if self._search_timer is not None:
            self._search_timer.stop()
            self._search_timer = None

    # --- position line ---------------------------------------------------------------------

    @on(HistoryList.CursorMoved)
    def _cursor_moved(self, event: HistoryList.CursorMoved) -> None:
        event.stop()
        lst = self.history_list
        offset = lst.selected_offset
        where = f"{offset + 1:,} / {lst.total:,}" if offset is not None else f"0 / {lst.total:,}"
        if lst.search:
            where += f" matching {clean_line(lst.search, 24)}"
        self.query_one("#history-position", Static).update(Text(where))

    # --- actions on the selected chain -----------------------------------------------------

    @on(HistoryList.Activated)
    def _activated(self, event: HistoryList.Activated) -> None:
        event.stop()
        self.post_message(OpenChain(event.summary.id))

    async def _store(self, what: str, call: Callable[[], T]) -> T | _Failed:
        """Run a store call in a thread; a failure is said in a toast and gives FAILED."""
        try:
            return await asyncio.to_thread(call)
        except (*STORE_ERRORS, OSError) as exc:
            self.notify(clean_line(f"{what} failed: {exc}", 300), severity="error", markup=False)
            return FAILED

    def action_delete(self) -> None:
        summary = self.history_list.selected
        if summary is None:
            return
        chain_id = summary.id
        question = clean_line(summary.question or "", 60)
        if summary.status == Status.RUNNING:  # deleted now, it would come back (decisions.md)
            self.notify("That chain is still running: stop it first (Esc).", severity="warning")
            return

        async def delete() -> None:
            if await self._store("Delete", lambda: self.history.delete(chain_id)) is FAILED:
                return
            self.refresh_list()
            self.notify(clean_line(f"Deleted chain {chain_id}", 80), markup=False)

        def done(confirmed: bool | None) -> None:
            if confirmed:
                self.run_worker(delete(), group="history-store")
            self.history_list.focus()

        turns = int(getattr(summary, "turns", 1) or 1)
        if turns > 1:  # a thread: one turn or all of it (tui.store.thread_store)
            self.app.push_screen(
                ChoiceScreen(f"Delete from this thread?\n\n{question}", thread_choices(turns)),
                lambda choice: self._delete_from_thread(chain_id, choice, turns),
            )
            return
        self.app.push_screen(ConfirmScreen(f"Delete this chain?\n\n{question}"), done)

    def _delete_from_thread(self, chain_id: str, choice: str | None, turns: int) -> None:
        """Delete the newest turn or the whole thread, as chosen (None: nothing)."""
        self.history_list.focus()
        if choice is None:
            return
        whole = choice == thread_choices(turns)[1]

        def work() -> int:
            from tui.store.thread_store import delete_thread

            if not whole:
                return int(self.history.delete(chain_id))
            store: Any = getattr(self.history, "history", self.history)  # GroupedHistory's
            return delete_thread(store, chain_id)

        async def delete() -> None:
            deleted = await self._store("Delete", work)
            if deleted is FAILED:
                return
            self.refresh_list()
            what = f"the thread ({deleted} turns)" if whole else f"turn {chain_id}"
            self.notify(clean_line(f"Deleted {what}", 80), markup=False)

        self.run_worker(delete(), group="history-store")

    def action_export(self) -> None:
        summary = self.history_list.selected
        if summary is None:
            return
        chain_id, where = summary.id, self.export_dir or Path.cwd()

        def export() -> Path | None:
            chain = self.history.get(chain_id)
            if chain is None:
                return None
            return write_markdown(chain, where, getattr(self.history, "path", None))

        async def work() -> None:
            path = await self._store("Export", export)
            if path is None:
                self.notify("That chain is no longer in the history.", severity="warning")
                self.refresh_list()
            elif not isinstance(path, _Failed):
                self.notify(clean_line(f"Exported to {path}", 300), title="Export", markup=False)

        self.run_worker(work(), group="history-store")

    async def _question_of_selected(self) -> str | None:
        summary = self.history_list.selected
        if summary is None:
            return None
        # The summary's question may be shortened for the list; re-run the stored one.
        chain = await self._store("Reading the chain", lambda: self.history.get(summary.id))
        if isinstance(chain, _Failed):
            return None
        return chain.question if chain is not None else summary.question

    def action_rerun(self) -> None:
        async def work() -> None:
            question = await self._question_of_selected()
            if question is not None:
                self.post_message(RerunChain(question, strategy=None))

        self.run_worker(work(), group="history-store")

    def action_rerun_with(self) -> None:
        summary = self.history_list.selected

        def chosen(question: str, strategy: str | None) -> None:
            if strategy:
                self.post_message(RerunChain(question, strategy=strategy))
            self.history_list.focus()

        async def work() -> None:
            question = await self._question_of_selected()
            if question is None:
                return
            current = str(summary.strategy) if summary is not None else None
            dialog = ChoiceScreen("Re-run with which strategy?", self.strategies, current=current)
            self.app.push_screen(dialog, lambda strategy: chosen(question, strategy))

        self.run_worker(work(), group="history-store")

    @property
    def strategies(self) -> tuple[str, ...]:
        return self._strategies or STRATEGY_NAMES


__all__ = ["HistoryList", "HistoryPanel", "SEARCH_DEBOUNCE_S"]


def thread_choices(turns: int) -> tuple[str, str]:
    """The two answers of "delete from this thread?"."""
    return ("Only this turn (the newest)", f"The whole thread ({turns} turns)")
