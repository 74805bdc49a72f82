"""The pipeline's accounting (chunkwise/run.py, chunkwise/command.py) without subprocesses: every
document lands in exactly one count, exit codes follow the counts, and with --state the old
versions of changed, failed and removed files are retired in the right order."""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from chunkwise.writers.jsonl import JsonlWriter

from chunkwise.command import IngestCommand
from chunkwise.errors import (
    EXIT_LOCKED,
    EXIT_OK,
    EXIT_OUTPUT,
    EXIT_USAGE,
    DocumentError,
    ErrorRecord,
    UsageError,
)
from chunkwise.pipeline import IngestOptions, Result, Source, Summary
from chunkwise.run import Deletes, Incremental, Ingest
from chunkwise.state import FileState, State, state_key
from chunkwise.types import Chunk, Document
from tests.conftest import MemoryWriter


class Collect(MemoryWriter):
    """In-memory output; ``fail_on`` names a source whose records the writer rejects (as a writer
    rejects a record it cannot serialise), ``table`` collects ``delete`` calls (a lance table)."""

    name = "collect"

    def __init__(self, *, fail_on: str = "", table: bool = False) -> None:
        super().__init__()
        self.table_deletes: list[dict[str, Any]] = []
        self.fail_on = fail_on
        self.began: list[bool] = []
        if not table:
            self.delete = None  # type: ignore[assignment]

    def begin(self, settings: Any, *, incremental: bool) -> None:
        self.began.append(incremental)

    def write(self, records: Iterable[dict[str, Any]]) -> None:
        records = list(records)
        if any(r.get("source") == self.fail_on and "deleted" not in r for r in records):
            raise ValueError("cannot serialise")
        super().write(records)

    def delete(self, records: Iterable[dict[str, Any]]) -> None:  # type: ignore[override]
        self.table_deletes.extend(records)


def ok(name: str, n: int = 2, path: str | None = None) -> Result:
    doc = Document(source=name, doc_id=f"id-{name}", text="x" * n, parser="text")
    chunks = [
        Chunk(f"id-{name}", i, i, i + 1, "x", 1, "cl100k_base", "recursive") for i in range(n)
    ]
    return Result(name, doc=doc, chunks=chunks, path=path, content_hash=f"h-{name}", size=n)


def bad(name: str, path: str | None = None) -> Result:
    rec = ErrorRecord(source=name, stage="parse", error="ParseError", message="broken")
    return Result(name, error=rec, path=path)


def engine_of(results: list[Result]) -> Any:
    def engine(
        sources: Iterable[Source], options: IngestOptions, should_stop: Any
    ) -> Iterator[Result]:
        list(sources)  # the walk runs (its skips are counted) before the results arrive
        yield from results

    return engine


@pytest.fixture
def here(tmp_path: Path) -> list[str]:
    (tmp_path / "a.txt").write_text("alpha")
    return [str(tmp_path)]


# -- counts and exit codes -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("counts", "code"),
    [
        ({}, 3),  # nothing found
        ({"documents": 2}, 0),
        ({"documents": 2, "failed": 1}, 1),
        ({"documents": 2, "failed": 2}, 3),
        ({"documents": 2, "failed": 2, "skipped": 1}, 1),  # an incremental run kept the rest
        ({"skipped": 4}, 0),  # nothing changed since the last run
        ({"deleted": 1}, 0),  # only removals
        ({"ignored": {"empty": 3}}, 0),  # a folder of empty __init__.py files
        ({"ignored": {"unsupported format": 3}}, 3),  # nothing we read
    ],
)
def test_exit_code_follows_counts(counts: dict[str, Any], code: int) -> None:
    assert Summary(**counts).exit_code == code


def test_every_result_lands_in_one_count(here: list[str]) -> None:
    results = [ok("a", 3), bad("b"), Result("c", empty=True), Result("d", unchanged=True), ok("e")]
    writer, errors, seen = Collect(), [], []
    summary = Ingest(
        here,
        IngestOptions(jobs=0),
        writer,
        on_error=errors.append,
        on_result=seen.append,
        engine=engine_of(results),
    ).run()
    assert (summary.documents, summary.failed, summary.chunks, summary.skipped) == (3, 1, 5, 1)
    assert summary.ignored == {"empty": 1} and summary.exit_code == 1
    assert [e.source for e in errors] == ["b"]
    assert [r.source for r in seen] == ["a", "b", "e"]  # what the progress display counts
    assert [r["source"] for r in writer.records] == ["a"] * 3 + ["e"] * 2
    assert writer.began == [False]


def test_real_folder_counts_skips_by_reason(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text("Some words here.\n")
    (tmp_path / "also.md").write_text("# Title\n\nBody.\n")
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "blank.md").write_text("  \n\n\t\n")
    (tmp_path / "junk.txt").write_bytes(b"\x00\x01\x02 binary")
    (tmp_path / "data.xyz").write_bytes(b"whatever")
    good = str(tmp_path / "good.txt")
    writer, errors = Collect(), []
    summary = Ingest(
        [str(tmp_path), good], IngestOptions(jobs=0), writer, on_error=errors.append
    ).run()
    assert summary.documents == 3 and summary.failed == 1
    assert summary.ignored == {"empty": 2, "unsupported format": 1, "duplicate": 1}
    assert summary.chunks == len(writer.records) > 0
    assert [Path(e.source).name for e in errors] == ["junk.txt"]
    assert summary.exit_code == 1


def test_strict_makes_empty_files_failures(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_bytes(b"")
    errors: list[ErrorRecord] = []
    summary = Ingest(
        [str(tmp_path)], IngestOptions(jobs=0, strict=True), Collect(), on_error=errors.append
    ).run()
    assert (summary.documents, summary.failed, summary.ignored) == (1, 1, {})
    assert summary.exit_code == 3 and "empty file" in errors[0].message


def test_a_record_the_writer_rejects_fails_that_document_only(here: list[str]) -> None:
    writer, errors = Collect(fail_on="b"), []
    results = [ok("a"), ok("b"), ok("c")]
    summary = Ingest(
        here, IngestOptions(), writer, on_error=errors.append, engine=engine_of(results)
    ).run()
    assert (summary.documents, summary.failed, summary.chunks) == (3, 1, 4)
    assert [(e.source, e.stage) for e in errors] == [("b", "write")]


def test_stop_request_ends_the_run_after_the_current_document(here: list[str]) -> None:
    writer = Collect()
    taken: list[str] = []
    summary = Ingest(
        here,
        IngestOptions(),
        writer,
        on_result=lambda r: taken.append(r.source),
        should_stop=lambda: bool(taken),
        engine=engine_of([ok("a"), ok("b")]),
    ).run()
    assert summary.interrupted and summary.documents == 1 and taken == ["a"]


# -- embedding in batches ------------------------------------------------------------------------


class Embedder:
    model_name = "test-model"

    def __init__(self, fail: BaseException | None = None) -> None:
        self.fail = fail
        self.batches: list[list[str]] = []

    def embed(self, docs: list[Document], chunks: list[list[Chunk]]) -> list[list[Chunk]]:
        self.batches.append([d.source for d in docs])
        if self.fail is not None:
            raise self.fail
        return [[c for c in cs] for cs in chunks]


@pytest.fixture
def three(tmp_path: Path) -> list[str]:
    for name in ("a", "b", "c"):
        (tmp_path / f"{name}.txt").write_text(f"Words of {name}.")
    (tmp_path / "b2.txt").write_bytes(b"\x00\x01 junk")  # fails before embedding
    return [str(tmp_path)]


def test_embedding_goes_in_batches_of_documents(three: list[str]) -> None:
    emb = Embedder()
    summary = Ingest(
        three,
        IngestOptions(jobs=0),
        Collect(),
        embedder=emb,  # type: ignore[arg-type]
        embed_batch_docs=2,
    ).run()
    assert [[Path(s).name for s in b] for b in emb.batches] == [["a.txt", "b.txt"], ["c.txt"]]
    assert (summary.documents, summary.failed) == (4, 1)


def test_a_failing_embedding_batch_fails_each_of_its_documents(three: list[str]) -> None:
    emb = Embedder(fail=DocumentError("too long", stage="embed"))
    errors: list[ErrorRecord] = []
    writer = Collect()
    summary = Ingest(
        three,
        IngestOptions(jobs=0),
        writer,
        on_error=errors.append,
        embedder=emb,  # type: ignore[arg-type]
        embed_batch_docs=2,
    ).run()
    assert (summary.documents, summary.failed, summary.chunks) == (4, 4, 0)
    assert not writer.records
    assert [(Path(e.source).name, e.stage) for e in errors] == [
        ("a.txt", "embed"), ("b.txt", "embed"), ("b2.txt", "parse"), ("c.txt", "embed")
    ]  # fmt: skip


def test_a_usage_error_while_embedding_ends_the_run(three: list[str]) -> None:
    run = Ingest(
        three,
        IngestOptions(jobs=0),
        Collect(),
        embedder=Embedder(fail=UsageError("no such model")),  # type: ignore[arg-type]
    )
    with pytest.raises(UsageError):
        run.run()


def test_results_of_an_engine_arrive_embedded(here: list[str]) -> None:
    emb = Embedder()
    summary = Ingest(
        here,
        IngestOptions(),
        Collect(),
        embedder=emb,  # type: ignore[arg-type]
        engine=engine_of([ok("a"), ok("b")]),
    ).run()
    assert emb.batches == [] and summary.chunks == 4


# -- --state: deletes and what is recorded -------------------------------------------------------


def _old(path: str, source: str) -> FileState:
    return FileState(state_key(path), source, 1, 1, "old-hash", "opts", "old-id", ("i:0", "i:1"))


def test_deletes_go_to_the_table_and_to_delete_records(tmp_path: Path) -> None:
    summary = Summary()
    writer, out = Collect(table=True), Collect()
    Deletes(writer, out, emit=True, summary=summary)(_old("/x/a.txt", "a.txt"), "changed")
    assert [r["reason"] for r in writer.table_deletes] == ["changed"]
    assert out.records == [
        {"deleted": True, "doc_id": "old-id", "source": "a.txt", "ids": ["i:0", "i:1"],
         "reason": "changed"}
    ]  # fmt: skip
    assert summary.deleted == 1
    # Without --emit-deletes only the table hears of it, and nothing is counted.
    summary = Summary()
    plain = Collect()
    Deletes(plain, None, emit=False, summary=summary)(_old("/x/a.txt", "a.txt"), "removed")
    assert summary.deleted == 0 and not plain.records and plain.delete is None


def _rerun(
    tmp_path: Path, writer: Collect, result: Callable[[str], Result]
) -> tuple[Summary, FileState | None]:
    """A run with --emit-deletes over a.txt, whose old version the state holds, where the engine
    gives ``result(path)``: the summary and a.txt's state row afterwards."""
    path = str(tmp_path / "a.txt")
    (tmp_path / "a.txt").write_text("a")
    with State(tmp_path / "s.db") as state:
        state.record(_old(path, "a.txt"))
        state.commit()
        summary = Ingest(
            [path],
            IngestOptions(),
            writer,
            state=state,
            emit_deletes=True,
            engine=engine_of([result(path)]),
        ).run()
        return summary, state.get(state_key(path))


def test_changed_file_retires_its_old_version_before_the_new_records(tmp_path: Path) -> None:
    writer = Collect()
    summary, row = _rerun(tmp_path, writer, lambda path: ok("a.txt", 2, path=path))
    assert writer.began == [True]  # the table is told it is an incremental run
    assert [r.get("deleted", False) for r in writer.records] == [True, False, False]
    assert writer.records[0]["reason"] == "changed" and summary.deleted == 1
    assert row is not None and row.content_hash == "h-a.txt" and row.doc_id == "id-a.txt"
    assert len(row.chunk_ids) == 2


def test_failed_file_retires_and_forgets_its_old_version(tmp_path: Path) -> None:
    writer = Collect()
    summary, row = _rerun(tmp_path, writer, lambda path: bad("a.txt", path=path))
    # Forgotten: the next run tries the file again instead of skipping it as unchanged.
    assert row is None
    assert [r["reason"] for r in writer.records] == ["changed"]
    assert (summary.failed, summary.deleted, summary.exit_code) == (1, 1, 3)


def test_rejected_write_after_the_deletes_forgets_the_file(tmp_path: Path) -> None:
    writer = Collect(fail_on="a.txt")
    summary, row = _rerun(tmp_path, writer, lambda path: ok("a.txt", path=path))
    assert row is None
    # One delete record (before the write failed), not a second one for the failure.
    assert [r["reason"] for r in writer.records] == ["changed"] and summary.deleted == 1


def test_unchanged_bytes_under_a_new_mtime_touch_the_state(tmp_path: Path) -> None:
    path = str(tmp_path / "a.txt")
    (tmp_path / "a.txt").write_text("a")
    with State(tmp_path / "s.db") as state:
        state.record(_old(path, "a.txt"))
        unchanged = Result("a.txt", path=path, unchanged=True, size=5, mtime_ns=123)
        summary = Ingest(
            [path], IngestOptions(), Collect(), state=state, engine=engine_of([unchanged])
        ).run()
        row = state.get(state_key(path))
    assert (summary.skipped, summary.documents, summary.exit_code) == (1, 0, 0)
    assert row is not None and (row.size, row.mtime_ns, row.content_hash) == (5, 123, "old-hash")


def test_incremental_sources_skip_by_stat_and_hand_on_the_old_hash(tmp_path: Path) -> None:
    same, moved, new = (tmp_path / n for n in ("same.txt", "moved.txt", "new.txt"))
    for p in (same, moved, new):
        p.write_text("text")
    os.utime(moved, ns=(1, 1))
    summary = Summary()
    with State(tmp_path / "s.db") as state:
        for p, mtime in ((same, same.stat().st_mtime_ns), (moved, 2)):
            state.record(FileState(state_key(p), p.name, 4, mtime, f"h-{p.name}", "opts", "d"))
        inc = Incremental(
            state, "opts", Deletes(Collect(), None, emit=False, summary=summary),
            streaming=False, summary=summary,
        )  # fmt: skip
        out = list(inc.sources(Source(p.name, path=p) for p in (same, moved, new)))
    assert summary.skipped == 1
    assert [(s.name, s.known_hash) for s in out] == [
        ("moved.txt", "h-moved.txt"),
        ("new.txt", None),
    ]


def test_other_options_re_chunk_every_file(tmp_path: Path) -> None:
    p = tmp_path / "a.txt"
    p.write_text("text")
    summary = Summary()
    with State(tmp_path / "s.db") as state:
        state.record(FileState(state_key(p), "a.txt", 4, p.stat().st_mtime_ns, "h", "old", "d"))
        inc = Incremental(
            state, "new", Deletes(Collect(), None, emit=False, summary=summary),
            streaming=False, summary=summary,
        )  # fmt: skip
        assert [s.known_hash for s in inc.sources([Source("a.txt", path=p)])] == [None]
    assert summary.skipped == 0


def test_removed_files_become_delete_records_unless_interrupted(tmp_path: Path) -> None:
    (tmp_path / "kept.txt").write_text("kept words")
    gone = str(tmp_path / "gone.txt")
    for stop, expected in ((True, []), (False, ["removed"])):
        writer = Collect()
        with State(tmp_path / f"s{stop}.db") as state:
            state.record(_old(gone, "gone.txt"))
            summary = Ingest(
                [str(tmp_path)],
                IngestOptions(jobs=0),
                writer,
                state=state,
                emit_deletes=True,
                should_stop=lambda stop=stop: stop,  # type: ignore[misc]
            ).run()
            assert (state.get(state_key(gone)) is None) == (not stop)
        assert [r["reason"] for r in writer.records if r.get("deleted")] == expected
        assert summary.interrupted == stop


def test_streaming_output_checkpoints_the_state_as_it_writes(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("alpha words")
    db = tmp_path / "s.db"
    with State(db) as state:
        Ingest(
            [str(tmp_path)],
            IngestOptions(jobs=0),
            JsonlWriter(stream=io.BytesIO()),
            state=state,
        ).run()
        # Not committed by the caller: a streaming run has committed what it wrote already.
        with _Reader(db) as rows:
            assert rows == 1


class _Reader:
    """A second connection to the state's database: what another process would read."""

    def __init__(self, db: Path) -> None:
        import sqlite3

        self.conn = sqlite3.connect(db)

    def __enter__(self) -> int:
        (n,) = self.conn.execute("SELECT COUNT(*) FROM files").fetchone()
        return int(n)

    def __exit__(self, *exc: object) -> None:
        self.conn.close()


# -- the command around the run ------------------------------------------------------------------


def test_command_prints_the_summary_line_and_returns_the_exit_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.txt").write_text("alpha words")
    (tmp_path / "b.txt").write_bytes(b"\x00\x01 junk")
    (tmp_path / "c.zzz").write_text("skip me")
    writer = Collect()
    code = IngestCommand([str(tmp_path)], IngestOptions(jobs=0), writer).run()
    err = capsys.readouterr().err
    assert code == 1
    assert '"stage": "read"' in err or '"stage": "parse"' in err  # the error record
    assert (
        f"chunk: 1 documents chunked, 1 failed, 1 skipped (1 unsupported format), "
        f"{len(writer.records)} chunks written in"
    ) in err


def test_command_usage_errors_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.txt").write_text("alpha")
    writer = Collect()
    code = IngestCommand([str(tmp_path)], IngestOptions(), writer, emit_deletes=True).run()
    assert code == EXIT_USAGE and "--emit-deletes needs --state" in capsys.readouterr().err
    assert not writer.records


def test_command_returns_75_when_another_run_holds_the_state(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("alpha")
    db = tmp_path / "s.db"
    with State(db):
        code = IngestCommand(
            [str(tmp_path / "docs")], IngestOptions(jobs=0), Collect(), state_path=db
        ).run()
    assert code == EXIT_LOCKED and "chunk: error:" in capsys.readouterr().err


class FullDisk(Collect):
    def write(self, records: Iterable[dict[str, Any]]) -> None:
        raise OSError(28, "No space left on device")


def test_command_returns_74_when_the_output_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.txt").write_text("alpha words")
    code = IngestCommand(
        [str(tmp_path)], IngestOptions(jobs=0), FullDisk(), output=str(tmp_path / "o.jsonl")
    ).run()
    err = capsys.readouterr().err
    assert code == EXIT_OUTPUT and "No space left on device; nothing kept" in err


def test_command_commits_the_state_only_after_the_output_closed(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("alpha words")
    db = tmp_path / "s.db"

    class Check(Collect):
        def close(self) -> None:
            with _Reader(db) as rows:
                self.rows_at_close = rows

    first = Check()
    assert (
        IngestCommand([str(tmp_path / "docs")], IngestOptions(jobs=0), first, state_path=db).run()
        == EXIT_OK
    )
    assert first.rows_at_close == 0
    with _Reader(db) as rows:
        assert rows == 1
    again = Collect()
    code = IngestCommand(
        [str(tmp_path / "docs")], IngestOptions(jobs=0), again, state_path=db
    ).run()
    assert code == EXIT_OK and not again.records


# -- which runs start workers --------------------------------------------------------------------


class _PoolStarted(Exception):
    pass


def _no_pool(*args: Any, **kwargs: Any) -> Any:
    raise _PoolStarted


@pytest.mark.parametrize(
    ("files", "pad", "pool"),
    [(1, 0, False), (65, 0, False), (256, 0, False), (257, 0, True), (40, 14_000, True)],
)
def test_a_few_small_text_files_start_no_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: int, pad: int, pool: bool
) -> None:
    """Small plain files stay in this process up to _IN_PROCESS_MAX_FILES files and
    _IN_PROCESS_MAX_TOTAL bytes in all (40 files of ~14 KB are over it)."""
    import chunkwise.workers
    from chunkwise.pipeline import iter_sources, process_all

    for i in range(files):
        (tmp_path / f"{i:03d}.md").write_text(f"# Note {i}\n\nSome words.\n" + "x" * pad)
    monkeypatch.setattr(chunkwise.workers, "OrderedPool", _no_pool)
    options = IngestOptions(jobs=2)
    results = process_all(iter_sources([str(tmp_path)], options.walk), options)
    if pool:
        with pytest.raises(_PoolStarted):
            list(results)
    else:
        assert [r.error for r in results] == [None] * files


def test_a_file_of_another_format_sends_all_to_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import chunkwise.workers
    from chunkwise.pipeline import iter_sources, process_all

    (tmp_path / "a.txt").write_text("words")
    (tmp_path / "b.html").write_text("<p>words</p>")  # lxml parses it: a worker guards it
    monkeypatch.setattr(chunkwise.workers, "OrderedPool", _no_pool)
    options = IngestOptions(jobs=2)
    with pytest.raises(_PoolStarted):
        list(process_all(iter_sources([str(tmp_path)], options.walk), options))
