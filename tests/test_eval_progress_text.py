"""The eval's progress line: a rounded percentage and an ETA in whole seconds (an estimate
from a few items has no hundredths)."""

from __future__ import annotations

import pytest

from tui.evals.progress import progress_text
from tui.evals.runner import Progress


@pytest.mark.parametrize(
    "done,total,shown",
    [(1, 6, 17), (5, 6, 83), (1, 3, 33), (2, 3, 67), (0, 6, 0)],
)
def test_percent_is_rounded(done: int, total: int, shown: int) -> None:
    text = progress_text(Progress(done, total, done, 1.0), width=0)
    assert text.startswith(f"{done}/{total} {shown:3d}%  ETA"), text


def test_percent_reaches_100_only_when_done_and_leaves_0_at_the_first_item() -> None:
    assert "199/200  99%" in progress_text(Progress(199, 200, 199, 10.0), width=0)
    assert "1/1000   1%" in progress_text(Progress(1, 1000, 1, 10.0), width=0)
    assert "200/200 100%" in progress_text(Progress(200, 200, 200, 10.0), width=0)


@pytest.mark.parametrize(
    "elapsed,eta",
    [(0.842, "ETA 4 s"), (0.1, "ETA 1 s"), (0.9, "ETA 5 s"), (11.8, "ETA 59 s")],
)
def test_eta_is_whole_seconds(elapsed: float, eta: str) -> None:
    # one item done in ``elapsed`` seconds, five to go
    text = progress_text(Progress(1, 6, 1, elapsed), width=0)
    assert text.endswith(eta), text


def test_eta_above_a_minute_is_minutes_and_whole_seconds() -> None:
    eta = progress_text(Progress(1, 6, 1, 25.0), width=0).split("ETA ")[1]  # 125 s left
    assert eta.startswith("2") and "05" in eta and "." not in eta, eta
