"""``eval``'s default ``--concurrency``: a managed LMDeploy server's batch size, so the GPU is
full; 1 for an endpoint; the user's flag wins."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tui.core.config import Settings
from tui.evals.specs import default_concurrency, lmdeploy_batch_size

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    "kw, gpus, expected",
    [
        ({"max_batch_size": 48}, [], 48),
        ({"max_batch_size": 8}, [], 32),  # raised to the floor, as the command builder does
        ({"server_args": "--max-batch-size 100 --tp 1"}, [], 100),
        ({"server_args": "--max-batch-size=200"}, [], 200),
        ({}, ["NVIDIA H100 80GB HBM3"], 512),
        ({}, ["NVIDIA A100-SXM4-80GB"], 256),
        ({}, ["NVIDIA L40S"], 128),
        ({}, [], 128),
    ],
)
def test_the_batch_size_is_the_one_the_server_is_started_with(kw, gpus, expected):
    assert lmdeploy_batch_size(Settings(**kw), gpu_names=gpus) == expected


def test_only_a_managed_lmdeploy_server_gets_more_than_one():
    settings = Settings(max_batch_size=96)
    assert default_concurrency(settings, "lmdeploy", 512) == 96
    assert default_concurrency(settings, "lmdeploy", 64) == 64
    assert default_concurrency(settings, "llamacpp", 512) == 1
    assert default_concurrency(settings, None, 512) == 1  # an --endpoint of unknown size


def _eval(tmp_path: Path, *extra: str) -> str:
    from backends.supervisor import free_port

    model = tmp_path / "m"
    model.mkdir(exist_ok=True)
    (model / "config.json").write_text("{}")
    set_file = tmp_path / "set.jsonl"
    set_file.write_text(
        "".join(json.dumps({"question": f"{i} + 1?", "answer": i + 1}) + "\n" for i in range(3))
    )
    env = dict(
        os.environ,
        PYTHONPATH=str(REPO),
        PATH=f"{REPO / 'tests' / 'fakes' / 'bin'}{os.pathsep}{os.environ['PATH']}",
        O1TUI_MAX_BATCH_SIZE="40",
    )
    argv = [sys.executable, "-m", "tui.cli", "eval", str(set_file), "--strategies", "plain"]
    argv += ["--engine", "lmdeploy", "--model", str(model), "--port", str(free_port()), *extra]
    proc = subprocess.run(
        argv, capture_output=True, text=True, env=env, cwd=REPO, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_a_managed_server_is_filled_unless_the_user_says(data_dir, tmp_path):
    from tui.evals.store import EvalStore
    from tui.store.history import History

    _eval(tmp_path)
    _eval(tmp_path, "--concurrency", "3")
    with History.open(data_dir) as history:
        runs = EvalStore(history).list_runs()
    assert sorted(r.options["concurrency"] for r in runs) == [3, 40]
