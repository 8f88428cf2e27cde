"""Every path o1tui reads or writes, in one place.

Data (the history) follows ``--data-dir`` > ``$O1TUI_DATA_DIR`` > the platform's user data dir;
config and logs have environment overrides too (tests point them at temporary folders). The
folders hold the history and possibly an API key, so they are created private to the user.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Mapping
from pathlib import Path

from backends.errors import O1Error

APP_NAME = "o1tui"

DATA_DIR_ENV = "O1TUI_DATA_DIR"
CONFIG_DIR_ENV = "O1TUI_CONFIG_DIR"
LOG_DIR_ENV = "O1TUI_LOG_DIR"
RUNTIME_DIR_ENV = "O1TUI_RUNTIME_DIR"
CACHE_DIR_ENV = "O1TUI_CACHE_DIR"


class LocationError(O1Error):
    """A data, config or log folder that cannot be used; the message names it and why."""


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) with mode 0700 when it is missing.

    A folder that exists is used as it is: its mode is the user's choice (a shared group
    folder, setgid), and o1tui's own files in it are created private anyway. Raises
    :class:`LocationError` when the path cannot be a folder (a file, under a file, /proc).
    """
    path = Path(path).expanduser()
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not path.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, "not a folder", str(path))
    except OSError as err:
        raise LocationError(f"cannot use {path} as a folder: {_why(err)}") from None
    return path


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

    Not created by default: reading settings must not leave folders behind.
    """
    path = _from_env(CONFIG_DIR_ENV, env) or _platform_dir("user_config_dir")
    return ensure_private_dir(path) if create else path


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


def runtime_dir(*, env: Mapping[str, str] = os.environ, create: bool = True) -> Path:
    """Where a kept-warm server's record (with its key) lives: ``$O1TUI_RUNTIME_DIR``, else the
    user runtime dir (``$XDG_RUNTIME_DIR/o1tui``: private, emptied at log-out), else the user
    state dir where there is no runtime dir (no login session, e.g. ``su``)."""
    path = _from_env(RUNTIME_DIR_ENV, env)
    if path is None:
        runtime = _platform_dir("user_runtime_dir")
        usable = runtime.parent.is_dir() and os.access(runtime.parent, os.W_OK)
        path = runtime if usable else _platform_dir("user_state_dir")
    return ensure_private_dir(path) if create else path


def _platform_dir(kind: str) -> Path:
    # Imported here so that every path above that an override settles costs nothing.
    import platformdirs

    return Path(getattr(platformdirs, kind)(APP_NAME, appauthor=False))
