"""Fixtures shared by the test modules."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tui.store.history import DB_NAME, History

#: The tmux tests' fixtures (the stand-in server as a process).
pytest_plugins = ["tests.tmux_helpers"]

if TYPE_CHECKING:
    from tests.fakes.openai_server import FakeOpenAIServer
    from tui.app.app import O1App


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


@pytest.fixture(autouse=True)
def _fresh_server_formats() -> None:
    """Each test's stand-in server is a new server, even on a port an earlier test used: what
    the process learned about response_format (backends.openai_client) starts empty."""
    from backends.openai_client import SERVER_FORMATS

    SERVER_FORMATS.forget()


@pytest.fixture()
def db_path(tmp_path: Path) -> Path:
    """Where the test's history database lives (as in a data dir)."""
    return tmp_path / "data" / DB_NAME


@pytest.fixture()
def history(db_path: Path) -> Iterator[History]:
    """A fresh history store for one test, closed after it."""
    with History(db_path) as h:
        yield h


@pytest.fixture()
def make_app(tmp_path: Path, history: History) -> Callable[..., O1App]:
    """Build the app on the test's history: connected to the stand-in ``server`` (None: not
    connected), with its own config file and an empty user themes folder."""

    def make(
        server: FakeOpenAIServer | None = None,
        *,
        env: dict[str, str] | None = None,
        model_named: bool = False,
        **settings_kw: Any,
    ) -> O1App:
        from tui.app.app import O1App  # Textual only for the tests that build the app
        from tui.core.config import Settings

        settings_kw.setdefault("model", "fake-model")
        settings = Settings(endpoint=server.url if server else None, **settings_kw)
        themes = tmp_path / "themes"
        themes.mkdir(exist_ok=True)
        return O1App(
            settings,
            history=history,
            env=env if env is not None else {"TERM": "xterm-kitty"},
            config_path=tmp_path / "config.toml",
            user_themes_dir=themes,
            connect=server is not None,
            model_named=model_named,
        )

    return make


@pytest.fixture()
def fake_lmdeploy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The stand-in ``lmdeploy`` first on PATH (its behaviour switches cleared) and server
    logs under ``tmp_path``: what a test that starts a managed server needs."""
    from tests.servers_helpers import use_fake_lmdeploy

    use_fake_lmdeploy(monkeypatch)
    monkeypatch.setenv("O1TUI_LOG_DIR", str(tmp_path / "logs"))


@pytest.fixture()
def model_dir(tmp_path: Path) -> Path:
    """A local model folder as o1tui recognises one (the stand-in servers do not read it)."""
    folder = tmp_path / "Tiny-Chat"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"0")
    return folder


@pytest.fixture()
def handles() -> Iterator[list[Any]]:
    """Server handles a test started; each is stopped after the test."""
    started: list[Any] = []
    yield started
    for handle in started:
        handle.stop(grace_s=2.0)


@pytest.fixture()
def snap_compare(snap_compare: Callable[..., bool]) -> Callable[..., bool]:
    """The snapshot plug-in's ``snap_compare`` made deterministic for every snapshot test:
    text cursors drawn steadily (not blinking) and the screen settled before it is taken."""
    from tests.helpers import settle, steady_cursors

    def compare(app: O1App, *, run_before: Callable[[Any], Any] | None = None, **kw: Any) -> bool:
        async def steady_run_before(pilot: Any) -> None:
            steady_cursors(pilot.app)
            if run_before is not None:
                result = run_before(pilot)
                if inspect.isawaitable(result):
                    await result
            steady_cursors(pilot.app)
            await settle(pilot)

        return snap_compare(app, run_before=steady_run_before, **kw)

    return compare
