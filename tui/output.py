"""Writing what a command produces: to standard output or a file, failures as one line.

A full disk, ``> /dev/full``, ``-o`` naming a folder or a missing one: each ends in one line
that says what could not be written and why in words ("disk full"), never a traceback. A
chain's record does not depend on its printout: output that fails while a chain runs is
remembered (:class:`GuardedPrinter`) and reported once the chain is saved as it ended.
"""

from __future__ import annotations

import errno
import os
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
