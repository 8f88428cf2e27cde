"""Math answers read into a small tree and compared by value.

:func:`parse_math` reads the plain text :func:`tui.core.latex.to_plain` makes (numbers, ``+ - * /
^``, implicit products, ``sqrt``/``sin``/``log``…, ``pi``, ``oo``, ``!``, ``±``; tuples and
intervals ``(a, b)`` ``[a, b)``, sets ``⦃…⦄``, matrices ``⟦a,b;c,d⟧``, unions ``∪``, lists
``a, b, c``, relations ``x = …``, ``a < b``) into a tree of tuples, or None when the text is
not math (words, unbalanced brackets, more than :data:`MAX_CHARS` characters).

:func:`same_value` compares two trees: numbers exactly (``fractions.Fraction``) when both
are rational; other expressions by evaluating both, with complex floats, at fixed points for
their variables (an identity test: ``2x+1`` and ``1+2x`` agree everywhere, ``2x+1`` and ``2x``
nowhere). Lists and sets compare without order, tuples and intervals in order with the same
brackets, an equation ``x = 5`` by its right-hand side against a bare value, and two equations
side by side or as the same relation up to a constant factor.

Why not sympy: its parser evaluates Python, which model output must never reach, and its
simplifier needs timeouts that only work in the main thread. This reader runs in linear
time in the text's length; powers and factorials are bounded, so no input can hang it.
"""

from __future__ import annotations

import cmath
import functools
import math
import random
import re
from collections.abc import Sequence
from fractions import Fraction

from tui.core.latex import MATRIX_CLOSE, MATRIX_OPEN, SET_CLOSE, SET_OPEN

__all__ = ["MAX_CHARS", "Node", "parse_math", "same_value"]

#: Longer answers are not read as math (a bound on work; answers are short).
MAX_CHARS = 400
# Powers of more bits and factorials past these are not computed exactly (a bound on work).
_MAX_EXACT_BITS = 100_000
_MAX_FACTORIAL = 170
#: Relative tolerance of two evaluated values.
_REL_TOL = 1e-7

#: A tree node: ``(kind, ...)``; see :func:`parse_math`.
Node = tuple
Value = Fraction | complex

_FUNCTIONS = {
    "sqrt",
    "sin",
    "cos",
    "tan",
    "cot",
    "sec",
    "csc",
    "arcsin",
    "arccos",
    "arctan",
    "sinh",
    "cosh",
    "tanh",
    "log",
    "ln",
    "lg",
    "exp",
    "abs",
}
_GREEK = {
    "alpha",
    "beta",
    "gamma",
    "delta",
    "epsilon",
    "varepsilon",
    "zeta",
    "eta",
    "theta",
    "vartheta",
    "iota",
    "kappa",
    "lambda",
    "mu",
    "nu",
    "xi",
    "rho",
    "sigma",
    "tau",
    "upsilon",
    "phi",
    "varphi",
    "chi",
    "psi",
    "omega",
    "Gamma",
    "Delta",
    "Theta",
    "Lambda",
    "Sigma",
    "Phi",
    "Psi",
    "Omega",
}
_RELATIONS = ("<=", ">=", "!=", "=", "<", ">")
_FLIPPED = {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "=": "=", "!=": "!="}

_TOKEN = re.compile(
    r"\s*(?:"
    r"(?P<num>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+(?![\w.]))?)"
    r"|(?P<name>\\?[A-Za-z]+(?:_(?:[A-Za-z0-9]+|\([A-Za-z0-9+\-]*\)))?)"
    r"|(?P<op><=|>=|!=|\.\.\.|[-+*/^()\[\],;:=<>!%|±∓∪∈°$≈"
    + SET_OPEN
    + SET_CLOSE
    + MATRIX_OPEN
    + MATRIX_CLOSE
    + r"])"
    r")"
)
_THOUSANDS = re.compile(r"(?<![\d.,])([1-9]\d{0,2})((?:,\d{3})+)(?![\d,]|\.\d*,)")
_SPACE_THOUSANDS = re.compile(r"(?<![\d.])([1-9]\d{0,2})((?: \d{3})+)(?![\d.]| \d)")
# "1000,99", "0,111", "1,22": a decimal comma. "6,8" and "-2,1" are lists of two answers
# (as roots are written), "1,234" a thousands separator.
# "4 4/9" is the mixed number 40/9 (one space, nothing else around it that reads as math).
_MIXED = re.compile(r"(?<![\w./^])(?<!\d )(\d{1,3}(?: \d{3})+|\d+) (\d+)/(\d+)(?![\w./^]| \d)")
_DECIMAL_COMMA = re.compile(r"^[-+]?(?:0,\d+|\d{4,},\d+|\d+,(?:\d\d|\d{4,}))$")


class _NotMath(Exception):
    """The text is not one math answer the reader understands."""


class _Parser:
    """Recursive descent over the tokens of one answer."""

    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.abs_depth = 0

    def peek(self, ahead: int = 0) -> tuple[str, str] | None:
        index = self.pos + ahead
        return self.tokens[index] if index < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise _NotMath("unexpected end")
        self.pos += 1
        return token

    def at(self, *ops: str) -> bool:
        token = self.peek()
        return token is not None and token[0] == "op" and token[1] in ops

    def expect(self, *ops: str) -> str:
        if not self.at(*ops):
            raise _NotMath(f"expected {ops}")
        return self.take()[1]

    # answer := item (',' item)* ; a bare list at the top compares without order
    def answer(self) -> Node:
        items = self.items(("end",))
        if self.peek() is not None:
            raise _NotMath("trailing tokens")
        return items[0] if len(items) == 1 else ("list", items)

    def items(self, closers: Sequence[str]) -> list[Node]:
        items: list[Node] = []
        while True:
            while self.at(",", ";") or self._at_word("and"):
                self.take()
            token = self.peek()
            if token is None or (token[0] == "op" and token[1] in closers):
                break
            items.append(self.relation())
            if not (self.at(",", ";") or self._at_word("and")):
                break
        if not items:
            raise _NotMath("empty")
        return items

    def _at_word(self, word: str) -> bool:
        token = self.peek()
        return token is not None and token[0] == "name" and token[1].lower() == word

    def relation(self) -> Node:
        if self.at("∈"):  # "∈ [1, 2]" after a dropped variable
            self.take()
        first = self.ratio()
        if self.at("∈"):  # "x ∈ [1, 2)": the set is the answer
            self.take()
            return self.ratio()
        parts: list[tuple[str, Node]] = []
        while self.at(*_RELATIONS):
            op = self.take()[1]
            parts.append((op, self.ratio()))
        if self.at("≈") and not parts and _only_names(first):  # "x ≈ 11"
            self.take()
            return ("rel", "=", first, self.ratio())
        if self.at("≈"):  # "= 1/3 ≈ 0.33": the approximation is not the answer
            while self.peek() is not None and not self.at(",", ";", ")", "]", SET_CLOSE):
                self.take()
        if not parts:
            return first
        ops = {op for op, _ in parts}
        if ops == {"="}:  # a = b = c: the last value counts, named by a name on the left
            names = [node for node in (first, *(n for _, n in parts[:-1])) if _only_names(node)]
            return ("rel", "=", names[-1] if names else first, parts[-1][1])
        if len(parts) == 1:
            return ("rel", parts[0][0], first, parts[0][1])
        # a < x < b: a chain, kept whole
        return ("chain", first, tuple(parts))

    def ratio(self) -> Node:
        """``a : b`` (a ratio, a time ``12:00``): kept as an ordered pair."""
        parts = [self.union()]
        while self.at(":"):
            self.take()
            parts.append(self.union())
        return parts[0] if len(parts) == 1 else ("seq", ":", parts)

    def union(self) -> Node:
        parts = [self.expr()]
        while self.at("∪"):
            self.take()
            parts.append(self.expr())
        return parts[0] if len(parts) == 1 else ("union", parts)

    def expr(self) -> Node:
        if self.at("±", "∓"):
            self.take()
            return ("pm", ("n", Fraction(0)), self.term())
        node = self.term()
        while self.at("+", "-", "±", "∓"):
            op = self.take()[1]
            right = self.term()
            if op == "+":
                node = ("add", node, right)
            elif op == "-":
                node = ("add", node, ("neg", right))
            else:
                node = ("pm", node, right)
        return node

    def term(self) -> Node:
        node = self.unary()
        while True:
            if self.at("*"):
                self.take()
                node = ("mul", node, self.unary())
            elif self.at("/"):
                self.take()
                node = ("div", node, self.unary())
            elif self._starts_atom():
                node = ("mul", node, self.power())
            else:
                return node

    def _starts_atom(self) -> bool:
        token = self.peek()
        if token is None:
            return False
        kind, text = token
        if kind == "num":
            # "4 2" is no product (LaTeX would print 42): two numbers side by side are no math
            return self.pos == 0 or self.tokens[self.pos - 1][0] != "num"
        if kind == "name":
            return text.lower() not in ("and", "or")
        if text == "|":
            return self.abs_depth == 0
        return text in ("(", "[", SET_OPEN, MATRIX_OPEN)

    def unary(self) -> Node:
        if self.at("-"):
            self.take()
            return ("neg", self.unary())
        if self.at("+"):
            self.take()
            return self.unary()
        return self.power()

    def power(self) -> Node:
        base = self.postfix()
        if self.at("^"):
            self.take()
            return ("pow", base, self.unary())
        return base

    def postfix(self) -> Node:
        node = self.atom()
        while self.at("!", "%", "°"):
            if self.take()[1] == "!":
                node = ("fact", node)
            # "%" and "°" are dropped: "50%" and "50" are one answer, as are 90° and 90
        return node

    def atom(self) -> Node:
        kind, text = self.take()
        if kind == "num":
            return ("n", Fraction(text))
        if kind == "name":
            return self.named(text)
        if text == "$":  # a currency sign
            return self.atom()
        if text in ("(", "["):
            items = self.items((")", "]"))
            close = self.expect(")", "]")
            if len(items) == 1 and (text == "(" and close == ")" or items[0][0] == "mat"):
                return items[0]  # grouping, or a matrix in \left[ \right]
            return ("seq", text + close, items)
        if text == SET_OPEN:
            if self.at(SET_CLOSE):
                self.take()
                return ("set", [])
            items = self.items((SET_CLOSE,))
            self.expect(SET_CLOSE)
            return ("set", items)
        if text == MATRIX_OPEN:
            return self.matrix()
        if text == "|" and self.abs_depth == 0:
            self.abs_depth += 1
            inner = self.expr()
            self.expect("|")
            self.abs_depth -= 1
            return ("fn", "abs", inner)
        raise _NotMath(f"unexpected {text!r}")

    def matrix(self) -> Node:
        rows: list[list[Node]] = [[]]
        while not self.at(MATRIX_CLOSE):
            if self.at(";"):
                self.take()
                rows.append([])
            elif self.at(","):
                self.take()
            else:
                rows[-1].append(self.expr())
        self.take()
        rows = [row for row in rows if row]
        if not rows or len({len(row) for row in rows}) != 1:
            raise _NotMath("ragged matrix")
        return ("mat", rows)

    def named(self, name: str) -> Node:
        command = name.startswith("\\")
        name = re.sub(r"_\((.*)\)$", r"_\1", name.lstrip("\\"))  # y_{1} is y_1
        lower = name.lower()
        if name in ("pi", "oo"):
            return ("c", name)
        base = re.fullmatch(r"log_\(?(\d+)\)?", lower)
        if base:  # log_2 8: a logarithm to a base
            arg = self.power()
            return ("div", ("fn", "ln", arg), ("fn", "ln", ("n", Fraction(base.group(1)))))
        if lower in _FUNCTIONS:
            if self.at("^"):  # sin^2 x
                self.take()
                exponent = self.postfix()
                return ("pow", ("fn", lower, self.power()), exponent)
            return ("fn", lower, self.power())
        if name in _GREEK or "_" in name or len(name) == 1:
            return ("v", name)
        if name.isupper() and len(name) <= 3:  # AB, CD, ABC: points and segments
            return ("v", name)
        if command:  # an unknown LaTeX command: a symbol, the same on both sides
            return ("v", "\\" + name)
        # "xy" could be a product, but "so", "cm" and "is" are words: a reply with words in it
        # is not one math answer.
        raise _NotMath(f"word {name!r}")


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise _NotMath(f"cannot read {text[pos : pos + 10]!r}")
        kind = match.lastgroup or "op"
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    # "..." in a list and "$" (currency, or math delimiters left over) carry no value.
    return [t for t in tokens if t not in (("op", "..."), ("op", "$"))]


def _close_up_thousands(text: str) -> str:
    """``1,234`` → ``1234`` outside brackets (inside, a comma separates items)."""
    out: list[str] = []
    depth = 0
    start = 0
    for i, ch in enumerate(text + "\0"):
        if (
            ch in "([" + SET_OPEN + MATRIX_OPEN
            or ch in ")]" + SET_CLOSE + MATRIX_CLOSE
            or ch == "\0"
        ):
            chunk = text[start:i]
            if depth == 0:
                chunk = _THOUSANDS.sub(lambda m: m.group(1) + m.group(2).replace(",", ""), chunk)
                chunk = _SPACE_THOUSANDS.sub(
                    lambda m: m.group(1) + m.group(2).replace(" ", ""), chunk
                )
            out.append(chunk)
            if ch != "\0":
                out.append(ch)
                depth += 1 if ch in "([" + SET_OPEN + MATRIX_OPEN else -1
            start = i + 1
    return "".join(out)


def parse_math(text: str) -> Node | None:
    """The tree of a plain-text math answer, or None when it is not one (see module doc)."""
    text = text.strip().rstrip(".")
    if not text or len(text) > MAX_CHARS:
        return None
    if _DECIMAL_COMMA.match(text) and not _THOUSANDS.fullmatch(text.lstrip("-+")):
        text = text.replace(",", ".")  # "1000,99": a decimal comma
    text = _MIXED.sub(lambda m: f"({m[1].replace(' ', '')}+{m[2]}/{m[3]})", text)
    try:
        return _Parser(_tokens(_close_up_thousands(text))).answer()
    except (_NotMath, ValueError, ZeroDivisionError, RecursionError):
        return None


# --- values ----------------------------------------------------------------------------------


def _pow(base: Value, exponent: Value) -> Value | None:
    if isinstance(base, Fraction) and isinstance(exponent, Fraction):
        size = max(base.numerator.bit_length(), base.denominator.bit_length(), 1)
        if exponent.denominator == 1 and abs(exponent) * size <= _MAX_EXACT_BITS:
            if base == 0 and exponent < 0:
                return None
            return base**exponent.numerator
        if exponent.denominator == 2 and base >= 0:
            root = _exact_sqrt(base)
            if root is not None and abs(exponent.numerator) * size <= _MAX_EXACT_BITS:
                return root**exponent.numerator if root or exponent > 0 else None
    try:
        result = complex(base) ** complex(exponent)
    except (OverflowError, ZeroDivisionError):
        return None
    return result


def _exact_sqrt(value: Fraction) -> Fraction | None:
    if value < 0:
        return None
    top, bottom = math.isqrt(value.numerator), math.isqrt(value.denominator)
    if top * top == value.numerator and bottom * bottom == value.denominator:
        return Fraction(top, bottom)
    return None


def _function(name: str, arg: Value) -> Value | None:
    if name == "sqrt":
        if isinstance(arg, Fraction):
            root = _exact_sqrt(arg)
            if root is not None:
                return root
        return cmath.sqrt(complex(arg))
    if name == "abs":
        return abs(arg) if isinstance(arg, Fraction) else complex(abs(arg))
    z = complex(arg)
    table = {
        "sin": cmath.sin,
        "cos": cmath.cos,
        "tan": cmath.tan,
        "arcsin": cmath.asin,
        "arccos": cmath.acos,
        "arctan": cmath.atan,
        "sinh": cmath.sinh,
        "cosh": cmath.cosh,
        "tanh": cmath.tanh,
        "exp": cmath.exp,
        "ln": cmath.log,
        "log": cmath.log,
        "lg": cmath.log10,
    }
    if name in table:
        return table[name](z)
    inverse = {"cot": cmath.tan, "sec": cmath.cos, "csc": cmath.sin}[name](z)
    return 1 / inverse if inverse != 0 else None


def _evaluate(node: Node, env: dict[str, complex]) -> Value | None:
    """The value of an expression tree with ``env``'s variables; None when undefined."""
    kind = node[0]
    try:
        if kind == "n":
            number: Value = node[1]
            return number
        if kind == "v":
            return env[node[1]]
        if kind == "c":
            return complex(math.pi) if node[1] == "pi" else complex(math.inf)
        if kind == "neg":
            value = _evaluate(node[1], env)
            return None if value is None else -value
        if kind == "fact":
            value = _evaluate(node[1], env)
            if (
                isinstance(value, Fraction)
                and value.denominator == 1
                and 0 <= value <= _MAX_FACTORIAL
            ):
                return Fraction(math.factorial(int(value)))
            return None
        if kind == "fn":
            value = _evaluate(node[2], env)
            return None if value is None else _function(node[1], value)
        if kind in ("add", "mul", "div", "pow"):
            left, right = _evaluate(node[1], env), _evaluate(node[2], env)
            if left is None or right is None:
                return None
            if kind == "add":
                return left + right
            if kind == "mul":
                return left * right
            if kind == "div":
                return None if right == 0 else left / right
            return _pow(left, right)
    except (OverflowError, ZeroDivisionError, ValueError, KeyError):
        return None
    return None


def _variables(node: Node, found: set[str]) -> set[str]:
    if node[0] == "v":
        found.add(node[1])
    for part in node[1:]:
        if isinstance(part, tuple) and part and isinstance(part[0], str):
            _variables(part, found)
        elif isinstance(part, list):
            for item in part:
                if isinstance(item, tuple):
                    _variables(item, found)
                elif isinstance(item, list):
                    for cell in item:
                        _variables(cell, found)
    return found


def _points(names: set[str]) -> tuple[dict[str, complex], ...]:
    """Fixed, name-seeded points to evaluate at: the same for both answers, every run."""
    return _points_for(tuple(sorted(names)))


@functools.lru_cache(maxsize=256)
def _points_for(names: tuple[str, ...]) -> tuple[dict[str, complex], ...]:
    # Values in (0.3, 2.9): away from 0 and 1, where different expressions often agree.
    return tuple(
        {name: complex(random.Random(f"{name}:{k}").uniform(0.3, 2.9)) for name in names}
        for k in range(4)
    )


def _decimals(node: Node) -> int:
    """Digits after the point of an answer that is one written decimal (else 0)."""
    if node[0] == "neg":
        return _decimals(node[1])
    if node[0] == "n":
        value: Fraction = node[1]
        if value.denominator != 1:
            d = 0
            while value.denominator != 1 and d < 20:
                value *= 10
                d += 1
            return d
    return 0


def _terminates(value: Fraction) -> bool:
    """Whether ``value`` has a finite decimal expansion (``1/4`` does, ``1/3`` does not)."""
    d = value.denominator
    for p in (2, 5):
        while d % p == 0:
            d //= p
    return d == 1


def _close(a: Value, b: Value) -> bool:
    if isinstance(a, Fraction) and isinstance(b, Fraction):
        return a == b
    za, zb = complex(a), complex(b)
    if any(math.isinf(v) or math.isnan(v) for v in (za.real, za.imag, zb.real, zb.imag)):
        return za == zb
    return abs(za - zb) <= _REL_TOL * max(1.0, abs(za), abs(zb))


def _same_expr(a: Node, b: Node) -> bool:
    names = _variables(a, set()) | _variables(b, set())
    if not names:
        va, vb = _evaluate(a, {}), _evaluate(b, {})
        if va is None or vb is None:
            return False
        if _close(va, vb):
            return True
        # A decimal of three or more places against an irrational value: rounded, it matches
        # ("1.414" for sqrt 2), as math-verify's float rounding does.
        for node, other in ((a, vb), (b, va)):
            places = _decimals(node)
            if places >= 3 and not (isinstance(other, Fraction) and _terminates(other)):
                written = _evaluate(node, {})
                assert written is not None
                if abs(complex(other) - complex(written)) <= 10.0**-places:
                    return True
        return False
    agreed = 0
    for env in _points(names):
        va, vb = _evaluate(a, env), _evaluate(b, env)
        if va is None or vb is None:
            continue
        if not _close(va, vb):
            return False
        agreed += 1
    return agreed >= 2


def _ratio(a: Node, b: Node) -> complex | None:
    """The constant ``a / b`` when ``a`` is a non-zero constant times ``b``, else None."""
    names = _variables(a, set()) | _variables(b, set())
    ratio: complex | None = None
    for env in _points(names):
        va, vb = _evaluate(a, env), _evaluate(b, env)
        if va is None or vb is None or complex(vb) == 0:
            continue
        r = complex(va) / complex(vb)
        if r == 0 or (ratio is not None and abs(r - ratio) > _REL_TOL * max(1.0, abs(r))):
            return None
        ratio = r
    if ratio is None or abs(ratio.imag) > _REL_TOL * abs(ratio):
        return None
    return ratio


def _expand(node: Node) -> list[Node] | None:
    """The values a ``±`` stands for; None when ``node`` has none at the top."""
    if node[0] != "pm":
        return None
    return [("add", node[1], node[2]), ("add", node[1], ("neg", node[2]))]


def _unordered(a: list[Node], b: list[Node]) -> bool:
    """Whether two lists hold the same answers, in any order, repeats aside (as sets)."""
    if not a or not b:
        return not a and not b
    return all(any(same_value(x, y) for y in b) for x in a) and all(
        any(same_value(x, y) for x in a) for y in b
    )


def _only_names(node: Node) -> bool:
    """A left-hand side that only names the answer: ``x``, ``a_1``, ``f(x)``, ``NO/BO``,
    ``|AB|`` (variables, no numbers)."""
    if node[0] == "v":
        return True
    if node[0] in ("mul", "div"):
        return _only_names(node[1]) and _only_names(node[2])
    if node[0] == "fn":
        return _only_names(node[2])
    if node[0] == "seq":
        return all(_only_names(item) for item in node[2])
    return False


def _as_interval(node: Node) -> Node | None:
    """``a < x <= b`` as the interval ``(a, b]``; ``x >= 5`` as ``[5, oo)``; else None."""
    strict = {"<": True, "<=": False, ">": True, ">=": False}
    if node[0] == "chain" and len(node[2]) == 2:
        (op1, middle), (op2, high) = node[2]
        low = node[1]
        if op1 in ("<", "<=") and op2 in ("<", "<="):
            brackets = ("(" if strict[op1] else "[") + (")" if strict[op2] else "]")
            return ("seq", brackets, [low, high])
        if op1 in (">", ">=") and op2 in (">", ">="):
            brackets = ("(" if strict[op2] else "[") + (")" if strict[op1] else "]")
            return ("seq", brackets, [high, low])
        return None
    if node[0] == "rel" and node[1] in strict:
        op, left, right = node[1], node[2], node[3]
        if not _only_names(left) and _only_names(right):
            op, left, right = _FLIPPED[op], right, left
        if not _only_names(left):
            return None
        infinity = ("c", "oo")
        if op in ("<", "<="):
            return ("seq", "(" + (")" if strict[op] else "]"), [("neg", infinity), right])
        return ("seq", ("(" if strict[op] else "[") + ")", [right, infinity])
    return None


Matrix = list[list[Value]]


def _has_matrix(node: Node) -> bool:
    """Whether an arithmetic tree has a matrix in it (``A + B``, ``2A``, ``AB``)."""
    if node[0] == "mat":
        return True
    return node[0] in ("add", "mul", "neg") and any(
        _has_matrix(part) for part in node[1:] if isinstance(part, tuple)
    )


def _matrix_value(node: Node, env: dict[str, complex]) -> Matrix | Value | None:
    """A tree's value where matrices add, scale and multiply; None when undefined."""
    kind = node[0]
    if kind == "mat":
        cells = [[_evaluate(cell, env) for cell in row] for row in node[1]]
        if any(cell is None for row in cells for cell in row):
            return None
        return cells  # type: ignore[return-value]
    if kind not in ("add", "mul", "neg") or not _has_matrix(node):
        return _evaluate(node, env)
    if kind == "neg":
        inner = _matrix_value(node[1], env)
        if isinstance(inner, list):
            return [[-cell for cell in row] for row in inner]
        return None if inner is None else -inner
    left, right = _matrix_value(node[1], env), _matrix_value(node[2], env)
    if left is None or right is None:
        return None
    if kind == "add":
        if not (isinstance(left, list) and isinstance(right, list)):
            return None
        if len(left) != len(right) or any(
            len(x) != len(y) for x, y in zip(left, right, strict=True)
        ):
            return None
        return [
            [x + y for x, y in zip(rl, rr, strict=True)] for rl, rr in zip(left, right, strict=True)
        ]
    if isinstance(left, list) and isinstance(right, list):  # a product of matrices
        if any(len(row) != len(right) for row in left):
            return None
        columns = list(zip(*right, strict=True))  # rectangular: Parser.matrix refuses ragged
        return [
            [sum((x * y for x, y in zip(row, col, strict=True)), Fraction(0)) for col in columns]
            for row in left
        ]
    scalar, matrix = (left, right) if isinstance(right, list) else (right, left)
    assert isinstance(matrix, list) and not isinstance(scalar, list)
    return [[scalar * cell for cell in row] for row in matrix]


def _same_matrix(a: Node, b: Node) -> bool:
    """Two trees with matrices in them, compared by their values at the fixed points."""
    names = _variables(a, set()) | _variables(b, set())
    for env in _points(names)[:2]:
        va, vb = _matrix_value(a, env), _matrix_value(b, env)
        if not (isinstance(va, list) and isinstance(vb, list)):
            return False
        if len(va) != len(vb) or any(len(x) != len(y) for x, y in zip(va, vb, strict=True)):
            return False
        if not all(
            _close(x, y) for rx, ry in zip(va, vb, strict=True) for x, y in zip(rx, ry, strict=True)
        ):
            return False
    return True


def same_value(a: Node, b: Node) -> bool:
    """Whether two answer trees are one answer (see the module docstring)."""
    kinds = (a[0], b[0])
    # An equation against a bare value: its right-hand side ("x = 5" vs "5"; "k = 2 + 3 = 5"
    # reads 5), as math-verify reads the last "=".
    if a[0] == "rel" and a[1] == "=" and b[0] not in ("rel", "list") and _only_names(a[2]):
        return same_value(a[3], b)
    if b[0] == "rel" and b[1] == "=" and a[0] not in ("rel", "list") and _only_names(b[2]):
        return same_value(a, b[3])
    # A computation shown against a bare value: its result ("2 \times 3 = 6" vs "6").
    for rel, other in ((a, b), (b, a)):
        if (
            rel[0] == "rel"
            and rel[1] == "="
            and other[0] not in ("rel", "list")
            and not _variables(rel, set())
        ):
            return same_value(rel[3], other)
    # An inequality against an interval: "-2 <= x <= 7" is [-2, 7].
    if a[0] == "seq" and b[0] in ("rel", "chain") or b[0] == "seq" and a[0] in ("rel", "chain"):
        interval_a = _as_interval(a) if a[0] != "seq" else a
        interval_b = _as_interval(b) if b[0] != "seq" else b
        return (
            interval_a is not None and interval_b is not None and same_value(interval_a, interval_b)
        )
    expanded_a, expanded_b = _expand(a), _expand(b)
    if expanded_a is not None or expanded_b is not None:
        left = expanded_a or ([a] if a[0] not in ("list", "set") else a[1])
        right = expanded_b or ([b] if b[0] not in ("list", "set") else b[1])
        return _unordered(left, right)
    if set(kinds) <= {"list", "set", "union"}:
        return _unordered(a[1], b[1])
    # "(1, 3)" against "{1, 3}": the same items in the same order (as math-verify reads it).
    if {kinds, kinds[::-1]} & {("seq", "set")}:
        seq, other = (a, b) if a[0] == "seq" else (b, a)
        return (
            seq[1] == "()"
            and len(seq[2]) == len(other[1])
            and all(same_value(x, y) for x, y in zip(seq[2], other[1], strict=True))
        )
    if kinds == ("seq", "seq"):
        return (
            a[1] == b[1]
            and len(a[2]) == len(b[2])
            and all(same_value(x, y) for x, y in zip(a[2], b[2], strict=True))
        )
    if _has_matrix(a) and _has_matrix(b) and (a[0] != "mat" or b[0] != "mat"):
        return _same_matrix(a, b)  # "A + B" written out against its sum
    if kinds == ("mat", "mat"):
        return len(a[1]) == len(b[1]) and all(
            len(ra) == len(rb) and all(same_value(x, y) for x, y in zip(ra, rb, strict=True))
            for ra, rb in zip(a[1], b[1], strict=True)
        )
    if kinds == ("rel", "rel"):
        if a[1] == b[1] and same_value(a[2], b[2]) and same_value(a[3], b[3]):
            return True
        if _FLIPPED[a[1]] == b[1] and same_value(a[2], b[3]) and same_value(a[3], b[2]):
            return True
        # 2x + 4 = 6 and x + 2 = 3; -x > -1 and x < 1: one relation, scaled.
        ratio = _ratio(("add", a[2], ("neg", a[3])), ("add", b[2], ("neg", b[3])))
        if ratio is None:
            return False
        relation: str = a[1]
        theirs: str = b[1]
        if relation in ("=", "!="):
            return relation == theirs
        return theirs == (relation if ratio.real > 0 else _FLIPPED[relation])
    if kinds == ("chain", "chain"):
        return a == b or (
            same_value(a[1], b[1])
            and len(a[2]) == len(b[2])
            and all(
                oa == ob and same_value(x, y) for (oa, x), (ob, y) in zip(a[2], b[2], strict=True)
            )
        )
    structural = {"list", "set", "union", "seq", "mat", "rel", "chain"}
    if a[0] in structural or b[0] in structural:
        return False
    return _same_expr(a, b)
