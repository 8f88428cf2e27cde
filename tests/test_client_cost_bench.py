"""bench/client_cost_bench.py on a tiny load: it runs every mode against the stand-in server
and reports a figure per mode with its conditions (the bench itself, not a speed target)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_the_bench_reports_every_mode_with_its_conditions() -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "client_cost_bench.py")]
        + ["--items", "3", "--concurrency", "2", "--chunks", "30", "--repeat", "1"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd=REPO,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    runs = [r for r in rows if "mode" in r]
    assert [r["mode"] for r in runs] == ["bare", "client", "plain"]
    assert all(r["chunks"] == 90 and r["cpu_us_per_chunk"] > 0 for r in runs)
    summary = rows[-1]
    assert set(summary["median_cpu_us_per_chunk"]) >= {"bare", "client", "plain", "plain/bare"}
    for key in ("load_avg_1_5_15", "cores", "python", "bytecode"):
        assert key in rows[0]["conditions_before"] and key in summary["conditions_after"]


def test_an_unknown_mode_is_refused() -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "client_cost_bench.py"), "nope"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd=REPO,
        timeout=60,
    )
    assert proc.returncode == 2 and "unknown mode(s): nope" in proc.stderr
