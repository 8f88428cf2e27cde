"""A running step streams as plain text (one widget) and is rendered as Markdown once it ends."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import Markdown

from tests.helpers import wait_until
from tui.app.widgets.live_text import LiveText
from tui.app.widgets.step_view import GROW_LINES, StepView
from tui.core.chain import Step


class _OneStep(App[None]):
    def compose(self) -> ComposeResult:
        yield StepView(1, "Counting", running=True, started_at=0.0)


async def test_a_running_step_shows_plain_text_then_markdown_when_done() -> None:
    app = _OneStep()
    async with app.run_test(size=(80, 20)) as pilot:
        view = app.query_one(StepView)
        for piece in ("**bold** and ", "[red]not markup[/red]", "\n\n- an item"):
            await view.append(piece)
        body = view.body
        assert isinstance(body, LiveText)
        await wait_until(pilot, lambda: "- an item" in str(body.render()))
        # Untrusted text: shown as written, never read as markup.
        assert "[red]not markup[/red]" in str(body.render())
        assert not view.query(Markdown)
        assert view.shown_text == view.text

        text = "**bold** and [red]not markup[/red]\n\n- an item"
        await view.finish(Step(1, "Counting", text, elapsed_s=1.0, completion_tokens=9))
        await pilot.pause()
        assert isinstance(view.body, Markdown)
        assert len(view.query(Markdown)) == 1
        assert not view.query(".step-live")
        assert view.text == text == view.shown_text


def _shown_lines(view: StepView) -> list[str]:
    body = view.body
    assert isinstance(body, LiveText)
    return [body.render_line(y).text.rstrip() for y in range(body.size.height)]


def _in_blocks(lines: list[str]) -> list[str]:
    """``lines`` and the blank lines under them that a streaming step keeps as room."""
    return lines + [""] * min(GROW_LINES - 1, len(lines) - 1)


async def test_a_long_running_step_keeps_every_line_and_restarts_empty() -> None:
    app = _OneStep()
    async with app.run_test(size=(80, 20)) as pilot:
        view = app.query_one(StepView)
        lines = [f"line {n} of a long streamed answer" for n in range(200)]
        for line in lines:
            await view.append(line + "\n")
            await view._draw_pending()  # each redraw as if the interval had passed
        # Lines added faster than GROW_INTERVAL_S wait for the next growing redraw.
        await wait_until(pilot, lambda: view.shown_text == view.text)
        await pilot.pause()
        # The text ends with a line break; room for GROW_LINES - 1 more under it.
        assert _shown_lines(view) == _in_blocks([*lines, ""])
        assert len(view.query(LiveText)) == 1  # one widget however long the text grows

        await view.restart("Again")
        await pilot.pause()
        assert _shown_lines(view) == _in_blocks([""]) and view.shown_text == ""

        await view.append("short\n" * 400)
        await view._draw_pending()
        await view.finish(Step(1, "Again", "short\n" * 400, elapsed_s=1.0))
        await pilot.pause()
        assert not view.query(LiveText)
        assert isinstance(view.body, Markdown)
