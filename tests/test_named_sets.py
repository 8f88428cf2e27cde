"""Named public sets fetched once through ``modelscope`` from a loopback stand-in that speaks
the hub's HTTP protocol, cached with a checksum, used offline after; and the one-line message
when there is neither network nor cache. A set's sources are tried in order, each by its
expected file, else by the file of its split in the repository's listing; Parquet files are
read (with pyarrow) like JSON Lines."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakes.modelscope_hub import FakeModelScopeHub
from tests.fakes.openai_server import FakeOpenAIServer
from tui.cli.entry import main
from tui.evals.lookup import load_set
from tui.evals.named import NAMED_SETS, SOURCE_FILE, pick_split_file, set_dir
from tui.evals.sets import SetFileError

pytest.importorskip("modelscope.hub.file_download")  # installed by the test extra

ROOT = Path(__file__).resolve().parent.parent
COT = "Please reason step by step, and put your final answer within \\boxed{}."
MATH500 = NAMED_SETS["math500"].sources[0]
AIME = NAMED_SETS["aime2024"]
GSM8K = NAMED_SETS["gsm8k"]


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
    with FakeModelScopeHub({(MATH500.dataset_id, MATH500.files[0]): data}) as hub:
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
    with FakeModelScopeHub({(MATH500.dataset_id, MATH500.files[0]): _math500_bytes()}) as hub:
        monkeypatch.setenv("MODELSCOPE_ENDPOINT", hub.url)
        load_set("math500")
    path = set_dir("math500") / "test.jsonl"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(SetFileError, match="changed since it was downloaded"):
        load_set("math500")


def test_a_download_that_is_not_the_published_set_is_not_cached(cache, monkeypatch):
    with FakeModelScopeHub({(MATH500.dataset_id, MATH500.files[0]): _math500_bytes(12)}) as hub:
        monkeypatch.setenv("MODELSCOPE_ENDPOINT", hub.url)
        with pytest.raises(SetFileError, match="holds 12 items, not the 500 of math500") as err:
            load_set("math500")
    assert "tried AI-ModelScope/MATH-500: test.jsonl holds 12 items" in str(err.value)
    assert not set_dir("math500").exists()
    assert [p.name for p in set_dir("math500").parent.iterdir()] == []  # no temp folder left


def test_aime_in_its_capitalised_spelling_downloads_and_loads(cache, monkeypatch):
    rows = [
        {"ID": f"2024-I-{i}", "Problem": f"P{i}", "Solution": "s", "Answer": i} for i in range(30)
    ]
    data = "".join(json.dumps(r) + "\n" for r in rows).encode()
    # Served by the second source only: the first is not on this hub at all.
    second = AIME.sources[1]
    with FakeModelScopeHub({(second.dataset_id, second.files[0]): data}) as hub:
        monkeypatch.setenv("MODELSCOPE_ENDPOINT", hub.url)
        s = load_set("aime2024")
    assert s.source.startswith(f"modelscope:{second.dataset_id}/{second.files[0]}@sha256:")
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


def _parquet_bytes(rows: list[dict]) -> bytes:
    """A Parquet file of ``rows`` as Hugging Face's uploads are written (one row group)."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    sink = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_pylist(rows), sink)
    return sink.getvalue().to_pybytes()


def _gsm8k_rows(kind: str, n: int = 1319) -> list[dict]:
    """GSM8K rows: ``main`` answers are worked solutions; ``socratic`` ones ask sub-questions."""
    step = "How many are there? ** " if kind == "socratic" else ""
    return [
        {
            "question": f"{kind} Q{i}: what is {i} + 1?",
            "answer": f"{step}{i} + 1 = {i + 1}\n#### {i + 1}",
        }
        for i in range(n)
    ]


def _aime_rows() -> list[dict]:
    """HuggingFaceH4/aime_2024's columns."""
    return [
        {
            "id": 60 + i,
            "problem": f"AIME problem {i}",
            "solution": f"So the answer is {100 + i}.",
            "answer": str(100 + i),
            "url": f"https://example.org/{i}",
            "year": "2024",
        }
        for i in range(30)
    ]


def test_a_missing_expected_file_is_found_in_the_repository_listing(cache, monkeypatch):
    data = _math500_bytes()
    files = {
        (MATH500.dataset_id, "README.md"): b"# MATH-500\n",
        (MATH500.dataset_id, "train.jsonl"): _math500_bytes(12),
        (MATH500.dataset_id, "data/test.jsonl"): data,
    }
    with FakeModelScopeHub(files) as hub:
        monkeypatch.setenv("MODELSCOPE_ENDPOINT", hub.url)
        s = load_set("math500")
        # The expected file first (404), then the listing, then the split's file in it.
        assert hub.file_requests() == [
            f"/api/v1/datasets/{MATH500.dataset_id}/repo?Revision=master&FilePath=test.jsonl",
            f"/api/v1/datasets/{MATH500.dataset_id}/repo?Revision=master&FilePath=data%2Ftest.jsonl",
        ]
        assert len(hub.listing_requests()) == 1
        assert f"/datasets/{hub.hub_ids[MATH500.dataset_id]}/repo/tree" in hub.listing_requests()[0]
    import hashlib

    source = json.loads((set_dir("math500") / SOURCE_FILE).read_text())
    assert (source["dataset_id"], source["file"]) == (MATH500.dataset_id, "data/test.jsonl")
    assert source["sha256"] == hashlib.sha256(data).hexdigest() and source["items"] == 500
    assert sorted(p.name for p in set_dir("math500").iterdir()) == [SOURCE_FILE, "test.jsonl"]
    assert len(s.items) == 500
    assert s.source == f"modelscope:{MATH500.dataset_id}/data/test.jsonl@sha256:{source['sha256']}"


def test_gsm8k_parquet_under_main_is_chosen_over_socratic_and_read_as_gsm8k(cache, monkeypatch):
    repo = GSM8K.sources[0].dataset_id
    files = {
        (repo, "socratic/test-00000-of-00001.parquet"): _parquet_bytes(_gsm8k_rows("socratic")),
        (repo, "socratic/train-00000-of-00001.parquet"): _parquet_bytes(_gsm8k_rows("socratic", 5)),
        (repo, "main/train-00000-of-00001.parquet"): _parquet_bytes(_gsm8k_rows("main", 5)),
        (repo, "main/test.parquet"): _parquet_bytes(_gsm8k_rows("main")),
    }
    with FakeModelScopeHub(files) as hub:
        monkeypatch.setenv("MODELSCOPE_ENDPOINT", hub.url)
        s = load_set("gsm8k")
        assert hub.file_requests()[-1].endswith("FilePath=main%2Ftest.parquet")
    source = json.loads((set_dir("gsm8k") / SOURCE_FILE).read_text())
    assert (source["dataset_id"], source["file"], source["items"]) == (
        repo,
        "main/test.parquet",
        1319,
    )
    assert len(s.items) == 1319
    first = s.items[0]
    assert (first.question, first.answer) == ("main Q0: what is 0 + 1?", "1")
    assert first.meta == {"solution": "0 + 1 = 1"}  # GSM8K: the gold after ####, the rest kept


def test_aime_parquet_at_its_expected_path_reads_in_the_aime_format(cache, monkeypatch):
    first = AIME.sources[0]
    files = {(first.dataset_id, first.files[0]): _parquet_bytes(_aime_rows())}
    with FakeModelScopeHub(files) as hub:
        monkeypatch.setenv("MODELSCOPE_ENDPOINT", hub.url)
        s = load_set("aime2024")
        assert hub.listing_requests() == []  # found where expected: nothing listed
    assert (first.dataset_id, first.split) == ("HuggingFaceH4/aime_2024", "train")
    item = s.items[3]
    assert (item.question, item.answer) == ("AIME problem 3", "103")
    assert item.meta == {
        "id": 63,
        "solution": "So the answer is 103.",
        "url": "https://example.org/3",
        "year": "2024",
    }
    assert sorted(p.name for p in set_dir("aime2024").iterdir()) == [
        SOURCE_FILE,
        "train-00000-of-00001.parquet",
    ]
    # Offline after: from the cached Parquet file.
    monkeypatch.setenv("MODELSCOPE_ENDPOINT", _closed_port_url())
    assert load_set("aime2024").items == s.items


def test_when_every_source_fails_one_line_names_each(cache, monkeypatch, capsys):
    repo = GSM8K.sources[0].dataset_id
    # The first source has only the train split; the second is not on this hub.
    files = {(repo, "main/train-00000-of-00001.parquet"): b"PAR1"}
    with FakeModelScopeHub(files) as hub:
        monkeypatch.setenv("MODELSCOPE_ENDPOINT", hub.url)
        assert main(["download", "gsm8k"]) == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("o1tui: error: set gsm8k could not be downloaded from ModelScope")
    assert "o1tui eval FILE" in line
    assert (
        "tried AI-ModelScope/gsm8k: no .jsonl, .json, .parquet file of split test among its 1 files"
        in line
    )
    assert "; opencompass/gsm8k: cannot list its files (" in line and "404" in line
    assert not set_dir("gsm8k").exists()
    assert [p.name for p in set_dir("gsm8k").parent.iterdir()] == []


def test_a_source_whose_file_is_not_the_set_gives_way_to_the_next(cache, monkeypatch):
    first, second = GSM8K.sources
    files = {
        (first.dataset_id, first.files[0]): _parquet_bytes(_gsm8k_rows("main", 7)),
        (second.dataset_id, "test.jsonl"): "".join(
            json.dumps(r) + "\n" for r in _gsm8k_rows("main")
        ).encode(),
    }
    with FakeModelScopeHub(files) as hub:
        monkeypatch.setenv("MODELSCOPE_ENDPOINT", hub.url)
        s = load_set("gsm8k")
    assert len(s.items) == 1319
    source = json.loads((set_dir("gsm8k") / SOURCE_FILE).read_text())
    assert (source["dataset_id"], source["file"]) == ("opencompass/gsm8k", "test.jsonl")
    assert sorted(p.name for p in set_dir("gsm8k").iterdir()) == [SOURCE_FILE, "test.jsonl"]


@pytest.mark.parametrize(
    "paths, split, subset, chosen",
    [
        (
            ["socratic/test-00000-of-00001.parquet", "main/test-00000-of-00001.parquet"],
            "test",
            "main",
            "main/test-00000-of-00001.parquet",
        ),
        (["test_socratic.jsonl", "test.jsonl", "train.jsonl"], "test", "main", "test.jsonl"),
        (["test.parquet", "test.jsonl", "test.json"], "test", None, "test.jsonl"),
        (
            ["data/train-00000-of-00001.parquet", "README.md"],
            "train",
            None,
            "data/train-00000-of-00001.parquet",
        ),
        (["cmath_dev.jsonl", "cmath_test.jsonl"], "test", None, "cmath_test.jsonl"),
        (["latest.jsonl", "contest.jsonl", "test.csv", "README.md"], "test", None, None),
        (["../test.jsonl", "/test.jsonl", "a\\..\\test.jsonl"], "test", None, None),
        (
            ["test/source.json", "default/test/0000.parquet"],
            "test",
            None,
            "default/test/0000.parquet",
        ),
    ],
)
def test_the_split_file_picked_from_a_listing(paths, split, subset, chosen):
    assert pick_split_file(paths, split, subset) == chosen


def test_a_parquet_file_passed_to_eval_is_read_and_asked_as_math(data_dir, tmp_path, capsys):
    p = tmp_path / "aime.parquet"
    p.write_bytes(_parquet_bytes(_aime_rows()[:3]))
    with FakeOpenAIServer() as server:
        code = main(["eval", str(p), "--endpoint", server.url, "--strategies", "plain", "--json"])
        asked = [
            m["content"] for b in server.requests for m in b["messages"] if m["role"] == "user"
        ]
    assert code == 0
    assert json.loads(capsys.readouterr().out)["results"][0]["n"] == 3
    assert sorted(asked) == [f"AIME problem {i}\n{COT}" for i in range(3)]  # a math set


def test_without_pyarrow_a_parquet_file_is_refused_in_one_line(tmp_path):
    p = tmp_path / "x.parquet"
    p.write_bytes(_parquet_bytes(_aime_rows()[:2]))
    code = (
        "import sys; sys.modules['pyarrow'] = None; from tui.cli import main; "
        f"sys.exit(main(['eval', {str(p)!r}, '--endpoint', 'http://127.0.0.1:9/v1']))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "O1TUI_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"o1tui: error: {p} is Parquet: pip install 'o1tui[download]' (pyarrow) or convert it "
        "to JSON Lines and pass the file"
    ]


def test_pyarrow_is_imported_only_when_a_parquet_file_is_read(tmp_path):
    p = tmp_path / "x.parquet"
    p.write_bytes(_parquet_bytes(_aime_rows()[:2]))
    code = (
        "import sys; import tui.cli, tui.cli.eval_cmd, tui.evals.named, tui.evals.lookup as s; "
        "before = 'pyarrow' in sys.modules; s.load_set(sys.argv[1]); "
        "print(before, 'pyarrow' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code, str(p)], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.stdout.split() == ["False", "True"], done.stderr


def test_a_parquet_file_that_unpacks_past_the_cap_is_refused_before_it_is_read(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    from tui.evals.sets import MAX_SET_FILE_BYTES

    p = tmp_path / "big.parquet"
    rows = {"question": ["x" * (1 << 20)] * 65, "answer": ["1"] * 65}  # 65 MiB of text
    pq.write_table(pa.table(rows), p, compression="zstd", use_dictionary=False)
    assert p.stat().st_size < 1 << 20  # small on disk
    with pytest.raises(SetFileError) as err:
        load_set(str(p))
    assert str(err.value) == (
        f"{p}: too big for a set file (more than {MAX_SET_FILE_BYTES:,} bytes uncompressed)"
    )


def test_cmath_as_one_json_array_found_in_the_listing(cache, monkeypatch):
    repo = NAMED_SETS["cmath"].sources[0].dataset_id

    def rows(n: int) -> bytes:
        items = [
            {
                "id": i,
                "grade": 1 + i % 6,
                "question": f"小明有{i}个苹果，又买了1个，一共几个？",
                "golden": str(i + 1),
            }
            for i in range(n)
        ]
        return json.dumps(items, ensure_ascii=False, indent=1).encode()

    files = {(repo, "data/dev.json"): rows(600), (repo, "data/test.json"): rows(1098)}
    with FakeModelScopeHub(files) as hub:
        monkeypatch.setenv("MODELSCOPE_ENDPOINT", hub.url)
        s = load_set("cmath")
    assert len(s.items) == 1098
    assert (s.items[5].question, s.items[5].answer) == ("小明有5个苹果，又买了1个，一共几个？", "6")
    assert s.items[5].meta == {"id": 5, "grade": 6}
    source = json.loads((set_dir("cmath") / SOURCE_FILE).read_text())
    assert (source["file"], source["items"]) == ("data/test.json", 1098)
