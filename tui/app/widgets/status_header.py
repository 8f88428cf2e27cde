"""The top line: the app's name, the server/model state, and the current strategy.

``● ready · internlm3-8b-instruct · 127.0.0.1:23333``; the dot's colour follows the state. While
a server loads: ``● starting · SmolLM2-135M-Instruct · weights ━━━━━━──── 3/5 · 12 s``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget

from backends.state import ServerState
from tui.app.state_look import state_look
from tui.sanitize import clean_line

if TYPE_CHECKING:  # the stage tables are imported while a server starts, not for the first frame
    from backends.stages import StartProgress


class StatusHeader(Widget):
    """One line; every value shown is set by the app from messages, never measured here."""

    DEFAULT_CLASSES = "status-header"

    state: reactive[ServerState] = reactive(ServerState.NONE)
    detail: reactive[str] = reactive("")
    model: reactive[str] = reactive("")
    address: reactive[str] = reactive("")
    strategy: reactive[str] = reactive("g1")
    running: reactive[int] = reactive(0)
    #: Chains sent to a server that works on fewer at once (llama.cpp: one); they wait.
    waiting: reactive[int] = reactive(0)
    #: The start-up's stage while a managed server loads (backends.stages).
    progress: reactive[StartProgress | None] = reactive(None)

    def render(self) -> Content:
        parts: list[str | tuple[str, str]] = [("o1tui", "bold $accent"), "  "]
        parts.append(("● ", "$" + state_look(self.state)[1]))
        fields = [str(self.state)]
        if self.model:
            fields.append(clean_line(self.model, 48))
        if self.address:
            fields.append(clean_line(self.address, 40))
        progress = self.progress if self.state == ServerState.STARTING else None
        if self.detail and self.state != ServerState.READY and progress is None:
            fields.append(clean_line(self.detail, 80))
        parts.append(" · ".join(fields))
        if progress is not None:
            from backends.stages import bar_text

            parts += [
                f" · {progress.label} ",
                (bar_text(progress.fraction, 10), "$accent"),
                f" {progress.index + 1}/{progress.count} · {progress.elapsed_s:.0f} s",
            ]
        right = f"strategy {self.strategy}"
        if self.running or self.waiting:
            counts = f"{self.running} running"
            if self.waiting:
                counts += f", {self.waiting} waiting"
            right = f"{counts} · {right}"
        left = Content.assemble(*parts)
        # The right side (what runs, the strategy) is never cut: the server's side gives way.
        room = self.size.width - len(right) - 3
        if left.cell_length > room:
            left = left.truncate(max(room - 1, 0)) + Content("…")
        pad = max(2, self.size.width - left.cell_length - len(right) - 1)
        return Content.assemble(left, " " * pad, (right, "$text-muted"))
