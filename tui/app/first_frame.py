"""What the app does right after its first frame, so the first frame waits for none of it:
the collector back on (tui/startup.py), the chain views' style sheet (``chains.tcss``: most
of the app's styles, which the first frame, showing no chain, does not use), the history opened (run_app passes an opener: the
store's import and open are ~20 ms), its sidebar mounted (hidden until F2), the chain view's
import, the connection to the model."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from textual.app import App

from tui.app.host import Notifies
from tui.sanitize import clean_line

if TYPE_CHECKING:
    from tui.app.choices import Choice
    from tui.app.widgets.history_panel import HistoryPanel
    from tui.store.history import History


#: The chain views' style sheet, next to app.tcss.
CHAIN_STYLES = "chains.tcss"


class FirstFrameHost(Protocol):
    """What :class:`AfterFirstFrame` sets and reads on the app."""

    #: The history store (None until opened, or when it could not be).
    history: History | None
    #: What ended the app before it could work: run_app raises it after the exit.
    startup_error: Exception | None

    @property
    def choices(self) -> Sequence[Choice]: ...


def notify_recovery(app: Notifies, history: History | None) -> None:
    """A damaged history set aside when it was opened: say where it went."""
    recovered = history.recovery if history is not None else None
    if recovered is not None:
        app.notify(
            clean_line(recovered.message(), 300),
            severity="warning",
            markup=False,
            timeout=10,
        )


class AfterFirstFrame:
    """The work of ``app`` after its first frame (see the module docstring).

    ``open_history``: opens the history, once (None: ``host.history`` is given already);
    ``connect``: starts the connection to the model (None: the app does not connect)."""

    def __init__(
        self,
        app: App[Any],
        host: FirstFrameHost,
        *,
        open_history: Callable[[], History] | None,
        connect: Callable[[], None] | None,
    ) -> None:
        self.app = app
        self.host = host
        self._open_history = open_history
        self._connect = connect

    async def run(self) -> None:
        from tui.startup import resume_gc

        resume_gc()  # paused by the command for the start-up
        self.load_chain_styles()
        if not self._opened_history():
            return
        if self._connect is not None:  # the OpenAI client's import costs a few hundred ms
            self._connect()
        await self.sidebar()
        import tui.app.widgets.chain_view  # noqa: F401 - imported now, not at the first question

    def load_chain_styles(self) -> None:
        """Add ``chains.tcss`` to the app's style sheet: parsed alone (the others are in the
        parse cache), with the same standing as app.tcss (the app's own CSS, after it)."""
        app = self.app
        path = str(Path(__file__).with_name(CHAIN_STYLES))
        if app.stylesheet.has_source(path):
            return
        app.stylesheet.read(path)
        app.stylesheet.parse()
        if app.query("ChainView, GroupView"):  # a chain shown already (tests attach early)
            app.stylesheet.update(app)

    def _opened_history(self) -> bool:
        """Open the history given as an opener, once; False when it cannot be opened: then
        the app ends and run_app raises the error (the command reports it in one line, as it
        did when the history was opened before the app)."""
        opener, self._open_history = self._open_history, None
        if opener is None:
            return True
        try:
            self.host.history = opener()
        except Exception as err:  # noqa: BLE001 - raised again by run_app, after the exit
            self.host.startup_error = err
            self.app.exit(return_code=1)
            return False
        notify_recovery(self.app, self.host.history)
        return True

    async def sidebar(self) -> HistoryPanel | None:
        """The history sidebar (hidden until F2), mounted once; None without a history."""
        from tui.app.widgets.history_panel import HistoryPanel
        from tui.store.group_store import GroupedHistory

        history = self.host.history
        if history is None:
            return None
        found = self.app.query(HistoryPanel)
        if found:
            return found.first()
        # Groups are one entry each in the sidebar (their chains are listed inside them).
        panel = HistoryPanel(
            GroupedHistory(history),
            strategies=[choice.label for choice in self.host.choices],
            id="history",
            classes="-hidden",
        )
        await self.app.query_one("#body").mount(panel, before=0)
        return panel
