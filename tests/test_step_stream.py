"""A running step streams as plain text (one widget) and is rendered as Markdown once it ends."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import Markdown, Static

from tests.helpers import wait_until
from tui.app.widgets.step_view import FREEZE_CHARS, StepView
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
        assert isinstance(body, Static) and not isinstance(body, Markdown)
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


async def test_a_long_running_step_wraps_only_its_tail_and_keeps_every_line() -> None:
    app = _OneStep()
    async with app.run_test(size=(80, 20)) as pilot:
        view = app.query_one(StepView)
        lines = [f"line {n} of a long streamed answer" for n in range(200)]
        for line in lines:
            await view.append(line + "\n")
            await view._draw_pending()  # each redraw as if the interval had passed
        frozen = view.query(".step-frozen")
        assert len(frozen) >= 2
        assert len(str(view.body.render())) <= FREEZE_CHARS  # each redraw wraps only this
        shown = "\n".join(str(w.render()) for w in [*frozen, view.body])
        assert shown == "".join(line + "\n" for line in lines)

        await view.restart("Again")
        await pilot.pause()
        assert not view.query(".step-frozen") and str(view.body.render()) == ""

        await view.append("short\n" * 400)
        await view._draw_pending()
        await view.finish(Step(1, "Again", "short\n" * 400, elapsed_s=1.0))
        await pilot.pause()
        assert not view.query(".step-frozen") and not view.query(".step-live")
        assert isinstance(view.body, Markdown)
