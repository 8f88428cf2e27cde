"""The first frame waits for nothing it does not show: the Markdown widget, the group runner
and the history sidebar come after it (the start-up figure is in docs/benchmarks.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.helpers import wait_until
from tui.app.app import O1App
from tui.config import Settings
from tui.history import History

REPO = Path(__file__).resolve().parent.parent


def test_the_app_modules_do_not_import_what_the_first_frame_does_not_show() -> None:
    code = (
        "import sys, tui.cli, tui.app.app\n"
        "tui.cli.build_parser()\n"
        "late = ('textual.widgets._markdown', 'markdown_it', 'tui.group', 'tui.runner', 'openai',"
        " 'tui.strategies.g1', 'tui.export', 'tui.strategies.base', 'tui.sections',"
        " 'tui.app.widgets.history_list', 'tui.evals.builtin')\n"
        "print(','.join(m for m in late if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    ).stdout.strip()
    assert out == ""


async def test_the_history_sidebar_is_mounted_after_the_first_frame(tmp_path: Path) -> None:
    with History(tmp_path / "history.db") as history:
        app = O1App(
            Settings(model="m"),
            history=history,
            connect=False,
            env={"TERM": "xterm-256color"},
            config_path=tmp_path / "config.toml",
            user_themes_dir=tmp_path,
        )
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_until(pilot, lambda: bool(app.query("#history")), timeout=5)
            panel = app.query_one("#history")
            assert panel.has_class("-hidden")
            await pilot.press("f2")
            await pilot.pause()
            assert not panel.has_class("-hidden") and len(app.query("#history")) == 1
