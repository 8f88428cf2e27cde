"""Server-sent events read from a byte stream, as the WHATWG event-stream rules read them.

The OpenAI client reads a chat stream's bytes itself (``backends.openai_client``): the
``openai`` package's own reader builds a pydantic object per chunk, most of the client's CPU
when hundreds of streams run at once. This decoder follows the same rules as that reader, so
a server's stream means the same either way: lines end in LF, CRLF or CR (also when a CRLF is
split between two network reads), ``:`` starts a comment, a field's value loses one leading
space, ``data`` lines of one event are joined with newlines, a blank line ends an event, and
an event is only dispatched when it set a field (a later ``id`` is remembered, as the rules
say, so a blank line after it dispatches an event without data) and an event the stream's end
cuts short is never dispatched. Lines are UTF-8: bytes that are not raise
``UnicodeDecodeError`` (a ``ValueError``).

It keeps no bound of its own: the HTTP transport ends a response whose event grows past
:data:`backends.bounded_stream.MAX_EVENT_BYTES`, and a long line is kept as a list of pieces
(joined once) so it costs linear time however small the reads are.
"""

from __future__ import annotations

__all__ = ["SSEDecoder", "SSEvent"]

#: One dispatched event: its ``event`` field ("" when none was sent) and its data.
SSEvent = tuple[str, str]


class SSEDecoder:
    """Feed it the stream's bytes in whatever pieces they arrive; it returns whole events."""

    def __init__(self) -> None:
        self._pending: list[bytes] = []  # an unfinished line's pieces
        self._skip_lf = False  # the last piece ended in CR: a LF opening the next ends no line
        self._event = ""
        self._data: list[str] = []
        self._id = ""
        self._retry = False  # a retry field with a number was seen in this event

    def feed(self, block: bytes) -> list[SSEvent]:
        """The events ``block`` completes (usually one: a chunk's ``data:`` line and a blank)."""
        if not block:
            return []
        if self._skip_lf:
            self._skip_lf = False
            if block[:1] == b"\n":
                block = block[1:]
        if b"\r" in block:
            self._skip_lf = block.endswith(b"\r")
            block = block.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = block.split(b"\n")
        if len(lines) == 1:
            self._pending.append(block)
            return []
        if self._pending:
            self._pending.append(lines[0])
            lines[0] = b"".join(self._pending)
            self._pending.clear()
        tail = lines.pop()
        if tail:
            self._pending.append(tail)
        events: list[SSEvent] = []
        for line in lines:
            if line:
                self._field(line)
            elif self._data or self._event or self._id or self._retry:
                events.append(self._dispatch())
        return events

    def _field(self, raw: bytes) -> None:
        if raw.startswith(b"data:"):  # nearly every line of a chat stream
            value = raw[5:].decode("utf-8")
            self._data.append(value[1:] if value[:1] == " " else value)
            return
        line = raw.decode("utf-8")
        if line.startswith(":"):
            return
        name, _, value = line.partition(":")
        if value[:1] == " ":
            value = value[1:]
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id":
            if "\0" not in value:
                self._id = value
        elif name == "retry":
            try:
                int(value)
            except ValueError:
                return
            self._retry = True

    def _dispatch(self) -> SSEvent:
        data = self._data[0] if len(self._data) == 1 else "\n".join(self._data)
        event = (self._event, data)
        self._event = ""
        self._data = []
        self._retry = False
        return event
