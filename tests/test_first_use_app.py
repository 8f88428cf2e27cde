"""The app's side of first use: a cancel reads as a cancel, its notice goes when it is done, and a
repeating g1 chain is ended and noted. Pilots against the stand-in server."""

from __future__ import annotations

import dataclasses
import json

from tests.fakes.openai_server import FakeOpenAIServer, Reply, demo_responder
from tests.helpers import wait_until
from tui.app.app import O1App
from tui.app.widgets.chain_view import CANCELLED_TEXT, ChainView
from tui.core.chain import Status


async def ask(app: O1App, pilot, question: str = "What is six times seven?") -> ChainView:
    await wait_until(pilot, lambda: app.server_state == "ready", timeout=10)
    await pilot.press(*question)
    await pilot.press("enter")
    await wait_until(pilot, lambda: app.chains.current_view() is not None)
    return app.chains.current_view()


def status_text(view: ChainView) -> str:
    return str(view.status_line.render())


async def test_a_cancel_reads_as_a_cancel_and_its_notice_goes(make_app) -> None:
    slow = lambda body: dataclasses.replace(demo_responder(body), delay_s=0.05)  # noqa: E731
    with FakeOpenAIServer(responder=slow) as server:
        app = make_app(server)
        async with app.run_test(size=(120, 40)) as pilot:
            view = await ask(app, pilot)
            await wait_until(pilot, lambda: bool(view.steps), timeout=10)
            assert status_text(view).startswith("running · ")
            # What Escape does; the status line is read before the app's loop runs on.
            app.action_cancel()
            assert status_text(view).startswith("cancelling… · ")
            await wait_until(pilot, lambda: view.chain.status == Status.CANCELLED, timeout=10)
            # Gone once the cancel is done: the line says what happened.
            run = app.chains.runs[view.chain.id]
            await wait_until(pilot, lambda: not run.running, timeout=5)
            await wait_until(pilot, lambda: status_text(view).startswith("cancelled · "), 1.5)
            assert view.error is not None
            assert str(view.error.border_title) == "Cancelled"
            assert str(view.error.render()) == CANCELLED_TEXT
            assert "cancelled" not in CANCELLED_TEXT.lower()


def repeating(body: dict) -> Reply:
    """A g1 model stuck on one step, as SmolLM2-135M is; plain words for the final answer."""
    if body.get("response_format") is None:
        return Reply(content="The answer is 42.")
    step = {"title": "Identifying Key Information", "content": "We look at the numbers."}
    return Reply(content=json.dumps({**step, "next_action": "continue"}))


async def test_a_repeating_chain_ends_with_an_answer_and_a_note(make_app, history) -> None:
    with FakeOpenAIServer(responder=repeating) as server:
        app = make_app(server)
        async with app.run_test(size=(120, 40)) as pilot:
            view = await ask(app, pilot)
            await wait_until(pilot, lambda: not view.live, timeout=10)
            assert view.chain.status == Status.DONE and len(view.steps) == 2
            assert "repeated" in str(view.step_views()[1].title)
            assert "repeated" not in str(view.step_views()[0].title)
            assert view.note is not None and "repeating itself at step 2" in str(view.note.render())
            assert "42" in view.answer_text()
            chain_id = view.chain.id
    saved = history.get(chain_id)
    assert saved.note and saved.steps[1].finish_reason == "repeated"
    with FakeOpenAIServer(responder=repeating) as server:  # reopened from the history
        app = make_app(server)
        async with app.run_test(size=(120, 40)) as pilot:
            reopened = ChainView(saved, live=False)
            await app.screen.mount(reopened)
            await pilot.pause()
            assert reopened.note is not None and "step 2" in str(reopened.note.render())
            assert "repeated" in str(reopened.step_views()[1].title)


def screen_rows(app: O1App) -> list[str]:
    """The screen as text lines, read from the app's own SVG screenshot."""
    import html
    import re

    svg = app.export_screenshot()
    found: dict[float, list[str]] = {}
    for y, text in re.findall(r'<text[^>]*y="(\d+\.?\d*)"[^>]*>(.*?)</text>', svg):
        found.setdefault(float(y), []).append(html.unescape(text))
    return ["".join(found[y]).replace("\xa0", " ") for y in sorted(found)]


async def test_the_footer_fits_120_columns_with_the_history_open(make_app) -> None:
    with FakeOpenAIServer() as server:
        app = make_app(server)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_until(pilot, lambda: app.server_state == "ready", timeout=10)
            await pilot.press("f2")
            await wait_until(pilot, lambda: bool(app.query("#history")), timeout=5)
            await pilot.pause()
            footer = screen_rows(app)[-1]
            assert "⏎ Open" in footer and "r Re-run" in footer
            assert "f1 Help " in footer and footer.rstrip().endswith("^p Commands")
