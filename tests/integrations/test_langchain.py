"""LangChain: the loader yields the CLI's records as Documents, lazily, with error records passed
on; the TextSplitter adapter cuts with chunkwise's chunkers and exact start indexes."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("langchain_core")
pytest.importorskip("langchain_text_splitters")

from chunkwise.integrations.langchain import ChunkwiseLoader, ChunkwiseTextSplitter
from langchain_core.documents import Document

from chunkwise import pipeline
from chunkwise.errors import ErrorRecord, UsageError
from chunkwise.pipeline import Processor
from chunkwise.tokenizers import get_tokenizer
from tests.conftest import ROOT, run_cli

MARKDOWN = ROOT / "sample_docs" / "markdown"


def test_loader_yields_the_cli_records() -> None:
    docs = list(ChunkwiseLoader(str(MARKDOWN), max_tokens=200).lazy_load())
    records = run_cli("ingest", str(MARKDOWN), "-j0", "--max-tokens", "200").records()
    assert len(docs) == len(records) > 2
    for doc, rec in zip(docs, records, strict=True):
        assert doc.id == rec["id"]
        assert doc.page_content == rec["text"]
        assert doc.metadata == {k: v for k, v in rec.items() if k not in ("text", "embedding")}


def test_loader_streams(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for n in range(2000):
        (tmp_path / f"{n:04}.txt").write_text(f"document number {n}\n")
    calls = []
    real = Processor._steps

    def counting(self: Processor, src: Any) -> Any:
        calls.append(src.name)
        return real(self, src)

    monkeypatch.setattr(Processor, "_steps", counting)
    first = list(itertools.islice(ChunkwiseLoader(str(tmp_path)).lazy_load(), 3))
    assert [d.page_content for d in first] == [f"document number {n}" for n in range(3)]
    # Read ahead at most one batch (~50 ms of work, 64 files at most), not the folder.
    assert 3 <= len(calls) <= 3 + pipeline._IN_PROCESS_BATCH


def test_loader_passes_error_records_and_goes_on(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text("some good text\n")
    (tmp_path / "bad.txt").write_bytes((ROOT / "sample_docs/broken/binary-junk.txt").read_bytes())
    errors: list[ErrorRecord] = []
    docs = list(ChunkwiseLoader([str(tmp_path)], on_error=errors.append).lazy_load())
    assert [d.page_content for d in docs] == ["some good text"]
    assert len(errors) == 1 and errors[0].source.endswith("bad.txt")


def test_unknown_option_fails_at_once() -> None:
    with pytest.raises(UsageError, match="max_tokns"):
        ChunkwiseLoader(str(MARKDOWN), max_tokns=10)


def test_text_splitter_uses_chunkwise_chunkers() -> None:
    text = (MARKDOWN / "semchunk-README.md").read_text(encoding="utf-8")
    splitter = ChunkwiseTextSplitter(max_tokens=64, format_hint="markdown", add_start_index=True)
    parts = splitter.split_documents([Document(page_content=text, metadata={"origin": "x"})])
    assert len(parts) > 3
    tok = get_tokenizer("cl100k_base")
    for part in parts:
        start = part.metadata["start_index"]
        assert text[start : start + len(part.page_content)] == part.page_content
        assert part.metadata["origin"] == "x"
        assert tok.count(part.page_content) <= 64
    assert any(p.metadata.get("headings") for p in parts)
    assert splitter.split_text(text) == [p.page_content for p in parts]
    # The chunker is a real choice: token windows differ from the markdown-aware default.
    token = ChunkwiseTextSplitter(chunker="token", max_tokens=64).split_text(text)
    assert token != splitter.split_text(text)
