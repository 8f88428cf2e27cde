"""Pilot tests of the server screen with a small in-test controller (its UI collaborator)."""

from __future__ import annotations

from textual.app import App
from textual.widgets import Log, OptionList, Static

from backends.gpu import GpuInfo
from tests.helpers import wait_until
from tui.app.screens.confirm import ChoiceScreen
from tui.app.screens.server import ServerController, ServerScreen, new_log_lines
from tui.formatting import format_uptime


class Controller:
    """Records what the screen asks of it; state and log are set by the test."""

    def __init__(self) -> None:
        self.state = "stopped"
        self.calls: list[str] = []
        self.lines: list[str] = []
        self.fail_start = False
        self.details = {
            "engine": "lmdeploy",
            "model": "internlm3-8b-instruct",
            "host": "127.0.0.1",
            "port": 23333,
            "pid": 4242,
            "uptime_s": 187.0,
            "log_path": "logs/server.log",
            "presets": ["internlm3-8b-instruct", "qwen2.5-7b-instruct", "qwen3-8b"],
        }

    def info(self) -> dict:
        return dict(self.details)

    def log_lines(self) -> list[str]:
        return list(self.lines)

    async def start(self) -> None:
        self.calls.append("start")
        if self.fail_start:
            raise RuntimeError("port 23333 is taken [red]x[/]")
        self.state = "ready"

    async def stop(self) -> None:
        self.calls.append("stop")
        self.state = "stopped"

    async def restart(self) -> None:
        self.calls.append("restart")

    async def switch_model(self, name: str) -> None:
        self.calls.append(f"switch:{name}")
        self.details["model"] = name


class Host(App):
    def __init__(self, controller: Controller, gpus=None) -> None:
        super().__init__()
        self.controller = controller
        self.gpus = gpus

    def on_mount(self) -> None:
        self.push_screen(ServerScreen(self.controller, gpu_query=lambda: self.gpus))


def _info_text(app: App) -> str:
    static = app.screen.query_one("#server-info", Static)
    return "\n".join(line.text for line in static.render_lines(static.region.reset_offset))


def test_helpers() -> None:
    assert format_uptime(None) == "—"
    assert format_uptime(42) == "42s"
    assert format_uptime(187) == "3m 07s"
    assert format_uptime(7500) == "2h 05m"
    assert new_log_lines([], ["a"]) == (False, ["a"])
    assert new_log_lines(["a", "b"], ["a", "b", "c"]) == (False, ["c"])
    # The ring dropped its head while new lines came.
    assert new_log_lines(["a", "b", "c"], ["b", "c", "d", "e"]) == (False, ["d", "e"])
    assert new_log_lines(["a", "b"], ["x", "y"]) == (True, ["x", "y"])
    assert new_log_lines(["a", "b"], ["a", "b"]) == (False, [])
    assert isinstance(Controller(), ServerController)


async def test_shows_info_and_gpu() -> None:
    gpus = [GpuInfo(0, "NVIDIA H100 80GB HBM3", 1229, 81559)]
    app = Host(Controller(), gpus=gpus)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: "H100" in _info_text(app))
        text = _info_text(app)
        for expected in (
            "stopped",
            "lmdeploy",
            "internlm3-8b-instruct",
            "127.0.0.1:23333",
            "4242",
            "3m 07s",
            "NVIDIA H100 80GB HBM3 · 1.2/79.6 GiB",
        ):
            assert expected in text, expected


async def test_no_gpu_is_said() -> None:
    app = Host(Controller(), gpus=None)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: "no GPU" in _info_text(app))


async def test_log_lines_are_literal_and_clean() -> None:
    controller = Controller()
    controller.lines = ["INFO loading [bold]weights[/]", "\x1b]0;pwned\x07\x1b[31mred\x1b[0m done"]
    app = Host(controller)
    async with app.run_test(size=(100, 30)) as pilot:
        log = app.screen.query_one(Log)
        await wait_until(pilot, lambda: log.line_count >= 2)
        assert log.lines[:2] == ["INFO loading [bold]weights[/]", "red done"]
        # New lines are appended as the controller's buffer grows (polled every second).
        controller.lines.append("INFO server ready")
        await wait_until(pilot, lambda: log.line_count == 3, timeout=4)
        assert log.lines[-1] == "INFO server ready"
        rendered = "\n".join(log.render_line(y).text for y in range(log.size.height))
        assert "[bold]weights[/]" in rendered
        assert "\x1b" not in rendered and "pwned" not in rendered


async def test_keys_call_the_controller() -> None:
    controller = Controller()
    app = Host(controller)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("s")
        await wait_until(pilot, lambda: "ready" in _info_text(app))
        assert controller.calls == ["start"]
        await pilot.press("r")
        await wait_until(pilot, lambda: controller.calls[-1:] == ["restart"])
        await pilot.press("x")
        await wait_until(pilot, lambda: "stopped" in _info_text(app))
        assert controller.calls == ["start", "restart", "stop"]
        await pilot.press("m")
        await wait_until(pilot, lambda: isinstance(app.screen, ChoiceScreen))
        await pilot.press("down", "enter")
        await wait_until(pilot, lambda: controller.calls[-1:] == ["switch:qwen2.5-7b-instruct"])
        await wait_until(pilot, lambda: "qwen2.5-7b-instruct" in _info_text(app))
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, ServerScreen))


async def test_a_failing_action_is_shown_and_the_screen_stays() -> None:
    controller = Controller()
    controller.fail_start = True
    app = Host(controller)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("s")
        await wait_until(pilot, lambda: "port 23333 is taken" in _info_text(app))
        assert "start failed: port 23333 is taken [red]x[/]" in _info_text(app)
        assert isinstance(app.screen, ServerScreen)


async def test_state_colours_come_from_the_theme() -> None:
    """The state line is drawn in the theme's colours (success, error), not fixed names."""
    from rich.color import Color

    def state_colour(app: App) -> Color | None:
        static = app.screen.query_one("#server-info", Static)
        for line in static.render_lines(static.region.reset_offset):
            for segment in line:
                if "●" in segment.text or "✗" in segment.text:
                    return segment.style.color if segment.style else None
        return None

    controller = Controller()
    controller.state = "ready"
    app = Host(controller)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: state_colour(app) is not None)
        colours = app.get_css_variables()
        assert state_colour(app).triplet == Color.parse(colours["success"]).triplet
        controller.state = "crashed"
        app.screen.refresh_view()
        await wait_until(pilot, lambda: "crashed" in _info_text(app))
        assert state_colour(app).triplet == Color.parse(colours["error"]).triplet


async def test_models_this_machine_cannot_run_are_greyed_and_cannot_be_picked() -> None:
    controller = Controller()
    asked: list[list[str]] = []

    def model_problems(names: list[str]) -> dict[str, str]:
        asked.append(names)
        return {"qwen2.5-7b-instruct": "Qwen2.5-7B: llama.cpp needs a GGUF file; use --engine x"}

    controller.model_problems = model_problems  # type: ignore[attr-defined]
    app = Host(controller)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("m")
        await wait_until(pilot, lambda: isinstance(app.screen, ChoiceScreen))
        assert asked == [["internlm3-8b-instruct", "qwen2.5-7b-instruct", "qwen3-8b"]]
        options = app.screen.query_one(OptionList)
        labels = [str(options.get_option_at_index(i).prompt) for i in range(3)]
        assert labels[1] == "qwen2.5-7b-instruct  — llama.cpp needs a GGUF file"
        assert options.get_option_at_index(1).disabled
        # Down skips the greyed model: the next pick is qwen3-8b.
        await pilot.press("down", "enter")
        await wait_until(pilot, lambda: controller.calls[-1:] == ["switch:qwen3-8b"])


async def test_switching_to_a_model_that_cannot_run_keeps_the_working_server(
    fake_lmdeploy, model_dir, tmp_path, monkeypatch
) -> None:
    """The real controller: LMDeploy (stand-in) serves a model; a GGUF file cannot run on
    LMDeploy, so the switch is refused before anything is stopped."""
    from backends.controller import ManagedServer
    from backends.errors import BackendError
    from backends.supervisor import free_port
    from tests.servers_helpers import ALL
    from tui.core.config import Settings

    monkeypatch.setenv("O1TUI_MODELS_DIR", str(tmp_path / "models"))
    gguf = tmp_path / "tiny.gguf"
    gguf.write_bytes(b"GGUF")
    ctl = ManagedServer(
        Settings(port=free_port(), engine="lmdeploy", model=str(model_dir)), available=ALL, gpu=True
    )
    await ctl.start()
    try:
        assert ctl.state == "ready"
        pid = ctl.info()["pid"]
        problems = ctl.model_problems([str(gguf), "qwen2.5-7b-instruct"])
        assert list(problems) == [str(gguf)]
        assert "LMDeploy does not serve GGUF files" in problems[str(gguf)]
        try:
            await ctl.switch_model(str(gguf))
        except BackendError as err:
            assert "GGUF" in str(err)
        else:
            raise AssertionError("the switch was not refused")
        assert ctl.state == "ready" and ctl.handle is not None and ctl.handle.running
        assert ctl.info()["pid"] == pid and ctl.info()["model"] == "tiny-chat"
    finally:
        await ctl.stop()


async def test_a_refused_start_is_an_error_not_a_crash_and_s_starts_again(
    fake_lmdeploy, model_dir, tmp_path, monkeypatch
) -> None:
    """A start refused before any process (the model cannot run here) shows "error" with
    why; once the settings allow it, ``s`` starts the server from the screen."""
    from backends.controller import ManagedServer
    from backends.supervisor import free_port
    from tui.core.config import Settings

    monkeypatch.setenv("O1TUI_MODELS_DIR", str(tmp_path / "models"))
    only_lmdeploy = {"lmdeploy": True, "llamacpp": False, "transformers": False}
    gguf = tmp_path / "tiny.gguf"
    gguf.write_bytes(b"GGUF")
    settings = Settings(port=free_port(), model=str(gguf))
    ctl = ManagedServer(settings, available=only_lmdeploy, gpu=True)
    app = Host(ctl)  # type: ignore[arg-type]
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("s")
        await wait_until(pilot, lambda: "error" in _info_text(app), timeout=10)
        text = _info_text(app)
        assert "✗ error" in text and "crashed" not in text
        assert "llamacpp is not installed" in text
        assert ctl.handle is None
        ctl.model_name = str(model_dir)  # as a switch to a model that can run would
        await pilot.press("s")
        await wait_until(pilot, lambda: "● ready" in _info_text(app), timeout=20)
        assert ctl.handle is not None and ctl.handle.running
        await ctl.stop()
