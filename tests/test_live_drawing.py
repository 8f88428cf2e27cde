"""What a streaming chain redraws, and when (the drawing cost: docs/benchmarks.md).

Behaviour, not timing: deltas of one frame reach the app as one message; text that grows within
its last line is repainted without a layout of the chain; a new line lays it out (at most once
per GROW_INTERVAL_S); running clocks redraw once a second and never lay out; and the live text
looks exactly like a Static of the same text.
"""

from __future__ import annotations

import asyncio
import random

from textual.app import App, ComposeResult
from textual.content import Content
from textual.widgets import Static

from tests.helpers import wait_until
from tui.app.batcher import EventBatcher
from tui.app.widgets.chain_view import ChainView
from tui.app.widgets.group_view import GroupView
from tui.app.widgets.live_text import LiveText
from tui.app.widgets.question_input import QuestionInput
from tui.app.widgets.step_view import GROW_LINES, MOST_ROOM_LINES, StepView, room_lines
from tui.core.chain import (
    Chain,
    ChainFinished,
    ChainStarted,
    Event,
    Status,
    StepDelta,
    StepStarted,
)
from tui.core.group import Group, GroupKind, GroupResult


class _Both(App[None]):
    CSS = "Static, LiveText { margin: 0 0 1 0; padding: 0 1 0 0; }"

    def compose(self) -> ComposeResult:
        yield Static(Content(""))
        yield LiveText("")


async def test_live_text_draws_what_a_static_of_the_same_text_draws() -> None:
    """The same lines, cells, styles and selection offsets, as the text grows."""
    rnd = random.Random(7)
    words = ["a", "bb", "wordy", "x" * 50, "\n", "\n\n", " ", "\t", "é", "中文", "[red]x[/red]"]
    for width in (20, 41, 80):
        app = _Both()
        async with app.run_test(size=(width, 200)) as pilot:
            static, live = app.query_one(Static), app.query_one(LiveText)
            text = ""
            for _ in range(12):
                text += "".join(rnd.choice(words) + rnd.choice(["", " "]) for _ in range(6))
                static.update(Content(text))
                live.set_text(text)
                await pilot.pause()
                assert live.size == static.size
                for y in range(static.size.height):
                    assert list(live.render_line(y)) == list(static.render_line(y)), (text, y)


async def test_live_text_lays_out_only_when_it_gets_a_new_line() -> None:
    app = _Both()
    async with app.run_test(size=(40, 20)) as pilot:
        live = app.query_one(LiveText)
        live.set_text("The first words")
        await pilot.pause()
        assert live.line_count == 1

        assert live.set_text("The first words of a line")
        # Only the changed line is repainted: the chain is not laid out (nor scrolled) again.
        assert not live._layout_required and live._repaint_required
        await pilot.pause()

        assert live.set_text("The first words of a line that wraps onto a second one")
        assert live._layout_required and live.line_count == 2
        await pilot.pause()
        assert live.size.height == 2


async def test_live_text_keeps_its_height_when_told_not_to_grow() -> None:
    app = _Both()
    async with app.run_test(size=(40, 20)) as pilot:
        live = app.query_one(LiveText)
        live.set_text("one line")
        await pilot.pause()
        text = "one line\nand two\nand three"
        assert live.set_text(text, grow=False) is False  # not all of it is shown
        assert live.line_count == 1 and not live._layout_required
        await pilot.pause()
        assert live.set_text(text) is True
        await pilot.pause()
        assert live.line_count == 3 and live.size.height == 3
        assert [live.render_line(y).text.rstrip() for y in range(3)] == text.split("\n")


class _OneStep(App[None]):
    def compose(self) -> ComposeResult:
        yield StepView(1, "Counting", running=True, started_at=0.0, elapsed_s=0.0)


async def test_lines_that_need_more_room_in_quick_succession_wait_for_one_growing_redraw() -> None:
    app = _OneStep()
    async with app.run_test(size=(60, 30)) as pilot:
        view = app.query_one(StepView)
        # Past the first block of room: the step grows (and the clock of growing starts).
        await view.append("".join(f"line {n}\n" for n in range(GROW_LINES + 1)))
        await pilot.pause()
        assert view.shown_text == view.text
        more = "".join(f"line {n}\n" for n in range(GROW_LINES + 1, 2 * GROW_LINES + 1))
        await view.append(more)  # past the room reserved
        await view._draw_pending()  # the next frame, sooner than GROW_INTERVAL_S
        assert view.shown_text != view.text  # the lines past the room wait ...
        await wait_until(pilot, lambda: view.shown_text == view.text)  # ... and come
        body = view.body
        assert isinstance(body, LiveText)
        await pilot.pause()
        lines = [body.render_line(y).text.rstrip() for y in range(body.size.height)]
        shown = [f"line {n}" for n in range(2 * GROW_LINES + 1)] + [""]
        assert lines == shown + [""] * (GROW_LINES - 1)  # the room kept for more


class _CountingLive(LiveText):
    """A LiveText that counts its layouts that changed its size (each scrolls the chain)."""

    resizes = 0

    def on_resize(self) -> None:
        self.resizes += 1


class _Block(App[None]):
    def compose(self) -> ComposeResult:
        yield _CountingLive("line 0", block=4)


async def test_a_text_that_grows_in_blocks_lays_out_once_per_block_of_new_lines() -> None:
    """Nine lines added one after another to a line, with room kept for three more each time
    the text outgrows it (fewer while it is shorter): at most ceil(9 / 4) layouts; the lines
    in the room are repainted alone."""
    app = _Block()
    async with app.run_test(size=(40, 30)) as pilot:
        live = app.query_one(_CountingLive)
        await pilot.pause()
        assert live.size.height == 1 and live.resizes == 1  # one line: no room under it
        text, layouts = "line 0", 0
        for n in range(1, 10):
            text += f"\nline {n}"
            assert live.set_text(text)
            layouts += live._layout_required
            await pilot.pause()
        assert layouts == live.resizes - 1 <= -(-9 // 4)
        assert live.size.height == 11 and live.line_count == 10
        rows = [live.render_line(y).text.rstrip() for y in range(11)]
        assert rows == [f"line {n}" for n in range(10)] + [""]


async def test_a_text_that_outgrows_its_room_makes_the_room_asked_for() -> None:
    app = _Block()
    async with app.run_test(size=(40, 30)) as pilot:
        live = app.query_one(_CountingLive)
        await pilot.pause()
        text = "line 0" + "".join(f"\nline {n}" for n in range(1, 12))
        assert live.set_text(text, room=9)
        await pilot.pause()
        assert live.size.height == 12 + 9 and live.line_count == 12
        text += "\nline 12\nline 13"
        assert live.set_text(text, room=4)  # within the room: no layout
        assert not live._layout_required


def test_the_room_follows_the_pace_of_new_lines() -> None:
    """A model's pace (a line every few tenths of a second) keeps the least room; a fast one
    gets about ROOM_S seconds of lines, never more than MOST_ROOM_LINES."""
    assert room_lines(1, 0.3) == room_lines(0, 1.0) == room_lines(3, 0.0) == GROW_LINES - 1
    assert GROW_LINES - 1 < room_lines(3, 0.3) < MOST_ROOM_LINES  # 10 lines a second
    assert room_lines(100, 0.3) == MOST_ROOM_LINES
    assert room_lines(100, 0.3, most=8) == 8  # a third of a 24-line screen


async def test_a_running_clock_redraws_once_a_second_and_never_lays_out() -> None:
    app = _OneStep()
    async with app.run_test(size=(60, 10)) as pilot:
        view = app.query_one(StepView)
        await pilot.pause()
        assert "0 s" in str(view.title)
        view.tick(0.5)
        assert not view._title._repaint_required  # the same second: nothing to draw
        view.tick(1.2)
        assert "Counting · 1 s" in str(view.title)
        assert view._title._repaint_required
        assert not view._title._layout_required and not view._layout_required
        await pilot.pause()


class _Chain(App[None]):
    def compose(self) -> ComposeResult:
        yield ChainView(Chain("Why?", "plain", "m"), live=True, now=0.0)


async def test_the_status_line_redraws_only_when_its_text_changes() -> None:
    app = _Chain()
    async with app.run_test(size=(60, 10)) as pilot:
        view = app.query_one(ChainView)
        await view.apply(StepStarted(1, "Answer"), 0.0)
        await pilot.pause()
        line = view.status_line
        assert "running · plain · 1 step · 0 s" in str(line.render())
        await view.apply(StepDelta(1, "some text"), 0.3)
        view.tick(0.6)
        assert not line._repaint_required  # a delta and a tick that change nothing shown
        view.tick(1.1)
        assert line._repaint_required and "1 step · 1 s" in str(line.render())


async def test_deltas_of_one_frame_reach_the_app_as_one_message() -> None:
    posted: list[Event] = []
    sink = EventBatcher(posted.append, interval=0.05)
    sink(StepStarted(1, "Answer"))
    for n in range(50):
        sink(StepDelta(1, f"{n} "))
    assert len(posted) == 1  # the start went at once; the deltas wait for the frame
    await asyncio.sleep(0.1)
    assert len(posted) == 2
    merged = posted[1]
    assert isinstance(merged, StepDelta) and merged.text == "".join(f"{n} " for n in range(50))


class _Clock:
    """The app's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _vote(samples: int) -> GroupResult:
    chains = [Chain("Why?", "plain", "m", id=f"chain{i:07d}") for i in range(samples)]
    group = Group(
        kind=GroupKind.VOTE,
        question="Why?",
        model="m",
        strategies=["plain"] * samples,
        chain_ids=[c.id for c in chains],
    )
    return GroupResult(group, chains)


class _Vote(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.clock = _Clock()
        self.result = _vote(2)

    def compose(self) -> ComposeResult:
        yield GroupView(self.result, live=True, now=0.0, clock=self.clock)


async def test_a_running_sample_shows_whole_seconds_and_redraws_once_a_second() -> None:
    """As a single chain's clock: a running sample's row and the group's status line show
    whole seconds, and are redrawn only when the second shown changes."""
    app = _Vote()
    async with app.run_test(size=(80, 12)) as pilot:
        view = app.query_one(GroupView)
        chain = app.result.chains[0]
        await view.apply(chain.id, ChainStarted(chain), 0.0)
        await view.apply(chain.id, StepStarted(1, "Answer"), 0.0)
        await pilot.pause()
        row, status = view.rows[0], view.status_line
        app.clock.now = 0.4
        view._tick()
        await pilot.pause()
        assert " 0 s" in str(row.render()) and "· 0 s" in str(status.render())
        app.clock.now = 0.9
        view._tick()
        assert not row._repaint_required and not status._repaint_required  # the same second
        app.clock.now = 1.3
        view._tick()
        assert row._repaint_required and status._repaint_required
        assert " 1 s" in str(row.render()) and "· 1 s" in str(status.render())
        assert "1.30" not in str(row.render())


class _Asking(App[None]):
    def compose(self) -> ComposeResult:
        yield QuestionInput("plain")


async def test_the_question_box_cursor_stays_lit_while_a_chain_streams() -> None:
    """Each blink is a redraw: while any chain streams the cursor does not blink, and it
    blinks again once the last one ended (or its view went away)."""
    app = _Asking()
    async with app.run_test(size=(60, 20)) as pilot:
        box = app.query_one(QuestionInput)
        assert box.cursor_blink
        first, second = Chain("Why?", "plain", "m"), Chain("How?", "plain", "m")
        views = [ChainView(first, live=True), ChainView(second, live=True)]
        await app.mount_all(views)
        await pilot.pause()
        assert not box.cursor_blink
        first.status = Status.DONE
        await views[0].apply(ChainFinished(first), 1.0)
        assert not box.cursor_blink  # the other one still streams
        await views[1].remove()
        assert box.cursor_blink


async def test_a_running_vote_holds_the_cursor_blink_until_it_ends() -> None:
    """A vote's samples stream into rows, without chain views: the group holds it."""
    app = _Asking()
    async with app.run_test(size=(60, 20)) as pilot:
        box = app.query_one(QuestionInput)
        result = _vote(2)
        view = GroupView(result, live=True, now=0.0, clock=_Clock())
        await app.mount(view)
        await pilot.pause()
        assert not box.cursor_blink
        result.group.status = Status.DONE
        view.finish(result)
        assert box.cursor_blink
