"""Themes in the app: the theme files registered at start, the configured one chosen, and a
switch from the palette remembered in the config file."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from textual.app import App

from tui.app.themes import load_themes, resolve_theme
from tui.sanitize import clean_line


class Themes:
    """The themes of ``app``: those from files (built-in and the user's), which the palette
    offers, and the switch between them. ``config_path``: the config file a choice is saved to
    (None: the default file)."""

    def __init__(self, app: App[Any], *, env: Mapping[str, str], config_path: Path | None) -> None:
        self.app = app
        self.env = env
        self.config_path = config_path
        #: Themes from files, as offered by the palette.
        self.names: set[str] = set()

    def load(self, user_dir: Path | None, configured: str | None) -> list[str]:
        """Register the built-in and the user's theme files and pick ``configured`` (a theme
        name); returns the warnings for the user (bad files, an unknown theme)."""
        if user_dir is None:
            from tui.locations import user_themes_dir

            user_dir = user_themes_dir(env=self.env)
        themes, warnings = load_themes(user_dir)
        for theme in themes:
            self.app.register_theme(theme)
            self.names.add(theme.name)
        name, warning = resolve_theme(configured, self.app.available_themes)
        if warning:
            warnings.append(warning)
        self.app.theme = name
        return warnings

    def choose(self, name: str) -> None:
        """Switch theme and remember it in the config file."""
        app = self.app
        if name not in app.available_themes:
            app.notify(f"Unknown theme {name!r}", severity="warning", markup=False)
            return
        app.theme = name
        try:
            from tui.core.config import save_setting

            save_setting("theme", name, path=self.config_path)
        except Exception as err:  # noqa: BLE001 - the theme still applies for this run
            app.notify(clean_line(f"Theme not saved: {err}", 300), severity="warning", markup=False)
