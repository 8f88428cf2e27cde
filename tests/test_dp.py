"""``--dp N``: N LMDeploy api_server replicas behind LMDeploy's proxy, as one managed server.

Real processes throughout: the stand-in ``lmdeploy`` (tests/fakes/bin) plays both ``serve
api_server`` (which registers itself with ``--proxy-url``) and ``serve proxy`` (the real proxy's
routes, routing and key check); requests go over loopback HTTP.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from backends.manager import start_backend
from backends.replicas import ReplicaBoard, cache_share, place
from backends.supervisor import ServerStartError, free_port, group_members
from tests.helpers import poll_until
from tests.servers_helpers import ALL, chat, eventually, fake_lmdeploy_env
from tui.core.config import Settings

REPO = Path(__file__).resolve().parent.parent


def _get(port: int, path: str, key: str | None = None) -> tuple[int, object]:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {key}"} if key else {})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read() or b"null")
    finally:
        conn.close()


def _post(port: int, path: str, body: dict, key: str | None = None) -> int:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    try:
        conn.request("POST", path, body=json.dumps(body), headers=headers)
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def _settings(model_dir: Path, **kw: object) -> Settings:
    return dataclasses.replace(
        Settings(), engine="lmdeploy", model=str(model_dir), port=free_port(), dp=2, **kw
    )


def _start(model_dir: Path, handles: list, **kw: object):
    notices: list[str] = []
    handle = start_backend(
        _settings(model_dir, **kw), available=ALL, gpu=True, on_notice=notices.append
    )
    handles.append(handle)
    return handle, notices


def _log(handle) -> str:
    return handle.process.log_path.read_text()


# --- placement ------------------------------------------------------------------------------


def test_replicas_spread_over_gpus_and_share_them_with_a_split_cache():
    assert place(2, 1, ["0", "1"]).devices == ("0", "1")
    assert place(2, 1, ["0", "1"]).share == 1
    assert place(4, 2, ["0", "1", "2", "3"]).devices == ("0,1", "2,3", "0,1", "2,3")
    two_on_one = place(2, 1, ["0"])
    assert two_on_one.devices == ("0", "0") and two_on_one.share == 2
    assert place(3, 1, None).devices == (None, None, None)
    assert cache_share(None, 2) == 0.4  # LMDeploy's 0.8, halved
    assert cache_share(0.6, 3) == 0.2
    assert cache_share(0.6, 1) == 0.6


def test_start_up_line_names_the_slowest_replica():
    board = ReplicaBoard(2)
    board.feed("replica 1/2 | Loading weights from safetensors: 100%|####| 4/4 [00:00<00:00]")
    board.feed(
        "replica 1/2 | 2026-11-01 - lmdeploy - INFO - agent.py:527 - Starting engine warmup."
    )
    board.feed("replica 2/2 | Loading weights from safetensors:  75%|### | 3/4 [00:00<00:00]")
    assert board.progress.describe().startswith("weights 3/4 · replica 2/2 · stage 3/5")
    board.feed("o1tui replicas: replica 2/2 starting on port 40123")
    assert board.replicas[1].describe() == "replica 2/2 · port 40123 · starting · weights 3/4"
    assert board.replicas[0].describe() == "replica 1/2 · starting · warm-up"


# --- one managed server ---------------------------------------------------------------------


def test_dp_2_is_ready_with_both_replicas_registered_and_a_vote_spreads_over_them(
    fake_lmdeploy, model_dir, handles, monkeypatch
):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    monkeypatch.setenv("FAKE_LMDEPLOY_ARGS_FILE", str(model_dir.parent / "args-{port}.json"))
    # Replies that take a moment, so the chains overlap and the proxy's least-busy routing
    # (not chance) decides where each goes.
    monkeypatch.setenv("FAKE_LMDEPLOY_REPLY_DELAY", "0.02")
    handle, _ = _start(model_dir, handles)
    ports = sorted(r.port for r in handle.replicas)
    assert len(ports) == 2 and handle.port not in ports
    assert [r.state for r in handle.replicas] == ["serving", "serving"]
    status, nodes = _get(handle.port, "/nodes/status", handle.api_key)
    assert status == 200 and sorted(nodes) == [f"http://127.0.0.1:{p}" for p in ports]
    # One GPU, two replicas: each has half of LMDeploy's default KV-cache share, and the log says so.
    for port in ports:
        args = json.loads((model_dir.parent / f"args-{port}.json").read_text())
        assert args["cache_max_entry_count"] == 0.4 and args["cuda_visible_devices"] == "0"
    assert "2 replicas share the GPU: each gets --cache-max-entry-count 0.4" in _log(handle)

    # The key: the proxy and every replica refuse a request without it.
    assert _get(handle.port, "/v1/models")[0] == 401
    assert _get(ports[0], "/v1/models")[0] == 401
    assert _get(handle.port, "/v1/models", handle.api_key)[0] == 200

    import asyncio

    from tui.core.group import GroupSpec
    from tui.core.group_runner import run_group
    from tui.core.strategies.base import StrategyOptions

    spec = GroupSpec.self_consistency("What is 6*7?", "plain", 8)
    result = asyncio.run(run_group(spec, handle.client(), StrategyOptions()))
    assert result.vote is not None and len(result.chains) == 8
    assert all(c.status == "done" for c in result.chains)
    log = _log(handle)
    for port in ports:
        assert f"A request is dispatched to http://127.0.0.1:{port}" in log
    for i in (1, 2):
        assert f'replica {i}/2 | INFO:     127.0.0.1 - "POST /v1/chat/completions' in log


def test_one_replica_failing_at_start_fails_the_start_with_its_own_line(
    fake_lmdeploy, model_dir, handles, monkeypatch
):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    monkeypatch.setenv("FAKE_LMDEPLOY_FAIL_AT_START", "CUDA error: uncorrectable ECC error")
    monkeypatch.setenv("FAKE_LMDEPLOY_ONLY_GPU", "1")
    settings = _settings(model_dir)
    with pytest.raises(ServerStartError) as caught:
        start_backend(settings, available=ALL, gpu=True)
    message = str(caught.value).splitlines()[0]
    assert message.startswith(
        "replica 2/2 failed to start: RuntimeError: CUDA error: uncorrectable ECC error"
    ), message
    # Nothing of the set is left: no process holds the proxy's port or serves a replica.
    assert not any(
        str(settings.port).encode() in p.read_bytes()
        for p in Path("/proc").glob("[0-9]*/cmdline")
        if _readable(p)
    )


def _readable(path: Path) -> bool:
    try:
        path.read_bytes()
    except OSError:
        return False
    return True


def test_a_replica_dying_while_serving_is_reported_and_the_others_carry_on(
    fake_lmdeploy, model_dir, handles, monkeypatch
):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    monkeypatch.setenv("FAKE_LMDEPLOY_DIE_AFTER_REQUESTS", "0")  # its first chat kills it
    monkeypatch.setenv("FAKE_LMDEPLOY_ONLY_GPU", "1")
    monkeypatch.setenv("FAKE_LMDEPLOY_REPLY_DELAY", "0.05")  # the chats overlap: both get some
    handle, notices = _start(model_dir, handles)
    model = handle.model
    results: list[tuple[int, str]] = []
    threads = [
        threading.Thread(
            target=lambda: results.append(chat(handle.port, handle.api_key, model, stream=True))
        )
        for _ in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert eventually(lambda: any("replica 2/2 exited" in n for n in notices), 15), notices
    assert "the proxy no longer sends it requests; 1 of 2 replicas serve" in notices[-1]
    assert [r.state for r in handle.replicas] == ["serving", "exited"]
    status, nodes = _get(handle.port, "/nodes/status", handle.api_key)
    assert list(nodes) == [f"http://127.0.0.1:{handle.replicas[0].port}"]
    assert handle.running
    # Later chains all go to the replica that is left, and finish.
    for _ in range(4):
        code, body = chat(handle.port, handle.api_key, model, stream=True)
        assert code == 200 and "[DONE]" in body


def test_only_a_key_holder_can_add_a_node_and_an_added_one_takes_requests(
    fake_lmdeploy, model_dir, handles, monkeypatch
):
    """LMDeploy's key check skips /nodes; o1tui's proxy guard does not: another local user
    cannot add a server of theirs (it would get questions and the key). The user can add a
    replica started elsewhere, with the key ("More than one machine")."""
    from tests.fakes.openai_server import FakeOpenAIServer

    monkeypatch.setenv("FAKE_LMDEPLOY_REPLY_DELAY", "0.05")
    handle, notices = _start(model_dir, handles)
    with FakeOpenAIServer(api_key=handle.api_key, models=(handle.model,)) as elsewhere:
        node = {"url": elsewhere.url.removesuffix("/v1"), "status": {"models": [handle.model]}}
        assert _post(handle.port, "/nodes/add", node) == 401
        assert _get(handle.port, "/nodes/status")[0] == 401
        assert _post(handle.port, "/nodes/add", node, handle.api_key) == 200
        assert node["url"] in _get(handle.port, "/nodes/status", handle.api_key)[1]
        codes: list[int] = []
        threads = [
            threading.Thread(
                target=lambda: codes.append(
                    chat(handle.port, handle.api_key, handle.model, stream=True)[0]
                )
            )
            for _ in range(12)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert codes == [200] * 12
        # The chats overlap (the replicas answer slowly), so the least busy node, the one
        # elsewhere, gets some of them.
        assert elsewhere.requests
        time.sleep(2.5)  # longer than the set's watch interval: the user's node stays
        assert node["url"] in _get(handle.port, "/nodes/status", handle.api_key)[1]
        assert notices == []


def test_the_guard_leaves_an_unknown_key_check_alone():
    import types

    from backends.proxy_guard import guard_nodes

    class AuthenticationMiddleware:
        def __init__(self, app: object, tokens: list[str]) -> None:
            self.tokens = tokens

    module = types.ModuleType("server_utils")
    module.AuthenticationMiddleware = AuthenticationMiddleware  # type: ignore[attr-defined]
    assert "stay as LMDeploy has them" in guard_nodes(module)
    from tests.fakes.lmdeploy_pkg.lmdeploy.serve.utils import server_utils

    assert "need the API key too" in guard_nodes(server_utils)
    try:
        assert "/nodes" not in server_utils.AuthenticationMiddleware(None, ["k"]).skip_prefixes
    finally:  # the stand-in's class is shared by other tests in this process: restore it
        import importlib

        importlib.reload(server_utils)


# --- the CLI: stop, signals, the key, bad input ---------------------------------------------


def _serve(model_dir: Path, port: int, **extra: str) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "tui.cli", "serve", "--engine", "lmdeploy", "--dp", "2"]
    argv += ["--model", str(model_dir), "--port", str(port)]
    return subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=fake_lmdeploy_env(PYTHONUNBUFFERED="1", **extra),
        cwd=REPO,
    )


def _set_pgid(port: int) -> int | None:
    """The replica set's process group: the runner's, whose proxy listens on ``port``."""
    for entry in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = entry.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"proxy" in argv and str(port).encode() in argv:
            return os.getpgid(int(entry.parent.name))
    return None


@pytest.mark.parametrize("how", ["SIGTERM", "SIGHUP", "pipe"])
def test_serve_dp_leaves_no_process_and_no_key_in_any_command_line(data_dir, model_dir, how):
    key = "dp-test-key-5f0c2a9e"
    port = free_port()
    proc = _serve(model_dir, port, O1TUI_API_KEY=key)
    pgid = None
    try:
        pgid = poll_until(lambda: _set_pgid(port), 60, "the replica set")
        assert proc.stdout is not None
        line = proc.stdout.readline()  # the URL: printed once every replica is registered
        assert line.strip() == f"http://127.0.0.1:{port}/v1".encode()
        assert len(_get(port, "/nodes/status", key)[1]) == 2
        members = group_members(pgid)
        assert len(members) >= 4  # the runner, the proxy, two replicas
        for entry in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                assert key.encode() not in entry.read_bytes(), entry
            except OSError:
                continue
        if how == "pipe":  # `o1tui serve --dp 2 | true`: the reader is gone
            proc.stdout.close()
            proc.send_signal(signal.SIGINT)
        else:
            proc.send_signal(getattr(signal, how))
        proc.wait(60)
        assert eventually(lambda: group_members(pgid) == [], 15), group_members(pgid)
    finally:
        proc.kill()
        if pgid is not None and group_members(pgid):
            os.killpg(pgid, signal.SIGKILL)


@pytest.mark.parametrize(
    ("args", "env", "needle", "code"),
    [
        (["--dp", "0"], {}, "--dp: 'dp' must be between 1 and 64", 2),
        (["--dp", "65"], {}, "--dp: 'dp' must be between 1 and 64", 2),
        (["--dp", "2", "--endpoint", "http://127.0.0.1:9/v1"], {}, "cannot go with --endpoint", 2),
        # The environment is configuration: its errors exit 1, as O1TUI_PORT=0 does.
        ([], {"O1TUI_DP": "0"}, "O1TUI_DP: 'dp' must be between 1 and 64", 1),
        (["--endpoint", "http://127.0.0.1:9/v1"], {"O1TUI_DP": "3"}, "cannot go with", 2),
    ],
)
def test_bad_dp_is_refused_with_one_line(data_dir, args, env, needle, code):
    proc = subprocess.run(
        [sys.executable, "-m", "tui.cli", "ask", "q", *args],
        capture_output=True,
        env=fake_lmdeploy_env(**env),
        cwd=REPO,
        timeout=60,
    )
    err = proc.stderr.decode()
    assert proc.returncode == code, err
    assert len(err.strip().splitlines()) == 1 and err.startswith("o1tui: ") and needle in err


@pytest.mark.parametrize("engine", ["llamacpp", "transformers"])
def test_dp_with_another_engine_is_refused_before_anything_starts(model_dir, engine):
    from backends.engines import EngineUnavailable

    settings = dataclasses.replace(_settings(model_dir), engine=engine)
    with pytest.raises(EngineUnavailable, match="--dp 2 runs LMDeploy replicas"):
        start_backend(settings, available=ALL, gpu=False)


def test_eval_fills_every_replica_by_default():
    from tui.core.config import Settings
    from tui.evals.specs import default_concurrency

    assert default_concurrency(Settings(max_batch_size=32), "lmdeploy", 512) == 32
    assert default_concurrency(Settings(max_batch_size=32, dp=4), "lmdeploy", 512) == 128
    assert default_concurrency(Settings(max_batch_size=256, dp=4), "lmdeploy", 512) == 512
    assert default_concurrency(Settings(dp=4), None, 512) == 1  # an --endpoint: unknown size


def test_keep_alive_keeps_the_whole_set_and_its_keeper_stops_it_once_idle(
    data_dir, model_dir, tmp_path
):
    """`ask --dp 2 --keep-alive 5s`: the set outlives ask (its record 0600), the next ask
    attaches to it, then its keeper stops every process of it once idle."""
    port = free_port()
    run_dir = tmp_path / "run"

    def ask() -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [sys.executable, "-m", "tui.cli", "ask", "q", "--strategy", "plain", "--engine"]
            + ["lmdeploy", "--dp", "2", "--model", str(model_dir), "--port", str(port)]
            + ["--keep-alive", "5s"],
            capture_output=True,
            env=fake_lmdeploy_env(O1TUI_RUNTIME_DIR=str(run_dir)),
            cwd=REPO,
            timeout=60,
        )

    first = ask()
    assert first.returncode == 0, first.stderr.decode()
    pgid = _set_pgid(port)
    try:
        assert pgid is not None and len(group_members(pgid)) >= 4
        second = ask()  # the next o1tui attaches to the kept set through its proxy
        assert second.returncode == 0, second.stderr.decode()
        assert b"using the server kept warm on port" in second.stderr
        assert _set_pgid(port) == pgid
        record = run_dir / f"server-{port}.json"
        assert record.stat().st_mode & 0o777 == 0o600
        assert eventually(lambda: group_members(pgid) == [], 30), group_members(pgid)
        assert not record.exists()
    finally:
        if pgid is not None and group_members(pgid):
            os.killpg(pgid, signal.SIGKILL)


def test_stop_takes_down_every_process_of_the_set(fake_lmdeploy, model_dir, handles):
    handle, _ = _start(model_dir, handles)
    pgid = handle.process.pgid
    assert len(group_members(pgid)) >= 4
    started = time.monotonic()
    handle.stop()
    assert group_members(pgid) == []
    assert time.monotonic() - started < 15


async def test_the_server_screen_lists_each_replica_and_its_state(fake_lmdeploy, model_dir):
    from backends.controller import ManagedServer
    from tests.helpers import wait_until
    from tests.test_server_screen import Host, _info_text

    server = ManagedServer(_settings(model_dir), available=ALL, gpu=True)
    await server.start()
    try:
        assert server.state == "ready"
        ports = [r.port for r in server.handle.replicas]
        app = Host(server)
        async with app.run_test(size=(110, 30)) as pilot:
            await wait_until(pilot, lambda: "Replicas" in _info_text(app))
            text = _info_text(app)
            for i, port in enumerate(ports, 1):
                assert f"replica {i}/2 · port {port} · serving" in text
    finally:
        server.shutdown()
