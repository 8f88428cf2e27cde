"""What a chain answered, and whether two answers are one: extraction, keys, the vote.

Used by the self-consistency vote (:mod:`tui.core.group`) and by the judge (:mod:`tui.core.judge`,
which the evaluation scorer and re-scoring call), so "the same answer" means one thing
everywhere. The API:

- :func:`extract_answer(text) <extract_answer>` — the answer a model's final text gives, as
  written (``"$1,000"``, ``"3 apples"``, ``"Paris"``); ``""`` when it gives none.
- :func:`normalize_answer(answer) <normalize_answer>` — the key of an answer that is already
  extracted: numbers become one canonical number (``"1,000.0"``, ``"$1000"``, ``"1000
  dollars"`` → ``"1000"``; ``"1/2"``, ``"0.50"``, ``"50%"``… see below), anything else is
  case-folded with all whitespace removed.
- :func:`answer_key(text) <answer_key>` — ``normalize_answer(extract_answer(text))``.
- :func:`same_answer(a, b) <same_answer>` — whether two extracted answers are one answer:
  equal keys, else equal math (:mod:`tui.core.latex` reads the LaTeX, :mod:`tui.core.mathexpr`
  compares by value: fractions, radicals, π, intervals, sets, tuples, matrices, equations),
  else equal text (case, punctuation and articles aside). A hedge ("18 or 19") is never the
  same as a single answer.
- :func:`vote(answers) <vote>` — majority vote over final answers listed in the order their
  chains finished; returns a :class:`VoteResult`.

Extraction, in order of precedence (the first rule that finds something wins):

1. Reasoning models' ``<think>…</think>`` text is not the answer: only what follows the
   thinking is searched; a reply that never left its thinking gives ``""`` (a cut-off
   thought is not an answer, as in the native strategy). A reply that runs on into a new
   "Question:"/"Q:" line (few-shot prompts) is read up to it.
2. GSM8K's answer line ``#### 18`` (the number on it; a note after it is not the answer).
3. The last complete ``\\boxed{…}`` (nested braces allowed), InternLM3's and most math
   models' convention; boxes in a row with only "and", commas or spacing between them are
   one answer (``1, 2``); an explicit statement after the box (rule 4) wins over it.
4. The last explicit statement: "the answer is …", "final answer: …", "answer: …", and the
   Chinese "答案是/为 …", "答案：…", "最终答案(是/为/：) …"; the text runs to the end of its
   sentence or line, or to "because"/"since" (a reason) or ", not …" (an excluded answer).
   Within it, a ``**bold**`` part is the answer ("Final Answer: the word has **3** r's" →
   ``3``), and a sentence of more than four words around one number gives that number
   ("the answer is that there are 3 r's in it" → ``3``).
5. A whole reply of at most 120 characters that reads as math (``1 000``, ``\\frac{10}{9}``).
6. The last math span (``$…$``, ``\\(…\\)``, ``\\[…\\]``) that reads as math, or the last
   number (signs, ``$``, thousands commas, decimals, ``1e3``, ``10^3``, ``a/b``), whichever
   comes last; a last sentence that hedges between numbers ("could be 12 or 14") is kept
   whole, so it is judged a hedge.
7. Failing all of these, the last non-blank line (so short text answers such as "Paris"
   still compare).

Keys. LaTeX and Markdown wrapping goes first (``$…$``, ``\\(…\\)``, ``**…**``,
``\\text{…}``, ``\\frac{a}{b}`` → ``a/b``, ``^\\circ``, ``\\%``, ``\\!``/``\\,`` spacing) and
a leading ``x =`` is dropped. Then, when what is left is one number — optionally signed, with
a ``$`` before it, thousands commas, a decimal part or a ``/`` fraction, a ``%`` after it and
at most three unit words (``5 apples``, ``12 km/h``, ``3个``) — the key is that number, exact
(``fractions.Fraction``), written as an integer (``"3"``), a terminating decimal
(``"0.5"``) or a reduced fraction (``"1/3"``). ``%`` is dropped, not divided by 100: "50%"
and "50" are one answer, as percent-valued questions need. Everything else keys as text:
case-folded, all whitespace removed, trailing sentence punctuation gone.

The vote. Answers that are :func:`same_answer` share one ballot box, keyed by the key of its
first voter and shown as that voter wrote it; the box with most ballots wins. A tie goes to
the box whose first ballot was cast earliest — callers list answers in the order their chains
finished, so among equally popular answers the one reached fastest wins (deterministic, and
what a user watching the group saw first). Empty answers (failed chains, no answer) cast no
ballot.

Pure functions, no I/O, safe from any thread; nothing here imports Textual.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import pairwise

from tui.core.latex import to_plain
from tui.core.mathexpr import MAX_CHARS, Node, parse_math, same_value
from tui.core.sections import CLOSE_TAG, OPEN_TAG, split_think

__all__ = [
    "VoteResult",
    "answer_key",
    "extract_answer",
    "is_hedged",
    "mentioned_number",
    "normalize_answer",
    "parse_number",
    "same_answer",
    "text_key",
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
_SENTENCE_END = re.compile(
    r"\.(?=\s|$)|[。；;\n]|，|(?<=\S),\s+(?:since|because|as|so|which)\b"
    # "18 because each of the 6 boxes holds 3": the reason is not the answer; "19, not 18" and
    # "19 rather than 18" name the answer first.
    r"|\s+(?:because|since)\b|,?\s+(?:not|rather\s+than|instead\s+of)\s|\s*\(\s*not\s"
    r"|而不是|不是"
)

#: One number as models write it: sign, thousands commas, decimals, a simple fraction.
_NUMBER = (
    # a mixed number first ("4 4/9" is 40/9; only a single space joins its parts)
    r"(?:\d+ \d+/\d+(?![\d./])|"
    r"(?:(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+(?![\w.]))?"
    r"(?:\s*/\s*\d+(?:\.\d+)?)?)"
)
# A number not glued to a Latin word before it ("COVID-19", "x2" are not answers; "有18个" is),
# with its sign and currency ("-$3") and a power of ten ("10^3").
_NUMBER_IN_TEXT = re.compile(r"(?<![A-Za-z0-9_.])[-−+]?\$?(?:" + _NUMBER + r")(?:\^\{?\d+\}?)?")
_BOX_START = re.compile(r"\\(?:boxed|fbox)\s*\{")
_NEXT_QUESTION = re.compile(r"\n\s*(?:Q|Question|Problem)\s*\d*\s*[:：]")
# GSM8K's own answer line: "#### 18"; a note after it is not the answer.
_GSM8K = re.compile(r"####\s*(?:\$\s*)?([-−]?(?:" + _NUMBER + r"))")


# Math in the text: $…$ and \(…\) on one line, $$…$$ and \[…\] on any (an escaped \$ is
# currency, not a delimiter).
_MATH_SPAN = re.compile(
    r"\$\$(.+?)\$\$|\\\[(.+?)\\\]|\\\((.+?)\\\)|(?<![\\$])\$((?:[^$\\\n]|\\.)+?)(?<!\\)\$",
    re.DOTALL,
)
#: Longer text is not read as math (the reader refuses answers over MAX_CHARS once plain).
_MAX_MATH_CHARS = 4 * MAX_CHARS
#: How far an explicit answer or a box is looked for after its start.
_MAX_ANSWER_SPAN = 4000
#: More boxes in a row than this are not one answer (only the last this many count).
_MAX_BOXES = 32
#: A whole reply this short that reads as math is the answer itself.
_WHOLE_ANSWER_CHARS = 120

_BOLD = re.compile(r"\*\*(.+?)\*\*")
# A box's opening, an escaped brace (skipped), a brace.
_BRACE_TOKEN = re.compile(r"(?P<box>\\+(?:boxed|fbox)\s*\{)|\\[{}]|\{|\}")
# What may stand between boxes that together give one answer.
_BOX_SEPARATOR = re.compile(
    r"(?:\s|[,;&$]|\\[\[\]()]|\\q?quad|\\[,;: ]|\\\\|and|or|\\text\s*\{\s*(?:and|or|,)?\s*\}"
    # what names the next part: "x = \boxed{1}, y = \boxed{2}", "y_2 = \boxed{…}"
    r"|[A-Za-z](?:_\{?\w+\}?)?\s*=)*"
)
_NAMED_BOX = re.compile(r"(?<![A-Za-z\\])([A-Za-z](?:_\{?\w+\}?)?)\s*=\s*(?:\\\(|\$)?\s*$")
#: An explicit answer longer than this many words that mentions a number is that number.
_SHORT_ANSWER_WORDS = 4


def _after_thinking(text: str) -> str:
    """The part of ``text`` after any ``<think>`` reasoning; "" when it never ended."""
    if OPEN_TAG not in text and CLOSE_TAG not in text:
        return text
    _thinking, answer = split_think(text)
    return answer


def _last_match(pattern: re.Pattern[str], text: str) -> re.Match[str] | None:
    """The last match of ``pattern`` in ``text``, if any."""
    matches = list(pattern.finditer(text))
    return matches[-1] if matches else None


def _last_boxes(text: str) -> tuple[str, int] | None:
    """The last ``\\boxed{…}`` answer and where it ends; None when nothing is boxed.

    Boxes in a row with only "and", commas or spacing between them (``\\boxed{1} and
    \\boxed{2}``) are one answer, ``1, 2``; joined by "or", a hedge (``1 or 2``).
    """
    # One pass with a stack of open braces, so many or unclosed boxes cost linear time.
    found: list[tuple[int, int, str]] = []
    stack: list[tuple[int, int] | None] = []  # (box start, content start) or a plain brace
    for match in _BRACE_TOKEN.finditer(text):
        token = match.group(0)
        if token.endswith("{") and not token.startswith("\\{"):
            is_box = match.lastgroup == "box"
            stack.append((match.start(), match.end()) if is_box else None)
        elif token == "}" and stack:
            opened = stack.pop()
            if opened is not None and text[opened[1] : match.start()].strip():
                found.append((opened[0], match.end(), text[opened[1] : match.start()].strip()))
    found.sort()
    if not found:
        return None
    run = [found[-1]]
    for box in reversed(found[:-1]):
        between = text[box[1] : run[0][0]]
        if len(run) >= _MAX_BOXES or not _BOX_SEPARATOR.fullmatch(between):
            break
        run.insert(0, box)
    if len(run) == 1:
        return run[0][2], run[0][1]
    seps = " ".join(text[a[1] : b[0]] for a, b in pairwise(run))
    joiner = " or " if re.search(r"\bor\b", seps) else ", "
    parts = []
    for start, _end, content in run:
        # "x = \boxed{1}, y = \boxed{2}": each part keeps the name written before its box
        name = _NAMED_BOX.search(text[max(0, start - 40) : start])
        parts.append(f"{name.group(1)} = {content}" if name and "=" not in content else content)
    return joiner.join(parts), run[-1][1]


def _explicit(text: str) -> str | None:
    """The last "answer is …" statement's answer, cut at the end of its sentence."""
    last = None
    for match in reversed(list(_EXPLICIT.finditer(text))):  # the last one with a value
        rest = text[match.end() : match.end() + _MAX_ANSWER_SPAN].lstrip(" \t")
        end = _SENTENCE_END.search(rest)
        value = (rest[: end.start()] if end else rest).strip()
        if value.count("**") == 1:  # "Answer: **B**" lost its first ** to the keyword
            value = value.replace("**", "").strip()
        if _strip_wrapping(value):
            last = value
            break
    if last is None:
        return None
    # "Final Answer: The word contains **3** r's": the emphasised part is the answer.
    bold: list[str] = _BOLD.findall(last)
    if bold and bold[-1].strip():
        return bold[-1].strip()
    # A whole sentence around one number ("there are 3 r's in strawberry"): the number. Math
    # ("12 and 13", "x = 1, y = 2") and sentences naming several numbers stay whole.
    if (
        len(last.split()) > _SHORT_ANSWER_WORDS
        and parse_number(last) is None
        and _math(last) is None
    ):
        numbers: list[str] = _NUMBER_IN_TEXT.findall(last)
        if len({normalize_answer(n) for n in numbers}) == 1:
            return numbers[-1].strip()
    return last


def extract_answer(text: str | None) -> str:
    """The final answer a model's text gives, as written ("" when it gives none).

    See the module docstring for the rules and their order.
    """
    text = _after_thinking(text or "")
    # A few-shot reply that runs on into a question of its own: that part is not the answer
    # (lm-eval stops generation at "Question:"/"Q:" for the same reason).
    next_question = _NEXT_QUESTION.search(text)
    if next_question is not None:
        before = text[: next_question.start()]
        # only after an answer: a reply may restate its question first
        if _EXPLICIT.search(before) or "####" in before or _BOX_START.search(before):
            text = before
    if not text.strip():
        return ""
    gsm8k: list[str] = _GSM8K.findall(text)
    if gsm8k:
        return gsm8k[-1].strip()
    boxes = _last_boxes(text)
    if boxes is not None:
        boxed, box_end = boxes
        # "\\boxed{255} … The final answer is $10,455$.": the answer stated last counts.
        later = _explicit(text[box_end:])
        if later is not None and _math(later) is not None:
            return later
        return boxed
    explicit = _explicit(text)
    if explicit is not None:
        return explicit
    stripped = text.strip()
    if (
        len(stripped) <= _WHOLE_ANSWER_CHARS
        and "\n" not in stripped  # lines are separate statements ("11\n5/6" is not 11 5/6)
        and _math(stripped, units=False) is not None
    ):
        return stripped  # the whole reply is one answer: "1 000", "\\frac{10}{9}", "$[0,1)$"
    number = _last_match(_NUMBER_IN_TEXT, text)
    span = _last_match(_MATH_SPAN, text)
    if span is not None and (number is None or number.start() < span.end()):
        inner = next(g for g in span.groups() if g is not None).strip()
        if _math(inner) is not None:
            return inner
    if number is not None:
        # "It could be 12 or 14.": the hedge is the answer, so it is judged wrong.
        start = max(text.rfind(mark, 0, number.start()) for mark in (".", "\n", "。", "!", "?"))
        sentence = text[start + 1 : number.end()].strip()
        if is_hedged(sentence) and len(_NUMBER_IN_TEXT.findall(sentence)) > 1:
            return sentence
        return number.group(0).strip()
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


def _strip_wrapping(text: str, parens: bool = True) -> str:
    """``text`` without surrounding math/Markdown/quote delimiters and end punctuation
    (and parentheses unless ``parens`` is false: ``(1, 2)`` is a tuple to math)."""
    text = text.strip()
    changed = True
    while changed and text:
        changed = False
        stripped = text.rstrip(_TRAILING).strip()
        if text[len(stripped) :].startswith("!") and re.search(r"[\d)}]$", stripped):
            stripped += "!"  # "3!" is a factorial, not an exclamation
        if stripped != text:
            text, changed = stripped, True
        for left, right in _WRAPPERS:
            if (
                len(text) > len(left) + len(right)
                and text.startswith(left)
                and text.endswith(right)
            ):
                inner = text[len(left) : len(text) - len(right)]
                if left == "(" and (not parens or "(" in inner or ")" in inner):
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
    num = match.group("num").replace(",", "")
    whole = Fraction(0)
    if re.fullmatch(r"\d+ \d+/\d+", num):  # a mixed number
        head, num = num.split(" ")
        whole = Fraction(head)
    num = num.replace(" ", "")
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
    value += whole
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


# --- equivalence -------------------------------------------------------------------------

# "18 or 19", "maybe 18", "18 或 19": more than one answer offered, so none is given.
# Words that make an answer a guess: "maybe 12", "probably 12", "可能是12".
_UNSURE = re.compile(r"\b(?:maybe|perhaps|possibly|probably)\b|可能|大概|也许", re.IGNORECASE)
_OR = re.compile(r"\s*(?:\bor\b|或者?|还是|\\text\s*\{\s*or\s*\})\s*", re.IGNORECASE)
_DIGIT = re.compile(r"\d")
_ARTICLES = re.compile(r"\b(?:a|an|the)\b")
_PUNCTUATION = re.compile(r"[^\w\s]")


def is_hedged(answer: str) -> bool:
    """Whether an extracted answer is a guess or offers alternatives instead of one answer.

    "18 or 19", "Paris or London", "maybe 12" hedge. "18, or eighteen" and "1/2, or 0.5"
    do not: an alternative in words next to one value, or the same value twice, is a
    restatement.
    """
    if _UNSURE.search(answer):
        return True
    parts = [p.strip(" ,;.") for p in _OR.split(answer)]
    parts = [p for p in parts if p]
    if len(parts) < 2:
        return False
    valued = [p for p in parts if _DIGIT.search(p) or _math(p, units=False) is not None]
    if not valued:
        return True  # "Paris or London"
    first = valued[0]
    return any(not same_answer(first, other) for other in valued[1:])


def text_key(answer: str) -> str:
    """A short text answer's comparison form: no LaTeX, case, articles or punctuation.

    ``"\\text{(C)}"`` → ``"c"``; ``"The Eiffel Tower."`` → ``"eiffeltower"``; ``"(A)"`` →
    ``"a"`` (a choice, not an article).
    """
    words = _PUNCTUATION.sub(" ", to_plain(_strip_wrapping(answer)).casefold()).split()
    kept = [w for w in words if not _ARTICLES.fullmatch(w)]
    return "".join(kept if kept else words)


def _math(answer: str, units: bool = True) -> Node | None:
    """The math tree of an extracted answer (LaTeX read; with ``units``, a number with unit
    words is its number), or None when it is not math."""
    if len(answer) > _MAX_MATH_CHARS:
        return None  # not one answer; and the LaTeX reader's work stays bounded
    plain = to_plain(_strip_wrapping(answer, parens=False))
    tree = parse_math(plain)
    if tree is not None or not units:
        return tree
    value = parse_number(answer)
    if value is None:
        value = parse_number(plain)
    return ("n", value) if value is not None else None


def same_answer(a: str | None, b: str | None) -> bool:
    """Whether two extracted answers are one answer: the judge's and the vote's test.

    In order: equal keys (:func:`normalize_answer`); when both read as math, equal math
    (:func:`tui.core.mathexpr.same_value`: ``\\frac{\\sqrt3}{2}`` and ``\\sqrt{3}/2``, ``x = 5``
    and ``5``, ``[0, 1)``, sets, matrices) decides; else equal text (:func:`text_key`). A
    hedged answer is never the same as one that is not.
    """
    if not a or not b or not a.strip() or not b.strip():
        return False
    key_a, key_b = normalize_answer(a), normalize_answer(b)
    if not key_a or not key_b:
        return False
    if key_a == key_b:
        return True
    if is_hedged(a) != is_hedged(b):
        # "x = 2 or x = 3" names both roots of a gold "2, 3": a list, not a hedge. Against one
        # value ("18 or 19" for 18) it stays a hedge.
        tree_a, tree_b = _math(_OR.sub(", ", a)), _math(_OR.sub(", ", b))
        return (
            tree_a is not None
            and tree_b is not None
            and all(t[0] in ("list", "set") and len(t[1]) > 1 for t in (tree_a, tree_b))
            and same_value(tree_a, tree_b)
        )
    tree_a, tree_b = _math(a), _math(b)
    if tree_a is not None and tree_b is not None:
        return same_value(tree_a, tree_b)
    text_a, text_b = text_key(a), text_key(b)
    return bool(text_a) and text_a == text_b


def mentioned_number(answer: str) -> str | None:
    """The one number a sentence-like answer mentions ("It costs 5 dollars in all" → "5").

    None when it mentions none, several different ones, or hedges: "19, not 18" and "18 or
    19" name no single number this way.
    """
    if is_hedged(answer) or "\\" in answer or "{" in answer or _math(answer) is not None:
        return None  # math ("\\pm 2", "2x") is compared as math, not by a number in it
    numbers = {normalize_answer(n) for n in _NUMBER_IN_TEXT.findall(answer)}
    return numbers.pop() if len(numbers) == 1 else None


# --- the vote ------------------------------------------------------------------------------


@dataclass(frozen=True)
class VoteResult:
    """The outcome of :func:`vote`.

    ``key`` is the winning normalized answer, ``answer`` the extracted answer as its first
    voter wrote it (LaTeX cleaned, for display), ``reply`` that voter's whole final text (what
    the judge reads to score the group: the cleaned answer loses LaTeX the judge needs), all
    None when nobody answered. ``votes`` maps each key to
    its ballots, winner first, then by count, ties in first-cast order. ``ballots`` counts
    answers that voted, ``abstained`` those that gave no answer.
    """

    key: str | None
    answer: str | None
    votes: dict[str, int] = field(default_factory=dict)
    ballots: int = 0
    abstained: int = 0
    reply: str | None = None

    @property
    def winner_votes(self) -> int:
        return self.votes.get(self.key, 0) if self.key is not None else 0


def vote(answers: Iterable[str | None]) -> VoteResult:
    """Majority vote over final answers given in the order their chains finished.

    Each answer is a chain's final text (extracted here); ``None`` or an answer with nothing
    to extract abstains. Answers that are :func:`same_answer` share one ballot box, keyed by
    its first voter's normalized answer and shown as that voter wrote it. Ties go to the box
    whose first ballot was cast first.
    """
    counts: dict[str, int] = {}
    first_seen: dict[str, int] = {}
    shown: dict[str, str] = {}
    replies: dict[str, str] = {}
    firsts: list[tuple[str, str]] = []  # (key, extracted) of each box's first voter
    abstained = 0
    for position, text in enumerate(answers):
        extracted = extract_answer(text)
        key = normalize_answer(extracted)
        if not key:
            abstained += 1
            continue
        if key not in counts:
            # Another spelling of an answer already cast ("\\frac12" after "0.5") joins it.
            key = next((k for k, first in firsts if same_answer(first, extracted)), key)
        counts[key] = counts.get(key, 0) + 1
        if key not in first_seen:
            first_seen[key] = position
            shown[key] = _strip_wrapping(_unlatex(extracted)) or extracted
            replies[key] = text or ""
            firsts.append((key, extracted))
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
        reply=replies[winner],
    )
