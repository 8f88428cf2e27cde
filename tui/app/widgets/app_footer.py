"""The key footer of every screen, fitted to narrow terminals.

Below :data:`COMPACT_BELOW` columns it drops the spaces around keys (Textual's compact footer),
the command palette's key (``app.tcss`` hides it; Ctrl+P still works and help lists it) and the
keys of :data:`NARROW_HIDDEN`: at 80 columns the keys of the focused history list and the
app's own did not fit, and the last one shown was cut mid-word (``^t Stra``).
"""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

#: The width from which the footer has its roomy look (the app's wide layout starts there).
COMPACT_BELOW = 100
#: Actions whose keys a narrow footer leaves to help: Enter opens the history's chain, as
#: Enter does on any list.
NARROW_HIDDEN = frozenset({"open"})


class AppFooter(Footer):
    """A :class:`Footer` that turns compact, and leaves out the obvious keys, when narrow."""

    def compose(self) -> ComposeResult:
        for widget in super().compose():
            if self.compact and isinstance(widget, FooterKey) and widget.action in NARROW_HIDDEN:
                continue
            yield widget

    def on_resize(self, event: events.Resize) -> None:
        compact = event.size.width < COMPACT_BELOW
        if compact != self.compact:
            self.compact = compact
            self.refresh(recompose=True)
