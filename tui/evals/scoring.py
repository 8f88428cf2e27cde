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
import re
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

from tui.evals.store import ITEM_ERROR, EvalRun, EvalStore, ItemResult

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


# --- what one strategy changed against another ---------------------------------------------


def mcnemar_p(a_only: int, b_only: int) -> float:
    """The exact McNemar p-value: two-sided binomial test of the discordant pairs at 1/2.

    Only items one strategy got right and the other wrong say anything about which is better;
    under "no difference" each is equally likely to fall either way, so the count of one kind
    is Binomial(n, 1/2). Exact integers (``math.comb``) keep it right for the few dozen
    discordant items a local run has, where the chi-squared approximation is not.
    """
    n = a_only + b_only
    if n == 0:
        return 1.0
    k = min(a_only, b_only)
    tail = sum(math.comb(n, i) for i in range(k + 1))
    return min(1.0, 2 * tail / (1 << n))  # 1 << n is 2**n, typed int


@dataclass(frozen=True)
class PairResult:
    """Two strategies on the questions both answered: ``a_only`` items only ``a`` got right
    (what ``a`` fixed, against ``b``), ``b_only`` the ones only ``b`` got right (what it
    broke), and McNemar's exact p-value for "the two are equally good"."""

    a: str
    b: str
    a_only: int
    b_only: int
    both: int
    neither: int
    p_value: float
    #: Question indices of the flipped items (a_only then b_only), for opening them.
    a_only_idx: tuple[int, ...] = ()
    b_only_idx: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, object]:
        """The ``--json`` entry of ``"pairs"``."""
        return {
            "a": self.a,
            "b": self.b,
            "a_only": self.a_only,
            "b_only": self.b_only,
            "both": self.both,
            "neither": self.neither,
            "p_value": round(self.p_value, 6),
        }

    def summary(self) -> str:
        """One line: ``g1 vs plain: fixed 12, broke 3, p = 0.02``."""
        from tui.sanitize import clean_line

        return (
            f"{clean_line(self.a, 24)} vs {clean_line(self.b, 24)}: fixed {self.a_only}, "
            f"broke {self.b_only}, p = {format_p(self.p_value)}"
        )


def format_p(p: float) -> str:
    """A p-value as people write it: two significant digits, ``< 0.001`` below that."""
    if p < 0.001:
        return "< 0.001"
    return f"{p:.2g}" if p < 0.1 else f"{p:.2f}"


def pair_result(a: str, b: str, items: Iterable[ItemResult]) -> PairResult:
    """Strategy ``a`` against ``b`` on the questions both answered."""
    right: dict[str, dict[int, bool]] = {a: {}, b: {}}
    for it in items:
        if it.strategy in right:
            right[it.strategy][it.idx] = it.correct
    shared = sorted(right[a].keys() & right[b].keys())
    a_only = tuple(i for i in shared if right[a][i] and not right[b][i])
    b_only = tuple(i for i in shared if right[b][i] and not right[a][i])
    both = sum(1 for i in shared if right[a][i] and right[b][i])
    neither = len(shared) - both - len(a_only) - len(b_only)
    return PairResult(
        a=a,
        b=b,
        a_only=len(a_only),
        b_only=len(b_only),
        both=both,
        neither=neither,
        p_value=mcnemar_p(len(a_only), len(b_only)),
        a_only_idx=a_only,
        b_only_idx=b_only,
    )


def pairs(strategies: Sequence[str], items: Iterable[ItemResult]) -> list[PairResult]:
    """Every pair of the run's strategies, each later one against each earlier one (the
    first strategy is usually the baseline: ``plain,g1`` gives ``g1 vs plain``)."""
    items = list(items)
    return [
        pair_result(strategies[j], strategies[i], items)
        for i in range(len(strategies))
        for j in range(i + 1, len(strategies))
    ]


def run_pairs(first: EvalRun, second: EvalRun, store: EvalStore) -> list[PairResult]:
    """Every strategy of ``second`` against every strategy of ``first``, on the questions
    both answered (the runs must be of one set: :func:`tui.evals.specs.incomparable`).
    Strategies are labelled ``RUNID:strategy`` (the first 8 characters of the id)."""
    from dataclasses import replace

    def labelled(run: EvalRun) -> tuple[list[str], list[ItemResult]]:
        tag = run.id[:8]
        items = [replace(it, strategy=f"{tag}:{it.strategy}") for it in store.items(run.id)]
        return [f"{tag}:{s}" for s in run.strategies], items

    labels_a, items_a = labelled(first)
    labels_b, items_b = labelled(second)
    items = items_a + items_b
    return [pair_result(b, a, items) for b in labels_b for a in labels_a]


# --- results by an item field (MATH-500's level and subject) -------------------------------

#: Item fields results are broken down by, when the set's items carry them.
BREAKDOWN_FIELDS = ("level", "subject")


def breakdowns(
    strategies: Sequence[str],
    items: Iterable[ItemResult],
    metas: Sequence[dict[str, object]],
    fields: Sequence[str] = BREAKDOWN_FIELDS,
) -> dict[str, dict[str, list[StrategyResult]]]:
    """``{field: {value: rows}}`` for each field some question has (``metas[idx]`` is
    question ``idx``'s metadata); values sorted naturally (level 2 before level 10)."""
    items = list(items)
    out: dict[str, dict[str, list[StrategyResult]]] = {}
    for name in fields:
        values = {i: str(m[name]) for i, m in enumerate(metas) if m.get(name) not in (None, "")}
        if not values:
            continue
        groups: dict[str, list[ItemResult]] = {}
        for it in items:
            if it.idx in values:
                groups.setdefault(values[it.idx], []).append(it)
        out[name] = {
            value: results(strategies, groups[value]) for value in sorted(groups, key=_natural_key)
        }
    return out


def _natural_key(text: str) -> tuple[object, ...]:
    """Sort key putting ``Level 2`` before ``Level 10``."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text))


def breakdowns_document(
    found: dict[str, dict[str, list[StrategyResult]]],
) -> dict[str, dict[str, list[dict[str, object]]]]:
    """The ``--json`` form of :func:`breakdowns`."""
    return {
        name: {value: [r.to_dict() for r in rows] for value, rows in groups.items()}
        for name, groups in found.items()
    }


@dataclass(frozen=True)
class RunReport:
    """Everything ``--show``, ``--json`` and the Evaluations screen say about a run."""

    rows: list[StrategyResult]
    pairs: list[PairResult]
    breakdowns: dict[str, dict[str, list[StrategyResult]]]

    def lines(self) -> list[str]:
        """What follows the results table as text: the pairs (what each strategy fixed and
        broke against another) and the per-level and per-subject breakdowns."""
        from tui.sanitize import clean_line

        out: list[str] = []
        if self.pairs:
            out.append("")
            out.append(
                "pairs (a vs b: fixed = only a right, broke = only b right; exact McNemar p)"
            )
            for pair in self.pairs:
                out.append(f"  {pair.summary()} (both {pair.both}, neither {pair.neither})")
        for name, groups in self.breakdowns.items():
            out.append("")
            out.append(f"by {name}")
            for value, rows in groups.items():
                cells = ", ".join(
                    f"{clean_line(r.strategy, 16)} {r.correct}/{r.n} {r.accuracy * 100:.1f}%"
                    for r in rows
                )
                out.append(f"  {clean_line(value, 30)}: {cells}")
        return out

    def to_dict(self) -> dict[str, object]:
        """The report's part of the ``--json`` document."""
        return {
            "results": [r.to_dict() for r in self.rows],
            "pairs": [p.to_dict() for p in self.pairs],
            "breakdowns": breakdowns_document(self.breakdowns),
        }


def run_report(
    store: EvalStore, run: EvalRun, items: Sequence[ItemResult] | None = None
) -> RunReport:
    """The run's results, pairs and breakdowns, from ``items`` (``--show``'s re-scored ones,
    never written) or else its stored items."""
    items = store.items(run.id) if items is None else list(items)
    metas = [q.meta for q in store.questions(run.id)]
    return RunReport(
        rows=results(run.strategies, items),
        pairs=pairs(run.strategies, items),
        breakdowns=breakdowns(run.strategies, items, metas),
    )
