"""The answer normalizer and the vote, on text shaped like what the models really send."""

from __future__ import annotations

from fractions import Fraction

import pytest

from tui.core.answers import (
    answer_key,
    extract_answer,
    normalize_answer,
    parse_number,
    vote,
)
from tui.core.judge import answers_match

# --- real model-shaped final texts -----------------------------------------------------------

# g1's final-answer call (Llama-3.1 / InternLM3 under the English g1 prompt).
G1_FINAL = (
    "After carefully reviewing all the steps, I can confirm that there are 3 r's in the word "
    '"strawberry": s-t-r-a-w-b-e-r-r-y. The letters at positions 3, 8 and 9 are r.\n\n'
    "**Final Answer:** The word strawberry contains **3** r's."
)
G1_FINAL_PLAIN = "The final answer is 42."
G1_FINAL_JSON_STEP_TEXT = (
    "Combining the two results, 17 + 25 = 42, so the total number of marbles is 42. "
    "Double-checking: 42 - 25 = 17 ✓. In total there are 42 marbles."
)
# InternLM3's thinking mode: Markdown sections, the answer repeated in \boxed{} "without units".
INTERNLM3 = (
    "## Understanding the Problem\nWe need the value of $x$ such that $2x + 3 = 11$.\n\n"
    "## Solving\nSubtract 3 from both sides: $2x = 8$. Divide by 2: $x = 4$.\n\n"
    "## Verification\n$2 \\cdot 4 + 3 = 11$ ✓.\n\n"
    "Therefore, the answer is $\\boxed{4}$."
)
INTERNLM3_FRAC = (
    "## Probability\nThere are 6 outcomes and 3 are even, so the probability is "
    "$\\frac{3}{6}$, which simplifies.\n\n**Answer:** $\\boxed{\\dfrac{1}{2}}$"
)
INTERNLM3_NESTED = "The set is $\\boxed{\\{1, 2\\}}$ and the area is \\boxed{\\text{12 cm}^{2}}"
# DeepSeek-R1-Distill: thinking (often without the opening tag), then the answer.
R1 = (
    "Okay, so I need to find 15% of 80. Let me think. 10% of 80 is 8, 5% is 4, so 12. "
    "Wait, let me double check: 0.15 * 80 = 12. Yes.\n</think>\n\n"
    "15% of 80 is **12**.\n\n\\boxed{12}"
)
R1_NO_BOX = (
    "<think>\nThe train goes 60 km/h for 2.5 hours, so 150 km. Hmm, maybe 160? No, 150.\n"
    "</think>\n\nThe train travels **150 km**."
)
R1_CUT_OFF = "<think>\nLet me compute 7 * 8 = 56, then add 3 ... and so the total is 59"
# Chinese answers (Qwen2.5 under the Chinese g1 prompt, InternLM3 in Chinese).
ZH_G1 = "经过以上分析，小明一共有 15 个苹果。所以答案是 15。"
ZH_FINAL = "综上所述，最终答案：3个。"
ZH_TEXT = "根据推理，答案为北京。"
ZH_BOXED = "因此，所求的值为 $\\boxed{-\\frac{3}{4}}$。"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (G1_FINAL, "3"),
        (G1_FINAL_PLAIN, "42"),
        (G1_FINAL_JSON_STEP_TEXT, "42"),  # no explicit statement: the last number
        (INTERNLM3, "4"),
        (INTERNLM3_FRAC, "\\dfrac{1}{2}"),
        (INTERNLM3_NESTED, "\\text{12 cm}^{2}"),
        (R1, "12"),
        (R1_NO_BOX, "150"),
        (R1_CUT_OFF, ""),
        (ZH_G1, "15"),
        (ZH_FINAL, "3个"),
        (ZH_TEXT, "北京"),
        (ZH_BOXED, "-\\frac{3}{4}"),
        ("The capital of France is Paris.", "The capital of France is Paris."),
        ("", ""),
        (None, ""),
    ],
)
def test_extract_answer_from_model_text(text: str | None, expected: str) -> None:
    assert extract_answer(text) == expected


def test_boxed_wins_over_an_explicit_statement_and_the_last_box_counts() -> None:
    text = "First guess \\boxed{5}. The answer is 7, and the final check gives \\boxed{6}."
    assert extract_answer(text) == "6"


def test_markdown_emphasis_around_the_answer() -> None:
    assert extract_answer("**Answer:** 42") == "42"
    assert answer_key("Answer: **B**") == "b"
    assert answer_key("**Final Answer**: $\\frac{1}{2}$.") == "0.5"


def test_the_last_explicit_statement_counts() -> None:
    text = "At first I thought the answer is 10. Re-reading it, the final answer is 12 apples."
    assert extract_answer(text) == "12 apples"
    text = "The answer is that there are 3 r's in strawberry."
    assert extract_answer(text) == "3"
    assert extract_answer("The answer is New York City.") == "New York City"


def test_an_unfinished_box_is_ignored() -> None:
    assert extract_answer("so the answer is 8 \\boxed{9") == "8 \\boxed{9"
    assert answer_key("so the result is 8, then \\boxed{9") == "9"  # last number


def test_a_short_reply_with_a_unit_gives_its_number() -> None:
    # The group view shows "612" for both; a whole reply read as math keeps no unit words.
    assert extract_answer("612 km") == extract_answer("The distance is **612 km**.") == "612"
    assert extract_answer("$\\frac{10}{9}$") == "$\\frac{10}{9}$"  # math: the whole reply


def test_answer_in_words_not_an_answer_statement() -> None:
    # "answered" is not "answer:"; the last number is taken instead.
    assert extract_answer("She answered 12 questions and skipped 3") == "3"


@pytest.mark.parametrize(
    ("answer", "key"),
    [
        ("1,000", "1000"),
        ("$1,000.00", "1000"),
        ("1000 dollars", "1000"),
        ("50%", "50"),
        ("50\\%", "50"),
        ("3.0", "3"),
        ("-3", "-3"),
        ("−3", "-3"),
        ("-$5", "-5"),
        ("0.50", "0.5"),
        ("1/2", "0.5"),
        ("\\frac{1}{2}", "0.5"),
        ("\\dfrac{1}{3}", "1/3"),
        ("2/6", "1/3"),
        ("-\\frac{3}{4}", "-0.75"),
        ("12 km/h", "12"),
        ("12 r's", "12"),
        ("3个", "3"),
        ("90^\\circ", "90"),
        ("x = 4", "4"),
        ("$x=4$", "4"),
        ("**42**", "42"),
        ("\\text{12 cm}^{2}", "12cm^{2}"),
        (" New York. ", "newyork"),
        ("PARIS", "paris"),
        ("3 apples and 4 oranges", "3applesand4oranges"),
        ("", ""),
        ("   ", ""),
    ],
)
def test_normalize_answer(answer: str, key: str) -> None:
    assert normalize_answer(answer) == key


def test_parse_number_is_exact() -> None:
    assert parse_number("1,234.50") == Fraction(2469, 2)
    assert parse_number("1/0") is None
    assert parse_number("two") is None
    assert parse_number("3 apples and 4 oranges") is None


@pytest.mark.parametrize(
    ("predicted", "gold"),
    [
        (INTERNLM3, "4"),
        (INTERNLM3_FRAC, "0.5"),
        (R1, "12.0"),
        (R1_NO_BOX, "150"),
        (ZH_G1, "15"),
        (ZH_FINAL, "3"),
        (ZH_TEXT, "北京"),
        (ZH_BOXED, "-3/4"),
        (G1_FINAL_PLAIN, "42"),
        ("The answer is 1,000,000.", "1000000"),
        ("Final answer: $18", "18"),
        ("The final answer is: Paris", "paris"),
        ("So it costs 5 dollars in all", "5"),
    ],
)
def test_answers_match(predicted: str, gold: str) -> None:
    assert answers_match(predicted, gold)


@pytest.mark.parametrize(
    ("predicted", "gold"),
    [
        (INTERNLM3, "5"),
        (R1_CUT_OFF, "59"),  # a thought cut off is not an answer
        (ZH_TEXT, "上海"),
        ("The answer is 0.33", "1/3"),
        ("The answer is 2x+1", "2x+2"),
        ("anything", ""),
        ("", "3"),
    ],
)
def test_answers_do_not_match(predicted: str, gold: str) -> None:
    assert not answers_match(predicted, gold)


def test_gold_is_not_extracted() -> None:
    # A gold expression keeps its whole text: it is not cut down to its last number.
    assert answers_match("The answer is 2x + 1.", "2x+1")
    assert not answers_match("The answer is 1.", "2x+1")


# --- the vote -----------------------------------------------------------------------------


def test_majority_wins_across_spellings() -> None:
    result = vote(["The answer is 3.", "\\boxed{3}", "so 4", "Final answer: 3.0", "\\boxed{4}"])
    assert result.key == "3"
    assert result.answer == "3"
    assert result.votes == {"3": 3, "4": 2}
    assert result.winner_votes == 3
    assert result.ballots == 5
    assert result.abstained == 0


def test_tie_goes_to_the_answer_cast_first() -> None:
    # Answers arrive in the order their chains finished: 7 was reached first.
    assert vote(["\\boxed{7}", "\\boxed{5}", "\\boxed{5}", "\\boxed{7}"]).key == "7"
    assert vote(["\\boxed{5}", "\\boxed{7}", "\\boxed{7}", "\\boxed{5}"]).key == "5"
    # The tally lists the winner first, then the rest by count, ties in first-cast order.
    assert list(vote(["a", "b", "c", "b", "c"]).votes) == ["b", "c", "a"]


def test_empty_and_missing_answers_abstain() -> None:
    result = vote([None, "", R1_CUT_OFF, "\\boxed{2}"])
    assert result.key == "2"
    assert result.votes == {"2": 1}
    assert result.abstained == 3


def test_no_answers_no_winner() -> None:
    result = vote([None, ""])
    assert result.key is None and result.answer is None
    assert result.votes == {} and result.winner_votes == 0


def test_the_shown_answer_is_cleaned_of_latex() -> None:
    assert vote(["$\\boxed{\\frac{1}{2}}$", "0.5"]).answer == "1/2"
