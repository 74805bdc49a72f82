"""Parallel runs through the real pipeline: same output as one process, hostile documents
isolated, bounded inputs, path safety."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chunkwise import registry
from chunkwise.errors import ErrorRecord, UsageError
from chunkwise.parsing import BaseParser
from chunkwise.pipeline import IngestOptions, Summary, check_output, ingest
from chunkwise.types import Document
from tests.conftest import MemoryWriter


def run(paths: list[str], **opts: Any) -> tuple[Summary, list[dict[str, Any]], list[ErrorRecord]]:
    writer = MemoryWriter()
    errors: list[ErrorRecord] = []
    summary = ingest(paths, IngestOptions(**opts), writer, on_error=errors.append)
    return summary, writer.records, errors


@pytest.fixture
def mixed_folder(tmp_path: Path, sample_docs: Path) -> Path:
    """Every sample format except the slow layout-analysed PDFs (broken PDFs stay in)."""
    folder = tmp_path / "docs"
    for sub in sorted(p.name for p in sample_docs.iterdir() if p.is_dir()):
        if sub != "pdf":
            shutil.copytree(sample_docs / sub, folder / sub)
    return folder


def test_jobs_give_the_same_output_as_one_process(mixed_folder: Path) -> None:
    one = run([str(mixed_folder)], jobs=1)
    isolated = run([str(mixed_folder)], jobs=1, isolate=True)
    two = run([str(mixed_folder)], jobs=2)
    assert one[1], "the folder produced chunks"
    assert one[2], "the broken samples produced error records"
    assert isolated == one
    assert two == one
    # Input order: sources appear in walk order, each document's chunks contiguous.
    sources = [r["source"] for r in one[1]]
    assert sources == sorted(sources, key=lambda s: (Path(s).parent.parts, s))


class HostileParser(BaseParser):
    """Misbehaves according to the file's extension, like a broken C library would."""

    name = "hostile"

    def parse_bytes(self, data: bytes, source: str) -> Document:
        if source.endswith(".hang"):
            while True:
                time.sleep(0.01)
        if source.endswith(".segv"):
            os.kill(os.getpid(), signal.SIGSEGV)
        if source.endswith(".boom"):
            raise RuntimeError("library bug")
        if source.endswith(".deep"):
            raise RecursionError("maximum recursion depth exceeded")
        text = data.decode()
        return self.document(data, source, text, [], {})


@pytest.fixture
def hostile_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = registry.Spec(
        "hostile", f"{__name__}:HostileParser", (".hang", ".segv", ".boom", ".deep"), "test"
    )
    monkeypatch.setitem(registry.BUILTINS["parsers"], "hostile", spec)
    registry.extension_map.cache_clear()
    yield
    registry.extension_map.cache_clear()


@pytest.mark.usefixtures("hostile_registry")
def test_hanging_and_crashing_documents_become_error_records(
    tmp_path: Path, sample_docs: Path
) -> None:
    good = tmp_path / "good"
    shutil.copytree(sample_docs / "text", good)
    _, reference, _ = run([str(good)], jobs=1)
    mixed = tmp_path / "mixed"
    shutil.copytree(good, mixed)
    for name in ("a.hang", "b.segv", "c.boom", "d.deep", "e.hang"):
        (mixed / name).write_text("hostile")
    start = time.monotonic()
    summary, records, errors = run([str(mixed)], jobs=2, timeout=1.0)
    assert time.monotonic() - start < 15
    by_name = {Path(e.source).name: e for e in errors}
    assert sorted(by_name) == ["a.hang", "b.segv", "c.boom", "d.deep", "e.hang"]
    assert by_name["a.hang"].error == "WorkerTimeout" and "1 s" in by_name["a.hang"].message
    assert by_name["b.segv"].error == "WorkerCrash" and "SIGSEGV" in by_name["b.segv"].message
    assert by_name["c.boom"].error == "RuntimeError"
    assert by_name["d.deep"].error == "RecursionError"
    assert summary.failed == 5 and summary.exit_code == 1
    # Every good document's output is complete and unchanged (sources, and so ids, differ).
    norm = [{**r, "source": Path(r["source"]).name, "id": None} for r in records]
    assert norm == [{**r, "source": Path(r["source"]).name, "id": None} for r in reference]


def test_oversized_files_are_error_records(tmp_path: Path, sample_docs: Path) -> None:
    folder = tmp_path / "docs"
    shutil.copytree(sample_docs / "text", folder)
    small = folder / "small.txt"
    small.write_text("tiny document\n")
    _summary, records, errors = run([str(folder)], jobs=2, max_file_size=100)
    assert {Path(r["source"]).name for r in records} == {"small.txt"}
    assert errors and all("over --max-file-size 100" in e.message for e in errors)
    assert all(e.stage == "read" for e in errors)


def test_a_fifo_is_an_error_not_a_hang(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    ok = tmp_path / "ok.txt"
    ok.write_text("fine\n")
    _summary, records, errors = run([str(fifo), str(ok)], jobs=1, isolate=True, timeout=10)
    assert [e.message for e in errors] == ["not a regular file (pipe, device or socket)"]
    assert [Path(r["source"]).name for r in records] == ["ok.txt"]


def test_symlinks_out_of_the_root_are_not_followed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("outside the input folder\n")
    root = tmp_path / "docs"
    root.mkdir()
    (root / "inside.txt").write_text("inside\n")
    (root / "link-in.txt").symlink_to(root / "inside.txt")
    (root / "link-out.txt").symlink_to(outside)
    (root / "loop.txt").symlink_to(root / "loop.txt")
    (root / "dangling.txt").symlink_to(tmp_path / "missing.txt")
    (root / "dirloop").symlink_to(root, target_is_directory=True)
    with caplog.at_level(logging.WARNING, logger="chunkwise"):
        _, records, errors = run([str(root)], jobs=2)
    names = sorted({Path(r["source"]).name for r in records})
    assert names == ["inside.txt"]  # link-in.txt leads to the same file: read once
    assert errors == []
    assert "link-out.txt: symlink leads out of" in caplog.text
    outside_dir = tmp_path / "elsewhere"
    outside_dir.mkdir()
    (outside_dir / "far.txt").write_text("in a linked folder\n")
    (root / "linked").symlink_to(outside_dir, target_is_directory=True)
    _, records, _ = run([str(root)], jobs=2)
    assert "far.txt" not in {Path(r["source"]).name for r in records}
    _, records, errors = run([str(root)], jobs=2, follow_symlinks=True)
    assert errors == []
    # dirloop/ (a link to the root itself) is skipped: no file is read twice through it.
    assert sorted(str(Path(r["source"]).relative_to(root)) for r in records if r["index"] == 0) == [
        "inside.txt",
        "link-out.txt",
        "linked/far.txt",
    ]


def test_output_never_overwrites_an_input(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    doc = root / "a.txt"
    doc.write_text("x\n")
    with pytest.raises(UsageError, match="is also an input"):
        check_output([str(doc)], str(doc))
    with pytest.raises(UsageError, match="would be read back"):
        check_output([str(root)], str(root / "out.md"))
    check_output([str(root)], str(root / "out.jsonl"))  # not a document type: fine
    check_output([str(root)], str(tmp_path / "a.txt"))
    check_output([str(root)], None)


def test_sources_are_consumed_lazily_with_a_bounded_window(tmp_path: Path) -> None:
    """An endless stream of sources still yields results: nothing lists all files first."""
    from chunkwise import pipeline
    from chunkwise.pipeline import Source, process_all

    doc = tmp_path / "a.txt"
    doc.write_text("one small document\n")
    pulled = 0

    def endless() -> Iterator[Source]:
        nonlocal pulled
        while True:
            pulled += 1
            yield Source(str(doc), path=doc)

    results = process_all(endless(), IngestOptions(jobs=2))
    first = [next(results) for _ in range(5)]
    results.close()  # type: ignore[attr-defined]
    assert all(r.error is None and r.chunks for r in first)
    # The window is 2 x jobs tasks; small files travel in batches (sized to ~50 ms of work, at
    # most _POOL_BATCH files), so at most that many sources are taken ahead of the consumer.
    assert pulled <= 5 + 2 * 2 * pipeline._POOL_BATCH + 1


@pytest.fixture
def no_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if the run starts worker processes."""
    from chunkwise import workers

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("this run should not start workers")

    monkeypatch.setattr(workers.OrderedPool, "__init__", refuse)


@pytest.mark.usefixtures("no_pool")
def test_in_process_documents_keep_the_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A few small text files run in this process, and --timeout still ends one that hangs
    there: the same WorkerTimeout record a worker's hang gives, the others unharmed."""
    from chunkwise.parsers.text import TextParser

    parse_bytes = TextParser.parse_bytes

    def hanging(self: TextParser, data: bytes, source: str) -> Document:
        while source.endswith("hang.txt"):
            pass  # pure Python, never sleeping: only the alarm can stop it
        return parse_bytes(self, data, source)

    monkeypatch.setattr(TextParser, "parse_bytes", hanging)
    (tmp_path / "a.txt").write_text("Hello world. " * 50)
    (tmp_path / "hang.txt").write_text("never parsed")
    (tmp_path / "z.txt").write_text("Goodbye now. " * 50)
    start = time.monotonic()
    summary, records, errors = run([str(tmp_path)], jobs=2, isolate=True, timeout=0.5)
    assert time.monotonic() - start < 10
    assert [(Path(e.source).name, e.error) for e in errors] == [("hang.txt", "WorkerTimeout")]
    assert "0.5 s (--timeout)" in errors[0].message
    assert [Path(r["source"]).name for r in records] == ["a.txt", "z.txt"]
    assert summary.failed == 1
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGALRM) is signal.SIG_DFL


def test_one_large_text_file_runs_in_this_process(tmp_path: Path) -> None:
    """A run whose only input is one plain-text file of any size skips the workers (its chunks
    would be pickled back), with the very output of a worker's run."""
    from chunkwise import bpe_index

    big = tmp_path / "big.txt"
    big.write_text("\n\n".join(f"Paragraph {i}. " + "Some words here. " * 40 for i in range(300)))
    assert big.stat().st_size > 128 * 1024
    pooled = run([str(big)], jobs=1, isolate=True)  # a single file and jobs=1: still a worker
    before = bpe_index.helpers_allowed()
    with pytest.MonkeyPatch.context() as mp:
        from chunkwise import workers

        mp.setattr(workers.OrderedPool, "__init__", _refuse_pool)
        alone = run([str(big)], jobs=2, isolate=True)
    assert alone == pooled and len(alone[1]) > 10
    assert bpe_index.helpers_allowed() == before


def test_a_folder_of_small_plain_files_runs_in_this_process_up_to_a_total(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What decides is the bytes: 150 small files (under _IN_PROCESS_MAX_TOTAL together) start
    no worker, with the output a pool gives; past the total, or past _IN_PROCESS_MAX_FILES
    files, the pool takes them."""
    from chunkwise import pipeline, workers

    folder = tmp_path / "notes"
    folder.mkdir()
    for i in range(150):
        (folder / f"n{i:03d}.txt").write_text(f"Note {i}. " + "Some words here. " * 60)
    size = sum(p.stat().st_size for p in folder.iterdir())
    assert 150 > 64 and size <= pipeline._IN_PROCESS_MAX_TOTAL
    pooled = run([str(folder)], jobs=2, isolate=True, max_memory=2**34)  # a limit forces the pool
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(workers.OrderedPool, "__init__", _refuse_pool)
        alone = run([str(folder)], jobs=2, isolate=True)
    assert alone[1] == pooled[1] and len(alone[1]) >= 150
    opts = IngestOptions(jobs=2, isolate=True)
    srcs = [pipeline.Source(p.name, path=p) for p in sorted(folder.iterdir())]
    assert pipeline._small_plain_files(srcs, opts)
    monkeypatch.setattr(pipeline, "_IN_PROCESS_MAX_TOTAL", size - 1)
    assert not pipeline._small_plain_files(srcs, opts)
    started: list[int] = []
    real_init = workers.OrderedPool.__init__

    def counting(self: Any, *args: Any, **kwargs: Any) -> None:
        started.append(1)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(workers.OrderedPool, "__init__", counting)
    assert run([str(folder)], jobs=2, isolate=True)[1] == pooled[1] and started


def _refuse_pool(*args: Any, **kwargs: Any) -> None:
    raise AssertionError("this run should not start workers")


def test_deadlines_disarm(monkeypatch: pytest.MonkeyPatch) -> None:
    """A step done in time leaves no alarm behind; an alarm that comes after the step ended
    raises nothing, nor one that comes between the step's end and the disarming."""
    from chunkwise.pipeline import _Deadlines

    ran: list[int] = []
    with _Deadlines(5.0) as deadlines:
        assert deadlines.active
        step = deadlines.batch()
        step(0, lambda: ran.append(0))
        assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
        deadlines._fire(signal.SIGALRM, None)  # late: not armed any more

        def late_alarm() -> None:
            ran.append(1)
            deadlines._fire(signal.SIGALRM, None)  # the step's code is done, still armed

        step(1, late_alarm)
        assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert ran == [0, 1]
    assert signal.getsignal(signal.SIGALRM) is signal.SIG_DFL


def test_in_process_deadline_covers_a_whole_document() -> None:
    """Each step of a document runs under what its earlier steps left of --timeout, as in a
    worker: three steps of 0.3 s each against a 0.5 s deadline stop the document in its second."""
    from chunkwise.pipeline import _Deadline, _Deadlines

    stopped: list[int] = []
    with _Deadlines(0.5) as deadlines:
        step = deadlines.batch()
        for n in range(3):

            def slow(n: int = n) -> None:
                try:
                    end = time.monotonic() + 0.3
                    while time.monotonic() < end:
                        pass
                except _Deadline:
                    stopped.append(n)

            step(0, slow)
            if stopped:
                break
        other: list[int] = []
        step(1, lambda: other.append(1))  # another document has its own time
    assert stopped == [1] and other == [1]
