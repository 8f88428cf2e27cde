"""Start-up stages read from real server output (backends.stages)."""

from __future__ import annotations

from pathlib import Path

from backends.stages import StageTracker, bar_text, failure_line

DATA = Path(__file__).parent / "data"

#: LMDeploy 0.18.0's start-up (PyTorch engine in-process, --log-level INFO) on an H200.
LMDEPLOY_LINES = (DATA / "lmdeploy_startup.log").read_text(encoding="utf-8").splitlines()


def _walk(engine: str, lines: list[str]) -> list[str]:
    tracker = StageTracker(engine)
    seen = [tracker.progress.label]
    for line in lines:
        if tracker.feed(line):
            seen.append(tracker.progress.label)
    return seen


def test_lmdeploy_stages_in_order_with_counts():
    seen = _walk("lmdeploy", LMDEPLOY_LINES)
    assert seen[:4] == ["importing", "model", "weights 0/4", "weights 1/4"]
    weights_end = seen.index("weights 4/4")
    assert seen[weights_end + 1 : weights_end + 3] == ["warm-up", "warm-up 0/12"]
    assert seen[-2:] == ["warm-up 12/12", "ready"]
    assert [s.split()[0] for s in seen] == sorted(
        (s.split()[0] for s in seen),
        key=["importing", "model", "weights", "warm-up", "ready"].index,
    )


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
