"""The judge inside ``o1tui eval``: single chains, self-consistency groups and ``--show``
re-scoring all give the judge's verdict, with symbolic answers from the loopback stand-in."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tui.cli.entry import main

#: (gold, a right reply in another spelling, a wrong reply) per question.
QUESTIONS = [
    (
        "(3, \\frac{\\pi}{2})",
        "So $\\boxed{\\left( 3, \\dfrac{\\pi}{2} \\right)}$.",
        "\\boxed{(3, \\pi)}",
    ),
    ("11111100", "It is $\\boxed{11,\\! 111,\\! 100}$.", "\\boxed{11,\\! 111,\\! 101}"),
    (
        "\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}",
        "\\boxed{\\begin{bmatrix}1&2\\\\3&4\\end{bmatrix}}",
        "\\boxed{\\begin{pmatrix}1&2\\\\4&3\\end{pmatrix}}",
    ),
    ("[-2, 7)", "\\boxed{-2 \\le x < 7}", "\\boxed{(-2, 7]}"),
    ("18", "所以小明一共有18个苹果。", "The answer is 18 or 19."),
]


def _responder(pattern: tuple[bool, ...]) -> Any:
    """Replies to question i: right or wrong in turn by ``pattern`` (per question)."""
    import threading

    lock = threading.Lock()
    asked: dict[int, int] = {}

    def respond(body: dict[str, Any]) -> Reply:
        user = [m["content"] for m in body["messages"] if m.get("role") == "user"][0]
        i = int(re.search(r"Q(\d+)", user).group(1))
        with lock:
            k = asked.get(i, 0)
            asked[i] = k + 1
        _gold, right, wrong = QUESTIONS[i]
        return Reply(content=right if pattern[k % len(pattern)] else wrong)

    return respond


@pytest.fixture()
def set_file(tmp_path: Path) -> Path:
    path = tmp_path / "symbolic.jsonl"
    rows = [{"question": f"Q{i}: ?", "answer": gold} for i, (gold, _r, _w) in enumerate(QUESTIONS)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _eval(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = main(["eval", *args])
    out, err = capsys.readouterr()
    assert code == 0, err
    return code, json.loads(out)


@pytest.mark.parametrize(
    ("strategy", "pattern", "correct"),
    [
        ("plain", (True,), 5),
        ("plain", (False,), 0),
        # The vote's winner (two right of three) is judged from its first voter's reply: the
        # answer shown for the group has lost the LaTeX the judge needs.
        ("plain@3", (True, False, True), 5),
        ("plain@3", (False, True, False), 0),
    ],
)
def test_eval_and_show_give_the_judges_verdict(
    data_dir: Path,
    set_file: Path,
    capsys: pytest.CaptureFixture[str],
    strategy: str,
    pattern: tuple[bool, ...],
    correct: int,
) -> None:
    with FakeOpenAIServer(responder=_responder(pattern)) as srv:
        _code, result = _eval(
            capsys, str(set_file), "--endpoint", srv.url, "--strategies", strategy, "--json"
        )
    (row,) = result["results"]
    assert (row["n"], row["correct"]) == (len(QUESTIONS), correct)
    _code, shown = _eval(capsys, "--show", result["run_id"], "--json")
    assert shown["results"][0]["correct"] == correct
