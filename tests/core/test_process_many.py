"""``Processor.process_many``: a batch processed a step at a time across its documents gives
each document exactly what ``Processor.process`` gives it, in order, with every step of every
document run under the caller's ``step`` (how a pool pins a crash or a hang on one file)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from chunkwise.chunkers.recursive import RecursiveChunker

from chunkwise import registry
from chunkwise.chunking import ChunkerConfig
from chunkwise.pipeline import IngestOptions, Processor, Result, Source
from chunkwise.types import Chunk, Document


def _view(r: Result) -> tuple[Any, ...]:
    err = (r.error.stage, r.error.error, r.error.message) if r.error else None
    chunks = [(c.doc_id, c.index, c.start, c.end, c.n_tokens, c.text) for c in r.chunks]
    return (r.source, r.empty, err, chunks, r.doc.text if r.doc else None)


@pytest.fixture
def mixed(tmp_path: Path) -> list[Source]:
    files = {
        "a.txt": ("Alpha beta gamma. " * 300 + "\n\n") * 3,
        "b.md": "# Title\n\nSome *Markdown* text.\n\n## Part\n\nMore words here.\n",
        "empty.txt": "",
        "blank.txt": "   \n\n\t\n",
        "c.txt": "Short text.\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    (tmp_path / "bin.txt").write_bytes(bytes(range(256)) * 8)
    names = ["a.txt", "bin.txt", "b.md", "empty.txt", "missing.txt", "blank.txt", "c.txt"]
    return [Source(str(tmp_path / n), path=tmp_path / n) for n in names]


def _processor(**kw: Any) -> Processor:
    cfg = ChunkerConfig(max_tokens=64)
    return Processor(IngestOptions(chunker="recursive", chunker_config=cfg, **kw))


def test_the_same_results_as_one_at_a_time(mixed: list[Source]) -> None:
    one = [_view(_processor().process(src)) for src in mixed]
    many = [_view(r) for r in _processor().process_many(mixed)]
    assert many == one
    errors = {Path(s).name: e for s, _, e, _, _ in many if e}
    assert set(errors) == {"bin.txt", "missing.txt"}
    assert [Path(s).name for s, empty, *_ in many if empty] == ["empty.txt", "blank.txt"]


def test_every_step_runs_under_the_callers_step(mixed: list[Source]) -> None:
    calls: list[int] = []

    def step(k: int, advance: Callable[[], object]) -> None:
        calls.append(k)
        advance()

    results = list(_processor().process_many(mixed, step))
    assert [Path(r.source).name for r in results] == [Path(s.name).name for s in mixed]
    # Rounds over the documents still going, in input order: all of them, then those parsed
    # (blank.txt is parsed, and found empty only once chunked), then those prepared.
    going = [0, 2, 5, 6]
    assert calls == list(range(len(mixed))) + going + going
    # A document that fails on reading takes one step, one chunked takes three.
    steps = {Path(src.name).name: calls.count(k) for k, src in enumerate(mixed)}
    assert steps["missing.txt"] == steps["bin.txt"] == steps["empty.txt"] == 1
    assert steps["a.txt"] == steps["b.md"] == steps["blank.txt"] == steps["c.txt"] == 3


class _Recorder(RecursiveChunker):
    """The recursive chunker, logging when each document is prepared and chunked."""

    log: ClassVar[list[tuple[str, str]]] = []

    def prepare(self, doc: Document) -> Any:
        self.log.append(("prepare", Path(doc.source).name))
        return super().prepare(doc)

    def chunk(self, doc: Document) -> Iterator[Chunk]:
        self.log.append(("chunk", Path(doc.source).name))
        return super().chunk(doc)


def test_a_batch_is_tokenized_before_any_document_is_chunked(
    mixed: list[Source], monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = registry.Spec("recorder", f"{__name__}:_Recorder", (), "test")
    monkeypatch.setitem(registry.BUILTINS["chunkers"], "recorder", spec)
    _Recorder.log = []
    proc = Processor(IngestOptions(chunker="recorder", chunker_config=ChunkerConfig(max_tokens=64)))
    results = list(proc.process_many(mixed))
    kinds = [kind for kind, _ in _Recorder.log]
    assert kinds == ["prepare"] * 4 + ["chunk"] * 4
    assert [name for _, name in _Recorder.log] == ["a.txt", "b.md", "blank.txt", "c.txt"] * 2
    assert sum(len(r.chunks) for r in results) > 3


def test_a_failing_prepare_is_that_documents_error(
    mixed: list[Source], monkeypatch: pytest.MonkeyPatch
) -> None:
    def prepare(self: RecursiveChunker, doc: Document) -> Any:
        if doc.source.endswith("b.md"):
            raise RuntimeError("tokenizer broke")
        return None

    monkeypatch.setattr(RecursiveChunker, "prepare", prepare)
    results = list(_processor().process_many(mixed))
    failed = [(Path(r.source).name, r.error.stage) for r in results if r.error]
    assert ("b.md", "chunk") in failed
    assert [Path(r.source).name for r in results if r.chunks] == ["a.txt", "c.txt"]


def test_closing_early_leaves_nothing_running(mixed: list[Source]) -> None:
    gen = _processor().process_many(mixed)
    first = next(gen)
    assert Path(first.source).name == "a.txt" and first.chunks
    gen.close()  # the documents still in their steps are closed with it


def test_recursive_chunks_the_same_with_or_without_prepare(mixed: list[Source]) -> None:
    """What ``prepare`` made is reused by ``chunk`` while held, and forgotten once dropped."""
    import gc

    from chunkwise.parsers.text import TextParser

    chunker = RecursiveChunker(ChunkerConfig(max_tokens=64))
    doc = TextParser().parse(mixed[0].name)
    plain = [(c.start, c.end, c.n_tokens) for c in chunker.chunk(doc)]
    held = chunker.prepare(doc)
    assert chunker._prepared.get(id(doc)) is held
    assert [(c.start, c.end, c.n_tokens) for c in chunker.chunk(doc)] == plain
    del held
    gc.collect()
    assert id(doc) not in chunker._prepared
    assert len(plain) > 3
