"""Follow-ups in the app: the next question continues the chain on screen (the request carries
the earlier turns), Ctrl+n starts a new thread, the box says which, earlier turns are folded
above the chain, the sidebar lists a thread once, groups continue from the vote or the
focused column."""

from __future__ import annotations

import pytest

from tests.fakes.openai_server import FakeOpenAIServer, count_turns_responder
from tests.helpers import wait_until
from tests.test_app_groups import answers_in_turn
from tui.app.app import O1App
from tui.app.widgets.chain_view import ChainView
from tui.app.widgets.earlier_turns import EarlierTurns
from tui.app.widgets.group_view import GroupView
from tui.app.widgets.question_input import QuestionInput
from tui.core.chain import Status


async def _ready(app: O1App, pilot) -> None:
    await wait_until(pilot, lambda: app.server_state == "ready", timeout=10)


async def _ask(app: O1App, pilot, question: str) -> ChainView:
    before = app.chains.current_view()
    await pilot.press(*question)
    await pilot.press("enter")
    await wait_until(pilot, lambda: app.chains.current_view() not in (None, before))
    view = app.chains.current_view()
    assert view is not None
    await wait_until(pilot, lambda: not view.live and view.chain.status != Status.RUNNING, 10)
    await pilot.pause()
    return view


def _users(request: dict) -> list[str]:
    return [m["content"] for m in request["messages"] if m["role"] == "user"]


async def test_follow_up_carries_the_thread_and_ctrl_n_starts_a_new_one(make_app, history):
    with FakeOpenAIServer(responder=count_turns_responder) as server:
        app = make_app(server, strategy="plain")
        async with app.run_test(size=(100, 30)) as pilot:
            await _ready(app, pilot)
            box = app.query_one(QuestionInput)
            assert box.follows is None and box.border_title.startswith("Question")
            first = await _ask(app, pilot, "first question")
            assert box.follows == "first question"
            assert box.border_title.startswith("Follow-up") and "Ctrl+n" in box.placeholder
            second = await _ask(app, pilot, "second question")
            assert second.chain.parent_id == first.chain.id
            assert _users(server.requests[-1]) == ["first question", "second question"]
            assert server.requests[-1]["messages"][1]["content"] == first.chain.final_answer
            assert second.answer_text().endswith("[user turns: 2]")
            # the earlier turn is above the new chain, folded
            (earlier,) = second.query(EarlierTurns)
            assert earlier.collapsed and "1 turn" in str(earlier.title)
            third = await _ask(app, pilot, "third question")
            assert third.answer_text().endswith("[user turns: 3]")
            assert len(third.query_one(EarlierTurns).turns) == 2
            # Ctrl+n: a new thread
            await pilot.press("ctrl+n")
            assert box.follows is None and box.border_title.startswith("Question")
            fresh = await _ask(app, pilot, "unrelated question")
            assert fresh.chain.parent_id is None and not fresh.query(EarlierTurns)
            assert _users(server.requests[-1]) == ["unrelated question"]
    assert history.get(third.chain.id).parent_id == second.chain.id


async def test_a_saved_follow_up_opens_with_its_earlier_turns(make_app, history):
    with FakeOpenAIServer() as server:
        app = make_app(server, strategy="plain")
        async with app.run_test(size=(100, 30)) as pilot:
            await _ready(app, pilot)
            await _ask(app, pilot, "first question")
            second = await _ask(app, pilot, "second question")
            await pilot.press("ctrl+n")
            app.chains.open(second.chain.id)
            await pilot.pause()
            view = app.chains.current_view()
            assert view is not None and view.chain.id == second.chain.id
            assert [c.question for c in view.query_one(EarlierTurns).turns] == ["first question"]
            # and asking now follows up the reopened chain
            third = await _ask(app, pilot, "third question")
            assert third.chain.parent_id == second.chain.id


async def test_the_sidebar_lists_a_thread_once_with_its_turns_and_finds_any_turn(make_app, history):
    from tui.app.widgets.history_panel import HistoryPanel

    with FakeOpenAIServer() as server:
        app = make_app(server, strategy="plain")
        async with app.run_test(size=(120, 40)) as pilot:
            await _ready(app, pilot)
            await _ask(app, pilot, "apples question")
            await _ask(app, pilot, "bananas question")
            await _ask(app, pilot, "cherries question")
            await pilot.press("ctrl+n")
            await _ask(app, pilot, "other question")
            await pilot.press("f2")
            panel = app.query_one(HistoryPanel)
            listing = panel.history
            entries = listing.list()
            assert [e.question for e in entries] == ["other question", "cherries question"]
            assert getattr(entries[1], "turns", 1) == 3 and "3 turns" in entries[1].list_text
            assert listing.count() == 2
            found = listing.list("apples")
            assert [e.question for e in found] == ["cherries question"] and listing.count(
                "apples"
            ) == 1


async def test_follow_up_to_a_vote_continues_from_the_voted_answer(make_app, history):
    with FakeOpenAIServer(responder=answers_in_turn("7", "9", "9")) as server:
        app = make_app(server, strategy="plain")
        async with app.run_test(size=(100, 30)) as pilot:
            await _ready(app, pilot)
            from tui.app.choices import VoteChoice

            mode = VoteChoice("plain", 3)
            app.choices = (*app.choices, mode)
            app.set_strategy("plain@3 vote")
            await pilot.press(*"How much?")
            await pilot.press("enter")
            await wait_until(pilot, lambda: bool(app.query(GroupView)))
            view = app.query_one(GroupView)
            await wait_until(pilot, lambda: not view.live, timeout=15)
            app.set_strategy("plain")
            await pilot.pause()
            assert app.query_one(QuestionInput).follows == "How much?"
            follow = await _ask(app, pilot, "and twice that?")
            parent = next(c for c in view.result.chains if c.id == follow.chain.parent_id)
            assert parent.final_answer.endswith("9.")
            assert server.requests[-1]["messages"][1]["content"] == parent.final_answer


async def test_follow_up_to_a_compare_continues_from_the_focused_column(make_app, history):
    with FakeOpenAIServer() as server:
        app = make_app(server)
        async with app.run_test(size=(120, 40)) as pilot:
            await _ready(app, pilot)
            app.set_strategy("compare plain/g1/thinking")
            await pilot.press(*"What is six times seven?")
            await pilot.press("enter")
            await wait_until(pilot, lambda: bool(app.query(GroupView)))
            view = app.query_one(GroupView)
            await wait_until(pilot, lambda: not view.live, timeout=20)
            app.set_strategy("plain")
            column = view.views[2]
            assert column is not None
            column.step_views()[0].query_one("CollapsibleTitle").focus()
            await pilot.pause()
            app.query_one(QuestionInput).focus()
            follow = await _ask(app, pilot, "why?")
            assert follow.chain.parent_id == view.result.chains[2].id
            assert view.result.chains[2].strategy == "thinking"


async def _thread_in_sidebar(app: O1App, pilot) -> list[str]:
    """Ask a three-turn thread and an unrelated question; open the sidebar on the thread."""
    from tui.app.widgets.history_list import HistoryList

    await _ready(app, pilot)
    ids = [(await _ask(app, pilot, f"question {n}")).chain.id for n in (1, 2, 3)]
    await pilot.press("ctrl+n")
    await _ask(app, pilot, "other question")
    await pilot.press("f2")
    lst = app.query_one(HistoryList)
    await wait_until(pilot, lambda: lst.total == 2)
    while lst.selected is None or lst.selected.id != ids[2]:
        await pilot.press("j")
    return ids


@pytest.mark.parametrize("whole", [False, True])
async def test_deleting_a_thread_asks_one_turn_or_all(make_app, history, whole: bool):
    from tui.app.screens.confirm import ChoiceScreen

    with FakeOpenAIServer() as server:
        app = make_app(server, strategy="plain")
        async with app.run_test(size=(120, 40)) as pilot:
            ids = await _thread_in_sidebar(app, pilot)
            await pilot.press("d")
            await wait_until(pilot, lambda: isinstance(app.screen, ChoiceScreen))
            if whole:
                await pilot.press("down")
            await pilot.press("enter")
            gone = ids if whole else ids[2:]
            await wait_until(pilot, lambda: all(history.get(i) is None for i in gone))
            kept = [i for i in ids if i not in gone]
            assert [history.get(i).id for i in kept] == kept
            assert history.get(ids[0]) is None if whole else history.get(ids[0]) is not None
    assert history.count() == (1 if whole else 3)
