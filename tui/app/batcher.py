"""Chain events to app messages, deltas merged to about one message a frame."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from tui.core.chain import AnswerDelta, Event, StepDelta


class EventBatcher:
    """Turns a chain's event stream into at most one delta message a frame.

    A fast server sends thousands of deltas a second; a Textual message and a Markdown
    append for each would leave the screen seconds behind. Consecutive deltas of one step
    (or of the answer) are merged and posted every ``interval`` seconds; any other event
    first flushes what is pending, so the order of events is kept.
    """

    def __init__(self, post: Callable[[Event], object], interval: float = 0.05) -> None:
        self._post = post
        self._interval = interval
        self._key: tuple[str, int] | None = None
        self._texts: list[str] = []
        self._title: str | None = None
        self._handle: asyncio.TimerHandle | None = None

    def __call__(self, event: Event) -> None:
        if isinstance(event, StepDelta):
            self._add(("step", event.index), event.text, event.title)
        elif isinstance(event, AnswerDelta):
            self._add(("answer", 0), event.text, None)
        else:
            self.flush()
            self._post(event)

    def _add(self, key: tuple[str, int], text: str, title: str | None) -> None:
        if key != self._key:
            self.flush()
            self._key = key
        self._texts.append(text)
        if title is not None:
            self._title = title
        if self._handle is None:
            self._handle = asyncio.get_running_loop().call_later(self._interval, self.flush)

    def flush(self) -> None:
        """Post what is pending now (one merged delta)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if self._key is None:
            return
        kind, index = self._key
        text = "".join(self._texts)
        if kind == "step":
            self._post(StepDelta(index, text, self._title))
        else:
            self._post(AnswerDelta(text))
        self._key, self._texts, self._title = None, [], None
