"""Groups in the app: started from the question box (switcher, F5, palette), the vote and
compare views live, samples expanded by keyboard, cancelled together, reopened from history."""

from __future__ import annotations

import dataclasses
import itertools
import threading
from typing import Any

from tests.fakes.openai_server import FakeOpenAIServer, Reply, demo_responder
from tests.helpers import wait_until
from tui.app.app import O1App
from tui.app.choices import GROUP_CHOICES, VoteChoice
from tui.app.widgets.chain_view import ChainView
from tui.app.widgets.group_view import GroupView, SampleRow
from tui.app.widgets.question_input import QuestionInput
from tui.core.chain import Status
from tui.store.group_store import list_groups, load_group


def answers_in_turn(*answers: str, delay_s: float = 0.0):
    turn = itertools.count()
    lock = threading.Lock()

    def responder(body: dict[str, Any]) -> Reply:
        with lock:
            n = next(turn)
        text = f"Working. The answer is {answers[n % len(answers)]}."
        return Reply(content=text, delay_s=delay_s)

    return responder


async def _ready(app: O1App, pilot) -> None:
    await wait_until(pilot, lambda: app.server_state == "ready", timeout=10)


def _group_view(app: O1App) -> GroupView | None:
    views = app.query(GroupView)
    return views.first() if views else None


async def test_vote_mode_from_the_switcher_runs_samples_and_shows_the_tally(
    make_app, history
) -> None:
    with FakeOpenAIServer(responder=answers_in_turn("3", "3", "4")) as server:
        app = make_app(server, strategy="plain")
        async with app.run_test(size=(100, 30)) as pilot:
            await _ready(app, pilot)
            # Ctrl+T cycles the strategies, then the group modes
            while app.choice != GROUP_CHOICES[0]:
                await pilot.press("ctrl+t")
            assert "g1@8 vote" in app.query_one(QuestionInput).border_title
            app.set_strategy("plain")
            # a plain vote: the same kind of mode, with plain samples
            app.groups.start("What is 1 + 2?", VoteChoice("plain", 3))
            view = _group_view(app)
            assert view is not None
            await wait_until(pilot, lambda: not view.live, timeout=15)
            assert view.result.status is Status.DONE
            tally = str(view.tally.render())
            assert "Answer 3" in tally and "2 of 3 votes" in tally
            rows = list(app.query(SampleRow))
            assert len(rows) == 3 and all("✓" in str(r.render()) for r in rows)
            assert "done" in str(view.status_line.render())
            # keyboard: the first sample has focus; Enter expands its steps, Down moves on
            await wait_until(pilot, lambda: isinstance(app.focused, SampleRow))
            assert app.focused is rows[0]
            await pilot.press("enter")
            assert rows[0].expanded and view.views[0] is not None and view.views[0].display
            assert "▾" in str(rows[0].render())
            await pilot.press("down")
            assert app.focused is rows[1]
            await pilot.press("enter", "enter")
            assert not rows[1].expanded and not view.views[1].display
            # any other character starts the next question in the box: nothing typed is lost
            await pilot.press(*"Why?")
            box = app.query_one(QuestionInput)
            assert app.focused is box and box.value == "Why?"
    (summary,) = list_groups(history)
    assert summary.answer == "3" and summary.votes == {"3": 2, "4": 1}


async def test_f5_runs_the_question_as_a_compare(make_app, history) -> None:
    with FakeOpenAIServer() as server:
        app = make_app(server)
        async with app.run_test(size=(120, 40)) as pilot:
            await _ready(app, pilot)
            await pilot.press(*"What is six times seven?")
            await pilot.press("f5")
            await pilot.pause()
            # the list offers the group modes; pick compare
            for _ in range(GROUP_CHOICES.index(GROUP_CHOICES[-1])):
                await pilot.press("down")
            await pilot.press("enter")
            await wait_until(pilot, lambda: _group_view(app) is not None)
            view = _group_view(app)
            assert view.compare and app.choice.label == "compare plain/g1/thinking"
            assert [c.strategy for c in view.result.chains] == ["plain", "g1", "thinking"]
            await wait_until(pilot, lambda: not view.live, timeout=20)
            assert view.result.status is Status.DONE
            columns = list(view.query(".group-column"))
            assert [c.border_title for c in columns] == ["plain", "g1", "thinking"]
            assert all("42" in (c.border_subtitle or "") for c in columns)
            assert len(list(view.query(ChainView))) == 3
            assert app.query_one(QuestionInput).value == ""


async def test_escape_cancels_the_whole_group_and_keeps_what_finished(make_app, history) -> None:
    def responder(body: dict[str, Any], turn=itertools.count()) -> Reply:  # noqa: B008
        if next(turn) == 0:
            return Reply(content="The answer is 9.")
        return Reply(content="pondering " * 3000, delay_s=0.01)

    with FakeOpenAIServer(responder=responder) as server:
        app = make_app(server)
        async with app.run_test(size=(100, 30)) as pilot:
            await _ready(app, pilot)
            app.groups.start("Slow one?", VoteChoice("plain", 3))
            view = _group_view(app)
            await wait_until(
                pilot, lambda: any(c.status is Status.DONE for c in view.result.chains), timeout=10
            )
            await pilot.press("escape")
            await wait_until(pilot, lambda: not view.live, timeout=10)
            assert view.result.status is Status.CANCELLED
            statuses = sorted(c.status.value for c in view.result.chains)
            assert statuses == ["cancelled", "cancelled", "done"]
            assert "cancelled" in str(view.status_line.render())
            assert not any(r.running for r in app.chains.runs.values())


async def test_a_saved_group_opens_back_into_its_view(make_app, history) -> None:
    with FakeOpenAIServer(responder=answers_in_turn("5", "6", "5")) as server:
        from backends.openai_client import OpenAIChatClient
        from tui.core.group import GroupSpec
        from tui.core.group_runner import run_group
        from tui.core.strategies import StrategyOptions

        client = OpenAIChatClient(server.url, "fake-model", retries=0)
        spec = GroupSpec.self_consistency("Five or six?", "plain", 3)
        result = await run_group(spec, client, StrategyOptions(), history=history)
        await client.aclose()
        app = make_app(server)
        async with app.run_test(size=(100, 30)) as pilot:
            await _ready(app, pilot)
            app.chains.open(result.group.id)
            await wait_until(pilot, lambda: _group_view(app) is not None)
            view = _group_view(app)
            assert not view.live and view.result.group.id == result.group.id
            await wait_until(pilot, lambda: "Answer 5" in str(view.tally.render()))
            assert "2 of 3 votes" in str(view.tally.render())
            assert view.views == [None, None, None]  # built on expand
            await wait_until(pilot, lambda: isinstance(app.focused, SampleRow))
            await pilot.press("enter")
            await pilot.pause()
            assert isinstance(view.views[0], ChainView) and view.views[0].is_mounted
            assert load_group(history, result.group.id) is not None


async def test_the_history_sidebar_lists_a_group_once_and_opens_it(make_app, history) -> None:
    from backends.openai_client import OpenAIChatClient
    from tui.app.widgets.history_panel import HistoryList
    from tui.core.group import GroupSpec
    from tui.core.group_runner import run_group
    from tui.core.strategies import StrategyOptions

    with FakeOpenAIServer(responder=answers_in_turn("7", "7", "8")) as server:
        client = OpenAIChatClient(server.url, "fake-model", retries=0)
        spec = GroupSpec.self_consistency("Seven?", "plain", 3)
        result = await run_group(spec, client, StrategyOptions(), history=history)
        await client.aclose()
        app = make_app(server)
        async with app.run_test(size=(120, 40)) as pilot:
            await _ready(app, pilot)
            await pilot.press("f2")
            lst = app.query_one(HistoryList)
            await wait_until(pilot, lambda: lst.total == 1)
            entry = lst.selected
            assert entry.id == result.group.id and entry.strategy == "plain@3"
            assert entry.list_text.startswith("7 (2/3) · Seven?")
            assert "7 (2/3) · Seven?" in lst.render_line(1).text
            await pilot.press("enter")
            await wait_until(pilot, lambda: _group_view(app) is not None)
            assert _group_view(app).result.group.id == result.group.id


async def test_expanding_a_running_sample_shows_its_steps_so_far(make_app, history) -> None:
    def responder(body: dict[str, Any]) -> Reply:
        return dataclasses.replace(demo_responder(body), delay_s=0.03)

    with FakeOpenAIServer(responder=responder) as server:
        app = make_app(server)
        async with app.run_test(size=(100, 30)) as pilot:
            await _ready(app, pilot)
            app.groups.start("Slow g1?", VoteChoice("g1", 2))
            view = _group_view(app)
            chain = view.result.chains[0]
            # wait for a finished step and the next one streaming
            await wait_until(
                pilot,
                lambda: len(chain.steps) >= 1 and view.members[0].step_text,
                timeout=20,
            )
            assert view.views[0] is None  # nothing drawn for a folded sample
            await view.toggle_sample(0)
            member = view.views[0]
            assert member is not None and member.live
            done_then = len(chain.steps)
            assert len(member.steps) >= done_then + 1  # finished ones and the running one
            # the running step shows all the text streamed so far, before expanding included
            await wait_until(
                pilot,
                lambda: (
                    view.members[0].step in member.steps
                    and member.steps[view.members[0].step].text
                    == "".join(view.members[0].step_text)
                )
                or not member.live,
            )
            await wait_until(pilot, lambda: not view.live, timeout=30)
            assert not member.live and member.chain.status is Status.DONE
            assert sorted(member.steps) == [s.index for s in chain.steps]
            assert member.answer is not None and "42" in member.answer_text()


async def test_the_palette_offers_the_group_command_and_modes(make_app) -> None:
    from tui.app.palette import O1Commands

    with FakeOpenAIServer() as server:
        app = make_app(server)
        async with app.run_test(size=(100, 30)) as pilot:
            await _ready(app, pilot)
            provider = O1Commands(app.screen)
            commands = {text: command for text, command, _ in provider._commands()}
            assert "Vote / compare…" in commands
            for mode in GROUP_CHOICES:
                assert f"Strategy: {mode.label}" in commands
            commands["Strategy: compare plain/g1/thinking"]()
            assert app.choice.label == "compare plain/g1/thinking"
            await pilot.press(*"What is six times seven?", "enter")
            await wait_until(pilot, lambda: _group_view(app) is not None)
            assert _group_view(app).compare
            await wait_until(pilot, lambda: not _group_view(app).live, timeout=20)
