"""Whether a folder or a port belongs to the user: the one place o1tui decides it.

On a shared GPU box another user is an attacker. A folder another user can write to (or swap
for one of theirs) can feed o1tui bytecode to run, a symbolic link to overwrite, or a record
to trust; a server another user runs on o1tui's port would receive the user's questions and
key. So o1tui writes only into folders :func:`folder_problem` passes, and talks to a server on
its port only when the kernel says the listening socket is the user's (:func:`listeners`, read
from ``/proc/net/tcp`` and ``tcp6``, whose ``uid`` column is the socket's owner).

Standard library only: the keeper (``keeper.py``) and the launcher (``keyed_exec.py``), which
run by path, possibly under another interpreter, use it too.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

#: TCP states in /proc/net/tcp (include/net/tcp_states.h).
ESTABLISHED = "01"
LISTEN = "0A"


def user_name(uid: int) -> str:
    """``name (uid N)``, or ``uid N`` for a uid with no account."""
    try:
        import pwd

        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except (ImportError, KeyError):
        return f"uid {uid}"


def _others_may_change(st: os.stat_result) -> bool:
    """Whether a user other than the folder's owner may rename or replace what it holds: it is
    group- or world-writable without the sticky bit (/tmp's 1777 is safe for our entries)."""
    return bool(st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)) and not st.st_mode & stat.S_ISVTX


def _ancestor_problem(folder: str, uid: int) -> str | None:
    """Why a folder above one of ours is unsafe: someone else could move ours away and put
    theirs in its place (they own it, or may write to it without the sticky bit)."""
    st = os.stat(folder)
    if st.st_uid not in (uid, 0):
        return f"the folder above it, {folder}, belongs to {user_name(st.st_uid)}"
    if _others_may_change(st):
        return f"other users may write to the folder above it, {folder}"
    return None


def _above(path: str) -> list[str]:
    """Every folder above ``path`` (absolute), from the root down."""
    found: list[str] = []
    parent = os.path.dirname(path)
    while True:
        found.append(parent)
        up = os.path.dirname(parent)
        if up == parent:
            return found[::-1]
        parent = up


def folder_problem(path: str | os.PathLike[str]) -> str | None:
    """Why o1tui must not use the folder ``path``; ``None`` when it is the user's own.

    The user's own: a real folder (not a symbolic link to one), owned by the user, that no one
    else may write to; and every folder above it, as written and with links resolved, owned by
    the user or root and not open to others' writes (except with the sticky bit, as /tmp).
    """
    uid = os.getuid()
    full = os.path.abspath(os.path.expanduser(os.fspath(path)))
    try:
        st = os.lstat(full)
        if stat.S_ISLNK(st.st_mode):
            return "it is a symbolic link"
        if not stat.S_ISDIR(st.st_mode):
            return "it is not a folder"
        if st.st_uid != uid:
            return f"it belongs to {user_name(st.st_uid)}"
        if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            return f"other users may write to it (mode {stat.S_IMODE(st.st_mode):04o})"
        written = _above(full)
        resolved = _above(os.path.join(os.path.realpath(os.path.dirname(full)), "x"))
        for folder in dict.fromkeys(written + resolved):
            link = os.lstat(folder)
            if stat.S_ISLNK(link.st_mode) and link.st_uid not in (uid, 0):
                return f"the folder above it, {folder}, is a link made by {user_name(link.st_uid)}"
            problem = _ancestor_problem(folder, uid)
            if problem:
                return problem
    except OSError as err:
        return err.strerror or str(err)
    return None


# --- sockets ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Socket:
    """One line of ``/proc/net/tcp`` or ``tcp6``: the ports, the state, the owner's uid and
    the socket's inode (which ``/proc/PID/fd`` links name as ``socket:[INODE]``)."""

    local_port: int
    remote_port: int
    state: str
    uid: int
    inode: int


def parse_socket(line: str) -> Socket | None:
    """One table line (``sl local rem st tx:rx tr:when retrnsmt uid timeout inode …``);
    ``None`` for the header or anything else."""
    fields = line.split()
    try:
        local, remote = fields[1].rsplit(":", 1)[1], fields[2].rsplit(":", 1)[1]
        return Socket(int(local, 16), int(remote, 16), fields[3], int(fields[7]), int(fields[9]))
    except (IndexError, ValueError):
        return None


def sockets(proc_net: str = "/proc/net") -> list[Socket] | None:
    """Every TCP socket of this network namespace, IPv4 and IPv6; ``None`` without ``/proc``."""
    found: list[Socket] = []
    readable = False
    for name in ("tcp", "tcp6"):
        try:
            with open(os.path.join(proc_net, name), encoding="ascii") as fh:
                lines = fh.readlines()
        except OSError:
            continue
        readable = True
        found += [s for s in map(parse_socket, lines[1:]) if s is not None]
    return found if readable else None


def listeners(port: int, proc_net: str = "/proc/net") -> list[Socket] | None:
    """The listening sockets on ``port`` (any address: one on 0.0.0.0 catches 127.0.0.1 too);
    ``None`` where the tables cannot be read."""
    table = sockets(proc_net)
    if table is None:
        return None
    return [s for s in table if s.state == LISTEN and s.local_port == port]


def clients_of(port: int, uid: int, proc_net: str = "/proc/net") -> int | None:
    """Open connections to ``port`` made by ``uid``'s processes: the client's end of each
    connection is owned by whoever opened it, so another user's connections never count.
    ``None`` where the tables cannot be read."""
    table = sockets(proc_net)
    if table is None:
        return None
    return sum(
        1 for s in table if s.state == ESTABLISHED and s.remote_port == port and s.uid == uid
    )


def socket_inodes(pid: int) -> set[int]:
    """The inodes of the sockets process ``pid`` holds open (empty when it cannot be read)."""
    found: set[int] = set()
    folder = f"/proc/{pid}/fd"
    try:
        names = os.listdir(folder)
    except OSError:
        return found
    for name in names:
        try:
            target = os.readlink(os.path.join(folder, name))
        except OSError:
            continue
        if target.startswith("socket:["):
            found.add(int(target[8:-1]))
    return found
