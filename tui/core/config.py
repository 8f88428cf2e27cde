"""Typed settings: defaults < config file (TOML) < environment (``O1TUI_<KEY>``).

Command-line flags are applied last by the caller with :func:`dataclasses.replace`. Every
value is checked against the field's type (and allowed values where there is a fixed set);
a wrong one raises :class:`ConfigError` naming the key and where it came from, so the user can
fix it in one go. Unknown keys are not fatal: they become warnings (a typo should not stop
the app, but should be visible).
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import shlex
import stat
import sys
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backends.errors import O1Error
from tui import locations
from tui.core.strategies import STRATEGY_NAMES
from tui.lang import LANG_CHOICES

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ENV_PREFIX = "O1TUI_"


class ConfigError(O1Error):
    """A setting that cannot be used; the message names the key and the file (or variable)."""


@dataclass
class Settings:
    """Everything a user can set. Field names are the config-file keys."""

    engine: str = "auto"
    model: str = "internlm3-8b-instruct"
    endpoint: str | None = None
    api_key: str | None = field(default=None, repr=False)
    port: int = 23333
    host: str = "127.0.0.1"
    backend: str | None = None
    tp: int = 1
    #: LMDeploy api_server replicas behind LMDeploy's proxy (``--dp``; 1: one server, no proxy).
    dp: int = 1
    session_len: int | None = None
    cache_max_entry_count: float | None = None
    max_batch_size: int | None = None
    enable_prefix_caching: bool = True
    #: LMDeploy's PyTorch engine in the API server's process (tested LMDeploy versions only).
    lmdeploy_in_process: bool = True
    #: LMDeploy's start-up environment check (off: ~15-20 s sooner; errors still show).
    lmdeploy_env_check: bool = False
    #: torch.compile in LMDeploy's server (off: ~6 s sooner on a first start; tested versions).
    lmdeploy_torch_compile: bool = False
    #: The server's bytecode kept in o1tui's cache where torch came without any.
    lmdeploy_bytecode_cache: bool = True
    keep_server: bool = False
    #: After the app quits, a server it started stays up this long idle ("10m"; "0": stops).
    keep_alive: str = "0"
    server_args: list[str] = field(default_factory=list)
    strategy: str = "g1"
    lang: str = "auto"
    max_steps: int = 25
    theme: str = "o1-dark"
    keymap: dict[str, str] = field(default_factory=dict)
    request_timeout_s: float = 600.0
    stall_timeout_s: float = 120.0
    #: Problems worth telling the user that did not stop loading (unknown keys, file modes).
    warnings: list[str] = field(default_factory=list, compare=False, repr=False)


def choices(key: str) -> tuple[str, ...] | None:
    """The fixed set of values of field ``key`` (None is allowed where the field is
    optional); None for a field without one. The engine tables are imported only to check an
    engine setting: the app's first frame does not wait for them."""
    if key in ("engine", "backend"):
        from backends.engines import BACKEND_NAMES, ENGINE_CHOICES

        return ENGINE_CHOICES if key == "engine" else BACKEND_NAMES
    return {"strategy": STRATEGY_NAMES, "lang": LANG_CHOICES}.get(key)


#: Numeric fields that must be positive (``port`` has its own range).
_POSITIVE = {
    "tp",
    "session_len",
    "cache_max_entry_count",
    "max_batch_size",
    "max_steps",
    "request_timeout_s",
    "stall_timeout_s",
}

_NOT_SETTINGS = {"warnings"}
_HINTS = typing.get_type_hints(Settings)
SETTING_NAMES: tuple[str, ...] = tuple(
    f.name for f in dataclasses.fields(Settings) if f.name not in _NOT_SETTINGS
)


# --- checking values -------------------------------------------------------------------------


def _split_optional(hint: Any) -> tuple[Any, bool]:
    """``int | None`` -> (int, True); ``int`` -> (int, False)."""
    args = typing.get_args(hint)
    if type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return rest[0], True
    return hint, False


def _describe(base: Any) -> str:
    origin = typing.get_origin(base)
    if origin is list:
        return "a list of strings"
    if origin is dict:
        return "a table of strings"
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false"}[base]


def _check(key: str, value: Any, where: str) -> Any:
    """Return ``value`` as the type of setting ``key`` or raise ConfigError (file values)."""
    base, optional = _split_optional(_HINTS[key])
    if value is None and optional:
        return None
    if key == "keep_alive" and isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)  # `keep_alive = 600` in TOML: seconds
    origin = typing.get_origin(base)
    ok: bool
    if origin is list:
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
    elif origin is dict:
        ok = isinstance(value, dict) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        )
    elif base is bool:
        ok = isinstance(value, bool)
    elif base is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif base is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    else:
        ok = isinstance(value, str)
    if not ok:
        raise ConfigError(f"{where}: {key!r} must be {_describe(base)}, got {value!r}")
    _check_range(key, value, where)
    return value


def check_setting(key: str, value: Any, where: str) -> Any:
    """Check a value given some other way (a command-line flag) like a file's; ``where`` names
    it (``--port``). Returns the value; raises :class:`ConfigError`."""
    return _check(key, value, where)


def _check_range(key: str, value: Any, where: str) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{where}: {key!r} must be a finite number, got {value!r}")
    if key == "endpoint" and value is not None:
        _check_endpoint(value, where)
    allowed_values = choices(key)
    if allowed_values is not None and value not in allowed_values:
        allowed = ", ".join(allowed_values)
        raise ConfigError(f"{where}: {key!r} must be one of {allowed}, got {value!r}")
    if key in _POSITIVE and value <= 0:
        raise ConfigError(f"{where}: {key!r} must be greater than 0, got {value!r}")
    if key == "keep_alive":
        from backends.keepalive import BadDuration, parse_duration

        try:
            parse_duration(value)
        except BadDuration as err:
            raise ConfigError(f"{where}: 'keep_alive' is {err}") from None
    if key == "dp":
        from backends.replicas import MAX_DP

        if not 1 <= value <= MAX_DP:
            raise ConfigError(f"{where}: 'dp' must be between 1 and {MAX_DP}, got {value!r}")
    if key == "port" and not 1 <= value <= 65535:
        raise ConfigError(f"{where}: 'port' must be between 1 and 65535, got {value!r}")


def _check_endpoint(url: str, where: str) -> None:
    """An http(s) URL with a host and a port in range (urllib raises on a port like 99999)."""
    from urllib.parse import urlsplit

    from backends.redact import redact_url

    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as err:
        raise ConfigError(f"{where}: 'endpoint' {redact_url(url)!r}: {err}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"{where}: 'endpoint' must be an http:// or https:// URL with a host, "
            f"got {redact_url(url)!r}"
        )
    if port == 0:
        raise ConfigError(f"{where}: 'endpoint' port must be between 1 and 65535")


def _from_env_text(key: str, text: str, var: str) -> Any:
    """Parse an environment variable's text into setting ``key``'s type, then check it."""
    base, optional = _split_optional(_HINTS[key])
    stripped = text.strip()
    if optional and stripped.lower() in ("", "none", "null"):
        return None
    origin = typing.get_origin(base)
    value: Any = stripped
    try:
        if origin is list:
            value = shlex.split(text)
        elif origin is dict:
            # "action=key,action2=key2": the keymap, without needing TOML in a variable.
            pairs = [p for p in stripped.split(",") if p.strip()]
            if not all("=" in p for p in pairs):
                raise ValueError
            value = {k.strip(): v.strip() for k, v in (p.split("=", 1) for p in pairs)}
        elif base is bool:
            lowered = stripped.lower()
            if lowered not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
                raise ValueError
            value = lowered in ("1", "true", "yes", "on")
        elif base is int:
            value = int(stripped)
        elif base is float:
            value = float(stripped)
    except ValueError:
        raise ConfigError(f"{var}: {key!r} must be {_describe(base)}, got {text!r}") from None
    return _check(key, value, var)


# --- loading and saving ----------------------------------------------------------------------


def _read_text(path: Path) -> str | None:
    """The file's text, or None when there is no file."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as err:
        raise ConfigError(f"{path}: cannot read: {err.strerror or err}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None


def _parse_toml(text: str, path: Path) -> dict[str, Any]:
    """``text``'s table; a parse error names the file and line."""
    try:
        table: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        # tomllib's message carries "(at line L, column C)".
        raise ConfigError(f"{path}: invalid TOML: {err}") from None
    return table


def _read_toml(path: Path) -> dict[str, Any] | None:
    """The file's table, or None when there is no file. Parse errors name the file and line."""
    text = _read_text(path)
    return None if text is None else _parse_toml(text, path)


def _permission_warning(path: Path) -> str | None:
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return None
    if mode & 0o044:
        return f"{path} holds an api_key and is readable by other users; chmod 600 {path}"
    return None


def load_settings(
    path: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] = os.environ,
) -> Settings:
    """Settings from defaults, then the TOML file at ``path`` (default: the config file),
    then ``O1TUI_<KEY>`` environment variables. Raises :class:`ConfigError`."""
    file = Path(path) if path is not None else locations.config_file(env=env)
    values: dict[str, Any] = {}
    warnings: list[str] = []
    table = _read_toml(file)
    if table is not None:
        for key, value in table.items():
            if key not in SETTING_NAMES:
                warnings.append(f"{file}: unknown key {key!r} (ignored)")
                continue
            values[key] = _check(key, value, str(file))
        if values.get("api_key"):
            warning = _permission_warning(file)
            if warning:
                warnings.append(warning)
    for key in SETTING_NAMES:
        var = ENV_PREFIX + key.upper()
        if var in env:
            values[key] = _from_env_text(key, env[var], var)
    return Settings(**values, warnings=warnings)


def save_setting(key: str, value: Any, path: str | os.PathLike[str] | None = None) -> Path:
    """Set one key in the config file, keeping the others; returns the file's path.

    The file is rewritten atomically (temporary file + ``os.replace``) with mode 0600.
    ``value=None`` removes the key (back to the default; TOML has no null). Only the key's
    own line changes, so the user's comments and layout stay; where that edit cannot be made
    safely (the key written as a ``[table]``, or spread over lines that the edit would break)
    the whole file is written anew, without its comments.
    """
    if key not in SETTING_NAMES:
        raise ConfigError(f"unknown setting {key!r}")
    file = Path(path) if path is not None else locations.config_file()
    if value is not None:
        value = _check(key, value, str(file))
    text = _read_text(file) or ""
    table = _parse_toml(text, file)
    if value is None:
        table.pop(key, None)
    else:
        table[key] = value
    edited = _edit_top_level(text, key, None if value is None else _toml_line(key, value))
    if edited is None or _loads_or_none(edited) != table:
        edited = _dumps(table)
    locations.ensure_private_dir(file.parent)
    _write_atomic(file, edited.encode("utf-8"))
    return file


def _dumps(table: dict[str, Any]) -> str:
    import tomli_w

    return tomli_w.dumps(table)


def _toml_line(key: str, value: Any) -> str:
    """``key = value`` as TOML, a table as an inline table; ends with a newline."""
    if isinstance(value, dict):
        items = ", ".join(_dumps({k: v}).strip() for k, v in value.items())
        return f"{key} = {{ {items} }}\n" if items else f"{key} = {{}}\n"
    return _dumps({key: value})


def _loads_or_none(text: str) -> dict[str, Any] | None:
    try:
        table: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return None
    return table


#: A line that opens a ``[table]`` or ``[[array]]``: the top-level keys end before the first.
_TABLE_HEADER = re.compile(r"^\s*\[")


def _edit_top_level(text: str, key: str, line: str | None) -> str | None:
    """``text`` with top-level ``key``'s line replaced by ``line`` (None: removed), or ``line``
    added after the last top-level key; every other line as it was. None when ``key`` is
    assigned more than once. The caller checks the result parses to the intended table."""
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    assigns = re.compile(rf"^\s*(?:{re.escape(key)}|\"{re.escape(key)}\"|'{re.escape(key)}')\s*=")
    end = next((i for i, ln in enumerate(lines) if _TABLE_HEADER.match(ln)), len(lines))
    hits = [i for i in range(end) if assigns.match(lines[i])]
    if len(hits) > 1:
        return None
    if hits:
        lines[hits[0] : hits[0] + 1] = [] if line is None else [line]
        return "".join(lines)
    if line is None:
        return "".join(lines)
    settings = [i for i in range(end) if lines[i].strip() and not lines[i].lstrip().startswith("#")]
    if settings:
        at = settings[-1] + 1
    else:
        # Above the comment block that introduces the first table, if there is a table.
        at = end
        while end < len(lines) and at > 0 and lines[at - 1].lstrip().startswith("#"):
            at -= 1
    lines.insert(at, line)
    return "".join(lines)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # O_CREAT's mode is only used for a new file
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
