"""Splitting long answers into sections, the boxed answer, and <think> separation."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tui.core.sections import (
    Answer,
    Break,
    Heading,
    SectionSplitter,
    Text,
    Think,
    ThinkSplitter,
    heading_title,
    last_boxed,
    last_paragraph,
    split_sections,
    split_think,
)

DOC = (
    "Let me look at this first.\n\n"
    "## Deep Understanding\n"
    "We need the count.\n"
    "* a list item\n"
    "```\n# a comment in code, not a heading\n```\n"
    "**Verification:**\n"
    "Check again.\n"
    "### Answer ###\n"
    "So the result is \\boxed{3}.\n"
)


def _feed_in_pieces(text: str, size: int, splitter: SectionSplitter) -> list:
    pieces = []
    for i in range(0, len(text), size):
        pieces += splitter.feed(text[i : i + size])
    return pieces + splitter.close()


def _sections_from(pieces: list) -> list[tuple[str | None, str]]:
    out: list[tuple[str | None, str]] = [(None, "")]
    for p in pieces:
        if isinstance(p, Heading):
            out.append((p.title, ""))
        elif isinstance(p, Text):
            out[-1] = (out[-1][0], out[-1][1] + p.text)
    return out


def test_split_sections_at_headings() -> None:
    sections = split_sections(DOC)
    assert [s.title for s in sections] == ["", "Deep Understanding", "Verification", "Answer"]
    assert sections[0].body == "Let me look at this first."
    assert "# a comment in code, not a heading" in sections[1].body
    assert "* a list item" in sections[1].body
    assert sections[3].body == "So the result is \\boxed{3}."


def test_heading_title_forms() -> None:
    assert heading_title("## Deep Understanding") == "Deep Understanding"
    assert heading_title("#### **Bold inside**") == "Bold inside"
    assert heading_title("**Step 2: Check**") == "Step 2: Check"
    assert heading_title("__Answer__:") == "Answer"
    assert heading_title("##no space") is None
    assert heading_title("##### too deep") is None
    assert heading_title("**bold** then text") is None
    assert heading_title("plain line") is None


def test_streaming_split_matches_whole_text_for_any_chunk_size() -> None:
    whole = _sections_from(_feed_in_pieces(DOC, len(DOC), SectionSplitter()))
    for size in (1, 2, 3, 7, 64):
        assert _sections_from(_feed_in_pieces(DOC, size, SectionSplitter())) == whole


def test_plain_text_streams_without_waiting_for_the_line_end() -> None:
    splitter = SectionSplitter()
    assert splitter.feed("Some te") == [Text("Some te")]
    # a line that may be a heading is held until it is decided
    assert splitter.feed("xt\n## He") == [Text("xt\n")]
    assert splitter.feed("ading\nbody") == [Heading("Heading"), Text("body")]


def test_paragraph_breaks_after_enough_text() -> None:
    splitter = SectionSplitter(paragraph_chars=10)
    pieces = (
        splitter.feed("short\n\nthis paragraph is long enough\n\nnext one\n") + splitter.close()
    )
    assert pieces.count(Break()) == 1
    texts = "".join(p.text for p in pieces if isinstance(p, Text))
    assert texts == "short\n\nthis paragraph is long enough\n\nnext one\n"


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab #*_`\n{}")), max_size=200), st.integers(1, 9))
def test_splitter_loses_no_text(text: str, size: int) -> None:
    pieces = _feed_in_pieces(text, size, SectionSplitter(paragraph_chars=5))
    rebuilt = "".join(p.text for p in pieces if isinstance(p, Text))
    # headings are taken out whole with their newline; everything else comes through as is
    assert len(rebuilt) <= len(text)
    heads = [p for p in pieces if isinstance(p, Heading)]
    if not heads:
        assert rebuilt == text


def test_last_boxed_nested_and_last() -> None:
    assert last_boxed(r"first \boxed{1} then \boxed{\frac{1}{2}}") == r"\frac{1}{2}"
    assert last_boxed(r"\boxed{a{b{c}}d}") == "a{b{c}}d"
    assert last_boxed(r"\boxed{ 42 } and a cut-off \boxed{4") == "42"
    assert last_boxed(r"\boxed{\{x\}}") == r"\{x\}"
    assert last_boxed("no box here") is None


def test_last_paragraph() -> None:
    assert last_paragraph("one\n\ntwo\nlines\n\n  \n") == "two\nlines"
    assert last_paragraph("") == ""


def test_split_think_forms() -> None:
    assert split_think("<think>\nhmm\n</think>\n\nThe answer.") == ("hmm", "The answer.")
    assert split_think("opening tag was in the prompt\n</think>\nAnswer") == (
        "opening tag was in the prompt",
        "Answer",
    )
    assert split_think("no tags at all") == ("", "no tags at all")
    assert split_think("Intro <think>x</think> y") == ("x", "Intro  y")


def test_think_splitter_holds_a_tag_split_across_chunks() -> None:
    splitter = ThinkSplitter()
    pieces = []
    for chunk in ["reasoning <", "/thi", "nk>", "\n\nanswer <b>bold</b>"]:
        pieces += splitter.feed(chunk)
    pieces += splitter.close()
    assert "".join(p.text for p in pieces if isinstance(p, Think)) == "reasoning "
    assert "".join(p.text for p in pieces if isinstance(p, Answer)) == "\n\nanswer <b>bold</b>"
    assert splitter.saw_tag


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=60), st.text(max_size=60), st.integers(1, 9))
def test_think_splitter_any_chunking(thinking: str, answer: str, size: int) -> None:
    thinking = thinking.replace("<", "(")
    answer = answer.replace("<", "(")
    text = f"<think>{thinking}</think>{answer}"
    splitter = ThinkSplitter(starts_thinking=False)
    pieces = []
    for i in range(0, len(text), size):
        pieces += splitter.feed(text[i : i + size])
    pieces += splitter.close()
    assert "".join(p.text for p in pieces if isinstance(p, Think)) == thinking
    assert "".join(p.text for p in pieces if isinstance(p, Answer)) == answer
