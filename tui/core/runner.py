"""Run one chain: drive a strategy, keep the Chain up to date, save it, tell subscribers.

:func:`run_chain` is the one place where a chain's life is decided: it applies the
strategy's events to the :class:`~tui.core.chain.Chain` (finished steps appended, final answer
set), saves each finished step to the history as it arrives (a crash loses at most the
step in flight), measures the chain's wall time with ``time.perf_counter()``, and ends the
chain with one status:

- ``done`` / ``step_limit``: from the strategy's AnswerFinished;
- ``error``: a :class:`~backends.errors.BackendError` (the message is ``str(err)``, one line
  for the user) or any other exception (saved, then re-raised: that is a bug);
- ``cancelled``: the task was cancelled (Ctrl+C, the app's stop key); saved, ChainFailed
  sent, then CancelledError re-raised so the caller's task ends as cancelled.

Every chain is an independent coroutine holding no global state, so many can run at once
against one server (self-consistency, compare).

``history`` is a :class:`tui.store.history.History` (or its
:class:`~tui.store.history_writer.AsyncHistory`) or None. Its saves are awaited through the history's writer thread, never run on the event
loop: while another process holds the history's write lock, the loop (the app's screen) goes
on, a save that waits longer than the patience stays queued and is written, in order, once
the lock is released, and the chain goes on meanwhile.
``on_event`` is a plain callable that receives every event in order, deltas included.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from backends.client import ChatClient
from backends.errors import BackendError
from backends.redact import redact_urls
from tui.core.chain import (
    AnswerFinished,
    Chain,
    ChainFailed,
    ChainFinished,
    ChainStarted,
    Event,
    Status,
    StepFinished,
)
from tui.core.strategies.base import Strategy, StrategyOptions
from tui.lang import normalize_lang
from tui.sanitize import clean_line

if TYPE_CHECKING:
    from tui.store.history import History
    from tui.store.history_writer import AsyncHistory

CANCELLED_MESSAGE = "cancelled"


def check_question(question: str) -> str:
    """The question as it will be asked; ValueError when there is nothing to ask."""
    if not isinstance(question, str) or not question.strip():
        raise ValueError("the question is empty")
    return question


async def run_chain(
    chain: Chain,
    strategy: Strategy,
    client: ChatClient,
    options: StrategyOptions,
    *,
    history: History | AsyncHistory | None = None,
    on_event: Callable[[Event], None] | None = None,
) -> Chain:
    """Run ``strategy`` on ``chain.question`` and return ``chain`` with its final status.

    Raises ValueError before anything runs when the question is empty or the language
    unknown; re-raises CancelledError and unexpected exceptions after saving the chain.
    BackendError does not propagate: the chain comes back with status ``error``.
    """
    check_question(chain.question)
    lang = normalize_lang(options.lang, chain.question)
    options = options.with_lang(lang)
    chain.lang = lang
    chain.status = Status.RUNNING

    def emit(event: Event) -> None:
        if on_event is not None:
            on_event(event)

    sink = history.aio if history is not None else None
    started = time.perf_counter()
    saved = False
    if sink is not None:
        await sink.start_chain(chain)
        saved = True
    emit(ChainStarted(chain))
    status = Status.DONE
    try:
        async with contextlib.aclosing(strategy.run(chain.question, client, options)) as events:
            async for event in events:
                if isinstance(event, StepFinished):
                    chain.steps.append(event.step)
                    if sink is not None:
                        await sink.add_step(chain.id, event.step)
                elif isinstance(event, AnswerFinished):
                    chain.final_answer = event.text
                    chain.answer_tokens = event.completion_tokens
                    status = event.status
                emit(event)
    except BackendError as err:
        message = clean_line(redact_urls(str(err))) or type(err).__name__
        await _end(chain, Status.ERROR, started, sink if saved else None, error=message)
        emit(ChainFailed(chain, message))
        return chain
    except asyncio.CancelledError:
        await _end(
            chain, Status.CANCELLED, started, sink if saved else None, error=CANCELLED_MESSAGE
        )
        emit(ChainFailed(chain, CANCELLED_MESSAGE))
        raise
    except Exception as err:
        message = clean_line(redact_urls(f"{type(err).__name__}: {err}"))
        await _end(chain, Status.ERROR, started, sink if saved else None, error=message)
        with contextlib.suppress(Exception):
            emit(ChainFailed(chain, message))
        raise
    await _end(chain, status, started, sink if saved else None)
    emit(ChainFinished(chain))
    return chain


async def _end(
    chain: Chain,
    status: Status,
    started: float,
    history: AsyncHistory | None,
    *,
    error: str | None = None,
) -> None:
    """Set the final status and time and save; a failing save never hides the chain's own
    error (it is logged), but on a clean finish it propagates. A cancelled chain cancelled
    again while its save is awaited leaves the save queued (it is written all the same)."""
    chain.status = status
    chain.total_s = time.perf_counter() - started
    chain.error = error
    if history is None:
        return
    if status in (Status.DONE, Status.STEP_LIMIT):
        await history.finish_chain(chain)
        return
    try:
        await history.finish_chain(chain)
    except asyncio.CancelledError:
        if status is not Status.CANCELLED:
            raise
    except Exception as err:  # noqa: BLE001 - the chain's own failure is what the user must see
        # Said in the chain's one error line, never as a traceback on the terminal.
        chain.error = f"{error}; and its end could not be saved: {clean_line(str(err), 300)}"
