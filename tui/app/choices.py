"""What the strategy switcher offers (Ctrl+t cycles it, the palette lists it as "Strategy: …",
F5 picks a group mode): a strategy, which runs a question as one chain, or a group mode, which
runs it as a group of chains (tui.core.group: a vote of samples, or a compare of strategies).

The two are distinct types, so the code that starts a question knows from the type whether it
gets a chain or a group back. tui.core.group (the runner, the strategies, the vote) is imported when
a group starts, not with the app: the first frame does not wait for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tui.core.strategies import STRATEGY_NAMES

if TYPE_CHECKING:
    from tui.core.group import GroupSpec

#: Samples of the switcher's vote modes (within tui.core.group's MIN_SAMPLES..MAX_SAMPLES).
VOTE_SAMPLES = 8


def vote_label(strategy: str, samples: int) -> str:
    """How the switcher names a vote: ``g1@8 vote`` (:func:`tui.core.votes.vote_label`)."""
    from tui.core import votes  # on first use: its limits load the engine tables (first frame)

    return f"{votes.vote_label(strategy, samples)} vote"


def compare_label(strategies: Sequence[str]) -> str:
    """How a compare is named to users: ``compare plain/g1/thinking``."""
    return "compare " + "/".join(strategies)


@dataclass(frozen=True)
class StrategyChoice:
    """Run the question as one chain of strategy ``name``."""

    name: str

    @property
    def label(self) -> str:
        return self.name


@dataclass(frozen=True)
class VoteChoice:
    """Run the question ``samples`` times with ``strategy`` and vote on the answers."""

    strategy: str
    samples: int

    @property
    def label(self) -> str:
        return vote_label(self.strategy, self.samples)

    def spec(self, question: str) -> GroupSpec:
        """The group to run (ValueError, one line, when tui.core.group refuses it)."""
        from tui.core.group import GroupSpec

        return GroupSpec.self_consistency(question, self.strategy, self.samples)


@dataclass(frozen=True)
class CompareChoice:
    """Run the question once with each of ``strategies``, side by side."""

    strategies: tuple[str, ...]

    @property
    def label(self) -> str:
        return compare_label(self.strategies)

    def spec(self, question: str) -> GroupSpec:
        """The group to run (ValueError, one line, when tui.core.group refuses it)."""
        from tui.core.group import GroupSpec

        return GroupSpec.compare(question, self.strategies)


#: A way to run a question as a group.
GroupChoice = VoteChoice | CompareChoice
#: An entry of the strategy switcher.
Choice = StrategyChoice | GroupChoice

#: The switcher's group modes, in its order (after the strategies).
GROUP_CHOICES: tuple[GroupChoice, ...] = (
    VoteChoice("g1", VOTE_SAMPLES),
    VoteChoice("thinking", VOTE_SAMPLES),
    CompareChoice(("plain", "g1", "thinking")),
)
#: The switcher's entries: the strategies, then the group modes.
CHOICES: tuple[Choice, ...] = (
    *(StrategyChoice(name) for name in STRATEGY_NAMES),
    *GROUP_CHOICES,
)


def choice_named(label: str | None, choices: Sequence[Choice] = CHOICES) -> Choice | None:
    """The entry of ``choices`` that users know as ``label``; None when there is none."""
    return next((c for c in choices if c.label == label), None)


def next_choice(current: Choice, choices: Sequence[Choice]) -> Choice:
    """The entry after ``current`` (round the end); the first when ``current`` is not one."""
    if current not in choices:
        return choices[0]
    return choices[(list(choices).index(current) + 1) % len(choices)]
