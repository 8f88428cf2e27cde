"""Parse g1's step JSON tolerantly, and follow it while it streams.

Small models asked for ``{"title", "content", "next_action"}`` JSON send it wrapped in code
fences, with prose around it, without ``next_action``, cut off at the token limit, or not as
JSON at all. Two tools handle all of that:

- :class:`StepExtractor` reads the stream character by character (a tiny JSON scanner, not a
  parser) and yields the decoded text of the ``content`` string as it grows and the ``title``
  once its string is complete, so the UI shows prose while the model is still typing and never
  raw JSON. It also recovers title/content from JSON that was cut off.
- :func:`parse_step` turns a finished reply into a :class:`ParsedStep`: a full JSON decode
  where possible, the extractor's partial result for truncated JSON, and else the raw text
  flagged ``parsed=False``.

Neither raises on any input.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from tui.sanitize import clean, clean_line

CONTINUE = "continue"
FINAL_ANSWER = "final_answer"

#: Titles longer than this are cut (a title is one line in a list).
TITLE_LIMIT = 120

#: After this many non-blank characters without a ``{`` the reply is taken to be prose and
#: streamed as it is (a server that ignores response_format, a model that will not do JSON).
PROSE_AFTER_CHARS = 80

_FENCE = re.compile(r"^\s*```[A-Za-z0-9_-]*\s*$", re.MULTILINE)


@dataclass(frozen=True)
class ParsedStep:
    """One g1 step as far as it could be understood.

    ``parsed`` is False when no title/content could be recovered: ``content`` then holds the
    raw text (cleaned). ``truncated`` means the JSON was cut off and title/content are what
    was recovered. ``next_action`` is always ``continue`` or ``final_answer``;
    ``next_action_given`` says whether the model actually said it.
    """

    title: str
    content: str
    next_action: str = CONTINUE
    parsed: bool = True
    truncated: bool = False
    next_action_given: bool = True

    @property
    def is_final(self) -> bool:
        return self.next_action == FINAL_ANSWER

    def to_message(self) -> str:
        """The one canonical JSON text of this step, as g1 appends it to the conversation."""
        return json.dumps(
            {"title": self.title, "content": self.content, "next_action": self.next_action},
            ensure_ascii=False,
        )


def normalize_next_action(value: Any) -> str | None:
    """``final_answer``/``continue`` from what models write ("Final Answer", "final"), else None."""
    if not isinstance(value, str):
        return None
    word = re.sub(r"[\s\-]+", "_", value.strip().lower())
    if word.startswith("final") or word in ("done", "answer", "stop", "finish"):
        return FINAL_ANSWER
    if word.startswith("continu") or word in ("next", "more"):
        return CONTINUE
    return None


def as_text(value: Any) -> str:
    """A JSON value as prose: strings as they are, lists one item a line, objects as
    ``key: value`` lines — never as JSON syntax."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, list):
        return "\n".join(as_text(v) for v in value)
    if isinstance(value, dict):
        return "\n".join(f"{k}: {as_text(v)}" for k, v in value.items())
    return str(value)


def clean_title(value: Any) -> str:
    """One line, bounded, and never something that looks like JSON (then empty)."""
    title = clean_line(as_text(value), TITLE_LIMIT)
    if title[:1] in ("{", "["):
        return ""
    return title


class StepExtractor:
    """Follow a streamed step reply and extract ``title``/``content``/``next_action``.

    Feed text as it arrives; :meth:`feed` returns the newly decoded ``content`` text. After
    each feed, :attr:`title` holds the title once its string is complete (or, for a reply cut
    off inside the title, the part so far via :attr:`partial_title`). Only the first
    top-level object counts; everything after it is ignored.
    """

    def __init__(self) -> None:
        self._depth = 0
        self._in_string = False
        self._escape = ""  # "" | "\\" | "\\u" + up to 4 hex digits
        self._pending_high: str | None = None  # a high surrogate waiting for its pair
        self._expect_key = False
        self._string_is_key = False
        self._key = ""
        self._target: str | None = None  # "title" | "content" | "next_action" | None
        self._buf: list[str] = []
        self._done = False
        self._seen_object = False
        self._prose_chars = 0
        self._before: list[str] = []  # text before the first "{", shown if it turns out prose
        self.prose = False  # the reply is not JSON: the whole text is streamed as content
        self.title: str | None = None
        self.partial_title = ""
        self.content = ""
        self.next_action: str | None = None
        self.complete = False  # the first top-level object was closed

    # -- public ------------------------------------------------------------------------
    def feed(self, text: str) -> str:
        """Consume ``text``; return the content text decoded from it (may be empty)."""
        out: list[str] = []
        for ch in text:
            if self.prose:
                out.append(ch)
            elif not self._done:
                self._step(ch, out)
        piece = "".join(out)
        self.content += piece
        return piece

    # -- scanner -----------------------------------------------------------------------
    def _step(self, ch: str, out: list[str]) -> None:
        if self._depth == 0:
            self._before_object(ch, out)
            return
        if self._in_string:
            self._string_char(ch, out)
            return
        if ch == '"':
            self._start_string()
        elif ch in "{[":
            self._depth += 1
        elif ch in "}]":
            self._depth -= 1
            if self._depth == 0:
                self._done = True
                self.complete = True
        elif ch == "," and self._depth == 1:
            self._expect_key = True

    def _before_object(self, ch: str, out: list[str]) -> None:
        if ch == "{":
            self._depth = 1
            self._expect_key = True
            self._seen_object = True
            return
        self._before.append(ch)
        if ch.isspace() or ch == "`":
            return
        self._prose_chars += 1
        if self._prose_chars > PROSE_AFTER_CHARS and not self._seen_object:
            # Not JSON after a good while: show the text as it is, from its start.
            self.prose = True
            out.extend(self._before)
            self._before = []

    def _start_string(self) -> None:
        self._in_string = True
        self._buf = []
        self._string_is_key = self._depth == 1 and self._expect_key
        self._target = None
        if (
            self._depth == 1
            and not self._string_is_key
            and self._key
            in (
                "title",
                "content",
                "next_action",
            )
        ):
            self._target = self._key

    def _string_char(self, ch: str, out: list[str]) -> None:
        if self._escape:
            self._escape_char(ch, out)
            return
        if ch == "\\":
            self._escape = "\\"
            return
        if ch == '"':
            self._end_string()
            return
        self._emit(ch, out)

    def _escape_char(self, ch: str, out: list[str]) -> None:
        if self._escape == "\\":
            if ch == "u":
                self._escape = "\\u"
                return
            self._escape = ""
            simple = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}
            self._emit(simple.get(ch, ch), out)
            return
        # inside \uXXXX
        if ch not in "0123456789abcdefABCDEF":
            self._escape = ""  # broken escape: drop it, keep the character
            self._emit(ch, out)
            return
        self._escape += ch
        if len(self._escape) == 6:
            code = int(self._escape[2:], 16)
            self._escape = ""
            self._emit_code(code, out)

    def _emit_code(self, code: int, out: list[str]) -> None:
        if 0xD800 <= code <= 0xDBFF:
            if self._pending_high is not None:
                self._emit("\ufffd", out)
            self._pending_high = chr(code)
            return
        if 0xDC00 <= code <= 0xDFFF and self._pending_high is not None:
            pair = (ord(self._pending_high) - 0xD800) * 0x400 + (code - 0xDC00) + 0x10000
            self._pending_high = None
            self._emit(chr(pair), out)
            return
        self._emit(chr(code) if not 0xD800 <= code <= 0xDFFF else "\ufffd", out)

    def _emit(self, ch: str, out: list[str]) -> None:
        if self._pending_high is not None:
            # A high surrogate not followed by its low half: replace it.
            self._pending_high = None
            self._emit("\ufffd", out)
        self._buf.append(ch)
        if self._target == "content":
            out.append(ch)
        elif self._target == "title":
            self.partial_title += ch

    def _end_string(self) -> None:
        self._in_string = False
        if self._pending_high is not None:
            self._pending_high = None
            self._buf.append("\ufffd")
            if self._target == "content":
                self.content += "\ufffd"
        value = "".join(self._buf)
        if self._string_is_key:
            self._key = value
            self._expect_key = False
        elif self._target == "title":
            self.title = value
        elif self._target == "next_action":
            self.next_action = value
        self._target = None


def _strip_fences(text: str) -> str:
    return _FENCE.sub("", text).strip()


def _decode_objects(text: str) -> list[dict[str, Any]]:
    """Every JSON object that starts at a ``{`` in ``text`` and decodes completely."""
    decoder = json.JSONDecoder(strict=False)
    found: list[dict[str, Any]] = []
    pos = text.find("{")
    tries = 0
    # Bounded: a reply full of "{" must not turn into quadratic work.
    while pos != -1 and len(found) < 8 and tries < 64:
        tries += 1
        try:
            obj, end = decoder.raw_decode(text, pos)
        except (ValueError, RecursionError):
            pos = text.find("{", pos + 1)
            continue
        if isinstance(obj, dict):
            found.append({str(k).strip().lower(): v for k, v in obj.items()})
        pos = text.find("{", end)
    return found


def _pick_step_object(objects: list[dict[str, Any]]) -> dict[str, Any] | None:
    for obj in objects:
        if "content" in obj or "title" in obj:
            return obj
    # A model that nests its step ({"step": {...}}) or names keys differently.
    for obj in objects:
        for value in obj.values():
            if isinstance(value, dict):
                inner = {str(k).strip().lower(): v for k, v in value.items()}
                if "content" in inner or "title" in inner:
                    return inner
    return None


def parse_step(text: str, *, truncated: bool = False) -> ParsedStep:
    """Understand one finished g1 reply. ``truncated`` says the server stopped it at the token
    limit (finish_reason ``length``), which makes a partial object acceptable."""
    raw = text if isinstance(text, str) else str(text)
    body = _strip_fences(raw)
    obj = _pick_step_object(_decode_objects(body))
    if obj is not None:
        action = normalize_next_action(obj.get("next_action"))
        content = as_text(obj.get("content"))
        return ParsedStep(
            title=clean_title(obj.get("title")),
            content=clean(content),
            next_action=action or CONTINUE,
            parsed=True,
            truncated=False,
            next_action_given=action is not None,
        )
    extractor = StepExtractor()
    extractor.feed(body)
    if not extractor.prose and extractor.content.strip():
        # Cut-off JSON (or JSON broken further on): keep what was recovered.
        title = extractor.title if extractor.title is not None else extractor.partial_title
        action = normalize_next_action(extractor.next_action)
        return ParsedStep(
            title=clean_title(title),
            content=clean(extractor.content),
            next_action=action or CONTINUE,
            parsed=True,
            truncated=truncated or not extractor.complete,
            next_action_given=action is not None,
        )
    return ParsedStep(
        title="",
        content=clean(raw.strip()),
        next_action=CONTINUE,
        parsed=False,
        truncated=truncated,
        next_action_given=False,
    )
