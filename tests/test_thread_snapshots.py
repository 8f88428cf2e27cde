"""SVG snapshots of a three-turn thread: the third turn on screen with the two earlier turns
folded above it (the default), and unfolded. Recorded data only (fixed clock, dates and
timings). Update with ``pytest tests/test_thread_snapshots.py --snapshot-update``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import wait_until
from tests.test_app_snapshots import SIZES, STEP_1, STEP_2, _ready, snapshot_app
from tui.app.app import O1App
from tui.app.widgets.earlier_turns import EarlierTurns
from tui.core.chain import Chain, Status, Step
from tui.store.history import History

TURNS = (
    ("How many r in strawberry?", [STEP_1, STEP_2], "There are **3** r's in strawberry."),
    ("And in raspberry?", [STEP_2], "Raspberry has **3** r's too."),
    (
        "Check both with another method",
        [Step(index=1, title="Counting by letter", content="s-t-r-a-w… and r-a-s-p…: 3 and 3.")],
        "Both checks agree: 3 and 3.",
    ),
)


@pytest.fixture
def app(tmp_path: Path):
    history = History(tmp_path / "history.sqlite3")
    parent = None
    for i, (question, steps, answer) in enumerate(TURNS, start=1):
        chain = Chain(
            question=question,
            strategy="g1",
            model="internlm3-8b-instruct",
            id=f"turn{i:08d}",
            created_at=f"2025-01-1{i}T12:00:00+00:00",
            status=Status.DONE,
            steps=list(steps),
            final_answer=answer,
            total_s=2.5 * i,
            parent_id=parent,
        )
        history.finish_chain(chain)
        parent = chain.id
    yield snapshot_app(tmp_path, history)
    history.close()


async def _open_third_turn(pilot) -> None:
    app: O1App = pilot.app
    await _ready(pilot)
    app.chains.open("turn00000003")
    await wait_until(
        pilot,
        lambda: app.chains.current_view() is not None
        and app.chains.current_view().answer is not None,
    )
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
def test_thread_folded(snap_compare, app: O1App, size) -> None:
    async def run_before(pilot) -> None:
        await _open_third_turn(pilot)
        assert app.query_one(EarlierTurns).collapsed

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_thread_unfolded(snap_compare, app: O1App, size) -> None:
    async def run_before(pilot) -> None:
        await _open_third_turn(pilot)
        await pilot.press("f3")
        await pilot.pause()
        assert not app.query_one(EarlierTurns).collapsed

    assert snap_compare(app, terminal_size=size, run_before=run_before)
