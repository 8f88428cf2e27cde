"""The question box: one line, Enter runs; its border names the current strategy and
whether Enter follows up the chain on screen or starts a new thread."""

from __future__ import annotations

from textual.dom import DOMNode
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
        #: What holds the cursor steady (ids of live chain views), and the blink setting to
        #: go back to when nothing does.
        self._blink_holders: set[int] = set()
        self._blink_wanted = self.cursor_blink
        self.show_strategy(strategy)

    def hold_blink(self, holder: object, held: bool) -> None:
        """While ``holder`` (a streaming chain) holds it, the cursor stays lit instead of
        blinking: each blink is a redraw of the box, twice a second, while the chain draws."""
        if held and not self._blink_holders:
            self._blink_wanted = self.cursor_blink
        if held:
            self._blink_holders.add(id(holder))
        else:
            self._blink_holders.discard(id(holder))
        self.cursor_blink = self._blink_wanted if not self._blink_holders else False

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


def hold_cursor_blink(node: DOMNode, held: bool) -> None:
    """Hold (or let go of) the question boxes' cursor blink for ``node``, a view that
    streams (see :meth:`QuestionInput.hold_blink`)."""
    for box in node.app.query(QuestionInput):
        box.hold_blink(node, held)
