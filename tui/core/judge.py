"""The judge: whether a model's reply gives the expected answer, and why.

One judgement for eval scoring, ``eval --show`` re-scoring and the group vote:
:func:`judge` extracts the reply's answer (:func:`tui.core.answers.extract_answer`) and compares it
with each gold answer by :func:`tui.core.answers.same_answer`, the test the vote groups ballots
by. Gold answers are taken as answers, not replies: only a GSM8K ``#### 18`` line is read out
of one, so a gold ``2x+1`` is never cut down to its last number.

Hedging is wrong, never right: "The answer is 18 or 19." gives no answer for either gold.
A reply that names its answer first and an excluded one after ("19, not 18") answers 19.

Pure functions, no I/O, safe from any thread; nothing here imports Textual.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from tui.core.answers import (
    extract_answer,
    is_hedged,
    mentioned_number,
    normalize_answer,
    parse_number,
    same_answer,
    text_key,
)

__all__ = ["Verdict", "answers_match", "judge"]

_GSM8K_GOLD = re.compile(r"####\s*(.+?)\s*$", re.DOTALL)
# A reply opening with a choice letter: "C.", "(C)", "C)", "**C**:".
_CHOICE = re.compile(r"\s*(?:\*\*)?(?:\(([A-Ea-e])\)|([A-Ea-e])(?:\*\*)?[.:)])(?:\*\*)?(?=\s|$)")
_CHOICE_GOLD = re.compile(r"[a-e]")
#: How much of an answer a verdict's reason quotes.
_QUOTE_CHARS = 60


@dataclass(frozen=True)
class Verdict:
    """What the judge decided: ``correct``; the answer it read from the reply, as written
    (None when the reply gives none); and ``why``, one short line for people."""

    correct: bool
    extracted: str | None
    why: str


def _quote(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _QUOTE_CHARS else text[: _QUOTE_CHARS - 1] + "…"


def _gold_answer(gold: str) -> str:
    """A gold answer as an answer: a GSM8K solution's ``#### 18`` line read out, else as is."""
    match = _GSM8K_GOLD.search(gold)
    return match.group(1) if match else gold


def judge(output: str | None, gold: str | Sequence[str]) -> Verdict:
    """Judge a model's reply ``output`` against one gold answer or several (any may match)."""
    golds = [gold] if isinstance(gold, str) else list(gold)
    golds = [_gold_answer(g).strip() for g in golds if g and normalize_answer(_gold_answer(g))]
    extracted = extract_answer(output)
    if not golds:
        return Verdict(False, extracted or None, "no gold answer to compare with")
    if not extracted:
        return Verdict(False, None, "the reply gives no answer")
    for g in golds:
        if same_answer(extracted, g):
            return Verdict(True, extracted, f"{_quote(extracted)} = {_quote(g)}")
    if is_hedged(extracted):
        return Verdict(False, extracted, f"hedged: {_quote(extracted)}")
    # A multiple-choice gold ("C", "(C)"): a reply that opens with its choice ("C. Because …"),
    # unless it named another choice as its answer.
    opening = _CHOICE.match(output or "")
    if opening is not None and not _CHOICE_GOLD.fullmatch(text_key(extracted)):
        choice = opening.group(1) or opening.group(2)
        for g in golds:
            if _CHOICE_GOLD.fullmatch(text_key(g)) and text_key(g) == choice.lower():
                return Verdict(True, choice, f"choice {choice} = {g}")
    # A sentence around one number ("It costs 5 dollars in all") against a gold number.
    number = mentioned_number(extracted)
    if number is not None and normalize_answer(number) != normalize_answer(extracted):
        for g in golds:
            if parse_number(g) is not None and same_answer(number, g):
                return Verdict(True, extracted, f"{number} (in {_quote(extracted)}) = {g}")
    return Verdict(False, extracted, f"{_quote(extracted)} ≠ {_quote(golds[0])}")


def answers_match(predicted: str | None, gold: str | None) -> bool:
    """Whether a model's reply gives the expected answer: ``judge(predicted, gold).correct``."""
    return bool(gold) and judge(predicted, gold or "").correct
