"""Every path o1tui reads or writes, in one place.

Data (the history) follows ``--data-dir`` > ``$O1TUI_DATA_DIR`` > the platform's user data dir;
config and logs have environment overrides too (tests point them at temporary folders). The
folders hold the history and possibly an API key, so they are created private to the user, and
one that is not the user's own (:func:`backends.trust.folder_problem`: another user's, open to
others' writes, a symbolic link) is never written into: data, config, log and runtime folders
are refused with one line, a cache folder is left unused with one warning.
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from backends.errors import O1Error
from backends.trust import folder_problem

APP_NAME = "o1tui"

DATA_DIR_ENV = "O1TUI_DATA_DIR"
CONFIG_DIR_ENV = "O1TUI_CONFIG_DIR"
LOG_DIR_ENV = "O1TUI_LOG_DIR"
RUNTIME_DIR_ENV = "O1TUI_RUNTIME_DIR"
CACHE_DIR_ENV = "O1TUI_CACHE_DIR"


class LocationError(O1Error):
    """A data, config or log folder that cannot be used; the message names it and why."""


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and the folders above it that are missing) with mode 0700, and check
    that it is the user's own (:func:`backends.trust.folder_problem`).

    An existing folder keeps its mode when no one else may write to it (a setgid group folder
    that the group may read is the user's choice). Raises :class:`LocationError`, one line
    naming the folder and why, when it cannot be a folder (a file, under a file, /proc) or is
    not the user's own.
    """
    path = Path(os.path.abspath(Path(path).expanduser()))
    try:
        missing = [p for p in (path, *path.parents) if not os.path.lexists(p)]
        for folder in reversed(missing):  # each new folder private, whatever the umask
            folder.mkdir(mode=0o700, exist_ok=True)
        if not path.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, "not a folder", str(path))
    except OSError as err:
        raise LocationError(f"cannot use {path} as a folder: {_why(err)}") from None
    problem = folder_problem(path)
    if problem:
        raise LocationError(f"will not use {path}: {problem}")
    return path


_WARNED: set[str] = set()


def warn_once(message: str) -> None:
    """``o1tui: warning: MESSAGE`` on stderr, once per process for each message."""
    if message not in _WARNED:
        _WARNED.add(message)
        print(f"{APP_NAME}: warning: {message}", file=sys.stderr, flush=True)


def _why(err: OSError) -> str:
    if err.errno == errno.EEXIST:
        return "it is a file"
    if err.errno == errno.ENOTDIR:
        return "it or a folder above it is a file"
    return err.strerror or str(err)


def _from_env(name: str, env: Mapping[str, str]) -> Path | None:
    value = env.get(name, "").strip()
    return Path(value).expanduser() if value else None


def data_dir(
    override: str | os.PathLike[str] | None = None,
    *,
    env: Mapping[str, str] = os.environ,
    create: bool = True,
) -> Path:
    """Where the history lives: ``override`` (the flag) > ``$O1TUI_DATA_DIR`` > platform dir."""
    if override is not None and str(override).strip():
        path = Path(override).expanduser()
    else:
        path = _from_env(DATA_DIR_ENV, env) or _platform_dir("user_data_dir")
    return ensure_private_dir(path) if create else path


def config_dir(*, env: Mapping[str, str] = os.environ, create: bool = False) -> Path:
    """The config folder (``$O1TUI_CONFIG_DIR`` or the platform's user config dir).

    Not created by default: reading settings must not leave folders behind. An existing one is
    checked even then: settings read from another user's folder could send questions anywhere.
    """
    path = _from_env(CONFIG_DIR_ENV, env) or _platform_dir("user_config_dir")
    if create or os.path.lexists(path):
        return ensure_private_dir(path)
    return path


def config_file(*, env: Mapping[str, str] = os.environ) -> Path:
    """The TOML settings file."""
    return config_dir(env=env) / "config.toml"


def user_themes_dir(*, env: Mapping[str, str] = os.environ) -> Path:
    """Where users drop their own theme files."""
    return config_dir(env=env) / "themes"


def log_dir(*, env: Mapping[str, str] = os.environ, create: bool = True) -> Path:
    """Model-server and app logs (``$O1TUI_LOG_DIR`` or the platform's user log dir)."""
    path = _from_env(LOG_DIR_ENV, env) or _platform_dir("user_log_dir")
    return ensure_private_dir(path) if create else path


def cache_dir(*, env: Mapping[str, str] = os.environ, create: bool = False) -> Path:
    """What can be rebuilt at any time (``$O1TUI_CACHE_DIR`` or the platform's user cache dir):
    the model server's bytecode where its packages came without it."""
    path = _from_env(CACHE_DIR_ENV, env) or _platform_dir("user_cache_dir")
    return ensure_private_dir(path) if create else path


def cache_subdir(name: str, *, env: Mapping[str, str] = os.environ) -> Path | None:
    """The cache folder ``name``, or ``None`` with one warning when it exists and is not the
    user's own: a cache is an optimisation, and what another user planted there (bytecode) would
    run as the user. A missing one is not made here: whoever fills it creates it and checks it
    the same way (``keyed_exec.py``), so nothing is left behind when it is not needed."""
    path = Path(os.path.abspath(cache_dir(env=env) / name))
    problem = folder_problem(path) if os.path.lexists(path) else None
    if problem:
        warn_once(f"will not use the cache folder {path}: {problem}; running without it")
        return None
    return path


def runtime_dir(*, env: Mapping[str, str] = os.environ, create: bool = True) -> Path:
    """Where a kept-warm server's record (with its key) lives: ``$O1TUI_RUNTIME_DIR``, else the
    session's runtime dir (``$XDG_RUNTIME_DIR/o1tui``, or ``/run/user/UID/o1tui``: private,
    emptied at log-out) when it is the user's own, else the user state dir (no login session:
    ``su``, cron, ``docker exec``). Never a folder in /tmp, which another user could make first."""
    path = _from_env(RUNTIME_DIR_ENV, env) or _session_runtime_dir(env)
    if path is None:
        path = _platform_dir("user_state_dir")
    return ensure_private_dir(path) if create else path


def _session_runtime_dir(env: Mapping[str, str]) -> Path | None:
    """``$XDG_RUNTIME_DIR/o1tui`` or ``/run/user/UID/o1tui`` where that folder is the user's
    own; chosen here rather than by platformdirs, which warns on the terminal and falls back to
    /tmp."""
    for base in (env.get("XDG_RUNTIME_DIR", "").strip(), f"/run/user/{os.getuid()}"):
        if base and os.path.isabs(base) and folder_problem(base) is None:
            return Path(base) / APP_NAME
    return None


def _platform_dir(kind: str) -> Path:
    # Imported here so that every path above that an override settles costs nothing.
    import platformdirs

    return Path(getattr(platformdirs, kind)(APP_NAME, appauthor=False))
