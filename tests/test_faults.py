"""Server faults through ``o1tui ask --endpoint``, as a user meets them.

Each fault happens after the model already finished a step or two (where the fault allows),
so the test can check the whole promise: the command exits non-zero, stderr holds exactly one
clear line and no traceback, and the history holds the chain with status ``error`` and every
step that finished before the fault.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tui.cli.entry import main

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture()
def data_dir(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # A hang must end quickly in a test: the configurable stall timeout, through the env.
    monkeypatch.setenv("O1TUI_STALL_TIMEOUT_S", "0.25")
    return data_dir


def good_step(n: int) -> Reply:
    step = {
        "title": f"Good step {n}",
        "content": f"Finished reasoning number {n}.",
        "next_action": "continue",
    }
    return Reply(content=json.dumps(step))


def after_good_steps(n_good: int, fault: Reply) -> Callable[[dict[str, Any]], Reply]:
    """A g1 model that finishes ``n_good`` steps, then answers every request with ``fault``."""
    calls = {"n": 0}
    lock = threading.Lock()

    def respond(body: dict[str, Any]) -> Reply:
        with lock:
            calls["n"] += 1
            n = calls["n"]
        return good_step(n) if n <= n_good else fault

    return respond


def check_failed_chain(data_dir: Path, code: int, err: str, n_steps: int) -> str:
    """The common promise; returns the stderr line."""
    from tui.store.history import History

    assert code not in (0, None), err
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err, err
    assert len(lines) == 1, f"expected one line on stderr, got {lines}"
    assert lines[0].startswith("o1tui")
    with History.open(data_dir) as h:
        rows = h.list(limit=5)
        assert len(rows) == 1, rows
        chain = h.get(rows[0].id)
    assert chain.status.value == "error"
    assert chain.error
    assert [s.index for s in chain.steps] == list(range(1, n_steps + 1))
    assert all(s.title == f"Good step {s.index}" for s in chain.steps)
    return lines[0]


FAULTS = [
    # name, the reply after two good steps, words the line must hold
    ("http_401", Reply(status=401, error_message="invalid api key"), "API key"),
    ("http_404", Reply(status=404, error_message="model not found"), "model"),
    ("http_429", Reply(status=429, error_message="slow down"), "429"),
    ("http_500", Reply(status=500, error_message="engine exploded"), "500"),
    ("http_503", Reply(status=503, error_message="overloaded"), "503"),
    (
        "reset_mid_stream",
        Reply(content='{"title": "cut", "content": "half of it ' + "x" * 80, drop_after_chunks=3),
        "stream",
    ),
    ("malformed_sse", Reply(content='{"title": "t", "content": "c"}', malformed=True), "JSON"),
    ("not_json_body", Reply(not_json_body=True), "web page"),
    ("hang_no_tokens", Reply(first_delay_s=30.0, content="never"), "sent nothing"),
    (
        "hang_mid_stream",
        Reply(content='{"title": "slow", "content": "' + "y" * 60, delay_s=30.0, chunk_chars=20),
        "sent nothing",
    ),
    (
        "no_finish_reason",
        Reply(content='{"title": "t", "content": "c', finish_reason=None),
        "finish",
    ),
]


@pytest.mark.parametrize(
    "fault,words", [(f, w) for _, f, w in FAULTS], ids=[n for n, _, _ in FAULTS]
)
def test_fault_after_two_steps_keeps_them_and_ends_with_one_line(data_dir, capsys, fault, words):
    with FakeOpenAIServer(responder=after_good_steps(2, fault)) as srv:
        code = main(["ask", "Why?", "--endpoint", srv.url, "--model", "fake-model"])
    out, err = capsys.readouterr()
    line = check_failed_chain(data_dir, code, err, 2)
    assert words.lower() in line.lower(), line
    assert "Step 1: Good step 1" in out and "Step 2: Good step 2" in out


def test_connection_refused(data_dir, capsys):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = main(["ask", "Why?", "--endpoint", f"http://127.0.0.1:{port}/v1", "--model", "m"])
    out, err = capsys.readouterr()
    line = check_failed_chain(data_dir, code, err, 0)
    assert "refused" in line or "cannot reach" in line


def test_connection_refused_without_a_model_name_is_one_line_too(data_dir, capsys):
    # Without --model the CLI first asks the server for its models.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = main(["ask", "Why?", "--endpoint", f"http://127.0.0.1:{port}/v1"])
    err = capsys.readouterr().err
    assert code != 0
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err


def test_wrong_api_key_on_the_first_call(data_dir, capsys):
    with FakeOpenAIServer(api_key="right-key") as srv:
        code = main(
            [
                "ask",
                "Why?",
                "--endpoint",
                srv.url,
                "--model",
                "fake-model",
                "--api-key",
                "wrong-key",
            ]
        )
    line = check_failed_chain(data_dir, code, capsys.readouterr().err, 0)
    assert "API key" in line and "wrong-key" not in line and "right-key" not in line


def test_unknown_model(data_dir, capsys):
    with FakeOpenAIServer(models=("served-model",)) as srv:
        code = main(["ask", "Why?", "--endpoint", srv.url, "--model", "no-such-model"])
    line = check_failed_chain(data_dir, code, capsys.readouterr().err, 0)
    assert "no-such-model" in line and "served-model" in line


def test_json_output_still_a_document_on_a_fault(data_dir, capsys):
    with FakeOpenAIServer(responder=after_good_steps(1, Reply(status=500))) as srv:
        code = main(["ask", "Why?", "--endpoint", srv.url, "--model", "fake-model", "--json"])
    out, err = capsys.readouterr()
    check_failed_chain(data_dir, code, err, 1)
    doc = json.loads(out)
    assert doc["status"] == "error" and len(doc["steps"]) == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_server_process_dies_mid_chain(tmp_path):
    """The stand-in server is a separate process, SIGKILLed after the first step printed."""
    port = _free_port()
    env = {
        **os.environ,
        "O1TUI_DATA_DIR": str(tmp_path / "d"),
        "O1TUI_CONFIG_DIR": str(tmp_path / "c"),
        "O1TUI_LOG_DIR": str(tmp_path / "l"),
        "O1TUI_STALL_TIMEOUT_S": "2",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.openai_server", "--port", str(port), "--delay", "0.03"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert "serving on" in server.stdout.readline()
        ask = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tui.cli",
                "ask",
                "Why?",
                "--endpoint",
                f"http://127.0.0.1:{port}/v1",
                "--model",
                "fake-model",
            ],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        printed: list[str] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = ask.stdout.readline()
            if not line:
                break
            printed.append(line)
            if line.startswith("Step 1:"):
                server.send_signal(signal.SIGKILL)
                break
        rest, err = ask.communicate(timeout=60)
    finally:
        server.kill()
        server.wait()
    out = "".join(printed) + rest
    assert ask.returncode == 1, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    finished = [line for line in out.splitlines() if line.startswith("Step ")]
    assert finished, out

    from tui.store.history import History

    with History.open(tmp_path / "d") as h:
        (row,) = h.list()
        chain = h.get(row.id)
    assert chain.status.value == "error"
    assert len(chain.steps) == len(finished)


# --- bad local state: config and database ------------------------------------------------------


def test_wrong_type_in_the_config_file_names_the_key_and_the_file(data_dir, tmp_path, capsys):
    cfg = tmp_path / "config" / "config.toml"
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text('max_steps = "many"\n')
    code = main(["ask", "Why?", "--endpoint", "http://127.0.0.1:9/v1", "--model", "m"])
    err = capsys.readouterr().err
    assert code != 0
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "max_steps" in err and str(cfg) in err


def test_config_file_that_is_not_toml_is_one_line(data_dir, tmp_path, capsys):
    cfg = tmp_path / "config" / "config.toml"
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_bytes(b"\x00\xff[[[not toml")
    code = main(["ask", "Why?", "--endpoint", "http://127.0.0.1:9/v1", "--model", "m"])
    err = capsys.readouterr().err
    assert code != 0 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert str(cfg) in err


def test_corrupt_database_is_kept_aside_and_a_fresh_one_started(data_dir, capsys):
    data_dir.mkdir(parents=True)
    garbage = b"this is not a database " * 500
    (data_dir / "history.db").write_bytes(garbage)
    with FakeOpenAIServer() as srv:
        code = main(["ask", "Why?", "--endpoint", srv.url, "--model", "fake-model"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "Traceback" not in err and "kept as" in err
    kept = [p for p in data_dir.iterdir() if p.name.startswith("history.db.corrupt-")]
    assert len(kept) == 1 and kept[0].read_bytes() == garbage  # never deleted, never changed
    assert main(["history", "list"]) == 0
    assert "Why?" in capsys.readouterr().out


def test_unknown_theme_in_config_is_a_warning_not_a_failure(data_dir, tmp_path, capsys):
    cfg = tmp_path / "config" / "config.toml"
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text('theme = "no-such-theme"\nno_such_key = 1\n')
    with FakeOpenAIServer() as srv:
        code = main(
            ["ask", "Why?", "--endpoint", srv.url, "--model", "fake-model", "--strategy", "plain"]
        )
    err = capsys.readouterr().err
    assert code == 0 and "Traceback" not in err
    assert "no_such_key" in err  # unknown keys are named
