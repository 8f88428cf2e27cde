"""Prompts as the model cards use them on math sets, and every prompt and request parameter
stored with the run (schema 4) so two runs can be compared or refused as incomparable."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from pathlib import Path

from tests.fakes.openai_server import FakeOpenAIServer
from tui.cli.entry import main
from tui.core.strategies.prompts import THINKING_SYSTEM
from tui.evals.specs import incomparable, run_prompts
from tui.evals.store import EvalStore
from tui.store.history import History
from tui.store.migrations import migrate, v001_initial, v002_groups, v003_eval

COT = "Please reason step by step, and put your final answer within \\boxed{}."


def _users(body: dict) -> list[str]:
    return [m["content"] for m in body["messages"] if m["role"] == "user"]


def _systems(body: dict) -> list[str]:
    return [m["content"] for m in body["messages"] if m["role"] == "system"]


def _run(tmp_path: Path, rows: list[dict], strategies: str) -> tuple[list[dict], str]:
    p = tmp_path / "set.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with FakeOpenAIServer() as server:
        code = main(
            ["eval", str(p), "--endpoint", server.url, "--strategies", strategies, "--json"]
        )
        assert code == 0
        return list(server.requests), p.name


def test_plain_on_a_math_set_asks_with_the_cards_chain_of_thought_line(data_dir, tmp_path, capsys):
    problem = "What is $1 + 1$?"
    row = {"problem": problem, "answer": "2", "subject": "Algebra", "level": 1, "unique_id": "a"}
    requests, _ = _run(tmp_path, [row], "plain,thinking")
    run_id = json.loads(capsys.readouterr().out)["run_id"]
    plain = [b for b in requests if not _systems(b)]
    thinking = [b for b in requests if _systems(b)]
    assert _users(plain[0]) == [f"{problem}\n{COT}"]
    # thinking mode as in InternLM3's card: its system prompt, the question alone.
    assert _systems(thinking[0]) == [THINKING_SYSTEM] and _users(thinking[0]) == [problem]

    with History.open(data_dir) as history:
        run = EvalStore(history).get_run(run_id)
        chain = history.get(EvalStore(history).items(run_id, "plain")[0].chain_id)
    assert chain.question == f"{problem}\n{COT}"  # the history keeps what was asked
    assert run.prompts["plain"]["math_cot"] is True
    assert run.prompts["thinking"]["math_cot"] is False
    assert run.request["plain"]["en"] == {"temperature": 0.0, "max_tokens": 2048}
    assert run.request["thinking"]["en"] == {"temperature": 0.0, "max_tokens": 8192}
    assert run.request["plain"]["model"] == "fake-model"


def test_plain_on_an_ordinary_set_asks_the_question_alone(data_dir, tmp_path, capsys):
    requests, _ = _run(tmp_path, [{"question": "How many r in strawberry?", "answer": 3}], "plain")
    assert _users(requests[0]) == ["How many r in strawberry?"]
    run_id = json.loads(capsys.readouterr().out)["run_id"]
    with History.open(data_dir) as history:
        assert EvalStore(history).get_run(run_id).prompts["plain"]["math_cot"] is False


def test_runs_with_other_prompts_or_parameters_are_incomparable(data_dir, tmp_path, capsys):
    row = {"id": 1, "problem": "P", "answer": "5"}
    _run(tmp_path, [row], "plain,g1")
    first = json.loads(capsys.readouterr().out)["run_id"]
    _run(tmp_path, [row], "plain,g1")
    second = json.loads(capsys.readouterr().out)["run_id"]
    with History.open(data_dir) as history:
        store = EvalStore(history)
        a, b = store.get_run(first), store.get_run(second)
    assert incomparable(a, b) == []
    hotter = replace(
        b, request={**b.request, "g1": {**b.request["g1"], "extra_body": {"top_k": 40}}}
    )
    assert incomparable(a, hotter) == ["g1: different request parameters"]
    bare = replace(b, prompts={**b.prompts, "plain": run_prompts(["plain"], math=False)["plain"]})
    assert incomparable(a, bare) == ["plain: different prompts"]
    assert incomparable(a, replace(b, model="other")) == ["different models (fake-model vs other)"]


def test_a_version_3_database_gains_the_columns_and_keeps_its_runs(tmp_path):
    db = tmp_path / "h.sqlite3"
    conn = sqlite3.connect(db, isolation_level=None)
    for module in (v001_initial, v002_groups, v003_eval):
        module.upgrade(conn)
    conn.execute("PRAGMA user_version = 3")
    conn.execute(
        "INSERT INTO eval_runs (id, set_name, model, strategies, n_questions, status,"
        " created_at, updated_at) VALUES ('old', 's', 'm', '[\"plain\"]', 1, 'done', 't', 't')"
    )
    assert migrate(conn) == 3
    conn.close()
    with History(db) as history:
        run = EvalStore(history).get_run("old")
    assert (run.prompts, run.request, run.strategies) == ({}, {}, ("plain",))


def test_compare_gives_pairs_across_two_runs_or_says_why_not(data_dir, tmp_path, capsys):
    row = {"id": 1, "problem": "P", "answer": "5"}
    _run(tmp_path, [row, dict(row, id=2)], "plain")
    first = json.loads(capsys.readouterr().out)["run_id"]
    _run(tmp_path, [row, dict(row, id=2)], "plain,g1")
    second = json.loads(capsys.readouterr().out)["run_id"]
    assert main(["eval", "--compare", first, second, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["runs"] == [first, second]
    assert [(p["a"], p["b"]) for p in doc["pairs"]] == [
        (f"{second[:8]}:plain", f"{first[:8]}:plain"),
        (f"{second[:8]}:g1", f"{first[:8]}:plain"),
    ]
    same = doc["pairs"][0]  # one model, one prompt, greedy: the same answers
    assert (same["a_only"], same["b_only"], same["both"] + same["neither"]) == (0, 0, 2)

    other = tmp_path / "other"
    other.mkdir()
    _run(other, [row], "plain")
    third = json.loads(capsys.readouterr().out)["run_id"]
    assert main(["eval", "--compare", first, third]) == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert f"runs {first} and {third} cannot be compared: different sets" in line


def test_another_model_is_what_a_comparison_of_models_compares(data_dir, tmp_path, capsys):
    row = {"id": 1, "problem": "P", "answer": "5"}
    _run(tmp_path, [row], "plain")
    run_id = json.loads(capsys.readouterr().out)["run_id"]
    with History.open(data_dir) as history:
        a = EvalStore(history).get_run(run_id)
    request = {k: {**v, "model": "other"} for k, v in a.request.items()}
    b = replace(a, model="other", request=request)
    assert incomparable(a, b, same_model=False) == []
    assert incomparable(a, b) == [
        "different models (fake-model vs other)",
        "plain: different request parameters",
    ]
