"""A group on screen: self-consistency samples with their vote, or strategies side by side.

- **compare**: one column per strategy, each a full :class:`ChainView` (live steps, status
  line with time and tokens, the final answer); the column's border names the strategy and,
  once it ends, its answer, time and tokens.
- **self-consistency**: a vote tally (a bar per answer, the winner first) over one compact
  row per sample (status, current step or answer, time, tokens). Enter or Space on a row
  expands that sample's full steps below it; Up/Down (or j/k) move between rows.

The view never runs anything: the app feeds each member's :class:`ChainView` with its events
and calls :meth:`GroupView.member_event` after each, and :meth:`GroupView.finish` with the
group's result. Times come from the member views (the app's clock ticks them). Every piece of
model text is cleaned and shown as plain text.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.widgets import Static

from tui.answers import VoteResult, extract_answer, vote
from tui.chain import Chain, ChainFailed, ChainFinished, Status, StepFinished, StepStarted
from tui.formatting import format_seconds
from tui.group import GroupKind, GroupResult
from tui.sanitize import clean_line

from .chain_view import ChainView

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
    """``g1 ×8 vote`` or ``compare plain/g1/thinking``."""
    if result.kind == GroupKind.SELF_CONSISTENCY:
        return f"{result.chains[0].strategy} ×{len(result.chains)} vote"
    return "compare " + "/".join(c.strategy for c in result.chains)


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
        def __init__(self, row: "SampleRow") -> None:
            super().__init__()
            self.row = row

    def __init__(self, index: int, total: int) -> None:
        super().__init__("", classes="sample-row")
        self.index = index
        self.total = total
        self.expanded = False

    def show(self, chain: Chain, view: ChainView | None, live: bool) -> None:
        """Redraw from the chain (and its live view's clock and step count)."""
        status = Status.RUNNING if live and chain.status == Status.RUNNING else chain.status
        if live and view is not None and not view.live and chain.status == Status.RUNNING:
            status = view.chain.status
        mark = _MARKS.get(status, "?")
        steps = len(view.steps) if view is not None else len(chain.steps)
        if status == Status.RUNNING:
            said = f"step {steps}" if steps else "waiting"
        elif status in _ANSWERING:
            said = short_answer(chain)
        else:
            said = status.value
        elapsed = view.elapsed_s if view is not None and view.live else chain.total_s
        tokens = (
            sum(v.tokens or 0 for v in view.steps.values())
            if view is not None
            else chain.completion_tokens
        )
        arrow = "▾" if self.expanded else "▸"
        number = f"#{self.index + 1}".rjust(len(str(self.total)) + 1)
        tok = f"{tokens} tok" if tokens else ""
        self.update(
            Content.assemble(
                f"{arrow} {number} ",
                (mark, f"${_mark_colour(status)}"),
                " ",
                (said.ljust(ANSWER_CELLS), "bold" if status in _ANSWERING else "$text-muted"),
                (f" {format_seconds(elapsed):>10} {tok:>9}", "$text-muted"),
            )
        )
        for s in Status:
            self.set_class(s == status, f"-{s.value}")

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


class GroupView(Vertical):
    """A self-consistency or compare group (see the module docstring)."""

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

    def __init__(self, result: GroupResult, *, live: bool, now: float = 0.0) -> None:
        super().__init__(classes=f"group-view -{result.kind.value}")
        self.result = result
        self.live = live
        self.compare = result.kind == GroupKind.COMPARE
        self._finished: list[int] = []
        self.elapsed_s = 0.0 if live else result.wall_s
        self.started_at = now
        if not live:
            # Order of finishing is not stored: ties are shown as the saved vote decided.
            self._finished = list(range(len(result.chains)))
        #: Each chain's view; for a saved self-consistency group built on first expand.
        self.views: list[ChainView | None] = [
            ChainView(chain, live=live, now=now) if live or self.compare else None
            for chain in result.chains
        ]
        self.rows: list[SampleRow] = []
        self.head = Static(self._head_content(), classes="group-head")
        self.tally = Static("", classes="group-tally")
        self.status_line = Static("", classes="group-status")
        self._columns: list[Vertical] = []

    # --- building ------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield self.head
        if self.compare:
            with Horizontal(classes="group-columns"):
                for chain, view in zip(self.result.chains, self.views):
                    column = Vertical(classes="group-column")
                    column.border_title = chain.strategy
                    self._columns.append(column)
                    with column:
                        assert view is not None
                        yield view
        else:
            with VerticalScroll(classes="group-samples"):
                yield self.tally
                for index, view in enumerate(self.views):
                    row = SampleRow(index, len(self.views))
                    self.rows.append(row)
                    yield row
                    if view is not None:
                        view.display = False
                        yield view
        yield self.status_line

    def on_mount(self) -> None:
        self.refresh_all()
        if self.live:
            self.set_interval(0.2, self._tick_rows)

    def _head_content(self) -> Content:
        meta = f"{group_label(self.result)} · {clean_line(self.result.group.model, 40)}"
        return Content.assemble(
            ("Q ", "bold"), clean_line(self.result.question, 500), ("  " + meta, "dim")
        )

    # --- updates -------------------------------------------------------------------------------

    def member_event(self, index: int, event: Any) -> None:
        """After the app applied ``event`` to member ``index``'s view: update the summary."""
        if isinstance(event, (ChainFinished, ChainFailed)):
            self.result.chains[index] = event.chain
            if index not in self._finished:
                self._finished.append(index)
            self.refresh_all()
        elif isinstance(event, (StepStarted, StepFinished)):
            self._refresh_member(index)

    def member_event_of(self, chain_id: str, event: Any) -> None:
        """:meth:`member_event` for the member with this chain id."""
        for index, chain in enumerate(self.result.chains):
            if chain.id == chain_id:
                self.member_event(index, event)
                return

    def finish(self, result: GroupResult) -> None:
        """The group ended: show its final vote, status and wall time."""
        self.result = result
        self.live = False
        self.elapsed_s = result.wall_s
        self.refresh_all()

    def _tick_rows(self) -> None:
        if not self.live:
            return
        for index in range(len(self.result.chains)):
            self._refresh_member(index)
        self._update_status()

    def refresh_all(self) -> None:
        for index in range(len(self.result.chains)):
            self._refresh_member(index)
        if not self.compare:
            self.tally.update(
                tally_content(
                    self.vote_now(),
                    len(self.result.chains),
                    len(self._finished),
                    max(self.size.width - 2, 30),
                )
            )
        self._update_status()

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

    def _refresh_member(self, index: int) -> None:
        chain = self.result.chains[index]
        view = self.views[index]
        if self.compare:
            if index < len(self._columns):
                self._refresh_column(index, chain, view)
        elif index < len(self.rows):
            self.rows[index].show(chain, view, self.live)

    def _refresh_column(self, index: int, chain: Chain, view: ChainView | None) -> None:
        """A compare column's border: its answer (once ended), time and tokens."""
        column = self._columns[index]
        ended = view is None or not view.live
        facts = []
        if ended:
            answer = short_answer(chain)
            facts.append(answer or chain.status.value.replace("_", " "))
        elapsed = chain.total_s if ended or view is None else view.elapsed_s
        facts.append(format_seconds(elapsed))
        tokens = (
            chain.completion_tokens
            if view is None
            else sum(s.tokens or 0 for s in view.steps.values())
        )
        if tokens:
            facts.append(f"{tokens} tok")
        column.border_subtitle = " · ".join(facts)
        for s in Status:
            column.set_class(ended and chain.status == s, f"-{s.value}")

    def _update_status(self) -> None:
        chains = self.result.chains
        live_views = [v for v in self.views if v is not None and v.live]
        if self.live:
            self.elapsed_s = max([v.elapsed_s for v in live_views] + [self.elapsed_s])
        status = Status.RUNNING if self.live else self.result.status
        word = "running" if self.live else status.value.replace("_", " ")
        tokens = sum(
            (sum(s.tokens or 0 for s in v.steps.values()) if v is not None else c.completion_tokens)
            for c, v in zip(chains, self.views)
        )
        parts = [word, group_label(self.result), f"{len(self._finished)} of {len(chains)} finished"]
        parts.append(format_seconds(self.elapsed_s))
        if tokens:
            parts.append(f"{tokens} tok")
        self.status_line.update(Content(" · ".join(parts)))
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
        if view is None:  # a saved sample: built on first expand
            view = ChainView(self.result.chains[index], live=False)
            self.views[index] = view
            await self.query_one(".group-samples").mount(view, after=row)
        else:
            view.display = not row.expanded
        row.expanded = not row.expanded
        self._refresh_member(index)
        if row.expanded:
            row.scroll_visible(animate=False)

    def focus_first_sample(self) -> None:
        if self.rows:
            self.rows[0].focus()
