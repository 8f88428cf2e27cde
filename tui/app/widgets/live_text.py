"""Plain text that grows at its end (a streaming step), drawn line by line.

A :class:`~textual.widgets.Static` wraps and repaints all of its text on every update. While
an answer streams, almost every update only adds a few characters to its last line, so this
widget keeps the wrapped lines of the text's finished lines (up to its last line break) and
wraps again only the last one; an update repaints only the lines that changed, and asks for
a new layout of the chain only when its height changed. It looks exactly like a
``Static`` of the same text (the same wrapping, styles and padding).

With a ``block`` of N lines it keeps room for N - 1 more lines under its text (blank; fewer
while the text is shorter than that) each time it grows: a text that grows line by line lays
out (and scrolls) the chain about once per N new lines instead of once per line, and fills
the room with repaints of those lines only.
"""

from __future__ import annotations

from textual.content import Content
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.visual import Visual
from textual.widget import Widget


class LiveText(Widget):
    """Untrusted plain text (never markup) that grows at its end: :meth:`set_text`."""

    DEFAULT_CSS = """
    LiveText {
        height: auto;
    }
    """

    def __init__(self, text: str = "", *, block: int = 1, classes: str | None = None) -> None:
        super().__init__(classes=classes)
        self._text = text
        #: Each time the text grows past its height, room for this many lines less one is
        #: added under it (1: the height is the text's lines).
        self._block = max(1, block)
        #: The height, set when the text is wrapped in full and when it grows past it.
        self._rows = 0
        #: Wrapped lines of ``_text[:_head_len]`` (the lines before its last line break), and
        #: of the rest (the last line, still growing), for the width and style in ``_key``.
        self._head: list[Strip] = []
        self._head_len = 0
        self._head_rows = 0  # line breaks in the head
        self._tail: list[Strip] = []
        self._key: tuple[int, object] | None = None
        #: The most lines shown (``set_text(grow=False)``); None: all.
        self._limit: int | None = None

    @property
    def text(self) -> str:
        return self._text

    def render(self) -> Content:
        """The whole text (what a selection and the rare uncached paint use)."""
        return Content(self._text)

    @property
    def line_count(self) -> int:
        """Lines of text shown."""
        total = len(self._head) + len(self._tail)
        return total if self._limit is None else min(total, self._limit)

    @property
    def rows(self) -> int:
        """The widget's height: the lines shown and the room kept under them."""
        return self._rows

    def _room_for(self, lines: int, room: int | None = None) -> int:
        """The height for ``lines`` lines of text and ``room`` blank lines under them (by
        default a block less one), but fewer blank lines than lines of text: a short text
        (one line) has none, and does not push what is above it out of view."""
        room = self._block - 1 if room is None else room
        return lines + max(0, min(room, lines - 1))

    def set_text(self, text: str, *, grow: bool = True, room: int | None = None) -> bool:
        """Show ``text``. When it extends the text shown, only its changed lines are
        repainted, and the chain is laid out again only when the height changed: when the
        text outgrows it, the height makes room for ``room`` more lines (by default a block
        less one). With ``grow`` False the height is kept: lines past it wait for the next
        call that may grow. Returns whether all of ``text`` is shown."""
        old_rows = self.rows
        key = self._key
        # Attached as well as mounted: a view taken off the screen (another chain shown) has no
        # screen to wrap for, and is wrapped in full when it is shown again.
        grows = (
            key is not None and self.is_mounted and self.is_attached and text.startswith(self._text)
        )
        self._text = text
        if key is None or not grows:
            self._key, self._limit = None, None  # wrapped again in full when next drawn
            self.refresh(layout=True)
            return True
        start, old_lines = len(self._head), self._tail
        self._wrap_end(key[0])
        new_lines = [*self._head[start:], *self._tail]
        # The first line that changed: a word that grows changes only the last line or two.
        same = 0
        for old_line, new_line in zip(old_lines, new_lines, strict=False):
            if old_line.text != new_line.text:
                break
            same += 1
        first = start + same
        total = len(self._head) + len(self._tail)
        self._limit = None
        if total > old_rows:
            if grow:
                self._rows = self._room_for(total, room)
            else:
                self._limit = old_rows
        count = self.line_count
        if self._rows != old_rows:
            self.refresh(layout=True)
        elif first < count:
            self.refresh(Region(0, first, self.size.width, count - first))
        return count == total

    # --- wrapping --------------------------------------------------------------------------

    def _lines_of(self, text: str, row: int, width: int) -> list[Strip]:
        """Line ``row`` of the text (``text``, no line break in it) wrapped to ``width`` cells,
        as a Static draws it: each cell carries its place in the whole text (for selection)."""
        strips = Visual.to_strips(self, Content(text), width, None, self.visual_style)
        return [_in_row(strip, row) for strip in strips] if row else strips

    def _wrap_end(self, width: int) -> None:
        """Wrap what follows the wrapped head: new finished lines join the head."""
        rest = self._text[self._head_len :]
        *done, last = rest.split("\n")
        for line in done:
            self._head.extend(self._lines_of(line, self._head_rows, width))
            self._head_len += len(line) + 1
            self._head_rows += 1
        self._tail = self._lines_of(last, self._head_rows, width)

    def _ensure(self, width: int) -> None:
        """Have every line wrapped for ``width`` and the current style."""
        key = (width, self.visual_style)
        if key != self._key:
            self._key = key
            self._head, self._head_len, self._head_rows = [], 0, 0
            self._wrap_end(width)
            self._limit = None
            self._rows = self._room_for(len(self._head) + len(self._tail))

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        if not width:
            return 0
        self._ensure(width)
        return self.rows

    def render_line(self, y: int) -> Strip:
        if self.text_selection is not None:
            return super().render_line(y)  # a selection is drawn over the whole text
        width = self.size.width
        self._ensure(width)
        head = self._head
        if y >= self.line_count:
            return Strip.blank(width, self.visual_style.rich_style)
        if y < len(head):
            return head[y]
        y -= len(head)
        if y < len(self._tail):
            return self._tail[y]
        return Strip.blank(width, self.visual_style.rich_style)


def _in_row(strip: Strip, row: int) -> Strip:
    """``strip`` (wrapped from a text of one line) as part of line ``row`` of a longer text:
    the (column, line) offsets its cells carry for text selection moved to that line."""
    for segment in strip:
        style = segment.style
        if style is not None and style._meta:
            column = style.meta.get("offset", (0, 0))[0]
            return strip.apply_offsets(column, row)
    return strip
