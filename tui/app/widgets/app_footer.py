"""The key footer of every screen, fitted to narrow terminals.

Below :data:`COMPACT_BELOW` columns it drops the spaces around keys (Textual's compact footer)
and the command palette's key (``app.tcss`` hides it; Ctrl+P still works and help lists it):
at 80 columns the keys of the focused history list and the app's own did not fit, and the
last one shown was cut mid-word (``^t Stra``).
"""

from __future__ import annotations

from textual import events
from textual.widgets import Footer

#: The width from which the footer has its roomy look (the app's wide layout starts there).
COMPACT_BELOW = 100


class AppFooter(Footer):
    """A :class:`Footer` that turns compact on narrow terminals."""

    def on_resize(self, event: events.Resize) -> None:
        self.compact = event.size.width < COMPACT_BELOW
