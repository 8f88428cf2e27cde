"""Copying a step or the answer to the clipboard (OSC 52, through tmux too), and exporting
the chain on screen to Markdown. :class:`CopyMixin` is mixed into
:class:`tui.app.app.O1App`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, cast

from textual.app import App

from tui.app import actions as registry
from tui.clipboard import CopyTooLarge, guess_capability, osc52, passthrough_copy
from tui.sanitize import clean_line

if TYPE_CHECKING:
    from tui.app.app import O1App


class CopyMixin(App[int]):
    """Copy and export actions of the app (see the module docstring)."""

    def action_copy_step(self) -> None:
        app = cast("O1App", self)
        view = app.current_view()
        step = view.focused_step() if view else None
        app.copy_text(step.plain_text() if step else "", "step")

    def action_copy_answer(self) -> None:
        app = cast("O1App", self)
        view = app.current_view()
        app.copy_text(view.answer_text() if view else "", "answer")

    def copy_text(self, text: str, what: str) -> bool:
        """Copy through OSC 52 (wrapped for tmux); say so, or say why not and offer export."""
        app = cast("O1App", self)
        export_key = registry.display_keys(registry.keys_for(registry.BY_ID["export"], app.keymap))
        if not text.strip():
            app.notify(f"No {what} to copy yet.", markup=False, timeout=2)
            return False
        capability = guess_capability(app.env)
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
        app.last_copied = text
        tail = "" if capability.supported else f" ({capability.reason}; {export_key} exports)"
        app.notify(
            f"Copied the {what}: {len(text):,} characters{tail}.",
            markup=False,
            timeout=4 if capability.supported else 8,
        )
        return True

    def copy_to_clipboard(self, text: str) -> None:
        """Textual's copy (its paste buffer for ctrl+v, the plain OSC 52), and inside tmux the
        same sequence in tmux's passthrough too (tui.clipboard.passthrough_copy)."""
        app = cast("O1App", self)
        super().copy_to_clipboard(text)
        extra = passthrough_copy(text, app.env)
        if extra and app._driver is not None:  # where Textual's own copy writes, too
            app._driver.write(extra)

    def action_export_chain(self) -> Path | None:
        app = cast("O1App", self)
        run = app.current_run()
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
