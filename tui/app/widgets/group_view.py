"""A group on screen: self-consistency samples with their vote, or strategies side by side.

- **compare**: one column per strategy, each a full :class:`ChainView` (live steps, status
  line with time and tokens, the final answer); the column's border names the strategy and,
  once it ends, its answer, time and tokens.
- **self-consistency**: a vote tally (a bar per answer, the winner first) over one compact
  row per sample (status, current step or answer, time, tokens). Enter or Space on a row
  expands that sample's full steps below it; Up/Down (or j/k) move between rows.

The view never runs anything: the app passes each member's events to :meth:`GroupView.apply`
and the group's result to :meth:`GroupView.finish`; times come from the app's clock. Every piece
of model text is cleaned and shown as plain text.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.widgets import Static

from tui.app.choices import compare_label, vote_label
from tui.app.messages import TypeToAsk
from tui.core.answers import VoteResult, extract_answer, vote
from tui.core.chain import (
    Chain,
    ChainFailed,
    ChainFinished,
    ChainStarted,
    Status,
    StepDelta,
    StepFinished,
    StepStarted,
)
from tui.core.group import GroupKind, GroupResult
from tui.sanitize import clean_line

from .chain_view import ChainView
from .question_input import hold_cursor_blink
from .step_view import shown_seconds

#: Answers shown in the tally (the rest are summed as "other").
TALLY_ROWS = 4
#: Cells of an answer in a sample row and the tally.
ANSWER_CELLS = 24

_MARKS = {
    Status.RUNNING: "…",
    Status.DONE: "✓",
    Status.CANCELLED: "⊘",
    Status.STEP_LIMIT: "⊘",
    Status.ERROR: "✗",
}
_ANSWERING = (Status.DONE, Status.STEP_LIMIT)


def group_label(result: GroupResult) -> str:
    """``g1@8 vote`` or ``compare plain/g1/thinking``: the switcher's names for them."""
    if result.kind == GroupKind.VOTE:
        return vote_label(result.chains[0].strategy, len(result.chains))
    return compare_label([c.strategy for c in result.chains])


def short_answer(chain: Chain) -> str:
    """The answer a chain gave, as the vote reads it, on one short line."""
    if chain.status not in _ANSWERING:
        return ""
    return clean_line(extract_answer(chain.final_answer), ANSWER_CELLS) or "(no answer)"


def tally_content(result: VoteResult | None, total: int, finished: int, width: int) -> Content:
    """The vote: a headline and one bar per answer, as plain-text Content."""
    lines: list[Content] = []
    if result is None or result.key is None:
        head = f"Voting · {finished} of {total} finished" if finished < total else "No answers"
        lines.append(Content.assemble((head, "bold")))
    else:
        winner = clean_line(result.answer or result.key, ANSWER_CELLS * 2)
        done = "" if finished >= total else f" · {finished} of {total} finished"
        lines.append(
            Content.assemble(
                ("Answer ", "bold"),
                (winner, "bold $success"),
                f"  {result.winner_votes} of {result.ballots} votes{done}",
            )
        )
        label_cells = min(ANSWER_CELLS, max(len(k) for k in result.votes) + 1)
        bar_cells = max(4, min(40, width - label_cells - 10))
        items = list(result.votes.items())
        shown, rest = items[:TALLY_ROWS], items[TALLY_ROWS:]
        if rest:
            shown.append(("other", sum(n for _, n in rest)))
        for key, count in shown:
            filled = round(bar_cells * count / max(total, 1))
            label = clean_line(key, label_cells).ljust(label_cells)
            style = "$success" if key == result.key else "$text-muted"
            lines.append(
                Content.assemble(
                    (label, "bold" if key == result.key else ""),
                    ("█" * filled, style),
                    ("░" * (bar_cells - filled), "$text-disabled"),
                    f" {count}",
                )
            )
    return Content("\n").join(lines)


class SampleRow(Static, can_focus=True):
    """One sample on one line; Enter/Space expands its steps below it."""

    BINDINGS = [
        Binding("enter,space", "expand", "Expand", show=False),
        Binding("down,j", "next", "Next sample", show=False),
        Binding("up,k", "previous", "Previous sample", show=False),
    ]

    class Toggled(Message):
        def __init__(self, row: SampleRow) -> None:
            super().__init__()
            self.row = row

    def __init__(self, index: int, total: int) -> None:
        super().__init__("", classes="sample-row")
        self.index = index
        self.total = total
        self.expanded = False
        self._shown: tuple[object, ...] | None = None
        self._status: Status | None = None

    def show(self, status: Status, said: str, elapsed: float, tokens: int) -> None:
        """Redraw: status mark, the step it is on or its answer, time, tokens."""
        mark = _MARKS.get(status, "?")
        arrow = "▾" if self.expanded else "▸"
        number = f"#{self.index + 1}".rjust(len(str(self.total)) + 1)
        tok = f"{tokens} tok" if tokens else ""
        # A running sample's clock shows whole seconds, as a single chain's does.
        time_shown = shown_seconds(elapsed, running=status == Status.RUNNING)
        key = (arrow, status, said, time_shown, tok)
        if key == self._shown:
            return  # asked five times a second: redrawn only when what it shows changed
        self._shown = key
        # One line, always: no layout pass needed (a layout of the whole screen per row
        # update would cost more than everything else a group draws).
        self.update(
            Content.assemble(
                f"{arrow} {number} ",
                (mark, f"${_mark_colour(status)}"),
                " ",
                (said.ljust(ANSWER_CELLS), "bold" if status in _ANSWERING else "$text-muted"),
                (f" {key[3]:>10} {tok:>9}", "$text-muted"),
            ),
            layout=False,
        )
        if status != self._status:
            self._status = status
            for s in Status:
                self.set_class(s == status, f"-{s.value}")

    def on_key(self, event: events.Key) -> None:
        # The row keeps its own keys (j, k, space); any other character starts the next
        # question, as it would with the question box focused.
        if event.is_printable and event.character and event.key not in ("j", "k", "space"):
            event.stop()
            event.prevent_default()
            self.post_message(TypeToAsk(event.character))

    def action_expand(self) -> None:
        self.post_message(self.Toggled(self))

    def action_next(self) -> None:
        self.screen.focus_next(SampleRow)

    def action_previous(self) -> None:
        self.screen.focus_previous(SampleRow)


def _mark_colour(status: Status) -> str:
    return {
        Status.DONE: "success",
        Status.ERROR: "error",
        Status.RUNNING: "accent",
    }.get(status, "warning")


@dataclass
class _Member:
    """What the view follows of a member chain while it runs (its view may not exist)."""

    started_at: float | None = None
    step: int = 0
    step_title: str = ""
    #: The in-flight step's text so far: replayed into a view built mid-step.
    step_text: list[str] = field(default_factory=list)
    step_chunks: int = 0


class GroupView(Vertical):
    """A self-consistency or compare group (see the module docstring).

    Events reach it through :meth:`apply` (the app's ChainEvent handler): it updates the
    summary and passes them on to the member's :class:`ChainView` when one exists. A vote
    view builds a sample's ChainView only when it is expanded (replaying the steps so far), so
    eight or 32 samples stream into rows, not into as many Markdown documents.
    """

    DEFAULT_CSS = """
    GroupView { height: 1fr; }
    GroupView > .group-head { height: auto; padding: 0 1; }
    GroupView > .group-status { height: 1; padding: 0 1; background: $surface; color: $text-muted; }
    GroupView > .group-status.-running { color: $accent; }
    GroupView > .group-status.-done { color: $success; }
    GroupView > .group-status.-error { color: $error; }
    GroupView > .group-status.-cancelled, GroupView > .group-status.-step_limit { color: $warning; }
    GroupView .group-tally { height: auto; padding: 0 1; margin: 0 0 1 0; }
    GroupView > .group-samples { height: 1fr; scrollbar-size-vertical: 1; }
    GroupView .sample-row { height: 1; padding: 0 1; }
    GroupView .sample-row:focus { background: $block-cursor-blurred-background; }
    GroupView .sample-row:focus-within { background: $block-cursor-background; }
    GroupView .group-samples ChainView {
        height: 16; margin: 0 0 0 2; border-left: tall $primary 40%;
    }
    GroupView .group-columns { height: 1fr; }
    GroupView .group-column {
        width: 1fr; height: 1fr; border: round $primary 40%;
        border-title-color: $foreground; border-title-style: bold;
        border-subtitle-color: $text-muted;
    }
    GroupView .group-column.-done { border: round $success 60%; }
    GroupView .group-column.-error { border: round $error 60%; }
    GroupView .group-column ChainView .question { display: none; }
    /* The column's border carries the status, time and tokens. */
    GroupView .group-column ChainView > .chain-status { display: none; }
    """

    def __init__(
        self,
        result: GroupResult,
        *,
        live: bool,
        now: float = 0.0,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        super().__init__(classes=f"group-view -{result.kind.value}")
        self.result = result
        self.live = live
        #: A cancel was asked and the group has not ended yet.
        self.cancelling = False
        self.clock = clock
        self.compare = result.kind == GroupKind.COMPARE
        self._finished: list[int] = []
        self.elapsed_s = 0.0 if live else result.wall_s
        self.started_at = now
        if not live:
            # Order of finishing is not stored: ties are shown as the saved vote decided.
            self._finished = list(range(len(result.chains)))
        self.members = [_Member() for _ in result.chains]
        #: Each chain's view: built up front for compare, on first expand for a vote.
        self.views: list[ChainView | None] = [
            ChainView(chain, live=live, now=now) if self.compare else None
            for chain in result.chains
        ]
        self.rows: list[SampleRow] = []
        self.head = Static(self._head_content(), classes="group-head")
        self.tally = Static("", classes="group-tally")
        self.status_line = Static("", classes="group-status")
        self._columns: list[Vertical] = []
        self._status_text = ""

    # --- building ------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield self.head
        if self.compare:
            with Horizontal(classes="group-columns"):
                for chain, view in zip(self.result.chains, self.views, strict=True):
                    column = Vertical(classes="group-column")
                    column.border_title = chain.strategy
                    self._columns.append(column)
                    with column:
                        assert view is not None
                        yield view
        else:
            with VerticalScroll(classes="group-samples"):
                yield self.tally
                for index in range(len(self.result.chains)):
                    row = SampleRow(index, len(self.result.chains))
                    self.rows.append(row)
                    yield row
        yield self.status_line

    def on_mount(self) -> None:
        self.refresh_all()
        if self.live:
            self.set_interval(0.2, self._tick)
            hold_cursor_blink(self, True)  # its samples stream: as a chain's view does

    def on_unmount(self) -> None:
        hold_cursor_blink(self, False)

    def _head_content(self) -> Content:
        meta = f"{group_label(self.result)} · {clean_line(self.result.group.model, 40)}"
        return Content.assemble(
            ("Q ", "bold"), clean_line(self.result.question, 500), ("  " + meta, "dim")
        )

    # --- events --------------------------------------------------------------------------------

    def index_of(self, chain_id: str) -> int | None:
        for index, chain in enumerate(self.result.chains):
            if chain.id == chain_id:
                return index
        return None

    async def apply(self, chain_id: str, event: Any, now: float) -> None:
        """One event of the member ``chain_id`` (on the app's loop)."""
        index = self.index_of(chain_id)
        if index is None:
            return
        member = self.members[index]
        if isinstance(event, StepDelta):  # the hot path first
            if event.index != member.step:
                member.step, member.step_text, member.step_chunks = event.index, [], 0
            if event.title is not None:
                member.step_title = event.title
            member.step_text.append(event.text)
            member.step_chunks += 1
        elif isinstance(event, StepStarted):
            if member.started_at is None:
                member.started_at = now
            member.step, member.step_title = event.index, event.title
            member.step_text, member.step_chunks = [], 0
        elif isinstance(event, StepFinished):
            member.step_text, member.step_chunks = [], 0
        elif isinstance(event, ChainStarted) and member.started_at is None:
            member.started_at = now
        view = self.views[index]
        if view is not None:
            await view.apply(event, now)
        if isinstance(event, (ChainFinished, ChainFailed)):
            self.result.chains[index] = event.chain
            if index not in self._finished:
                self._finished.append(index)
            self.refresh_all()
        elif isinstance(event, (StepStarted, StepFinished)):
            self._refresh_member(index)

    def finish(self, result: GroupResult) -> None:
        """The group ended: show its final vote, status and wall time."""
        self.result = result
        self.live = False
        self.elapsed_s = result.wall_s
        hold_cursor_blink(self, False)
        self.refresh_all()

    def _tick(self) -> None:
        if not self.live:
            return
        now = self.clock()
        for index, view in enumerate(self.views):
            if view is not None and view.live and not self.compare:
                view.tick(now)  # an expanded sample (compare columns are ticked by the app)
            self._refresh_member(index)
        self._update_status()

    # --- summary -------------------------------------------------------------------------------

    def refresh_all(self) -> None:
        for index in range(len(self.result.chains)):
            self._refresh_member(index)
        self._update_tally()
        self._update_status()

    def _update_tally(self) -> None:
        """Draw the vote's bars as wide as the view is now."""
        if not self.compare:
            self.tally.update(
                tally_content(
                    self.vote_now(),
                    len(self.result.chains),
                    len(self._finished),
                    max(self.size.width - 2, 30),
                )
            )

    def on_resize(self, event: events.Resize) -> None:
        # A saved vote was drawn once, at mount, before the view had its width: its bars
        # stayed 4 cells (a live one is redrawn by its clock). Redraw at every new width.
        self._update_tally()

    def vote_now(self) -> VoteResult | None:
        """The vote over the samples finished so far (the saved vote once the group ended)."""
        if self.compare:
            return None
        if not self.live and self.result.vote is not None:
            return self.result.vote
        chains = self.result.chains
        return vote(
            chains[i].final_answer if chains[i].status in _ANSWERING else None
            for i in self._finished
        )

    def _facts(self, index: int) -> tuple[Status, float, int]:
        """A member's status, time and tokens as they stand."""
        chain = self.result.chains[index]
        member = self.members[index]
        ended = index in self._finished or chain.status != Status.RUNNING
        status = chain.status if ended else (Status.RUNNING if self.live else Status.CANCELLED)
        if ended or member.started_at is None:
            elapsed = chain.total_s
        else:
            elapsed = max(0.0, self.clock() - member.started_at)
        tokens = chain.completion_tokens + (0 if ended else member.step_chunks)
        return status, elapsed, tokens

    def _refresh_member(self, index: int) -> None:
        if self.compare:
            if index < len(self._columns):
                self._refresh_column(index)
            return
        if index >= len(self.rows):
            return
        status, elapsed, tokens = self._facts(index)
        chain, member = self.result.chains[index], self.members[index]
        if status == Status.RUNNING:
            said = f"step {member.step}" if member.step else "waiting"
        elif status in _ANSWERING:
            said = short_answer(chain)
        else:
            said = status.value.replace("_", " ")
        self.rows[index].show(status, said, elapsed, tokens)

    def _refresh_column(self, index: int) -> None:
        """A compare column's border: its answer (once ended), time and tokens."""
        column = self._columns[index]
        chain = self.result.chains[index]
        status, elapsed, tokens = self._facts(index)
        facts = []
        if status != Status.RUNNING:
            facts.append(short_answer(chain) or status.value.replace("_", " "))
        facts.append(shown_seconds(elapsed, running=status == Status.RUNNING))
        if tokens:
            facts.append(f"{tokens} tok")
        subtitle = " · ".join(facts)
        if subtitle != column.border_subtitle:  # the border is redrawn only when it changed
            column.border_subtitle = subtitle
        for s in Status:
            column.set_class(status == s and s != Status.RUNNING, f"-{s.value}")

    def show_cancelling(self) -> None:
        """A cancel was asked: the status line says "cancelling…" until the end arrives (a
        cancel can take a moment while the server's request is closed)."""
        self.cancelling = True
        self._update_status()

    def _update_status(self) -> None:
        chains = self.result.chains
        if self.live:
            self.elapsed_s = max(0.0, self.clock() - self.started_at)
        status = Status.RUNNING if self.live else self.result.status
        word = "running" if self.live else status.value.replace("_", " ")
        tokens = sum(self._facts(i)[2] for i in range(len(chains)))
        if self.live and self.cancelling:
            word = "cancelling…"
        parts = [word, group_label(self.result), f"{len(self._finished)} of {len(chains)} finished"]
        parts.append(shown_seconds(self.elapsed_s, running=self.live))
        if tokens:
            parts.append(f"{tokens} tok")
        text = " · ".join(parts)
        if text != self._status_text:
            self._status_text = text
            self.status_line.update(Content(text), layout=False)  # one line, always
        for s in Status:
            self.status_line.set_class(s == status, f"-{s.value}")

    # --- expanding a sample --------------------------------------------------------------------

    async def on_sample_row_toggled(self, message: SampleRow.Toggled) -> None:
        message.stop()
        await self.toggle_sample(message.row.index)

    async def toggle_sample(self, index: int) -> None:
        """Show or hide sample ``index``'s full steps under its row."""
        row = self.rows[index]
        view = self.views[index]
        if view is None:
            view = await self._build_view(index)
        else:
            view.display = not row.expanded
        row.expanded = not row.expanded
        self._refresh_member(index)
        if row.expanded:
            row.scroll_visible(animate=False)

    async def _build_view(self, index: int) -> ChainView:
        """The sample's view, mounted under its row: whole when it ended, else the steps so
        far and the running step's text, then its events as they come."""
        chain, member = self.result.chains[index], self.members[index]
        running = self.live and index not in self._finished and chain.status == Status.RUNNING
        start = member.started_at if member.started_at is not None else self.clock()
        view = ChainView(chain, live=running, now=start)
        await self.query_one(".group-samples").mount(view, after=self.rows[index])
        if running:
            await self._catch_up(view, index)
            if index in self._finished:  # it ended while being drawn
                end = self.result.chains[index]
                event = ChainFinished(end) if end.status in _ANSWERING else None
                await view.apply(event or ChainFailed(end, end.error or ""), self.clock())
        # Taken over only now, with nothing awaited since the last catch-up: every later event
        # goes to the view, none is drawn twice.
        self.views[index] = view
        return view

    async def _catch_up(self, view: ChainView, index: int) -> None:
        """Replay into ``view`` what member ``index`` did so far (finished steps, then the
        running step's text), again until nothing new arrived meanwhile."""
        chain, member = self.result.chains[index], self.members[index]
        shown_step, shown_chars = 0, 0
        while True:
            now = self.clock()
            finished = [s for s in list(chain.steps) if s.index not in view.steps]
            if finished:
                for step in finished:
                    await view.apply(StepStarted(step.index, step.title), now)
                    await view.apply(StepFinished(step), now)
                continue
            if member.step and member.step != shown_step and member.step not in view.steps:
                await view.apply(StepStarted(member.step, member.step_title), now)
                shown_step, shown_chars = member.step, 0
                continue
            text = "".join(member.step_text) if member.step == shown_step else ""
            if len(text) > shown_chars:
                await view.apply(StepDelta(shown_step, text[shown_chars:]), now)
                shown_chars = len(text)
                continue
            view.tick(now)
            return

    def focus_first_sample(self) -> None:
        if self.rows:
            self.rows[0].focus()
