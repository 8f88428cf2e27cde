"""The published formats of set files, told apart by their fields.

Each public math set is published with its own field names; a line is recognised by which of
them it holds, turned into o1tui's own ``question``/``answer`` shape, and its other fields are
kept as the item's metadata (MATH-500's ``subject``, ``level`` and ``unique_id`` feed the
per-level and per-subject breakdowns):

- GSM8K: ``question`` and an ``answer`` whose last line is ``#### 42``;
- MATH-500: ``problem``, ``answer``, with ``subject``, ``level``, ``unique_id`` (``solution``
  optional);
- MATH: ``problem`` and ``answer`` without those (other MATH-style files);
- AIME: ``id``, ``problem``, ``answer`` — or ``ID``, ``Problem``, ``Answer`` (the
  capitalised variant of another AIME 2024 upload);
- CMATH: ``question`` and ``golden`` (the Chinese elementary-school set);
- JSON Lines: o1tui's own ``question``/``answer``.

A line that is missing a field of its format is refused with the format named
(``MATH-500 format: missing "answer"``), so a user who fed the wrong file sees which format
o1tui thought it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: GSM8K puts the final answer after this marker on the solution's last line.
GSM8K_MARKER = "####"


@dataclass(frozen=True)
class SetFormat:
    """One published format: its name, and how its fields map onto o1tui's item."""

    #: How errors and listings name it.
    name: str
    #: The field holding the question text.
    question: str
    #: The field holding the gold answer.
    answer: str
    #: Other fields renamed as they are kept (``ID`` → ``id``), so breakdowns need one name.
    rename: dict[str, str] = field(default_factory=dict)


JSONL = SetFormat("JSON Lines", "question", "answer")
GSM8K = SetFormat("GSM8K", "question", "answer")
MATH500 = SetFormat("MATH-500", "problem", "answer")
MATH = SetFormat("MATH", "problem", "answer")
AIME = SetFormat("AIME", "problem", "answer")
AIME_CAPS = SetFormat(
    "AIME", "Problem", "Answer", {"ID": "id", "Solution": "solution", "Year": "year"}
)
CMATH = SetFormat("CMATH", "question", "golden")

FORMATS: tuple[SetFormat, ...] = (JSONL, GSM8K, MATH500, MATH, AIME, AIME_CAPS, CMATH)
#: Formats of math benchmarks: their questions get the model cards' chain-of-thought prompt.
MATH_FORMATS: tuple[SetFormat, ...] = (GSM8K, MATH500, MATH, AIME, AIME_CAPS, CMATH)

#: The fields that make a ``problem``/``answer`` line a MATH-500 line.
MATH500_FIELDS = ("subject", "level", "unique_id")


def detect_format(data: dict[str, Any]) -> SetFormat:
    """The format a decoded line is in, from its fields (o1tui's own when none fits)."""
    if "Problem" in data and "problem" not in data:
        return AIME_CAPS
    if "problem" in data:
        if any(k in data for k in MATH500_FIELDS):
            return MATH500
        if "id" in data or "ID" in data:
            return AIME
        return MATH
    if "question" in data:
        if "golden" in data and "answer" not in data:
            return CMATH
        answer = data.get("answer")
        if isinstance(answer, str) and GSM8K_MARKER in answer:
            return GSM8K
    return JSONL


def unknown_fields(data: dict[str, Any]) -> str:
    """Why a line with no question field fits no format, naming the fields it has."""
    shown = ", ".join(sorted(map(str, data))[:6]) or "none"
    return (
        f'missing "question" (fields: {shown}; expected question/answer as in JSON Lines or '
        "GSM8K, problem/answer as in MATH-500 or AIME, or question/golden as in CMATH)"
    )


def to_item_fields(data: Any) -> tuple[SetFormat | None, Any]:
    """``(format, data)`` with ``data`` in o1tui's ``question``/``answer`` shape.

    A value that is not an object comes back as it is (the caller says what is wrong with
    it). ValueError, naming the format, when a field the format needs is missing or the
    question is not text.
    """
    if not isinstance(data, dict):
        return None, data
    fmt = detect_format(data)
    if fmt is JSONL:
        if "question" not in data:
            raise ValueError(unknown_fields(data))
        return fmt, data
    for key in (fmt.question, fmt.answer):
        if key not in data:
            raise ValueError(f'{fmt.name} format: missing "{key}"')
    if not isinstance(data[fmt.question], str):
        raise ValueError(f'{fmt.name} format: "{fmt.question}" must be text')
    answer = data[fmt.answer]
    if isinstance(answer, bool) or not isinstance(answer, (str, int, float)):
        raise ValueError(f'{fmt.name} format: "{fmt.answer}" must be text or a number')
    if isinstance(answer, str) and not answer.strip():
        raise ValueError(f'{fmt.name} format: "{fmt.answer}" is empty')
    if fmt is GSM8K:
        return fmt, data
    out: dict[str, Any] = {}
    for key, value in data.items():
        key = str(key)  # JSON object keys are text already; this tells the type checker
        if key == fmt.question:
            out["question"] = value
        elif key == fmt.answer:
            out["answer"] = value
        elif key not in ("question", "answer"):
            out[fmt.rename.get(key, key)] = value
    return fmt, out


def file_is_math(path: str) -> bool:
    """Whether a set file's first item is in a math benchmark's format (False when the file
    cannot be read: its loading has already said why)."""
    import json

    try:
        with open(path, encoding="utf-8-sig") as f:
            for line in f:
                if line.strip():
                    data = json.loads(line)
                    return isinstance(data, dict) and detect_format(data) in MATH_FORMATS
    except (OSError, ValueError):
        pass
    return False
