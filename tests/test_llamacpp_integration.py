"""The real llama.cpp server with the real SmolLM2-135M GGUF, through the same supervisor.

Checks structure, not wisdom: a 135M model proves the machinery, not reasoning.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from backends.manager import start_backend
from backends.supervisor import ServerState, group_members, probe
from tests.helpers import LLAMACPP_MARKS

pytestmark = [
    *LLAMACPP_MARKS,
    pytest.mark.skipif(not os.path.isdir("/proc"), reason="checks the process table via /proc"),
]

try:
    from tui.core.chain import Chain, Status, StepStarted
    from tui.core.runner import run_chain
    from tui.core.strategies import StrategyOptions, get_strategy

    HAVE_STRATEGIES = True
except ImportError:  # the reasoning core is optional for the server checks
    HAVE_STRATEGIES = False

needs_strategies = pytest.mark.skipif(
    not HAVE_STRATEGIES, reason="tui.core.strategies / tui.core.runner not present"
)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    handle = start_backend(
        None, engine="llamacpp", log_dir=tmp_path_factory.mktemp("logs"), ready_timeout_s=120
    )
    yield handle
    handle.stop(grace_s=5)


def test_server_is_ready_on_loopback_with_the_key(server):
    assert server.engine == "llamacpp" and server.tiny
    assert server.base_url.startswith("http://127.0.0.1:")
    assert server.process.state is ServerState.READY
    assert probe("127.0.0.1", server.port, server.api_key).models == ("smollm2-135m-instruct",)
    assert probe("127.0.0.1", server.port, None).kind == "auth"
    argv = Path(f"/proc/{server.process.pid}/cmdline").read_text().split("\0")
    assert argv[argv.index("--host") + 1] == "127.0.0.1"
    assert server.api_key not in " ".join(argv)


async def test_models_and_a_short_chat_stream(server):
    client = server.client(retries=0)
    try:
        assert await client.list_models() == ["smollm2-135m-instruct"]
        chunks = [
            c
            async for c in client.stream_chat(
                [{"role": "user", "content": "Say hello."}], temperature=0.0, max_tokens=12
            )
        ]
    finally:
        await client.aclose()
    assert "".join(c.content for c in chunks).strip()
    assert chunks[-1].finish_reason in ("stop", "length") or any(c.finish_reason for c in chunks)


def _assert_parsed_steps(chain) -> None:
    assert chain.steps, f"no steps (status {chain.status}, error {chain.error})"
    for step in chain.steps:
        assert step.title.strip() and step.content.strip()
        assert step.elapsed_s is not None and step.elapsed_s >= 0
    assert chain.total_s > 0


@needs_strategies
async def test_g1_chain_finishes_with_parsed_steps(server):
    client = server.client(retries=0)
    chain = Chain("What is 3 + 4?", "g1", server.model)
    options = StrategyOptions(lang="en", max_steps=2, max_tokens=120, final_max_tokens=60)
    try:
        await run_chain(chain, get_strategy("g1"), client, options)
    finally:
        await client.aclose()
    assert chain.status in (Status.DONE, Status.STEP_LIMIT), chain.error
    _assert_parsed_steps(chain)


@needs_strategies
async def test_thinking_chain_finishes_with_parsed_steps(server):
    client = server.client(retries=0)
    chain = Chain("What is 3 + 4?", "thinking", server.model)
    try:
        await run_chain(
            chain, get_strategy("thinking"), client, StrategyOptions(lang="en", max_tokens=120)
        )
    finally:
        await client.aclose()
    assert chain.status in (Status.DONE, Status.STEP_LIMIT), chain.error
    _assert_parsed_steps(chain)


@needs_strategies
async def test_cancel_mid_chain_leaves_the_server_serving(server):
    client = server.client(retries=0)
    started = asyncio.Event()
    chain = Chain("Count to fifty.", "g1", server.model)

    def on_event(event) -> None:
        if isinstance(event, StepStarted):
            started.set()

    task = asyncio.create_task(
        run_chain(
            chain,
            get_strategy("g1"),
            client,
            StrategyOptions(lang="en", max_steps=5, max_tokens=200),
            on_event=on_event,
        )
    )
    await asyncio.wait_for(started.wait(), 60)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await client.aclose()
    assert chain.status is Status.CANCELLED
    assert probe("127.0.0.1", server.port, server.api_key).kind == "ready"


def test_stop_leaves_no_process_behind(tmp_path):
    handle = start_backend(None, engine="llamacpp", log_dir=tmp_path, ready_timeout_s=120)
    pgid = handle.process.pgid
    assert group_members(pgid)
    handle.stop(grace_s=5)
    assert group_members(pgid) == []
    assert handle.process.state is ServerState.STOPPED
    assert probe("127.0.0.1", handle.port, handle.api_key).kind == "down"
    assert handle.api_key not in handle.process.log_path.read_text()


def test_ask_on_the_cpu_fallback_prints_only_its_own_progress(tmp_path):
    """`o1tui ask` with the real llama.cpp: its ~2 000 loader and timing lines go to the log
    file, not to the terminal, and the log holds no `GET /health 404`."""
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parent.parent
    env = dict(
        os.environ,
        PYTHONPATH=str(repo),
        O1TUI_DATA_DIR=str(tmp_path / "data"),
        O1TUI_CONFIG_DIR=str(tmp_path / "config"),
        O1TUI_LOG_DIR=str(tmp_path / "logs"),
    )
    argv = [sys.executable, "-m", "tui.cli", "ask", "What is 3 + 4?", "--engine", "llamacpp"]
    argv += ["--strategy", "plain", "--param", "max_tokens=16"]
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (log,) = (tmp_path / "logs").glob("llamacpp-*.log")
    err = proc.stderr.splitlines()
    assert err[-2] == f"o1tui: starting llama.cpp with smollm2-135m-instruct; server log: {log}"
    assert err[-1].startswith("o1tui: llama.cpp ready after ")
    assert len(err) <= 4 and "llama_" not in proc.stderr + proc.stdout
    text = log.read_text()
    assert "llama_" in text and "/v1/chat/completions" in text  # the lines are in the log
    assert "/health" not in text


@needs_strategies
async def test_a_two_sample_group_on_the_one_request_server(server):
    """llama.cpp serves one request at a time. Both chains sent at once must queue, not cut
    each other short (the managed server runs with --interrupt_requests false), and the
    handle tells groups to run one chain at a time."""
    from tui.core.group import GroupSpec
    from tui.core.group_runner import run_group

    assert server.concurrency == 1
    spec = GroupSpec.self_consistency("What is 3 + 4?", "plain", 2)
    options = StrategyOptions(lang="en", max_tokens=24)
    for concurrency in (None, server.concurrency):
        client = server.client(retries=0)
        try:
            result = await run_group(spec, client, options, concurrency=concurrency)
        finally:
            await client.aclose()
        assert [c.status for c in result.chains] == [Status.DONE, Status.DONE], [
            c.error for c in result.chains
        ]
        for chain in result.chains:
            _assert_parsed_steps(chain)
            # a stream cut short by another request ends without a finish_reason
            assert chain.steps[-1].finish_reason in ("stop", "length")
        assert result.vote is not None and result.vote.ballots + result.vote.abstained == 2
