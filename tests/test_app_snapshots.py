"""SVG snapshots of the main screen mid-chain, a finished chain, the history and the help.

Everything shown is recorded data or posted events with fixed values: the app's clock is a
fixed number, saved chains have fixed timings and dates, the server state is posted, not
measured. Update with ``pytest tests/test_app_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import wait_until
from tui.app.app import O1App
from tui.app.messages import ServerStateChanged
from tui.core.chain import Chain, Status, Step, StepDelta, StepFinished, StepStarted
from tui.core.config import Settings
from tui.store.history import History

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]

STEP_1 = Step(
    index=1,
    title="Understanding the problem",
    content="We need the number of **r** letters in *strawberry*.\n\n"
    "- Spell it: s-t-r-a-w-b-e-r-r-y\n- Count each `r`",
    elapsed_s=2.41,
    completion_tokens=187,
)
STEP_2 = Step(
    index=2,
    title="Checking alternatives",
    content="Counting again from the end: y, r, r, e, b, w, a, r. That is 3.",
    elapsed_s=1.73,
    completion_tokens=95,
)
STEP_3 = Step(
    index=3,
    title="Final check",
    content="Both counts agree: **3**.",
    elapsed_s=0.88,
    completion_tokens=41,
)


class Clock:
    """A clock that only moves when the test says so."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _save(
    history: History,
    i: int,
    question: str,
    strategy: str,
    status: Status,
    steps: list[Step],
    answer: str,
    total: float,
) -> Chain:
    chain = Chain(
        question=question,
        strategy=strategy,
        model="internlm3-8b-instruct",
        id=f"snap{i:08d}",
        created_at=f"2025-01-{10 + i:02d}T12:00:00+00:00",
    )
    history.start_chain(chain)
    for step in steps:
        chain.steps.append(step)
        history.add_step(chain.id, step)
    chain.status, chain.final_answer, chain.total_s = status, answer, total
    chain.error = "cancelled" if status == Status.CANCELLED else None
    history.finish_chain(chain)
    return chain


def snapshot_app(tmp_path: Path, history: History) -> O1App:
    """The app as every snapshot draws it: a fixed clock and terminal, no user themes, no
    server connection (the test posts the server's state)."""
    (tmp_path / "themes").mkdir()
    settings = Settings(endpoint="http://127.0.0.1:23333/v1", model="internlm3-8b-instruct")
    return O1App(
        settings,
        history=history,
        clock=Clock(),
        env={"TERM": "xterm-256color"},
        config_path=tmp_path / "config.toml",
        user_themes_dir=tmp_path / "themes",
        connect=False,
    )


@pytest.fixture
def app(tmp_path: Path):
    history = History(tmp_path / "history.sqlite3")
    _save(
        history, 1, "Is 9.11 bigger than 9.9?", "plain", Status.DONE, [], "No: 9.9 is bigger.", 3.2
    )
    _save(
        history, 2, "Plan a 3-day trip to Kyoto", "thinking", Status.CANCELLED, [STEP_1], "", 12.5
    )
    _save(
        history,
        3,
        "How many r in strawberry?",
        "g1",
        Status.DONE,
        [STEP_1, STEP_2, STEP_3],
        "There are **3** r's in strawberry.",
        5.02,
    )
    yield snapshot_app(tmp_path, history)
    history.close()


async def _ready(pilot) -> None:
    app: O1App = pilot.app
    # (the shared snap_compare fixture in conftest keeps text cursors from blinking)
    app.post_message(
        ServerStateChanged("ready", model="internlm3-8b-instruct", address="127.0.0.1:23333")
    )
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
def test_mid_chain(snap_compare, app: O1App, size) -> None:
    async def run_before(pilot) -> None:
        await _ready(pilot)
        chain = Chain(
            question="How many r in strawberry?", strategy="g1", model="internlm3-8b-instruct"
        )
        view = app.chains.attach(chain)
        sink = app.chains.event_sink(chain.id)
        sink(StepStarted(1, STEP_1.title))
        sink(StepDelta(1, STEP_1.content))
        sink(StepFinished(STEP_1))
        app.clock.now += 2.41
        sink(StepStarted(2, ""))
        sink(StepDelta(2, "Counting again from the end: y, r, r,", title=STEP_2.title))
        sink.flush()
        await wait_until(pilot, lambda: 2 in view.steps and "r, r," in view.steps[2].text)
        app.clock.now += 1.2
        view.tick(app.clock())
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_finished_chain(snap_compare, app: O1App, size) -> None:
    async def run_before(pilot) -> None:
        await _ready(pilot)
        app.chains.open("snap00000003")
        await wait_until(
            pilot,
            lambda: app.chains.current_view() is not None
            and app.chains.current_view().answer is not None,
        )
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_history(snap_compare, app: O1App, size) -> None:
    async def run_before(pilot) -> None:
        await _ready(pilot)
        await pilot.press("f2")
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_help(snap_compare, app: O1App, size) -> None:
    async def run_before(pilot) -> None:
        await _ready(pilot)
        await pilot.press("f1")
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_history_search_focused(snap_compare, app: O1App, size) -> None:
    """The search box while typing: one row with the query and the cursor in it."""

    async def run_before(pilot) -> None:
        await _ready(pilot)
        await pilot.press("f2")
        await pilot.press("slash", *"kyoto")
        await pilot.pause(0.4)  # the search's debounce, then its read

    assert snap_compare(app, terminal_size=size, run_before=run_before)
