"""The `chunk` command as users and scripts see it: streams, exit codes, files."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from chunkwise.records import FIELDS, chunk_id
from tests.conftest import ROOT, run_cli


@pytest.fixture
def good_folder(tmp_path: Path, sample_docs: Path) -> Path:
    folder = tmp_path / "docs"
    shutil.copytree(sample_docs / "text", folder / "text")
    shutil.copytree(sample_docs / "markdown", folder / "markdown")
    return folder


@pytest.fixture
def mixed_folder(good_folder: Path, sample_docs: Path) -> Path:
    broken = good_folder / "broken"
    broken.mkdir()
    for name in BROKEN_TEXT:
        shutil.copy(sample_docs / "broken" / name, broken / name)
    return good_folder


BROKEN_TEXT = ("binary-junk.txt", "empty.txt", "invalid-utf8.txt")


def test_clean_folder_exits_0_with_only_records_on_stdout(good_folder: Path) -> None:
    res = run_cli("ingest", str(good_folder))
    assert res.returncode == 0, res.stderr
    # stderr holds only the end-of-run summary line.
    assert (
        res.stderr.startswith("chunk: 4 documents chunked, 0 failed")
        and res.stderr.count("\n") == 1
    )
    recs = res.records()
    assert recs and all(tuple(r) == FIELDS for r in recs)
    sources = {r["source"] for r in recs}
    assert len(sources) == 4
    for r in recs:
        assert r["id"] == chunk_id(r["source"], r["doc_id"], r["index"])
        assert r["n_tokens"] <= 512 and r["tokenizer"] == "cl100k_base"


def test_bad_files_are_reported_and_others_kept(mixed_folder: Path, tmp_path: Path) -> None:
    errors = tmp_path / "errors.jsonl"
    res = run_cli("ingest", str(mixed_folder), "--errors", str(errors))
    assert res.returncode == 1
    good_sources = {r["source"] for r in res.records()}
    assert len(good_sources) == 4, "every good file still produced chunks"
    err_lines = [json.loads(x) for x in res.stderr.splitlines() if x.startswith("{")]
    # empty.txt is skipped-empty, not an error (issue 22), and counted in the summary line.
    assert sorted(Path(e["source"]).name for e in err_lines) == [
        "binary-junk.txt",
        "invalid-utf8.txt",
    ]
    assert "1 empty" in res.stderr.splitlines()[-1]
    assert all(set(e) == {"source", "stage", "error", "message"} for e in err_lines)
    assert [json.loads(x) for x in errors.read_text().splitlines()] == err_lines


def test_nothing_usable_exits_3(sample_docs: Path) -> None:
    res = run_cli("ingest", str(sample_docs / "broken" / "binary-junk.txt"))
    assert res.returncode == 3 and res.stdout == ""


def test_empty_folder_exits_3(tmp_path: Path) -> None:
    res = run_cli("ingest", str(tmp_path))
    assert res.returncode == 3
    assert "no documents" in res.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["ingest", "does/not/exist"],
        ["ingest", "sample_docs", "--max-tokens", "0"],
        ["ingest", "sample_docs", "--chunker", "nope"],
        ["ingest", "sample_docs", "--tokenizer", "nope"],
        ["ingest", "sample_docs", "--format", "parquet"],
        ["ingest", "sample_docs", "--overlap", "600"],
        ["ingest", "sample_docs", "--bogus-flag"],
    ],
)
def test_usage_errors_exit_2_without_output(args: list[str]) -> None:
    res = run_cli(*args)
    assert res.returncode == 2, res.stderr
    assert res.stdout == ""
    assert res.stderr.strip()


def test_stdin_with_format_hint() -> None:
    text = b"# Title\n\nSome body text.\n\n## Part\n\nMore text.\n"
    res = run_cli("ingest", "-", "--format-hint", "markdown", input=text)
    assert res.returncode == 0, res.stderr
    recs = res.records()
    assert recs[0]["source"] == "<stdin>" and recs[0]["parser"] == "markdown"
    assert recs[0]["headings"] == ["Title"]


def test_output_is_byte_identical_across_runs_and_jobs(good_folder: Path) -> None:
    a = run_cli("ingest", str(good_folder), "--max-tokens", "64")
    b = run_cli("ingest", str(good_folder), "--max-tokens", "64")
    c = run_cli("ingest", str(good_folder), "--max-tokens", "64", "--jobs", "2")
    assert a.returncode == b.returncode == c.returncode == 0
    assert a.stdout == b.stdout == c.stdout
    assert len(a.records()) > 20


def test_parquet_rows_equal_jsonl_records(good_folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    pres = run_cli("ingest", str(good_folder), "--format", "parquet", "-o", str(out))
    jres = run_cli("ingest", str(good_folder))
    assert pres.returncode == 0 and pres.stdout == ""
    rows = pq.read_table(out).to_pylist()
    for r in rows:
        r["metadata"] = json.loads(r["metadata"])
    assert rows == jres.records()


def test_jsonl_to_file(good_folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    res = run_cli("ingest", str(good_folder), "-o", str(out))
    assert res.returncode == 0 and res.stdout == ""
    assert out.read_text() == run_cli("ingest", str(good_folder)).stdout


def test_head_ends_quietly(good_folder: Path) -> None:
    # Enough documents that the writer is still busy when head exits.
    for i in range(40):
        shutil.copy(good_folder / "text" / "apache-license-2.0.txt", good_folder / f"copy{i}.txt")
    cmd = (
        f"{sys.executable} -m chunkwise.cli.app ingest {good_folder} --max-tokens 32 | head -1; "
        'echo "status=${PIPESTATUS[0]}" >&2'
    )
    proc = subprocess.run(["bash", "-c", cmd], capture_output=True, cwd=ROOT, timeout=120)
    out = proc.stdout.decode()
    err = proc.stderr.decode()
    assert len(out.splitlines()) == 1 and json.loads(out)
    assert "status=0" in err
    assert "Traceback" not in err and "BrokenPipe" not in err


def test_sigterm_leaves_no_partial_parquet(good_folder: Path, tmp_path: Path) -> None:
    big = good_folder / "big"
    big.mkdir()
    text = (good_folder / "text" / "apache-license-2.0.txt").read_text()
    for i in range(1200):
        (big / f"doc{i:04d}.txt").write_text(f"Copy {i}.\n\n{text}")
    out = tmp_path / "out.parquet"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "chunkwise.cli.app",
            "ingest",
            str(good_folder),
            "--format",
            "parquet",
            "-o",
            str(out),
            "--max-tokens",
            "16",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    # Signal once the Parquet temporary exists (the run is writing), not after a fixed sleep: a
    # fast machine finishes 400 documents in under a second.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if any(p.name.startswith(".out.parquet") for p in tmp_path.iterdir()):
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.parquet")] == []


def test_help_and_version_are_fast_and_light() -> None:
    res = run_cli("--version")
    assert res.returncode == 0 and res.stdout.startswith("chunkwise ")
    code = (
        "import sys; from chunkwise.cli.app import app; "
        "heavy = [m for m in ('numpy', 'pyarrow', 'torch', 'pymupdf', 'trafilatura', "
        "'tree_sitter', 'tiktoken', 'sentence_transformers') if m in sys.modules]; "
        "print(heavy)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.stdout.strip() == "[]", proc.stdout + proc.stderr
    res = run_cli("--help")
    assert res.returncode == 0 and "ingest" in res.stdout


def test_parse_prints_the_document(sample_docs: Path) -> None:
    res = run_cli("parse", str(sample_docs / "markdown" / "nupunkt-README.md"), "--no-text")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["parser"] == "markdown" and "text" not in doc
    assert doc["elements"][0] == {**doc["elements"][0], "kind": "heading", "level": 1}


def test_parse_of_a_broken_file_is_one_error_line(sample_docs: Path) -> None:
    res = run_cli("parse", str(sample_docs / "broken" / "binary-junk.txt"))
    assert res.returncode == 3 and res.stdout == ""
    assert json.loads(res.stderr)["stage"] == "parse"


def test_plugins_lists_builtins() -> None:
    res = run_cli("plugins", "--json")
    data = json.loads(res.stdout)
    names = {k: {s["name"] for s in v} for k, v in data.items() if k != "tokenizers"}
    assert {"token", "recursive", "sentence"} <= names["chunkers"]
    assert {"text", "markdown"} <= names["parsers"]
    assert {"jsonl", "parquet"} <= names["writers"]


def test_every_broken_sample_is_one_error_record_and_loses_nothing(
    tmp_path: Path, sample_docs: Path
) -> None:
    folder = tmp_path / "mixed"
    shutil.copytree(sample_docs / "broken", folder / "broken")
    shutil.copy(sample_docs / "text" / "apache-license-2.0.txt", folder / "good.txt")
    broken = sorted(
        p.name
        for p in (sample_docs / "broken").iterdir()
        if "." in p.name and p.stat().st_size > 0  # empty files are skipped-empty
    )
    res = run_cli("ingest", str(folder), "-c", "recursive")
    assert res.returncode == 1
    errors = [json.loads(line) for line in res.stderr.splitlines() if line.startswith("{")]
    assert sorted(Path(e["source"]).name for e in errors) == broken
    assert all(e["message"] and "\n" not in e["message"] for e in errors)
    assert {r["source"] for r in res.records()} == {str(folder / "good.txt")}
