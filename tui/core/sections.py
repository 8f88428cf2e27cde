"""Cut long model answers into steps, find the boxed answer, separate ``<think>`` text.

Everything here works on streams: the splitters take text as it arrives and return pieces
(``Heading``, ``Text``, ``Break``; ``Think``/``Answer``) that the strategies turn into step
events, holding back only what they must (a line that may turn out to be a heading, a
``<`` that may start a tag). Whole-text helpers (:func:`split_sections`,
:func:`split_think`) are the same machinery fed once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tui.sanitize import clean_line

HEADING_LIMIT = 100

_ATX = re.compile(r"^ {0,3}(#{1,4})[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")
# A line that is all bold: "**Step 2: Check**", "**Verification:**", "__Answer__".
_BOLD_LINE = re.compile(rf"^ {{0,3}}(\*\*|__)(?P<t>[^*_\n]{{1,{HEADING_LIMIT}}}?)\1[ \t]*:?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")


@dataclass(frozen=True)
class Heading:
    title: str


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Break:
    """A blank line after at least ``paragraph_chars`` of text: a place to start a new step."""


Piece = Heading | Text | Break


def heading_title(line: str) -> str | None:
    """The title when ``line`` (without its newline) is a Markdown heading or a bold line."""
    match = _ATX.match(line)
    if match:
        title = match.group(2).strip().strip("*_").strip()
    else:
        match = _BOLD_LINE.match(line)
        if not match:
            return None
        title = match.group("t").strip()
    title = title.rstrip(":：").strip()
    return clean_line(title, HEADING_LIMIT) or None


class SectionSplitter:
    """Split streamed Markdown at headings (and, optionally, at paragraph breaks).

    Text goes out as soon as it cannot be a heading: only a line that starts like one
    (``#`` or ``*``/``_``) is held until its newline. Headings inside code fences are text.
    With ``paragraph_chars`` set, a blank line after that much text since the last cut gives
    a :class:`Break` (used to cut long thinking without headings into readable steps).
    """

    def __init__(self, paragraph_chars: int | None = None) -> None:
        self._line = ""  # the current, unfinished line (when it is being held)
        self._holding = False
        self._at_line_start = True
        self._in_fence = False
        self._paragraph_chars = paragraph_chars
        self._since_cut = 0
        self._line_has_text = False

    def feed(self, text: str) -> list[Piece]:
        pieces: list[Piece] = []
        out: list[str] = []
        for ch in text:
            if self._at_line_start:
                self._at_line_start = False
                self._line = ""
                self._line_has_text = False
                self._holding = ch in "#*_ " and not self._in_fence
            if self._holding:
                self._line += ch
                if ch == "\n":
                    self._finish_held_line(pieces, out)
                elif not self._could_be_heading(self._line):
                    self._holding = False
                    out.append(self._line)
                    self._line_has_text = bool(self._line.strip())
                continue
            out.append(ch)
            self._line += ch
            if not ch.isspace():
                self._line_has_text = True
            if ch == "\n":
                self._end_line(self._line, pieces, out)
        self._flush(pieces, out)
        return pieces

    def close(self) -> list[Piece]:
        """End of stream: whatever was held is text (or a last heading)."""
        pieces: list[Piece] = []
        if self._holding and self._line:
            title = heading_title(self._line)
            if title is not None:
                pieces.append(Heading(title))
                self._since_cut = 0
            else:
                pieces.append(Text(self._line))
        self._holding = False
        self._line = ""
        return pieces

    # -- internals ---------------------------------------------------------------------
    @staticmethod
    def _could_be_heading(partial: str) -> bool:
        stripped = partial.lstrip(" ")
        if len(partial) - len(stripped) > 3 or len(partial) > HEADING_LIMIT + 16:
            return False
        if not stripped:
            return True
        if stripped[0] == "#":
            hashes = len(stripped) - len(stripped.lstrip("#"))
            rest = stripped[hashes:]
            return hashes <= 4 and (rest == "" or rest[0] in " \t")
        if stripped[0] in "*_":
            # "**Bold line**" may be a heading; "* item" is a list item, release it now.
            return len(stripped) < 2 or stripped[:2] in ("**", "__")
        return False

    def _finish_held_line(self, pieces: list[Piece], out: list[str]) -> None:
        line = self._line
        self._holding = False
        title = heading_title(line[:-1]) if not self._in_fence else None
        if title is not None:
            self._flush(pieces, out)
            pieces.append(Heading(title))
            self._since_cut = 0
            self._at_line_start = True
            return
        out.append(line)
        self._line_has_text = bool(line.strip())
        self._end_line(line, pieces, out)

    def _end_line(self, line: str, pieces: list[Piece], out: list[str]) -> None:
        self._at_line_start = True
        if _FENCE.match(line):
            self._in_fence = not self._in_fence
        if line.strip():
            self._since_cut += len(line)
            return
        if (
            self._paragraph_chars is not None
            and not self._in_fence
            and self._since_cut >= self._paragraph_chars
        ):
            self._flush(pieces, out)
            pieces.append(Break())
            self._since_cut = 0

    @staticmethod
    def _flush(pieces: list[Piece], out: list[str]) -> None:
        if out:
            pieces.append(Text("".join(out)))
            out.clear()


@dataclass(frozen=True)
class Section:
    title: str
    body: str


def split_sections(text: str) -> list[Section]:
    """Whole-text version of :class:`SectionSplitter`: sections at headings. Text before the
    first heading is a section titled ``""``; sections with blank bodies under a following
    heading are kept (the caller decides)."""
    splitter = SectionSplitter()
    pieces = splitter.feed(text) + splitter.close()
    sections: list[Section] = []
    title: str | None = None
    body: list[str] = []
    for piece in pieces:
        if isinstance(piece, Heading):
            if title is not None or "".join(body).strip():
                sections.append(Section(title or "", "".join(body).strip()))
            title, body = piece.title, []
        elif isinstance(piece, Text):
            body.append(piece.text)
    if title is not None or "".join(body).strip():
        sections.append(Section(title or "", "".join(body).strip()))
    return sections


# --- \boxed{...} -------------------------------------------------------------------------

_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")


def last_boxed(text: str) -> str | None:
    """Content of the last complete ``\\boxed{...}`` (nested braces allowed), else None."""
    found: str | None = None
    for match in _BOXED.finditer(text):
        depth = 1
        i = match.end()
        while i < len(text) and depth:
            ch = text[i]
            if ch == "\\" and i + 1 < len(text):
                i += 2  # an escaped brace (\{ \}) does not count
                continue
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            i += 1
        if depth == 0:
            found = text[match.end() : i - 1].strip()
    return found


def last_paragraph(text: str) -> str:
    """The last non-blank paragraph of ``text`` (fallback answer when nothing is boxed)."""
    paragraphs = [p.strip() for p in re.split(r"\n[ \t]*\n", text) if p.strip()]
    return paragraphs[-1] if paragraphs else ""


# --- <think> ... </think> ----------------------------------------------------------------

OPEN_TAG = "<think>"
CLOSE_TAG = "</think>"


@dataclass(frozen=True)
class Think:
    text: str


@dataclass(frozen=True)
class Answer:
    text: str


class ThinkSplitter:
    """Separate streamed reasoning-model output into thinking and answer text.

    DeepSeek-R1's chat template puts ``<think>`` into the prompt, so the reply often starts
    inside the thinking with no opening tag: text before a lone ``</think>`` is thinking.
    With ``starts_thinking=True`` (the default for the native strategy) text is taken to be
    thinking until ``</think>``; :attr:`saw_tag` tells afterwards whether any tag appeared at
    all, so a reply with no tags can be reinterpreted as all answer. A tag split across
    chunks is held back until it is complete.
    """

    def __init__(self, starts_thinking: bool = True) -> None:
        self.thinking = starts_thinking
        self.saw_tag = False
        self._held = ""

    def feed(self, text: str) -> list[Think | Answer]:
        data = self._held + text
        self._held = ""
        pieces: list[Think | Answer] = []
        while data:
            tag = CLOSE_TAG if self.thinking else OPEN_TAG
            other = OPEN_TAG if self.thinking else CLOSE_TAG
            pos, found = self._find_tag(data, tag, other)
            if pos == -1:
                keep = self._partial_tag_suffix(data)
                body, self._held = (data[:-keep], data[-keep:]) if keep else (data, "")
                self._emit(body, pieces)
                break
            self._emit(data[:pos], pieces)
            data = data[pos + len(found) :]
            self.saw_tag = True
            if found == CLOSE_TAG:
                self.thinking = False
            elif found == OPEN_TAG:
                self.thinking = True
        return pieces

    def close(self) -> list[Think | Answer]:
        pieces: list[Think | Answer] = []
        self._emit(self._held, pieces)
        self._held = ""
        return pieces

    def _emit(self, text: str, pieces: list[Think | Answer]) -> None:
        if text:
            pieces.append(Think(text) if self.thinking else Answer(text))

    @staticmethod
    def _find_tag(data: str, tag: str, other: str) -> tuple[int, str]:
        """The first of ``tag``/``other`` in ``data``. A stray ``<think>`` inside thinking is
        dropped as noise (other == OPEN_TAG while thinking), same for ``</think>`` in the
        answer."""
        a, b = data.find(tag), data.find(other)
        if a == -1 and b == -1:
            return -1, ""
        if b == -1 or (a != -1 and a < b):
            return a, tag
        return b, other

    @staticmethod
    def _partial_tag_suffix(data: str) -> int:
        """How many trailing characters could be the start of a tag."""
        for size in range(min(len(CLOSE_TAG) - 1, len(data)), 0, -1):
            tail = data[-size:]
            if CLOSE_TAG.startswith(tail) or OPEN_TAG.startswith(tail):
                return size
        return 0


def split_think(text: str) -> tuple[str, str]:
    """``(thinking, answer)`` of a whole reply. No tags at all: no thinking, all answer. A lone
    ``</think>``: what precedes it is thinking (the opening tag was in the prompt)."""
    if OPEN_TAG not in text and CLOSE_TAG not in text:
        return "", text.strip()
    splitter = ThinkSplitter(starts_thinking=OPEN_TAG not in text.split(CLOSE_TAG, 1)[0])
    pieces = splitter.feed(text) + splitter.close()
    thinking = "".join(p.text for p in pieces if isinstance(p, Think))
    answer = "".join(p.text for p in pieces if isinstance(p, Answer))
    return thinking.strip(), answer.strip()
