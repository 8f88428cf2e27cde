"""The first frame waits for nothing it does not show: the Markdown widget, the group runner
and the history sidebar come after it, the subcommands' options are not built for the app,
the collector is off until the first frame, the style sheets are parsed once (the start-up
figure is in docs/benchmarks.md)."""

from __future__ import annotations

import gc
import os
import select
import sqlite3
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.color import Color
from textual.css.stylesheet import Stylesheet

from tests.helpers import notifications, wait_until
from tui.app.app import O1App
from tui.app.widgets.question_input import QuestionInput
from tui.cli.entry import main
from tui.cli.parser import build_parser, parse_args
from tui.core.config import Settings
from tui.startup import pause_gc, resume_gc
from tui.store.history import DB_NAME, History, HistoryError

REPO = Path(__file__).resolve().parent.parent


#: Modules the first frame does without (each was once imported before it).
LATE = (
    "textual.widgets._markdown",
    "markdown_it",
    "openai",
    "tui.core.group",
    "tui.core.runner",
    "tui.core.strategies.g1",
    "tui.core.strategies.base",
    "tui.core.export",
    "tui.core.sections",
    "tui.app.widgets.history_list",
    "tui.app.widgets.chain_view",
    "tui.evals.builtin",
    "tui.evals.specs",
    "tui.cli.eval_cmd",
    "tui.store.history",
    "tui.store.history_rows",
    "tui.core.chain",
    "sqlite3",
    "backends.engines",
    "backends.presets",
    "backends.stages",
    "backends.keyed_exec",
    "tui.app.palette",
    "tui.app.screens.help",
    "tui.app.connection",
    "tui.app.endpoint",
    "tui.core.connect",
    "json",
)

FIRST_FRAME = """
import sys
import tui.cli.common
import tui.cli.parser
settings = tui.cli.common.resolve_settings(tui.cli.parser.parse_args(sys.argv[1:]))
from pathlib import Path
import tui.app.app
from tui.app.app import O1App
seen = []
class FirstFrame(O1App):
    CSS_PATH = str(Path(tui.app.app.__file__).with_name(O1App.CSS_PATH))
    async def _after_first_frame(self):
        seen.extend(m for m in LATE if m in sys.modules)
        seen.extend(p for p, _ in self.stylesheet.source if p.endswith("chains.tcss"))
        self.exit()
FirstFrame(settings, open_history=lambda: None, connect=False).run(headless=True, size=(100, 30))
print(",".join(seen) or "none")
"""


def test_the_first_frame_imports_nothing_it_does_not_show(tmp_path: Path) -> None:
    """The command's whole way to the first frame (parse, settings, the app's imports, its
    construction, compose, mount, first layout): none of the modules it does without, nor
    the chain views' style sheet."""
    env = dict(os.environ, O1TUI_CONFIG_DIR=str(tmp_path), PYTHONPATH=str(REPO))
    argv = ["--model", "m", "--endpoint", "http://127.0.0.1:9/v1", "--data-dir", str(tmp_path)]
    script = tmp_path / "first_frame.py"
    script.write_text(f"LATE = {LATE!r}\n{FIRST_FRAME}")
    out = subprocess.run(
        [sys.executable, str(script), *argv],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        check=True,
    ).stdout.strip()
    assert out.splitlines()[-1] == "none"


def _app(
    tmp_path: Path,
    *,
    history: History | None = None,
    open_history: Callable[[], History] | None = None,
    **settings_kw: Any,
) -> O1App:
    """The app as these tests build it: not connected, its own config file and themes."""
    return O1App(
        Settings(model="m", **settings_kw),
        history=history,
        open_history=open_history,
        connect=False,
        env={"TERM": "xterm-256color"},
        config_path=tmp_path / "config.toml",
        user_themes_dir=tmp_path,
    )


async def test_the_history_sidebar_is_mounted_after_the_first_frame(tmp_path: Path) -> None:
    with History(tmp_path / "history.db") as history:
        app = _app(tmp_path, history=history)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_until(pilot, lambda: bool(app.query("#history")), timeout=5)
            panel = app.query_one("#history")
            assert panel.has_class("-hidden")
            await pilot.press("f2")
            await pilot.pause()
            assert not panel.has_class("-hidden") and len(app.query("#history")) == 1


APP_ARGVS = [
    [],
    ["--model", "m"],
    ["--model", "ask"],  # an option's value that is also a subcommand's name
    ["--mod", "m", "--endpoint", "http://127.0.0.1:9/v1", "--strategy", "plain"],
    ["--data-dir", "/d", "--config", "/c.toml", "--port", "5", "--engine", "llamacpp"],
    ["--engine", "auto", "--backend", "turbomind"],
    ["--no-prefix-caching", "--tp", "2", "--backend", "pytorch", "--keep-server"],
    ["--theme", "o1-light", "--keep-alive", "5m", "--api-key", "k", "--session-len", "9"],
    ["ask", "q", "--strategy", "plain"],
    ["--model", "m", "models"],
    ["history", "list", "--limit", "3"],
]


@pytest.mark.parametrize("argv", APP_ARGVS)
def test_the_quick_parse_gives_what_the_full_parser_gives(argv: list[str]) -> None:
    """The app's parse builds only the command's own options; the result is the same."""
    assert vars(parse_args(argv)) == vars(build_parser().parse_args(argv))


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["--he"],
        ["--version"],
        ["nope"],
        ["--model"],
        ["--port", "x"],
        ["--engine", "nope"],  # the names are checked by the full parser
        ["--backend", "nope"],
    ],
)
def test_help_version_and_mistakes_are_the_full_parsers(argv: list[str], capsys) -> None:
    with pytest.raises(SystemExit) as quick:
        parse_args(argv)
    quick_out = capsys.readouterr()
    with pytest.raises(SystemExit) as full:
        build_parser().parse_args(argv)
    assert quick.value.code == full.value.code
    assert quick_out == capsys.readouterr()
    if argv[0].startswith("--he"):  # the help names the subcommands
        assert "history" in quick_out.out and "download" in quick_out.out


def test_a_command_leaves_the_collector_on(data_dir, capsys) -> None:
    assert gc.isenabled()
    assert main(["history", "list"]) == 0
    assert gc.isenabled()
    assert main(["history", "show", "nope"]) == 2  # a failure too
    assert gc.isenabled()
    gc.disable()  # someone else's choice is kept
    try:
        main(["history", "list"])
        assert not gc.isenabled()
    finally:
        gc.enable()


async def test_the_collector_is_on_again_after_the_first_frame(tmp_path: Path) -> None:
    pause_gc()
    try:
        assert not gc.isenabled()
        app = _app(tmp_path)
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_until(pilot, gc.isenabled, timeout=5)
    finally:
        resume_gc()
    assert gc.isenabled()


@pytest.mark.parametrize("theme", ["o1-light", "o1-dark", "textual-dark"])
async def test_the_theme_chosen_at_start_styles_the_first_frame(
    tmp_path: Path, theme: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The start-up theme skips Textual's second parse of every style sheet: the first
    frame still has the theme's colours, and a later switch still restyles."""
    reparses: list[int] = []
    reparse = Stylesheet.reparse
    monkeypatch.setattr(Stylesheet, "reparse", lambda sheet: (reparses.append(1), reparse(sheet)))
    app = _app(tmp_path, theme=theme)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert app.theme == theme

        def colour(name: str) -> Color:
            return Color.parse(app.get_css_variables()[name])

        want = colour("background")
        assert reparses == []
        assert app.screen.styles.background == want
        assert app.query_one("#header").styles.background == colour("panel")
        app.theme = "o1-dark" if theme != "o1-dark" else "o1-light"
        await pilot.pause()
        assert app.screen.styles.background == colour("background") != want
        assert reparses


async def test_the_history_is_opened_after_the_first_frame(tmp_path: Path) -> None:
    """run_app gives the app an opener: the store is opened once the first frame is laid
    out; a damaged file set aside is reported then, and the sidebar reads the store."""
    (tmp_path / DB_NAME).write_bytes(b"not a database\n" * 100)
    laid_out: list[bool] = []

    def opener() -> History:
        laid_out.append(app.query_one(QuestionInput).region.height > 0)
        return History.open(tmp_path)

    app = _app(tmp_path, open_history=opener)
    async with app.run_test(size=(120, 40)) as pilot:
        try:
            await wait_until(pilot, lambda: bool(app.query("#history")), timeout=5)
            assert laid_out == [True] and app.history is not None
            shown = notifications(app)
            assert any("damaged file is kept" in m for m in shown), shown
            await pilot.press("f2")
            await pilot.pause()
            assert not app.query_one("#history").has_class("-hidden")
        finally:
            if app.history is not None:
                app.history.close()
    assert app.startup_error is None


def newer_history(folder: Path) -> None:
    """A history file from a later o1tui (a schema this one refuses)."""
    History.open(folder).close()
    conn = sqlite3.connect(folder / DB_NAME)
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    conn.execute(f"PRAGMA user_version = {version + 1}")
    conn.close()


async def test_a_history_that_cannot_be_opened_ends_the_app_with_its_error(
    tmp_path: Path,
) -> None:
    newer_history(tmp_path)
    app = _app(tmp_path, open_history=lambda: History.open(tmp_path))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: app.startup_error is not None, timeout=5)
    assert isinstance(app.startup_error, HistoryError) and app.return_code == 1
    assert app.history is None


def test_the_program_reports_a_history_it_cannot_open_in_one_line(tmp_path: Path) -> None:
    """The real program in a terminal: the same one-line error and status as before the
    history was opened after the first frame."""
    import fcntl
    import termios

    data = tmp_path / "data"
    newer_history(data)
    leader, follower = os.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    env = dict(
        os.environ,
        PYTHONPATH=str(REPO),
        TERM="xterm-256color",
        O1TUI_CONFIG_DIR=str(tmp_path / "config"),
        O1TUI_LOG_DIR=str(tmp_path / "log"),
    )
    env.pop("TMUX", None)
    argv = ["--data-dir", str(data), "--endpoint", "http://127.0.0.1:9/v1", "--model", "m"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", *argv],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=env,
        cwd=REPO,
        start_new_session=True,
    )
    os.close(follower)
    seen = b""
    deadline = time.monotonic() + 60
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if select.select([leader], [], [], 0.1)[0]:
                try:
                    seen += os.read(leader, 65536)
                except OSError:
                    break
        proc.wait(timeout=10)
        while select.select([leader], [], [], 0.1)[0]:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(leader)
    text = seen.decode(errors="replace")
    assert proc.returncode == HistoryError("x").exit_code
    assert "o1tui: error: " in text and "Upgrade o1tui" in text and "Traceback" not in text


async def test_the_chain_styles_come_right_after_the_first_frame(tmp_path: Path) -> None:
    from tui.core.chain import Chain

    app = _app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        view = app.chains.attach(Chain(question="Q?", strategy="g1", model="m"))
        await wait_until(
            pilot,
            lambda: any(p.endswith("chains.tcss") for p, _ in app.stylesheet.source),
            timeout=5,
        )
        await pilot.pause()
        assert str(view.styles.height) == "1fr"  # ChainView's rule, from chains.tcss
        assert view.query_one(".chain-status").styles.background.a > 0
