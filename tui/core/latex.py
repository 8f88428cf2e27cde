"""LaTeX answers as plain math text, for :mod:`tui.core.mathexpr` to read.

A boxed answer such as ``\\left( 3, \\dfrac{\\pi}{2} \\right)`` becomes ``( 3, ((pi)/(2)) )``;
``\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}`` becomes ``⟦1,2;3,4⟧``; ``\\{1, 2\\}``
becomes ``⦃1, 2⦄`` (a set, told apart from grouping braces). Fractions in every spelling
(``\\frac{a}{b}``, ``\\dfrac``, ``\\tfrac``, ``\\cfrac``, ``\\frac13``, ``\\frac3{3}``) become
``((a)/(b))``; ``\\sqrt{x}``/``\\sqrt3`` ``sqrt(x)``; ``\\sqrt[n]{x}`` ``((x)^(1/(n)))``.
Layout (``\\left``, ``\\right``, ``\\displaystyle``, spacing) is dropped, degrees go, units in a
trailing ``\\text{…}`` go, thousands separators ``1{,}234`` and ``1\\,234`` close up.

Deterministic pure string work with no recursion deeper than the input's brace nesting, so it is
safe on untrusted model output from any thread (no timeouts needed). Nothing here imports
Textual.
"""

from __future__ import annotations

import re

__all__ = [
    "MATRIX_CLOSE",
    "MATRIX_OPEN",
    "SET_CLOSE",
    "SET_OPEN",
    "braced",
    "strip_units",
    "to_plain",
]

#: Markers the converted text uses for a set ``\\{…\\}`` and a matrix (rows split by ``;``).
SET_OPEN, SET_CLOSE = "⦃", "⦄"
MATRIX_OPEN, MATRIX_CLOSE = "⟦", "⟧"

#: Deeper brace nesting than this is not an answer; the text is returned as it is.
MAX_DEPTH = 50
#: Longer text is not converted (see :func:`to_plain`).
MAX_CHARS = 2000

_FRACS = {"frac", "dfrac", "tfrac", "cfrac", "nicefrac"}
# Commands whose argument is the answer's own text (styling or words).
_TEXTLIKE = {
    "text",
    "textbf",
    "textit",
    "textrm",
    "textnormal",
    "mathrm",
    "mathbf",
    "mathit",
    "mathsf",
    "mathtt",
    "mathnormal",
    "operatorname",
    "mbox",
    "boxed",
    "fbox",
    "bm",
    "boldsymbol",
    "displaystyle",
    "hbox",
}
# Commands dropped with nothing in their place (layout, sizes).
_DROPPED = {
    "left",
    "right",
    "big",
    "Big",
    "bigg",
    "Bigg",
    "bigl",
    "bigr",
    "Bigl",
    "Bigr",
    "biggl",
    "biggr",
    "displaystyle",
    "textstyle",
    "scriptstyle",
    "limits",
    "nolimits",
    "rm",
    "bf",
    "it",
    "qquad",
    "quad",
    "enspace",
    "thinspace",
    "hfill",
    "phantom",
    "dollar",
}
_SYMBOLS = {
    "pi": " pi ",
    "infty": " oo ",
    "infinity": " oo ",
    "cdot": "*",
    "times": "*",
    "ast": "*",
    "div": "/",
    "le": "<=",
    "leq": "<=",
    "leqslant": "<=",
    "ge": ">=",
    "geq": ">=",
    "geqslant": ">=",
    "lt": "<",
    "gt": ">",
    "ne": "!=",
    "neq": "!=",
    "approx": "≈",
    "pm": "±",
    "mp": "∓",
    "cup": "∪",
    "in": "∈",
    "circ": "°",
    "degree": "°",
    "ldots": "...",
    "dots": "...",
    "cdots": "...",
    "emptyset": SET_OPEN + SET_CLOSE,
    "varnothing": SET_OPEN + SET_CLOSE,
    "%": "%",
    "$": "$",
    "&": "&",
    "#": "#",
    "_": "_",
    "{": SET_OPEN,
    "}": SET_CLOSE,
    "lbrace": SET_OPEN,
    "rbrace": SET_CLOSE,
    "langle": "(",
    "rangle": ")",
    "lvert": "|",
    "rvert": "|",
    "vert": "|",
    "mid": "|",
    "|": "|",
    ",": " ",
    ";": " ",
    ":": " ",
    "!": "",
    " ": " ",
    "\\": ";",
}
_MATRIX_ENVS = re.compile(r"^[pbBvV]?matrix\*?$|^smallmatrix$|^array$")

_DEGREES = re.compile(r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ\b|\^\s*\{\s*\\degree\s*\}|°|\\degree\b")
# 1{,}234 and 1\,234 (thousands separators in LaTeX), 1\!234 too.
_LATEX_THOUSANDS = re.compile(r"(?<=\d)(?:\{,\}|,?\\[,!]\s*|\\ |~)(?=\d{3}(?!\d))")
# A trailing unit in text: "5\text{ cm}", "12 \mbox{meters}^2", "3\,\text{kg}".
_TRAILING_UNIT = re.compile(
    r"^(?P<value>.*?[\d}\w)])\s*(?:\\[,;:! ]\s*)*"
    r"\\(?:text|mbox|mathrm|textbf|textrm|textnormal)\s*\{\s*(?P<unit>[A-Za-z][A-Za-z .\-/]*)\}"
    r"\s*(?:\^\s*\{?\s*[23]\s*\}?)?\s*\.?\s*$",
    re.DOTALL,
)
# Words that are no unit: "\text{ and }", "\text{or}" join answers.
_NOT_UNITS = {"and", "or", "i", "e", "not"}


def strip_units(text: str) -> str:
    """``text`` without a unit spelled in a trailing ``\\text{…}`` after a number or value.

    ``5\\text{ cm}^2`` → ``5``; ``\\text{Evelyn}`` (nothing before it) stays.
    """
    for _ in range(3):  # "5 \text{m} \text{per second}" has two
        match = _TRAILING_UNIT.match(text)
        if match is None or match.group("unit").strip().lower() in _NOT_UNITS:
            break
        value = match.group("value")
        if not re.search(r"[\d}]", value):
            break
        text = value
    return text


def _skip_spaces(text: str, i: int) -> int:
    while i < len(text) and text[i].isspace():
        i += 1
    return i


def braced(text: str, i: int) -> tuple[str, int] | None:
    """The content of the brace group opening at ``text[i]``, and the index after it."""
    depth = 0
    j = i
    while j < len(text):
        ch = text[j]
        if ch == "\\":
            j += 2
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[i + 1 : j], j + 1
        j += 1
    return None


def _argument(text: str, i: int) -> tuple[str, int]:
    """One macro argument from ``text[i]``: a brace group, a command, or one character."""
    i = _skip_spaces(text, i)
    if i >= len(text):
        return "", i
    if text[i] == "{":
        group = braced(text, i)
        if group is not None:
            return group
        return text[i + 1 :], len(text)
    if text[i] == "\\":
        match = re.match(r"\\(?:[A-Za-z]+|.)", text[i:])
        if match:
            return match.group(0), i + len(match.group(0))
    return text[i], i + 1


def _environment(text: str, i: int, name: str) -> tuple[str, int]:
    """The body of ``\\begin{name}`` starting at ``text[i]`` and the index after its end."""
    end_tag = "\\end{" + name + "}"
    depth = 1
    j = i
    begin_tag = "\\begin{" + name + "}"
    while j < len(text):
        if text.startswith(begin_tag, j):
            depth += 1
            j += len(begin_tag)
            continue
        if text.startswith(end_tag, j):
            depth -= 1
            if depth == 0:
                return text[i:j], j + len(end_tag)
            j += len(end_tag)
            continue
        j += 1
    return text[i:], len(text)


def _matrix(body: str, depth: int) -> str:
    """``a & b \\\\ c & d`` → ``⟦a,b;c,d⟧``."""
    body = re.sub(r"^\s*\{[lcr|\s]*\}", "", body)  # an array's column spec
    rows = [row for row in re.split(r"\\\\", body) if row.strip()]
    cells = [",".join(_convert(cell, depth + 1).strip() for cell in row.split("&")) for row in rows]
    return MATRIX_OPEN + ";".join(cells) + MATRIX_CLOSE


def _top_level_comma(text: str) -> bool:
    """Whether ``text`` has a comma outside its own braces and brackets."""
    depth = 0
    for ch in text:
        if ch in "{([":
            depth += 1
        elif ch in "})]":
            depth -= 1
        elif ch == "," and depth == 0:
            return True
    return False


def _convert(text: str, depth: int) -> str:
    """The recursive scanner behind :func:`to_plain`."""
    if depth > MAX_DEPTH:
        return text
    out: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            match = re.match(r"\\(?:[A-Za-z]+|.)", text[i:])
            if match is None:  # a lone backslash at the end
                i += 1
                continue
            name = match.group(0)[1:]
            i += len(match.group(0))
            if name in _FRACS:
                top, i = _argument(text, i)
                bottom, i = _argument(text, i)
                out.append(f"(({_convert(top, depth + 1)})/({_convert(bottom, depth + 1)}))")
            elif name == "sqrt":
                j = _skip_spaces(text, i)
                index = None
                if j < n and text[j] == "[":
                    close = text.find("]", j)
                    if close != -1:
                        index, i = text[j + 1 : close], close + 1
                radicand, i = _argument(text, i)
                inner = _convert(radicand, depth + 1)
                if index is None or index.strip() == "2":
                    out.append(f"sqrt({inner})")
                else:
                    out.append(f"(({inner})^(1/({_convert(index, depth + 1)})))")
            elif name == "begin":
                env, i = _argument(text, i)
                body, i = _environment(text, i, env)
                if _MATRIX_ENVS.match(env):
                    out.append(_matrix(body, depth))
                else:  # cases, aligned, gathered: rows become a list
                    out.append(_convert(body.replace("&", ""), depth + 1))
            elif name == "end":
                _env, i = _argument(text, i)
            elif name in _TEXTLIKE:
                j = _skip_spaces(text, i)
                if j < n and text[j] == "{":
                    arg, i = _argument(text, i)
                    out.append(" " + _convert(arg, depth + 1) + " ")
            elif name in _DROPPED:
                if name in ("left", "right", "bigl", "bigr", "Bigl", "Bigr", "big", "Big"):
                    j = _skip_spaces(text, i)
                    if j < n and text[j] == ".":  # \left. … \right| has no delimiter
                        i = j + 1
                elif name == "phantom":
                    _arg, i = _argument(text, i)
                out.append(" ")
            elif name in _SYMBOLS:
                out.append(_SYMBOLS[name])
            elif name.isalpha():
                # \alpha, \sin, \log: a name the reader knows, or a symbol of its own
                out.append(f" \\{name}")  # no space after: "\\zeta_3" keeps its index
        elif ch == "{":
            group = braced(text, i)
            if group is None:
                i += 1
                continue
            previous = text[:i].rstrip()[-1:]
            content, i = group
            if previous not in ("^", "_") and _top_level_comma(content):
                # "{1, 2, 3}": a set written without backslashes
                out.append(SET_OPEN + _convert(content, depth + 1) + SET_CLOSE)
            else:
                out.append("(" + _convert(content, depth + 1) + ")")
        elif ch == "}":
            i += 1
        elif ch == "$":
            i += 1  # math delimiters inside an answer (currency is "\$" or a leading "$")
            out.append(" ")
        elif ch == "~":
            out.append(" ")
            i += 1
        else:
            out.append(ch)
            i += 1
    return "".join(out)


# Unicode math as models also write it, in the reader's spelling.
_UNICODE = str.maketrans(
    {
        "−": "-",
        "–": "-",
        "×": "*",
        "·": "*",
        "⋅": "*",
        "÷": "/",
        "≤": "<=",
        "≥": ">=",
        "≠": "!=",
        "∞": " oo ",
        "π": " pi ",
        "√": " sqrt ",
        "²": "^2",
        "³": "^3",
        "，": ",",
        "（": "(",
        "）": ")",
    }
)


def to_plain(text: str) -> str:
    """Plain math text from a LaTeX answer (see the module docstring); spaces collapsed.

    Text longer than :data:`MAX_CHARS` is no single answer: it comes back with its spaces
    collapsed only (a bound on work for untrusted text).
    """
    if len(text) > MAX_CHARS:
        return " ".join(text.split())
    # "\\frac" from text escaped twice (JSON inside JSON) is "\frac".
    text = re.sub(r"\\\\(?=[A-Za-z])", r"\\", text)
    text = re.sub(r"\\(q?quad)(?=[A-Za-z])", r"\\\1 ", text)  # "\quadx_2" is "\quad x_2"
    text = _DEGREES.sub("", text)
    text = _LATEX_THOUSANDS.sub("", text)
    text = strip_units(text.strip())
    plain = _convert(text, 0).translate(_UNICODE)
    return " ".join(plain.split())
