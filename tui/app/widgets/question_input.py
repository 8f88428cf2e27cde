"""The question box: one line, Enter runs; its border names the current strategy."""

from __future__ import annotations

from textual.widgets import Input


class QuestionInput(Input):
    """Where the user types the question. Enter posts ``Input.Submitted`` (handled by the app)."""

    DEFAULT_CLASSES = "question-input"

    def __init__(self, strategy: str, *, id: str | None = "question") -> None:
        super().__init__(placeholder="Ask a question, Enter to reason it through", id=id)
        self.show_strategy(strategy)

    def show_strategy(self, strategy: str, key: str = "Ctrl+t") -> None:
        """Name the strategy a new chain will use (trusted: one of the known names)."""
        self.border_title = f"Question · strategy {strategy}"
        self.border_subtitle = f"{key} switches"
