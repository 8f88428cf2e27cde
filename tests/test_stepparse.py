"""The g1 step parser and the streaming extractor: the shapes small models really send, and
properties over arbitrary text."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from tui.core.stepparse import (
    CONTINUE,
    FINAL_ANSWER,
    PROSE_AFTER_CHARS,
    StepExtractor,
    normalize_next_action,
    parse_step,
)

STEP = {
    "title": "Count the letters",
    "content": "s-t-r-a-w: one r so far.",
    "next_action": "continue",
}


def test_plain_json() -> None:
    step = parse_step(json.dumps(STEP))
    assert (step.title, step.content, step.next_action) == (
        "Count the letters",
        "s-t-r-a-w: one r so far.",
        CONTINUE,
    )
    assert step.parsed and not step.truncated and step.next_action_given


def test_code_fence_and_prose_around() -> None:
    text = (
        "Sure! Here is the step:\n```json\n"
        + json.dumps(STEP, indent=2)
        + "\n```\nHope it helps {}"
    )
    step = parse_step(text)
    assert step.parsed
    assert step.title == "Count the letters"
    assert step.content == STEP["content"]


def test_missing_next_action_is_continue_and_flagged() -> None:
    step = parse_step('{"title": "T", "content": "C"}')
    assert step.parsed and step.next_action == CONTINUE and not step.next_action_given


def test_final_answer_spellings() -> None:
    for word in ("final_answer", "Final Answer", "final-answer", "FINAL"):
        assert normalize_next_action(word) == FINAL_ANSWER
    assert normalize_next_action("continue") == CONTINUE
    assert normalize_next_action(3) is None
    assert parse_step('{"title": "T", "content": "C", "next_action": "Final Answer"}').is_final


def test_raw_newlines_inside_strings_are_accepted() -> None:
    step = parse_step('{"title": "T", "content": "line one\nline two", "next_action": "continue"}')
    assert step.parsed and step.content == "line one\nline two"


def test_capitalised_keys_and_nested_step() -> None:
    assert parse_step('{"Title": "T", "Content": "C"}').content == "C"
    nested = parse_step('{"step": {"title": "T", "content": "inner"}}')
    assert nested.parsed and nested.content == "inner" and nested.title == "T"


def test_non_string_content_becomes_prose_not_json() -> None:
    step = parse_step('{"title": "T", "content": ["first", {"a": 1}], "next_action": "continue"}')
    assert step.content == "first\na: 1"
    assert "{" not in step.content


def test_truncated_json_recovers_title_and_content() -> None:
    text = '```json\n{"title": "Long step", "content": "We count r in straw\\"berry and'
    step = parse_step(text, truncated=True)
    assert step.parsed and step.truncated
    assert step.title == "Long step"
    assert step.content == 'We count r in straw"berry and'
    assert step.next_action == CONTINUE


def test_not_json_is_unparsed_raw_text() -> None:
    step = parse_step("I think the answer is 3, no JSON today.")
    assert not step.parsed
    assert step.content == "I think the answer is 3, no JSON today."
    assert step.title == ""


def test_title_that_looks_like_json_is_dropped() -> None:
    step = parse_step('{"title": "{\\"x\\": 1}", "content": "C"}')
    assert step.title == "" and step.content == "C"


def test_control_sequences_are_removed() -> None:
    step = parse_step('{"title": "T\\u001b]0;pwned\\u0007", "content": "a\\u001b[2Jb"}')
    assert "\x1b" not in step.title + step.content
    assert step.content == "ab"


def test_to_message_is_canonical_json() -> None:
    step = parse_step("```\n" + json.dumps(STEP, indent=4) + "\n```")
    assert step.to_message() == json.dumps(STEP, ensure_ascii=False)


# --- the streaming extractor ---------------------------------------------------------


def test_extractor_streams_content_and_title_only() -> None:
    text = json.dumps(
        {"title": "Tí", "content": 'a "quoted" é \U0001f600 end', "next_action": "final_answer"}
    )
    extractor = StepExtractor()
    pieces = [extractor.feed(text[i : i + 3]) for i in range(0, len(text), 3)]
    streamed = "".join(pieces)
    assert streamed == 'a "quoted" é \U0001f600 end'
    assert "{" not in streamed and '"title"' not in streamed
    assert extractor.title == "Tí"
    assert extractor.next_action == "final_answer"
    assert extractor.complete


def test_extractor_title_known_before_content_ends() -> None:
    extractor = StepExtractor()
    extractor.feed('{"title": "First", "content": "partial')
    assert extractor.title == "First"
    assert extractor.content == "partial"
    assert not extractor.complete


def test_extractor_ignores_nested_keys_and_trailing_objects() -> None:
    extractor = StepExtractor()
    out = extractor.feed('{"meta": {"content": "no"}, "content": "yes"} {"content": "later"}')
    assert out == "yes"


def test_extractor_streams_prose_when_no_json_comes() -> None:
    prose = "This model will not write JSON at all, it just keeps talking about the question " * 2
    extractor = StepExtractor()
    out = "".join(extractor.feed(prose[i : i + 5]) for i in range(0, len(prose), 5))
    assert extractor.prose
    assert out == prose  # from its very start, once it is clearly prose
    assert len(prose.replace(" ", "")) > PROSE_AFTER_CHARS


# --- properties ------------------------------------------------------------------------

texts = st.text(max_size=400)
step_values = st.text(max_size=80)


@settings(max_examples=300, deadline=None)
@given(texts)
def test_parse_step_never_raises_and_title_is_never_json(text: str) -> None:
    step = parse_step(text)
    assert "\n" not in step.title
    assert not step.title.startswith(("{", "["))
    assert len(step.title) <= 120
    assert step.next_action in (CONTINUE, FINAL_ANSWER)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200), st.lists(st.integers(min_value=1, max_value=7), max_size=50))
def test_extractor_never_raises_on_any_chunking(text: str, sizes: list[int]) -> None:
    extractor = StepExtractor()
    pos = 0
    for size in sizes:
        extractor.feed(text[pos : pos + size])
        pos += size
    extractor.feed(text[pos:])
    assert isinstance(extractor.content, str)


@settings(max_examples=200, deadline=None)
@given(step_values, step_values, st.sampled_from([CONTINUE, FINAL_ANSWER]), texts, texts)
def test_round_trip_with_prose_around(
    title: str, content: str, action: str, before: str, after: str
) -> None:
    body = json.dumps({"title": title, "content": content, "next_action": action})
    before = before.replace("{", "(")  # prose before the object holds no other object
    step = parse_step(before + "\n" + body + "\n" + after)
    assert step.parsed
    assert step.next_action == action
    from tui.sanitize import clean, clean_line

    assert step.content == clean(content)
    expected_title = clean_line(title, 120)
    assert step.title == ("" if expected_title[:1] in "{[" and expected_title else expected_title)


@settings(max_examples=200, deadline=None)
@given(step_values, st.text(min_size=1, max_size=120), st.data())
def test_truncated_prefix_content_is_a_prefix_of_the_real_content(
    title: str, content: str, data
) -> None:
    body = json.dumps({"title": title, "content": content, "next_action": "continue"})
    cut = data.draw(st.integers(min_value=0, max_value=len(body)))
    extractor = StepExtractor()
    extractor.feed(body[:cut])
    assert content.startswith(extractor.content)
    parse_step(body[:cut], truncated=True)  # never raises
