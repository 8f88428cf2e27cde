"""Writing what a command produces: to standard output or a file, failures as one line.

A full disk, ``> /dev/full``, ``-o`` naming a folder or a missing one: each ends in one line
that says what could not be written and why in words ("disk full"), never a traceback. A
chain's record does not depend on its printout: output that fails while a chain runs is
remembered (:class:`GuardedPrinter`) and reported once the chain is saved as it ended.
"""

from __future__ import annotations

import errno
import io
import json
import os
import re
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

from backends.errors import O1Error

#: Words for the errors a user meets when writing (strerror is terse or cryptic for some).
_WORDS = {
    errno.ENOSPC: "disk full",
    errno.EDQUOT: "disk quota exceeded",
    errno.EFBIG: "file too large (disk full or a size limit)",
    errno.EISDIR: "it is a folder; give a file name",
    errno.ENOENT: "no such folder",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EACCES: "permission denied",
    errno.EROFS: "read-only file system",
}


#: Errors that mean the path given is wrong, not that writing failed.
_BAD_PATH = frozenset({errno.EISDIR, errno.ENOENT, errno.ENOTDIR})


class OutputError(O1Error):
    """Output could not be written; the message says what and why."""


def why(err: OSError) -> str:
    """An OSError's reason in words."""
    return _WORDS.get(err.errno or 0, err.strerror or str(err))


def describe(err: OSError, what: str) -> str:
    """``cannot write <what>: <why>``."""
    return f"cannot write {what}: {why(err)}"


def write_limited(path: Path, text: str, mode_like: Path | None = None) -> None:
    """Write ``text`` to ``path``, created with the user's umask but never more open than the
    file ``mode_like`` (the history's own: an export holds the same text). Raises OSError."""
    limit = 0o666
    if mode_like is not None:
        try:
            limit = stat.S_IMODE(mode_like.stat().st_mode) & 0o666
        except OSError:
            limit = 0o600
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, limit)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    if stat.S_IMODE(os.stat(path).st_mode) & ~limit & 0o777:  # an existing, wider file
        os.chmod(path, stat.S_IMODE(os.stat(path).st_mode) & limit)


def write_file(path: Path, text: str, *, mode_like: Path | None = None) -> None:
    """:func:`write_limited`, failures as :class:`OutputError` (one line for the CLI)."""
    try:
        write_limited(path, text, mode_like)
    except OSError as err:
        error = OutputError(describe(err, str(path)))
        if err.errno in _BAD_PATH:  # the path given cannot be a file: bad input
            error.exit_code = 2
        raise error from None


def check_writable(path: Path) -> None:
    """Raise :class:`OutputError`, as :func:`write_file` would, when ``path`` cannot be created
    or written: asked before a long run whose results go there, not after it. A file made
    only to ask is removed again."""
    existed = os.path.lexists(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    except OSError as err:
        error = OutputError(describe(err, str(path)))
        if err.errno in _BAD_PATH:
            error.exit_code = 2
        raise error from None
    os.close(fd)
    if not existed:
        os.unlink(path)


class GuardedPrinter:
    """Wraps an event printer: the first OSError stops the printing, kept in :attr:`error`."""

    def __init__(self, printer: Callable[[Any], None]) -> None:
        self._printer = printer
        self.error: OSError | None = None

    def __call__(self, event: Any) -> None:
        if self.error is not None:
            return
        try:
            self._printer(event)
        except OSError as err:
            self.error = err


# --- closed or failing standard streams ------------------------------------------------------


class ClosedOutput(io.TextIOBase):
    """Standard output of a command started with it closed (``>&-``): Python then has no
    ``sys.stdout`` at all, and every ``sys.stdout.write`` was an AttributeError traceback (one
    inside a running chain saved the chain as failed). Writing here fails the way writing to a
    closed descriptor does, so it ends in the one line every failed write gets, and a chain's
    printout failing leaves the chain as it ended (:class:`GuardedPrinter`)."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self._fd = fd  # /dev/null, holding the number so no file opened later lands on it

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if text:
            raise OSError(errno.EBADF, "standard output is closed")
        return 0

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self._fd


class LastResortStream:
    """Standard error, whose writes never fail: it is where failures are reported, so a
    failure to write there (``2>/dev/full``, a closed terminal) has nowhere to go. Once one
    write fails the rest are dropped; everything else is the wrapped stream's."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.failed = False

    def write(self, text: str) -> int:
        if not self.failed:
            try:
                return int(self._stream.write(text))
            except (OSError, ValueError):
                self.failed = True
        return len(text)

    def flush(self) -> None:
        if not self.failed:
            try:
                self._stream.flush()
            except (OSError, ValueError):
                self.failed = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _hold_descriptor(fd: int) -> bool:
    """Put /dev/null on ``fd`` when it is closed; True when it was. A closed 0, 1 or 2 would
    otherwise be the number the next file opened gets (the history database as stdout)."""
    try:
        os.fstat(fd)
        return False
    except OSError:
        pass
    null = os.open(os.devnull, os.O_RDWR)
    if null != fd:
        os.dup2(null, fd)
        os.close(null)
    return True


def guard_standard_streams() -> Callable[[], None]:
    """Make closed or failing standard streams safe for a command; returns the undo.

    A closed stdout becomes :class:`ClosedOutput`, a closed stderr /dev/null, and stderr is
    wrapped in :class:`LastResortStream`. A closed stdin stays ``None`` (``ask -`` says so).
    """
    import sys

    saved = (sys.stdout, sys.stderr)
    for fd in (0, 1, 2):
        _hold_descriptor(fd)
    if sys.stdout is None:
        sys.stdout = ClosedOutput(1)
    stderr = sys.stderr if sys.stderr is not None else open(os.devnull, "w")  # noqa: SIM115
    sys.stderr = LastResortStream(stderr)

    def undo() -> None:
        sys.stdout, sys.stderr = saved

    return undo


# --- JSON for a terminal ---------------------------------------------------------------------

#: Characters a terminal acts on or hides text with — C1 controls, bidi overrides, invisible
#: format characters, line separators, lone surrogates — which JSON leaves raw (it escapes
#: only C0). JSON's own syntax is ASCII, so any of them is inside a string.
_UNSAFE_IN_JSON = re.compile(
    "[\x7f-\x9f\u061c\u200b\u200c\u200e\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064"
    "\u2066-\u2069\ufeff\ud800-\udfff]"
)


def terminal_json(document: Any) -> str:
    """``document`` as indented JSON, non-ASCII text readable, every character a terminal
    would act on written as a ``\\uXXXX`` escape: the same data to a JSON reader, nothing
    hidden or driven on a screen (a set or model name is the user's file's, or a server's)."""
    text = json.dumps(document, ensure_ascii=False, indent=2)
    return _UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)
