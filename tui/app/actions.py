"""The one registry of user-facing actions.

Key bindings, the keymap in the config file (``[keymap] action_id = "keys"``), the help screen
and the command palette are all built from :data:`ACTIONS`, so they cannot disagree.

Default keys are chosen to survive SSH and tmux: no ctrl+b (tmux prefix), no ctrl+h (sent as
backspace by many terminals), no ctrl+j/ctrl+m/ctrl+i (newline, enter, tab), and none of the
keys the question input uses for editing (ctrl+a/e/d/k/u/w/x/c/v).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from textual.binding import Binding, BindingType


@dataclass(frozen=True)
class Action:
    """One thing a user can do."""

    #: Stable id: the key in the config file's ``[keymap]`` and the Textual binding id.
    id: str
    #: The Textual action string run by the key (an ``action_*`` method of the app).
    action: str
    #: What it does, as shown in the footer, help and palette.
    description: str
    #: Default key(s), Textual names, comma-separated.
    key: str
    #: Shown in the footer (the rest are in help and the palette).
    footer: bool = True
    #: Turned into an app binding. False for keys a widget owns (Enter in the input).
    bind: bool = True
    #: Checked before the focused widget sees the key.
    priority: bool = False


ACTIONS: tuple[Action, ...] = (
    Action("run", "run", "Run the question", "enter", footer=False, bind=False),
    Action("cancel", "cancel", "Cancel", "escape"),
    Action("strategy", "next_strategy", "Strategy", "ctrl+t"),
    Action("history", "toggle_history", "History", "f2"),
    Action("group", "group_mode", "Vote / compare…", "f5", footer=False),
    Action("toggle_step", "toggle_step", "Fold step", "ctrl+o", footer=False),
    Action("toggle_all", "toggle_all", "Fold all steps", "ctrl+g", footer=False),
    Action("earlier", "toggle_earlier", "Fold earlier turns", "f3", footer=False),
    Action("copy_step", "copy_step", "Copy step", "ctrl+s", footer=False),
    Action("copy_answer", "copy_answer", "Copy answer", "ctrl+y", footer=False),
    Action("export", "export_chain", "Export chain to Markdown", "f6", footer=False),
    Action("new", "new_question", "New question", "ctrl+n", footer=False),
    Action("server", "server_screen", "Server", "f4", footer=False),
    Action("evals", "evaluations", "Evaluations", "f7", footer=False),
    Action("help", "help", "Help", "f1,question_mark"),
    Action("palette", "command_palette", "Commands", "ctrl+p", footer=False),
    Action("quit", "quit", "Quit", "ctrl+q", priority=True),
)

BY_ID: dict[str, Action] = {a.id: a for a in ACTIONS}


def bindings() -> list[BindingType]:
    """Textual bindings for the app, each with its action id (so the keymap can remap it)."""
    return [
        Binding(a.key, a.action, a.description, show=a.footer, id=a.id, priority=a.priority)
        for a in ACTIONS
        if a.bind
    ]


def check_keymap(keymap: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """Split a config keymap into usable entries and warnings (unknown ids, empty keys)."""
    usable: dict[str, str] = {}
    warnings: list[str] = []
    for action_id, keys in keymap.items():
        action = BY_ID.get(action_id)
        if action is None:
            known = ", ".join(a.id for a in ACTIONS if a.bind)
            warnings.append(f"keymap: unknown action {action_id!r} (known: {known})")
        elif not action.bind:
            warnings.append(f"keymap: {action_id!r} cannot be remapped")
        elif not keys.strip():
            warnings.append(f"keymap: no key given for {action_id!r}")
        elif action.priority and any(_printable(k) for k in keys.split(",")):
            # Checked before the question box sees a key: a letter would be taken from typing.
            warnings.append(
                f"keymap: {action_id!r} = {keys.strip()!r} is a key that types text; "
                f"{action_id!r} needs a key with ctrl, alt or a function key (ignored)"
            )
        else:
            usable[action_id] = ",".join(k.strip() for k in keys.split(",") if k.strip())
    return _without_conflicts(usable, warnings), warnings


#: Keys that produce no text when typed alone.
_NON_PRINTING = frozenset(
    "escape enter tab backspace delete insert home end pageup pagedown up down left right ".split()
)


def _printable(key: str) -> bool:
    """Whether ``key`` (a Textual key name) types a character into a text box."""
    key = key.strip().lower()
    if "+" in key and key.split("+")[0] in ("ctrl", "alt", "meta", "super", "hyper"):
        return False
    if key.startswith("f") and key[1:].isdigit():
        return False
    return key not in _NON_PRINTING


def _without_conflicts(usable: dict[str, str], warnings: list[str]) -> dict[str, str]:
    """Drop remappings onto a key another action has (its default or its own remapping),
    with a warning naming both actions; the remapped action keeps its default key."""
    owner: dict[str, str] = {}
    for action in ACTIONS:
        if action.bind and action.id not in usable:
            for key in action.key.split(","):
                owner[key.strip()] = action.id
    kept: dict[str, str] = {}
    for action_id, keys in usable.items():
        clash = next(
            (owner[k] for k in keys.split(",") if owner.get(k, action_id) != action_id), None
        )
        if clash is not None:
            warnings.append(
                f"keymap: {action_id!r} = {keys!r} is already the key of {clash!r}; "
                f"{action_id!r} keeps {BY_ID[action_id].key!r}"
            )
            for key in BY_ID[action_id].key.split(","):
                owner.setdefault(key.strip(), action_id)
            continue
        kept[action_id] = keys
        for key in keys.split(","):
            owner[key] = action_id
    return kept


def keys_for(action: Action, keymap: Mapping[str, str]) -> str:
    """The keys that run ``action`` now: the keymap's, else the default."""
    return keymap.get(action.id, action.key)


def display_keys(keys: str) -> str:
    """``f1,question_mark`` -> ``F1 / ?`` for help and palette."""
    names = {"question_mark": "?", "escape": "Esc", "enter": "Enter", "slash": "/"}
    out = []
    for key in keys.split(","):
        key = key.strip()
        if key in names:
            out.append(names[key])
        elif key.startswith("f") and key[1:].isdigit():
            out.append(key.upper())
        else:
            out.append("+".join(p.capitalize() if len(p) > 1 else p for p in key.split("+")))
    return " / ".join(out)
