"""The Evaluations screen: pilots (open it, read a run, open a miss's chain, start a run) and
SVG snapshots at 80x24 and 120x40 of a stored run with fixed values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.helpers import notifications, wait_until
from tests.test_eval import N_QUESTIONS, RIGHT, _gold, scripted
from tui.app.app import O1App
from tui.app.screens.evaluations import EvaluationsScreen, parse_start_line
from tui.app.widgets.accuracy_chart import AccuracyChart
from tui.core.chain import Chain, Status, Step
from tui.core.config import Settings
from tui.evals.sets import EvalItem, EvalSet
from tui.evals.store import EvalStore, ItemResult
from tui.store.history import History

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]
QUESTIONS = [
    ("How many r in strawberry?", "3"),
    ("Which is larger, 9.11 or 9.9?", "9.9"),
    ("What is 347 × 86?", "29842"),
    ("If today is Monday, what day is it in 10 days?", "Thursday"),
]
#: (strategy, question index) -> (predicted, seconds, tokens, steps)
ANSWERS = {
    ("plain", 0): ("2", 0.8, 20, 1),
    ("plain", 1): ("9.11", 0.6, 15, 1),
    ("plain", 2): ("29842", 0.9, 25, 1),
    ("plain", 3): ("Thursday", 0.7, 18, 1),
    ("g1", 0): ("3", 6.2, 820, 4),
    ("g1", 1): ("9.9", 5.1, 700, 3),
    ("g1", 2): ("29842", 7.4, 910, 5),
    ("g1", 3): ("Friday", 6.0, 760, 4),
}


def _stored_run(history: History) -> str:
    store = EvalStore(history)
    items = tuple(EvalItem(q, a) for q, a in QUESTIONS)
    run = store.create_run(
        EvalSet("classic", items, seed=0),
        model="internlm3-8b-instruct",
        strategies=["plain", "g1"],
        run_id="evalrun00001",
        created_at="2025-02-03T10:20:00+00:00",
    )
    for (strategy, idx), (predicted, seconds, tokens, steps) in ANSWERS.items():
        chain = Chain(
            question=QUESTIONS[idx][0],
            strategy=strategy,
            model="internlm3-8b-instruct",
            id=f"ch-{strategy}-{idx}",
            created_at="2025-02-03T10:20:00+00:00",
        )
        chain.steps = [
            Step(index=i + 1, title=f"Step {i + 1}", content="…", elapsed_s=1.0)
            for i in range(steps)
        ]
        chain.status, chain.final_answer, chain.total_s = Status.DONE, predicted, seconds
        history.start_chain(chain)
        history.finish_chain(chain)
        store.save_item(
            run.id,
            ItemResult(
                idx=idx,
                strategy=strategy,
                status="done",
                predicted=predicted,
                correct=predicted == QUESTIONS[idx][1],
                wall_s=seconds,
                tokens=tokens,
                steps=float(steps),
                chain_id=chain.id,
                finished_at="2025-02-03T10:21:00+00:00",
            ),
        )
    store.set_status(run.id, "done")
    return run.id


def _app(tmp_path: Path, history: History, server: FakeOpenAIServer | None = None) -> O1App:
    (tmp_path / "themes").mkdir(exist_ok=True)
    settings = Settings(
        endpoint=server.url if server else "http://127.0.0.1:23333/v1",
        model="fake-model" if server else "internlm3-8b-instruct",
    )
    return O1App(
        settings,
        history=history,
        env={"TERM": "xterm-256color"},
        config_path=tmp_path / "config.toml",
        user_themes_dir=tmp_path / "themes",
        connect=server is not None,
    )


def _screen(app: O1App) -> EvaluationsScreen:
    assert isinstance(app.screen, EvaluationsScreen)
    return app.screen


async def test_f7_shows_the_run_its_results_chart_and_misses(tmp_path, history) -> None:
    _stored_run(history)
    app = _app(tmp_path, history)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f7")
        await wait_until(pilot, lambda: isinstance(app.screen, EvaluationsScreen))
        screen = _screen(app)
        await wait_until(pilot, lambda: len(screen.rows) == 2)
        by = {r.strategy: r for r in screen.rows}
        assert (by["plain"].correct, by["g1"].correct) == (2, 3)
        assert by["g1"].mean_s == pytest.approx((6.2 + 5.1 + 7.4 + 6.0) / 4)
        assert len(app.screen.query_one(AccuracyChart).points) == 2
        misses = {(it.strategy, it.idx) for it, _q, _g in screen.wrong}
        assert misses == {("plain", 0), ("plain", 1), ("g1", 3)}
        await pilot.press("escape")
        assert not isinstance(app.screen, EvaluationsScreen)


async def test_enter_on_a_miss_opens_its_chain(tmp_path, history) -> None:
    _stored_run(history)
    app = _app(tmp_path, history)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f7")
        await wait_until(pilot, lambda: isinstance(app.screen, EvaluationsScreen))
        screen = _screen(app)
        await wait_until(pilot, lambda: len(screen.wrong) == 3)
        table = screen.query_one("#evals-wrong")
        table.focus()
        target = screen.wrong[table.cursor_row][0].chain_id
        await pilot.press("enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, EvaluationsScreen))
        await wait_until(pilot, lambda: app.chains.current_view() is not None)
        assert app.chains.current_view().chain.id == target


async def test_palette_command_opens_the_screen(tmp_path, history) -> None:
    app = _app(tmp_path, history)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("ctrl+p")
        await pilot.press(*"Evaluations")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, EvaluationsScreen))
        await wait_until(pilot, lambda: _screen(app).query_one(AccuracyChart).points == [])


async def test_a_run_started_in_the_app_is_scored_and_saved(tmp_path, history) -> None:
    set_file = tmp_path / "sums.jsonl"
    set_file.write_text(
        "\n".join(
            json.dumps({"question": f"Q{i}: what is 1000 + {7 * i}?", "answer": _gold(i)})
            for i in range(N_QUESTIONS)
        )
    )
    with FakeOpenAIServer(responder=scripted) as server:
        app = _app(tmp_path, history, server)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_until(pilot, lambda: app.server_state == "ready", timeout=10)
            await pilot.press("f7")
            await wait_until(pilot, lambda: isinstance(app.screen, EvaluationsScreen))
            await pilot.press("n")
            await pilot.press(*f"{set_file} plain,g1 4", "enter")
            store = EvalStore(history)
            await wait_until(pilot, lambda: len(store.list_runs()) == 1)
            run_id = store.list_runs()[0].id
            await wait_until(pilot, lambda: store.get_run(run_id).status == "done", timeout=20)
            screen = _screen(app)
            await wait_until(pilot, lambda: sum(r.n for r in screen.rows) == 8, timeout=10)
            by = {r.strategy: r for r in screen.rows}
            assert by["plain"].correct == len(RIGHT["plain"] & set(range(4)))
            assert by["g1"].correct == len(RIGHT["g1"] & set(range(4)))
            bar = screen.query_one("#evals-progress")
            assert bar.progress == bar.total == 8


def test_the_start_line_is_checked():
    eval_set, specs, limit = parse_start_line("letters g1,plain@3 7")
    assert eval_set.name == "letters" and [s.label for s in specs] == ["g1", "plain@3"]
    assert limit == 7
    assert [s.label for s in parse_start_line("classic")[1]] == ["plain", "g1"]
    for bad in ("", "classic nope", "no-such-set", "classic g1 3 extra words"):
        with pytest.raises(ValueError):
            parse_start_line(bad)


@pytest.mark.parametrize("size", SIZES)
def test_evaluations_snapshot(snap_compare, tmp_path, size) -> None:
    history = History(tmp_path / "history.sqlite3")
    _stored_run(history)
    app = _app(tmp_path, history)

    async def run_before(pilot) -> None:
        await pilot.press("f7")
        await wait_until(pilot, lambda: isinstance(app.screen, EvaluationsScreen))
        await wait_until(pilot, lambda: len(_screen(app).wrong) == 3)
        await pilot.pause()

    try:
        assert snap_compare(app, terminal_size=size, run_before=run_before)
    finally:
        history.close()


async def test_leaving_the_screen_stops_its_run_resumably(tmp_path, history) -> None:
    set_file = tmp_path / "sums.jsonl"
    set_file.write_text(
        "\n".join(
            json.dumps({"question": f"Q{i}: what is 1000 + {7 * i}?", "answer": _gold(i)})
            for i in range(N_QUESTIONS)
        )
    )
    with FakeOpenAIServer(responder=lambda body: scripted(body, delay_s=0.05)) as server:
        app = _app(tmp_path, history, server)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_until(pilot, lambda: app.server_state == "ready", timeout=10)
            await pilot.press("f7")
            await wait_until(pilot, lambda: isinstance(app.screen, EvaluationsScreen))
            await pilot.press("n")
            await pilot.press(*f"{set_file} plain", "enter")
            store = EvalStore(history)
            await wait_until(pilot, lambda: store.list_runs() != [])
            run_id = store.list_runs()[0].id
            await wait_until(pilot, lambda: store.get_run(run_id).n_answered >= 1, timeout=10)
            await pilot.press("escape")
            await wait_until(pilot, lambda: store.get_run(run_id).status == "cancelled")
            assert store.get_run(run_id).n_answered < N_QUESTIONS
            assert store.pending(store.get_run(run_id))  # what is left for --resume
            # Said, with how to go on (it used to stop silently).
            said = [m for m in notifications(app) if f"Eval {run_id} stopped" in m]
            assert said and f"o1tui eval --resume {run_id}" in said[0]


def _sums_file(tmp_path: Path) -> Path:
    set_file = tmp_path / "sums.jsonl"
    set_file.write_text(
        "\n".join(
            json.dumps({"question": f"Q{i}: what is 1000 + {7 * i}?", "answer": _gold(i)})
            for i in range(N_QUESTIONS)
        )
    )
    return set_file


async def test_a_new_run_is_selected_and_its_rows_grow_as_it_goes(tmp_path, history) -> None:
    """With an older run on screen, ``n`` starts a run: the table and rows are the new run's,
    updated item by item (they kept showing the older run's under the new progress bar)."""
    _stored_run(history)
    set_file = _sums_file(tmp_path)
    with FakeOpenAIServer(responder=lambda body: scripted(body, delay_s=0.05)) as server:
        app = _app(tmp_path, history, server)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_until(pilot, lambda: app.server_state == "ready", timeout=10)
            await pilot.press("f7")
            await wait_until(pilot, lambda: isinstance(app.screen, EvaluationsScreen))
            screen = _screen(app)
            await wait_until(pilot, lambda: len(screen.rows) == 2)  # the older run, shown
            await pilot.press("n", *f"{set_file} plain", "enter")
            store = EvalStore(history)
            await wait_until(pilot, lambda: len(store.list_runs()) == 2)
            new = next(r.id for r in store.list_runs() if r.id != "evalrun00001")
            await wait_until(pilot, lambda: [r.strategy for r in screen.rows] == ["plain"])
            assert screen.selected is not None and screen.selected.id == new
            table = screen.query_one("#evals-run-table")
            assert table.get_row_at(table.cursor_row)[0] == new[:8]
            # Live: rows count items while the run is still going.
            await wait_until(
                pilot,
                lambda: screen.rows[0].n > 0 and store.get_run(new).status == "running",
                timeout=10,
            )
            await wait_until(pilot, lambda: store.get_run(new).status == "done", timeout=30)
            await wait_until(pilot, lambda: screen.rows[0].n == N_QUESTIONS, timeout=10)


def _stalled(body) -> Reply:
    """An answer that never comes (until the stand-in stops): a run with no item done yet."""
    return Reply(content="thinking", stall_after_chunks=0)


@pytest.mark.parametrize("size", SIZES)
def test_evaluations_snapshot_during_a_run(snap_compare, tmp_path, size) -> None:
    """A run going on, before its first item: it is selected, its rows say "—", the older
    run is listed below; the title and the runs' status column are whole."""
    history = History(tmp_path / "history.sqlite3")
    _stored_run(history)
    store = EvalStore(history)
    items = tuple(EvalItem(q, a) for q, a in QUESTIONS)
    run = store.create_run(
        EvalSet("classic", items, seed=0),
        model="fake-model",
        strategies=["plain", "g1"],
        run_id="nextrun00002",
        created_at="2025-02-04T09:30:00+00:00",
    )
    with FakeOpenAIServer(responder=_stalled) as server:
        app = _app(tmp_path, history, server)

        async def run_before(pilot) -> None:
            await wait_until(pilot, lambda: app.server_state == "ready", timeout=10)
            await pilot.press("f7")
            await wait_until(pilot, lambda: isinstance(app.screen, EvaluationsScreen))
            screen = _screen(app)
            await wait_until(pilot, lambda: len(screen.runs) == 2)
            screen.start_run(run, app.client)
            await wait_until(pilot, lambda: [r.n for r in screen.rows] == [0, 0])
            await wait_until(pilot, lambda: screen.query_one("#evals-progress").display)
            await pilot.pause()

        try:
            assert snap_compare(app, terminal_size=size, run_before=run_before)
        finally:
            history.close()


def test_a_strategy_with_no_item_yet_shows_dashes() -> None:
    from tui.app.screens.evaluations import _result_cells
    from tui.evals.scoring import results

    row = results(["g1"], [])[0]
    assert _result_cells(row) == ("g1", "0", *["—"] * 7)
