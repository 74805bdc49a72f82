from __future__ import annotations

import io
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from chunkwise.chunkers.recursive import RecursiveChunker
from chunkwise.parsers.markdown import MarkdownParser
from chunkwise.writers.jsonl import JsonlWriter
from chunkwise.writers.parquet import ParquetWriter

from chunkwise.chunking import ChunkerConfig
from chunkwise.errors import UsageError
from chunkwise.records import FIELDS, SCHEMA_VERSION, chunk_record


def _records(sample_docs: Path) -> list[dict]:
    doc = MarkdownParser().parse(sample_docs / "markdown" / "semchunk-README.md")
    chunks = list(RecursiveChunker(ChunkerConfig(max_tokens=100)).chunk(doc))
    return [chunk_record(c, doc) for c in chunks]


def test_jsonl_to_stream_has_every_field_in_order(sample_docs: Path) -> None:
    buf = io.BytesIO()
    w = JsonlWriter(stream=buf)
    recs = _records(sample_docs)
    w.write(recs)
    w.close()
    lines = buf.getvalue().decode().splitlines()
    assert len(lines) == len(recs)
    first = json.loads(lines[0])
    assert tuple(first) == FIELDS
    assert "🧩" in lines[0]  # UTF-8, not \\u escapes


def test_parquet_rows_equal_jsonl_records(tmp_path: Path, sample_docs: Path) -> None:
    recs = _records(sample_docs)
    out = tmp_path / "out.parquet"
    w = ParquetWriter(str(out))
    w.write(recs[:3])
    w.write(recs[3:])
    w.close()
    table = pq.read_table(out)
    assert table.schema.metadata[b"chunkwise.schema_version"] == SCHEMA_VERSION.encode()
    rows = table.to_pylist()
    for row in rows:
        row["metadata"] = json.loads(row["metadata"])
    assert rows == recs
    assert list(tmp_path.iterdir()) == [out]


def test_parquet_embeddings_are_fixed_size_float32(tmp_path: Path, sample_docs: Path) -> None:
    import pyarrow as pa

    recs = _records(sample_docs)[:4]
    for i, r in enumerate(recs):
        r["embedding"] = [0.25 * i, -1.5, 3.0]
        r["embedding_model"] = "m"
    out = tmp_path / "e.parquet"
    w = ParquetWriter(str(out))
    w.write(recs)
    w.close()
    table = pq.read_table(out)
    assert table.schema.field("embedding").type == pa.list_(pa.float32(), 3)
    assert table.column("embedding").to_pylist()[1] == [0.25, -1.5, 3.0]


def test_aborted_writers_leave_no_file(tmp_path: Path, sample_docs: Path) -> None:
    recs = _records(sample_docs)
    for writer, name in ((ParquetWriter, "a.parquet"), (JsonlWriter, "a.jsonl")):
        w = writer(str(tmp_path / name))
        w.write(recs)
        w.abort()
    assert list(tmp_path.iterdir()) == []


def test_empty_parquet_run_writes_a_valid_empty_file(tmp_path: Path) -> None:
    out = tmp_path / "empty.parquet"
    w = ParquetWriter(str(out))
    w.close()
    assert pq.read_table(out).num_rows == 0


def test_parquet_needs_a_file() -> None:
    with pytest.raises(UsageError, match="-o"):
        ParquetWriter(None)


def test_records_flag_rewritten_text_as_synthetic(tmp_path: Path) -> None:
    """Every record either holds `text == doc[start:end]` or says `synthetic: true`."""
    from chunkwise.chunkers.section import SectionChunker

    rows = "\n".join(f"| {i} | item {i} |" for i in range(80))
    doc = MarkdownParser().parse(
        f"# T\n\n| id | name |\n|---|---|\n{rows}\n".encode(), source="t.md"
    )
    recs = [chunk_record(c, doc) for c in SectionChunker(ChunkerConfig(max_tokens=60)).chunk(doc)]
    flagged = [r for r in recs if r["synthetic"]]
    assert flagged, "a split table repeats its header in later pieces"
    for r in recs:
        assert r["synthetic"] is (r["text"] != doc.text[r["start"] : r["end"]])
    out = tmp_path / "t.parquet"
    w = ParquetWriter(str(out))
    w.write(recs)
    w.close()
    assert pq.read_table(out).column("synthetic").to_pylist() == [r["synthetic"] for r in recs]
