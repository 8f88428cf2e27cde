"""What reasoning changed: per-pair counts with the exact McNemar p-value, and breakdowns by
MATH-500's level and subject — computed, in ``--json``, in ``--show``."""

from __future__ import annotations

import json
import re
from math import comb
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tui.cli.entry import main
from tui.evals.scoring import breakdowns, format_p, mcnemar_p, pair_result, pairs
from tui.evals.store import ItemResult

#: Which questions each strategy gets right: g1 fixes 3, 4, 5 and breaks 7.
RIGHT = {"plain": {0, 1, 2, 7}, "g1": {0, 1, 2, 3, 4, 5}}
SUBJECTS = ("Algebra", "Geometry")


def _item(idx: int, strategy: str, correct: bool) -> ItemResult:
    return ItemResult(
        idx=idx, strategy=strategy, status="done", predicted="x", correct=correct, wall_s=1.0
    )


def test_exact_mcnemar_matches_the_binomial_by_hand():
    # 12 fixed, 3 broken: 2 * P(X <= 3), X ~ Binomial(15, 1/2).
    assert mcnemar_p(12, 3) == pytest.approx(2 * sum(comb(15, i) for i in range(4)) / 2**15)
    assert mcnemar_p(12, 3) == pytest.approx(0.03515625)
    assert mcnemar_p(3, 12) == mcnemar_p(12, 3)
    assert mcnemar_p(0, 6) == pytest.approx(0.03125)
    assert mcnemar_p(0, 0) == 1.0 and mcnemar_p(5, 5) == 1.0  # capped at 1
    # Large counts stay exact (no float overflow in 2**n).
    assert 0 < mcnemar_p(700, 600) < 0.01


def test_a_pair_counts_only_questions_both_strategies_answered():
    items = [
        _item(0, "plain", True), _item(0, "g1", True),
        _item(1, "plain", False), _item(1, "g1", True),
        _item(2, "plain", True), _item(2, "g1", False),
        _item(3, "plain", False), _item(3, "g1", False),
        _item(4, "plain", False),  # g1 has not answered 4 yet
    ]  # fmt: skip
    pair = pair_result("g1", "plain", items)
    assert (pair.a_only, pair.b_only, pair.both, pair.neither) == (1, 1, 1, 1)
    assert pair.a_only_idx == (1,) and pair.b_only_idx == (2,)
    assert pair.summary() == "g1 vs plain: fixed 1, broke 1, p = 1.00"
    assert pair.to_dict() == {
        "a": "g1", "b": "plain", "a_only": 1, "b_only": 1, "both": 1, "neither": 1, "p_value": 1.0,
    }  # fmt: skip


def test_every_pair_of_three_strategies_later_against_earlier():
    got = [(p.a, p.b) for p in pairs(["plain", "g1", "thinking"], [])]
    assert got == [("g1", "plain"), ("thinking", "plain"), ("thinking", "g1")]


def test_p_values_are_written_as_people_write_them():
    assert format_p(0.0351) == "0.035" and format_p(0.25) == "0.25" and format_p(1e-5) == "< 0.001"


def test_breakdowns_by_level_and_subject_sort_levels_as_numbers():
    metas = [
        {"level": lvl, "subject": s}
        for lvl, s in [(2, "Algebra"), (10, "Algebra"), (2, "Geometry")]
    ]
    items = [_item(0, "plain", True), _item(1, "plain", False), _item(2, "plain", True)]
    found = breakdowns(["plain"], items, metas)
    assert list(found["level"]) == ["2", "10"]
    assert [(r.n, r.correct) for r in found["level"]["2"]] == [(2, 2)]
    assert [(r.n, r.correct) for r in found["subject"]["Algebra"]] == [(2, 1)]
    assert breakdowns(["plain"], items, [{}, {}, {}]) == {}


# --- through the command, against the loopback stand-in server ------------------------------


def _responder(body: dict[str, Any]) -> Reply:
    messages = body.get("messages") or []
    users = [str(m.get("content")) for m in messages if m.get("role") == "user"]
    system = " ".join(str(m.get("content")) for m in messages if m.get("role") == "system")
    is_g1 = "JSON" in system.upper() or bool(body.get("response_format"))
    if is_g1 and len(users) == 1:
        step = {"title": "Adding", "content": "Adding it up.", "next_action": "final_answer"}
        return Reply(content=json.dumps(step))
    i = int(re.search(r"Q(\d+)", users[0]).group(1))
    right = i in RIGHT["g1" if is_g1 else "plain"]
    return Reply(content=f"So the answer is \\boxed{{{100 + i if right else 999}}}.")


@pytest.fixture()
def math500_file(tmp_path: Path) -> Path:
    rows = [
        {
            "problem": f"Q{i}: what is 100 + {i}?",
            "solution": "Add.",
            "answer": str(100 + i),
            "subject": SUBJECTS[i % 2],
            "level": 1 + i % 3,
            "unique_id": f"test/x/{i}.json",
        }
        for i in range(8)
    ]
    p = tmp_path / "math500.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return p


def test_json_and_show_carry_the_pairs_and_breakdowns(data_dir, math500_file, capsys):
    with FakeOpenAIServer(responder=_responder) as server:
        code = main(
            [
                "eval",
                str(math500_file),
                "--endpoint",
                server.url,
                "--strategies",
                "plain,g1",
                "--json",
            ]
        )
    out, err = capsys.readouterr()
    assert code == 0, err
    doc = json.loads(out)
    assert doc["pairs"] == [
        {
            "a": "g1",
            "b": "plain",
            "a_only": 3,
            "b_only": 1,
            "both": 3,
            "neither": 1,
            "p_value": 0.625,
        }
    ]
    level1 = {r["strategy"]: (r["n"], r["correct"]) for r in doc["breakdowns"]["level"]["1"]}
    # Level 1 holds questions 0, 3, 6: plain gets 0 right, g1 gets 0 and 3.
    assert level1 == {"plain": (3, 1), "g1": (3, 2)}
    assert set(doc["breakdowns"]["subject"]) == set(SUBJECTS)

    assert main(["eval", "--show", doc["run_id"]]) == 0
    text = capsys.readouterr().out
    assert "g1 vs plain: fixed 3, broke 1, p = 0.62 (both 3, neither 1)" in text
    assert "by level" in text and "by subject" in text
    assert main(["eval", "--show", doc["run_id"], "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["pairs"] == doc["pairs"]


# --- the Evaluations screen ----------------------------------------------------------------


async def test_the_screen_lists_pairs_and_opens_a_flip_side_by_side(tmp_path, history) -> None:
    from tests.helpers import wait_until
    from tests.test_evaluations_screen import _app, _screen, _stored_run
    from tui.app.screens.evaluations import EvaluationsScreen
    from tui.app.widgets.group_view import GroupView

    _stored_run(history)  # g1 fixes questions 0 and 1 against plain, and breaks 3
    app = _app(tmp_path, history)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f7")
        await wait_until(pilot, lambda: isinstance(app.screen, EvaluationsScreen))
        screen = _screen(app)
        await wait_until(pilot, lambda: len(screen.flips) == 3)
        text = str(screen.query_one("#evals-pairs").render())
        assert "g1 vs plain: fixed 2, broke 1, p = 1.00" in text
        assert [
            (idx, "fixed" if idx in p.a_only_idx else "broke") for p, idx, _ in screen.flips
        ] == [
            (0, "fixed"),
            (1, "fixed"),
            (3, "broke"),
        ]
        table = screen.query_one("#evals-flips")
        table.focus()
        await pilot.press("down", "down", "enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, EvaluationsScreen))
        await wait_until(pilot, lambda: bool(app.query(GroupView)))
        view = app.query_one(GroupView)
        assert [c.id for c in view.result.chains] == ["ch-g1-3", "ch-plain-3"]


def test_the_start_line_refuses_a_public_set_not_downloaded_yet(tmp_path, monkeypatch):
    from tui.app.screens.evaluations import parse_start_line

    monkeypatch.setenv("O1TUI_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MODELSCOPE_ENDPOINT", "http://127.0.0.1:9")  # nothing may be asked
    with pytest.raises(
        ValueError, match="math500 is not downloaded yet: run o1tui download math500"
    ):
        parse_start_line("math500 plain 5")
