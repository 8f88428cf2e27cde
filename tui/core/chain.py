"""The data of one reasoning chain and the events a strategy emits while it runs.

Plain dataclasses, no I/O: the runner applies events to a :class:`Chain`, the history
store persists it, the CLI and the app render it. Nothing here imports Textual.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from enum import Enum
from typing import Any

from tui.core.repetition import repetition_note


class Status(str, Enum):
    """Where a chain stands. ``running`` only while a process is working on it."""

    RUNNING = "running"
    DONE = "done"
    CANCELLED = "cancelled"
    ERROR = "error"
    STEP_LIMIT = "step_limit"


#: Statuses after which a chain never changes again.


def new_chain_id() -> str:
    """A short, unique, sortable-enough id that is easy to type (12 hex chars)."""
    return uuid.uuid4().hex[:12]


def utc_now_iso() -> str:
    """Current time as an ISO-8601 UTC string with seconds precision."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


@dataclass
class Step:
    """One finished (or in-flight) reasoning step.

    ``parsed`` is False when the model's output could not be parsed into a title and
    content (g1's JSON): the content then holds the raw text, shown as text, never as JSON.
    """

    index: int
    title: str = ""
    content: str = ""
    elapsed_s: float = 0.0
    ttft_s: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    parsed: bool = True
    finish_reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Step:
        names = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in names})


def dropped_note(dropped: int) -> str | None:
    """The chain's note when turns of its thread were left out to fit the model's context
    (:mod:`tui.core.threads` leaves them out), else None."""
    if dropped <= 0:
        return None
    what = (
        "the oldest earlier turn was"
        if dropped == 1
        else f"the {dropped} oldest earlier turns were"
    )
    return f"{what} left out to fit the model's context"


@dataclass
class Chain:
    """A question, the strategy that reasoned about it, and what came of it."""

    question: str
    strategy: str
    model: str
    id: str = field(default_factory=new_chain_id)
    status: Status = Status.RUNNING
    steps: list[Step] = field(default_factory=list)
    final_answer: str = ""
    total_s: float = 0.0
    created_at: str = field(default_factory=utc_now_iso)
    error: str | None = None
    lang: str | None = None
    #: Chains of one question run together (self-consistency, compare) share a group id.
    group_id: str | None = None
    #: Tokens of the final answer outside the steps (see AnswerFinished.completion_tokens).
    answer_tokens: int | None = None
    #: The chain this one follows up (a thread: see :mod:`tui.core.threads`); None for a first turn.
    parent_id: str | None = None
    #: How many of the oldest earlier turns were left out to fit the model's context.
    dropped_turns: int = 0

    @property
    def note(self) -> str | None:
        """What the reader should know about how the chain ran: o1tui ended a repeating g1
        chain, or left the oldest turns of its thread out of the request."""
        notes = [n for n in (dropped_note(self.dropped_turns), repetition_note(self.steps)) if n]
        return "; ".join(notes) or None

    @property
    def completion_tokens(self) -> int:
        """Tokens the model produced for the chain: every step and the final answer (where the
        server reported them), so the total covers the same calls as ``total_s``."""
        return sum(s.completion_tokens or 0 for s in self.steps) + (self.answer_tokens or 0)

    def to_dict(self) -> dict[str, Any]:
        """The stable ``--json`` document (its fields are listed in docs/user-guide.md) plus a few
        extra fields."""
        return {
            "id": self.id,
            "question": self.question,
            "strategy": self.strategy,
            "model": self.model,
            "status": self.status.value,
            "steps": [s.to_dict() for s in self.steps],
            "final_answer": self.final_answer,
            "total_s": round(self.total_s, 3),
            "created_at": self.created_at,
            "error": self.error,
            "note": self.note,
            "lang": self.lang,
            "group_id": self.group_id,
            "answer_tokens": self.answer_tokens,
            "parent_id": self.parent_id,
            "dropped_turns": self.dropped_turns,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Chain:
        return cls(
            question=data["question"],
            strategy=data["strategy"],
            model=data["model"],
            id=data["id"],
            status=Status(data["status"]),
            steps=[Step.from_dict(s) for s in data.get("steps", [])],
            final_answer=data.get("final_answer") or "",
            total_s=float(data.get("total_s") or 0.0),
            created_at=data["created_at"],
            error=data.get("error"),
            lang=data.get("lang"),
            group_id=data.get("group_id"),
            answer_tokens=data.get("answer_tokens"),
            parent_id=data.get("parent_id"),
            dropped_turns=int(data.get("dropped_turns") or 0),
        )


# --- events -------------------------------------------------------------------------------
# A strategy yields these; the runner fills in timing-independent bookkeeping and forwards
# them to subscribers (app, printer, history). Deltas are for live display only: the
# finished Step is the record.


@dataclass(frozen=True)
class ChainStarted:
    chain: Chain


@dataclass(frozen=True)
class StepStarted:
    index: int
    title: str = ""


@dataclass(frozen=True)
class StepDelta:
    """New display text for step ``index``: ``text`` is appended to its content so far.

    ``title`` is set when the title became known or changed (g1 learns it mid-stream).
    """

    index: int
    text: str = ""
    title: str | None = None


@dataclass(frozen=True)
class StepFinished:
    step: Step


@dataclass(frozen=True)
class AnswerDelta:
    """A piece of the final answer as it streams."""

    text: str


@dataclass(frozen=True)
class AnswerFinished:
    """The final answer, whole (strategies send it once, after any AnswerDelta).

    ``status`` is how the chain ends: ``step_limit`` when g1 hit its step cap first.
    ``completion_tokens``: tokens of the answer that no step counts (g1's final-answer call,
    the answer after a reasoning model's thinking); None when the steps hold them all.
    """

    text: str
    status: Status = Status.DONE
    completion_tokens: int | None = None


@dataclass(frozen=True)
class ChainFinished:
    chain: Chain


@dataclass(frozen=True)
class ChainFailed:
    """The chain ended with status error or cancelled; ``chain`` keeps its finished steps."""

    chain: Chain
    message: str


Event = (
    ChainStarted
    | StepStarted
    | StepDelta
    | StepFinished
    | AnswerDelta
    | AnswerFinished
    | ChainFinished
    | ChainFailed
)


#: Longest question accepted (characters). A 7-8B model's context is the real limit; past
#: this a question is almost certainly a pasted file by mistake.
MAX_QUESTION_CHARS = 32_000
#: Any character that shows: not white space and not a format (Cf) character.
_VISIBLE = re.compile(
    r"[^\s\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8]"
)


def validate_question(text: str) -> str:
    """Return the question stripped, or raise ValueError with a one-line reason."""
    question = (text or "").strip()
    if not question or not _VISIBLE.search(question):
        # Zero-width spaces, joiners, BOMs and other format characters alone show nothing.
        raise ValueError("the question is empty")
    if "\x00" in question:
        raise ValueError("the question contains NUL bytes (binary input?)")
    if any("\ud800" <= c <= "\udfff" for c in question):
        # Undecodable bytes in argv/stdin arrive as lone surrogates.
        raise ValueError("the question is not valid UTF-8 text (binary input?)")
    if len(question) > MAX_QUESTION_CHARS:
        raise ValueError(
            f"the question is too long ({len(question):,} characters; the limit is "
            f"{MAX_QUESTION_CHARS:,})"
        )
    return question
