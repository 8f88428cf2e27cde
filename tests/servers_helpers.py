"""Shared helpers for the server-management tests (the stand-in ``lmdeploy`` on PATH, HTTP)."""

from __future__ import annotations

import http.client
import json
import os
import stat
from pathlib import Path

FAKE_BIN = Path(__file__).parent / "fakes" / "bin"
FAKE_LMDEPLOY = FAKE_BIN / "lmdeploy"
#: Every engine counted as installed (the stand-ins play them), for ``available=``.
ALL = {"lmdeploy": True, "llamacpp": True, "transformers": True}


def use_fake_lmdeploy(monkeypatch) -> None:
    """Put the stand-in ``lmdeploy`` first on PATH and clear its behaviour switches."""
    mode = FAKE_LMDEPLOY.stat().st_mode
    if not mode & stat.S_IXUSR:
        FAKE_LMDEPLOY.chmod(mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    monkeypatch.setenv("PATH", f"{FAKE_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    for name in list(os.environ):
        if name.startswith("FAKE_LMDEPLOY_"):
            monkeypatch.delenv(name)


def fake_lmdeploy_env(**extra: str) -> dict[str, str]:
    """A child process's environment: this checkout importable, the stand-in ``lmdeploy``
    first on PATH, its behaviour switches cleared, then ``extra``."""
    repo = Path(__file__).resolve().parent.parent
    env = dict(os.environ, PYTHONPATH=str(repo), PATH=f"{FAKE_BIN}{os.pathsep}{os.environ['PATH']}")
    for name in list(env):
        if name.startswith("FAKE_LMDEPLOY_"):
            del env[name]
    env.update(extra)
    return env


def cmdline(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]


def chat(
    port: int, key: str | None, model: str, content: str = "hello", stream: bool = False
) -> tuple[int, str]:
    """POST one chat request; return (status, body text)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        body = json.dumps(
            {"model": model, "messages": [{"role": "user", "content": content}], "stream": stream}
        )
        headers = {"Content-Type": "application/json"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        conn.request("POST", "/v1/chat/completions", body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read().decode("utf-8", "replace")
    finally:
        conn.close()


def eventually(predicate, timeout_s: float = 5.0) -> bool:
    """Poll ``predicate`` until true: server output reaches us through a reader thread, which may
    lag the port opening by a moment."""
    from tests.helpers import poll_until

    try:
        poll_until(predicate, timeout_s)
    except AssertionError:
        return False
    return True
