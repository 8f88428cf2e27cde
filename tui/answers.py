"""The one answer normalizer: what a chain answered, in a form two answers can be compared in.

Used by the self-consistency vote (:mod:`tui.group`) and by the evaluation scorer alike, so
"the same answer" means one thing everywhere. The API, stable for both:

- :func:`extract_answer(text) <extract_answer>` — the answer a model's final text gives, as
  written (``"$1,000"``, ``"3 apples"``, ``"Paris"``); ``""`` when it gives none.
- :func:`normalize_answer(answer) <normalize_answer>` — the comparison key of an answer that is
  already extracted (a gold answer, a boxed value): numbers become one canonical number
  (``"1,000.0"``, ``"$1000"``, ``"1000 dollars"`` → ``"1000"``; ``"1/2"``, ``"0.50"``,
  ``"50%"``… see below), anything else is case-folded with all whitespace removed.
- :func:`answer_key(text) <answer_key>` — ``normalize_answer(extract_answer(text))``: the key a
  chain's final answer votes with.
- :func:`answers_match(predicted, gold) <answers_match>` — the scorer's test: the model's final
  text against an expected answer.
- :func:`vote(answers) <vote>` — majority vote over final answers listed in the order their
  chains finished; returns a :class:`VoteResult`.

Extraction, in order of precedence (the first rule that finds something wins):

1. Reasoning models' ``<think>…</think>`` text is not the answer: only what follows the
   thinking is searched; a reply that never left its thinking gives ``""`` (a cut-off
   thought is not an answer, as in the native strategy).
2. The last complete ``\\boxed{…}`` (nested braces allowed), InternLM3's and most math
   models' convention.
3. The last explicit statement: "the answer is …", "final answer: …", "answer: …", and the
   Chinese "答案是/为 …", "答案：…", "最终答案(是/为/：) …"; the text runs to the end of its
   sentence or line. Within it, a ``**bold**`` part is the answer ("Final Answer: the word
   has **3** r's" → ``3``), and a sentence of more than four words around a number gives
   that number ("the answer is that there are 3 r's in it" → ``3``).
4. The last number in the text (thousands commas, decimals, simple fractions ``a/b``).
5. Failing all of these, the last non-blank line (so short text answers such as "Paris"
   still compare).

Normalization. LaTeX and Markdown wrapping goes first (``$…$``, ``\\(…\\)``, ``**…**``,
``\\text{…}``, ``\\frac{a}{b}`` → ``a/b``, ``^\\circ``, ``\\%``, ``\\!``/``\\,`` spacing) and a
leading ``x =`` is dropped. Then, when what is left is one number — optionally signed, with a
``$`` before it, thousands commas, a decimal part or a ``/`` fraction, a ``%`` after it and at
most three unit words (``5 apples``, ``12 km/h``, ``3个``) — the key is that number, exact
(``fractions.Fraction``), written as an integer (``"3"``), a terminating decimal
(``"0.5"``) or a reduced fraction (``"1/3"``). ``%`` is dropped, not divided by 100: "50%"
and "50" are one answer, as percent-valued questions need. Everything else is
compared as text: case-folded, all whitespace removed, trailing sentence punctuation gone.

The vote. Each non-empty key is one ballot; the key with most ballots wins. A tie goes to the
key whose first ballot was cast earliest — callers list answers in the order their chains
finished, so among equally popular answers the one reached fastest wins (deterministic, and
what a user watching the group saw first). Empty answers (failed chains, no answer) cast no
ballot.

Pure functions, no I/O; nothing here imports Textual.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction

from tui.sections import CLOSE_TAG, OPEN_TAG, last_boxed, split_think

__all__ = [
    "VoteResult",
    "answer_key",
    "answers_match",
    "extract_answer",
    "normalize_answer",
    "parse_number",
    "vote",
]

# --- extraction ----------------------------------------------------------------------------

# "The answer is 3", "Final answer: 3", "**Answer:** 3", "答案是 3", "最终答案：3".
_EXPLICIT = re.compile(
    r"\b(?:final\s+answer|answer)\s*(?:\*\*|__)?\s*(?:(?:is|would\s+be|will\s+be)\b\s*[:：]?|=|:|：)"
    r"\s*(?:\*\*|__)?"
    r"|最终答案\s*(?:是|为|[:：])?"
    r"|答案\s*(?:应该|应)?\s*(?:是|为|[:：])",
    re.IGNORECASE,
)
# Where an explicit answer's sentence ends: a full stop before a space or the end, a Chinese
# full stop, a semicolon, a line break.
_SENTENCE_END = re.compile(r"\.(?=\s|$)|[。；;\n]|，|(?<=\S),\s+(?:since|because|as|so|which)\b")

#: One number as models write it: sign, thousands commas, decimals, a simple fraction.
_NUMBER = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:\s*/\s*\d+(?:\.\d+)?)?|\.\d+"
# A number not glued to a word before it ("COVID-19", "x2" are not answers).
_NUMBER_IN_TEXT = re.compile(r"(?<![\w.])[-−+]?(?:" + _NUMBER + r")")


_BOLD = re.compile(r"\*\*(.+?)\*\*")
#: An explicit answer longer than this many words that mentions a number is that number.
_SHORT_ANSWER_WORDS = 4


def _after_thinking(text: str) -> str:
    """The part of ``text`` after any ``<think>`` reasoning; "" when it never ended."""
    if OPEN_TAG not in text and CLOSE_TAG not in text:
        return text
    _thinking, answer = split_think(text)
    return answer


def _explicit(text: str) -> str | None:
    """The last "answer is …" statement's answer, cut at the end of its sentence."""
    last = None
    for match in _EXPLICIT.finditer(text):
        rest = text[match.end() :].lstrip(" \t")
        end = _SENTENCE_END.search(rest)
        value = (rest[: end.start()] if end else rest).strip()
        if value.count("**") == 1:  # "Answer: **B**" lost its first ** to the keyword
            value = value.replace("**", "").strip()
        if _strip_wrapping(value):
            last = value
    if last is None:
        return None
    # "Final Answer: The word contains **3** r's": the emphasised part is the answer.
    bold = _BOLD.findall(last)
    if bold and bold[-1].strip():
        return bold[-1].strip()
    # A whole sentence around one number ("there are 3 r's in strawberry"): the number.
    numbers = _NUMBER_IN_TEXT.findall(last)
    if numbers and len(last.split()) > _SHORT_ANSWER_WORDS and parse_number(last) is None:
        return numbers[-1].strip()
    return last


def extract_answer(text: str | None) -> str:
    """The final answer a model's text gives, as written ("" when it gives none).

    See the module docstring for the rules and their order.
    """
    text = _after_thinking(text or "")
    if not text.strip():
        return ""
    boxed = last_boxed(text)
    if boxed is not None and boxed.strip():
        return boxed.strip()
    explicit = _explicit(text)
    if explicit is not None:
        return explicit
    numbers = _NUMBER_IN_TEXT.findall(text)
    if numbers:
        return numbers[-1].strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


# --- normalization -------------------------------------------------------------------------

_LATEX_TEXT = re.compile(r"\\(?:text|textbf|mathrm|mathbf|operatorname|mbox)\s*\{([^{}]*)\}")
_LATEX_FRAC = re.compile(r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}")
_LATEX_SPACING = re.compile(r"\\[,;:! ]|\\q?quad\b|\\left\b|\\right\b|~")
_DEGREES = re.compile(r"\^\s*\{?\s*\\circ\s*\}?|°")
_WRAPPERS: tuple[tuple[str, str], ...] = (
    ("$$", "$$"),
    ("$", "$"),
    ("\\(", "\\)"),
    ("\\[", "\\]"),
    ("**", "**"),
    ("__", "__"),
)
_WRAPPERS += (("`", "`"), ('"', '"'), ("“", "”"), ("'", "'"), ("(", ")"), ("「", "」"))
_TRAILING = ".。!！?？,，;；:："
_ASSIGNMENT = re.compile(r"^[A-Za-z][A-Za-z0-9_]*\s*=\s*(?=\S)")
# A whole answer that is one number: sign, $, the number, %, up to three unit words.
_UNIT = r"(?:[^\W\d_][^\W\d]*(?:['’][^\W\d_]+)?(?:/[^\W\d_]+)?\.?)"
_NUMBER_ANSWER = re.compile(
    r"^(?P<sign>[-−+])?\s*(?:\$|€|£|¥|￥|USD\s*)?\s*(?P<sign2>[-−])?\s*(?P<num>" + _NUMBER + r")"
    r"\s*(?:%|percent\b|per\s*cent\b)?"
    r"(?:\s*" + _UNIT + r"){0,3}\s*$",
    re.IGNORECASE,
)


def _strip_wrapping(text: str) -> str:
    """``text`` without surrounding math/Markdown/quote delimiters and end punctuation."""
    text = text.strip()
    changed = True
    while changed and text:
        changed = False
        stripped = text.rstrip(_TRAILING).strip()
        if stripped != text:
            text, changed = stripped, True
        for left, right in _WRAPPERS:
            if (
                len(text) > len(left) + len(right)
                and text.startswith(left)
                and text.endswith(right)
            ):
                inner = text[len(left) : len(text) - len(right)]
                if left == "(" and ("(" in inner or ")" in inner):
                    continue  # "(a)/(b)" is not one parenthesised answer
                text, changed = inner.strip(), True
                break
    return text


def _unlatex(text: str) -> str:
    """Plain text from the LaTeX a boxed answer holds."""
    for _ in range(3):  # \text{\frac{..}{..}} and the like, a few levels deep
        text = _LATEX_TEXT.sub(r"\1", text)
        text = _LATEX_FRAC.sub(r"(\1)/(\2)", text)
    text = _DEGREES.sub("", text)
    text = _LATEX_SPACING.sub("", text)
    text = text.replace("\\%", "%").replace("\\$", "$").replace("\\cdot", "*")
    # (3)/(4) from a \frac of two plain numbers reads as 3/4.
    text = re.sub(r"\((\s*[-−]?[\d.,]+\s*)\)/\((\s*[\d.,]+\s*)\)", r"\1/\2", text)
    return text


def parse_number(answer: str) -> Fraction | None:
    """The exact value of an answer that is one number (units, ``$``, ``%`` allowed), else None.

    ``"1,234.50"`` → 2469/2, ``"-3"`` → -3, ``"3/4 cup"`` → 3/4, ``"$5"`` → 5, ``"50%"`` → 50.
    """
    text = _strip_wrapping(_unlatex(answer or ""))
    text = _ASSIGNMENT.sub("", text)
    text = _strip_wrapping(text)
    match = _NUMBER_ANSWER.match(text)
    if match is None:
        return None
    num = match.group("num").replace(",", "").replace(" ", "")
    try:
        if "/" in num:
            top, bottom = num.split("/", 1)
            denominator = Fraction(bottom)
            if denominator == 0:
                return None
            value = Fraction(top) / denominator
        else:
            value = Fraction(num)
    except (ValueError, ZeroDivisionError):
        return None
    # A minus before or after the currency sign ("-$5", "$-5") makes it negative.
    negative = match.group("sign") in ("-", "−")
    if match.group("sign2") is not None:
        negative = not negative
    return -value if negative else value


def _number_text(value: Fraction) -> str:
    """One spelling per number: ``3``, ``0.5``, ``-2.25``, ``1/3`` (no exact decimal)."""
    if value.denominator == 1:
        return str(value.numerator)
    d = value.denominator
    for p in (2, 5):
        while d % p == 0:
            d //= p
    if d != 1:
        return f"{value.numerator}/{value.denominator}"
    # A terminating decimal: scale to an integer, then place the point.
    digits = 0
    scaled = value
    while scaled.denominator != 1:
        scaled *= 10
        digits += 1
    sign = "-" if scaled < 0 else ""
    body = str(abs(scaled.numerator)).rjust(digits + 1, "0")
    return f"{sign}{body[:-digits]}.{body[-digits:]}"


def normalize_answer(answer: str | None) -> str:
    """The comparison key of an already extracted answer (see the module docstring).

    ``"$1,000.00"`` → ``"1000"``; ``"\\frac{1}{2}"`` → ``"0.5"``; ``" New York. "`` →
    ``"newyork"``; ``""`` → ``""``.
    """
    if not answer or not answer.strip():
        return ""
    value = parse_number(answer)
    if value is not None:
        return _number_text(value)
    text = _ASSIGNMENT.sub("", _strip_wrapping(_unlatex(answer)))
    text = _strip_wrapping(text)
    return "".join(text.casefold().split())


def answer_key(text: str | None) -> str:
    """The key a chain's final text votes with: ``normalize_answer(extract_answer(text))``."""
    return normalize_answer(extract_answer(text))


def answers_match(predicted: str | None, gold: str | None) -> bool:
    """Whether a model's final text gives the expected answer.

    ``predicted`` goes through :func:`extract_answer` first (it may be a whole reply);
    ``gold`` is taken as the answer itself (only normalized), so a gold "2x+1" is not cut
    down to its last number. An empty gold or an answerless prediction never matches.
    """
    gold_key = normalize_answer(gold)
    if not gold_key:
        return False
    extracted = extract_answer(predicted)
    if normalize_answer(extracted) == gold_key:
        return True
    # A gold number against a text answer that only mentions it ("It costs 5 dollars in all"
    # extracted as the last line): compare with the last number said, like rule 4.
    if parse_number(gold or "") is not None and extracted:
        numbers = _NUMBER_IN_TEXT.findall(extracted)
        if numbers and normalize_answer(numbers[-1]) == gold_key:
            return True
    return False


# --- the vote ------------------------------------------------------------------------------


@dataclass(frozen=True)
class VoteResult:
    """The outcome of :func:`vote`.

    ``key`` is the winning normalized answer, ``answer`` the extracted answer as its first
    voter wrote it (for display), both None when nobody answered. ``votes`` maps each key to
    its ballots, winner first, then by count, ties in first-cast order. ``ballots`` counts
    answers that voted, ``abstained`` those that gave no answer.
    """

    key: str | None
    answer: str | None
    votes: dict[str, int] = field(default_factory=dict)
    ballots: int = 0
    abstained: int = 0

    @property
    def winner_votes(self) -> int:
        return self.votes.get(self.key, 0) if self.key is not None else 0


def vote(answers: Iterable[str | None]) -> VoteResult:
    """Majority vote over final answers given in the order their chains finished.

    Each answer is a chain's final text (extracted and normalized here); ``None`` or an
    answer with nothing to extract abstains. Ties go to the key cast first.
    """
    counts: dict[str, int] = {}
    first_seen: dict[str, int] = {}
    shown: dict[str, str] = {}
    abstained = 0
    for position, text in enumerate(answers):
        extracted = extract_answer(text)
        key = normalize_answer(extracted)
        if not key:
            abstained += 1
            continue
        counts[key] = counts.get(key, 0) + 1
        if key not in first_seen:
            first_seen[key] = position
            shown[key] = _strip_wrapping(_unlatex(extracted)) or extracted
    order = sorted(counts, key=lambda k: (-counts[k], first_seen[k]))
    if not order:
        return VoteResult(None, None, {}, 0, abstained)
    winner = order[0]
    return VoteResult(
        key=winner,
        answer=shown[winner],
        votes={k: counts[k] for k in order},
        ballots=sum(counts.values()),
        abstained=abstained,
    )
