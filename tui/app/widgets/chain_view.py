"""A chain on screen: the question, its steps, the final answer apart, and any error.

The view is driven by events (:meth:`ChainView.apply`) for a live chain, or built whole from
a saved :class:`~tui.core.chain.Chain` (read-only, with its recorded timings). It never measures
time itself: the caller passes ``now`` (the app's clock), so tests and snapshots can fix it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence

from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.dom import DOMNode
from textual.widget import Widget
from textual.widgets import Markdown, Static
from textual.widgets.markdown import MarkdownStream

from tui.core.chain import (
    AnswerDelta,
    AnswerFinished,
    Chain,
    ChainFailed,
    ChainFinished,
    ChainStarted,
    Status,
    Step,
    StepDelta,
    StepFinished,
    StepStarted,
)
from tui.core.repetition import repetition_note
from tui.formatting import format_seconds
from tui.sanitize import clean, clean_line

from .question_input import hold_cursor_blink
from .step_view import StepView, shown_seconds

#: Saved chains with more steps than this open with their steps folded (built on expand).
EXPAND_SAVED_UP_TO = 8

_STATUS_WORDS = {
    Status.RUNNING: "running",
    Status.DONE: "done",
    Status.CANCELLED: "cancelled",
    Status.ERROR: "error",
    Status.STEP_LIMIT: "step limit reached",
}


#: The text of a cancelled chain's panel (titled "Cancelled"): a user's cancel is no error.
CANCELLED_TEXT = "Stopped at your request."


class AnswerPanel(Vertical):
    """The final answer, set apart, with the total thinking time in its border."""

    def __init__(self, text: str = "") -> None:
        super().__init__(classes="answer")
        self.text = clean(text)
        self.body = Markdown(self.text, open_links=False)
        self._stream: MarkdownStream | None = None
        self.border_title = "Answer"

    def compose(self) -> ComposeResult:
        yield self.body

    async def append(self, fragment: str) -> None:
        self.text += fragment
        if self._stream is None:
            self._stream = Markdown.get_stream(self.body)
        await self._stream.write(fragment)

    async def finish(self, text: str) -> None:
        if self._stream is not None:
            stream, self._stream = self._stream, None
            await stream.stop()
        self.text = clean(text) if text else self.text
        await self.body.update(self.text)


class ChainView(Vertical):
    """One chain: a scrolling column of steps and answer, and a status line under it."""

    DEFAULT_CLASSES = "chain-view"

    def __init__(
        self,
        chain: Chain,
        *,
        live: bool,
        now: float = 0.0,
        id: str | None = None,
        earlier: Sequence[Chain] = (),
    ):
        super().__init__(id=id)
        self.chain = chain
        #: A follow-up's earlier turns, oldest first (shown folded above the question).
        self.earlier = list(earlier)
        self.live = live
        #: A cancel was asked and the chain has not ended yet.
        self.cancelling = False
        self.started_at = now
        self.elapsed_s = 0.0 if live else chain.total_s
        self.steps: dict[int, StepView] = {}
        self.answer: AnswerPanel | None = None
        self.error: Static | None = None
        #: Why the reasoning ended early (a repeating g1 chain), under the steps.
        self.note: Static | None = None
        self.scroll = VerticalScroll(classes="chain-scroll")
        self.status_line = Static("", classes="chain-status")
        #: What the status line shows (it is redrawn only when this changes).
        self._status_text = ""
        # Events can arrive before the view has finished mounting (a fast server).
        self._mounted = asyncio.Event()

    # --- building ------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with self.scroll:
            if self.earlier:
                from .earlier_turns import EarlierTurns

                yield EarlierTurns(self.earlier, dropped=self.chain.dropped_turns)
            yield Static(self._question_content(), classes="question")
            if not self.live:
                yield from self._saved_widgets()
        yield self.status_line

    def _question_content(self) -> Content:
        meta = f"{self.chain.strategy} · {clean_line(self.chain.model, 60)}"
        return Content.assemble(
            ("Q ", "bold"), clean(self.chain.question).strip(), ("  " + meta, "dim")
        )

    def _saved_widgets(self) -> Iterator[Widget]:
        """Widgets of a saved chain, built at once (the caller mounts them in one batch)."""
        folded = len(self.chain.steps) > EXPAND_SAVED_UP_TO
        for step in self.chain.steps:
            view = StepView.from_step(step, collapsed=folded)
            self.steps[step.index] = view
            yield view
        if self.chain.note:
            self.note = self._note_panel(self.chain.note)
            yield self.note
        if self.chain.final_answer:
            self.answer = AnswerPanel(self.chain.final_answer)
            self._title_answer()
            yield self.answer
        if self.chain.status in (Status.ERROR, Status.CANCELLED, Status.STEP_LIMIT):
            self.error = self._error_panel(self.chain.error or "")
            yield self.error

    def on_mount(self) -> None:
        if self.live:
            self.scroll.anchor()
            hold_cursor_blink(self, True)
        self._update_status()
        self._mounted.set()

    def on_unmount(self) -> None:
        hold_cursor_blink(self, False)

    # --- live events ---------------------------------------------------------------------------

    async def apply(self, event: object, now: float) -> None:
        """Apply one chain event (on the app's loop)."""
        if not self._mounted.is_set():
            await self._mounted.wait()
        if isinstance(event, StepDelta):  # the hot path first
            view = self.steps.get(event.index)
            if view is None:
                view = await self._start_step(event.index, event.title or "", now)
            elif event.title is not None:
                view.set_step_title(event.title)
            await view.append(clean(event.text))
        elif isinstance(event, AnswerDelta):
            await (await self._answer_panel()).append(clean(event.text))
        elif isinstance(event, StepStarted):
            view = self.steps.get(event.index)
            if view is None:
                await self._start_step(event.index, event.title, now)
            elif view.running:  # the same step again: a retry replaces the failed attempt
                await view.restart(event.title)
        elif isinstance(event, StepFinished):
            await self._finish_step(event.step, now)
        elif isinstance(event, AnswerFinished):
            await (await self._answer_panel()).finish(event.text)
            self._title_answer()
        elif isinstance(event, ChainStarted):
            self.chain = event.chain
            if self.chain.note and self.note is None:  # a follow-up that left turns out
                self.note = self._note_panel(self.chain.note)
                await self._mount_before_answer(self.note)
        elif isinstance(event, ChainFinished):
            await self._end(event.chain, "")
        elif isinstance(event, ChainFailed):
            await self._end(event.chain, event.message)
        self._update_status()

    async def _start_step(self, index: int, title: str, now: float) -> StepView:
        view = StepView(index, title, running=True, started_at=now, elapsed_s=0.0)
        self.steps[index] = view
        await self._mount_before_answer(view)
        return view

    async def _finish_step(self, step: Step, now: float) -> None:
        view = self.steps.get(step.index)
        if view is None:
            view = StepView(step.index, step.title, running=True, started_at=now)
            self.steps[step.index] = view
            await self._mount_before_answer(view)
        await view.finish(step)
        note = repetition_note([step])
        if note and self.note is None:
            self.note = self._note_panel(note)
            await self._mount_before_answer(self.note)

    async def _mount_before_answer(self, widget: Widget) -> None:
        if self.answer is not None and self.answer.is_mounted:
            await self.scroll.mount(widget, before=self.answer)
        else:
            await self.scroll.mount(widget)

    async def _answer_panel(self) -> AnswerPanel:
        if self.answer is None:
            self.answer = AnswerPanel()
            await self.scroll.mount(self.answer)
        return self.answer

    async def _end(self, chain: Chain, message: str) -> None:
        self.chain = chain
        self.live = False
        hold_cursor_blink(self, False)
        self.elapsed_s = chain.total_s
        note = _STATUS_WORDS.get(chain.status, chain.status.value)
        for view in self.steps.values():
            await view.interrupt(note)
        if chain.final_answer and self.answer is None:
            panel = await self._answer_panel()
            await panel.finish(chain.final_answer)
        if self.answer is not None:
            self._title_answer()
        if chain.status != Status.DONE:
            self.error = self._error_panel(message or chain.error or "")
            await self.scroll.mount(self.error)
        # The panels mounted just now are laid out on the next refresh: scroll to them then,
        # or the error (with the server's words) would sit below the fold.
        self.call_after_refresh(self._settle)

    def _settle(self) -> None:
        self.scroll.scroll_end(animate=False)
        self.scroll.release_anchor()

    def _error_panel(self, message: str) -> Static:
        status = self.chain.status
        word = _STATUS_WORDS.get(status, status.value).capitalize()
        kept = len(self.chain.steps)
        text = clean(message).strip() or word
        if status == Status.CANCELLED:  # the title says "Cancelled": the text says by whom
            text = CANCELLED_TEXT
        panel = Static(Content(text), classes=f"error-panel -{status.value}")
        panel.border_title = word
        panel.border_subtitle = f"{kept} finished step{'s' if kept != 1 else ''} kept"
        return panel

    @staticmethod
    def _note_panel(note: str) -> Static:
        return Static(Content(note), classes="chain-note")

    def _title_answer(self) -> None:
        if self.answer is None:
            return
        self.answer.border_title = "Answer"
        if not self.live:
            self.answer.border_subtitle = f"thought for {format_seconds(self.chain.total_s)}"

    # --- time ----------------------------------------------------------------------------------

    def tick(self, now: float) -> None:
        """Advance the running step's and the chain's clocks."""
        if not self.live:
            return
        self.elapsed_s = max(0.0, now - self.started_at)
        for view in self.steps.values():
            if view.running:
                view.tick(now)
        self._update_status()

    def show_cancelling(self) -> None:
        """A cancel was asked: the status line says "cancelling…" until the end arrives (a
        cancel can take a moment while the server's request is closed)."""
        self.cancelling = True
        self._update_status()

    def _update_status(self) -> None:
        chain = self.chain
        word = "running" if self.live else _STATUS_WORDS.get(chain.status, chain.status.value)
        parts = [
            "cancelling…" if self.live and self.cancelling else word,
            chain.strategy,
            f"{len(self.steps)} step{'s' if len(self.steps) != 1 else ''}",
        ]
        parts.append(
            shown_seconds(self.elapsed_s if self.live else chain.total_s, running=self.live)
        )
        tokens = sum(v.tokens or 0 for v in self.steps.values())
        if tokens:
            parts.append(f"{tokens} tok")
        text = " · ".join(parts)
        if text == self._status_text:
            return  # a delta or a tick that changes nothing shown: no redraw
        self._status_text = text
        # One line of fixed height: no new layout of the chain for a clock tick.
        self.status_line.update(Content(text), layout=False)
        for status in Status:
            self.status_line.set_class(word == _STATUS_WORDS[status], f"-{status.value}")

    # --- queries -------------------------------------------------------------------------------

    def step_views(self) -> list[StepView]:
        return [self.steps[i] for i in sorted(self.steps)]

    def focused_step(self) -> StepView | None:
        """The step holding focus, else the latest step."""
        focused = self.app.focused
        node: DOMNode | None = focused
        while node is not None and node is not self:
            if isinstance(node, StepView):
                return node
            node = node.parent
        views = self.step_views()
        return views[-1] if views else None

    def answer_text(self) -> str:
        return self.answer.text if self.answer is not None else ""
