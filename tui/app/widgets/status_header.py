"""The top line: the app's name, the server/model state, and the current strategy.

``● ready · internlm3-8b-instruct · 127.0.0.1:23333``; the dot's colour follows the state.
"""

from __future__ import annotations

from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget

from backends.state import ServerState
from tui.app.state_look import state_look
from tui.sanitize import clean_line


class StatusHeader(Widget):
    """One line; every value shown is set by the app from messages, never measured here."""

    DEFAULT_CLASSES = "status-header"

    state: reactive[ServerState] = reactive(ServerState.NONE)
    detail: reactive[str] = reactive("")
    model: reactive[str] = reactive("")
    address: reactive[str] = reactive("")
    strategy: reactive[str] = reactive("g1")
    running: reactive[int] = reactive(0)

    def render(self) -> Content:
        parts: list[str | tuple[str, str]] = [("o1tui", "bold $accent"), "  "]
        parts.append(("● ", "$" + state_look(self.state)[1]))
        fields = [str(self.state)]
        if self.model:
            fields.append(clean_line(self.model, 48))
        if self.address:
            fields.append(clean_line(self.address, 40))
        if self.detail and self.state != ServerState.READY:
            fields.append(clean_line(self.detail, 80))
        parts.append(" · ".join(fields))
        right = f"strategy {self.strategy}"
        if self.running:
            right = f"{self.running} running · " + right
        left = Content.assemble(*parts)
        pad = max(2, self.size.width - left.cell_length - len(right) - 1)
        return Content.assemble(left, " " * pad, (right, "$text-muted"))
