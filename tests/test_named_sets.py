"""Named public sets fetched once through ``modelscope`` from a loopback stand-in that speaks
the hub's HTTP protocol, cached with a checksum, used offline after; and the one-line message
when there is neither network nor cache."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from tests.fakes.modelscope_hub import FakeModelScopeHub
from tui.cli.entry import main
from tui.evals.lookup import load_set
from tui.evals.named import NAMED_SETS, SOURCE_FILE, set_dir
from tui.evals.sets import SetFileError

pytest.importorskip("modelscope.hub.file_download")  # installed by the test extra

MATH500 = NAMED_SETS["math500"]
AIME = NAMED_SETS["aime2024"]


def _math500_bytes(n: int = 500) -> bytes:
    rows = [
        {
            "problem": f"What is {i} + {i}?",
            "solution": f"It is ${2 * i}$.",
            "answer": str(2 * i),
            "subject": ("Algebra", "Geometry", "Number Theory")[i % 3],
            "level": 1 + i % 5,
            "unique_id": f"test/algebra/{i}.json",
        }
        for i in range(n)
    ]
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("O1TUI_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MODELSCOPE_CACHE", str(tmp_path / "mscache"))
    return tmp_path / "cache"


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_download_caches_the_file_with_its_checksum_then_works_offline(cache, monkeypatch, capsys):
    data = _math500_bytes()
    with FakeModelScopeHub({(MATH500.dataset_id, MATH500.file): data}) as hub:
        monkeypatch.setenv("MODELSCOPE_ENDPOINT", hub.url)
        assert main(["download", "math500"]) == 0
        assert hub.file_requests() == [
            f"/api/v1/datasets/{MATH500.dataset_id}/repo?Revision=master&FilePath=test.jsonl"
        ]
        out = capsys.readouterr().out.strip()
        assert Path(out) == set_dir("math500") and Path(out).is_relative_to(cache)
        # A second download finds it cached and asks the hub nothing.
        assert main(["download", "math500"]) == 0
        assert len(hub.file_requests()) == 1
    capsys.readouterr()

    import hashlib

    source = json.loads((set_dir("math500") / SOURCE_FILE).read_text())
    assert source == {
        "name": "math500",
        "dataset_id": "AI-ModelScope/MATH-500",
        "file": "test.jsonl",
        "sha256": hashlib.sha256(data).hexdigest(),
        "licence": "MIT",
        "items": 500,
    }
    assert sorted(p.name for p in set_dir("math500").iterdir()) == [SOURCE_FILE, "test.jsonl"]

    # The hub is gone: the set loads from the cache, metadata kept, its identity recorded.
    monkeypatch.setenv("MODELSCOPE_ENDPOINT", _closed_port_url())
    s = load_set("math500")
    assert len(s.items) == 500 and s.name == "math500"
    assert s.items[7].meta == {
        "solution": "It is $14$.",
        "subject": "Geometry",
        "level": 3,
        "unique_id": "test/algebra/7.json",
    }
    assert s.source == f"modelscope:AI-ModelScope/MATH-500/test.jsonl@sha256:{source['sha256']}"

    assert main(["eval", "--list"]) == 0
    listed = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert "500 items" in listed["math500"] and "cached" in listed["math500"]
    assert "MIT" in listed["math500"] and "not cached" not in listed["math500"]
    assert "30 items" in listed["aime2024"] and "not cached" in listed["aime2024"]
    assert "1319 items" in listed["gsm8k"]


def test_a_cached_file_that_changed_is_refused(cache, monkeypatch):
    with FakeModelScopeHub({(MATH500.dataset_id, MATH500.file): _math500_bytes()}) as hub:
        monkeypatch.setenv("MODELSCOPE_ENDPOINT", hub.url)
        load_set("math500")
    path = set_dir("math500") / "test.jsonl"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(SetFileError, match="changed since it was downloaded"):
        load_set("math500")


def test_a_download_that_is_not_the_published_set_is_not_cached(cache, monkeypatch):
    with FakeModelScopeHub({(MATH500.dataset_id, MATH500.file): _math500_bytes(12)}) as hub:
        monkeypatch.setenv("MODELSCOPE_ENDPOINT", hub.url)
        with pytest.raises(SetFileError, match="holds 12 items, not the 500 of math500"):
            load_set("math500")
    assert not set_dir("math500").exists()
    assert [p.name for p in set_dir("math500").parent.iterdir()] == []  # no temp folder left


def test_aime_in_its_capitalised_spelling_downloads_and_loads(cache, monkeypatch):
    rows = [
        {"ID": f"2024-I-{i}", "Problem": f"P{i}", "Solution": "s", "Answer": i} for i in range(30)
    ]
    data = "".join(json.dumps(r) + "\n" for r in rows).encode()
    with FakeModelScopeHub({(AIME.dataset_id, AIME.file): data}) as hub:
        monkeypatch.setenv("MODELSCOPE_ENDPOINT", hub.url)
        s = load_set("aime2024")
    assert [(i.question, i.answer, i.meta["id"]) for i in s.items[:2]] == [
        ("P0", "0", "2024-I-0"),
        ("P1", "1", "2024-I-1"),
    ]


def test_without_network_or_cache_one_line_says_what_to_do(cache, monkeypatch, capsys):
    monkeypatch.setenv("MODELSCOPE_ENDPOINT", _closed_port_url())
    code = main(["eval", "aime2024", "--endpoint", "http://127.0.0.1:9/v1"])
    err = capsys.readouterr().err
    assert code == 1
    (line,) = err.strip().splitlines()
    assert line.startswith(
        "o1tui: error: set aime2024 is not cached here and could not be downloaded"
    )
    assert "o1tui download aime2024" in line and str(set_dir("aime2024")) in line
    assert "o1tui eval FILE" in line
    assert main(["download", "aime2024"]) == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "o1tui download aime2024" in line
