"""Small modal dialogs: a yes/no question and a pick-one-of-a-few choice.

Both are dismissed with their answer, so callers use ``push_screen(screen, callback)`` or
``await push_screen_wait(screen)``. Text given to them may come from users or models (a
question being deleted), so it is cleaned and shown as ``Text``, never parsed as markup.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, OptionList, Static
from textual.widgets.option_list import Option

from tui.sanitize import clean

_DIALOG_CSS = """
{name} {{
    align: center middle;
    background: $background 60%;
}}
{name} > Vertical {{
    width: auto;
    min-width: 30;
    max-width: 80%;
    height: auto;
    max-height: 80%;
    padding: 1 2;
    border: thick $primary;
    background: $surface;
}}
{name} .dialog--message {{
    width: auto;
    max-width: 100%;
    margin-bottom: 1;
}}
"""


class ConfirmScreen(ModalScreen[bool]):
    """Ask a yes/no question; dismisses with True for yes, False for no/escape."""

    DEFAULT_CSS = (
        _DIALOG_CSS.format(name="ConfirmScreen")
        + """
    ConfirmScreen Horizontal {
        width: auto;
        height: auto;
    }
    ConfirmScreen Button {
        margin: 0 1 0 0;
    }
    """
    )

    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n", "answer(False)", "No"),
        Binding("escape", "answer(False)", "Cancel"),
    ]

    def __init__(self, message: str, *, yes: str = "Yes", no: str = "No") -> None:
        super().__init__()
        self._message = message
        self._yes = yes
        self._no = no

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(clean(self._message)), classes="dialog--message")
            with Horizontal():
                yield Button(Text(f"{self._yes} (y)"), id="yes", variant="error")
                yield Button(Text(f"{self._no} (n)"), id="no", variant="primary")

    def on_mount(self) -> None:
        # "No" has focus so a stray Enter never deletes anything.
        self.query_one("#no", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "yes")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)


class ChoiceScreen(ModalScreen["str | None"]):
    """Pick one of a few named options; dismisses with the name, or None on escape.

    ``unavailable`` maps a choice to why it cannot be picked: it is shown greyed, with the
    reason, and cannot be selected.
    """

    DEFAULT_CSS = (
        _DIALOG_CSS.format(name="ChoiceScreen")
        + """
    ChoiceScreen OptionList {
        width: auto;
        min-width: 24;
        height: auto;
    }
    """
    )

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self,
        message: str,
        choices: Sequence[str],
        *,
        current: str | None = None,
        unavailable: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__()
        self._message = message
        self._choices = list(choices)
        self._current = current
        self._unavailable = dict(unavailable or {})

    def _option(self, choice: str) -> Option:
        why = self._unavailable.get(choice)
        if why is None:
            return Option(Text(clean(choice)), id=choice)
        label = Text.assemble(clean(choice), ("  — " + clean(why), "italic"))
        return Option(label, id=choice, disabled=True)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(clean(self._message)), classes="dialog--message")
            yield OptionList(*(self._option(c) for c in self._choices))

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        pickable = [c for c in self._choices if c not in self._unavailable]
        if self._current in pickable:
            options.highlighted = self._choices.index(self._current)
        elif pickable:
            options.highlighted = self._choices.index(pickable[0])
        options.focus()

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
