"""The history store on a real SQLite file: schema, saving step by step, search, faults."""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from tui.core.chain import Chain, Status, Step
from tui.store.history import (
    DB_NAME,
    INTERRUPTED,
    ChainSummary,
    History,
    HistoryError,
    fts_query,
)
from tui.store.migrations import LATEST

ROOT = Path(__file__).resolve().parents[1]


def make_chain(question: str = "How many r are in strawberry?", n_steps: int = 0, **kw) -> Chain:
    chain = Chain(question=question, strategy=kw.pop("strategy", "g1"), model="m", **kw)
    chain.steps = [make_step(i) for i in range(1, n_steps + 1)]
    return chain


def make_step(i: int, title: str | None = None, content: str | None = None) -> Step:
    return Step(
        index=i,
        title=title if title is not None else f"Step title {i}",
        content=content if content is not None else f"content of step {i}",
        elapsed_s=1.5 + i,
        ttft_s=0.25,
        prompt_tokens=100 * i,
        completion_tokens=10 * i,
        parsed=i % 2 == 1,
        finish_reason="stop",
    )


def raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path)


# --- schema ----------------------------------------------------------------------------------


def test_fresh_database_is_migrated_in_wal_mode(history: History, db_path: Path) -> None:
    conn = raw(db_path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == LATEST
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"chains", "steps", "chain_fts"} <= tables
    assert history._conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    conn.close()


def test_reopen_is_idempotent_and_keeps_data(db_path: Path) -> None:
    with History(db_path) as h:
        chain = make_chain(n_steps=2)
        h.start_chain(chain)
    for _ in range(3):
        with History(db_path) as h:
            assert h.count() == 1
            assert len(h.get(chain.id).steps) == 2
    assert raw(db_path).execute("PRAGMA user_version").fetchone()[0] == LATEST


def test_newer_schema_is_refused_not_touched(db_path: Path) -> None:
    History(db_path).close()
    conn = raw(db_path)
    conn.execute(f"PRAGMA user_version = {LATEST + 1}")
    conn.close()
    with pytest.raises(HistoryError, match="newer|Upgrade"):
        History(db_path)
    assert raw(db_path).execute("PRAGMA user_version").fetchone()[0] == LATEST + 1


def test_file_and_folder_are_private(tmp_path: Path) -> None:
    folder = tmp_path / "d"
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o755)
    path = folder / DB_NAME
    path.touch()
    os.chmod(path, 0o644)
    with History(path) as h:
        h.start_chain(make_chain())
        for p in (path, Path(f"{path}-wal")):
            assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755  # an existing folder is the user's


# --- saving ----------------------------------------------------------------------------------


def test_round_trip_of_every_field(history: History) -> None:
    chain = make_chain("Q?", lang="en", group_id="grp1")
    history.start_chain(chain)
    for i in (1, 2, 3):
        history.add_step(chain.id, make_step(i))
    chain.steps = [make_step(i) for i in (1, 2, 3)]
    chain.status, chain.final_answer, chain.total_s = Status.DONE, "three", 12.25
    history.finish_chain(chain)
    got = history.get(chain.id)
    assert got == chain
    assert got.steps[1].parsed is False and got.steps[0].ttft_s == 0.25


def test_steps_are_saved_one_by_one(db_path: Path) -> None:
    h = History(db_path)
    chain = make_chain()
    h.start_chain(chain)
    h.add_step(chain.id, make_step(1))
    h.add_step(chain.id, make_step(2))
    # Another connection sees both committed steps while the chain is still running.
    with History(db_path) as other:
        seen = other.get(chain.id)
        assert [s.index for s in seen.steps] == [1, 2]
        assert seen.status is Status.RUNNING  # our pid is alive: not interrupted
    h.close()


def test_add_step_replaces_same_index_and_needs_a_chain(history: History) -> None:
    chain = make_chain()
    history.start_chain(chain)
    history.add_step(chain.id, make_step(1, title="first try"))
    history.add_step(chain.id, make_step(1, title="retried"))
    assert [s.title for s in history.get(chain.id).steps] == ["retried"]
    with pytest.raises(HistoryError, match="no chain"):
        history.add_step("missing", make_step(1))


def test_chain_of_a_dead_process_is_interrupted_at_open(db_path: Path) -> None:
    code = textwrap.dedent(
        f"""
        from tui.store.history import History
        from tui.core.chain import Chain, Step
        h = History({str(db_path)!r})
        c = Chain(question="q", strategy="g1", model="m", id="deadbeef0001")
        h.start_chain(c)
        h.add_step(c.id, Step(1, "a", "x"))
        h.add_step(c.id, Step(2, "b", "y"))
        h.close()
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env=_env())
    with History(db_path) as h:
        got = h.get("deadbeef0001")
        assert got.status is Status.ERROR and got.error == INTERRUPTED
        assert [s.index for s in got.steps] == [1, 2]
        assert h.list()[0].n_steps == 2


def test_delete_cascades_to_steps_and_search(history: History, db_path: Path) -> None:
    keep, gone = make_chain("keep this one", n_steps=2), make_chain("remove zebra", n_steps=3)
    history.start_chain(keep)
    history.start_chain(gone)
    assert history.count("zebra") == 1
    with pytest.raises(HistoryError, match="still running"):  # by this live process
        history.delete(gone.id)
    gone.status = Status.DONE
    history.finish_chain(gone)
    assert history.delete(gone.id) is True
    assert history.delete(gone.id) is False
    assert history.get(gone.id) is None
    assert history.count("zebra") == 0
    conn = raw(db_path)
    assert (
        conn.execute("SELECT count(*) FROM steps WHERE chain_id = ?", (gone.id,)).fetchone()[0] == 0
    )
    assert conn.execute("SELECT count(*) FROM steps").fetchone()[0] == 2


# --- reading ---------------------------------------------------------------------------------


def test_get_by_unique_prefix_and_ambiguous_prefix(history: History) -> None:
    a, b, c = (make_chain(id=i) for i in ("abc123000001", "abc999000002", "fff000000003"))
    for chain in (a, b, c):
        history.start_chain(chain)
    assert history.get("abc1").id == a.id
    assert history.get("f").id == c.id
    assert history.get(" abc999000002 ").id == b.id
    assert history.get("zzz") is None and history.get("") is None
    with pytest.raises(HistoryError, match="abc123000001.*abc999000002"):
        history.get("abc")


def test_list_is_newest_first_with_paging(history: History) -> None:
    ids = []
    for i in range(7):
        chain = make_chain(f"question {i}", created_at=f"2025-01-0{i + 1}T00:00:00+00:00")
        history.start_chain(chain)
        ids.append(chain.id)
    page1 = history.list(limit=3)
    page2 = history.list(limit=3, offset=3)
    page3 = history.list(limit=3, offset=6)
    assert [s.id for s in page1 + page2 + page3] == ids[::-1]
    assert all(isinstance(s, ChainSummary) for s in page1)
    assert history.count() == 7
    assert history.list(limit=3, offset=99) == []


def test_summary_fields_and_long_question_is_cut(history: History) -> None:
    chain = make_chain("x" * 100_000, n_steps=3)
    chain.total_s = 4.5
    history.start_chain(chain)
    (row,) = history.list()
    assert row.n_steps == 3 and row.total_s == 4.5 and row.status is Status.RUNNING
    assert row.strategy == "g1" and row.model == "m" and row.created_at == chain.created_at
    assert len(row.question) == 300
    assert len(history.get(chain.id).question) == 100_000


@pytest.fixture
def searchable(history: History) -> History:
    rows = [
        ("How many r are in strawberry?", "Count letters", "s-t-r-a-w-b-e-r-r-y has three r", "3"),
        ("草莓这个词里有几个字母r？", "数字母", "逐个检查每个字母", "三个"),
        ("Is 9.11 larger than 9.9?", "Compare decimals", 'She said "OR" and NOT near*', "No"),
        ("Café crème for Zoë", "Résumé", "naïve façade", "ok"),
    ]
    for question, title, content, answer in rows:
        chain = make_chain(question)
        history.start_chain(chain)
        history.add_step(chain.id, make_step(1, title, content))
        chain.final_answer, chain.status = answer, Status.DONE
        history.finish_chain(chain)
    return history


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("strawberry", ["How many r"]),
        ("STRAW", ["How many r"]),  # prefix of the last word, any case
        ("straw ", []),  # a finished word is a whole word
        ("letters three", ["How many r"]),  # words in the step title and content
        ("草莓", ["草莓"]),
        ("字母", ["草莓"]),  # Chinese inside a longer run, no spaces
        ("三个", ["草莓"]),  # final answer
        ("cafe", ["Café"]),  # diacritics folded
        ("naïve", ["Café"]),
        ("decimals 9.9", ["Is 9.11"]),
    ],
)
def test_search(searchable: History, query: str, expected: list[str]) -> None:
    found = searchable.list(search=query)
    assert [next(e for e in expected if s.question.startswith(e)) for s in found] == expected
    assert searchable.count(query) == len(expected)


@pytest.mark.parametrize(
    "query",
    [
        '"a" OR b*',
        '"',
        '""',
        "OR",
        "NOT",
        "AND b",
        "NEAR(a b)",
        "a:b",
        "col:*",
        "^x",
        "(",
        ")",
        "*",
        "-",
        "+",
        "'",
        'a"b',
        "\x00",
        "\\",
        "{question}: x",
        "🙂",
        "\ud800",
    ],
)
def test_search_with_operators_and_odd_text_never_crashes(searchable: History, query: str) -> None:
    assert isinstance(searchable.list(search=query), list)
    assert searchable.count(query) >= 0


def test_fts_operators_are_plain_words(searchable: History) -> None:
    # "OR" and NOT appear literally in one chain's step; they must match as words, not logic.
    assert [s.question[:5] for s in searchable.list('"OR" NOT')] == ["Is 9."]
    assert searchable.count("strawberry OR banana") == 0


def test_punctuation_only_search_lists_everything(searchable: History) -> None:
    assert fts_query("?!") is None
    assert searchable.count("?!") == 4


# --- concurrency and faults --------------------------------------------------------------------


def test_two_connections_writing_at_once(db_path: Path) -> None:
    History(db_path).close()
    errors: list[BaseException] = []

    def writer(tag: str) -> None:
        try:
            with History(db_path) as h:
                for n in range(30):
                    chain = make_chain(f"{tag} {n}")
                    h.start_chain(chain)
                    for i in (1, 2, 3):
                        h.add_step(chain.id, make_step(i))
                    chain.status = Status.DONE
                    h.finish_chain(chain)
        except BaseException as err:  # noqa: BLE001 - collected: a thread's exception is otherwise lost
            errors.append(err)

    threads = [threading.Thread(target=writer, args=(t,)) for t in ("alpha", "beta")]
    for t in threads:
        t.start()
    # And a third writer in another process at the same time.
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER.format(path=str(db_path), n=60)],
        cwd=ROOT,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    for t in threads:
        t.join()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()
    assert not errors, errors
    with History(db_path) as h:
        assert h.count() == 60 + 60
        assert h.count("alpha") == 30 and h.count("beta") == 30
        assert h.integrity_check() == []


_WRITER = """
import sys
from tui.store.history import History
from tui.core.chain import Chain, Step
h = History({path!r})
for n in range({n}):
    c = Chain(question="writer %d" % n, strategy="g1", model="m")
    h.start_chain(c)
    for i in range(1, 4):
        h.add_step(c.id, Step(i, "t", "x" * 2000))
        print("step", c.id, i, flush=True)
h.close()
"""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def test_sigkill_mid_write_leaves_a_sound_database(db_path: Path) -> None:
    History(db_path).close()
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER.format(path=str(db_path), n=100_000)],
        cwd=ROOT,
        env=_env(),
        stdout=subprocess.PIPE,
    )
    reported: list[tuple[str, int]] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        _, cid, idx = line.decode().split()
        reported.append((cid, int(idx)))
        if len(reported) >= 150:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with History(db_path) as h:
        assert h.integrity_check() == []
        # Every step the writer reported as saved is there.
        for cid, idx in reported:
            assert idx in [s.index for s in h.get(cid).steps]
        # Its last chain was running; the process is gone, so it is now interrupted.
        last = h.get(reported[-1][0])
        assert last.status is Status.ERROR and last.error == INTERRUPTED
        assert h.count("writer") == h.count()


def test_corrupt_file_is_set_aside_and_a_fresh_one_started(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    garbage = b"this is not a database\n" * 200
    db_path.write_bytes(garbage)
    with History(db_path) as h:
        assert h.recovered_from is not None
        assert h.recovered_from.name.startswith(f"{DB_NAME}.corrupt-")
        assert h.recovered_from.read_bytes() == garbage
        assert h.count() == 0
        h.start_chain(make_chain())
    with History(db_path) as h:
        assert h.recovered_from is None and h.count() == 1


def test_damaged_pages_are_found_at_open(db_path: Path) -> None:
    with History(db_path) as h:
        for n in range(50):
            h.start_chain(make_chain(f"q {n}", n_steps=3))
    conn = raw(db_path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    data = bytearray(db_path.read_bytes())
    for p in range(2, len(data) // page_size):  # keep the header page, smash the rest
        data[p * page_size : p * page_size + 64] = b"\xff" * 64
    db_path.write_bytes(bytes(data))
    with History(db_path) as h:
        assert h.recovered_from is not None and h.recovered_from.exists()
        assert h.count() == 0


def test_closed_store_says_so(db_path: Path) -> None:
    h = History(db_path)
    h.close()
    h.close()  # twice is fine
    with pytest.raises(HistoryError, match="closed"):
        h.count()


def test_open_uses_data_dir_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("O1TUI_DATA_DIR", str(tmp_path / "env-data"))
    with History.open() as h:
        assert h.path == tmp_path / "env-data" / DB_NAME
    with History.open(tmp_path / "flag") as h:
        assert h.path == tmp_path / "flag" / DB_NAME


# --- fuzz ------------------------------------------------------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(query=st.text(max_size=40))
def test_any_search_text_is_safe(searchable: History, query: str) -> None:
    rows = searchable.list(search=query)
    assert len(rows) == searchable.count(query) <= 4


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(word=st.text(alphabet=st.characters(categories=("L", "N")), min_size=1, max_size=12))
def test_a_stored_word_is_found_by_itself_and_its_prefix(history: History, word: str) -> None:
    chain = make_chain(f"about {word} today", status=Status.DONE)
    history.start_chain(chain)
    try:
        assert chain.id in [s.id for s in history.list(search=word)]
        assert chain.id in [s.id for s in history.list(search=word[: max(1, len(word) // 2)])]
    finally:
        history.delete(chain.id)


def test_hostile_text_is_stored_and_searchable(history: History) -> None:
    chain = make_chain("zebra a\x00b \ud800 \x1b[2J")
    history.start_chain(chain)
    history.add_step(chain.id, make_step(1, "\x00", "lone \udfff surrogate"))
    got = history.get(chain.id)
    assert got.question == "zebra a\x00b \ufffd \x1b[2J"  # stored as received, made encodable
    assert got.steps[0].content == "lone \ufffd surrogate"
    assert history.count("zebra") == 1 and history.count("a\ud800") >= 0
    assert history.get("\ud800") is None
