"""Every bad input or failing output of the CLI ends in one line and the right exit status.

Real processes (``python -m tui.cli``) so that ``> /dev/full``, environment variables and
exit statuses are what a user gets; the model is the stand-in OpenAI server on loopback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fakes.openai_server import FakeOpenAIServer
from tests.helpers import needs_llamacpp
from tui.core.chain import Chain, Status, Step
from tui.store.history import History

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def server():
    with FakeOpenAIServer() as srv:
        yield srv


@pytest.fixture()
def chain_id(data_dir: Path) -> str:
    chain = Chain(question="What is 2+2?", strategy="plain", model="m", status=Status.DONE)
    chain.steps.append(Step(index=1, title="t", content="four"))
    chain.final_answer = "4"
    with History.open(data_dir) as history:
        history.start_chain(chain)
        history.finish_chain(chain)
    return chain.id


def run(*args: str, stdout: str | None = None, env: dict[str, str] | None = None):
    """``o1tui ARGS`` with stdout to the file ``stdout`` (e.g. /dev/full) or captured."""
    out = open(stdout, "w") if stdout else subprocess.PIPE  # noqa: SIM115
    try:
        return subprocess.run(
            [sys.executable, "-m", "tui.cli", *args],
            stdout=out,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
            cwd=REPO,
            timeout=60,
        )
    finally:
        if stdout:
            out.close()  # type: ignore[union-attr]


def one_line(proc, code: int, *needles: str) -> str:
    err = proc.stderr
    assert "Traceback" not in err and "Exception ignored" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("o1tui"), err
    assert proc.returncode == code, (proc.returncode, err)
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize(
    ("target", "code", "words"),
    [
        ("DIR", 2, "is a folder"),
        ("/no/such/dir/x.md", 2, "no such folder"),
        ("/dev/full", 1, "disk full"),
    ],
)
def test_export_to_a_bad_file(data_dir, chain_id, tmp_path, target, code, words):
    target = str(tmp_path) if target == "DIR" else target
    one_line(run("history", "export", chain_id, "-o", target), code, words)


@pytest.mark.parametrize(
    "action",
    [["list"], ["list", "--json"], ["show", "ID"], ["show", "ID", "--json"], ["export", "ID"]],
)
def test_history_output_to_a_full_disk(data_dir, chain_id, action):
    args = [chain_id if a == "ID" else a for a in action]
    one_line(run("history", *args, stdout="/dev/full"), 1, "disk full")


@pytest.mark.parametrize("extra", [[], ["--json"]])
def test_ask_into_a_full_disk_keeps_the_chain_done(data_dir, server, extra):
    proc = run(
        "ask",
        "What is 2+2?",
        "--endpoint",
        server.url,
        "--model",
        "fake-model",
        "--strategy",
        "plain",
        *extra,
        stdout="/dev/full",
    )
    one_line(proc, 1, "disk full")
    with History.open(data_dir) as history:
        (summary,) = history.list()
        chain = history.get(summary.id)
    assert chain is not None and chain.status == Status.DONE, chain  # the printout failed


@pytest.mark.parametrize(
    "variable",
    [
        "O1TUI_DATA_DIR",
        # Checked by `serve --engine llamacpp`, which needs the engine installed to get that far.
        pytest.param("O1TUI_LOG_DIR", marks=[pytest.mark.llamacpp, needs_llamacpp]),
    ],
)
@pytest.mark.parametrize("where", ["FILE", "FILE/below", "/proc/o1tui-test"])
def test_data_or_log_dir_that_cannot_be_a_folder(data_dir, tmp_path, variable, where):
    (tmp_path / "FILE").write_text("x")
    path = where if where.startswith("/") else str(tmp_path / where)
    from backends.supervisor import free_port

    serve = ["serve", "--engine", "llamacpp", "--port", str(free_port())]
    args = ["history", "list"] if variable == "O1TUI_DATA_DIR" else serve
    one_line(run(*args, env={variable: path}), 1, "cannot use", "as a folder")


def test_a_huge_limit_lists_everything(data_dir, chain_id):
    proc = run("history", "list", "--limit", "99999999999999999999", "--json")
    assert proc.returncode == 0, proc.stderr
    assert [c["id"] for c in json.loads(proc.stdout)] == [chain_id]


@pytest.mark.parametrize(
    "param",
    [
        "max_tokens=1e400",
        "temperature=Infinity",
        "temperature=NaN",
        "top_p=-Infinity",
        'logit_bias={"1": NaN}',
    ],
)
def test_non_finite_params_are_refused_before_anything_runs(data_dir, server, param):
    before = len(server.requests)
    proc = run("ask", "q", "--endpoint", server.url, "--model", "fake-model", "--param", param)
    one_line(proc, 2, "--param", "finite")
    assert len(server.requests) == before
    with History.open(data_dir) as history:
        assert history.list() == []  # refused before a chain was saved


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["ask", "q", "--endpoint", "http://127.0.0.1:99999/v1"], "Port out of range"),
        (["ask", "q", "--endpoint", "ftp://127.0.0.1/v1"], "http"),
        (["ask", "q", "--port", "70000"], "between 1 and 65535"),
        (["serve", "--port", "0"], "between 1 and 65535"),
    ],
)
def test_out_of_range_ports_and_bad_endpoints(data_dir, args, words):
    one_line(run(*args), 2, words)


def _file_size_limit(limit: int):
    """preexec_fn: writes past ``limit`` bytes of any file fail as on a full disk (EFBIG,
    short writes), and SIGXFSZ does not kill the process."""
    import resource
    import signal

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_a_full_disk_mid_chain_is_one_line_and_reading_still_works(data_dir, chain_id):
    """The answer is too big to be saved: one line that says so in words (no store traceback
    from the runner's save), and `history list` still works on a disk that takes no writes."""
    from tests.fakes.openai_server import Reply

    with History.open(data_dir) as history:  # grow the file past the limit: reads beyond it
        for n in range(40):
            chain = Chain(question=f"q{n} " + "x" * 4000, strategy="plain", model="m")
            history.start_chain(chain)
    limit = 96 * 1024
    with FakeOpenAIServer([Reply(content="y" * 400_000, chunk_chars=50_000)]) as srv:
        proc = subprocess.run(
            [sys.executable, "-m", "tui.cli", "ask", "q", "--endpoint", srv.url]
            + ["--model", "fake-model", "--strategy", "plain"],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            cwd=REPO,
            timeout=60,
            preexec_fn=_file_size_limit(limit),
        )
    line = one_line(proc, 1, "disk full")
    assert "could not be saved" in line or "nothing more can be saved" in line
    listed = subprocess.run(
        [sys.executable, "-m", "tui.cli", "history", "list", "--limit", "100", "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd=REPO,
        timeout=60,
        preexec_fn=_file_size_limit(limit),
    )
    assert listed.returncode == 0 and "Traceback" not in listed.stderr, listed.stderr
    assert len(json.loads(listed.stdout)) == 42


def test_credentials_in_the_endpoint_never_show_or_get_stored(data_dir):
    """`--endpoint http://user:pass@…/v1?api_key=…` to a port nobody listens on: the error
    line, the chain saved in the history and its exports carry no password or key."""
    from backends.supervisor import free_port

    url = f"http://alice:hunter2pw@127.0.0.1:{free_port()}/v1?api_key=sk-topsecret"
    proc = run("ask", "q", "--endpoint", url, "--model", "m")
    line = one_line(proc, 1, "cannot reach", "***@127.0.0.1")
    with History.open(data_dir) as history:
        (summary,) = history.list()
    shown = run("history", "show", summary.id, "--json").stdout
    exported = run("history", "export", summary.id).stdout
    for text in (line, shown, exported, proc.stderr):
        assert "hunter2pw" not in text and "sk-topsecret" not in text and "alice" not in text


def test_redact_url_keeps_the_rest():
    from backends.redact import redact_url, redact_urls

    assert redact_url("http://127.0.0.1:8000/v1") == "http://127.0.0.1:8000/v1"
    assert redact_url("https://u:p@h/v1?api_key=k&x=1") == "https://***@h/v1?api_key=***&x=1"
    assert redact_urls("at http://u:p@h:1/v1 failed") == "at http://***@h:1/v1 failed"


def test_deleting_a_running_chain_is_refused_until_it_ends(data_dir):
    """`history delete` from another shell while `ask` runs the chain: refused in one line
    (deleted, the chain would come back with its next step); once it ended, deleted."""
    from tests.fakes.openai_server import Reply

    with FakeOpenAIServer([Reply(content="slow answer " * 30, chunk_chars=4, delay_s=0.05)]) as srv:
        ask = subprocess.Popen(
            [sys.executable, "-m", "tui.cli", "ask", "q", "--endpoint", srv.url]
            + ["--model", "fake-model", "--strategy", "plain"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            cwd=REPO,
        )
        deadline = time.monotonic() + 30
        while True:
            with History.open(data_dir) as history:
                rows = history.list()
            if rows:
                break
            assert time.monotonic() < deadline and ask.poll() is None
            time.sleep(0.05)
        refused = run("history", "delete", rows[0].id)
        ask.communicate(timeout=60)
    one_line(refused, 1, "still running", "stop it first")
    assert run("history", "delete", rows[0].id).returncode == 0
    with History.open(data_dir) as history:
        assert history.list() == []


def test_exports_are_never_more_open_than_the_history(data_dir, chain_id, tmp_path):
    """The history's file is 0600: an export of its text is no wider, whatever the umask."""
    import stat

    target = tmp_path / "out.md"
    target.write_text("old")
    target.chmod(0o644)
    old = os.umask(0o022)
    try:
        assert run("history", "export", chain_id, "-o", str(target)).returncode == 0
        assert run("history", "export", chain_id, "-o", str(tmp_path / "new.md")).returncode == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE((data_dir / "history.db").stat().st_mode) == 0o600
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "new.md").stat().st_mode) == 0o600


@pytest.mark.parametrize("key", ["stall_timeout_s", "request_timeout_s"])
@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_non_finite_numbers_in_the_config_name_the_key(data_dir, tmp_path, key, value):
    config = tmp_path / "c.toml"
    config.write_text(f"{key} = {value}\n")
    ask = ["ask", "q", "--endpoint", "http://127.0.0.1:9/v1"]
    line = one_line(run(*ask, "--config", str(config)), 1, key, "finite")
    assert str(config) in line
    env_line = one_line(run(*ask, env={f"O1TUI_{key.upper()}": value}), 1, key)
    assert "finite" in env_line or "greater than 0" in env_line


def test_a_foreign_sqlite_file_is_refused_and_left_untouched(data_dir):
    import sqlite3

    data_dir.mkdir(parents=True, exist_ok=True)
    db = data_dir / "history.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE invoices (n INTEGER)")
    conn.execute("INSERT INTO invoices VALUES (1)")
    conn.commit()
    conn.close()
    before = db.read_bytes()
    one_line(run("history", "list"), 1, "not an o1tui history", "invoices")
    assert db.read_bytes() == before
