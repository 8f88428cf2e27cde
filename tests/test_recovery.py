"""A damaged history: recovered into a fresh database by one process, never written into.

Real files damaged on disk (one page overwritten), real processes for the concurrent case.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


from tests.damage import fill, pages_of, smash
from tests.fakes.openai_server import FakeOpenAIServer
from tui.chain import Status
from tui.history import DB_NAME, History

REPO = Path(__file__).resolve().parent.parent


def _has_dbstat() -> bool:
    import sqlite3

    try:
        sqlite3.connect(":memory:").execute("SELECT * FROM dbstat").fetchall()
    except sqlite3.Error:
        return False
    return True


# The tests find the pages of a table to damage with SQLite's dbstat table (most builds have it).
pytestmark = pytest.mark.skipif(not _has_dbstat(), reason="SQLite built without dbstat")


def cli(*args: str, env: dict[str, str] | None = None, **kw) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tui.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
        cwd=REPO,
        **kw,
    )


def test_one_damaged_leaf_loses_only_its_chains(data_dir: Path) -> None:
    ids = fill(data_dir, 200)
    db = data_dir / DB_NAME
    leaves = pages_of(db, "chains")
    smash(db, leaves[len(leaves) // 2])
    proc = cli("history", "list", "--json", "--limit", "1000")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    listed = {c["id"] for c in json.loads(out)}
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "recovered" in lines[0] and ".corrupt-" in lines[0], err
    assert len(listed) >= 150 and listed <= set(ids)  # one leaf holds a few dozen rows
    assert f"{len(listed)} chain(s)" in lines[0]
    with History.open(data_dir) as history:
        assert history.integrity_check() == []
        one = history.get(next(iter(listed)))
        assert one is not None and len(one.steps) == 3 and one.status == Status.DONE
        assert history.list(search="chain")  # the search index came back with the rows
    aside = [
        p
        for p in data_dir.iterdir()
        if ".corrupt-" in p.name and p.name[-4:] not in ("-wal", "-shm")
    ]
    assert len(aside) == 1


def test_damaged_step_pages_still_bring_the_chain_back(data_dir: Path) -> None:
    ids = fill(data_dir, 60, steps=4)
    db = data_dir / DB_NAME
    smash(db, pages_of(db, "steps")[0])
    with History.open(data_dir) as history:
        assert history.recovery is not None
        assert history.recovery.chains == 60
        assert 0 < history.recovery.steps < 240
        assert {c.id for c in history.list(limit=100)} == set(ids)


def test_text_that_is_not_utf8_on_disk_shows_with_replacement_characters(data_dir: Path) -> None:
    (chain_id,) = fill(data_dir, 1)
    import sqlite3

    conn = sqlite3.connect(data_dir / DB_NAME)
    conn.execute(
        "UPDATE steps SET content = CAST(? AS TEXT) WHERE idx = 1", (b"bad \xff\xfe bytes",)
    )
    conn.commit()
    conn.close()
    for args in (["show", chain_id], ["export", chain_id], ["show", chain_id, "--json"]):
        proc = cli("history", *args)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0 and "Traceback" not in err, err
        assert "bad" in out and "bytes" in out


def test_concurrent_processes_set_a_damaged_history_aside_once(data_dir: Path) -> None:
    """Six `ask`s open a damaged history at once: one sets it aside and recovers it, the
    others wait and use the fresh file; every chain they report done is in it."""
    fill(data_dir, 40)
    db = data_dir / DB_NAME
    smash(db, pages_of(db, "chains")[0])
    with FakeOpenAIServer() as srv:
        procs = [
            cli(
                "ask",
                f"What is {n}+{n}?",
                "--endpoint",
                srv.url,
                "--model",
                "fake-model",
                "--strategy",
                "plain",
                "--json",
            )
            for n in range(6)
        ]
        results = [p.communicate(timeout=120) for p in procs]
    for proc, (out, err) in zip(procs, results):
        assert proc.returncode == 0, err
        assert "locked" not in err and "I/O error" not in err and "Traceback" not in err, err
    done = {json.loads(out)["id"] for out, _ in results}
    aside = [
        p
        for p in data_dir.iterdir()
        if ".corrupt-" in p.name and "-wal" not in p.name and "-shm" not in p.name
    ]
    assert len(aside) == 1, aside
    warned = [err for _, err in results if "recovered" in err]
    assert len(warned) == 1
    with History.open(data_dir) as history:
        stored = {c.id for c in history.list(limit=1000)}
        assert history.integrity_check() == []
    assert done <= stored


def test_a_history_damaged_while_open_is_replaced_not_written_into(data_dir: Path) -> None:
    """A file damaged after the check at open (big files are only checked lightly): the first
    operation that meets the damage sets it aside; later writes go to the fresh file."""
    ids = fill(data_dir, 100)
    db = data_dir / DB_NAME
    with History.open(data_dir) as history:
        smash(db, pages_of(db, "chains")[-1])
        history._conn.execute("PRAGMA cache_size = 0")  # read the page from disk again
        rows = history.list(limit=1000)
        assert history.recovery is not None and history.recovered_from is not None
        from tests.damage import fill as more

        assert len(rows) >= 60 and {r.id for r in rows} <= set(ids)
    more(data_dir, 1)
    with History.open(data_dir) as history:
        assert history.integrity_check() == [] and history.recovery is None
        assert history.count() == len(rows) + 1


def test_a_damaged_root_page_still_gives_the_chains_back_from_the_indexes(data_dir: Path) -> None:
    """No lookup reaches a row when the table's root page is gone; the unique index on the id,
    the time index and the search index still hold every chain's id, time, question, answer."""
    import sqlite3

    ids = fill(data_dir, 120)
    db = data_dir / DB_NAME
    conn = sqlite3.connect(db)
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'chains'").fetchone()[0]
    conn.close()
    smash(db, root)
    with History.open(data_dir) as history:
        assert history.recovery is not None and history.recovery.chains == 120
        rows = history.list(limit=1000)
        assert {r.id for r in rows} == set(ids)
        chain = history.get(rows[0].id)
        assert chain is not None and chain.question.startswith("question ")
        assert len(chain.steps) == 3 and chain.status == Status.ERROR and "lost" in chain.error
