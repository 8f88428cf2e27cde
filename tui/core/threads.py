"""Threads: chains linked by ``parent_id``, and the earlier turns a follow-up sends.

A follow-up is an ordinary chain whose ``parent_id`` names the chain it continues. What it
sends the model besides its own question is the thread so far as a conversation: each earlier
question and its **final answer** only, oldest first. g1's step JSON and a model's thinking
are never sent: reasoning models are meant to get their earlier thinking dropped, and it keeps
the context small. The strategy's own system prompt stays first and unchanged (see
:func:`tui.core.strategies.base.conversation`).

When the earlier turns do not fit the model's context, the oldest are dropped first and the
chain says so (:func:`tui.core.chain.dropped_note`). The budget (docs/decisions.md,
"Follow-ups: the context budget"): the earlier turns may take at most :data:`TURN_SHARE` of
the context, measured with a conservative estimate of tokens (:func:`estimate_tokens`); the
rest is for the strategy's prompt, its own steps and its answer. The context is what the server reports in
``/v1/models``, else LMDeploy's ``session_len`` when o1tui set it, else llama.cpp's ``n_ctx``
of the server o1tui started, else :data:`DEFAULT_CONTEXT_TOKENS`.

Used by the CLI (``ask -c/--cid``) and the app alike; nothing here imports Textual.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from backends.client import ChatClient
    from backends.manager import ServerHandle
    from tui.core.chain import Chain
    from tui.core.config import Settings
    from tui.core.strategies.base import StrategyOptions

#: The context assumed when neither the server nor the engine says (tokens). Small on purpose:
#: a too-small guess drops turns that would have fit (and says so); a too-large one makes the
#: server refuse the request.
DEFAULT_CONTEXT_TOKENS = 4096
#: Share of the context the earlier turns may take.
TURN_SHARE = 0.5
#: Tokens a chat template adds around each message (role markers), counted generously.
MESSAGE_OVERHEAD_TOKENS = 8
#: llama.cpp's context in the server o1tui starts (backends.engines.ServerOptions.n_ctx).
LLAMACPP_N_CTX = 8192

# Han, kana, Hangul: about one token a character in the models' tokenizers.
_WIDE = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")


class ThreadError(ValueError):
    """A chain that cannot be followed up; the message is one line for the user."""


@dataclass(frozen=True)
class Turn:
    """One earlier turn as it is sent: the question and its final answer."""

    question: str
    answer: str


@dataclass(frozen=True)
class FollowUp:
    """What a follow-up sends before its question, and what was left out."""

    #: The earlier turns as chat messages (user, assistant, user, assistant, …), oldest first.
    messages: tuple[dict[str, str], ...]
    #: How many of the oldest turns did not fit.
    dropped: int
    #: The context length the budget came from (tokens), and where that figure came from.
    context_tokens: int
    source: str


def estimate_tokens(text: str) -> int:
    """A conservative token count without a tokenizer: a CJK character is one token, other
    text one token per 3 characters (English averages about 4)."""
    wide = len(_WIDE.findall(text))
    return wide + -(-(len(text) - wide) // 3)


def check_parent(chain: Chain) -> None:
    """Raise :class:`ThreadError` unless ``chain`` can be followed up: a chain still running,
    cancelled or failed has no answer to carry, unless it has a final answer all the same."""
    if (chain.final_answer or "").strip():
        return
    status = getattr(chain.status, "value", str(chain.status))
    why = {
        "running": "is still running",
        "cancelled": "was cancelled",
        "error": "failed",
    }.get(status, "has no final answer")
    raise ThreadError(
        f"chain {chain.id} {why} and has no final answer to continue from; ask it again instead"
    )


def turns_of(thread: Sequence[Chain]) -> list[Turn]:
    """The turns of ``thread`` (root first) as they are sent: question and final answer."""
    return [Turn(c.question, (c.final_answer or "").strip()) for c in thread]


def turn_messages(turns: Sequence[Turn]) -> tuple[dict[str, str], ...]:
    """``turns`` as alternating user/assistant messages."""
    out: list[dict[str, str]] = []
    for turn in turns:
        out.append({"role": "user", "content": turn.question})
        out.append({"role": "assistant", "content": turn.answer})
    return tuple(out)


def fit_turns(
    turns: Sequence[Turn], question: str, context_tokens: int, source: str = "default"
) -> FollowUp:
    """The newest turns whose estimate, with ``question``'s, fits :data:`TURN_SHARE` of
    ``context_tokens``; the oldest go first."""
    budget = int(context_tokens * TURN_SHARE) - estimate_tokens(question)
    cost = [
        estimate_tokens(t.question) + estimate_tokens(t.answer) + 2 * MESSAGE_OVERHEAD_TOKENS
        for t in turns
    ]
    keep = len(turns)
    while keep and sum(cost[len(turns) - keep :]) > budget:
        keep -= 1
    kept = list(turns)[len(turns) - keep :]
    return FollowUp(turn_messages(kept), len(turns) - keep, context_tokens, source)


def context_tokens(
    reported: int | None, *, engine: str | None = None, session_len: int | None = None
) -> tuple[int, str]:
    """The model's context length and where it came from: the server's report first, then
    what o1tui configured for the engine it started, then :data:`DEFAULT_CONTEXT_TOKENS`."""
    if reported:
        return reported, "the server"
    if engine == "lmdeploy" and session_len:
        return session_len, "LMDeploy's session_len"
    if engine == "llamacpp":
        return LLAMACPP_N_CTX, "llama.cpp's n_ctx"
    return DEFAULT_CONTEXT_TOKENS, "o1tui's default"


async def reported_context(client: Any) -> int | None:
    """What ``client``'s server reports as its context length, when it can say."""
    ask = getattr(client, "context_window", None)
    if ask is None:
        return None
    value = await ask()
    return value if isinstance(value, int) else None


async def follow_up(
    client: Any,
    thread: Sequence[Chain],
    question: str,
    *,
    engine: str | None = None,
    session_len: int | None = None,
) -> FollowUp:
    """The earlier turns of ``thread`` (root first, the parent last) that a follow-up with
    ``question`` sends through ``client``. Raises :class:`ThreadError` when the parent cannot
    be followed up."""
    if not thread:
        return FollowUp((), 0, 0, "")
    check_parent(thread[-1])
    reported = await reported_context(client)
    tokens, source = context_tokens(reported, engine=engine, session_len=session_len)
    return fit_turns(turns_of(thread), question, tokens, source)


def turn_count(turns: int) -> str:
    """``3 turns`` / ``1 turn``."""
    return f"{turns} turn" + ("" if turns == 1 else "s")


async def continue_thread(
    chain: Chain,
    options: StrategyOptions,
    client: ChatClient,
    thread: Sequence[Chain],
    server: ServerHandle | None,
    settings: Settings,
) -> StrategyOptions:
    """Make ``chain`` a follow-up of ``thread`` (root first, the parent last): set its
    ``parent_id`` and ``dropped_turns`` and return ``options`` carrying the earlier turns that
    fit the context of ``server`` (its engine; None: an endpoint) and ``settings.session_len``.
    Raises :class:`ThreadError` when the parent cannot be followed up."""
    from dataclasses import replace

    if not thread:
        return options
    engine = server.engine if server is not None else None
    fitted = await follow_up(
        client, thread, chain.question, engine=engine, session_len=settings.session_len
    )
    chain.parent_id = thread[-1].id
    chain.dropped_turns = fitted.dropped
    return replace(options, earlier=fitted.messages)


def voted_chain(chains: Sequence[Chain], key: str | None) -> Chain | None:
    """The chain a follow-up to a vote continues: the first whose answer is the voted one."""
    from tui.core.answers import extract_answer, normalize_answer

    if key is None:
        return None
    for chain in chains:
        if chain.final_answer and normalize_answer(extract_answer(chain.final_answer)) == key:
            return chain
    return None
