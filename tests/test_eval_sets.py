"""Built-in eval sets (deterministic, right answers) and set files (JSON Lines, GSM8K)."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tui.evals.builtin import ANSWER_FORMAT, BUILTIN_SETS, builtin_set
from tui.evals.lookup import load_set
from tui.evals.sets import SetFileError, load_set_file

ROOT = Path(__file__).resolve().parent.parent


def _dump(s) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(it.question, it.answer, it.accept) for it in s.items]


def test_same_seed_same_set_different_seed_different_set():
    assert _dump(builtin_set("classic", 7)) == _dump(builtin_set("classic", 7))
    assert _dump(builtin_set("classic", 7)) != _dump(builtin_set("classic", 8))


def test_same_set_in_another_process_with_another_hash_seed():
    code = (
        "import json; from tui.evals.builtin import builtin_set; "
        "print(json.dumps([[i.question, i.answer] for i in builtin_set('classic', 3).items]))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out) == [[q, a] for q, a, _ in _dump(builtin_set("classic", 3))]


def test_classic_sets_are_big_enough_bilingual_and_cover_every_kind():
    classic = builtin_set("classic")
    assert len(classic.items) >= 100
    kinds = {(it.meta["kind"], it.meta["lang"]) for it in classic.items}
    assert kinds == {(k, lang) for k in BUILTIN_SETS["classic"].kinds for lang in ("en", "zh")}
    assert len({it.question for it in classic.items}) == len(classic.items)
    # --limit 5 still sees every kind.
    assert len({it.meta["kind"] for it in classic.items[:5]}) == 5
    for name, spec in BUILTIN_SETS.items():
        assert len(builtin_set(name).items) == spec.size


def test_a_question_is_the_same_in_every_set_that_holds_its_stream():
    classic = {it.question for it in builtin_set("classic", 5).items}
    letters = {it.question for it in builtin_set("letters", 5).items}
    en = {it.question for it in builtin_set("classic-en", 5).items}
    assert {q for q in classic if "strawberry" in q or "“" in q} & letters
    assert {it.question for it in builtin_set("classic", 5).items if it.meta["lang"] == "en"} <= en


# --- every gold answer checked by an independent reading of its question ------------------

_WEEK = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_WEEK_ZH = "一二三四五六日"


def _strip_format(question: str, lang: str) -> str:
    assert question.endswith(ANSWER_FORMAT[lang])
    return question[: -len(ANSWER_FORMAT[lang])]


def _expected(kind: str, lang: str, q: str) -> str:
    if kind == "letters":
        word, letter = (
            re.search(r"“(\w+)”中有几个字母“(\w)”", q).groups()
            if lang == "zh"
            else (
                re.search(r'"(\w+)"\?$', q).group(1),
                [g for g in re.search(r'letter "(\w)"|many (\w)\'s', q).groups() if g][0],
            )
        )
        return str(word.count(letter))
    if kind == "decimals":
        a, b = re.findall(r"\d+\.\d+", q)
        return a if float(a) > float(b) else b
    if kind == "arithmetic":
        expr = re.search(r"([\d ×+\-]+\d)", q).group(1).replace("×", "*")
        return str(eval(expr))  # noqa: S307 - digits and operators only, matched above
    if kind == "dates":
        if m := re.search(r"today is (\w+), .* in (\d+) days", q):
            return _WEEK[(_WEEK.index(m.group(1)) + int(m.group(2))) % 7]
        if m := re.search(r"今天是星期(.)，(\d+) 天后", q):
            return "星期" + _WEEK_ZH[(_WEEK_ZH.index(m.group(1)) + int(m.group(2))) % 7]
        dates = [
            dt.date(int(y), int(mo), int(d))
            for y, mo, d in re.findall(r"(\d{4})年(\d+)月(\d+)日", q)
        ] or [
            dt.datetime.strptime(s, "%B %d, %Y").date()
            for s in re.findall(r"[A-Z][a-z]+ \d+, \d{4}", q)
        ]
        if len(dates) == 1:
            wd = dates[0].weekday()
            return ("星期" + _WEEK_ZH[wd]) if lang == "zh" else _WEEK[wd]
        later, earlier = (dates[0], dates[1]) if lang == "zh" else (dates[1], dates[0])
        return str((later - earlier).days)
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["letters", "decimals", "arithmetic", "dates"])
def test_gold_answers_are_right(kind):
    for item in builtin_set(kind, 11).items:
        lang = item.meta["lang"]
        assert _expected(kind, lang, _strip_format(item.question, lang)) == item.answer, item


def test_word_problem_answers_are_right_for_a_sample_of_templates():
    for item in builtin_set("word-problems", 2).items:
        q = _strip_format(item.question, item.meta["lang"])
        nums = [float(n) for n in re.findall(r"\d+(?:\.\d+)?", q)]
        if "apples" in q or "苹果" in q:
            assert float(item.answer) == nums[0] - nums[1] + nums[2]
        elif "ball" in q or "球拍" in q:
            assert float(item.answer) == pytest.approx((nums[0] - nums[1]) / 2)
        elif "km/h" in q or "火车" in q:
            assert float(item.answer) == nums[0] * nums[1]
        elif "share" in q or "平分" in q:
            assert float(item.answer) == nums[1] / nums[0]
        elif "years old" in q or "岁" in q:
            assert float(item.answer) == nums[0] * nums[1] + nums[2]
        else:
            assert float(item.answer) == nums[0] * nums[1] - nums[2]


def test_chinese_weekdays_accept_their_other_names():
    item = next(
        it for it in builtin_set("dates").items if it.meta["lang"] == "zh" and "星期" in it.answer
    )
    day = item.answer[-1]
    assert f"周{day}" in item.accept and f"礼拜{day}" in item.accept


# --- set files -----------------------------------------------------------------------------


def _write(tmp_path: Path, text: str | bytes, name: str = "set.jsonl") -> Path:
    p = tmp_path / name
    p.write_bytes(text if isinstance(text, bytes) else text.encode())
    return p


def test_a_jsonl_file_with_gsm8k_answers_and_extra_fields(tmp_path):
    p = _write(
        tmp_path,
        '{"question": "2+2?", "answer": 4, "source": "mine"}\n'
        "\n"
        '{"question": "Half of 10?", "answer": "Half is 10/2 = <<10/2=5>>5.\\n#### 5"}\n'
        '{"question": "Day?", "answer": "星期六", "accept": ["周六"]}\n',
    )
    s = load_set_file(p)
    assert [(i.question, i.answer) for i in s.items] == [
        ("2+2?", "4"),
        ("Half of 10?", "5"),
        ("Day?", "星期六"),
    ]
    assert s.items[0].meta == {"source": "mine"}
    assert s.items[1].meta["solution"].startswith("Half is 10/2")
    assert s.items[2].golds == ("星期六", "周六")
    assert s.source == str(p) and load_set(str(p)).items == s.items


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"question": "a", "answer": 1}\n{"question": "b"}\n', 'line 2: missing "answer"'),
        ('{"question": "a", "answer": 1}\n\n{nope\n', "line 3: not valid JSON"),
        ('["question", "answer"]\n', "line 1: expected a JSON object, got list"),
        ('{"answer": 1}\n', 'line 1: missing "question"'),
        ('{"question": "  ", "answer": 1}\n', 'line 1: "question": the question is empty'),
        ('{"question": "a", "answer": null}\n', 'line 1: "answer" must be text or a number'),
        ('{"question": "a", "answer": "work\\n####  "}\n', 'line 1: nothing after "####"'),
        ('{"question": "a", "answer": 1, "accept": {}}\n', 'line 1: "accept" must be a list'),
        (
            b'{"question": "a", "answer": 1}\n{"question": "\xff", "answer": 1}\n',
            "line 2: not UTF-8",
        ),
        ("\n\n", "no items"),
    ],
)
def test_a_malformed_file_is_refused_naming_the_line(tmp_path, content, message):
    p = _write(tmp_path, content)
    with pytest.raises(SetFileError) as err:
        load_set_file(p)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_an_unknown_set_name_is_refused():
    with pytest.raises(SetFileError, match="neither a built-in set"):
        load_set("no-such-set-or-file")
