"""OSC 52 copy sequences, tmux wrapping and the terminal capability guess."""

from __future__ import annotations

import base64
import re

import pytest

from tui.clipboard import (
    MAX_COPY_BYTES,
    CopyTooLarge,
    guess_capability,
    osc52,
    passthrough_copy,
    tmux_passthrough,
)


def _payload(seq: str) -> str:
    match = re.fullmatch(r"\x1b\]52;c;([A-Za-z0-9+/=]*)\x07", seq)
    assert match, repr(seq)
    return base64.b64decode(match.group(1)).decode("utf-8")


def test_osc52_round_trips_unicode_and_newlines() -> None:
    text = "Step 1: 你好\n\tx = 42 ✓"
    assert _payload(osc52(text)) == text


def test_osc52_payload_cannot_carry_control_bytes() -> None:
    seq = osc52("evil \x07\x1b]0;title\x07 text")
    # The text is base64: no BEL or ESC inside the sequence except its own framing.
    assert seq.count("\x07") == 1 and seq.count("\x1b") == 1


def test_too_large_is_refused_not_truncated() -> None:
    with pytest.raises(CopyTooLarge):
        osc52("x" * (MAX_COPY_BYTES + 1))
    assert _payload(osc52("x" * MAX_COPY_BYTES)) == "x" * MAX_COPY_BYTES


def test_tmux_passthrough_doubles_every_escape_and_ends_with_st() -> None:
    inner = osc52("hi")
    wrapped = tmux_passthrough(inner)
    assert wrapped.startswith("\x1bPtmux;\x1b\x1b]52;c;")
    assert wrapped.endswith("\x07\x1b\\")
    body = wrapped[len("\x1bPtmux;") : -2]
    assert body.replace("\x1b\x1b", "\x1b") == inner


def test_outside_tmux_nothing_goes_besides_the_plain_osc52() -> None:
    assert passthrough_copy("hi", {"TERM": "xterm-256color"}) == ""


def test_inside_tmux_the_wrapped_sequence_goes_too() -> None:
    seq = passthrough_copy("hi", {"TERM": "tmux-256color", "TMUX": "/tmp/tmux-0/default,1,0"})
    assert seq == tmux_passthrough(osc52("hi"))


@pytest.mark.parametrize(
    "env, expected",
    [
        ({"TERM": "linux"}, False),
        ({"TERM": "dumb"}, False),
        ({}, False),
        ({"TERM": "xterm-256color", "TERM_PROGRAM": "Apple_Terminal"}, False),
        ({"TERM": "xterm-256color", "VTE_VERSION": "7600"}, False),
        ({"TERM": "xterm-kitty"}, True),
        ({"TERM": "xterm-256color", "TERM_PROGRAM": "WezTerm"}, True),
        ({"TERM": "screen-256color", "TMUX": "x", "LC_TERMINAL": "iTerm2"}, True),
        ({"TERM": "xterm-256color"}, None),
    ],
)
def test_capability_guess(env, expected) -> None:
    capability = guess_capability(env)
    assert capability.supported is expected
    assert capability.reason


def test_unknown_terminal_in_tmux_names_the_tmux_settings() -> None:
    reason = guess_capability({"TERM": "tmux-256color", "TMUX": "x"}).reason
    assert "set-clipboard" in reason and "allow-passthrough" in reason
