"""bench/gpu/math500_bench.py exercised on the CPU against the stand-in server (no figures
asserted: the speed goals live in the benchmark's own output on the GPU)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.fakes.openai_server import FakeOpenAIServer, Reply, demo_responder

ROOT = Path(__file__).resolve().parent.parent
COT = "Please reason step by step, and put your final answer within \\boxed{}."


def test_math500_bench_asks_both_clients_the_same_at_evals_default_concurrency(tmp_path):
    def responder(body):
        reply: Reply = demo_responder(body)
        reply.delay_s = 0.001
        return reply

    out = tmp_path / "bench"
    env = dict(os.environ, O1TUI_MAX_BATCH_SIZE="40", O1TUI_CONFIG_DIR=str(tmp_path / "cfg"))
    with FakeOpenAIServer(api_key="bench-key", responder=responder) as srv:
        proc = subprocess.run(
            [sys.executable, str(ROOT / "bench/gpu/math500_bench.py"), "--endpoint", srv.url]
            + ["--api-key", "bench-key", "--out", str(out), "--items", "10"]
            + ["--max-tokens", "16", "--warmup", "2"],
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
            check=False,
        )
        requests = list(srv.requests)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result == json.loads((out / "math500_bench.json").read_text())
    assert result["concurrency"] == 40  # eval's default against a server of batch 40
    assert result["o1tui"]["items"] == 10 and result["bare_openai"]["items"] == 10
    assert result["o1tui"]["errors"] == 0 and result["ratio"] > 0
    assert set(result["goals"]) == {"ratio >= 0.9", "o1tui wall_s <= 300"}

    # The generated file is MATH-500-shaped and went through the real loader.
    first = json.loads((out / "math500.jsonl").read_text().splitlines()[0])
    assert set(first) == {"problem", "solution", "answer", "subject", "level", "unique_id"}

    measured = requests[2:]  # after the warm-up
    assert len(measured) == 20
    bare, o1 = measured[:10], measured[10:]
    asked = [[m["content"] for m in b["messages"] if m["role"] == "user"] for b in measured]
    assert all(len(u) == 1 and u[0].endswith("\n" + COT) for u in asked)
    assert sorted(map(tuple, asked[:10])) == sorted(map(tuple, asked[10:]))
    for body in bare + o1:
        assert body["max_tokens"] == 16 and body["temperature"] == 0.0
        assert body["ignore_eos"] is True and body["min_new_tokens"] == 16
    assert "bench-key" not in (out / "o1tui" / "stderr.txt").read_text()
