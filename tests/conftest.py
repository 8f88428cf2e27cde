"""Fixtures shared by the test modules."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture()
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private data, config and log dir for one test, through the environment as a user
    would set them (the CLI is run in-process and as subprocesses)."""
    d = tmp_path / "data"
    monkeypatch.setenv("O1TUI_DATA_DIR", str(d))
    monkeypatch.setenv("O1TUI_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("O1TUI_LOG_DIR", str(tmp_path / "logs"))
    return d


@pytest.fixture(autouse=True)
def _private_runtime_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Kept-warm server records (keep_alive) go to a per-test folder, never the user's."""
    monkeypatch.setenv("O1TUI_RUNTIME_DIR", str(tmp_path / "run"))
