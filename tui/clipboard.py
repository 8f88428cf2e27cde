"""Copying text to the user's clipboard over SSH: OSC 52, wrapped for tmux when inside tmux.

The terminal emulator on the user's own machine owns the clipboard; a program on a remote box
can only ask it, with the OSC 52 escape sequence, to set it. Whether it listens depends on
the terminal (and, inside tmux, on tmux's ``set-clipboard``/``allow-passthrough`` options), and
there is no reliable way to ask. So this module builds the bytes and makes an honest guess;
the app sends them and, where the guess is "no", says so and offers export instead.

Pure functions, no Textual, no I/O.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from dataclasses import dataclass

ESC = "\x1b"
BEL = "\x07"
ST = ESC + "\\"

#: Largest payload (bytes of UTF-8 before base64) sent. Terminals cap OSC 52: xterm and
#: hterm at about 100 000 base64 characters, tmux at its input buffer; past the cap they drop
#: the whole sequence silently, which is worse than saying "too long, export instead".
MAX_COPY_BYTES = 74_000

#: TERM values of terminals known not to implement OSC 52.
_NO_OSC52_TERMS = ("linux", "dumb", "cons25", "vt100", "vt220")
#: TERM_PROGRAM / LC_TERMINAL values known to implement it (LC_TERMINAL survives ssh's
#: SendEnv/AcceptEnv LC_* defaults, which is how iTerm2 is seen on a remote box).
_OSC52_PROGRAMS = (
    "iterm2",
    "iterm.app",
    "wezterm",
    "ghostty",
    "kitty",
    "alacritty",
    "foot",
    "tabby",
    "vscode",
    "rio",
    "contour",
    "windows terminal",
)
_OSC52_TERMS = ("xterm-kitty", "alacritty", "foot", "wezterm", "xterm-ghostty", "contour")


class CopyTooLarge(ValueError):
    """The text is longer than terminals accept in one OSC 52 sequence."""


def osc52(text: str, *, selection: str = "c") -> str:
    """The OSC 52 sequence that sets ``selection`` (``c`` clipboard, ``p`` primary) to ``text``.

    Raises :class:`CopyTooLarge` past :data:`MAX_COPY_BYTES`.
    """
    data = text.encode("utf-8")
    if len(data) > MAX_COPY_BYTES:
        raise CopyTooLarge(
            f"{len(data):,} bytes is more than a terminal takes in one copy ({MAX_COPY_BYTES:,})"
        )
    payload = base64.b64encode(data).decode("ascii")
    return f"{ESC}]52;{selection};{payload}{BEL}"


def tmux_passthrough(sequence: str) -> str:
    """Wrap ``sequence`` in tmux's DCS passthrough: tmux hands it, unchanged, to the outer
    terminal (needs ``set -g allow-passthrough on`` in tmux 3.3 and later). Every ESC inside
    is doubled, as tmux requires."""
    return f"{ESC}Ptmux;" + sequence.replace(ESC, ESC + ESC) + ST


def in_tmux(env: Mapping[str, str] = os.environ) -> bool:
    return bool(env.get("TMUX"))


def passthrough_copy(text: str, env: Mapping[str, str] = os.environ) -> str:
    """What to send besides the plain OSC 52 copy (which Textual's own copy writes).

    Inside tmux, the same sequence wrapped in tmux's passthrough: the plain one is taken by
    tmux itself when its ``set-clipboard`` is ``on`` (tmux then sets the outer clipboard), the
    wrapped one reaches the outer terminal when ``allow-passthrough`` is on. Either setting
    alone is enough, and setting the clipboard twice to the same text is harmless. Outside
    tmux: nothing.
    """
    return tmux_passthrough(osc52(text)) if in_tmux(env) else ""


@dataclass(frozen=True)
class Capability:
    """A guess at whether the terminal will take an OSC 52 copy."""

    #: True: known to work; False: known not to; None: cannot tell (sent anyway).
    supported: bool | None
    reason: str


def guess_capability(env: Mapping[str, str] = os.environ) -> Capability:
    """Guess from the environment whether an OSC 52 copy will reach the clipboard."""
    term = env.get("TERM", "").lower()
    program = (env.get("TERM_PROGRAM") or env.get("LC_TERMINAL") or "").lower()
    if not term or term in _NO_OSC52_TERMS:
        return Capability(False, f"the terminal ({term or 'no TERM'}) cannot set the clipboard")
    if program == "apple_terminal":
        return Capability(False, "macOS Terminal does not support OSC 52 clipboard copies")
    if env.get("VTE_VERSION") and not program:
        # GNOME Terminal, Tilix and other VTE terminals ignore OSC 52.
        return Capability(False, "VTE-based terminals (GNOME Terminal, Tilix) ignore OSC 52")
    if program in _OSC52_PROGRAMS or any(term.startswith(t) for t in _OSC52_TERMS):
        where = " through tmux" if in_tmux(env) else ""
        return Capability(True, f"{program or term} supports OSC 52{where}")
    hint = (
        " (inside tmux: set -g set-clipboard on, or allow-passthrough on)" if in_tmux(env) else ""
    )
    return Capability(
        None, f"sent as OSC 52; if nothing was copied, your terminal does not allow it{hint}"
    )
