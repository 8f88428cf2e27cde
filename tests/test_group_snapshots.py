"""SVG snapshots of the two group views at 80x24 and 120x40: a self-consistency vote mid-run
(sample rows, tally, winner so far) and a finished compare (a column per strategy).

Fixed data only: the app's clock is a fixed number moved by the test, chains have fixed ids,
timings and answers. Update with ``pytest tests/test_group_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import wait_until
from tests.test_app_snapshots import STEP_1, STEP_2, STEP_3, _ready, snapshot_app
from tui.app.app import O1App
from tui.app.widgets.group_view import GroupView, SampleRow
from tui.core.chain import (
    AnswerFinished,
    Chain,
    ChainFinished,
    ChainStarted,
    Status,
    Step,
    StepDelta,
    StepFinished,
    StepStarted,
)
from tui.core.group import Group, GroupKind, GroupResult
from tui.store.group_store import save_group
from tui.store.history import History

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]
MODEL = "internlm3-8b-instruct"
QUESTION = "A train covers 408 km in 4 h. How far in 6 h at the same speed?"


@pytest.fixture
def app(tmp_path: Path):
    history = History(tmp_path / "history.sqlite3")
    yield snapshot_app(tmp_path, history)
    history.close()


def _result(kind: GroupKind, strategies: list[str], gid: str) -> GroupResult:
    chains = [
        Chain(QUESTION, name, MODEL, id=f"{gid[:3]}ch{i:07d}", group_id=gid)
        for i, name in enumerate(strategies)
    ]
    group = Group(
        kind=kind,
        question=QUESTION,
        model=MODEL,
        strategies=strategies,
        chain_ids=[c.id for c in chains],
        id=gid,
        created_at="2025-01-20T12:00:00+00:00",
    )
    return GroupResult(group, chains)


def _step(index: int, title: str, content: str, seconds: float, tokens: int) -> Step:
    return Step(index, title, content, elapsed_s=seconds, completion_tokens=tokens)


@pytest.mark.parametrize("size", SIZES)
def test_vote_view_mid_run(snap_compare, app: O1App, size) -> None:
    async def run_before(pilot) -> None:
        await _ready(pilot)  # (also stops the question box's cursor from blinking)
        result = _result(GroupKind.VOTE, ["g1"] * 5, "vote00000001")
        view = GroupView(result, live=True, now=app.clock(), clock=app.clock)
        app.chains.show_group(view, None)
        await wait_until(pilot, lambda: view.is_mounted and len(view.rows) == 5)
        answers = {0: ("The distance is **612 km**.", 6.12), 1: ("612 km", 7.40)}
        answers[2] = ("It goes 618 km.", 8.05)
        for i, chain in enumerate(result.chains):
            sink = app.chains.event_sink(chain.id)
            sink(ChainStarted(chain))
            sink(StepStarted(1, "Speed"))
            sink(StepDelta(1, "408 km / 4 h = 102 km/h."))
            sink(StepFinished(_step(1, "Speed", "408 km / 4 h = 102 km/h.", 2.1, 96)))
            chain.steps.append(
                _step(1, "Speed", "408 km / 4 h = 102 km/h.", 2.1, 96)
            )  # as run_chain
            if i in answers:
                text, seconds = answers[i]
                sink(StepStarted(2, "Distance"))
                sink(StepFinished(_step(2, "Distance", "102 × 6 = 612 km.", 2.4, 88)))
                sink(AnswerFinished(text))
                done = Chain(QUESTION, "g1", MODEL, id=chain.id, group_id=chain.group_id)
                done.status, done.final_answer, done.total_s = Status.DONE, text, seconds
                done.steps = [
                    _step(1, "Speed", "408 km / 4 h = 102 km/h.", 2.1, 96),
                    _step(2, "Distance", "102 × 6 = 612 km.", 2.4, 88),
                ]
                sink(ChainFinished(done))
            elif i == 3:
                sink(StepStarted(2, "Distance"))
                sink(StepDelta(2, "102 × 6 ="))
            sink.flush()
        await wait_until(pilot, lambda: len(view._finished) == 3)
        await wait_until(pilot, lambda: isinstance(app.focused, SampleRow))  # the first row
        app.clock.now += 9.3
        view.refresh_all()
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_compare_view_finished(snap_compare, app: O1App, size) -> None:
    async def run_before(pilot) -> None:
        await _ready(pilot)  # (also stops the question box's cursor from blinking)
        history = app.history
        result = _result(GroupKind.COMPARE, ["plain", "g1", "thinking"], "cmp000000001")
        runs = {
            "plain": ([_step(1, "Answer", "At 102 km/h, 6 h gives 612 km.", 1.2, 31)], 1.2),
            "g1": ([STEP_1, STEP_2, STEP_3], 5.02),
            "thinking": (
                [
                    _step(1, "Understanding", "Constant speed: distance ∝ time.", 3.3, 140),
                    _step(2, "Solving", "408 × 6 / 4 = 612.", 2.9, 120),
                ],
                6.2,
            ),
        }
        answers = {
            "plain": "612 km",
            "g1": "The train covers **612 km**.",
            "thinking": "\\boxed{612}",
        }
        for chain in result.chains:
            steps, seconds = runs[chain.strategy]
            chain.steps, chain.total_s = list(steps), seconds
            chain.status, chain.final_answer = Status.DONE, answers[chain.strategy]
            history.start_chain(chain)
            history.finish_chain(chain)
        result.group.status, result.group.wall_s = Status.DONE, 6.31
        save_group(history, result.group)
        app.chains.open(result.group.id)
        await wait_until(pilot, lambda: bool(app.query(GroupView)))
        view = app.query_one(GroupView)
        await wait_until(pilot, lambda: all(v is not None and v.is_mounted for v in view.views))
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=run_before)


def _saved_vote(history: History) -> GroupResult:
    """A finished 5-sample vote in the history: 612 km three times, 618 km and 600 km once."""
    result = _result(GroupKind.VOTE, ["g1"] * 5, "vote00000002")
    said = ["612 km", "The distance is **612 km**.", "It goes 618 km.", "612", "600 km"]
    for chain, text in zip(result.chains, said, strict=True):
        chain.steps = [_step(1, "Speed", "408 km / 4 h = 102 km/h.", 2.1, 96)]
        chain.status, chain.final_answer, chain.total_s = Status.DONE, text, 6.0
        history.start_chain(chain)
        history.finish_chain(chain)
    group = result.group
    group.status, group.wall_s, group.answer = Status.DONE, 7.4, "612 km"
    group.votes = {"612": 3, "618": 1, "600": 1}
    save_group(history, group)
    return result


async def _reopen(app: O1App, pilot, group_id: str) -> GroupView:
    app.chains.open(group_id)
    await wait_until(pilot, lambda: bool(app.query(GroupView)))
    view = app.query_one(GroupView)
    await wait_until(pilot, lambda: view.is_mounted and len(view.rows) == 5)
    await pilot.pause()
    return view


def _bar_cells(view: GroupView) -> list[int]:
    """Cells of each tally bar as drawn (filled and empty parts)."""
    lines = str(view.tally.render()).splitlines()[1:]
    return [sum(line.count(c) for c in "█░") for line in lines]


async def test_a_reopened_vote_has_bars_as_wide_as_a_live_one(app: O1App) -> None:
    """Reopened from the history, the bars were drawn before the view had its width: 4 cells,
    so a one-vote answer showed an empty bar."""
    from tui.app.widgets.group_view import tally_content

    result = _saved_vote(app.history)
    async with app.run_test(size=(120, 40)) as pilot:
        await _ready(pilot)
        view = await _reopen(app, pilot, result.group.id)
        cells = _bar_cells(view)
        live = tally_content(view.vote_now(), 5, 5, view.size.width - 2)
        assert cells == [sum(line.count(c) for c in "█░") for line in str(live).splitlines()[1:]]
        assert min(cells) > 20
        # The one-vote answers' bars are not empty.
        for line in str(view.tally.render()).splitlines()[2:]:
            assert "█" in line


@pytest.mark.parametrize("size", SIZES)
def test_vote_view_reopened_from_history(snap_compare, app: O1App, size) -> None:
    async def run_before(pilot) -> None:
        await _ready(pilot)
        result = _saved_vote(app.history)
        await _reopen(app, pilot, result.group.id)

    assert snap_compare(app, terminal_size=size, run_before=run_before)
