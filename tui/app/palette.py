"""The command palette's provider: every registered action, every strategy, every theme."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Protocol, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

from tui.app.actions import ACTIONS, display_keys, keys_for

if TYPE_CHECKING:
    from tui.app.choices import Choice
    from tui.app.theming import Themes


class PaletteHost(Protocol):
    """What the palette needs from the app (a Protocol, so this module need not import the
    app, which imports this one)."""

    keymap: Mapping[str, str]
    choices: Sequence[Choice]
    choice: Choice
    theme: str
    themes: Themes

    def run_registry_action(self, action_id: str) -> Awaitable[None]: ...

    def choose(self, choice: Choice) -> None: ...


class O1Commands(Provider):
    """Actions from the registry (with their keys), ``Strategy: X`` and ``Theme: X``."""

    def _app(self) -> PaletteHost:
        return cast(PaletteHost, self.app)

    def _commands(self) -> Iterator[tuple[str, Callable[[], object], str]]:
        app = self._app()
        for action in ACTIONS:
            if action.id == "palette":
                continue
            keys = display_keys(keys_for(action, app.keymap))
            yield action.description, partial(app.run_registry_action, action.id), keys
        for choice in app.choices:
            name = choice.label
            mark = " (current)" if choice == app.choice else ""
            yield f"Strategy: {name}", partial(app.choose, choice), f"use {name}{mark}"
        for name in sorted(app.themes.names):
            mark = " (current)" if name == app.theme else ""
            yield f"Theme: {name}", partial(app.themes.choose, name), f"switch theme{mark}"

    async def discover(self) -> Hits:
        for text, command, help_text in self._commands():
            yield DiscoveryHit(text, command, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, command, help_text in self._commands():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), command, text=text, help=help_text)
