"""What the app does right after its first frame, so the first frame waits for none of it:
the collector back on (tui/startup.py), the chain views' style sheet (``chains.tcss``: most
of the app's styles, which the first frame, showing no chain, does not use), the history opened (run_app passes an opener: the
store's import and open are ~20 ms), its sidebar mounted (hidden until F2), the chain view's
import, the connection to the model. :class:`FirstFrameMixin` is mixed into :class:`tui.app.app.O1App`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, cast

from textual.app import App

from tui.sanitize import clean_line

if TYPE_CHECKING:
    from tui.app.app import O1App
    from tui.app.widgets.history_panel import HistoryPanel


#: The chain views' style sheet, next to app.tcss.
CHAIN_STYLES = "chains.tcss"


class FirstFrameMixin(App[int]):
    """The app's work after its first frame (see the module docstring)."""

    async def _after_first_frame(self) -> None:
        from tui.startup import resume_gc

        resume_gc()  # paused by the command for the start-up
        self._load_chain_styles()
        if not self._opened_history():
            return
        app = cast("O1App", self)
        if app.connect_on_start:  # the OpenAI client's import costs a few hundred ms
            app.connector.start()
        await self._mount_history()
        import tui.app.widgets.chain_view  # noqa: F401 - imported now, not at the first question

    def _load_chain_styles(self) -> None:
        """Add ``chains.tcss`` to the app's style sheet: parsed alone (the others are in the
        parse cache), with the same standing as app.tcss (the app's own CSS, after it)."""
        path = str(Path(__file__).with_name(CHAIN_STYLES))
        if self.stylesheet.has_source(path):
            return
        self.stylesheet.read(path)
        self.stylesheet.parse()
        if self.query("ChainView, GroupView"):  # a chain shown already (tests attach early)
            self.stylesheet.update(self)

    def _opened_history(self) -> bool:
        """Open the history given as an opener, once; False when it cannot be opened: then
        the app ends and run_app raises the error (the command reports it in one line, as it
        did when the history was opened before the app)."""
        app = cast("O1App", self)
        opener, app._open_history = app._open_history, None
        if opener is None:
            return True
        try:
            app.history = opener()
        except Exception as err:  # noqa: BLE001 - raised again by run_app, after the exit
            app.startup_error = err
            self.exit(return_code=1)
            return False
        self._notify_recovery()
        return True

    def _notify_recovery(self) -> None:
        """A damaged history set aside when it was opened: say where it went."""
        history = cast("O1App", self).history
        recovered = history.recovery if history is not None else None
        if recovered is not None:
            self.notify(
                clean_line(recovered.message(), 300),
                severity="warning",
                markup=False,
                timeout=10,
            )

    async def _mount_history(self) -> HistoryPanel | None:
        """The history sidebar (hidden until F2), mounted once; None without a history."""
        from tui.app.widgets.history_panel import HistoryPanel
        from tui.store.group_store import GroupedHistory

        app = cast("O1App", self)
        if app.history is None:
            return None
        found = self.query(HistoryPanel)
        if found:
            return found.first()
        # Groups are one entry each in the sidebar (their chains are listed inside them).
        panel = HistoryPanel(
            GroupedHistory(app.history),
            strategies=app.strategy_names,
            id="history",
            classes="-hidden",
        )
        await self.query_one("#body").mount(panel, before=0)
        return panel
