"""Incremental runs: skip unchanged files, re-chunk changed ones, report gone ones, commit the
state only once the output is durable, and keep a second run off the same state file."""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from chunkwise.errors import ErrorRecord, UsageError
from chunkwise.pipeline import IngestOptions, Summary, ingest, options_hash, writer_is_streaming
from chunkwise.state import State, StateLocked, state_key
from tests.conftest import MemoryWriter


def run(
    paths: list[str], db: Path, *, emit_deletes: bool = True, commit: bool = True, **opts: Any
) -> tuple[Summary, list[dict[str, Any]], list[ErrorRecord]]:
    writer = MemoryWriter()
    errors: list[ErrorRecord] = []
    with State(db) as state:
        summary = ingest(
            paths,
            IngestOptions(**opts),
            writer,
            on_error=errors.append,
            state=state,
            emit_deletes=emit_deletes,
        )
        writer.close()
        if commit:
            state.commit()
    return summary, writer.records, errors


@pytest.fixture
def docs(tmp_path: Path, sample_docs: Path) -> Path:
    folder = tmp_path / "docs"
    shutil.copytree(sample_docs / "text", folder / "text")
    shutil.copytree(sample_docs / "markdown", folder / "markdown")
    return folder


def chunks_of(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if not r.get("deleted")]


def deletes_of(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r.get("deleted")]


def test_second_run_skips_everything_and_exits_0(docs: Path, tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    first, recs, _ = run([str(docs)], db)
    assert first.documents == 4 and chunks_of(recs) and not deletes_of(recs)
    second, recs2, _ = run([str(docs)], db)
    assert recs2 == []
    assert (second.documents, second.skipped, second.exit_code) == (0, 4, 0)


def test_changed_added_and_removed_files(docs: Path, tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    _, first, _ = run([str(docs)], db)
    changed = docs / "text" / "apache-license-2.0.txt"
    old_ids = [r["id"] for r in first if r["source"] == str(changed)]
    old_doc = next(r["doc_id"] for r in first if r["source"] == str(changed))
    changed.write_text(changed.read_text() + "\nAPPENDIX\n")
    removed = next((docs / "markdown").glob("*.md"))
    removed_doc = next(r["doc_id"] for r in first if r["source"] == str(removed))
    removed.unlink()
    (docs / "text" / "new.txt").write_text("a brand new document\n")
    summary, recs, _ = run([str(docs)], db)
    assert summary.documents == 2 and summary.skipped == 2
    # The stale version of the changed file is deleted before its new chunks arrive.
    first_changed = next(i for i, r in enumerate(recs) if r.get("source") == str(changed))
    assert recs[first_changed] == {
        "deleted": True,
        "doc_id": old_doc,
        "source": str(changed),
        "ids": old_ids,
        "reason": "changed",
    }
    new_sources = {r["source"] for r in chunks_of(recs)}
    assert new_sources == {str(changed), str(docs / "text" / "new.txt")}
    gone = [d for d in deletes_of(recs) if d["reason"] == "removed"]
    assert [(d["doc_id"], d["source"]) for d in gone] == [(removed_doc, str(removed))]
    assert summary.deleted == 2
    # A third run has nothing to do.
    third, recs3, _ = run([str(docs)], db)
    assert recs3 == [] and third.skipped == 4


@pytest.mark.parametrize("blank", [b"", b"  \n\t\n"])
def test_an_empty_file_is_known_to_the_state(tmp_path: Path, blank: bytes) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("Some text in a file.\n")
    empty = folder / "e.txt"
    empty.write_bytes(blank)
    db = tmp_path / "state.db"
    first, recs, _ = run([str(folder)], db)
    assert first.ignored == {"empty": 1} and first.documents == 1
    with State(db) as st:
        row = st.get(state_key(empty))
        assert row is not None and row.chunk_ids == ()
    # Known: not read again, counted unchanged (it was skipped-empty on every run).
    second, recs, _ = run([str(folder)], db)
    assert (second.skipped, second.ignored, second.documents, recs) == (2, {}, 0, [])
    # It gains text: chunks, and no delete record (it had no chunks to delete).
    empty.write_text("Now it has words.\n")
    third, recs, _ = run([str(folder)], db)
    assert third.documents == 1 and not deletes_of(recs)
    ids = [r["id"] for r in chunks_of(recs)]
    assert ids and all(r["source"] == str(empty) for r in chunks_of(recs))
    # Emptied again: its chunks are retired (they stayed in the index before).
    empty.write_bytes(blank)
    os.utime(empty, ns=(time.time_ns(), time.time_ns() + 10**9))
    fourth, recs, _ = run([str(folder)], db)
    assert fourth.ignored == {"empty": 1}
    assert [(d["ids"], d["reason"]) for d in deletes_of(recs)] == [(ids, "changed")]
    assert not chunks_of(recs)
    # Removed: the state forgets it and says so.
    empty.unlink()
    fifth, recs, _ = run([str(folder)], db)
    assert [(d["source"], d["ids"], d["reason"]) for d in recs] == [(str(empty), [], "removed")]
    with State(db) as st:
        assert st.get(state_key(empty)) is None
    assert fifth.exit_code == 0


def test_touched_but_identical_files_are_not_rechunked(docs: Path, tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    run([str(docs)], db)
    f = docs / "text" / "apache-license-2.0.txt"
    later = time.time() + 100
    os.utime(f, (later, later))
    summary, recs, _ = run([str(docs)], db)
    assert recs == [] and summary.skipped == 4 and summary.documents == 0
    with State(db) as st:
        assert st.get(state_key(f)).mtime_ns == os.stat(f).st_mtime_ns  # type: ignore[union-attr]


def test_changed_options_rechunk_and_retire_old_ids(docs: Path, tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    run([str(docs)], db)
    summary, recs, _ = run([str(docs)], db, chunker="token")
    assert summary.documents == 4
    assert {d["reason"] for d in deletes_of(recs)} == {"changed"}
    assert {r["chunker"] for r in chunks_of(recs)} == {"token"}
    assert options_hash(IngestOptions()) != options_hash(IngestOptions(chunker="token"))


def test_no_deletes_without_emit_deletes_but_state_forgets(docs: Path, tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    run([str(docs)], db)
    victim = docs / "text" / "apache-license-2.0.txt"
    victim.unlink()
    _, recs, _ = run([str(docs)], db, emit_deletes=False)
    assert recs == []
    with State(db) as st:
        assert st.get(state_key(victim)) is None and st.count() == 3


def test_files_outside_this_runs_inputs_are_not_reported_gone(docs: Path, tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    run([str(docs)], db)
    # Same state, only one sub-folder this time: the other folder's files are not "deleted".
    summary, recs, _ = run([str(docs / "text")], db)
    assert recs == [] and summary.deleted == 0
    # A sibling folder whose name extends the other's ("text2") must not match "text/".
    (docs / "text2").mkdir()
    (docs / "text2" / "x.txt").write_text("x\n")
    run([str(docs / "text2")], db)
    summary, recs, _ = run([str(docs / "text")], db)
    assert recs == []


def test_failed_files_are_retried_and_old_chunks_retired(docs: Path, tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    _, _first, _ = run([str(docs)], db)
    f = docs / "text" / "apache-license-2.0.txt"
    f.write_bytes(b"\x00\x01binary now")
    _summary, recs, errors = run([str(docs)], db)
    assert [Path(e.source).name for e in errors] == [f.name]
    assert [d["reason"] for d in deletes_of(recs)] == ["changed"]
    _again, recs2, errors2 = run([str(docs)], db)
    assert len(errors2) == 1 and recs2 == [], "a failing file is retried, its deletion not repeated"


def test_state_is_not_committed_when_the_output_was_not(docs: Path, tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    run([str(docs)], db, commit=False)  # e.g. killed before the Parquet file was renamed
    summary, recs, _ = run([str(docs)], db)
    assert summary.documents == 4 and summary.skipped == 0 and chunks_of(recs)


def test_streaming_output_commits_as_documents_are_written(docs: Path, tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    writer = MemoryWriter(durable_writes=True)
    with State(db) as state:
        ingest([str(docs)], IngestOptions(), writer, state=state)
        # No explicit commit: records already reached the reader, so the state did too.
    with State(db) as state:
        assert state.count() == 4


def test_interrupted_walk_reports_no_deletions(docs: Path, tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    run([str(docs)], db)
    (docs / "text" / "apache-license-2.0.txt").unlink()
    (docs / "markdown" / "x.md").write_text("# new\n\nbody\n")
    writer = MemoryWriter()
    with State(db) as state:
        summary = ingest(
            [str(docs)], IngestOptions(), writer, state=state, emit_deletes=True,
            should_stop=lambda: True,
        )  # fmt: skip
        state.commit()
    assert summary.interrupted and deletes_of(writer.records) == []
    with State(db) as state:
        assert state.count() == 4  # nothing forgotten on an unfinished walk


def test_writer_detection() -> None:
    from chunkwise.writers.jsonl import JsonlWriter

    assert writer_is_streaming(JsonlWriter(stream=open(os.devnull, "wb")))  # noqa: SIM115
    assert not writer_is_streaming(MemoryWriter())


def test_second_run_on_the_same_state_is_locked_out(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    with State(db):
        with pytest.raises(StateLocked, match=r"in use by another chunk run \(pid \d+\)"):
            State(db)
        start = time.monotonic()
        with pytest.raises(StateLocked, match=r"waited 0\.3 s"):
            State(db, wait=0.3)
        assert time.monotonic() - start >= 0.3
    with State(db):  # released on close
        pass


def test_a_foreign_file_is_not_used_as_state(tmp_path: Path) -> None:
    junk = tmp_path / "notes.db"
    junk.write_text("not sqlite at all " * 100)
    with pytest.raises(UsageError, match="not a chunkwise state file"):
        State(junk)
    other = tmp_path / "other.db"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE users (name TEXT)")
    con.commit()
    con.close()
    with pytest.raises(UsageError, match="not a chunkwise state file"):
        State(other)


def test_parallel_incremental_equals_serial(docs: Path, tmp_path: Path) -> None:
    a, recs_a, _ = run([str(docs)], tmp_path / "a.db", jobs=1)
    b, recs_b, _ = run([str(docs)], tmp_path / "b.db", jobs=2)
    assert recs_a == recs_b and a == b
