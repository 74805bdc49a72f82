"""The output record: one JSONL line = one Parquet row (see DESIGN.md, Output record)."""

from __future__ import annotations

from typing import Any

from chunkwise.types import Chunk, Document

# 2: `synthetic` added (text rewritten, e.g. a repeated table header; start/end still the span).
SCHEMA_VERSION = "2"

FIELDS = (
    "id",
    "doc_id",
    "source",
    "index",
    "text",
    "start",
    "end",
    "n_tokens",
    "tokenizer",
    "chunker",
    "parser",
    "pages",
    "bboxes",
    "headings",
    "kind",
    "continues",
    "synthetic",
    "metadata",
    "embedding",
    "embedding_model",
)


def chunk_record(chunk: Chunk, doc: Document) -> dict[str, Any]:
    """The record of one chunk, fields in schema order (so JSONL output is byte-stable)."""
    return {
        "id": chunk.id,
        "doc_id": chunk.doc_id,
        "source": doc.source,
        "index": chunk.index,
        "text": chunk.text,
        "start": chunk.start,
        "end": chunk.end,
        "n_tokens": chunk.n_tokens,
        "tokenizer": chunk.tokenizer,
        "chunker": chunk.chunker,
        "parser": doc.parser,
        "pages": list(chunk.pages) if chunk.pages is not None else None,
        "bboxes": [b.to_dict() for b in chunk.bboxes] if chunk.bboxes is not None else None,
        "headings": list(chunk.headings),
        "kind": chunk.kind,
        "continues": chunk.continues,
        "synthetic": chunk.synthetic,
        "metadata": dict(chunk.metadata),
        "embedding": list(chunk.embedding) if chunk.embedding is not None else None,
        "embedding_model": chunk.embedding_model,
    }
