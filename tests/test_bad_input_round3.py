"""Bad input, round three: absurd set files, endless sets, closed standard streams, secrets in
malformed URLs, raw control characters in ``eval --json``, an unwritable ``--csv``, and a
reply cut at the size limit. Each ends in one line and the right exit status, nothing lost.

The CLI cases run the real ``o1tui`` program, so closed descriptors (``>&-``, ``<&-``) and
``2>/dev/full`` are what a user's shell gives it; the model is the stand-in server.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from backends.redact import redact_url, redact_urls
from backends.supervisor import free_port
from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.servers_helpers import use_fake_lmdeploy
from tests.test_bad_input import one_line
from tui.core.chain import Chain, Status, Step
from tui.evals.lookup import load_set
from tui.evals.reading import MAX_NESTING, ReadCancelled
from tui.evals.store import EvalStore
from tui.store.history import History

REPO = Path(__file__).resolve().parent.parent
O1TUI = str(Path(sys.executable).parent / "o1tui")
#: An endpoint nothing answers on: a command that reaches for it has not refused up front.
DEAD = "http://127.0.0.1:9/v1"


def o1tui(*args: str, shell: str = "", **kwargs) -> subprocess.CompletedProcess:
    """The real ``o1tui ARGS``, output captured; ``shell``: redirections (``>&-``) applied by
    a shell, which override the capture."""
    argv = [O1TUI, *args]
    if shell:
        argv = ["sh", "-c", f'exec "$0" "$@" {shell}', *argv]
    return subprocess.run(
        argv,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd=REPO,
        timeout=60,
        **kwargs,
    )


@pytest.fixture()
def chain_id(data_dir: Path) -> str:
    chain = Chain(question="What is 2+2?", strategy="plain", model="m", status=Status.DONE)
    chain.steps.append(Step(index=1, title="t", content="four"))
    chain.final_answer = "4"
    with History.open(data_dir) as history:
        history.start_chain(chain)
        history.finish_chain(chain)
    return chain.id


# --- set files: absurd values, deep nesting, endless input, huge seeds ------------------------

ABSURD = {
    "infinity": '{"question": "q", "answer": Infinity}',
    "minus-infinity": '{"question": "q", "answer": -Infinity}',
    "overflowing-float": '{"question": "q", "answer": 1e400}',
    "infinite-accept": '{"question": "q", "answer": "1", "accept": [Infinity]}',
    "nan": '{"question": "q", "answer": NaN}',
    "deep-field": '{"question": "q", "answer": "1", "x": ' + "[" * 5000 + "]" * 5000 + "}",
    "endless-digits": '{"question": "q", "answer": ' + "9" * 5000 + "}",
}


@pytest.mark.parametrize("line", list(ABSURD.values()), ids=list(ABSURD))
def test_absurd_values_in_a_set_file_are_refused_before_connecting(data_dir, tmp_path, line):
    set_file = tmp_path / "set.jsonl"
    set_file.write_text('{"question": "fine", "answer": 2}\n' + line + "\n")
    one_line(o1tui("eval", str(set_file), "--endpoint", DEAD), 2, "line 2")


def test_nesting_inside_strings_or_within_the_limit_is_kept(tmp_path):
    set_file = tmp_path / "set.jsonl"
    nested = "[" * (MAX_NESTING - 1) + "]" * (MAX_NESTING - 1)
    rows = [
        {"question": "brackets [[[[" * 20, "answer": "1", "x": "{" * 100},
        {"question": "q", "answer": 2.5, "x": json.loads(nested)},
    ]
    set_file.write_text("\n".join(json.dumps(r) for r in rows))
    items = load_set(str(set_file)).items
    assert [i.answer for i in items] == ["1", "2.5"]


def test_a_seed_too_big_to_store_is_refused_before_connecting(data_dir):
    line = one_line(
        o1tui("eval", "classic", "--seed", "99999999999999999999999", "--endpoint", DEAD),
        2,
        "--seed",
    )
    assert "Traceback" not in line


def _address_space(limit: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return apply


def test_an_endless_set_is_refused_by_what_is_read(data_dir):
    """/dev/zero states size 0: only counting what is read stops it (here within 1.5 GB of
    address space, where reading it whole died of MemoryError)."""
    proc = o1tui("eval", "/dev/zero", "--endpoint", DEAD, preexec_fn=_address_space(1536 * 2**20))
    one_line(proc, 2, "/dev/zero", "too big")


def test_reading_a_fifo_without_a_writer_can_be_cancelled(tmp_path):
    fifo = tmp_path / "set.fifo"
    os.mkfifo(fifo)
    asked = threading.Event()

    def cancelled() -> bool:
        if asked.is_set():
            return True
        asked.set()
        return False

    with pytest.raises(ReadCancelled):
        load_set(str(fifo), cancelled=cancelled)


def test_a_fifo_set_is_read_once_its_writer_comes(tmp_path):
    fifo = tmp_path / "set.fifo"
    os.mkfifo(fifo)

    def write() -> None:
        with open(fifo, "w") as f:  # blocks until the reader has opened it
            f.write('{"question": "q", "answer": 7}\n')

    writer = threading.Thread(target=write)
    writer.start()
    try:
        assert [i.answer for i in load_set(str(fifo)).items] == ["7"]
    finally:
        writer.join(10)


# --- closed standard streams -----------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [["models"], ["history", "list"], ["history", "list", "--json"], ["eval", "--list"]],
    ids=lambda c: " ".join(c),
)
def test_a_closed_stdout_is_one_line(data_dir, chain_id, command):
    one_line(o1tui(*command, shell=">&-"), 1, "standard output is closed")


@pytest.mark.parametrize(
    "extra", [[], ["--json"], ["--samples", "2"]], ids=["text", "json", "samples"]
)
def test_ask_into_a_closed_stdout_keeps_the_chain_done(data_dir, extra):
    with FakeOpenAIServer() as srv:
        proc = o1tui(
            "ask", "What is 2+2?", "--endpoint", srv.url, "--model", "fake-model",
            "--strategy", "plain", *extra, shell=">&-",
        )  # fmt: skip
    one_line(proc, 1, "standard output is closed")
    with History.open(data_dir) as history:
        chains = [history.get(summary.id) for summary in history.list()]
    assert len(chains) == (2 if "--samples" in extra else 1)
    assert all(c is not None and c.status == Status.DONE for c in chains), chains


def test_ask_dash_with_stdin_closed_is_one_line(data_dir):
    one_line(o1tui("ask", "-", "--endpoint", DEAD, shell="<&-"), 2, "standard input is closed")


def test_serve_into_a_closed_stdout_is_one_line_and_stops_its_server(
    data_dir, model_dir, monkeypatch
):
    use_fake_lmdeploy(monkeypatch)
    port = free_port()
    proc = o1tui(
        "serve", "--engine", "lmdeploy", "--model", str(model_dir), "--port", str(port),
        shell=">&-",
    )  # fmt: skip
    assert "Traceback" not in proc.stderr and proc.returncode == 1, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]  # after the server's own start-up lines
    assert last == "o1tui: error: cannot write the output: standard output is closed"
    import socket

    with socket.socket() as s:  # nothing left listening: the server was stopped
        assert s.connect_ex(("127.0.0.1", port)) != 0


def _sums_set(tmp_path: Path, n: int = 3, name: str = "sums.jsonl") -> Path:
    set_file = tmp_path / name
    set_file.write_text(
        "\n".join(json.dumps({"question": f"What is {i} + 1?", "answer": i + 1}) for i in range(n))
    )
    return set_file


def test_eval_with_stderr_on_a_full_disk_still_runs(data_dir, tmp_path):
    set_file = _sums_set(tmp_path)
    with FakeOpenAIServer(responder=lambda body: Reply(content="Answer: 1")) as srv:
        proc = o1tui(
            "eval", str(set_file), "--strategies", "plain", "--endpoint", srv.url,
            "--model", "fake-model", "--json", shell="2>/dev/full",
        )  # fmt: skip
        asked = len(srv.requests)
    assert proc.returncode == 0, proc.stdout
    assert json.loads(proc.stdout)["status"] == "done"
    assert asked == 3
    with History.open(data_dir) as history:
        (run,) = EvalStore(history).list_runs()
    assert run.status == "done" and run.n_answered == 3


# --- small items ---------------------------------------------------------------------------

SECRET_URLS = [
    "http://[alice:S3CRET@127.0.0.1/v1",
    "http://[::1/v1?subscription-key=S3CRET",
    "http://127.0.0.1:9/v1?subscription-key=S3CRET&model=x",
    "http://127.0.0.1:9/v1?X-Auth-Token=S3CRET",
]


@pytest.mark.parametrize("url", SECRET_URLS)
def test_credentials_in_any_url_are_redacted(url):
    assert "S3CRET" not in redact_url(url)
    assert "S3CRET" not in redact_urls(f"cannot reach {url}: refused")


def test_redaction_keeps_what_is_not_secret():
    assert redact_url("http://[alice:S3CRET@127.0.0.1/v1") == "http://[***@127.0.0.1/v1"
    assert redact_url("http://h/v1?model=x&subscription-key=S") == (
        "http://h/v1?model=x&subscription-key=***"
    )


@pytest.mark.parametrize("url", SECRET_URLS[:2])
def test_a_malformed_endpoint_never_prints_its_password(data_dir, url):
    line = one_line(o1tui("ask", "q", "--endpoint", url), 2)
    assert "S3CRET" not in line


def test_eval_json_escapes_control_and_bidi_characters(data_dir, tmp_path):
    name = "sums\u202etxt.\x9b2Jjsonl"
    set_file = _sums_set(tmp_path, 2, name)
    model = "fake\u2066model\x85"
    with FakeOpenAIServer(models=None, responder=lambda body: Reply(content="Answer: 1")) as srv:
        proc = o1tui(
            "eval", str(set_file), "--strategies", "plain", "--endpoint", srv.url,
            "--model", model, "--json",
        )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    for char in "\u202e\x9b\u2066\x85":
        assert char not in proc.stdout
    doc = json.loads(proc.stdout)
    assert doc["set"] == name and doc["model"] == model  # the same data, written safely


def test_an_unwritable_csv_is_refused_before_the_run(data_dir, tmp_path):
    set_file = _sums_set(tmp_path)
    with FakeOpenAIServer() as srv:
        proc = o1tui(
            "eval", str(set_file), "--strategies", "plain", "--endpoint", srv.url,
            "--model", "fake-model", "--csv", str(tmp_path / "no" / "such" / "r.csv"),
        )  # fmt: skip
        asked = len(srv.requests)
    one_line(proc, 2, "no such folder")
    assert asked == 0
    with History.open(data_dir) as history:
        assert EvalStore(history).list_runs() == []


def test_a_writable_csv_is_not_left_behind_by_the_check(data_dir, tmp_path):
    target = tmp_path / "r.csv"
    proc = o1tui("eval", "no-such-set", "--csv", str(target), "--endpoint", DEAD)
    one_line(proc, 2, "no-such-set")
    assert not target.exists()


@pytest.mark.parametrize("json_out", [False, True], ids=["text", "json"])
def test_a_reply_cut_at_the_size_limit_says_so(data_dir, json_out):
    reply = Reply(content="y" * 500_000, chunk_chars=50_000)
    with FakeOpenAIServer([reply]) as srv:
        proc = o1tui(
            "ask", "q", "--endpoint", srv.url, "--model", "fake-model", "--strategy", "plain",
            *(["--json"] if json_out else []),
        )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    if json_out:
        doc = json.loads(proc.stdout)
        assert doc["status"] == "done" and "cut" in (doc["note"] or "")
    else:
        assert "Note: The reply of step 1 was cut" in proc.stdout
    with History.open(data_dir) as history:
        (summary,) = history.list()
        chain = history.get(summary.id)
    assert chain is not None and chain.note is not None and "cut" in chain.note
