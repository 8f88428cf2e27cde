"""Eval items and sets read from a set file (:func:`tui.evals.lookup.load_set` finds a set by
name or path).

A set file has one JSON object a line with a ``question`` (text) and an ``answer`` (text or
number). GSM8K's format is recognised: an ``answer`` holding a worked solution whose last line
is ``#### 42`` has the gold answer ``42`` (the solution is kept as ``solution``). An optional
``accept`` (a list of texts) names other answers that also count as right (``星期六`` and
``周六``). Every other field is kept with the item (``meta``) and stored with the eval run.

A file is read whole and checked before anything runs: the first problem found raises
:class:`SetFileError` with a one-line message naming the line and what is wrong.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tui.core.chain import validate_question
from tui.evals.formats import GSM8K_MARKER
from tui.evals.reading import ReadCancelled, TooBig, read_limited, strict_loads

#: A set file bigger than this is refused (counted as read: a pipe or device states no size):
#: eval sets are questions, not corpora.
MAX_SET_FILE_BYTES = 64 * 2**20


@dataclass(frozen=True)
class EvalItem:
    """One question with its gold answer."""

    question: str
    #: The gold answer as text (numbers are compared as numbers by the normalizer).
    answer: str
    #: Other answers that count as right too.
    accept: tuple[str, ...] = ()
    #: The item's other fields (a file's extra keys; a built-in item's kind and language).
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def golds(self) -> tuple[str, ...]:
        """Every answer that counts as right, the gold first."""
        return (self.answer, *self.accept)


@dataclass(frozen=True)
class EvalSet:
    """A named list of items; ``source`` is the file it came from (None for a built-in)."""

    name: str
    items: tuple[EvalItem, ...]
    source: str | None = None
    seed: int | None = None


class SetFileError(ValueError):
    """A set file cannot be used; the message is one line naming the file and line."""


def gsm8k_answer(text: str) -> tuple[str, str | None]:
    """``(gold, solution)`` from a GSM8K answer; ``(text, None)`` when it has no marker."""
    if GSM8K_MARKER not in text:
        return text.strip(), None
    solution, _, gold = text.rpartition(GSM8K_MARKER)
    return gold.strip(), solution.strip()


def _answer_text(value: Any) -> str | None:
    """An answer field as text: strings as they are, numbers written plainly; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):  # only a caller that skipped strict_loads gets here
            return None
        return repr(value) if value != int(value) else str(int(value))
    if isinstance(value, str):
        return value
    return None


def parse_item(data: Any) -> EvalItem:
    """One item from a decoded JSON line in any format :mod:`tui.evals.formats` knows;
    ValueError says what is wrong (no line number)."""
    from tui.evals.formats import to_item_fields

    _, data = to_item_fields(data)
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    if "question" not in data:
        raise ValueError('missing "question"')
    if not isinstance(data["question"], str):
        raise ValueError('"question" must be text')
    try:
        question = validate_question(data["question"])
    except ValueError as err:
        raise ValueError(f'"question": {err}') from None
    if "answer" not in data:
        raise ValueError('missing "answer"')
    raw = _answer_text(data["answer"])
    if raw is None:
        raise ValueError('"answer" must be text or a number')
    answer, solution = gsm8k_answer(raw)
    if not answer:
        raise ValueError('"answer" is empty' if solution is None else 'nothing after "####"')
    accept_raw = data.get("accept", [])
    if isinstance(accept_raw, (str, int, float)) and not isinstance(accept_raw, bool):
        accept_raw = [accept_raw]
    if not isinstance(accept_raw, list):
        raise ValueError('"accept" must be a list of answers')
    accept: list[str] = []
    for value in accept_raw:
        text = _answer_text(value)
        if text is None or not text.strip():
            raise ValueError('"accept" must hold only non-empty texts or numbers')
        accept.append(text.strip())
    meta = {k: v for k, v in data.items() if k not in ("question", "answer", "accept")}
    if solution is not None:
        meta.setdefault("solution", solution)
    return EvalItem(question=question, answer=answer, accept=tuple(accept), meta=meta)


def read_set_bytes(path: Path, cancelled: Callable[[], bool] | None = None) -> bytes:
    """The file's bytes, at most :data:`MAX_SET_FILE_BYTES`; :class:`SetFileError` else.

    ``cancelled`` is asked while the read waits (a FIFO); :class:`ReadCancelled` then."""
    try:
        return read_limited(path, MAX_SET_FILE_BYTES, cancelled)
    except TooBig:
        raise SetFileError(
            f"{path}: too big for a set file (more than {MAX_SET_FILE_BYTES:,} bytes)"
        ) from None
    except OSError as err:
        raise SetFileError(f"{path}: {err.strerror or err}") from None


def load_set_file(
    path: str | os.PathLike[str], cancelled: Callable[[], bool] | None = None
) -> EvalSet:
    """Every item of a JSON Lines set file, or :class:`SetFileError` for the first problem.

    ``cancelled`` is asked while reading and every thousand lines; :class:`ReadCancelled`
    when it says so (the app's Esc on a slow load)."""
    p = Path(path)
    raw = read_set_bytes(p, cancelled)
    items: list[EvalItem] = []
    lines = raw.split(b"\n")
    for number, line in enumerate(lines, start=1):
        if cancelled is not None and number % 1000 == 0 and cancelled():
            raise ReadCancelled()
        if number == 1 and line.startswith(b"\xef\xbb\xbf"):
            line = line[3:]  # a byte-order mark some editors write
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            raise SetFileError(f"{p} line {number}: not UTF-8 text") from None
        if not text.strip():
            continue
        try:
            data = strict_loads(text)
        except ValueError as err:
            reason = getattr(err, "msg", str(err))
            raise SetFileError(f"{p} line {number}: not valid JSON ({reason})") from None
        try:
            items.append(parse_item(data))
        except ValueError as err:
            raise SetFileError(f"{p} line {number}: {err}") from None
    if not items:
        raise SetFileError(f"{p}: no items (one JSON object a line expected)")
    return EvalSet(name=p.name, items=tuple(items), source=str(p))
