"""The stand-in OpenAI server itself: wire format, scripting, demo answers, CLI.

Other tests trust it to behave like LMDeploy/vLLM/llama.cpp, so its own behaviour is checked
here with a plain stdlib HTTP client (no openai package involved).
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.openai_server import FakeOpenAIServer, Reply, demo_responder

REPO = Path(__file__).resolve().parents[1]


def post(port: int, body: dict[str, Any], key: str | None = None) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    conn.request("POST", "/v1/chat/completions", json.dumps(body), headers)
    return conn.getresponse()


def get(port: int, path: str, key: str | None = None) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path, headers={"Authorization": f"Bearer {key}"} if key else {})
    resp = conn.getresponse()
    return resp.status, json.loads(resp.read())


def events(resp: http.client.HTTPResponse) -> list[str]:
    """The data: payloads of an SSE response, in order."""
    out = []
    for line in resp.read().decode().splitlines():
        if line.startswith("data: "):
            out.append(line[len("data: ") :])
    return out


def chat(question: str, *extra: dict[str, str], system: str | None = None) -> list[dict[str, str]]:
    msgs = [{"role": "system", "content": system}] if system else []
    return msgs + [{"role": "user", "content": question}, *extra]


def test_health_models_and_auth() -> None:
    with FakeOpenAIServer(api_key="k1", models=("a", "b")) as srv:
        assert srv.url == f"http://127.0.0.1:{srv.port}/v1"
        assert get(srv.port, "/health") == (200, {"status": "ok"})
        status, body = get(srv.port, "/v1/models", key="k1")
        assert status == 200 and [m["id"] for m in body["data"]] == ["a", "b"]
        status, body = get(srv.port, "/v1/models", key="wrong")
        assert status == 401 and body["error"]["code"] == "invalid_api_key"
        resp = post(srv.port, {"model": "a", "messages": chat("q")})
        assert resp.status == 401


def test_stream_wire_format() -> None:
    with FakeOpenAIServer([Reply(content="abcdef", chunk_chars=4, reasoning="rr")]) as srv:
        body = {
            "model": "fake-model",
            "stream": True,
            "messages": chat("hello there"),
            "stream_options": {"include_usage": True},
        }
        resp = post(srv.port, body)
        assert resp.status == 200
        assert resp.getheader("Content-Type") == "text/event-stream"
        data = events(resp)
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert [d.get("reasoning_content") for d in deltas if "reasoning_content" in d] == ["rr"]
    assert [d["content"] for d in deltas[1:] if d.get("content")] == ["abcd", "ef"]
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1] == "stop"
    usage = chunks[-1]["usage"]
    assert chunks[-1]["choices"] == []
    assert usage["prompt_tokens"] == len("hello there") // 4
    assert usage["completion_tokens"] == 3  # one per text chunk when not scripted


def test_chunks_arrive_as_they_are_sent() -> None:
    """The first delta is readable while the server still holds back the rest."""
    reply = Reply(content="first-rest", chunk_chars=6, stall_after_chunks=1)
    with FakeOpenAIServer([reply]) as srv:
        resp = post(srv.port, {"model": "fake-model", "stream": True, "messages": chat("q")})
        seen = []
        while len(seen) < 2:
            line = resp.readline().decode()
            if line.startswith("data: "):
                seen.append(json.loads(line[6:])["choices"][0]["delta"])
        assert seen[1] == {"content": "first-"}


def test_non_stream_completion() -> None:
    with FakeOpenAIServer([Reply(content="hi", completion_tokens=9)]) as srv:
        resp = post(srv.port, {"model": "fake-model", "messages": chat("question")})
        body = json.loads(resp.read())
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "hi"}
    assert body["usage"]["completion_tokens"] == 9


def test_rejections_do_not_consume_scripted_replies() -> None:
    with FakeOpenAIServer([Reply(content="kept")], reject_json_schema=True) as srv:
        resp = post(srv.port, {"model": "other", "messages": chat("q")})
        assert resp.status == 404 and "other" in json.loads(resp.read())["error"]["message"]
        fmt = {"type": "json_schema", "json_schema": {"name": "s", "schema": {}}}
        body = {"model": "fake-model", "messages": chat("q"), "response_format": fmt}
        resp = post(srv.port, body)
        assert resp.status == 500
        resp = post(srv.port, {"model": "fake-model", "messages": chat("q")})
        assert json.loads(resp.read())["choices"][0]["message"]["content"] == "kept"
        assert len(srv.requests) == 3


def test_models_none_accepts_any_name() -> None:
    with FakeOpenAIServer([Reply(content="ok")], models=None) as srv:
        resp = post(srv.port, {"model": "anything-at-all", "messages": chat("q")})
        assert resp.status == 200


def test_error_reply_and_html_body() -> None:
    replies = [Reply(status=429, error_message="slow down"), Reply(not_json_body=True)]
    with FakeOpenAIServer(replies) as srv:
        resp = post(srv.port, {"model": "fake-model", "messages": chat("q")})
        assert resp.status == 429 and json.loads(resp.read())["error"]["message"] == "slow down"
        resp = post(srv.port, {"model": "fake-model", "messages": chat("q")})
        assert resp.status == 200 and resp.read().startswith(b"<html>")


def test_drop_leaves_the_body_incomplete() -> None:
    with FakeOpenAIServer([Reply(content="abcdefgh", drop_after_chunks=1)]) as srv:
        resp = post(srv.port, {"model": "fake-model", "stream": True, "messages": chat("q")})
        with pytest.raises(http.client.IncompleteRead):
            resp.read()


def test_malformed_line_is_sent() -> None:
    with FakeOpenAIServer([Reply(content="ok", malformed=True)]) as srv:
        resp = post(srv.port, {"model": "fake-model", "stream": True, "messages": chat("q")})
        data = events(resp)
    bad = [d for d in data if d != "[DONE]" and not _is_json(d)]
    assert len(bad) == 1


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def test_stop_ends_a_hanging_request() -> None:
    srv = FakeOpenAIServer([Reply(content="never", first_delay_s=600)]).start()
    outcome: list[str] = []

    def call() -> None:
        try:
            post(srv.port, {"model": "fake-model", "messages": chat("q")}).read()
            outcome.append("answered")
        except TimeoutError:  # the stop did not reach the hanging request
            outcome.append("still hanging")
        except (OSError, http.client.HTTPException):
            outcome.append("disconnected")

    thread = threading.Thread(target=call)
    thread.start()
    while not srv.requests:
        threading.Event().wait(0.01)
    srv.stop()
    thread.join(timeout=10)
    assert outcome == ["disconnected"]


def test_reply_from_dict_rejects_unknown_fields() -> None:
    assert Reply.from_dict({"content": "x", "delay_s": 0.1}) == Reply(content="x", delay_s=0.1)
    with pytest.raises(ValueError, match="contnet"):
        Reply.from_dict({"contnet": "x"})


# -- demo_responder ---------------------------------------------------------------------

G1_SYSTEM = "You are an expert AI assistant ... Respond in JSON format with 'title' ..."
PRIMER = {"role": "assistant", "content": "I will now think step by step."}


def test_demo_g1_steps_then_final_answer() -> None:
    messages = chat("Is 17 prime?", PRIMER, system=G1_SYSTEM)
    actions = []
    for _ in range(6):
        step = json.loads(demo_responder({"model": "m", "messages": messages}).content)
        assert set(step) == {"title", "content", "next_action"}
        assert "Is 17 prime?" in step["content"]
        actions.append(step["next_action"])
        if step["next_action"] == "final_answer":
            break
        messages.append({"role": "assistant", "content": json.dumps(step)})
    assert actions == ["continue", "continue", "continue", "final_answer"]

    ask = "Please provide the final answer based on your reasoning above."
    final = messages + [{"role": "user", "content": ask}]
    text = demo_responder({"model": "m", "messages": final}).content
    assert "Is 17 prime?" in text and not text.lstrip().startswith("{")
    fmt = {"type": "json_object"}
    reply = demo_responder({"model": "m", "messages": final, "response_format": fmt})
    as_json = json.loads(reply.content)
    assert as_json["next_action"] == "final_answer" and "Is 17 prime?" in as_json["content"]


def test_demo_g1_is_chosen_by_response_format_alone() -> None:
    fmt = {"type": "json_object"}
    reply = demo_responder({"model": "m", "messages": chat("q?"), "response_format": fmt})
    assert json.loads(reply.content)["next_action"] == "continue"


def test_demo_thinking_prompt() -> None:
    system = "You are an expert mathematician with extensive experience in competitions."
    body = {"model": "internlm3", "messages": chat("What is 6*7?", system=system)}
    text = demo_responder(body).content
    for heading in ("## Understanding", "## Reasoning", "## Verification"):
        assert heading in text
    assert "\\boxed{42}" in text and "What is 6*7?" in text


@pytest.mark.parametrize("model", ["DeepSeek-R1-Distill-Qwen-7B", "qwen3-8b"])
def test_demo_reasoning_models_think(model: str) -> None:
    text = demo_responder({"model": model, "messages": chat("Why is the sky blue?")}).content
    assert text.startswith("<think>") and "</think>" in text
    assert "Why is the sky blue?" in text.split("</think>")[1]


def test_demo_plain() -> None:
    text = demo_responder({"model": "llama-3.1-8b", "messages": chat("Capital of France?")}).content
    assert "Capital of France?" in text and "<think>" not in text and "{" not in text


# -- the CLI ---------------------------------------------------------------------------


def test_cli_serves_script_then_demo_and_stops_on_sigterm(tmp_path: Path) -> None:
    script = tmp_path / "replies.json"
    script.write_text(json.dumps([{"content": "scripted one"}]))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fakes.openai_server",
            "--port",
            "0",
            "--script",
            str(script),
            "--api-key",
            "kk",
            "--model",
            "served-model",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("serving on http://127.0.0.1:"), line + proc.stderr.read()
        port = int(line.rsplit(":", 1)[1].split("/")[0])
        status, body = get(port, "/v1/models", key="kk")
        assert status == 200 and body["data"][0]["id"] == "served-model"
        body = {"model": "served-model", "messages": chat("Capital of Peru?")}
        first = json.loads(post(port, body, key="kk").read())
        second = json.loads(post(port, body, key="kk").read())
        assert first["choices"][0]["message"]["content"] == "scripted one"
        assert "Capital of Peru?" in second["choices"][0]["message"]["content"]
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=10)
        proc.stdout.close()
        proc.stderr.close()
    assert rc == 0


def test_cli_bad_script_is_one_line_error(tmp_path: Path) -> None:
    script = tmp_path / "bad.json"
    script.write_text(json.dumps([{"nope": 1}]))
    proc = subprocess.run(
        [sys.executable, "-m", "tests.fakes.openai_server", "--script", str(script)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("error:") and "nope" in proc.stderr
