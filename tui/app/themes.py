"""Themes as data: the built-in ``themes/*.toml`` and the user's own from the config dir.

A theme file is a TOML table with Textual's :class:`~textual.theme.Theme` fields (``name``,
``primary``, ``background``, ``dark``, ...) and an optional ``[variables]`` table of CSS
variables. A user theme with the name of a built-in one replaces it. A broken file is
skipped with a warning naming the file; it never stops the app.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from textual.color import Color, ColorParseError
from textual.theme import Theme

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DEFAULT_THEME = "o1-dark"

_COLOR_FIELDS = (
    "primary",
    "secondary",
    "warning",
    "error",
    "success",
    "accent",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
)
_FIELDS = {f.name for f in dataclasses.fields(Theme)}


class ThemeError(ValueError):
    """A theme file that cannot be used; the message names the file and the problem."""


def theme_from_table(table: dict[str, Any], where: str) -> Theme:
    """Build a Theme from a parsed TOML table, checking every key and colour."""
    unknown = sorted(set(table) - _FIELDS)
    if unknown:
        raise ThemeError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}")
    name = table.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ThemeError(f"{where}: 'name' must be a non-empty string")
    if "primary" not in table:
        raise ThemeError(f"{where}: 'primary' is required")
    for key in _COLOR_FIELDS:
        if key in table:
            value = table[key]
            if not isinstance(value, str):
                raise ThemeError(f"{where}: {key!r} must be a colour string, got {value!r}")
            try:
                Color.parse(value)
            except ColorParseError:
                raise ThemeError(f"{where}: {key!r} is not a colour: {value!r}") from None
    for key in ("dark", "ansi"):
        if key in table and not isinstance(table[key], bool):
            raise ThemeError(f"{where}: {key!r} must be true or false")
    for key in ("luminosity_spread", "text_alpha"):
        if key in table and not isinstance(table[key], (int, float)):
            raise ThemeError(f"{where}: {key!r} must be a number")
    variables = table.get("variables", {})
    if not isinstance(variables, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in variables.items()
    ):
        raise ThemeError(f"{where}: [variables] must be a table of strings")
    return Theme(**{**table, "name": name.strip(), "variables": dict(variables)})


def load_theme_file(path: Path) -> Theme:
    """Read one theme file. Raises :class:`ThemeError`."""
    try:
        table = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        raise ThemeError(f"{path}: cannot read: {err}") from None
    except tomllib.TOMLDecodeError as err:
        raise ThemeError(f"{path}: invalid TOML: {err}") from None
    return theme_from_table(table, str(path))


def _builtin_files() -> list[Path]:
    """The ``themes`` package's files (a folder on disk; importlib.resources, ~1 ms of the
    first frame, would give the same paths)."""
    import themes

    return sorted(Path(themes.__file__).parent.glob("*.toml"))


def load_themes(user_dir: Path | None = None) -> tuple[list[Theme], list[str]]:
    """The built-in themes, then the user's (same name replaces), and warnings."""
    files: list[Path] = _builtin_files()
    if user_dir is not None and user_dir.is_dir():
        files += sorted(user_dir.glob("*.toml"))
    themes: dict[str, Theme] = {}
    warnings: list[str] = []
    for path in files:
        try:
            theme = load_theme_file(path)
        except ThemeError as err:
            warnings.append(f"theme skipped: {err}")
            continue
        themes[theme.name] = theme
    return list(themes.values()), warnings


def resolve_theme(requested: str | None, available: Iterable[str]) -> tuple[str, str | None]:
    """The theme to use for ``requested`` and a warning when it had to fall back."""
    names = set(available)
    if requested and requested in names:
        return requested, None
    fallback = DEFAULT_THEME if DEFAULT_THEME in names else "textual-dark"
    if not requested:
        return fallback, None
    return fallback, f"unknown theme {requested!r}; using {fallback!r}"
