"""bench/gpu/eval_bench.py exercised on the CPU against the stand-in server (no figures
asserted: speed targets live in the benchmark's own output)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.fakes.openai_server import FakeOpenAIServer, Reply, demo_responder

ROOT = Path(__file__).resolve().parent.parent


def test_eval_bench_writes_both_runs_with_fixed_length_answers(tmp_path):
    def responder(body):
        reply: Reply = demo_responder(body)
        reply.delay_s = 0.002
        return reply

    with FakeOpenAIServer(api_key="bench-key", responder=responder) as srv:
        out = tmp_path / "bench"
        proc = subprocess.run(
            [sys.executable, str(ROOT / "bench/gpu/eval_bench.py"), "--endpoint", srv.url]
            + ["--api-key", "bench-key", "--out", str(out), "--limit", "4", "--tokens", "32"]
            + ["--concurrency", "1,4"],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        requests = list(srv.requests)
    assert proc.returncode == 0, proc.stderr
    result = json.loads((out / "eval_bench.json").read_text())
    assert [r["concurrency"] for r in result["runs"]] == [1, 4]
    assert all(r["items"] == 4 and r["items_per_min"] > 0 for r in result["runs"])
    assert result["ratio"] > 0 and "items/min" in proc.stdout
    assert len(requests) == 8
    for body in requests:
        assert body["max_tokens"] == 32
        assert body["ignore_eos"] is True and body["min_new_tokens"] == 32
    assert "bench-key" not in (out / "c1" / "stderr.txt").read_text()
