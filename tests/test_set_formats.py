"""Set files in their published formats: GSM8K, MATH-500, AIME (both spellings), CMATH."""

from __future__ import annotations

import json

import pytest

from tui.evals.formats import AIME, AIME_CAPS, CMATH, GSM8K, JSONL, MATH, MATH500, detect_format
from tui.evals.sets import SetFileError, load_set_file

MATH500_LINE = {
    "problem": "Convert the point $(0,3)$ in rectangular coordinates to polar coordinates.",
    "solution": "We have that $r = 3$ ...",
    "answer": "\\left( 3, \\frac{\\pi}{2} \\right)",
    "subject": "Precalculus",
    "level": 2,
    "unique_id": "test/precalculus/807.json",
}


def _write(tmp_path, rows, name="set.jsonl"):
    p = tmp_path / name
    p.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return p


@pytest.mark.parametrize(
    "fields, fmt",
    [
        ({"question": "q", "answer": "2"}, JSONL),
        ({"question": "q", "answer": "so 2\n#### 2"}, GSM8K),
        (MATH500_LINE, MATH500),
        ({"problem": "p", "answer": "1", "solution": "s"}, MATH),
        ({"id": 60, "problem": "p", "answer": "204", "solution": "s", "url": "u"}, AIME),
        ({"ID": "2024-I-1", "Problem": "p", "Answer": 204, "Solution": "s"}, AIME_CAPS),
        ({"id": 1, "grade": 1, "question": "q", "golden": "5", "reasoning_step": 1}, CMATH),
    ],
)
def test_the_format_is_told_by_the_fields(fields, fmt):
    assert detect_format(fields) is fmt


def test_a_math500_file_keeps_subject_level_and_id(tmp_path):
    other = dict(MATH500_LINE, problem="What is $1+1$?", answer="2", level=1, subject="Algebra")
    s = load_set_file(_write(tmp_path, [MATH500_LINE, other]))
    first = s.items[0]
    assert first.question == MATH500_LINE["problem"]
    assert first.answer == MATH500_LINE["answer"]
    assert first.meta == {
        "solution": "We have that $r = 3$ ...",
        "subject": "Precalculus",
        "level": 2,
        "unique_id": "test/precalculus/807.json",
    }
    assert (s.items[1].meta["subject"], s.items[1].meta["level"]) == ("Algebra", 1)


def test_aime_files_in_both_spellings_give_the_same_items(tmp_path):
    lower = load_set_file(
        _write(tmp_path, [{"id": 60, "problem": "Aya walks.", "answer": "204"}], "a.jsonl")
    )
    caps = load_set_file(
        _write(tmp_path, [{"ID": "2024-I-1", "Problem": "Aya walks.", "Answer": 204}], "b.jsonl")
    )
    assert lower.items[0].question == caps.items[0].question == "Aya walks."
    assert lower.items[0].answer == caps.items[0].answer == "204"
    assert lower.items[0].meta == {"id": 60}
    assert caps.items[0].meta == {"id": "2024-I-1"}


def test_a_gsm8k_file_takes_the_gold_after_the_marker(tmp_path):
    row = {"question": "Half of 10?", "answer": "10/2 = <<10/2=5>>5\n#### 5"}
    item = load_set_file(_write(tmp_path, [row])).items[0]
    assert item.answer == "5" and item.meta["solution"] == "10/2 = <<10/2=5>>5"


def test_a_cmath_file_reads_golden_as_the_answer(tmp_path):
    row = {"id": "3", "grade": 2, "question": "小明有3个苹果，又买了2个，一共几个？", "golden": "5"}
    item = load_set_file(_write(tmp_path, [row])).items[0]
    assert (item.question, item.answer, item.meta["grade"]) == (row["question"], "5", 2)


@pytest.mark.parametrize(
    "row, message",
    [
        ({"problem": "p", "subject": "Algebra", "level": 1}, 'MATH-500 format: missing "answer"'),
        (
            {"problem": 3, "answer": "1", "unique_id": "x"},
            'MATH-500 format: "problem" must be text',
        ),
        ({"ID": "2024-I-1", "Problem": "p"}, 'AIME format: missing "Answer"'),
        (
            {"id": 1, "problem": "p", "answer": None},
            'AIME format: "answer" must be text or a number',
        ),
        ({"id": 1, "question": "q", "golden": " "}, 'CMATH format: "golden" is empty'),
        ({"prompt": "p", "target": "1"}, 'missing "question" (fields: prompt, target;'),
    ],
)
def test_a_wrong_line_names_its_format(tmp_path, row, message):
    with pytest.raises(SetFileError) as err:
        load_set_file(_write(tmp_path, [{"question": "ok", "answer": "1"}, row]))
    assert f"line 2: {message}" in str(err.value)
    assert "\n" not in str(err.value)
