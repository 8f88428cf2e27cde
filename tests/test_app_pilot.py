"""Pilot tests of the app: every interaction of the main screen, against the stand-in server."""

from __future__ import annotations

import dataclasses

import pytest

from tests.fakes.openai_server import FakeOpenAIServer, Reply, demo_responder
from tests.helpers import notifications, wait_until
from tui.app.actions import ACTIONS
from tui.app.app import O1App
from tui.app.choices import GROUP_CHOICES, CompareChoice
from tui.app.screens.help import HelpScreen
from tui.app.widgets.chain_view import ChainView
from tui.app.widgets.question_input import QuestionInput
from tui.app.widgets.status_header import StatusHeader
from tui.core.chain import Chain, Status, Step, StepDelta, StepStarted
from tui.core.config import Settings, load_settings
from tui.store.history import History

KITTY = {"TERM": "xterm-kitty"}


def slow(delay_s: float):
    """The demo model, streaming ``delay_s`` per 4-character chunk."""
    return lambda body: dataclasses.replace(demo_responder(body), delay_s=delay_s)


async def _ready(app: O1App, pilot) -> None:
    await wait_until(pilot, lambda: app.server_state == "ready", timeout=10)


async def _ask(app: O1App, pilot, question: str = "What is six times seven?") -> ChainView:
    await _ready(app, pilot)
    await pilot.press(*question)
    await pilot.press("enter")
    await wait_until(pilot, lambda: app.chains.current_view() is not None)
    return app.chains.current_view()


def _finished(view: ChainView):
    return lambda: not view.live and view.chain.status != Status.RUNNING


async def test_enter_runs_a_g1_chain_with_timed_steps_and_saves_it(make_app, history) -> None:
    with FakeOpenAIServer() as server:
        app = make_app(server)
        async with app.run_test(size=(100, 30)) as pilot:
            assert isinstance(app.focused, QuestionInput)
            header = app.query_one(StatusHeader)
            await _ready(app, pilot)
            assert header.model == "fake-model" and header.address.startswith("127.0.0.1:")
            view = await _ask(app, pilot)
            await wait_until(pilot, _finished(view), timeout=10)
            steps = view.step_views()
            assert [s.index for s in steps] == [1, 2, 3, 4]
            assert all(s.elapsed_s and s.elapsed_s > 0 and s.tokens for s in steps)
            assert "Step 2" in str(steps[1].title) and " s · " in str(steps[1].title)
            assert "42" in view.answer_text()
            assert "thought for" in str(view.answer.border_subtitle)
            assert app.query_one(QuestionInput).value == ""
    saved = history.list()
    assert len(saved) == 1 and saved[0].status == Status.DONE and saved[0].n_steps == 4


async def test_strategy_key_switches_and_the_chain_uses_it(make_app, history) -> None:
    with FakeOpenAIServer() as server:
        app = make_app(server)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("ctrl+t")
            assert app.choice.label == "thinking"
            assert "thinking" in str(app.query_one(QuestionInput).border_title)
            assert app.query_one(StatusHeader).strategy == "thinking"
            view = await _ask(app, pilot)
            await wait_until(pilot, _finished(view), timeout=10)
            assert view.chain.strategy == "thinking"
            assert len(view.steps) >= 2
    assert history.list()[0].strategy == "thinking"


async def test_escape_cancels_and_keeps_finished_steps(make_app, history) -> None:
    with FakeOpenAIServer(responder=slow(0.03)) as server:
        app = make_app(server)
        async with app.run_test(size=(100, 30)) as pilot:
            view = await _ask(app, pilot)
            await wait_until(
                pilot, lambda: any(not s.running for s in view.step_views()), timeout=10
            )
            await pilot.press("escape")
            await wait_until(pilot, _finished(view), timeout=10)
            assert view.chain.status == Status.CANCELLED
            assert view.error is not None and "Cancelled" in str(view.error.border_title)
            assert not any(s.running for s in view.step_views())
            kept = len(view.chain.steps)
            assert kept >= 1
    saved = history.get(view.chain.id)
    assert saved.status == Status.CANCELLED and len(saved.steps) == kept


async def test_server_error_is_shown_in_place_with_the_servers_words(make_app) -> None:
    with FakeOpenAIServer() as server:
        app = make_app(server)
        async with app.run_test(size=(100, 30)) as pilot:
            await _ready(app, pilot)
            server.add(Reply(status=400, error_message="the model melted down"))
            view = await _ask(app, pilot)
            await wait_until(pilot, _finished(view), timeout=10)
            assert view.chain.status == Status.ERROR
            assert "the model melted down" in str(view.error.render())


async def test_error_after_several_steps_is_scrolled_into_view(make_app) -> None:
    """A chain longer than the screen that fails: its error panel (with the server's words)
    must be on screen, not below the fold of the scrolling chain."""
    import json

    steps = [
        Reply(
            content=json.dumps(
                {"title": f"Step {n}", "content": "Words. " * 40, "next_action": "continue"}
            )
        )
        for n in range(1, 4)
    ]
    failure = Reply(status=400, error_message="the model melted down")
    with FakeOpenAIServer() as server:
        app = make_app(server)
        async with app.run_test(size=(80, 24)) as pilot:
            await _ready(app, pilot)
            server.add(*steps, failure)
            view = await _ask(app, pilot)
            await wait_until(pilot, _finished(view), timeout=10)
            await pilot.pause(0.2)
            assert view.chain.status == Status.ERROR and len(view.chain.steps) == 3
            assert view.error.region.height >= 3
            assert view.scroll.region.contains_region(view.error.region)


async def test_fold_one_step_and_all_steps(make_app) -> None:
    with FakeOpenAIServer() as server:
        app = make_app(server)
        async with app.run_test(size=(100, 30)) as pilot:
            view = await _ask(app, pilot)
            await wait_until(pilot, _finished(view), timeout=10)
            steps = view.step_views()
            await pilot.press("ctrl+o")  # nothing in the chain focused: the latest step
            assert steps[-1].collapsed and not steps[0].collapsed
            steps[0].query_one("CollapsibleTitle").focus()
            await pilot.press("ctrl+o")
            assert steps[0].collapsed
            await pilot.press("ctrl+g")
            assert all(s.collapsed for s in steps)
            await pilot.press("ctrl+g")
            assert not any(s.collapsed for s in steps)
            # Enter / Space on a step's title, as help and the user guide say.
            steps[1].query_one("CollapsibleTitle").focus()
            await pilot.press("space")
            assert steps[1].collapsed and not steps[2].collapsed
            await pilot.press("space")
            assert not steps[1].collapsed
            await pilot.press("enter")
            assert steps[1].collapsed


async def test_copy_answer_and_step_through_osc52(make_app) -> None:
    with FakeOpenAIServer() as server:
        app = make_app(server)
        async with app.run_test(size=(100, 30)) as pilot:
            written: list[str] = []
            app._driver.write = written.append  # the bytes that would reach the terminal
            view = await _ask(app, pilot)
            await wait_until(pilot, _finished(view), timeout=10)
            await pilot.press("ctrl+y")
            assert app.copier.last_copied == view.answer_text()
            assert any(w.startswith("\x1b]52;c;") for w in written)
            await pilot.press("ctrl+s")
            assert app.copier.last_copied.startswith("Step 4")
            assert any("Copied the step" in m for m in notifications(app))


async def test_copy_where_the_terminal_cannot_take_it_offers_export(make_app) -> None:
    with FakeOpenAIServer() as server:
        app = make_app(server, env={"TERM": "linux"})
        async with app.run_test(size=(100, 30)) as pilot:
            view = await _ask(app, pilot)
            await wait_until(pilot, _finished(view), timeout=10)
            await pilot.press("ctrl+y")
            assert app.copier.last_copied is None
            messages = notifications(app)
            assert any("Cannot copy" in m and "F6" in m for m in messages)


async def test_export_writes_markdown(make_app, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    with FakeOpenAIServer() as server:
        app = make_app(server)
        async with app.run_test(size=(100, 30)) as pilot:
            view = await _ask(app, pilot, "Export me please")
            await wait_until(pilot, _finished(view), timeout=10)
            await pilot.press("f6")
    text = (tmp_path / f"o1tui-{view.chain.id}.md").read_text()
    assert "Export me please" in text


async def test_a_retried_step_drops_what_the_failed_attempt_showed(make_app) -> None:
    app = make_app(None)
    async with app.run_test(size=(100, 30)) as pilot:
        view = app.chains.attach(Chain(question="Q?", strategy="g1", model="m"))
        await pilot.pause()
        await view.apply(StepStarted(1, ""), 0.0)
        await view.apply(StepDelta(1, "broken XYZZY", title="Bad"), 0.1)
        await view.apply(StepStarted(1, ""), 0.2)  # g1 tries the step again
        await view.apply(StepDelta(1, "good text", title="Good"), 0.3)
        step = view.steps[1]
        assert step.text == "good text" and step.step_title == "Good"
        assert step.running and list(view.steps) == [1]
        assert "XYZZY" not in str(step.title) and "Bad" not in str(step.title)


async def test_help_lists_every_registered_action(make_app) -> None:
    app = make_app(None)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        shown = {(keys, what) for keys, what, _ in app.screen.rows}
        for action in ACTIONS:
            assert any(what == action.description for _, what in shown)
        assert ("Ctrl+y", "Copy answer") in shown
        assert "Copy&#160;answer" in app.export_screenshot()
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


def _first_hit(app: O1App) -> str | None:
    """The text of the palette's first hit, once there is one."""
    lists = app.screen.query("CommandList")
    if not lists or not lists.first().option_count:
        return None
    return str(lists.first().get_option_at_index(0).prompt).split("\n")[0].strip()


async def test_palette_runs_actions_and_switches_strategy(make_app) -> None:
    app = make_app(None)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("ctrl+p")
        await pilot.press(*"Strategy: plain")
        await wait_until(pilot, lambda: _first_hit(app) == "Strategy: plain")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.choice.label == "plain")
        await pilot.press("ctrl+p")
        await pilot.press(*"Help")
        await wait_until(pilot, lambda: _first_hit(app) == "Help")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))


async def test_keymap_from_config_remaps_and_unknown_ids_warn(make_app) -> None:
    app = make_app(None, keymap={"help": "f10", "no_such_action": "f11"})
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f1")
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("f10")
        assert isinstance(app.screen, HelpScreen)
        assert ("F10", "Help", "help") in app.screen.rows
        assert any("no_such_action" in m for m in notifications(app))


async def test_theme_from_palette_is_applied_and_remembered(make_app, tmp_path) -> None:
    config = tmp_path / "config.toml"
    mine = '# my settings\nmodel = "fake-model"  # the small one\n\n# keys\n[keymap]\nquit = "ctrl+q"\n'
    config.write_text(mine)
    app = make_app(None)
    async with app.run_test(size=(100, 30)) as pilot:
        assert app.theme == "o1-dark"
        await pilot.press("ctrl+p")
        await pilot.press(*"Theme: phosphor")
        await wait_until(pilot, lambda: _first_hit(app) == "Theme: phosphor")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.theme == "phosphor")
    assert load_settings(config, env={}).theme == "phosphor"
    # The user's comments and layout stay: one line is added after their last top-level key.
    assert config.read_text() == mine.replace("one\n", 'one\ntheme = "phosphor"\n')


async def test_unknown_theme_falls_back_with_a_warning(make_app) -> None:
    app = make_app(None, theme="no-such-theme")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.theme == "o1-dark"
        assert any("no-such-theme" in m for m in notifications(app))


def _saved_chain(history: History, question: str = "How far is the moon?") -> Chain:
    chain = Chain(
        question=question, strategy="g1", model="fake-model", created_at="2025-01-15T12:00:00+00:00"
    )
    history.start_chain(chain)
    for i in (1, 2):
        step = Step(
            index=i,
            title=f"Look {i}",
            content=f"Content **{i}**",
            elapsed_s=1.5 * i,
            completion_tokens=100 + i,
        )
        chain.steps.append(step)
        history.add_step(chain.id, step)
    chain.status, chain.final_answer, chain.total_s = Status.DONE, "384 400 km", 4.5
    history.finish_chain(chain)
    return chain


async def test_history_sidebar_opens_a_saved_chain_read_only(make_app, history) -> None:
    saved = _saved_chain(history)
    app = make_app(None)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f2")
        assert not app.query_one("#history").has_class("-hidden")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.chains.current_view() is not None)
        view = app.chains.current_view()
        assert view.chain.id == saved.id and not view.live
        assert [s.elapsed_s for s in view.step_views()] == [1.5, 3.0]
        assert "1.50 s" in str(view.step_views()[0].title)
        assert "101 tok" in str(view.step_views()[0].title)
        assert view.answer_text() == "384 400 km"
        assert "4.50 s" in str(view.answer.border_subtitle)
        await pilot.press("f2")
        assert app.query_one("#history").has_class("-hidden")
        assert isinstance(app.focused, QuestionInput)


async def test_history_rerun_asks_the_question_again(make_app, history) -> None:
    _saved_chain(history, "Rerun this one")
    with FakeOpenAIServer() as server:
        app = make_app(server)
        async with app.run_test(size=(120, 40)) as pilot:
            await _ready(app, pilot)
            await pilot.press("f2")
            await pilot.press("r")
            await wait_until(pilot, lambda: app.chains.current_view() is not None)
            view = app.chains.current_view()
            assert view.chain.question == "Rerun this one"
            assert view.chain.id in app.chains.runs  # a new chain, not the saved one
            assert view.chain.status in (Status.RUNNING, Status.DONE)
            await wait_until(pilot, _finished(view), timeout=10)
    assert history.count() == 2


HOSTILE = "Look [bold]here[/bold] \x1b]0;pwned\x07 and \x1b[2J done"


async def test_untrusted_text_is_shown_literally_without_escapes(make_app) -> None:
    step = {"title": "T [red]x[/red] \x1b[31m", "content": HOSTILE, "next_action": "final_answer"}

    def responder(body):
        import json

        return Reply(content=json.dumps(step))

    with FakeOpenAIServer(responder=responder) as server:
        app = make_app(server)
        async with app.run_test(size=(100, 30)) as pilot:
            view = await _ask(app, pilot, "Q [b]bold?[/b]")
            await wait_until(pilot, _finished(view), timeout=10)
            first = view.step_views()[0]
            assert "\x1b" not in first.text and "[bold]here[/bold]" in first.text
            assert "[red]x[/red]" in str(first.title) and "\x1b" not in str(first.title)
            question = str(view.query_one(".question").render())
            assert "[b]bold?[/b]" in question


@pytest.mark.parametrize("size", [(80, 24), (250, 70)])
async def test_runs_at_small_and_large_sizes(make_app, size) -> None:
    with FakeOpenAIServer() as server:
        app = make_app(server)
        async with app.run_test(size=size) as pilot:
            view = await _ask(app, pilot)
            await wait_until(pilot, _finished(view), timeout=10)
            assert view.chain.status == Status.DONE
            await pilot.press("f2")
            await pilot.press("f1")
            assert isinstance(app.screen, HelpScreen)


async def test_no_server_says_so_and_does_not_start(make_app) -> None:
    app = make_app(None)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(*"hello", "enter")
        assert app.chains.current_view() is None
        assert any("No model server" in m for m in notifications(app))


async def test_server_screen_shows_the_external_endpoint(make_app) -> None:
    from tui.app.screens.server import ServerScreen

    with FakeOpenAIServer() as server:
        app = make_app(server)
        async with app.run_test(size=(100, 30)) as pilot:
            await _ready(app, pilot)
            await pilot.press("f4")
            assert isinstance(app.screen, ServerScreen)
            assert app.screen.controller.state == "external"
            assert app.screen.controller.info()["url"] == server.url
            await pilot.press("escape")
            assert not isinstance(app.screen, ServerScreen)


async def test_managed_server_is_found_and_used(
    tmp_path, history, monkeypatch, fake_lmdeploy
) -> None:
    """No --endpoint: the manager finds the server already running on the port and the
    app runs a chain through it (the stand-in lmdeploy is on PATH, never started here)."""
    model_dir = tmp_path / "Tiny-Chat"
    model_dir.mkdir()
    (model_dir / "config.json").write_text("{}")
    (model_dir / "model.safetensors").write_bytes(b"0")
    with FakeOpenAIServer() as server:
        settings = Settings(engine="lmdeploy", model=str(model_dir), port=server.port)
        app = O1App(
            settings,
            history=history,
            env=KITTY,
            config_path=tmp_path / "c.toml",
            user_themes_dir=tmp_path,
        )
        async with app.run_test(size=(100, 30)) as pilot:
            await _ready(app, pilot)
            assert app.controller is not None and app.server_handle.reused
            assert not app.owns_server  # a reused server is never stopped by the app
            assert app.query_one(StatusHeader).address == f"127.0.0.1:{server.port}"
            view = await _ask(app, pilot)
            await wait_until(pilot, _finished(view), timeout=10)
            assert view.chain.status == Status.DONE and view.chain.model == "fake-model"


async def test_a_named_model_the_endpoint_does_not_serve_is_an_error(make_app) -> None:
    """As with `o1tui ask`: the header says what the server serves; no chain can start."""
    with FakeOpenAIServer(models=("served-a", "served-b")) as server:
        app = make_app(server, model="typo-model", model_named=True)
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_until(pilot, lambda: app.server_state == "error", timeout=10)
            assert "'typo-model'" in app.server_detail
            assert "it serves: served-a, served-b" in app.server_detail
            assert app.client is None


async def test_an_unnamed_model_becomes_what_the_endpoint_serves(make_app) -> None:
    with FakeOpenAIServer(models=("served-a", "served-b")) as server:
        app = make_app(server, model="internlm3-8b-instruct")
        async with app.run_test(size=(100, 30)) as pilot:
            await _ready(app, pilot)
            assert app.client is not None and app.client.model == "served-a"
            assert app.query_one(StatusHeader).model == "served-a"


async def test_keymap_refuses_a_typing_key_for_quit_and_conflicts_naming_both(make_app) -> None:
    """`quit = "e"` would quit while typing "Where"; `history = "ctrl+t"` would silently take
    the strategy key. Both are refused with a warning; typing and the hint are unchanged."""
    app = make_app(None, keymap={"quit": "e", "history": "ctrl+t"})
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press(*"Where")
        await wait_until(pilot, lambda: app.query_one(QuestionInput).value == "Where")
        assert app.is_running
        messages = notifications(app)
        assert any("'quit'" in m and "types text" in m for m in messages), messages
        assert any("'history'" in m and "'strategy'" in m for m in messages), messages
        choice = app.choice
        await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: app.choice != choice)
        assert app.query_one(QuestionInput).border_subtitle == "Ctrl+t switches"


async def test_the_strategy_hint_follows_a_remapped_key(make_app) -> None:
    app = make_app(None, keymap={"strategy": "ctrl+r"})
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(
            pilot, lambda: app.query_one(QuestionInput).border_subtitle == "Ctrl+r switches"
        )


async def test_a_folded_saved_step_builds_its_text_when_unfolded(make_app, history) -> None:
    """Saved chains of many steps open folded; unfolding one draws its Markdown then."""
    from textual.widgets import Markdown

    chain = Chain(question="Long one", strategy="g1", model="m", status=Status.DONE)
    chain.steps = [
        Step(index=i, title=f"Step {i}", content=f"content of step {i}", elapsed_s=0.5)
        for i in range(1, 11)
    ]
    history.start_chain(chain)
    for step in chain.steps:
        history.add_step(chain.id, step)
    history.finish_chain(chain)
    app = make_app(None)
    async with app.run_test(size=(100, 30)) as pilot:
        app.chains.open(chain.id)
        await wait_until(pilot, lambda: app.chains.current_view() is not None)
        await wait_until(pilot, lambda: len(app.chains.current_view().step_views()) == 10)
        steps = app.chains.current_view().step_views()
        assert all(s.collapsed for s in steps) and not steps[2].query(Markdown)
        steps[2].collapsed = False

        def drawn() -> bool:
            bodies = steps[2].query(Markdown)
            return bool(bodies) and "content of step 3" in bodies.first().source

        await wait_until(pilot, drawn)


@pytest.mark.parametrize(
    ("engine", "said"), [("llamacpp", "1 running, 2 waiting"), ("lmdeploy", "3 running")]
)
async def test_the_header_counts_waiting_chains_where_the_server_runs_one_at_a_time(
    tmp_path, history, engine, said
) -> None:
    """llama.cpp's server works on one request at a time and queues the rest; LMDeploy
    batches them all."""
    from backends.manager import ServerHandle

    with FakeOpenAIServer() as server:
        handle = ServerHandle(engine, "fake-model", server.url, None)
        app = O1App(
            Settings(model="fake-model"),
            history=history,
            server=handle,
            env=KITTY,
            config_path=tmp_path / "c.toml",
            user_themes_dir=tmp_path,
        )
        async with app.run_test(size=(120, 30)) as pilot:
            await _ready(app, pilot)
            header = app.query_one(StatusHeader)
            compare = next(m for m in GROUP_CHOICES if isinstance(m, CompareChoice))
            assert app.groups.start("What is six times seven?", compare) is not None
            assert len(app.chains.runs) == 3
            assert f"{said} · strategy g1" in header.render().plain
            # The header may drop "running" a moment before the last run's final save is done.
            await wait_until(
                pilot,
                lambda: "running" not in header.render().plain
                and not any(r.running for r in app.chains.runs.values()),
                20,
            )


async def test_a_starting_model_has_the_name_it_has_once_ready(
    tmp_path, history, monkeypatch, fake_lmdeploy
) -> None:
    """A preset's display name (Qwen2.5-7B-Instruct) once showed while it loaded, and its
    served name once ready: the header names it one way from the start."""
    from backends.supervisor import free_port

    monkeypatch.setenv("O1TUI_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("FAKE_LMDEPLOY_START_DELAY", "1")
    settings = Settings(engine="lmdeploy", model="qwen2.5-7b-instruct", port=free_port())
    app = O1App(
        settings,
        history=history,
        env=KITTY,
        config_path=tmp_path / "c.toml",
        user_themes_dir=tmp_path,
    )
    try:
        async with app.run_test(size=(120, 30)) as pilot:
            header = app.query_one(StatusHeader)
            seen: list[tuple[str, str]] = []

            def ready() -> bool:
                seen.append((str(header.state), header.model))
                return header.state == "ready"

            await wait_until(pilot, ready, timeout=20)
            assert any(state == "starting" for state, _ in seen)
            assert {model for _, model in seen if model} == {"qwen2.5-7b-instruct"}
    finally:
        if app.controller is not None:
            app.controller.shutdown()


async def test_at_80_columns_the_header_and_footer_keep_every_key_and_the_strategy(
    make_app, history
) -> None:
    """The header cut "strategy compare…" and, with the history list focused, the footer
    cut its last key (``^t Stra``): every key shown is whole, the strategy too."""
    from textual.widgets._footer import FooterKey

    history.start_chain(Chain(question="Is 9.11 bigger than 9.9?", strategy="g1", model="m"))
    app = make_app(None)
    async with app.run_test(size=(80, 24)) as pilot:
        header = app.query_one(StatusHeader)
        header.model, header.address = "internlm3-8b-instruct", "127.0.0.1:23333"
        header.state = "ready"
        app.set_strategy("compare plain/g1/thinking")
        await pilot.pause()
        line = header.render()
        assert line.cell_length <= 80
        assert line.plain.rstrip().endswith("strategy compare plain/g1/thinking")
        await pilot.press("f2")
        await wait_until(
            pilot, lambda: app.focused is not None and "History" in type(app.focused).__name__
        )
        await pilot.pause()
        shown = [k for k in app.screen.query(FooterKey) if k.display and k.region.width]
        labels = {k.description for k in shown}
        assert {"Delete", "Export", "Re-run", "Quit", "Strategy", "History", "Help"} <= labels
        assert all(k.region.right <= 80 for k in shown), [(k.description, k.region) for k in shown]


async def test_the_first_tab_lands_on_something_that_shows_it_has_focus(make_app, history) -> None:
    """After the question box, Tab reaches the chain's scroll area (so the keyboard scrolls a
    long chain); it was drawn as before, so the focus seemed lost."""
    saved = Chain(question="How many r in strawberry?", strategy="g1", model="m")
    history.start_chain(saved)
    history.add_step(saved.id, Step(1, "Spell it", "s-t-r-a-w", 1.0))
    saved.status, saved.final_answer = Status.DONE, "3"
    history.finish_chain(saved)
    app = make_app(None)
    async with app.run_test(size=(100, 30)) as pilot:
        app.chains.open(saved.id)
        await wait_until(pilot, lambda: app.chains.current_view() is not None)
        scroll = app.chains.current_view().scroll
        await pilot.pause()
        assert scroll.styles.background_tint.a == 0
        await pilot.press("tab")
        await pilot.pause()
        assert app.focused is scroll
        assert scroll.styles.background_tint.a > 0
