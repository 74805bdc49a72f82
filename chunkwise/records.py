"""The output record: one JSONL line = one Parquet row (see docs/design.md, Output record)."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable
from typing import Any

from chunkwise.types import Chunk, Document

# 2: `synthetic` added (text rewritten, e.g. a repeated table header; start/end still the span);
# `id` unique per source (hash of source and content), no longer `doc_id:index`.
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


def chunk_id(source: str, doc_id: str, index: int) -> str:
    """A chunk's ``id``: unique within a run and stable across runs for the same source and bytes.

    ``doc_id`` alone (the content hash) repeats when identical files live at two paths, and a
    vector store keyed by ``id`` would reject the load; the source joins it. ``doc_id`` stays the
    content hash, shared by identical files, for de-duplication.
    """
    return f"{_id_key(source, doc_id)}:{index}"


def _id_key(source: str, doc_id: str) -> str:
    # Every chunk of a document shares it: hashed once per document, not once per chunk.
    try:
        return _cached_id_key(source, doc_id)
    except TypeError:  # a plugin's unhashable doc_id: hashed as it always was, uncached
        return _hash_id_key(source, doc_id)


def _hash_id_key(source: str, doc_id: str) -> str:
    key = hashlib.sha256(f"{source}\0{doc_id}".encode("utf-8", "surrogateescape")).hexdigest()
    return key[:16]


_cached_id_key = functools.lru_cache(maxsize=256, typed=True)(_hash_id_key)


def chunk_record(chunk: Chunk, doc: Document) -> dict[str, Any]:
    """The record of one chunk, fields in schema order (so JSONL output is byte-stable)."""
    return _record(chunk, doc.source, doc.parser, doc.metadata.get("source_bytes_hex"))


def chunk_records(chunks: Iterable[Chunk], doc: Document) -> list[dict[str, Any]]:
    """``[chunk_record(c, doc) for c in chunks]``, with the document's fields looked up once."""
    source, parser = doc.source, doc.parser
    raw = doc.metadata.get("source_bytes_hex")
    return [_record(c, source, parser, raw) for c in chunks]


def _record(chunk: Chunk, source: str, parser: str, raw: str | None) -> dict[str, Any]:
    metadata = dict(chunk.metadata)
    if raw is not None:
        # The source's exact bytes when its name is not UTF-8 (``source`` shows them as \xNN).
        metadata["source_bytes_hex"] = raw
    pages = chunk.pages
    bboxes = chunk.bboxes
    embedding = chunk.embedding
    return {
        "id": f"{_id_key(source, chunk.doc_id)}:{chunk.index}",
        "doc_id": chunk.doc_id,
        "source": source,
        "index": chunk.index,
        "text": chunk.text,
        "start": chunk.start,
        "end": chunk.end,
        "n_tokens": chunk.n_tokens,
        "tokenizer": chunk.tokenizer,
        "chunker": chunk.chunker,
        "parser": parser,
        "pages": list(pages) if pages is not None else None,
        "bboxes": [b.to_dict() for b in bboxes] if bboxes is not None else None,
        "headings": list(chunk.headings),
        "kind": chunk.kind,
        "continues": chunk.continues,
        "synthetic": chunk.synthetic,
        "metadata": metadata,
        "embedding": list(embedding) if embedding is not None else None,
        "embedding_model": chunk.embedding_model,
    }
