"""The output record (chunkwise/records.py), directly: field order, ids, and what is copied."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from chunkwise.writers.jsonl import dumps
from hypothesis import given
from hypothesis import strategies as st

from chunkwise.records import FIELDS, chunk_id, chunk_record, chunk_records
from chunkwise.types import Chunk, Document, PageBox


def _doc(**kw: object) -> Document:
    base: dict[str, object] = {
        "source": "docs/a.md",
        "doc_id": "d" * 64,
        "text": "Hello world.",
        "parser": "markdown",
    }
    return Document(**{**base, **kw})  # type: ignore[arg-type]


def _chunk(**kw: object) -> Chunk:
    base: dict[str, object] = {
        "doc_id": "d" * 64,
        "index": 0,
        "start": 0,
        "end": 12,
        "text": "Hello world.",
        "n_tokens": 3,
        "tokenizer": "cl100k_base",
        "chunker": "recursive",
    }
    return Chunk(**{**base, **kw})  # type: ignore[arg-type]


def test_record_has_every_field_in_schema_order() -> None:
    rec = chunk_record(_chunk(), _doc())
    assert tuple(rec) == FIELDS
    assert rec["source"] == "docs/a.md" and rec["parser"] == "markdown"
    assert (rec["start"], rec["end"], rec["n_tokens"]) == (0, 12, 3)
    # Absent layout is null, not an empty list: "no page" differs from "no pages known".
    assert rec["pages"] is None and rec["bboxes"] is None and rec["embedding"] is None
    assert rec["headings"] == [] and rec["metadata"] == {} and rec["synthetic"] is False


def test_record_converts_tuples_and_boxes_to_json_types() -> None:
    box = PageBox(2, 1.0, 2.0, 3.0, 4.0)
    chunk = _chunk(
        pages=(2, 3),
        bboxes=(box,),
        headings=("Intro", "Scope"),
        embedding=(0.25, -1.0),
        embedding_model="m",
        continues="table",
        kind="table",
    )
    rec = chunk_record(chunk, _doc())
    assert rec["pages"] == [2, 3] and rec["headings"] == ["Intro", "Scope"]
    assert rec["bboxes"] == [{"page": 2, "x0": 1.0, "y0": 2.0, "x1": 3.0, "y1": 4.0}]
    assert rec["embedding"] == [0.25, -1.0] and rec["embedding_model"] == "m"
    assert rec["kind"] == "table" and rec["continues"] == "table"
    json.dumps(rec)  # plain JSON types only


def test_source_bytes_hex_joins_the_metadata_without_touching_the_chunk() -> None:
    chunk = _chunk(metadata={"lang": "en"})
    rec = chunk_record(chunk, _doc(metadata={"source_bytes_hex": "6162ff"}))
    assert rec["metadata"] == {"lang": "en", "source_bytes_hex": "6162ff"}
    assert dict(chunk.metadata) == {"lang": "en"}
    # Other document metadata stays on the document.
    rec = chunk_record(chunk, _doc(metadata={"title": "T"}))
    assert rec["metadata"] == {"lang": "en"}


def test_id_is_hash_of_source_and_doc_id_with_the_index() -> None:
    rec = chunk_record(_chunk(index=7), _doc())
    key = hashlib.sha256(("docs/a.md\0" + "d" * 64).encode()).hexdigest()[:16]
    assert rec["id"] == f"{key}:7" == chunk_id("docs/a.md", "d" * 64, 7)


def test_identical_files_at_two_paths_share_doc_id_not_ids() -> None:
    a = chunk_record(_chunk(), _doc(source="a.txt"))
    b = chunk_record(_chunk(), _doc(source="b.txt"))
    assert a["doc_id"] == b["doc_id"] and a["id"] != b["id"]


@given(st.text(), st.text(min_size=1), st.integers(min_value=0, max_value=10**6))
def test_chunk_id_shape_and_stability(source: str, doc_id: str, index: int) -> None:
    cid = chunk_id(source, doc_id, index)
    assert re.fullmatch(r"[0-9a-f]{16}:\d+", cid)
    assert cid.endswith(f":{index}") and cid == chunk_id(source, doc_id, index)


def test_chunk_id_accepts_names_that_are_not_utf8() -> None:
    # A byte file name decoded with surrogateescape (chunkwise.names) must still hash.
    name = b"caf\xe9.txt".decode("utf-8", "surrogateescape")
    assert chunk_id(name, "x", 0) != chunk_id("caf\u00e9.txt", "x", 0)


def test_record_serialises_to_one_stable_jsonl_line() -> None:
    rec = chunk_record(_chunk(text='quote " and \u00e9'), _doc())
    line = dumps(rec)
    assert "\n" not in line and json.loads(line) == rec
    assert line.index('"id"') < line.index('"doc_id"') < line.index('"embedding_model"')


def test_chunk_records_equal_one_record_per_chunk() -> None:
    doc = _doc(metadata={"source_bytes_hex": "6162ff"})
    chunks = [_chunk(index=i, metadata={"n": i}, doc_id=f"{i % 2}" * 16) for i in range(4)]
    recs = chunk_records(chunks, doc)
    assert recs == [chunk_record(c, doc) for c in chunks]
    # The id key is cached per (source, doc_id): chunks of another doc_id get their own.
    assert recs[0]["id"].split(":")[0] != recs[1]["id"].split(":")[0]
    assert recs[0]["id"].split(":")[0] == recs[2]["id"].split(":")[0]


def test_an_unhashable_doc_id_still_gets_its_id() -> None:
    doc_id: Any = ["not", "a", "str"]
    rec = chunk_record(_chunk(doc_id=doc_id, index=2), _doc())
    key = hashlib.sha256(f"docs/a.md\0{doc_id}".encode()).hexdigest()[:16]
    assert rec["id"] == f"{key}:2"
