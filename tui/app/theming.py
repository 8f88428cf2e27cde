"""Themes in the app: the theme files registered at start, the configured one chosen, and a
switch from the palette remembered in the config file. :class:`ThemesMixin` is mixed into
:class:`tui.app.app.O1App`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, cast

from textual.app import App

from tui.app.themes import load_themes, resolve_theme
from tui.sanitize import clean_line

if TYPE_CHECKING:
    from tui.app.app import O1App


class ThemesMixin(App[int]):
    """Theme loading and switching of the app (see the module docstring)."""

    def _load_themes(self, user_dir: Path | None) -> None:
        """Register the built-in and the user's theme files and pick the configured theme."""
        app = cast("O1App", self)
        if user_dir is None:
            from tui.locations import user_themes_dir

            user_dir = user_themes_dir(env=app.env)
        themes, warnings = load_themes(user_dir)
        for theme in themes:
            self.register_theme(theme)
            app._theme_names.add(theme.name)
        app._startup_warnings += warnings
        name, warning = resolve_theme(app.settings.theme, self.available_themes)
        if warning:
            app._startup_warnings.append(warning)
        self.theme = name

    def o1_theme_names(self) -> set[str]:
        """Themes from files (built-in and the user's), as offered by the palette."""
        app = cast("O1App", self)
        return set(app._theme_names)

    def choose_theme(self, name: str) -> None:
        """Switch theme and remember it in the config file."""
        app = cast("O1App", self)
        if name not in self.available_themes:
            self.notify(f"Unknown theme {name!r}", severity="warning", markup=False)
            return
        self.theme = name
        try:
            from tui.config import save_setting

            save_setting("theme", name, path=app.config_path)
        except Exception as err:  # noqa: BLE001 - the theme still applies for this run
            self.notify(
                clean_line(f"Theme not saved: {err}", 300), severity="warning", markup=False
            )
