"""One reasoning step: a collapsible titled ``Step 3 · Checking alternatives · 2.41 s · 187 tok``.

While the step runs its text is shown as plain text (:class:`~.live_text.LiveText`), redrawn
at most once every :data:`STREAM_INTERVAL_S`; when the step ends it is rendered as Markdown
once. Streaming into a Markdown document cost most of the app's CPU on a long answer: every
block is a widget, so each redraw mounted, styled and laid out hundreds of them (see
docs/benchmarks.md, "Drawing cost"). A redraw wraps and repaints only the lines that changed,
and lays out the chain (and scrolls it) only when the text needs more room: it keeps room
for :data:`GROW_LINES` - 1 lines under it.

While the step runs its title shows whole seconds (:func:`running_seconds`), redrawn only when
the shown value changes (once a second), without a new layout while the title keeps its width;
the finished step shows its recorded time to the hundredth.

Saved steps are built lazily: the Markdown widget is only created when the step is first
expanded, so opening a long saved chain costs little.
"""

from __future__ import annotations

import math
import time

from textual.binding import Binding
from textual.content import Content
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Collapsible, Markdown
from textual.widgets.collapsible import CollapsibleTitle

from tui.core.chain import Step
from tui.core.repetition import REPEATED
from tui.formatting import format_seconds
from tui.sanitize import clean, clean_line

from .live_text import LiveText

TITLE_LIMIT = 80

#: Least time between two redraws of a streaming step's text (ten a second reads smoothly;
#: a fast server sends hundreds of tokens a second).
STREAM_INTERVAL_S = 0.1

#: Least time between two redraws that make a streaming step taller. Each one scrolls the
#: chain: a layout and a repaint of every visible line, most of what drawing a stream costs.
#: Text that needs more room sooner waits (at most this long); the last line still fills at
#: the pace of :data:`STREAM_INTERVAL_S`.
GROW_INTERVAL_S = 0.3

#: Each time a streaming step's text grows past its height, room for this many lines less one
#: is kept under it (blank, filled as lines come), so the chain is laid out and scrolled about
#: once per this many new lines; the lines in between are drawn by repainting them alone.
GROW_LINES = 6

#: At a faster pace the room is about this many seconds of lines at the pace they came
#: lately, up to :data:`MOST_ROOM_LINES` (and a third of the screen's height): a fast model's
#: text grows and scrolls the chain about twice a second instead of every
#: :data:`GROW_INTERVAL_S`.
ROOM_S = 0.6
MOST_ROOM_LINES = 12


def room_lines(lines: int, seconds: float, most: int = MOST_ROOM_LINES) -> int:
    """Blank lines to keep under a streaming text that got ``lines`` new lines over the last
    ``seconds``: :data:`ROOM_S` of them at that pace, between ``GROW_LINES - 1`` and
    ``most``."""
    pace = lines / seconds if seconds > 0 else 0.0
    return max(GROW_LINES - 1, min(most, round(pace * ROOM_S)))


def running_seconds(elapsed_s: float) -> str:
    """A running clock: whole seconds, as a clock reads them (``0 s`` until a second has
    passed), so it changes once a second; a finished time shows hundredths."""
    return format_seconds(math.floor(max(elapsed_s, 0.0)), digits=0)


def shown_seconds(elapsed_s: float, *, running: bool) -> str:
    """A time as a view shows it: a running clock (:func:`running_seconds`) or a finished
    time to the hundredth."""
    return running_seconds(elapsed_s) if running else format_seconds(elapsed_s)


def step_title(
    index: int,
    title: str,
    elapsed_s: float | None,
    tokens: int | None,
    note: str = "",
    *,
    running: bool = False,
) -> Content:
    """The collapsible's title. ``title`` is untrusted: shown as plain text, never markup.
    ``running``: the time is a running clock (:func:`running_seconds`)."""
    parts: list[str | tuple[str, str]] = [(f"Step {index}", "bold")]
    shown = clean_line(title, TITLE_LIMIT)
    if shown:
        parts += [" · ", shown]
    meta = []
    if elapsed_s is not None:
        meta.append(shown_seconds(elapsed_s, running=running))
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


class StepView(Collapsible):
    """One step of a chain, live or saved."""

    DEFAULT_CLASSES = "step"
    #: Collapsible's title folds on Enter only; help and the user guide say Enter / Space.
    BINDINGS = [Binding("space", "fold", "Fold step", show=False)]

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
        #: Whether streamed text waits to be drawn, the timer that will draw it, and when
        #: text was last drawn.
        self._pending = False
        self._flush_timer: Timer | None = None
        self._last_write = 0.0
        #: When a redraw last made the text taller, its lines then, and the room (blank
        #: lines) the next one keeps under the text.
        self._last_grow = 0.0
        self._grown_lines = 0
        self._room = GROW_LINES - 1
        #: Characters of ``text`` shown.
        self._shown_len = len(self.text)
        #: The body: plain text while the step runs, Markdown once it is done (``None`` while
        #: folded and never shown).
        self._body: Widget | None = None
        children = []
        if not collapsed:
            self._body = self._make_body()
            children.append(self._body)
        super().__init__(*children, title="", collapsed=collapsed, id=id)
        self.set_class(running, "-running")
        # Collapsible declares its title as str; it renders Content as well (and ours is styled).
        self.title = self._render_title()  # type: ignore[assignment]

    @classmethod
    def from_step(cls, step: Step, *, collapsed: bool = False) -> StepView:
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

    def _make_body(self) -> Widget:
        """The body for the step's state: live plain text while it runs, else Markdown."""
        if self.running:
            # Untrusted text as plain text: never read as markup.
            return LiveText(self.text, block=GROW_LINES, classes="step-body step-live")
        # Model output may hold links: following them from a remote box is never wanted.
        return Markdown(self.text, open_links=False, classes="step-body")

    async def _show_markdown(self) -> None:
        """Replace the live text with the step's text as Markdown (one parse, one mount)."""
        old = self._body
        if old is None:
            return
        if isinstance(old, Markdown):
            await old.update(self.text)
            return
        if not self.query(Collapsible.Contents):
            # The step finished before its view was composed (a fast step while the chain is
            # being mounted): swap once the body has a place to be swapped in.
            self.call_after_refresh(self._show_markdown)
            return
        self._body = self._make_body()
        # One screen update: the Markdown appears where the plain text was, without a frame
        # of neither.
        with self.app.batch_update():
            await self.query_one(Collapsible.Contents).mount(self._body, before=old)
            await old.remove()

    def action_fold(self) -> None:
        """Fold or unfold this step (Space on its title)."""
        self.collapsed = not self.collapsed

    def _render_title(self) -> Content:
        return step_title(
            self.index,
            self.step_title,
            self.elapsed_s,
            self.tokens,
            self.note,
            running=self.running,
        )

    def _refresh_title(self, *, quick: bool = False) -> None:
        """Show the current title. ``quick`` (the clock's tick): when the title keeps its
        width, redraw only the title line, without laying out the chain again."""
        content = self._render_title()
        title_line = self._title if self.is_mounted else None
        if quick and isinstance(title_line, CollapsibleTitle):
            old = title_line.label
            if isinstance(old, Content) and old.cell_length == content.cell_length:
                self.set_reactive(Collapsible.title, content)  # type: ignore[misc]
                title_line.set_reactive(CollapsibleTitle.label, content)
                symbol = (
                    title_line.collapsed_symbol if self.collapsed else title_line.expanded_symbol
                )
                title_line.update(Content.assemble(symbol, " ", content), layout=False)
                return
        self.title = content  # type: ignore[assignment]

    @property
    def shown_text(self) -> str:
        """The text the body shows whole now (streamed text waits for the next redraw)."""
        if isinstance(self._body, Markdown):
            return self._body.source
        return self.text[: self._shown_len] if self._body is not None else ""

    @property
    def body(self) -> Widget | None:
        """The body widget: a :class:`LiveText` while the step streams, then :class:`Markdown`."""
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
        self._pending = True
        if self._flush_timer is not None:
            return  # a redraw is already due
        wait = self._last_write + STREAM_INTERVAL_S - time.monotonic()
        if wait <= 0:
            await self._draw_pending()
        else:
            self._flush_timer = self.set_timer(wait, self._draw_pending)

    async def _draw_pending(self) -> None:
        """Show the text streamed so far (one redraw of the lines that changed); text that
        needs more room less than :data:`GROW_INTERVAL_S` after the step last grew waits."""
        self._drop_pending()
        live = self._body
        if not isinstance(live, LiveText):
            return
        now = self._last_write = time.monotonic()
        rows = live.rows
        grow = now - self._last_grow >= GROW_INTERVAL_S
        whole = live.set_text(self.text, grow=grow, room=self._room)
        if live.rows != rows:
            lines = live.line_count
            if self._grown_lines:  # the pace since the last growth sets the next room
                most = min(MOST_ROOM_LINES, self.app.size.height // 3)
                self._room = room_lines(lines - self._grown_lines, now - self._last_grow, most)
            self._last_grow, self._grown_lines = now, lines
        if whole:
            self._shown_len = len(self.text)
        else:
            self._pending = True
            self._flush_timer = self.set_timer(
                self._last_grow + GROW_INTERVAL_S - now, self._draw_pending
            )

    async def restart(self, title: str = "") -> None:
        """A new attempt at this running step (g1 retries it): drop what the failed attempt
        showed. The clock keeps running: the step's time covers all its attempts."""
        self._drop_pending()
        self.text = ""
        self._shown_len = 0
        self._grown_lines, self._room = 0, GROW_LINES - 1
        self.set_step_title(title)
        if isinstance(self._body, LiveText):
            self._body.set_text("")

    def set_step_title(self, title: str) -> None:
        if title != self.step_title:
            self.step_title = title
            self._refresh_title()

    def tick(self, now: float) -> None:
        """Show the time spent so far (a running step only); the title is redrawn only when
        the whole seconds it shows change."""
        if self.running and self.started_at is not None:
            shown = math.floor(self.elapsed_s or 0.0)
            self.elapsed_s = max(0.0, now - self.started_at)
            if math.floor(self.elapsed_s) != shown:
                self._refresh_title(quick=True)

    async def finish(self, step: Step) -> None:
        """The step is done: recorded timing and tokens, and one full render of its text."""
        self.running = False
        self.remove_class("-running")
        self.step_title = step.title or self.step_title
        self.elapsed_s = step.elapsed_s
        self.tokens = step.completion_tokens
        self._drop_pending()
        self.text = clean(step.content) if step.content else self.text
        await self._show_markdown()
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
        await self._show_markdown()
        self._refresh_title()

    def _drop_pending(self) -> None:
        """Forget that a redraw is due (what comes next draws the whole text)."""
        if self._flush_timer is not None:
            self._flush_timer.stop()
            self._flush_timer = None
        self._pending = False

    # --- lazy body ---------------------------------------------------------------------------

    def watch_collapsed(self, collapsed: bool) -> None:
        # Textual's public watcher, called after Collapsible's own (which shows the contents).
        if not collapsed and self._body is None and self.is_mounted:
            self._body = self._make_body()
            self.query_one(Collapsible.Contents).mount(self._body)

    def plain_text(self) -> str:
        """The step as text for the clipboard: its title line, then its content."""
        head = f"Step {self.index}"
        if self.step_title:
            head += f": {clean_line(self.step_title)}"
        return f"{head}\n\n{self.text}".rstrip() + "\n"
