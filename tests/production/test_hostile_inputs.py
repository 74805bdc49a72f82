"""Inputs that used to end the whole run (issue 21): byte names, deep trees, a failing stage; and
ids that stay unique when the same bytes live at two paths."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from chunkwise import registry
from chunkwise.chunking import ChunkerConfig
from chunkwise.errors import ErrorRecord
from chunkwise.pipeline import IngestOptions, ingest
from chunkwise.records import chunk_id
from chunkwise.types import Chunk, Document
from chunkwise.walk import WalkOptions, walk
from tests.conftest import MemoryWriter, run_cli


def run(paths: list[str], **kw: Any) -> tuple[MemoryWriter, list[ErrorRecord], Any]:
    writer, errors = MemoryWriter(), []
    opts = IngestOptions(chunker="recursive", chunker_config=ChunkerConfig(max_tokens=64))
    summary = ingest(paths, opts, writer, on_error=errors.append, **kw)
    return writer, errors, summary


# -- byte names ----------------------------------------------------------------------------------


def test_a_file_name_that_is_not_utf8_round_trips(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    raw = os.fsencode(folder) + b"/b\xffname.txt"
    with open(raw, "wb") as fh:
        fh.write(b"Text in a file with a byte name.\n")
    with open(os.fsencode(folder) + b"/bin\xfe.txt", "wb") as fh:
        fh.write(b"\x00\x01\x02 binary")
    (folder / "z_good.txt").write_text("Good file after it.\n")
    out, errors, state = tmp_path / "out.jsonl", tmp_path / "err.jsonl", tmp_path / "s.db"
    args = ["ingest", str(folder), "-o", str(out), "--errors", str(errors), "--state", str(state)]
    res = run_cli(*args)
    assert res.returncode == 1, res.stderr
    assert "Traceback" not in res.stderr
    recs = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    by_source = {r["source"]: r for r in recs}
    assert set(by_source) == {str(folder / "b\\xffname.txt"), str(folder / "z_good.txt")}
    bad = by_source[str(folder / "b\\xffname.txt")]
    assert bytes.fromhex(bad["metadata"]["source_bytes_hex"]) == raw
    assert "source_bytes_hex" not in by_source[str(folder / "z_good.txt")]["metadata"]
    err = json.loads(errors.read_text(encoding="utf-8"))
    assert err["source"] == str(folder / "bin\\xfe.txt")
    assert bytes.fromhex(err["source_bytes_hex"]) == os.fsencode(folder) + b"/bin\xfe.txt"
    # The next nightly run does not die at the same place: nothing changed, nothing re-read.
    again = run_cli(*args[:2], "-o", str(tmp_path / "out2.jsonl"), "--state", str(state))
    assert again.returncode == 1, again.stderr  # the binary file is still an error
    assert (tmp_path / "out2.jsonl").read_text() == ""


# -- deep trees ----------------------------------------------------------------------------------


def test_a_folder_975_levels_deep_is_walked(tmp_path: Path) -> None:
    deep = tmp_path / "root"
    fd = os.open(tmp_path, os.O_RDONLY)
    os.mkdir("root", dir_fd=fd)
    os.close(fd)
    # Built with relative mkdir calls: the absolute path outgrows PATH_MAX-safe helpers.
    cur = os.open(deep, os.O_RDONLY)
    for _ in range(975):
        os.mkdir("d", dir_fd=cur)
        nxt = os.open("d", os.O_RDONLY, dir_fd=cur)
        os.close(cur)
        cur = nxt
    leaf = os.open("leaf.txt", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=cur)
    os.write(leaf, b"deep text\n")
    os.close(leaf)
    os.close(cur)
    try:
        found = list(walk(deep, WalkOptions()))
        assert len(found) == 1 and found[0].name == "leaf.txt"
        assert len(found[0].relative_to(deep).parts) == 976
        found = list(walk(deep, WalkOptions(follow_symlinks=True)))
        assert len(found) == 1
    finally:
        remove_deep(deep)


def remove_deep(root: Path) -> None:
    """shutil.rmtree (and so pytest's tmp_path cleanup) recurses and fails on such a tree."""
    fds = [os.open(root, os.O_RDONLY)]
    while True:
        names = os.listdir(fds[-1])
        sub = [n for n in names if n == "d"]
        for n in names:
            if n != "d":
                os.unlink(n, dir_fd=fds[-1])
        if not sub:
            break
        fds.append(os.open("d", os.O_RDONLY, dir_fd=fds[-1]))
    while len(fds) > 1:
        os.close(fds.pop())
        os.rmdir("d", dir_fd=fds[-1])
    os.close(fds[0])
    root.rmdir()


# -- any stage -----------------------------------------------------------------------------------


class BadMetadataChunker:
    """Returns a chunk whose metadata cannot be serialised for files named bad* (a TypeError) and
    deep* (nested past the recursion limit: a RecursionError)."""

    def __init__(self, config: Any) -> None:
        self.config = config

    def chunk(self, doc: Document) -> list[Chunk]:
        name = Path(doc.source).name
        meta: dict[str, Any] = {"x": object()} if "bad" in name else {}
        if "deep" in name:
            nested: list[Any] = []
            for _ in range(sys.getrecursionlimit() * 2):
                nested = [nested]
            meta = {"x": nested}
        text = doc.text
        return [Chunk(doc.doc_id, 0, 0, len(text), text, 1, "chars", "badmeta", metadata=meta)]


class ExplodingEmbedder:
    def embed(self, docs: list[Document], chunks: list[list[Chunk]]) -> list[list[Chunk]]:
        raise RuntimeError("CUDA error: device-side assert triggered")


# In process, and in workers that encode the output themselves (--max-memory sends even a few
# small text files to them).
@pytest.mark.parametrize("workers", [False, True])
def test_an_exception_in_the_write_stage_is_that_files_error_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: bool
) -> None:
    spec = registry.Spec("badmeta", f"{__name__}:BadMetadataChunker", (), "test")
    monkeypatch.setitem(registry.BUILTINS["chunkers"], "badmeta", spec)
    for name in ("a.txt", "bad.txt", "c.txt", "deep.txt"):
        (tmp_path / name).write_text(f"Text of {name}.\n")
    writer, errors = MemoryWriter(), []
    opts = IngestOptions(chunker="badmeta")
    if workers:
        opts = IngestOptions(chunker="badmeta", jobs=2, max_memory=1 << 34)
    results: list[Any] = []
    from chunkwise.writers.jsonl import JsonlWriter

    out = tmp_path / "out.jsonl"
    jw = JsonlWriter(str(out))
    summary = ingest([str(tmp_path)], opts, jw, on_error=errors.append, on_result=results.append)
    jw.close()
    assert any(r.encoded is not None for r in results) == workers
    assert [e.source for e in errors] == [str(tmp_path / "bad.txt"), str(tmp_path / "deep.txt")]
    assert [e.stage for e in errors] == ["write", "write"]
    assert errors[1].error == "RecursionError"
    assert summary.failed == 2 and summary.documents == 4
    sources = [json.loads(x)["source"] for x in out.read_text().splitlines()]
    assert sources == [str(tmp_path / "a.txt"), str(tmp_path / "c.txt")]
    del writer


def test_an_embedder_crash_becomes_error_records_and_the_run_goes_on(tmp_path: Path) -> None:
    for name in ("a.txt", "b.txt"):
        (tmp_path / name).write_text(f"Text of {name}.\n")
    writer, errors, summary = run([str(tmp_path)], embedder=ExplodingEmbedder())
    assert sorted(e.source for e in errors) == [str(tmp_path / "a.txt"), str(tmp_path / "b.txt")]
    assert {e.stage for e in errors} == {"embed"} and "CUDA error" in errors[0].message
    assert summary.failed == 2 and writer.records == []


class RustPanic(BaseException):
    """Like pyo3's PanicException: a Rust extension's panic, not an ``Exception``."""


class PanickingChunker:
    """Panics on files named panic*; one chunk of the whole text otherwise."""

    def __init__(self, config: Any) -> None:
        self.config = config

    def chunk(self, doc: Document) -> list[Chunk]:
        if Path(doc.source).name.startswith("panic"):
            raise RustPanic("called `Option::unwrap()` on a `None` value")
        text = doc.text
        return [Chunk(doc.doc_id, 0, 0, len(text), text, 1, "chars", "panicky")]


class PanickingEmbedder:
    """Panics on the batch holding a file named panic* (a Rust tokenizer inside the model)."""

    def embed(self, docs: list[Document], chunks: list[list[Chunk]]) -> list[list[Chunk]]:
        if any(Path(d.source).name.startswith("panic") for d in docs):
            raise RustPanic("tokenizer panicked")
        return chunks


@pytest.mark.parametrize("stage", ["chunk", "embed"])
def test_a_panic_that_is_not_an_exception_is_that_files_error_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stage: str
) -> None:
    spec = registry.Spec("panicky", f"{__name__}:PanickingChunker", (), "test")
    monkeypatch.setitem(registry.BUILTINS["chunkers"], "panicky", spec)
    for name in ("a.txt", "panic.txt", "z.txt"):
        (tmp_path / name).write_text(f"Text of {name}.\n")
    writer, errors = MemoryWriter(), []
    chunker = "panicky" if stage == "chunk" else "recursive"
    embedder = PanickingEmbedder() if stage == "embed" else None
    opts = IngestOptions(chunker=chunker, jobs=0)
    summary = ingest(
        [str(tmp_path)],
        opts,
        writer,
        on_error=errors.append,
        embedder=embedder,  # type: ignore[arg-type]
        embed_batch_docs=1,
    )
    assert [(Path(e.source).name, e.stage, e.error) for e in errors] == [
        ("panic.txt", stage, "RustPanic")
    ]
    assert [Path(r["source"]).name for r in writer.records] == ["a.txt", "z.txt"]
    assert summary.failed == 1 and summary.documents == 3


# -- ids -----------------------------------------------------------------------------------------


def test_identical_files_at_two_paths_get_distinct_ids_stable_across_runs(tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "same.txt").write_text("Identical bytes.\n\nIn two places.\n" * 20)
    first, _, _ = run([str(tmp_path)])
    ids = [r["id"] for r in first.records]
    assert len(ids) == len(set(ids)) and len(ids) >= 2
    doc_ids = {r["source"]: r["doc_id"] for r in first.records}
    assert len(set(doc_ids.values())) == 1, "doc_id is the content hash, shared for de-duplication"
    for r in first.records:
        assert r["id"] == chunk_id(r["source"], r["doc_id"], r["index"])
    second, _, _ = run([str(tmp_path)])
    assert [r["id"] for r in second.records] == ids


def test_the_same_file_reached_twice_is_read_once(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.txt").write_text("Alpha.\n")
    (folder / "link.txt").symlink_to(folder / "a.txt")
    args = [str(folder), str(folder / "a.txt"), str(folder / "a.txt"), str(tmp_path / "in/")]
    writer, errors, summary = run(args)
    assert errors == []
    assert summary.documents == 1
    assert [r["source"] for r in writer.records] == [str(folder / "a.txt")]


def test_deleting_one_of_two_identical_files_emits_its_delete(tmp_path: Path) -> None:
    from chunkwise.state import State

    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("x.txt", "y.txt"):
        (folder / name).write_text("Same content in both.\n")
    db = tmp_path / "s.db"
    with State(db) as st:
        first, _, _ = run([str(folder)], state=st)
        st.commit()
    y_ids = [r["id"] for r in first.records if r["source"].endswith("y.txt")]
    (folder / "y.txt").unlink()
    with State(db) as st:
        second, _, summary = run([str(folder)], state=st, emit_deletes=True)
        st.commit()
    deletes = [r for r in second.records if r.get("deleted")]
    assert [d["ids"] for d in deletes] == [y_ids]
    assert summary.deleted == 1
