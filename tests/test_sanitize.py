"""``tui.sanitize.clean`` against the hostile corpus and arbitrary text (hypothesis).

What must hold for any input: nothing that drives a terminal survives, cleaning twice changes
nothing more, and ordinary printable text (including markup-looking brackets, CJK, emoji) is
kept exactly — the sanitizer removes controls, it does not rewrite what the model said.
"""

from __future__ import annotations

import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.hostile import CANARY, ESC, HOSTILE, assert_terminal_safe, forbidden_chars
from tui.sanitize import clean, clean_line


@pytest.mark.parametrize("name,text", HOSTILE, ids=[n for n, _ in HOSTILE])
def test_clean_makes_every_hostile_entry_safe_and_keeps_its_words(name: str, text: str) -> None:
    out = clean(text)
    assert_terminal_safe(out, name)
    assert clean(out) == out, "clean is not idempotent"
    if CANARY in text:
        assert CANARY in out, f"{name}: the visible text was dropped with the controls"


@pytest.mark.parametrize("name,text", HOSTILE, ids=[n for n, _ in HOSTILE])
def test_clean_line_is_one_safe_bounded_line(name: str, text: str) -> None:
    out = clean_line(text, 120)
    assert_terminal_safe(out, name)
    assert "\n" not in out and "\t" not in out
    assert len(out) <= 120


def test_escape_sequences_leave_no_residue() -> None:
    # An OSC title removed as a whole: no "]0;pwned" left to read as text.
    assert clean(f"{ESC}]0;pwned{chr(7)}ok") == "ok"
    assert clean(f"{ESC}]52;c;ZXZpbA=={ESC}\\ok") == "ok"
    assert clean(f"{ESC}[2J{ESC}[31mok{ESC}[0m") == "ok"
    assert clean("\x9d0;pwned\x9cok") == "ok"


def test_crlf_becomes_newline_and_lone_cr_is_dropped() -> None:
    assert clean("a\r\nb") == "a\nb"
    assert "\r" not in clean("SAFE\rEVIL")


def test_surrogates_become_replacement_characters_that_encode() -> None:
    out = clean("a\ud800b\udfffc")
    assert out == "a\ufffdb\ufffdc"
    out.encode("utf-8")  # would raise on a surrogate


def test_markup_is_left_literal() -> None:
    # Rendering with rich Text keeps it literal; the sanitizer must not half-eat it.
    assert clean("[bold red]x[/bold red] [/] [link=file:///x]y[/link]") == (
        "[bold red]x[/bold red] [/] [link=file:///x]y[/link]"
    )


def test_unterminated_osc_does_not_hide_the_following_lines() -> None:
    out = clean(f"first line {ESC}]0;oops\nsecond line stays visible")
    assert "second line stays visible" in out


# --- properties ----------------------------------------------------------------------------

#: Text that is entirely printable: letters, digits, punctuation, symbols, spaces, newline, tab.
printable = st.text(
    st.characters(categories=("L", "M", "N", "P", "S", "Zs"), exclude_characters="\x85")
    | st.sampled_from("\n\t[]/\\"),
    max_size=200,
)
anything = st.text(st.characters(codec=None), max_size=300) | st.lists(
    st.sampled_from(
        [
            ESC,
            "[",
            "]",
            "P",
            "\\",
            "\x07",
            "\x9b",
            "\x9c",
            "\x9d",
            "\x90",
            "0",
            ";",
            "2J",
            "m",
            "\r",
            "\n",
            "\u202e",
            "\u200b",
            "\ud800",
            "a",
            "?",
            " ",
            "\x00",
            "\x7f",
        ]
    ),
    max_size=120,
).map("".join)
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(anything)
def test_clean_output_never_holds_forbidden_characters(text: str) -> None:
    assert forbidden_chars(clean(text)) == []


@FAST
@given(anything)
def test_clean_is_idempotent(text: str) -> None:
    once = clean(text)
    assert clean(once) == once


@FAST
@given(printable)
def test_clean_keeps_printable_text_exactly(text: str) -> None:
    # Bidi and invisible characters are Cf, not in these categories, so nothing should go.
    assert clean(text) == text


@FAST
@given(printable, anything, printable)
def test_clean_keeps_printable_text_before_any_garbage(head: str, junk: str, tail: str) -> None:
    out = clean(head + junk)
    assert out.startswith(clean(head)) or head.endswith(ESC)


@FAST
@given(anything, st.integers(min_value=1, max_value=200))
def test_clean_line_never_exceeds_its_limit(text: str, limit: int) -> None:
    out = clean_line(text, limit)
    assert len(out) <= limit and "\n" not in out
    assert forbidden_chars(out) == []


def test_no_single_character_that_must_go_passes_clean() -> None:
    """Every code point, alone and inside printable text: what may not reach a terminal is
    gone (the shortcut for printable text must never let one through)."""
    for cp in range(sys.maxunicode + 1):
        ch = chr(cp)
        for text in (ch, f"ab{ch}c"):
            out = clean(text)
            assert not forbidden_chars(out), (hex(cp), out)
