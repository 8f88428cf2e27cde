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

The API, stable for scripts and the evaluation runner::

    spec = GroupSpec.self_consistency("What is 6*7?", "g1", samples=8)
    result = await run_group(spec, client, StrategyOptions(), history=history, on_event=print)
    result.vote.answer, result.vote.votes, result.wall_s, result.chains, result.status

:func:`run_group` (or :class:`GroupRunner` when the caller needs the live result while it
runs, e.g. to cancel from a signal handler) runs every chain through
:func:`tui.core.runner.run_chain`, so each chain is saved, step by step, as a chain of its own
with ``group_id`` set; the group row (kind, voted answer, votes, wall time) is saved by
:mod:`tui.store.group_store` when the group starts and when it ends. Every save goes through the
history's writer thread (``history.aio``), never on the event loop.

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

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import TYPE_CHECKING, Any

from backends.client import ChatClient
from backends.engines import MIN_CONCURRENT_SEQUENCES
from tui.core.answers import VoteResult, vote
from tui.core.chain import (
    Chain,
    Event,
    Status,
    new_chain_id,
    utc_now_iso,
    validate_question,
)
from tui.core.runner import CANCELLED_MESSAGE, run_chain
from tui.core.strategies import STRATEGY_NAMES, StrategyOptions, get_strategy
from tui.lang import normalize_lang

if TYPE_CHECKING:
    from tui.store.history import History

log = logging.getLogger(__name__)

#: Fewest samples a vote makes sense with.
MIN_SAMPLES = 2
#: Most samples of one group: the managed LMDeploy server is never started with room for fewer
#: concurrent sequences than this, so a whole group decodes in one batch.
MAX_SAMPLES = MIN_CONCURRENT_SEQUENCES
#: Sampling temperature of self-consistency samples when neither the options nor the
#: strategy give one above zero.
SAMPLING_TEMPERATURE = 0.7


class GroupKind(str, Enum):
    SELF_CONSISTENCY = "self-consistency"
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
                f"--samples must be between {MIN_SAMPLES} and {MAX_SAMPLES} (got {samples})"
            )
        return cls(GroupKind.SELF_CONSISTENCY, validate_question(question), (name,) * samples)

    @classmethod
    def compare(cls, question: str, strategies: Sequence[str]) -> GroupSpec:
        names = [s.strip() for s in strategies if s.strip()]
        unknown = [s for s in names if s.lower() not in STRATEGY_NAMES]
        if unknown:
            raise ValueError(
                f"unknown strategy {unknown[0]!r} in --compare: choose from "
                f"{', '.join(STRATEGY_NAMES)}"
            )
        names = [get_strategy(s).name for s in names]
        if len(names) < 2:
            raise ValueError("--compare needs at least two strategies, e.g. plain,g1")
        if len(set(names)) != len(names):
            raise ValueError("--compare names a strategy twice")
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


#: How long a cancelled chain may take to stop before it is cancelled again (a cancellation
#: can be lost in a library's wait, e.g. asyncio.wait_for before Python 3.12).
CANCEL_RETRY_S = 0.5


async def _cancel_all(tasks: Sequence[asyncio.Future[Any]]) -> None:
    """Cancel ``tasks`` and wait until every one has ended, cancelling again while any runs
    on; a second cancellation of the caller meanwhile does not cut this short."""
    pending = {t for t in tasks if not t.done()}
    while pending:
        for task in pending:
            task.cancel()
        try:
            _, pending = await asyncio.wait(pending, timeout=CANCEL_RETRY_S)
        except asyncio.CancelledError:
            continue


class GroupRunner:
    """Runs one group; :attr:`result` is the live result from construction on.

    ``history`` is a :class:`tui.store.history.History` (or None); ``on_event`` receives
    :data:`GroupEvent` objects in order. See :func:`run_group` for the arguments.
    """

    def __init__(
        self,
        spec: GroupSpec,
        client: ChatClient,
        options: StrategyOptions,
        *,
        history: History | None = None,
        on_event: Callable[[GroupEvent], None] | None = None,
        concurrency: int | None = None,
        lang: str | None = None,
    ) -> None:
        self.spec = spec
        self.client = client
        self.history = history
        self.on_event = on_event
        self.concurrency = concurrency if concurrency and concurrency > 0 else None
        temperature = None
        if spec.kind == GroupKind.SELF_CONSISTENCY:
            temperature = sampling_temperature(spec.strategies[0], options, spec.question)
            options = replace(options, temperature=temperature)
        self.options = options
        model = str(getattr(client, "model", "") or "")
        chains = [
            Chain(question=spec.question, strategy=name, model=model, lang=lang)
            for name in spec.strategies
        ]
        group = Group(
            kind=spec.kind,
            question=spec.question,
            model=model,
            strategies=list(spec.strategies),
            chain_ids=[c.id for c in chains],
            temperature=temperature,
        )
        for chain in chains:
            chain.group_id = group.id
        self.result = GroupResult(group, chains)
        self._finish_order: list[int] = []

    def _emit(self, event: GroupEvent) -> None:
        if self.on_event is not None:
            self.on_event(event)

    async def _save(self) -> None:
        if self.history is not None:
            from tui.store.group_store import group_tx

            await self.history.aio.put(group_tx(self.result.group))

    async def run(self) -> GroupResult:
        """Run every chain; return the result (re-raise CancelledError after saving)."""
        result = self.result
        started = time.perf_counter()
        await self._save()
        if self.history is not None:
            # Every chain is in the history from the start (queued ones too), so a crash
            # leaves the whole group there, each chain with the steps it finished.
            await self.history.aio.start_chains(result.chains)
        self._emit(GroupStarted(result))
        gate = asyncio.Semaphore(self.concurrency) if self.concurrency else None
        tasks = [
            asyncio.ensure_future(self._run_one(index, gate)) for index in range(len(result.chains))
        ]
        cancelled = False
        try:
            # asyncio.wait, unlike gather, leaves the chains alone when this task is cancelled:
            # _cancel_all then stops them and makes sure they stopped.
            await asyncio.wait(tasks)
        except asyncio.CancelledError:
            cancelled = True
            await _cancel_all(tasks)
        finally:
            if not cancelled and any(not t.done() for t in tasks):
                await _cancel_all(tasks)  # an unexpected error here: no chain left running
            await self._finish(started, cancelled)
        if cancelled:
            raise asyncio.CancelledError
        return result

    async def _run_one(self, index: int, gate: asyncio.Semaphore | None) -> None:
        chain = self.result.chains[index]
        try:
            async with gate if gate is not None else contextlib.nullcontext():
                await run_chain(
                    chain,
                    get_strategy(chain.strategy),
                    self.client,
                    self.options,
                    history=self.history,
                    on_event=lambda event: self._emit(MemberEvent(index, event)),
                )
        except asyncio.CancelledError:
            if chain.status == Status.RUNNING:  # cancelled while waiting for its turn
                chain.status, chain.error = Status.CANCELLED, CANCELLED_MESSAGE
                if self.history is not None:
                    with contextlib.suppress(Exception):
                        await self.history.aio.finish_chain(chain)
            raise
        except Exception:
            # run_chain saved the chain as error; the others go on.
            log.exception("chain %s of group %s failed", chain.id, self.result.group.id)
        finally:
            self._finish_order.append(index)

    async def _finish(self, started: float, cancelled: bool) -> None:
        result, group = self.result, self.result.group
        group.wall_s = time.perf_counter() - started
        group.status = group_status(result.chains, cancelled)
        if group.kind == GroupKind.SELF_CONSISTENCY:
            result.vote = vote_of(result.chains, self._finish_order)
            group.answer, group.votes = result.vote.answer, dict(result.vote.votes)
        failed = [c for c in result.chains if c.status in (Status.ERROR,)]
        group.error = (
            f"{len(failed)} of {len(result.chains)} chains failed: {failed[0].error}"
            if failed
            else None
        )
        try:
            await self._save()
        except Exception:
            log.exception("could not save group %s", group.id)
            if not cancelled:
                raise
        finally:
            self._emit(GroupFinished(result))


async def run_group(
    spec: GroupSpec,
    client: ChatClient,
    options: StrategyOptions,
    *,
    history: History | None = None,
    on_event: Callable[[GroupEvent], None] | None = None,
    concurrency: int | None = None,
    lang: str | None = None,
) -> GroupResult:
    """Run the group ``spec`` against ``client`` and return its result.

    ``options`` apply to every chain (a self-consistency group overrides the temperature,
    see :func:`sampling_temperature`); ``history`` saves the group and every chain;
    ``on_event`` gets :data:`GroupEvent` objects; ``concurrency`` caps the chains running at
    once (None: all); ``lang`` is stored on each chain up front (run_chain sets it anyway).
    Chain failures do not raise: look at ``result.status`` and each chain's. Cancelling the
    awaiting task cancels every chain and re-raises CancelledError after saving.
    """
    runner = GroupRunner(
        spec,
        client,
        options,
        history=history,
        on_event=on_event,
        concurrency=concurrency,
        lang=lang,
    )
    return await runner.run()
