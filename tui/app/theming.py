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

    def refresh_css(self, animate: bool = True) -> None:
        """Textual's refresh, except for the one the theme chosen in ``__init__`` queues.

        Textual answers a theme change with a re-parse of every style sheet in a new
        style sheet whose parse cache is then dropped, so the app's first frame would parse
        them all twice (~10 ms). Before the app is mounted nothing is styled for good yet:
        the theme's variables and one parse are enough.
        """
        if self.screen_stack:  # a screen exists: its widgets may be styled, re-style them
            super().refresh_css(animate)
            return
        self.stylesheet.set_variables(self.get_css_variables())
        self.stylesheet.parse()
        self.stylesheet.update(self, animate=False)

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
            from tui.core.config import save_setting

            save_setting("theme", name, path=app.config_path)
        except Exception as err:  # noqa: BLE001 - the theme still applies for this run
            self.notify(
                clean_line(f"Theme not saved: {err}", 300), severity="warning", markup=False
            )
