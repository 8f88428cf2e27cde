"""The judge, form by form, and its agreement with the field's scorers on shared cases.

tests/data/judge_cases.jsonl holds (output, gold, expected) cases from math-verify's own test
suite, lm-eval's GSM8K targets, GSM8K-style outputs and the examples the judge was specified
with; each case names its source.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from tui.core.answers import same_answer, vote
from tui.core.judge import Verdict, judge
from tui.evals.runner import default_judge

CASES = [
    json.loads(line)
    for line in (Path(__file__).parent / "data" / "judge_cases.jsonl")
    .read_text("utf-8")
    .splitlines()
    if line.strip()
]


def _agreement(cases: list[dict[str, object]]) -> float:
    agree = sum(judge(str(c["output"]), str(c["gold"])).correct == c["expected"] for c in cases)
    return agree / len(cases)


def test_the_cases_come_from_the_named_sources() -> None:
    sources = {str(c["source"]).split(" ")[0] for c in CASES}
    assert {"huggingface/Math-Verify", "EleutherAI/lm-evaluation-harness"} <= sources
    assert len(CASES) >= 400
    assert sum(bool(c["named"]) for c in CASES) >= 70


def test_agreement_with_the_field_is_at_least_95_percent() -> None:
    assert _agreement(CASES) >= 0.95


@pytest.mark.parametrize(
    "case", [c for c in CASES if c["named"]], ids=lambda c: f"{c['output'][:40]!r}→{c['gold']}"
)
def test_every_named_example(case: dict[str, object]) -> None:
    verdict = judge(str(case["output"]), str(case["gold"]))
    assert verdict.correct == case["expected"], verdict.why


# --- form by form ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("output", "gold"),
    [
        ("The answer is 1,234.", "1234"),
        ("\\boxed{1{,}234}", "1234"),
        ("\\boxed{1\\,234}", "1234"),
        ("\\boxed{11,\\! 111,\\! 100}", "11111100"),
        ("The answer is 1e3.", "1000"),
        ("\\boxed{10^3}", "1000"),
        ("\\boxed{2.50}", "2.5"),
        ("\\boxed{0.5}", "\\frac{1}{2}"),
        ("\\boxed{25\\%}", "25"),
        ("The answer is \\$18.", "18"),
        ("The final answer is -$3.", "-3"),
        ("\\boxed{1.4142}", "\\sqrt{2}"),  # a decimal of 3+ places against an irrational
    ],
)
def test_numbers(output: str, gold: str) -> None:
    assert judge(output, gold).correct


@pytest.mark.parametrize(
    ("output", "gold", "expected"),
    [
        ("The answer is 4 4/9.", "40/9", True),
        ("The answer is 4 4/9.", "4", False),
        ("-4 4/9", "-40/9", True),
        ("She needs 2 1/2 cups of flour.", "2.5", True),
        ("1 000 4/9", "9004/9", True),
        ("4 4/0", "4", False),
        ("11\n5/6", "71/6", False),  # lines apart: no mixed number
        ("11\n5/6", "5/6", True),
        ("4 4/9 2", "2", True),  # "4 4/9 2" is no one number: the last one counts
        ("11.0 4/9", "103/9", False),
    ],
)
def test_mixed_numbers(output: str, gold: str, expected: bool) -> None:
    assert judge(output, gold).correct is expected


@pytest.mark.parametrize(
    ("output", "gold"),
    [
        ("The answer is 0.33", "\\frac13"),  # two places are not 1/3
        ("\\boxed{1234}", "1,235"),
        ("\\boxed{10^3}", "103"),
        ("\\boxed{-3}", "3"),
    ],
)
def test_numbers_that_differ(output: str, gold: str) -> None:
    assert not judge(output, gold).correct


@pytest.mark.parametrize(
    ("output", "gold"),
    [
        ("\\boxed{\\dfrac{2}{3}}", "\\frac{2}{3}"),
        ("\\boxed{\\tfrac{2}{3}}", "2/3"),
        ("\\boxed{\\frac23}", "\\frac{2}{3}"),
        ("\\boxed{\\frac{\\sqrt{3}}{2}}", "\\frac{1}{2}\\sqrt3"),
        ("\\boxed{\\sqrt[3]{8}}", "2"),
        ("\\boxed{\\frac{\\pi}{4}}", "\\pi/4"),
        ("\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}", "(3, \\frac{\\pi}{2})"),
        ("\\boxed{\\text{5 cm}}", "5"),
        ("\\boxed{5\\text{ cm}^2}", "5"),
        ("\\boxed{30^\\circ}", "30"),
        ("\\boxed{\\\\frac{1}{2}}", "\\frac12"),  # escaped twice
        ("\\boxed{2x + 1}", "1 + 2x"),
        ("\\boxed{\\sec^2 y}", "\\tan^2 y + 1"),
        ("\\boxed{3!}", "6"),
        ("\\boxed{\\log_2 8}", "3"),
        ("\\boxed{\\log_{10} 1000}", "3"),
        ("\\boxed{\\sin \\frac{\\pi}{6}}", "\\frac12"),
    ],
)
def test_latex_forms(output: str, gold: str) -> None:
    assert judge(output, gold).correct


@pytest.mark.parametrize(
    ("output", "gold"),
    [
        ("The answer is x − 1.", "x-1"),
        ("The answer is 2√3.", "\\sqrt{12}"),
        ("The answer is π/2.", "\\frac{\\pi}{2}"),
        ("The answer is x² + 1.", "x^2+1"),
        ("The answer is (−∞, 3].", "(-\\infty,3]"),
        ("The answer is 3 × 4.", "12"),
    ],
)
def test_unicode_math(output: str, gold: str) -> None:
    assert judge(output, gold).correct


@pytest.mark.parametrize(
    ("output", "gold", "expected"),
    [
        ("\\boxed{[-2, 7)}", "[-2,7)", True),
        ("\\boxed{(-2, 7)}", "[-2,7)", False),
        ("\\boxed{(-\\infty, 0] \\cup [1, \\infty)}", "[1,\\infty)\\cup(-\\infty,0]", True),
        ("\\boxed{-2 \\le x \\le 7}", "[-2, 7]", True),
        ("\\boxed{x < 3}", "(-\\infty, 3)", True),
        ("\\boxed{\\{1, 2, 3\\}}", "\\{3, 1, 2\\}", True),
        ("\\boxed{\\{1, 2\\}}", "\\{1, 3\\}", False),
        ("\\boxed{1, -2}", "-2, 1", True),
        ("\\boxed{(1, 2)}", "(2, 1)", False),
        ("\\boxed{(1, 2, 3)}", "(1,2,3)", True),
        ("\\boxed{\\pm 2}", "\\{-2, 2\\}", True),
        ("\\boxed{\\pm 2}", "2", False),
        ("\\boxed{1} and \\boxed{2}", "1, 2", True),
        ("So x = \\boxed{1}, y = \\boxed{2}.", "x=1, y=2", True),  # names kept
        ("So x = \\boxed{1}, y = \\boxed{2}.", "x=2, y=1", False),
        ("\\(y_1 = \\boxed{x+1}\\) and \\(y_2 = \\boxed{2x}\\)", "y_{1}=1+x, y_{2}=2x", True),
        ("\\boxed{1} or \\boxed{2}", "1", False),
    ],
)
def test_intervals_sets_tuples(output: str, gold: str, expected: bool) -> None:
    assert judge(output, gold).correct is expected


@pytest.mark.parametrize(
    ("output", "gold", "expected"),
    [
        (
            "$\\boxed{\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}}$",
            "\\begin{bmatrix}1&2\\\\3&4\\end{bmatrix}",
            True,
        ),
        (
            "\\boxed{\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}}",
            "\\begin{pmatrix}1\\\\2\\end{pmatrix}",
            True,
        ),
        (
            "\\boxed{\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}}",
            "\\begin{pmatrix}1 & 2\\end{pmatrix}",
            False,
        ),
        (
            "\\boxed{\\left[\\begin{array}{cc}1 & 0 \\\\ 0 & 1\\end{array}\\right]}",
            "\\begin{pmatrix}1&0\\\\0&1\\end{pmatrix}",
            True,
        ),
    ],
)
def test_matrices(output: str, gold: str, expected: bool) -> None:
    assert judge(output, gold).correct is expected


@pytest.mark.parametrize(
    ("output", "gold", "expected"),
    [
        (
            "$\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix} + \\begin{pmatrix}5 & 6 \\\\ 7 & 8\\end{pmatrix}$",
            "\\begin{pmatrix}6 & 8 \\\\ 10 & 12\\end{pmatrix}",
            True,
        ),
        (
            "$\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix} \\begin{pmatrix}0 & 1 \\\\ 1 & 0\\end{pmatrix}$",
            "\\begin{pmatrix}2 & 1 \\\\ 4 & 3\\end{pmatrix}",
            True,
        ),
        (
            "$2\\begin{pmatrix}1 \\\\ 2\\end{pmatrix}$",
            "\\begin{pmatrix}2 \\\\ 4\\end{pmatrix}",
            True,
        ),
        (
            "$2\\begin{pmatrix}1 \\\\ 2\\end{pmatrix}$",
            "\\begin{pmatrix}2 \\\\ 3\\end{pmatrix}",
            False,
        ),
        (
            "$\\begin{pmatrix}1 & 2\\end{pmatrix} + \\begin{pmatrix}1 \\\\ 2\\end{pmatrix}$",
            "\\begin{pmatrix}2 & 4\\end{pmatrix}",
            False,
        ),
    ],
)
def test_matrix_arithmetic(output: str, gold: str, expected: bool) -> None:
    assert judge(output, gold).correct is expected


@pytest.mark.parametrize(
    ("output", "gold", "expected"),
    [
        ("\\boxed{2 \\times 3 = 6}", "6", True),  # a computation shown: its result
        ("\\boxed{2 \\times 3 = 6}", "5", False),
        ("$(1, 3)$", "{1, 3}", True),  # a tuple against a set written in plain braces
        ("$(3, 1)$", "{1, 3}", False),
        ("$\\zeta_3 + 1$", "1 + \\zeta_3", True),  # commands the reader does not know
        ("$\\foo + 1$", "1 + \\foo", True),
        ("$\\foo + 1$", "1 + \\bar", False),
    ],
)
def test_reading_choices(output: str, gold: str, expected: bool) -> None:
    assert judge(output, gold).correct is expected


@pytest.mark.parametrize(
    ("output", "gold", "expected"),
    [
        ("\\boxed{x = 4}", "4", True),
        ("The answer is $k = \\frac{1}{3}$.", "\\frac13", True),
        ("\\boxed{y = 2x + 3}", "y = 3 + 2x", True),
        ("\\boxed{2x + 4y - 3 = 0}", "y = -\\frac{1}{2}x + \\frac{3}{4}", True),
        ("\\boxed{x = 1, y = 2}", "y = 2, x = 1", True),
        ("\\boxed{x = 1, y = 2}", "x = 2, y = 1", False),
        ("\\boxed{7 = 11a + c}", "11a + c", False),  # a number on the left names nothing
        ("\\boxed{5 \\geq x}", "x \\leq 5", True),
        ("\\boxed{-x > -1}", "x < 1", True),
        ("\\boxed{12:00}", "12:00", True),
        ("\\boxed{12:00}", "1:00", False),
    ],
)
def test_equations_and_relations(output: str, gold: str, expected: bool) -> None:
    assert judge(output, gold).correct is expected


@pytest.mark.parametrize(
    ("output", "gold", "expected"),
    [
        ("所以小明一共有18个苹果。", "18", True),
        ("最终答案：18", "18", True),
        ("答案是18", "18", True),
        ("答案为 3个。", "3", True),
        ("因此，所求的值为 $\\boxed{-\\frac{3}{4}}$。", "-0.75", True),
        ("经过计算，答案为 2.5 小时。", "\\frac52", True),
        ("答案是18，而不是17。", "17", False),
        ("答案是18或者19。", "18", False),
        ("根据推理，答案为北京。", "北京", True),
    ],
)
def test_chinese(output: str, gold: str, expected: bool) -> None:
    assert judge(output, gold).correct is expected


@pytest.mark.parametrize(
    ("output", "gold", "expected"),
    [
        ("The answer is Paris.", "paris", True),
        ("The answer is the Eiffel Tower.", "Eiffel Tower", True),
        ("\\boxed{\\text{(C)}}", "C", True),
        ("\\boxed{\\text{Evelyn}}", "\\text{Evelyn}", True),
        ("The answer is London.", "Paris", False),
        ("\\boxed{B}", "C", False),
    ],
)
def test_short_text(output: str, gold: str, expected: bool) -> None:
    assert judge(output, gold).correct is expected


@pytest.mark.parametrize(
    ("output", "gold", "expected"),
    [
        ("The answer is A.", "A", True),  # "a" is a choice here, not an article
        ("A. Because B is not valid", "A", True),
        ("A. Because B is not valid", "B", False),
        ("**B**: the second one", "B", True),
        ("C) yes", "\\text{(C)}", True),
        ("A. At first. But the answer is B.", "A", False),  # it named another choice
        ("A cat sat.", "A", False),
    ],
)
def test_multiple_choice(output: str, gold: str, expected: bool) -> None:
    assert judge(output, gold).correct is expected


@pytest.mark.parametrize(
    ("output", "gold", "expected"),
    [
        ("Step one.\n#### 18\nNote: 20 if the shop was closed.", "18", True),
        ("Step one.\n#### 18\nNote: 20 if the shop was closed.", "20", False),
        ("She pays 3 * $6 = $18.\n#### $18", "18", True),
        ("Natalia sold 48/2 = <<48/2=24>>24 clips.\n#### 72", "72", True),
        ("The answer is 72.", "Natalia sold 24 clips in May.\n#### 72", True),  # GSM8K gold
        # A few-shot reply running on into a question of its own: read up to it.
        ("3 + 2 = 5. The answer is 5.\n\nQuestion: Tom has 7.\nThe answer is 7.", "5", True),
        ("3 + 2 = 5. The answer is 5.\n\nQ: Tom has 7.\nA: The answer is 7.", "7", False),
        ("Let me restate it.\nQuestion: 3 + 2?\nSo the answer is 5.", "5", True),
    ],
)
def test_gsm8k_answer_lines(output: str, gold: str, expected: bool) -> None:
    assert judge(output, gold).correct is expected


@pytest.mark.parametrize(
    ("output", "gold"),
    [
        ("The answer is 19, not 18.", "18"),
        ("The answer is 18 or 19.", "19"),
        ("The answer is 18 or 19.", "18"),
        ("The answer is maybe 12.", "12"),
        ("I am not sure. It could be 12 or 14.", "14"),
        ("\\boxed{3} or \\boxed{4}", "4"),
    ],
)
def test_hedged_answers_are_wrong(output: str, gold: str) -> None:
    verdict = judge(output, gold)
    assert not verdict.correct, verdict.why


@pytest.mark.parametrize(
    ("output", "gold"),
    [
        ("The answer is 18, or eighteen.", "18"),  # the same answer in words
        ("The answer is 1/2, or 0.5.", "0.5"),  # the same value twice
    ],
)
def test_a_restatement_is_no_hedge(output: str, gold: str) -> None:
    verdict = judge(output, gold)
    assert verdict.correct, verdict.why


def test_the_reason_before_a_because_is_the_answer() -> None:
    verdict = judge("The answer is 18 because each of the 6 boxes holds 3.", "18")
    assert verdict == Verdict(True, "18", "18 = 18")
    assert not judge("The answer is 18 because each of the 6 boxes holds 3.", "3").correct


def test_the_verdict_says_what_was_read_and_why() -> None:
    assert judge("The answer is 18 or 19.", "19") == Verdict(False, "18 or 19", "hedged: 18 or 19")
    assert judge("", "5") == Verdict(False, None, "the reply gives no answer")
    assert judge("\\boxed{4}", "") == Verdict(False, "4", "no gold answer to compare with")
    wrong = judge("\\boxed{4}", "5")
    assert (wrong.correct, wrong.extracted) == (False, "4") and "4" in wrong.why


def test_any_of_several_golds() -> None:
    assert judge("\\boxed{0.5}", ["1/3", "\\frac12"]).correct
    assert not judge("\\boxed{0.5}", ["1/3", "2"]).correct


def test_the_eval_scorer_is_the_judge() -> None:
    assert default_judge("So \\boxed{\\dfrac{1}{2}}.", ["0.5"]) == ("\\dfrac{1}{2}", True)
    assert default_judge("The answer is 18 or 19.", ["19"]) == ("18 or 19", False)
    assert default_judge("", ["1"]) == (None, False)


def test_long_untrusted_replies_are_read_in_linear_time() -> None:
    # Thousands of boxes, unclosed braces or answer statements (each scanned to the end of
    # the text, these were quadratic): the verdicts, with the last box's answer.
    assert str(judge("\\boxed{1} " * 20000 + "\\boxed{2}", "2").extracted).endswith("1, 2")
    assert not judge("\\boxed{" * 20000, "1").correct
    assert not judge("\\boxed{" + "{" * 100000, "1").correct
    assert judge("answer: 1 " * 20000 + "\nThe answer is 2.", "2").correct
    # A long LaTeX expression is not prose around one number.
    assert not judge("\\boxed{" + "\\frac{1}{" * 2000 + "}" * 2001, "1").correct


def test_untrusted_input_is_bounded() -> None:
    # Huge powers, factorials and deep nesting are refused, not computed.
    assert not judge("\\boxed{10^{10^{10^{10}}}}", "1").correct
    assert not judge("\\boxed{100000!}", "1").correct
    assert not judge("\\boxed{" + "{" * 300 + "1" + "}" * 300 + "}", "2").correct
    assert judge("\\boxed{" + "(" * 60 + "1" + ")" * 60 + "}", "1").correct


def test_the_judge_is_safe_from_threads() -> None:
    # No signal-based timeouts and no shared state: threads get the verdicts one thread gets.
    cases = CASES[:60]
    single = [judge(str(c["output"]), str(c["gold"])).correct for c in cases]
    results: dict[int, list[bool]] = {}

    def work(n: int) -> None:
        results[n] = [judge(str(c["output"]), str(c["gold"])).correct for c in cases]

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [results[n] for n in range(4)] == [single] * 4


# --- the vote uses the same test --------------------------------------------------------


def test_same_answer_is_the_judges_equivalence() -> None:
    assert same_answer("\\frac{\\sqrt3}{2}", "\\sqrt{3}/2")
    assert same_answer("x = 5", "5")
    assert same_answer("[0, 1)", "[0,1)")
    assert not same_answer("(0, 1)", "[0, 1)")
    assert not same_answer("18 or 19", "18")
    assert not same_answer("", "")


def test_the_vote_groups_spellings_the_judge_calls_equal() -> None:
    result = vote(["\\boxed{\\frac{1}{2}}", "\\boxed{7}", "\\boxed{0.5}", "\\boxed{\\dfrac12}"])
    assert result.key == "0.5"
    assert result.votes == {"0.5": 3, "7": 1}
    # The winner is shown as its first voter wrote it.
    assert result.answer == "1/2"
    result = vote(["\\boxed{\\sqrt{2}/2}", "\\boxed{\\frac{1}{\\sqrt2}}", "\\boxed{1}"])
    assert result.winner_votes == 2
    assert result.answer == "\\sqrt{2}/2"


def test_the_vote_keeps_hedges_apart() -> None:
    result = vote(["The answer is 18 or 19.", "\\boxed{19}", "\\boxed{18}", "\\boxed{18}"])
    assert result.votes == {"18": 2, "18or19": 1, "19": 1}


def test_the_vote_keeps_its_first_voters_reply_for_the_judge() -> None:
    first = "So $\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}$."
    result = vote(["\\boxed{1}", first, "\\boxed{(3, \\pi/2)}"])
    assert result.reply == first
    assert judge(result.reply, "(3, \\frac{\\pi}{2})").correct
    assert vote([None, ""]).reply is None
