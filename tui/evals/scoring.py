"""Per-strategy results of an eval run, computed from its stored items.

Accuracy comes with a 95 % Wilson score interval: with the few dozen items a local eval has,
the normal approximation's interval runs past 0 and 1 and is too narrow near them; Wilson's
stays inside [0, 1] and keeps its coverage at small n.

An item that ended in an error counts as answered and wrong (the user's model and server did
not give an answer); ``errors`` says how many there were, so a dead server is not mistaken for
a bad model.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

from tui.evals.store import ITEM_ERROR, ItemResult

#: z for a two-sided 95 % interval.
Z95 = 1.959963984540054


def wilson_interval(correct: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval for ``correct`` successes in ``n`` trials; (0, 1) for n = 0."""
    if n <= 0:
        return 0.0, 1.0
    p = correct / n
    z2 = z * z
    denom = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class StrategyResult:
    """One row of the results table."""

    strategy: str
    n: int
    correct: int
    accuracy: float
    ci_low: float
    ci_high: float
    mean_s: float
    median_s: float
    #: Mean completion tokens an item cost (all samples of an ``S@N`` item together).
    tokens: float | None
    #: Mean steps per chain.
    steps: float | None
    errors: int

    def cells(self, strategy_width: int) -> tuple[str, ...]:
        """The row as the results table shows it (the strategy cleaned, cut to
        ``strategy_width``; ``-`` for what was not measured)."""
        from tui.sanitize import clean_line

        return (
            clean_line(self.strategy, strategy_width),
            str(self.n),
            str(self.correct),
            f"{self.accuracy * 100:.1f}%",
            f"{self.ci_low * 100:.0f}-{self.ci_high * 100:.0f}%",
            f"{self.mean_s:.2f}",
            f"{self.median_s:.2f}",
            "-" if self.tokens is None else f"{self.tokens:.0f}",
            "-" if self.steps is None else f"{self.steps:.1f}",
        )

    def to_dict(self) -> dict[str, object]:
        """The ``--json`` row: numbers rounded to what is meaningful."""
        data = asdict(self)
        for key in ("accuracy", "ci_low", "ci_high"):
            data[key] = round(data[key], 4)
        for key in ("mean_s", "median_s"):
            data[key] = round(data[key], 3)
        for key in ("tokens", "steps"):
            if data[key] is not None:
                data[key] = round(data[key], 1)
        return data


def _mean(values: Sequence[float]) -> float | None:
    return statistics.fmean(values) if values else None


def strategy_result(strategy: str, items: Iterable[ItemResult]) -> StrategyResult:
    """Aggregate one strategy's answered items."""
    items = list(items)
    n = len(items)
    correct = sum(1 for it in items if it.correct)
    low, high = wilson_interval(correct, n)
    times = [it.wall_s for it in items]
    return StrategyResult(
        strategy=strategy,
        n=n,
        correct=correct,
        accuracy=correct / n if n else 0.0,
        ci_low=low,
        ci_high=high,
        mean_s=statistics.fmean(times) if times else 0.0,
        median_s=statistics.median(times) if times else 0.0,
        tokens=_mean([float(it.tokens) for it in items if it.tokens is not None]),
        steps=_mean([float(it.steps) for it in items if it.steps is not None]),
        errors=sum(1 for it in items if it.status == ITEM_ERROR),
    )


def results(strategies: Sequence[str], items: Iterable[ItemResult]) -> list[StrategyResult]:
    """One row per strategy, in the run's order (strategies with no items yet have n = 0)."""
    by_strategy: dict[str, list[ItemResult]] = {s: [] for s in strategies}
    for item in items:
        by_strategy.setdefault(item.strategy, []).append(item)
    return [strategy_result(s, its) for s, its in by_strategy.items()]
