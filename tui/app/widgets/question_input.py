"""The question box: one line, Enter runs; its border names the current strategy and
whether Enter follows up the chain on screen or starts a new thread."""

from __future__ import annotations

from textual.widgets import Input

NEW_PLACEHOLDER = "Ask a question, Enter to reason it through"


class QuestionInput(Input):
    """Where the user types the question. Enter posts ``Input.Submitted`` (handled by the app)."""

    DEFAULT_CLASSES = "question-input"

    def __init__(self, strategy: str, *, id: str | None = "question") -> None:
        super().__init__(placeholder=NEW_PLACEHOLDER, id=id)
        #: The question the next one follows up (cleaned, short); None: a new thread.
        self.follows: str | None = None
        self._strategy = strategy
        self._key = "Ctrl+t"
        self.show_strategy(strategy)

    def show_strategy(self, strategy: str, key: str = "Ctrl+t") -> None:
        """Name the strategy a new chain will use (trusted: one of the known names)."""
        self._strategy, self._key = strategy, key
        what = "Follow-up" if self.follows is not None else "Question"
        self.border_title = f"{what} · strategy {strategy}"
        self.border_subtitle = f"{key} switches"

    def show_follow_up(self, question: str | None, new_key: str = "Ctrl+n") -> None:
        """Say what Enter will do: follow up ``question`` (cleaned by the caller), or, with
        None, start a new thread; ``new_key`` is the key that starts one."""
        self.follows = question
        self.placeholder = (
            NEW_PLACEHOLDER
            if question is None
            else f"Follow up on “{question}” · {new_key}: new thread"
        )
        self.show_strategy(self._strategy, self._key)
