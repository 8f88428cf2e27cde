"""Groups: N chains of one question run at once against one client, then voted or compared.

Two kinds (:class:`GroupKind`):

- **self-consistency** — ``N`` samples (:data:`MIN_SAMPLES`..\\ :data:`MAX_SAMPLES`) of one
  strategy, sampled at a temperature above zero, then a majority vote over their normalized
  final answers (:func:`tui.core.answers.vote`). The temperature: the options' own when it is
  above 0, else the strategy's default when that is above 0 (native's 0.6), else
  :data:`SAMPLING_TEMPERATURE` (0.7) — greedy decoding would give N copies of one chain
  (g1, plain and thinking default to 0.0; g1's Chinese prompt uses 0.2).
- **compare** — one chain per named strategy, in the order given, at each strategy's own
  settings; no vote.

What a group is (:class:`GroupSpec`, :class:`Group`, :class:`GroupResult`), its events and
its status; :mod:`tui.core.group_runner` runs one (:func:`~tui.core.group_runner.run_group`),
:mod:`tui.store.group_store` saves it.

Failure and cancellation:

- one chain failing (server error, bad output) does not stop the others; it abstains from
  the vote and the group ends with status ``error``;
- cancelling the task that runs the group cancels every chain; each is saved as cancelled
  with the steps it finished, chains still waiting for their turn too, the group row is
  saved (status ``cancelled``, the vote over chains that had finished), a
  :class:`GroupFinished` is sent, then CancelledError propagates;
- ``concurrency`` caps how many chains run at once (llama.cpp's CPU server answers one
  request at a time: the caller passes 1); the others wait their turn, shown as queued.

Statuses: ``done`` when every chain is done; ``cancelled`` when the group was cancelled;
``error`` when any chain failed; else ``step_limit`` (some g1 chain hit its step cap but
still answered, and its answer votes).

Events (``on_event``): :class:`GroupStarted` once, then every chain event wrapped in a
:class:`MemberEvent` with the chain's position (sample number − 1, or the strategy's place
in a compare), then :class:`GroupFinished`. Nothing here imports Textual.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum

from tui.core.answers import VoteResult, vote
from tui.core.chain import (
    Chain,
    Event,
    Status,
    new_chain_id,
    utc_now_iso,
    validate_question,
)
from tui.core.strategies import STRATEGY_NAMES, StrategyOptions, get_strategy
from tui.core.votes import MAX_SAMPLES, MIN_SAMPLES
from tui.lang import normalize_lang

#: Sampling temperature of self-consistency samples when neither the options nor the
#: strategy give one above zero.
SAMPLING_TEMPERATURE = 0.7


class GroupKind(str, Enum):
    #: A vote (:mod:`tui.core.votes`); the value is what the history stores.
    VOTE = "self-consistency"
    COMPARE = "compare"


@dataclass(frozen=True)
class GroupSpec:
    """What to run: the kind, the question and one strategy name per chain, in order.

    Build it with :meth:`self_consistency` or :meth:`compare`, which check their arguments
    (ValueError with one line for the user).
    """

    kind: GroupKind
    question: str
    strategies: tuple[str, ...]

    @classmethod
    def self_consistency(cls, question: str, strategy: str, samples: int) -> GroupSpec:
        name = get_strategy(strategy).name
        if not MIN_SAMPLES <= samples <= MAX_SAMPLES:
            raise ValueError(
                f"a vote takes between {MIN_SAMPLES} and {MAX_SAMPLES} samples (got {samples})"
            )
        return cls(GroupKind.VOTE, validate_question(question), (name,) * samples)

    @classmethod
    def compare(cls, question: str, strategies: Sequence[str]) -> GroupSpec:
        names = [s.strip() for s in strategies if s.strip()]
        unknown = [s for s in names if s.lower() not in STRATEGY_NAMES]
        if unknown:
            raise ValueError(
                f"unknown strategy {unknown[0]!r} to compare: choose from "
                f"{', '.join(STRATEGY_NAMES)}"
            )
        names = [get_strategy(s).name for s in names]
        if len(names) < 2:
            raise ValueError("a comparison needs at least two strategies, e.g. plain,g1")
        if len(set(names)) != len(names):
            raise ValueError("a comparison names a strategy twice")
        return cls(GroupKind.COMPARE, validate_question(question), tuple(names))

    @property
    def size(self) -> int:
        return len(self.strategies)


@dataclass
class Group:
    """The group's own record (its chains are chains of their own, listed by ``chain_ids``)."""

    kind: GroupKind
    question: str
    model: str
    strategies: list[str]
    chain_ids: list[str]
    id: str = field(default_factory=new_chain_id)
    status: Status = Status.RUNNING
    #: The voted answer as its first voter wrote it; None for compare or when nobody answered.
    answer: str | None = None
    #: Normalized answer → number of chains that gave it (winner first); empty for compare.
    votes: dict[str, int] = field(default_factory=dict)
    wall_s: float = 0.0
    created_at: str = field(default_factory=utc_now_iso)
    #: Sampling temperature of a self-consistency group's chains (None: each strategy's own).
    temperature: float | None = None
    error: str | None = None


@dataclass
class GroupResult:
    """A group and its chains (in the group's order), live while it runs."""

    group: Group
    chains: list[Chain]
    #: The vote over finished chains (self-consistency only; None for compare).
    vote: VoteResult | None = None

    @property
    def kind(self) -> GroupKind:
        return self.group.kind

    @property
    def question(self) -> str:
        return self.group.question

    @property
    def status(self) -> Status:
        return self.group.status

    @property
    def wall_s(self) -> float:
        return self.group.wall_s

    @property
    def all_done(self) -> bool:
        """Every chain finished (the CLI exits 0 only then)."""
        return all(c.status == Status.DONE for c in self.chains)


# --- events -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupStarted:
    result: GroupResult


@dataclass(frozen=True)
class MemberEvent:
    """An event of the chain at ``index`` in the group (its order in ``GroupResult.chains``)."""

    index: int
    event: Event


@dataclass(frozen=True)
class GroupFinished:
    result: GroupResult


GroupEvent = GroupStarted | MemberEvent | GroupFinished


# --- the runner -----------------------------------------------------------------------------


def sampling_temperature(strategy: str, options: StrategyOptions, question: str) -> float:
    """The temperature self-consistency samples use (see the module docstring)."""
    if options.temperature is not None and options.temperature > 0:
        return float(options.temperature)
    own = get_strategy(strategy).default_temperature(normalize_lang(options.lang, question))
    return own if own > 0 else SAMPLING_TEMPERATURE


def vote_of(chains: Sequence[Chain], finish_order: Sequence[int]) -> VoteResult:
    """The vote over ``chains`` that answered (done or step limit), taken in the order they
    finished (``finish_order`` holds positions; chains not in it come last, in group order)."""
    order = list(finish_order) + [i for i in range(len(chains)) if i not in finish_order]
    answering = (Status.DONE, Status.STEP_LIMIT)
    return vote(chains[i].final_answer if chains[i].status in answering else None for i in order)


def group_status(chains: Sequence[Chain], cancelled: bool) -> Status:
    """The group's status from its chains' (see the module docstring)."""
    if cancelled:
        return Status.CANCELLED
    statuses = {c.status for c in chains}
    if statuses <= {Status.DONE}:
        return Status.DONE
    if Status.ERROR in statuses or Status.CANCELLED in statuses or Status.RUNNING in statuses:
        return Status.ERROR
    return Status.STEP_LIMIT
