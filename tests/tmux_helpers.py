"""Driving the real program in tmux: one tmux server of its own per test, the app's
folders under the test's temporary folder, and the stand-in OpenAI server as a process."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def o1tui_exe() -> str:
    """The ``o1tui`` script of this Python (else the one on PATH)."""
    exe = Path(sys.executable).with_name("o1tui")
    return str(exe) if exe.exists() else shutil.which("o1tui") or "o1tui"


def app_command(data: Path, endpoint: str) -> str:
    """The app against ``endpoint`` with its history in ``data``; then the pane shows
    ``O1TUI-EXITED-<status>`` and stays open a while, so a test can read how it ended."""
    return (
        f"{o1tui_exe()} --data-dir {data} --endpoint {endpoint} --model fake-model; "
        f"echo O1TUI-EXITED-$?; sleep 30"
    )


def saved_chains(tmux: Tmux, data: Path) -> list[dict[str, object]]:
    """The history's chains after the app quit, newest first, as ``history list --json``
    prints them (the real program, with the session's environment)."""
    listed = subprocess.run(
        [o1tui_exe(), "history", "list", "--data-dir", str(data), "--json"],
        env=tmux.env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    chains: list[dict[str, object]] = json.loads(listed)
    return chains


class Tmux:
    """``tmux -L <own socket>`` with an environment whose o1tui folders are the test's own
    (``extra`` adds or overrides variables; a value of None removes one)."""

    def __init__(self, name: str, tmp_path: Path, **extra: str | None) -> None:
        self.socket = f"o1tui-{name}-{os.getpid()}"
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "O1TUI_CONFIG_DIR": str(tmp_path / "config"),
            "O1TUI_LOG_DIR": str(tmp_path / "log"),
            "TERM": "xterm-256color",
        }
        env.pop("TMUX", None)
        for key, value in extra.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        self.env = env

    def __call__(self, *args: str, check: bool = False) -> str:
        return subprocess.run(
            ["tmux", "-L", self.socket, *args],
            env=self.env,
            check=check,
            capture_output=True,
            text=True,
        ).stdout

    def start(self, session: str, command: str, width: int = 100, height: int = 30) -> None:
        self(
            "new-session",
            "-d",
            "-s",
            session,
            "-x",
            str(width),
            "-y",
            str(height),
            command,
            check=True,
        )

    def pane(self, session: str = "o1", scrollback: int = 0) -> str:
        args = ["capture-pane", "-p", "-t", session]
        if scrollback:
            args[2:2] = ["-S", str(-scrollback)]
        return self(*args)

    def close(self) -> None:
        self("kill-server")


@contextlib.contextmanager
def stand_in_server(*args: str) -> Iterator[str]:
    """The stand-in OpenAI server as its own process (as a user's server would be), with
    ``args`` (``--delay 0.02``, ``--count-turns``); its URL while the block runs."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.openai_server", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=REPO,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+/v1)", line)
        assert match, f"stand-in server said: {line!r}"
        yield match.group(1)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def fake_server() -> Iterator[str]:
    """The stand-in server with a short delay between chunks; its URL."""
    with stand_in_server("--delay", "0.02") as url:
        yield url
