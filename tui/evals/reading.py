"""Reading a set file safely: a bounded, cancellable read and a strict JSON decoder.

A set file may also be Parquet (the Hugging Face uploads of GSM8K and AIME 2024, mirrored on
ModelScope): :func:`parquet_as_json_lines` turns its rows into JSON Lines, so they go through
the same checks and format detection. pyarrow reads it, imported only then.

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
from pathlib import Path
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


#: How a Parquet file's name ends (any case).
PARQUET_SUFFIX = ".parquet"


class ParquetUnavailable(Exception):
    """pyarrow cannot be imported, so a Parquet file cannot be read here."""


def is_parquet(path: str | os.PathLike[str]) -> bool:
    return Path(path).suffix.lower() == PARQUET_SUFFIX


def parquet_as_json_lines(data: bytes, limit: int) -> bytes:
    """The rows of a Parquet file (its bytes, read with :func:`read_limited`) as one JSON object
    a line, in order.

    :class:`TooBig` when the rows, uncompressed as the file's footer states them or as JSON,
    come to more than ``limit`` bytes (checked before decompressing: a small file may unpack
    to gigabytes); :class:`ParquetUnavailable` without pyarrow; ValueError, with pyarrow's
    reason, when the bytes are not Parquet. Values JSON has no type for (dates, bytes) are
    written as text; NaN is written as NaN, which :func:`strict_loads` then refuses.
    """
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as err:
        raise ParquetUnavailable(str(err)) from None
    try:
        source = pq.ParquetFile(pa.BufferReader(data))
        meta = source.metadata
        stated = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
        if stated > limit:
            raise TooBig(f"more than {limit:,} bytes uncompressed")
        rows = source.read().to_pylist()
    except TooBig:
        raise
    except (pa.ArrowException, OSError, ValueError) as err:  # not Parquet: one reason
        raise ValueError((str(err).strip().splitlines() or [type(err).__name__])[0]) from None
    lines: list[bytes] = []
    size = 0
    for row in rows:
        line = json.dumps(row, ensure_ascii=False, default=str).encode("utf-8")
        size += len(line) + 1
        if size > limit:
            raise TooBig(f"more than {limit:,} bytes as JSON")
        lines.append(line)
    return b"\n".join(lines)
