"""Run an eval: every pending (question, strategy) item, K at once, each saved as it finishes.

Items go question by question (question 0 under every strategy, then question 1...), so a run
stopped half-way still compares the strategies on the same questions. ``concurrency`` workers
take items from that queue; each item is one chain (``g1``) or one self-consistency group
(``g1@5``, its samples running at once), against the one client.

An item is saved (:meth:`EvalStore.save_item`) the moment it ends; its chains were saved step
by step by the chain runner. Cancelling (Ctrl+C) cancels the items in flight — their chains are
kept as ``cancelled`` in the history, the items are not recorded, and ``--resume`` runs them
again. A server that fails :data:`MAX_ERRORS_IN_A_ROW` items in a row stops the run
(:class:`EvalAborted`): more would only fill the table with errors. Every save goes through
the history's writer thread (``history.aio``): none waits for the lock on the event loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

from backends.client import ChatClient
from tui.core.chain import Chain, Status
from tui.core.runner import run_chain
from tui.core.strategies import StrategyOptions, get_strategy
from tui.evals.sets import EvalItem
from tui.evals.specs import StrategySpec, parse_spec
from tui.evals.store import (
    CANCELLED,
    DONE,
    ITEM_ERROR,
    RUNNING,
    EvalRun,
    EvalStore,
    ItemResult,
)
from tui.store.history_writer import AsyncHistory

#: Items failing one after another before the run is stopped as failed.
MAX_ERRORS_IN_A_ROW = 5
#: Status of a run stopped by :class:`EvalAborted`.
FAILED = "error"

#: ``judge(final_answer, golds) -> (predicted, correct)``: the normalized answer and whether it
#: matches one of the gold answers.
Judge = Callable[[str, Sequence[str]], tuple[str | None, bool]]
#: ``options_for(question) -> StrategyOptions`` (the language is per question).
OptionsFor = Callable[[str], StrategyOptions]


class EvalAborted(Exception):
    """Too many items failed in a row; the message is the last error, one line."""


@dataclass(frozen=True)
class Progress:
    """Where the run stands after one more item ended."""

    done: int
    total: int
    #: Items answered by this process (the ETA is estimated from these).
    done_here: int
    elapsed_s: float
    last: ItemResult | None = None

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the pace of this process so far; None before the first item."""
        if self.done_here <= 0:
            return None
        return self.elapsed_s / self.done_here * max(self.total - self.done, 0)


def default_judge(final_answer: str, golds: Sequence[str]) -> tuple[str | None, bool]:
    """The shared judge (:func:`tui.core.judge.judge`, the vote's test of "the same answer"):
    what the reply answered, and whether that is one of the gold answers."""
    from tui.core.judge import judge

    verdict = judge(final_answer, golds)
    return verdict.extracted, verdict.correct


def chain_steps(chains: Sequence[Chain]) -> float | None:
    """Mean steps per chain."""
    return sum(len(c.steps) for c in chains) / len(chains) if chains else None


def chain_tokens(chains: Sequence[Chain]) -> int | None:
    """Completion tokens of all the chains (None when no server reported any)."""
    total = sum(c.completion_tokens for c in chains)
    return total if total or any(c.steps for c in chains) else None


class EvalRunner:
    """Runs one eval run's pending items against ``client``; see the module notes."""

    def __init__(
        self,
        store: EvalStore,
        run: EvalRun,
        client: ChatClient,
        options_for: OptionsFor,
        *,
        concurrency: int = 1,
        judge: Judge | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        limit: int | None = None,
        group_concurrency: int | None = None,
    ) -> None:
        self.store = store
        self.run = run
        self.client = client
        self.options_for = options_for
        self.concurrency = max(1, int(concurrency))
        self.judge = judge or default_judge
        self.on_progress = on_progress
        self.questions: list[EvalItem] = store.questions(run.id)
        #: Only the first ``limit`` questions are run (a resumed run keeps its own limit).
        self.limit = limit
        #: Samples of one ``S@N`` item running at once (None: all; 1 for a one-request server).
        self.group_concurrency = group_concurrency
        self._errors_in_a_row = 0
        self._last_error = ""

    def pending(self) -> list[tuple[int, str]]:
        items = self.store.pending(self.run)
        if self.limit is not None:
            items = [(i, s) for i, s in items if i < self.limit]
        return items

    def total(self) -> int:
        n = self.run.n_questions if self.limit is None else min(self.limit, self.run.n_questions)
        return n * len(self.run.strategies)

    async def run_all(self) -> str:
        """Run every pending item; return the run's new status (done, cancelled on
        cancellation — then CancelledError is re-raised — or error via EvalAborted)."""
        todo = self.pending()
        total = self.total()
        done = total - len(todo)
        started = time.perf_counter()
        done_here = 0
        queue: asyncio.Queue[tuple[int, str]] = asyncio.Queue()
        for entry in todo:
            queue.put_nowait(entry)
        await self._set_status(RUNNING)
        abort: list[EvalAborted] = []

        async def worker() -> None:
            nonlocal done, done_here
            while not queue.empty() and not abort:
                idx, label = queue.get_nowait()
                result = await self.run_item(idx, parse_spec(label))
                # Bound now: the save may run after this worker has moved on to its next item.
                await self._writes.put_call(partial(self.store.save_item, self.run.id, result))
                done += 1
                done_here += 1
                if self.on_progress is not None:
                    elapsed = time.perf_counter() - started
                    self.on_progress(Progress(done, total, done_here, elapsed, result))
                if self._count_error(result):
                    abort.append(EvalAborted(self._last_error))

        workers = [asyncio.ensure_future(worker()) for _ in range(self.concurrency)]
        try:
            await asyncio.gather(*workers)
        except asyncio.CancelledError:
            for w in workers:
                w.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            await self._set_status(CANCELLED)
            raise
        except BaseException:
            for w in workers:
                w.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            await self._set_status(FAILED)
            raise
        if abort:
            await self._set_status(FAILED)
            raise abort[0]
        await self._set_status(DONE)
        return DONE

    @property
    def _writes(self) -> AsyncHistory:
        return self.store.history.aio

    async def _set_status(self, status: str) -> None:
        """Set the run's status through the history's writer (queued while another process
        holds the lock, awaited at most its patience)."""
        await self._writes.put_call(partial(self.store.set_status, self.run.id, status))

    def _count_error(self, result: ItemResult) -> bool:
        """Track errors in a row; True when the run should stop."""
        if result.status != ITEM_ERROR:
            self._errors_in_a_row = 0
            return False
        self._errors_in_a_row += 1
        return self._errors_in_a_row >= MAX_ERRORS_IN_A_ROW

    async def run_item(self, idx: int, spec: StrategySpec) -> ItemResult:
        """One question under one strategy, judged."""
        item = self.questions[idx]
        options = self.options_for(item.question)
        question = self.question_text(item, spec, options)
        if spec.samples > 1:
            return await self._run_group(idx, question, item, spec, options)
        chain = Chain(question=question, strategy=spec.name, model=self.client.model)
        await run_chain(
            chain, get_strategy(spec.name), self.client, options, history=self.store.history
        )
        return self._judged_chain(idx, spec, item, chain)

    def question_text(self, item: EvalItem, spec: StrategySpec, options: StrategyOptions) -> str:
        """What is asked: the question, plus the model cards' chain-of-thought line when the
        run recorded that this strategy gets it (plain on a math set)."""
        if not (self.run.prompts.get(spec.label) or {}).get("math_cot"):
            return item.question
        from tui.evals.specs import math_suffix

        return f"{item.question}\n{math_suffix(options.lang or 'en')}"

    def _judged_chain(
        self, idx: int, spec: StrategySpec, item: EvalItem, chain: Chain
    ) -> ItemResult:
        if chain.status == Status.ERROR:
            self._last_error = chain.error or "error"
            predicted, correct = None, False
        else:
            predicted, correct = self.judge(chain.final_answer, item.golds)
        return ItemResult(
            idx=idx,
            strategy=spec.label,
            status=chain.status.value,
            predicted=predicted,
            correct=correct,
            wall_s=chain.total_s,
            tokens=chain_tokens([chain]),
            steps=chain_steps([chain]),
            chain_id=chain.id,
        )

    async def _run_group(
        self,
        idx: int,
        question: str,
        item: EvalItem,
        spec: StrategySpec,
        options: StrategyOptions,
    ) -> ItemResult:
        """A self-consistency item: ``spec.samples`` chains at once, their majority vote
        judged (:mod:`tui.core.group`; every sample is a chain of the history with the group id)."""
        from tui.core.group import GroupSpec
        from tui.core.group_runner import run_group

        group_spec = GroupSpec.self_consistency(question, spec.name, spec.samples)
        result = await run_group(
            group_spec,
            self.client,
            options,
            history=self.store.history,
            concurrency=self.group_concurrency,
        )
        answered = result.vote is not None and result.vote.key is not None
        if answered:
            assert result.vote is not None
            vote = result.vote
            predicted, correct = self.judge(vote.reply or vote.answer or "", item.golds)
            status = Status.DONE.value
        else:
            self._last_error = result.group.error or "no sample answered"
            predicted, correct, status = None, False, ITEM_ERROR
        return ItemResult(
            idx=idx,
            strategy=spec.label,
            status=status,
            predicted=predicted,
            correct=correct,
            wall_s=result.wall_s,
            tokens=chain_tokens(result.chains),
            steps=chain_steps(result.chains),
            group_id=result.group.id,
        )


def options_factory(base: StrategyOptions, lang_setting: str | None) -> OptionsFor:
    """Per-question options: the language from the setting, or detected from the question."""
    from tui.lang import detect_lang

    def options_for(question: str) -> StrategyOptions:
        lang = lang_setting if lang_setting not in (None, "auto") else detect_lang(question)
        return base.with_lang(lang)

    return options_for
