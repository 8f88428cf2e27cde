"""The real pipeline on the CPU fallback: ``o1tui eval`` starts llama.cpp with SmolLM2-135M,
runs a built-in set under plain and g1, and saves everything. A 135M model proves the
machinery, not reasoning: whatever its accuracy, the run must complete and be stored."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.helpers import LLAMACPP_MARKS
from tui.evals.store import EvalStore
from tui.store.history import History

pytestmark = [
    *LLAMACPP_MARKS,
]

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 5


def test_eval_builtin_set_end_to_end_on_llamacpp(tmp_path):
    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT),
        O1TUI_DATA_DIR=str(tmp_path / "data"),
        O1TUI_CONFIG_DIR=str(tmp_path / "config"),
        O1TUI_LOG_DIR=str(tmp_path / "logs"),
    )
    # Short steps and few of them keep a CPU run to a minute or two; the machinery is the same.
    argv = [sys.executable, "-m", "tui.cli", "eval", "classic", "--limit", str(LIMIT)]
    argv += ["--strategies", "plain,g1", "--engine", "llamacpp", "--json"]
    argv += ["--max-steps", "2", "--param", "max_tokens=64"]
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=900, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads(proc.stdout)
    assert doc["set"] == "classic" and doc["model"]
    rows = {r["strategy"]: r for r in doc["results"]}
    assert list(rows) == ["plain", "g1"]
    for row in rows.values():
        assert row["n"] == LIMIT and 0 <= row["correct"] <= LIMIT
        assert 0.0 <= row["ci_low"] <= row["accuracy"] <= row["ci_high"] <= 1.0
        assert row["mean_s"] > 0 and row["steps"] >= 1
    with History.open(tmp_path / "data") as history:
        store = EvalStore(history)
        (run,) = store.list_runs()
        assert run.status == "done" and run.n_answered == 2 * LIMIT
        for item in store.items(run.id):
            chain = history.get(item.chain_id)
            assert chain is not None and chain.steps and chain.strategy == item.strategy
