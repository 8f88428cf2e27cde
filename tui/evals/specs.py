"""Strategy specs of an eval: ``g1`` (one chain) or ``g1@5`` (five samples, majority vote)."""

from __future__ import annotations

from dataclasses import dataclass

#: Samples allowed in ``S@N`` (a vote needs two; past 32 a local server only queues them).
MIN_SAMPLES, MAX_SAMPLES = 2, 32
DEFAULT_STRATEGIES = "plain,g1"
#: Seed of a built-in set when none is given (here, not in :mod:`tui.evals.builtin`: the CLI's
#: parser shows it, and building the parser must not generate the sets' tables).
DEFAULT_SEED = 0


def default_concurrency(replicas: int) -> int:
    """Eval items run at once when ``--concurrency`` is not given: one for each replica behind
    the proxy (``dp``), so every replica has work; 1 for one server."""
    return max(1, int(replicas))


@dataclass(frozen=True)
class StrategySpec:
    """A strategy name and how many self-consistency samples (1: a single chain)."""

    name: str
    samples: int = 1

    @property
    def label(self) -> str:
        """How the spec is written and stored: ``g1`` or ``g1@5``."""
        return self.name if self.samples == 1 else f"{self.name}@{self.samples}"


def parse_spec(text: str) -> StrategySpec:
    """One spec; ValueError names what is wrong."""
    from tui.strategies import STRATEGY_NAMES  # lazily: building the CLI parser needs none

    name, sep, count = text.strip().partition("@")
    name = name.strip().lower()
    if name not in STRATEGY_NAMES:
        raise ValueError(f"unknown strategy {name!r}: choose from {', '.join(STRATEGY_NAMES)}")
    if not sep:
        return StrategySpec(name)
    try:
        samples = int(count)
    except ValueError:
        raise ValueError(f"{text.strip()!r}: the sample count after @ must be a number") from None
    if not MIN_SAMPLES <= samples <= MAX_SAMPLES:
        raise ValueError(
            f"{text.strip()!r}: samples must be between {MIN_SAMPLES} and {MAX_SAMPLES}"
        )
    return StrategySpec(name, samples)


def parse_specs(text: str) -> tuple[StrategySpec, ...]:
    """A comma-separated list of specs, in order, each at most once."""
    parts = [p for p in (text or "").split(",") if p.strip()]
    if not parts:
        raise ValueError("no strategy given")
    specs = tuple(parse_spec(p) for p in parts)
    labels = [s.label for s in specs]
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise ValueError(f"strategy given twice: {', '.join(repeated)}")
    return specs
