"""One reasoning step: a collapsible titled ``Step 3 · Checking alternatives · 2.41 s · 187 tok``.

While the step runs its text streams in through Textual's :class:`MarkdownStream`, at most
once every :data:`STREAM_INTERVAL_S` (every Markdown block is a widget, and each redraw lays out
the whole chain again: a long answer is hundreds of blocks), and the time in the title ticks
without a new layout while the title keeps its width. When the step finishes, the whole text is set once more with one full update: a
stream only re-parses the tail, so a code fence or list opened mid-stream can leave stale
blocks behind.

Saved steps are built lazily: the Markdown widget is only created when the step is first
expanded, so opening a long saved chain costs little.
"""

from __future__ import annotations

import time

from textual.content import Content
from textual.timer import Timer
from textual.widgets import Collapsible, Markdown
from textual.widgets.collapsible import CollapsibleTitle
from textual.widgets.markdown import MarkdownStream

from tui.chain import Step
from tui.formatting import format_seconds
from tui.repetition import REPEATED
from tui.sanitize import clean, clean_line

TITLE_LIMIT = 80

#: Least time between two redraws of a streaming step's text (ten a second reads smoothly;
#: a fast server sends hundreds of tokens a second).
STREAM_INTERVAL_S = 0.1


def step_title(
    index: int, title: str, elapsed_s: float | None, tokens: int | None, note: str = ""
) -> Content:
    """The collapsible's title. ``title`` is untrusted: shown as plain text, never markup."""
    parts: list[str | tuple[str, str]] = [(f"Step {index}", "bold")]
    shown = clean_line(title, TITLE_LIMIT)
    if shown:
        parts += [" · ", shown]
    meta = []
    if elapsed_s is not None:
        meta.append(format_seconds(elapsed_s))
    if tokens is not None:
        meta.append(f"{tokens} tok")
    if meta:
        parts.append((" · " + " · ".join(meta), "dim"))
    if note:
        parts.append((f" · {note}", "italic"))
    return Content.assemble(*parts)


def finished_note(step: Step) -> str:
    """The word a finished step's title carries: "repeated" where g1 stopped for repeating."""
    return "repeated" if step.finish_reason == REPEATED else ""


def needs_full_render(streamed: str, final: str) -> bool:
    """Whether a streamed Markdown document must be rebuilt from the final text.

    A stream only re-parses its tail, so a fenced code block (or a strategy that rewrites
    the text at the end, as g1 does when it extracts JSON) can leave stale blocks. When the
    text is what was streamed and holds no fence, rebuilding would only cost time: every
    block would be mounted again.
    """
    return streamed != final or "```" in final or "~~~" in final


class StepView(Collapsible):
    """One step of a chain, live or saved."""

    DEFAULT_CLASSES = "step"

    def __init__(
        self,
        index: int,
        title: str = "",
        *,
        content: str = "",
        elapsed_s: float | None = None,
        tokens: int | None = None,
        running: bool = False,
        started_at: float | None = None,
        collapsed: bool = False,
        id: str | None = None,
    ) -> None:
        self.index = index
        self.step_title = title
        self.text = clean(content)
        self.elapsed_s = elapsed_s
        self.tokens = tokens
        self.running = running
        self.started_at = started_at
        self.note = ""
        self._stream: MarkdownStream | None = None
        #: Streamed text not drawn yet, the timer that will draw it, and when text was drawn.
        self._pending: list[str] = []
        self._flush_timer: Timer | None = None
        self._last_write = 0.0
        self._body: Markdown | None = None
        children = []
        if not collapsed:
            self._body = self._make_body(self.text)
            children.append(self._body)
        super().__init__(*children, title="", collapsed=collapsed, id=id)
        self.set_class(running, "-running")
        # Collapsible declares its title as str; it renders Content as well (and ours is styled).
        self.title = self._render_title()  # type: ignore[assignment]

    @classmethod
    def from_step(cls, step: Step, *, collapsed: bool = False) -> "StepView":
        """A finished, saved step (read-only)."""
        view = cls(
            step.index,
            step.title,
            content=step.content,
            elapsed_s=step.elapsed_s,
            tokens=step.completion_tokens,
            collapsed=collapsed,
        )
        view.note = finished_note(step)
        view._refresh_title()
        return view

    @staticmethod
    def _make_body(text: str) -> Markdown:
        # Model output may hold links: following them from a remote box is never wanted.
        return Markdown(text, open_links=False, classes="step-body")

    def _render_title(self) -> Content:
        return step_title(self.index, self.step_title, self.elapsed_s, self.tokens, self.note)

    def _refresh_title(self, *, quick: bool = False) -> None:
        """Show the current title. ``quick`` (the clock's tick): when the title keeps its
        width, redraw only the title line, without laying out the chain again."""
        content = self._render_title()
        title_line = self._title if self.is_mounted else None
        if quick and isinstance(title_line, CollapsibleTitle):
            old = title_line.label
            if isinstance(old, Content) and old.cell_length == content.cell_length:
                self.set_reactive(Collapsible.title, content)  # type: ignore[arg-type,misc]
                title_line.set_reactive(CollapsibleTitle.label, content)
                symbol = (
                    title_line.collapsed_symbol if self.collapsed else title_line.expanded_symbol
                )
                title_line.update(Content.assemble(symbol, " ", content), layout=False)
                return
        self.title = content  # type: ignore[assignment]

    @property
    def body(self) -> Markdown | None:
        return self._body

    # --- live updates (called by ChainView on the app's loop) -----------------------------

    async def append(self, fragment: str) -> None:
        """Add streamed text (already cleaned); drawn now, or with the next redraw when the
        last one was less than :data:`STREAM_INTERVAL_S` ago."""
        if not fragment:
            return
        self.text += fragment
        if self._body is None:
            return  # collapsed and never shown: the full text lands on expand
        self._pending.append(fragment)
        if self._flush_timer is not None:
            return  # a redraw is already due
        wait = self._last_write + STREAM_INTERVAL_S - time.monotonic()
        if wait <= 0:
            await self._draw_pending()
        else:
            self._flush_timer = self.set_timer(wait, self._draw_pending)

    async def _draw_pending(self) -> None:
        """Write what is pending to the Markdown stream (one redraw)."""
        if self._flush_timer is not None:
            self._flush_timer.stop()
            self._flush_timer = None
        if not self._pending or self._body is None:
            self._pending.clear()
            return
        text = "".join(self._pending)
        self._pending.clear()
        self._last_write = time.monotonic()
        if self._stream is None:
            self._stream = Markdown.get_stream(self._body)
        await self._stream.write(text)

    async def restart(self, title: str = "") -> None:
        """A new attempt at this running step (g1 retries it): drop what the failed attempt
        showed. The clock keeps running: the step's time covers all its attempts."""
        self._drop_pending()
        await self._stop_stream()
        self.text = ""
        self.set_step_title(title)
        if self._body is not None:
            await self._body.update("")

    def set_step_title(self, title: str) -> None:
        if title != self.step_title:
            self.step_title = title
            self._refresh_title()

    def tick(self, now: float) -> None:
        """Show the time spent so far (a running step only)."""
        if self.running and self.started_at is not None:
            self.elapsed_s = max(0.0, now - self.started_at)
            self._refresh_title(quick=True)

    async def finish(self, step: Step) -> None:
        """The step is done: recorded timing and tokens, and one full render of its text."""
        self.running = False
        self.remove_class("-running")
        self.step_title = step.title or self.step_title
        self.elapsed_s = step.elapsed_s
        self.tokens = step.completion_tokens
        await self._draw_pending()
        streamed = self._stream is not None
        await self._stop_stream()
        final = clean(step.content) if step.content else self.text
        if self._body is not None and (not streamed or needs_full_render(self.text, final)):
            await self._body.update(final)
        self.text = final
        self.note = finished_note(step)
        self._refresh_title()

    async def interrupt(self, note: str) -> None:
        """The chain stopped while this step ran (cancelled, error): keep what came."""
        if not self.running:
            return
        self.running = False
        self.remove_class("-running")
        self.note = note
        self.add_class("-interrupted")
        self._drop_pending()
        await self._stop_stream()
        if self._body is not None:
            await self._body.update(self.text)
        self._refresh_title()

    def _drop_pending(self) -> None:
        """Forget text not drawn yet (what replaces it is drawn whole)."""
        if self._flush_timer is not None:
            self._flush_timer.stop()
            self._flush_timer = None
        self._pending.clear()

    async def _stop_stream(self) -> None:
        if self._stream is not None:
            stream, self._stream = self._stream, None
            await stream.stop()

    # --- lazy body ---------------------------------------------------------------------------

    def watch_collapsed(self, collapsed: bool) -> None:
        # Textual's public watcher, called after Collapsible's own (which shows the contents).
        if not collapsed and self._body is None and self.is_mounted:
            self._body = self._make_body(self.text)
            self.query_one(Collapsible.Contents).mount(self._body)

    def plain_text(self) -> str:
        """The step as text for the clipboard: its title line, then its content."""
        head = f"Step {self.index}"
        if self.step_title:
            head += f": {clean_line(self.step_title)}"
        return f"{head}\n\n{self.text}".rstrip() + "\n"
