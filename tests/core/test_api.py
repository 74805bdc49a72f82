"""The public Python API: chunk_text, parse, ingest."""

from __future__ import annotations

from pathlib import Path

import pytest

import chunkwise
from chunkwise.errors import DocumentError, ErrorRecord, UsageError

SAMPLES = Path(__file__).resolve().parents[2] / "sample_docs"


def test_chunk_text_offsets_index_the_text() -> None:
    text = "# Title\n\nOne sentence here. Another one follows.\n\n## Part\n\nMore words in it.\n"
    chunks = chunkwise.chunk_text(text, chunker="section", format_hint="markdown", max_tokens=8)
    assert chunks and all(text[c.start : c.end] == c.text and c.n_tokens <= 8 for c in chunks)
    assert chunks[-1].headings == ("Title", "Part")
    with pytest.raises(DocumentError):
        chunkwise.chunk_text("   ")
    with pytest.raises(UsageError, match="unknown option"):
        chunkwise.chunk_text("x", max_token=3)


def test_parse_takes_plugin_options() -> None:
    pdf = SAMPLES / "pdf" / "issue-33-lorem-ipsum.pdf"
    assert any(e.kind == "table" for e in chunkwise.parse(pdf).elements)
    assert not any(
        e.kind == "table" for e in chunkwise.parse(pdf, opt=["pdf.tables=false"]).elements
    )
    assert chunkwise.parse(b"plain words", format_hint="text").parser == "text"


def test_ingest_streams_records_and_error_records(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Some words.\n\nMore words.\n")
    (tmp_path / "bad.txt").write_bytes(b"\x00\x01binary")
    out = list(chunkwise.ingest(tmp_path, max_tokens=50))
    records = [r for r in out if isinstance(r, dict)]
    errors = [r for r in out if isinstance(r, ErrorRecord)]
    assert [r["source"].endswith("a.txt") for r in records] == [True]
    assert len(errors) == 1 and errors[0].source.endswith("bad.txt")
    assert set(chunkwise.__all__) >= {"chunk_text", "parse", "ingest"}
