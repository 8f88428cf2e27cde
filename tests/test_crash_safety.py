"""SIGKILL ``o1tui ask`` at random moments; two processes on one data dir at once.

The loop is :mod:`bench.crash_loop`'s (one mechanism): tens of iterations here, hundreds in
the bench. After every kill the database must pass ``PRAGMA integrity_check``, hold every
step the process printed as finished, and open with ``History.open``.
"""

from __future__ import annotations

import os
import random
import sqlite3
from pathlib import Path

import pytest

from bench.crash_loop import (
    Counts,
    SlowServer,
    calibrate,
    check_database,
    concurrent_once,
    crash_once,
)

ITERATIONS = int(os.environ.get("O1TUI_CRASH_ITERATIONS", "15"))


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_no_reported_step(tmp_path: Path) -> None:
    data = tmp_path / "data"
    rng = random.Random(1234)
    counts = Counts()
    with SlowServer(delay_s=0.01) as server:
        full_run_s = calibrate(server.url, data, counts)
        for i in range(ITERATIONS):
            crash_once(server.url, data, i, max_wait_s=1.1 * full_run_s, rng=rng, counts=counts)
    assert counts.problems == []
    assert counts.runs == ITERATIONS + 1
    assert counts.kills >= ITERATIONS // 2, counts  # the loop really killed runs mid-way
    assert counts.steps_reported > 0, counts  # and some of them after steps were saved
    assert counts.ok()
    # every killed chain was turned from running into an interrupted error at open
    conn = sqlite3.connect(data / "history.db")
    try:
        statuses = {s for (s,) in conn.execute("SELECT status FROM chains")}
    finally:
        conn.close()
    assert "running" not in statuses


@pytest.mark.slow
def test_two_asks_and_a_reader_share_one_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "data"
    counts = Counts()
    with SlowServer(delay_s=0.005) as server:
        concurrent_once(server.url, data, 0, counts)
    assert counts.problems == [], counts.problems
    assert counts.locked_errors == 0 and counts.tracebacks == 0
    assert counts.steps_reported == 8  # 4 demo steps in each chain, all saved
    conn = sqlite3.connect(data / "history.db")
    try:
        rows = conn.execute(
            "SELECT status, (SELECT count(*) FROM steps WHERE chain_id = id) "
            "FROM chains ORDER BY question"
        ).fetchall()
    finally:
        conn.close()
    assert rows == [("done", 4), ("done", 4)]


def test_check_database_notices_a_lost_step(tmp_path: Path) -> None:
    """The checker itself can fail: a printed step missing from the db is counted."""
    from tui.core.chain import Chain, Step
    from tui.store.history import History

    data = tmp_path / "data"
    with History.open(data) as h:
        chain = Chain(question="q-lost", strategy="g1", model="m")
        h.start_chain(chain)
        h.add_step(chain.id, Step(index=1, title="a", content="b"))
    counts = Counts()
    check_database(data / "history.db", "q-lost", {1}, counts)
    assert counts.lost_steps == 0 and counts.integrity_failures == 0
    check_database(data / "history.db", "q-lost", {1, 2}, counts)
    assert counts.lost_steps == 1
