"""Running a group (:mod:`tui.core.group`): every chain through
:func:`tui.core.runner.run_chain` at once against one client, then the vote.

The API, stable for scripts and the evaluation runner::

    spec = GroupSpec.self_consistency("What is 6*7?", "g1", samples=8)
    result = await run_group(spec, client, StrategyOptions(), history=history, on_event=print)
    result.vote.answer, result.vote.votes, result.wall_s, result.chains, result.status

:func:`run_group` (or :class:`GroupRunner` when the caller needs the live result while it
runs, e.g. to cancel from a signal handler) saves each chain, step by step, as a chain of its
own with ``group_id`` set; the group row is saved by :func:`tui.store.group_store.group_tx`
when the group starts and when it ends, through the history's writer thread (``history.aio``),
never on the event loop. Failure and cancellation: see :mod:`tui.core.group`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from backends.client import ChatClient
from tui.core.chain import Chain, Status
from tui.core.group import (
    Group,
    GroupEvent,
    GroupFinished,
    GroupKind,
    GroupResult,
    GroupSpec,
    GroupStarted,
    MemberEvent,
    group_status,
    sampling_temperature,
    vote_of,
)
from tui.core.runner import CANCELLED_MESSAGE, run_chain
from tui.core.strategies import StrategyOptions, get_strategy
from tui.store.group_store import group_tx

if TYPE_CHECKING:
    from tui.store.history import History

log = logging.getLogger(__name__)


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
        if spec.kind == GroupKind.VOTE:
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
        if group.kind == GroupKind.VOTE:
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
