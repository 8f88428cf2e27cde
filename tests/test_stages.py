"""Start-up stages read from real server output (backends.stages)."""

from __future__ import annotations

from pathlib import Path

from backends.stages import StageTracker, bar_text, failure_line

DATA = Path(__file__).parent / "data"

#: LMDeploy 0.18 (PyTorch engine, --log-level INFO) lines in the order the API server prints them.
LMDEPLOY_LINES = [
    "2026-12-02 14:01:02,345 - lmdeploy - INFO - async_engine.py:133 - input backend=pytorch, "
    "backend_config=PytorchEngineConfig(dtype='auto', tp=1)",
    "2026-12-02 14:01:02,400 - lmdeploy - INFO - __init__.py:131 - Build <uni> executor.",
    "2026-12-02 14:01:02,401 - lmdeploy - INFO - base.py:430 - Building Model.",
    "Loading weights from safetensors:   0%|          | 0/4 [00:00<?, ?it/s]",
    "Loading weights from safetensors:  50%|█████     | 2/4 [00:02<00:02,  1.0s/it]",
    "Loading weights from safetensors: 100%|██████████| 4/4 [00:04<00:00,  1.0s/it]",
    "2026-12-02 14:01:07,000 - lmdeploy - INFO - base.py:432 - Updating configs.",
    "2026-12-02 14:01:07,500 - lmdeploy - INFO - base.py:446 - Warming up model.",
    "2026-12-02 14:01:07,501 - lmdeploy - INFO - agent.py:527 - Starting engine warmup. "
    "This may take a while...",
    "Warming up decoding:  45%|████▌     | 5/11 [00:01<00:01,  4.0it/s]",
    "2026-12-02 14:01:10,900 - lmdeploy - INFO - agent.py:566 - Engine warmup completed in 3.40 "
    "seconds.",
    "INFO:     Started server process [4242]",
]


def _walk(engine: str, lines: list[str]) -> list[str]:
    tracker = StageTracker(engine)
    seen = [tracker.progress.label]
    for line in lines:
        if tracker.feed(line):
            seen.append(tracker.progress.label)
    return seen


def test_lmdeploy_stages_in_order_with_counts():
    assert _walk("lmdeploy", LMDEPLOY_LINES) == [
        "importing",
        "model",
        "weights 0/4",
        "weights 2/4",
        "weights 4/4",
        "warm-up",
        "warm-up 5/11",
        "ready",
    ]


def test_the_bar_only_moves_forward():
    tracker = StageTracker("lmdeploy")
    fractions = []
    for line in LMDEPLOY_LINES + ["Loading weights from safetensors: 25%|##  | 1/4"]:
        tracker.feed(line)
        fractions.append(tracker.progress.fraction)
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert tracker.progress.stage == "ready" and tracker.progress.index == 4


def test_llamacpp_stages_from_its_real_output():
    lines = (DATA / "llamacpp_startup.log").read_text().splitlines()
    seen = _walk("llamacpp", lines)
    assert seen == ["importing", "model", "weights", "context", "ready"]


def test_unknown_servers_load_then_are_ready():
    tracker = StageTracker("stand-in")
    assert not tracker.feed("anything at all")
    assert tracker.progress.describe().startswith("loading · stage 1/2")
    tracker.finish()
    assert tracker.progress.stage == "ready" and tracker.progress.fraction == 1.0


def test_bar_text():
    assert bar_text(0.0, 4) == "────" and bar_text(0.5, 4) == "━━──" and bar_text(2, 4) == "━━━━"


def test_failure_line_is_the_servers_own_words():
    assert (
        failure_line(
            [
                "INFO: ok",
                "Traceback (most recent call last):",
                "  File x",
                "RuntimeError: CUDA out of memory",
            ]
        )
        == "RuntimeError: CUDA out of memory"
    )
    check = [
        "2026-12-02 14:01:02,345 - lmdeploy - ERROR - base.py:52 - ImportError: libcuda.so.1",
        "2026-12-02 14:01:02,345 - lmdeploy - ERROR - base.py:53 - <Engine> check failed!",
        "Please check your environment.",
    ]
    assert failure_line(check) == "ImportError: libcuda.so.1"
    assert failure_line(["all fine", "INFO: Uvicorn running"]) is None
