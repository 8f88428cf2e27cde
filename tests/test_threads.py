"""Follow-ups (threads): ``ask -c``/``--cid`` against the stand-in server, checked at the
protocol level (what the requests carried), the thread in the history, its exports, the
context budget, and bad parents."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.fakes.openai_server import FakeOpenAIServer, count_turns_responder
from tui.cli.entry import main
from tui.core.chain import Chain, Status, dropped_note
from tui.core.threads import (
    DEFAULT_CONTEXT_TOKENS,
    Turn,
    check_parent,
    context_tokens,
    estimate_tokens,
    fit_turns,
)
from tui.store.history import History
from tui.store.thread_store import thread_of


def ask(server: FakeOpenAIServer, *args: str) -> list[str]:
    return ["ask", *args, "--endpoint", server.url, "--model", "fake-model"]


def _json_ask(capsys: pytest.CaptureFixture[str], srv: FakeOpenAIServer, *args: str) -> dict:
    assert main(ask(srv, *args, "--json")) == 0
    return json.loads(capsys.readouterr().out)


def _users(request: dict) -> list[str]:
    return [m["content"] for m in request["messages"] if m["role"] == "user"]


def test_follow_ups_send_earlier_questions_and_final_answers_only(data_dir, capsys) -> None:
    with FakeOpenAIServer(responder=count_turns_responder) as srv:
        first = _json_ask(capsys, srv, "How many r in strawberry?", "--strategy", "plain")
        n_first = len(srv.requests)
        second = _json_ask(capsys, srv, "And in raspberry?", "-c", "--strategy", "g1")
        n_second = len(srv.requests)
        third = _json_ask(capsys, srv, "Check with another method", "--cid", second["id"][:6])
    # The server saw 1, then 2, then 3 user turns (its answers say so).
    assert first["final_answer"].endswith("[user turns: 1]")
    assert second["final_answer"].endswith("[user turns: 3]")  # + g1's final-answer request
    assert third["parent_id"] == second["id"] and second["parent_id"] == first["id"]
    assert first["parent_id"] is None
    # The follow-up's requests: g1's system prompt first and unchanged, then the earlier
    # question and its final answer, then the new question.
    for request in srv.requests[n_first:n_second]:
        messages = request["messages"]
        assert messages[0]["role"] == "system" and "JSON" in messages[0]["content"]
        assert messages[1] == {"role": "user", "content": "How many r in strawberry?"}
        assert messages[2] == {"role": "assistant", "content": first["final_answer"]}
        assert messages[3] == {"role": "user", "content": "And in raspberry?"}
    # Turn 3 (g1) carries turns 1 and 2 as question + final answer: never g1's step JSON.
    request = srv.requests[n_second]
    assert _users(request)[:3] == [
        "How many r in strawberry?",
        "And in raspberry?",
        "Check with another method",
    ]
    sent = [m["content"] for m in request["messages"] if m["role"] == "assistant"]
    assert sent[:2] == [first["final_answer"], second["final_answer"]]
    for step in second["steps"]:
        assert all(step["content"] not in text for text in sent)
    assert '"next_action"' not in json.dumps(request["messages"][:5])


def test_follow_up_of_a_reasoning_model_drops_its_thinking(data_dir, capsys) -> None:
    def r1(srv: FakeOpenAIServer, *args: str) -> dict:
        argv = ["ask", *args, "--strategy", "native", "--json", "--endpoint", srv.url]
        assert main([*argv, "--model", "deepseek-r1"]) == 0
        return json.loads(capsys.readouterr().out)

    with FakeOpenAIServer(models=None) as srv:
        first = r1(srv, "What is 6 times 7?")
        r1(srv, "And 6 times 8?", "-c")
    assert "Let me think" in json.dumps(first["steps"])  # the thinking was shown and kept
    follow_up = srv.requests[-1]["messages"]
    assert follow_up[0] == {"role": "user", "content": "What is 6 times 7?"}
    assert follow_up[1]["role"] == "assistant"
    assert follow_up[1]["content"] == first["final_answer"]
    assert "<think>" not in json.dumps(follow_up) and "Let me think" not in json.dumps(follow_up)


def test_history_show_and_export_print_the_whole_thread(data_dir, capsys) -> None:
    with FakeOpenAIServer() as srv:
        ids = []
        for i, question in enumerate(("first question", "second question", "third question")):
            extra = ("-c",) if i else ()
            ids.append(_json_ask(capsys, srv, question, "--strategy", "plain", *extra)["id"])
    # Any turn shows the whole thread, turn by turn, in order.
    assert main(["history", "show", ids[1], "--markdown"]) == 0
    md = capsys.readouterr().out
    positions = [md.index(q) for q in ("first question", "second question", "third question")]
    assert positions == sorted(positions)
    assert md.count("# Turn ") == 3 and "3 turns" in md
    assert main(["history", "export", ids[0], "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [t["id"] for t in doc["turns"]] == ids
    assert [t["parent_id"] for t in doc["turns"]] == [None, ids[0], ids[1]]
    assert main(["history", "show", ids[2]]) == 0  # the terminal view: every turn
    out = capsys.readouterr().out
    assert all(q in out for q in ("first question", "second question", "third question"))
    assert main(["history", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["id"]: r["parent_id"] for r in rows} == {
        ids[0]: None,
        ids[1]: ids[0],
        ids[2]: ids[1],
    }


def test_a_one_turn_chain_shows_as_before(data_dir, capsys) -> None:
    with FakeOpenAIServer() as srv:
        chain = _json_ask(capsys, srv, "only question", "--strategy", "plain")
    assert main(["history", "show", chain["id"], "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["id"] == chain["id"] and "turns" not in doc


def _saved(data_dir: Path, chain_id: str, status: Status, answer: str = "") -> None:
    with History.open(data_dir) as history:
        history.finish_chain(
            Chain("q?", "plain", "fake-model", id=chain_id, status=status, final_answer=answer)
        )


@pytest.mark.parametrize(
    ("status", "said"),
    [(Status.CANCELLED, "was cancelled"), (Status.ERROR, "failed")],
)
def test_a_parent_without_an_answer_is_refused_with_one_line(
    data_dir, capsys, status: Status, said: str
) -> None:
    _saved(data_dir, "abc123456789", status)
    with FakeOpenAIServer() as srv:
        assert main(ask(srv, "next?", "--cid", "abc1")) == 2
        assert srv.requests == []
    err = capsys.readouterr().err.strip()
    assert err.startswith("o1tui: ") and said in err and "\n" not in err


def test_a_cancelled_parent_with_a_final_answer_is_continued(data_dir, capsys) -> None:
    _saved(data_dir, "abc123456789", Status.CANCELLED, answer="it was 3")
    with FakeOpenAIServer() as srv:
        doc = _json_ask(capsys, srv, "next?", "--cid", "abc123456789", "--strategy", "plain")
    assert doc["parent_id"] == "abc123456789"
    assert srv.requests[0]["messages"][1] == {"role": "assistant", "content": "it was 3"}


def test_cid_matching_nothing_or_several_exits_2_with_one_line(data_dir, capsys) -> None:
    _saved(data_dir, "abc111111111", Status.DONE, "a")
    _saved(data_dir, "abc222222222", Status.DONE, "b")
    with FakeOpenAIServer() as srv:
        assert main(ask(srv, "next?", "--cid", "zzz")) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("o1tui: ") and "'zzz'" in err and "\n" not in err
        assert main(ask(srv, "next?", "--cid", "abc")) == 2
        err = capsys.readouterr().err.strip()
        assert "abc111111111" in err and "abc222222222" in err and "\n" not in err
        assert main(ask(srv, "next?", "--cid", "")) == 2
        assert srv.requests == []


def test_continue_with_an_empty_history_exits_2(data_dir, capsys) -> None:
    with FakeOpenAIServer() as srv:
        assert main(ask(srv, "next?", "-c")) == 2
    assert "no earlier chain" in capsys.readouterr().err


def test_oldest_turns_are_dropped_to_fit_the_reported_context(data_dir, capsys) -> None:
    long = "word " * 300  # ~500 estimated tokens a question (the answers are short)
    with FakeOpenAIServer(responder=count_turns_responder, max_model_len=3000) as srv:
        for i in range(4):
            extra = ("-c",) if i else ()
            last = _json_ask(capsys, srv, f"turn {i} {long}", "--strategy", "plain", *extra)
    # Half of 3000 tokens holds the question and one earlier turn of ~560: two dropped.
    users = _users(srv.requests[-1])
    assert [u.split()[1] for u in users] == ["2", "3"]
    assert last["note"] == dropped_note(2)
    assert main(["history", "show", last["id"], "--markdown"]) == 0
    assert "2 oldest earlier turns were left out" in capsys.readouterr().out


def test_fit_turns_keeps_the_newest_turns_first() -> None:
    turns = [Turn(f"q{i} " + "x" * 300, "a" * 300) for i in range(5)]
    cost = estimate_tokens(turns[0].question) + estimate_tokens(turns[0].answer)
    fitted = fit_turns(turns, "now?", context_tokens=int((cost + 20) * 2 * 2 + 8))
    assert fitted.dropped == 3
    assert [m["content"][:2] for m in fitted.messages if m["role"] == "user"] == ["q3", "q4"]
    assert fit_turns(turns, "now?", context_tokens=10).dropped == 5


def test_context_comes_from_the_server_then_the_engine_then_the_default() -> None:
    assert context_tokens(32768, engine="lmdeploy", session_len=4096)[0] == 32768
    assert context_tokens(None, engine="lmdeploy", session_len=16384)[0] == 16384
    assert context_tokens(None, engine="llamacpp")[0] == 8192
    assert context_tokens(None, engine=None) == (DEFAULT_CONTEXT_TOKENS, "o1tui's default")


def test_cjk_text_counts_a_token_a_character() -> None:
    assert estimate_tokens("草莓里有几个r") == 6 + 1
    assert estimate_tokens("abcdef") == 2


def test_running_chain_is_no_parent() -> None:
    with pytest.raises(ValueError, match="still running"):
        check_parent(Chain("q", "g1", "m", id="run1", status=Status.RUNNING))


def test_existing_chains_become_one_turn_threads(tmp_path: Path) -> None:
    """A schema-4 file (no thread columns) migrates; its chains are one-turn threads."""
    from tui.store.migrations import v001_initial, v002_groups, v003_eval, v004_eval_prompts

    path = tmp_path / "history.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for module in (v001_initial, v002_groups, v003_eval, v004_eval_prompts):
        module.upgrade(conn)
    conn.execute("PRAGMA user_version = 4")
    conn.execute(
        "INSERT INTO chains (id, question, strategy, model, status, final_answer, created_at,"
        " updated_at) VALUES ('old1', 'q?', 'g1', 'm', 'done', '7', '2026-01-01T00:00:00+00:00',"
        " '2026-01-01T00:00:00+00:00')"
    )
    conn.close()
    with History(path) as history:
        chain = history.get("old1")
        assert chain is not None and chain.parent_id is None and chain.dropped_turns == 0
        assert [c.id for c in thread_of(history, "old1")] == ["old1"]
        assert history.list()[0].parent_id is None


def test_a_history_of_a_newer_schema_is_refused_before_any_request(data_dir, capsys) -> None:
    from tui.store.migrations import LATEST

    _saved(data_dir, "abc123456789", Status.DONE, "7")
    conn = sqlite3.connect(data_dir / "history.db")
    conn.execute(f"PRAGMA user_version = {LATEST + 1}")
    conn.close()
    with FakeOpenAIServer() as srv:
        code = main(ask(srv, "next?", "--cid", "abc1"))
        assert srv.requests == []
    err = capsys.readouterr().err.strip()
    assert code != 0 and err.startswith("o1tui: ") and "Upgrade o1tui" in err and "\n" not in err


def test_thinking_follow_up_keeps_its_system_prompt_first(data_dir, capsys) -> None:
    from tui.core.strategies.prompts import THINKING_SYSTEM

    with FakeOpenAIServer() as srv:
        first = _json_ask(capsys, srv, "What is 6 times 7?", "--strategy", "plain")
        _json_ask(capsys, srv, "Show the steps", "-c", "--strategy", "thinking")
    assert srv.requests[-1]["messages"] == [
        {"role": "system", "content": THINKING_SYSTEM},
        {"role": "user", "content": "What is 6 times 7?"},
        {"role": "assistant", "content": first["final_answer"]},
        {"role": "user", "content": "Show the steps"},
    ]
