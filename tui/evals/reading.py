"""Reading a set file safely: a bounded, cancellable read and a strict JSON decoder.

A set path may name anything: ``/dev/zero`` (endless), a FIFO nobody writes to yet, a
process substitution, a 100 MB file. The size cap applies to the bytes actually read, not to
the size a file states (a device or a pipe states 0), and a read that waits on a pipe can be
given up (the app's Esc) between polls.

JSON as Python reads it allows what no answer can be: ``NaN``, ``Infinity``, ``1e400`` (read
as infinity), and nesting deep enough to exhaust Python's recursion. The strict decoder
refuses each with a reason in words, so a set file is refused up front, in one line, instead
of failing later inside the scorer or the store.
"""

from __future__ import annotations

import json
import math
import os
import select
import stat
from collections.abc import Callable
from typing import Any

#: Seconds one wait on a pipe or device lasts before ``cancelled`` is asked again.
POLL_S = 0.1
#: Bytes asked for by one read.
CHUNK = 1 << 20
#: Deepest nesting of arrays and objects accepted in one JSON line (an item is flat; its extra
#: fields may hold a little structure).
MAX_NESTING = 32


class TooBig(ValueError):
    """More bytes than the limit could be read."""


class ReadCancelled(Exception):
    """``cancelled()`` said so while the file was being read."""


def read_limited(
    path: str | os.PathLike[str], limit: int, cancelled: Callable[[], bool] | None = None
) -> bytes:
    """At most ``limit`` bytes of ``path``; :class:`TooBig` as soon as there are more.

    A pipe or device is opened without blocking and read only when ready, so a FIFO without a
    writer, or a slow one, waits in steps of :data:`POLL_S`, asking ``cancelled`` between
    them (:class:`ReadCancelled`). OSError for a path that cannot be opened or read.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        regular = stat.S_ISREG(os.fstat(fd).st_mode)
        if regular:
            os.set_blocking(fd, True)
        poller = None if regular else select.poll()
        if poller is not None:
            poller.register(fd, select.POLLIN)
        parts: list[bytes] = []
        size = 0
        while True:
            if cancelled is not None and cancelled():
                raise ReadCancelled()
            if poller is not None and not poller.poll(int(POLL_S * 1000)):
                continue  # nothing yet (a FIFO before its writer opens it reads as ready-less)
            try:
                piece = os.read(fd, min(CHUNK, limit + 1 - size))
            except BlockingIOError:
                continue
            if not piece:
                break
            parts.append(piece)
            size += len(piece)
            if size > limit:
                raise TooBig(f"more than {limit:,} bytes")
        return b"".join(parts)
    finally:
        os.close(fd)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed: numbers must be finite")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:40]} is out of range: numbers must be finite")
    return value


def json_depth(text: str) -> int:
    """How deeply arrays and objects nest in the JSON ``text`` (brackets inside strings do
    not count), found without decoding it."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def strict_loads(text: str) -> Any:
    """``json.loads`` that refuses NaN, infinities and deep nesting (integers of over 4 300
    digits are refused by Python itself).

    ValueError says why in words (a :class:`json.JSONDecodeError` for malformed JSON). The
    nesting is measured before decoding: the decoder recurses once a level, and a line of
    5 000 brackets would end in RecursionError.
    """
    brackets = text.count("[") + text.count("{")  # counted in C: most lines stop here
    if brackets > MAX_NESTING and json_depth(text) > MAX_NESTING:
        raise ValueError(f"nested more than {MAX_NESTING} levels deep")
    return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
