"""Copying a step or the answer to the clipboard (OSC 52, through tmux too), and exporting
the chain on screen to Markdown."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.app import App

import tui.app.actions as registry
from tui.clipboard import CopyTooLarge, guess_capability, osc52
from tui.sanitize import clean_line

if TYPE_CHECKING:
    from tui.app.runs import ChainRun


class Copier:
    """Copy and export for ``app``: ``current`` gives the chain on screen, ``keymap`` the
    user's keys (named in the messages), ``env`` the terminal's environment."""

    def __init__(
        self,
        app: App[Any],
        *,
        current: Callable[[], ChainRun | None],
        keymap: Mapping[str, str],
        env: Mapping[str, str],
    ) -> None:
        self.app = app
        self.current = current
        self.keymap = keymap
        self.env = env
        #: The text last copied (None until something is).
        self.last_copied: str | None = None

    def copy_step(self) -> None:
        run = self.current()
        step = run.view.focused_step() if run is not None else None
        self.copy_text(step.plain_text() if step else "", "step")

    def copy_answer(self) -> None:
        run = self.current()
        self.copy_text(run.view.answer_text() if run is not None else "", "answer")

    def copy_text(self, text: str, what: str) -> bool:
        """Copy through OSC 52 (wrapped for tmux); say so, or say why not and offer export."""
        app = self.app
        export_key = registry.display_keys(registry.keys_for(registry.BY_ID["export"], self.keymap))
        if not text.strip():
            app.notify(f"No {what} to copy yet.", markup=False, timeout=2)
            return False
        capability = guess_capability(self.env)
        if capability.supported is False:
            app.notify(
                f"Cannot copy: {capability.reason}. {export_key} exports the chain to "
                f"a Markdown file instead.",
                severity="warning",
                markup=False,
                timeout=8,
            )
            return False
        try:
            osc52(text)  # refuses what is too large for a terminal to take in one copy
        except CopyTooLarge as err:
            app.notify(
                f"Cannot copy the {what}: {err}. {export_key} exports it instead.",
                severity="warning",
                markup=False,
                timeout=8,
            )
            return False
        app.copy_to_clipboard(text)
        self.last_copied = text
        tail = "" if capability.supported else f" ({capability.reason}; {export_key} exports)"
        app.notify(
            f"Copied the {what}: {len(text):,} characters{tail}.",
            markup=False,
            timeout=4 if capability.supported else 8,
        )
        return True

    def export_chain(self) -> Path | None:
        """Write the chain on screen to a Markdown file in the working folder."""
        app = self.app
        run = self.current()
        if run is None:
            app.notify("No chain to export.", markup=False, timeout=2)
            return None
        try:
            from tui.core.export import write_markdown

            path = write_markdown(run.chain, Path.cwd())
        except OSError as err:
            app.notify(clean_line(f"Export failed: {err}", 300), severity="error", markup=False)
            return None
        app.notify(clean_line(f"Exported to {path}", 300), title="Export", markup=False)
        return path
