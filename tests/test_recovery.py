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

from tests.damage import cut, fill, fill_evals, hit_header, pages_of, smash, zero
from tests.fakes.openai_server import FakeOpenAIServer
from tui.core.chain import Status
from tui.store.history import DB_NAME, History
from tui.store.recovery import LOST, LOST_RUN

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
    """The rows on the leaf are lost from the table (those come back rebuilt from the
    indexes, see below); every other chain comes back whole."""
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
        chains = [history.get(i) for i in listed]
        whole = [c for c in chains if c is not None and c.error != LOST]
        assert len(whole) >= 150  # one leaf holds a few dozen rows
        assert all(len(c.steps) == 3 and c.status == Status.DONE for c in whole)
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
    for proc, (_out, err) in zip(procs, results, strict=True):
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


def _recovered_by_cli(data_dir: Path) -> tuple[set[str], list[str], str]:
    """Open the damaged history as a user would (``history list``), then list the eval runs:
    (chain ids listed, eval run lines, the warning)."""
    proc = cli("history", "list", "--json", "--limit", "100000")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and "Traceback" not in err, err
    runs = cli("eval", "--runs")
    runs_out, runs_err = runs.communicate(timeout=60)
    assert runs.returncode == 0, runs_err
    return {c["id"] for c in json.loads(out)}, runs_out.splitlines(), err


@pytest.mark.parametrize("nbytes", [4096, 8192, 40 * 1024, 200 * 1024])
def test_a_history_cut_short_gives_its_chains_and_eval_runs_back(
    data_dir: Path, nbytes: int
) -> None:
    """`truncate -s -N history.db`: the header counts pages that are gone, and SQLite refuses
    the whole file; the rows before the cut are still there and come back."""
    ids = set(fill(data_dir, 300))
    runs = fill_evals(data_dir, 4, questions=10)
    cut(data_dir / DB_NAME, nbytes)
    listed, run_lines, err = _recovered_by_cli(data_dir)
    assert "recovered" in err, err
    assert len(listed & ids) >= len(ids) // 2, (len(listed & ids), err)
    assert sum(any(line.startswith(r) for line in run_lines) for r in runs) >= 2, run_lines


def test_a_damaged_file_header_is_repaired_in_a_copy_and_everything_comes_back(
    data_dir: Path,
) -> None:
    """Random bytes over the 100-byte header ("file is not a database"): the header is
    rebuilt in a private copy, every row reads back, the kept file is left as it was."""
    import random

    ids = set(fill(data_dir, 150))
    runs = fill_evals(data_dir, 2, questions=5)
    hit_header(data_dir / DB_NAME, random.Random(3))
    damaged = (data_dir / DB_NAME).read_bytes()
    listed, run_lines, err = _recovered_by_cli(data_dir)
    assert ids <= listed, err
    assert all(any(line.startswith(r) for line in run_lines) for r in runs), run_lines
    kept = [p for p in data_dir.iterdir() if ".corrupt-" in p.name]
    assert len(kept) == 1 and kept[0].read_bytes() == damaged
    assert not [p for p in data_dir.iterdir() if p.name.endswith(".reading")]


def test_a_zeroed_leaf_of_chains_rebuilds_its_chains_from_the_indexes(data_dir: Path) -> None:
    """A page of rows zeroed: the rows on it come back from the indexes (id, time, question,
    answer) with the steps, marked as rebuilt; the rows elsewhere come back whole."""
    ids = fill(data_dir, 200)
    db = data_dir / DB_NAME
    zero(db, pages_of(db, "chains")[2])
    with History.open(data_dir) as history:
        assert history.recovery is not None and history.recovery.chains == 200
        assert {r.id for r in history.list(limit=1000)} == set(ids)
        rebuilt = [c for c in (history.get(i) for i in ids) if c and c.error == LOST]
        assert 0 < len(rebuilt) < 200
        assert all(len(c.steps) == 3 and c.question.startswith("question ") for c in rebuilt)


def test_eval_runs_questions_items_and_groups_are_recovered_and_counted(data_dir: Path) -> None:
    """One damaged page of steps: the eval runs (questions with their gold answers, answered
    items) and the groups come back with the chains, and the warning counts each."""
    from tui.evals.store import EvalStore
    from tui.store.group_store import list_groups

    fill(data_dir, 40)
    runs = fill_evals(data_dir, 3, questions=6, samples=3)
    with History.open(data_dir) as history:
        store = EvalStore(history)
        before = {r: (store.questions(r), store.items(r)) for r in runs}
        groups = {g.id for g in list_groups(history, limit=1000)}
    db = data_dir / DB_NAME
    smash(db, pages_of(db, "steps")[0])
    listed, run_lines, err = _recovered_by_cli(data_dir)
    assert len(run_lines) == 3, run_lines
    assert "18 group(s)" in err and "3 eval run(s) with 18 question(s)" in err, err
    assert "36 answered item(s)" in err, err
    with History.open(data_dir) as history:
        store = EvalStore(history)
        assert {r: (store.questions(r), store.items(r)) for r in runs} == before
        assert {g.id for g in list_groups(history, limit=1000)} == groups
        assert {r.status for r in store.list_runs()} == {"done"}


def test_eval_runs_whose_rows_are_lost_are_rebuilt_from_their_questions_and_items(
    data_dir: Path,
) -> None:
    """The page of run rows zeroed: each run comes back from its questions and items (id,
    questions, strategies, the model of its chains), interrupted, so it can be shown and
    resumed; its set name is marked lost."""
    from tui.evals.store import EvalStore

    runs = fill_evals(data_dir, 2, questions=4, samples=2)
    with History.open(data_dir) as history:
        store = EvalStore(history)
        before = {r: (store.questions(r), store.items(r)) for r in runs}
    db = data_dir / DB_NAME
    (page,) = pages_of(db, "eval_runs")
    zero(db, page)
    with History.open(data_dir) as history:
        assert history.recovery is not None and history.recovery.eval_runs == 2
        store = EvalStore(history)
        assert {r: (store.questions(r), store.items(r)) for r in runs} == before
        for run in store.list_runs():
            assert run.set_name == LOST_RUN and run.model == "m"
            assert run.strategies == ("g1", "g1@2") and run.n_questions == 4
            assert run.status == "interrupted" and store.pending(run) == []


def _schema_pages(db: Path) -> list[int]:
    return sorted({1, *pages_of(db, "sqlite_schema"), *pages_of(db, "sqlite_schema", "internal")})


@pytest.mark.parametrize("which", ["page 1", "first leaf", "last leaf"])
def test_a_damaged_schema_page_is_rebuilt_from_o1tuis_own_schema(data_dir: Path, which) -> None:
    """The schema spans page 1 and two more: one of them damaged used to lose every table
    it listed (all of them for page 1). The schema is rebuilt in a copy from the one o1tui
    creates, each table at its root page, and everything comes back."""
    ids = set(fill(data_dir, 100))
    runs = fill_evals(data_dir, 2, questions=5)
    db = data_dir / DB_NAME
    pages = _schema_pages(db)
    assert len(pages) == 3, pages
    smash(db, {"page 1": pages[0], "first leaf": pages[1], "last leaf": pages[2]}[which])
    listed, run_lines, err = _recovered_by_cli(data_dir)
    assert ids <= listed, err
    assert all(any(line.startswith(r) for line in run_lines) for r in runs), run_lines
    assert "10 group(s)" in err and "2 eval run(s)" in err, err


def test_a_rebuilt_schema_never_reads_another_tables_pages_as_its_own(data_dir: Path) -> None:
    """A history made at schema 1 and migrated later keeps its groups and eval tables at
    other pages than a new one: the rebuilt schema's guesses for them land on pages of
    chains and steps, and are left out rather than read as groups or eval runs."""
    import sqlite3

    from tui.store.migrations import v001_initial

    data_dir.mkdir(parents=True)
    conn = sqlite3.connect(data_dir / DB_NAME, isolation_level=None)
    v001_initial.upgrade(conn)
    conn.execute("PRAGMA user_version = 1")
    conn.executemany(
        "INSERT INTO chains (id, question, strategy, model, status, created_at, updated_at)"
        " VALUES (?, ?, 'g1', 'm', 'done', '2025-01-01T00:00:00+00:00', '2025-01-01')",
        [(f"old{n:04d}", f"question {n}") for n in range(150)],
    )
    conn.executemany(  # pages of steps where a new history has its eval tables
        "INSERT INTO steps (chain_id, idx, title, content, elapsed_s) VALUES (?, ?, ?, ?, 0.5)",
        [(f"old{n:04d}", i, f"step {i}", "y" * 400) for n in range(150) for i in range(3)],
    )
    conn.close()
    ids = {f"old{n:04d}" for n in range(150)}
    runs = set(fill_evals(data_dir, 2, questions=5))  # migrated at this open: tables at the end
    layout = sqlite3.connect(data_dir / DB_NAME)
    roots = dict(layout.execute("SELECT name, rootpage FROM sqlite_master").fetchall())
    layout.close()
    assert roots["groups"] > 24 and roots["eval_runs"] > 24  # not where a new history has them
    assert _page_kind(data_dir / DB_NAME, 20) == 10  # eval_questions' page in a new one: steps
    db = data_dir / DB_NAME
    for page in _schema_pages(db):
        zero(db, page)
    with History.open(data_dir) as history:
        from tui.evals.store import EvalStore
        from tui.store.group_store import list_groups

        recovered = history.recovery
        assert recovered is not None and recovered.chains >= 150
        assert {r.id for r in history.list(limit=1000)} <= ids | _eval_chain_ids(history)
        assert {r.id for r in EvalStore(history).list_runs()} <= runs
        assert recovered.eval_runs == len(EvalStore(history).list_runs())
        assert all(g.kind.value == "self-consistency" for g in list_groups(history, limit=1000))


def _page_kind(db: Path, page: int) -> int:
    with open(db, "rb") as fh:
        fh.seek((page - 1) * 4096)
        return fh.read(1)[0]


def _eval_chain_ids(history: History) -> set[str]:
    return {
        r[0]
        for r in history.transaction(
            lambda c: c.execute("SELECT id FROM chains WHERE question LIKE 'run %'").fetchall(),
            write=False,
        )
    }
