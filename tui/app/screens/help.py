"""Every binding, from the one action registry, with the keys in force (keymap applied)."""

from __future__ import annotations

from collections.abc import Mapping

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.app.actions import ACTIONS, display_keys, keys_for

#: Keys owned by widgets rather than the app, listed so help is complete.
WIDGET_KEYS: tuple[tuple[str, str], ...] = (
    ("Tab / Shift+Tab", "Move focus: question, steps, history"),
    ("Enter / Space", "On a step title: fold or unfold it"),
    ("Enter / Space", "On a vote's sample: show or hide its steps (↑ / ↓ move)"),
    ("j / k, ↑ / ↓", "In the history: move"),
    ("/", "In the history: search as you type"),
    ("Enter", "In the history: open the chain"),
    ("d / e / r / R", "In the history: delete, export, re-run, re-run with another strategy"),
)


def help_rows(keymap: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """(keys, what it does, action id) for every registered action, then widget keys."""
    rows = [(display_keys(keys_for(a, keymap)), a.description, a.id) for a in ACTIONS]
    return rows + [(keys, what, "") for keys, what in WIDGET_KEYS]


def help_table(keymap: Mapping[str, str]) -> Table:
    table = Table(box=None, expand=True, show_header=True, header_style="bold", pad_edge=False)
    table.add_column("Key", no_wrap=True, style="bold")
    table.add_column("Action")
    table.add_column("Id", style="dim", no_wrap=True)
    for row in help_rows(keymap):
        table.add_row(*row)
    return table


class HelpScreen(ModalScreen[None]):
    """A modal list of keys; Esc, q or F1 closes it."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 90%; max-width: 100; height: auto; max-height: 90%;
        border: round $primary; background: $surface; padding: 0 1;
    }
    """
    BINDINGS = [Binding("escape,q,f1,question_mark", "dismiss", "Close", show=True)]

    def __init__(self, keymap: Mapping[str, str]) -> None:
        super().__init__()
        self.keymap = dict(keymap)
        self.rows = help_rows(self.keymap)

    def compose(self) -> ComposeResult:
        with VerticalScroll() as scroll:
            scroll.border_title = "Keys"
            scroll.border_subtitle = Content('remap in config.toml: [keymap] id = "key"')
            yield Static(help_table(self.keymap), id="help-table")
            yield Static(Text("Esc closes · Ctrl+p finds any action by name", style="dim"))
