"""The one place untrusted text (model output, questions, server logs, file names) is made safe.

Everything shown in the terminal or exported passes through :func:`clean`: escape sequences
are removed whole (an OSC title change leaves no ``]0;title`` behind), other C0/C1 controls
are dropped (newline and tab stay), bidi overrides and invisible format characters are
dropped, lone surrogates become U+FFFD. Rich markup is *not* touched here: renderers show
text through ``rich.text.Text``/escaped Markdown, so ``[bold]`` stays literal.
"""

from __future__ import annotations

import re

# ESC-introduced sequences: CSI (ESC [ ... final), OSC/DCS/SOS/PM/APC (ESC ] P X ^ _ ... ST or BEL),
# and two-byte escapes (ESC + one char). Their 8-bit C1 forms (0x9b CSI, 0x9d OSC, ...) too.
_ESCAPES = re.compile(
    r"""
    (?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?                        # CSI ... final byte
  | (?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])                   # OSC, DCS, SOS, PM, APC
        [^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)?               # ... up to BEL, ST or the line's end
  | \x1b[ -/]*[0-~]?                                         # other ESC sequences
    """,
    re.VERBOSE,
)
# C0 except \t and \n, DEL, C1; \r too: a lone carriage return rewrites the line on a terminal.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Bidi embeddings/overrides/isolates (Trojan Source) and invisible formatting characters.
# U+200D (zero-width joiner) stays: emoji sequences need it.
_INVISIBLE = re.compile(
    r"[\u200b\u200c\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\u061c]"
)
_SURROGATES = re.compile(r"[\ud800-\udfff]")


def clean(text: str) -> str:
    """Return ``text`` with nothing that could drive a terminal or hide what it says."""
    if not text or text.isprintable():  # no control, format or surrogate character: a
        return text  # model's usual chunk, kept as is without four regex passes
    if "\r\n" in text:
        text = text.replace("\r\n", "\n")
    text = _ESCAPES.sub("", text)
    text = _CONTROLS.sub("", text)
    text = _INVISIBLE.sub("", text)
    return _SURROGATES.sub("\ufffd", text)


def clean_line(text: str, limit: int | None = None) -> str:
    """:func:`clean`, folded onto one line (for lists and titles), optionally truncated."""
    line = " ".join(clean(text).split())
    if limit is not None and len(line) > limit:
        line = line[: max(limit - 1, 0)] + "…"
    return line
