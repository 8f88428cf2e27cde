"""`o1tui ask` with a managed server: the server's output goes to its log file only; ask prints
o1tui's own progress, and the server's last lines only when it fails. Run against the
stand-in `lmdeploy` executable through the real process management."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

from backends.engines import ServerOptions, llamacpp_command
from backends.presets import resolve
from tui.cli.ask_progress import AskProgress

REPO = Path(__file__).resolve().parent.parent


def _run_ask(tmp_path: Path, *extra_env: tuple[str, str], strategy: str = "plain"):
    from backends.supervisor import free_port

    model_dir = tmp_path / "m"
    model_dir.mkdir(exist_ok=True)
    (model_dir / "config.json").write_text("{}")
    env = dict(
        os.environ,
        PYTHONPATH=str(REPO),
        PATH=f"{REPO / 'tests' / 'fakes' / 'bin'}{os.pathsep}{os.environ['PATH']}",
    )
    env.update(dict(extra_env))
    argv = [sys.executable, "-m", "tui.cli", "ask", "How many r are in strawberry?"]
    argv += ["--engine", "lmdeploy", "--model", str(model_dir), "--port", str(free_port())]
    argv += ["--strategy", strategy]
    return subprocess.run(
        argv, capture_output=True, text=True, env=env, cwd=REPO, timeout=120, check=False
    )


def _log_files(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "logs").glob("lmdeploy-*.log"))


def test_server_output_goes_to_its_log_not_to_ask(data_dir, tmp_path):
    proc = _run_ask(tmp_path)
    assert proc.returncode == 0, proc.stderr
    err = proc.stderr
    # The stand-in prints LMDeploy-like loader and uvicorn lines: none reach the terminal.
    for server_line in ("Loading weights", "Uvicorn running", "model_path=", "HINT:"):
        assert server_line not in err and server_line not in proc.stdout
    # o1tui's own progress does: what starts, with which model, and where its log is.
    (log,) = _log_files(tmp_path)
    assert f"o1tui: starting LMDeploy with m; server log: {log}\n" in err
    assert "o1tui: LMDeploy ready after" in err
    assert len(err.splitlines()) <= 4, err
    text = log.read_text()
    assert "Loading weights" in text and "Uvicorn running" in text
    assert "strawberry" in proc.stdout  # the answer itself


def test_a_failing_server_shows_its_last_lines_and_log(data_dir, tmp_path):
    proc = _run_ask(tmp_path, ("FAKE_LMDEPLOY_FAIL_AT_START", "CUDA out of memory (stand-in)"))
    assert proc.returncode == 1
    err = proc.stderr
    assert "last lines of the server log:" in err
    assert "RuntimeError: CUDA out of memory (stand-in)" in err
    (log,) = _log_files(tmp_path)
    assert f"full log: {log}" in err
    assert err.rstrip().splitlines()[-1].startswith("o1tui: ")  # the one-line error comes last
    assert "Traceback" not in err.split("last lines of the server log:")[0]


def test_progress_is_one_transient_line_on_a_terminal():
    out = io.StringIO()
    progress = AskProgress(out, tty=True)
    for second in range(5):
        progress.waiting(float(second))
    progress.note("llama.cpp ready after 4.0 s")
    text = out.getvalue()
    # Each wait redraws the same line; the note erases it first and stands on its own line.
    assert text.count("\n") == 1
    assert text.endswith("\r\x1b[2Ko1tui: llama.cpp ready after 4.0 s\n")
    assert "server starting, 4 s" in text


def test_progress_off_a_terminal_is_rare():
    out = io.StringIO()
    progress = AskProgress(out, tty=False)
    for tenth in range(0, 650, 5):  # 65 s of polls every 0.5 s
        progress.waiting(tenth / 10)
    lines = out.getvalue().splitlines()
    assert lines == [
        "o1tui: still waiting for the server (starting, 30 s)",
        "o1tui: still waiting for the server (starting, 60 s)",
    ]


def test_llamacpp_is_not_polled_on_a_path_it_lacks(tmp_path):
    """llama-cpp-python's server has no /health: polling it logged `GET /health 404` every
    0.25 s. Its launch spec names no health path, and the probe then asks only /v1/models."""
    from backends.supervisor import probe
    from tests.fakes.openai_server import FakeOpenAIServer

    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    spec = llamacpp_command(resolve(str(gguf)), ServerOptions(port=8000), "key")
    with FakeOpenAIServer(api_key="k") as srv:
        port = int(srv.url.rsplit(":", 1)[1].split("/")[0])
        assert probe("127.0.0.1", port, "k", health_path=spec.health_path).kind == "ready"
        assert srv.hits == [("GET", "/v1/models")]
        assert probe("127.0.0.1", port, "k").kind == "ready"  # others still get /health first
        assert srv.hits[1:] == [("GET", "/health"), ("GET", "/v1/models")]
