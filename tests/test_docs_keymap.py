"""docs/configuration.md's Keymap section agrees with the app's action registry: the table lists
every action with its default key, and the example keymap uses only keys that are free (no
other action's key, no key of the question box, none the section tells users to avoid)."""

from __future__ import annotations

import re
from pathlib import Path

import tomllib
from textual.binding import Binding
from textual.widgets import Input

from tui.app.actions import ACTIONS, BY_ID

DOC = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"
#: Keys the section says not to use over SSH and tmux.
AVOID = {"ctrl+b", "ctrl+h", "ctrl+i", "ctrl+j", "ctrl+m"}


def _section() -> str:
    text = DOC.read_text(encoding="utf-8")
    return text.split("## Keymap", 1)[1].split("\n## ", 1)[0]


def _keys(spec: str) -> set[str]:
    return {k.strip() for k in spec.split(",") if k.strip()}


def _input_keys() -> set[str]:
    keys: set[str] = set()
    for b in Input.BINDINGS:
        keys |= _keys(b.key if isinstance(b, Binding) else b[0])
    return keys


def test_the_table_lists_every_remappable_action_with_its_default_key() -> None:
    rows = dict(re.findall(r"^\| `(\w+)` \| `([^`]+)` \|", _section(), flags=re.M))
    expected = {a.id: a.key for a in ACTIONS if a.bind}
    assert rows == expected


def test_the_example_keymap_uses_only_free_keys() -> None:
    block = re.search(r"```toml\n(.*?)```", _section(), flags=re.S)
    assert block is not None
    keymap = tomllib.loads(block.group(1))["keymap"]
    assert keymap, "the example maps no key"
    editing = _input_keys()
    for action_id, spec in keymap.items():
        assert action_id in BY_ID and BY_ID[action_id].bind, action_id
        for key in _keys(spec):
            others = [a.id for a in ACTIONS if a.id != action_id and key in _keys(a.key)]
            assert not others, f"{action_id} = {key!r} is already {others}'s key"
            assert key not in editing, (
                f"{action_id} = {key!r} is an editing key of the question box"
            )
            assert key not in AVOID, f"{action_id} = {key!r} is a key the section says to avoid"
