"""The JSONL writer's fast path (orjson) writes exactly the bytes ``json`` writes."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import io
import json
from pathlib import Path
from typing import Any

import pytest
from chunkwise.chunkers.recursive import RecursiveChunker
from chunkwise.parsers.markdown import MarkdownParser
from chunkwise.writers import jsonl
from chunkwise.writers.jsonl import JsonlWriter, dumps_bytes
from hypothesis import given, settings
from hypothesis import strategies as st

from chunkwise.chunking import ChunkerConfig
from chunkwise.records import chunk_record


def _json_bytes(record: Any) -> bytes:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(alphabet=st.characters(exclude_categories=("Cs",))),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.dictionaries(st.text(max_size=8), inner, max_size=5),
    ),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(record=st.dictionaries(st.text(max_size=10), _VALUES, max_size=8))
def test_fast_path_bytes_equal_json(record: dict[str, Any]) -> None:
    assert dumps_bytes(record) == _json_bytes(record)


class _Color(str, enum.Enum):
    RED = "red"


class _Level(enum.IntEnum):
    HIGH = 3


@dataclasses.dataclass
class _Point:
    x: int


@pytest.mark.parametrize(
    "value",
    [
        {"k": _Color.RED},
        {"k": _Level.HIGH},
        {"k": (1, 2, "x")},
        {"k": 2**64},
        {1: "int key"},
        {"k": 'control \x00\x1f\x7f and \u2028\u2029 and emoji 🎉 and quote " \\'},
        {"k": 1e-05, "j": [0.1, 2.5e-07, 1e16]},
    ],
)
def test_special_values_equal_json(value: dict[Any, Any]) -> None:
    assert dumps_bytes(value) == _json_bytes(value)


@pytest.mark.parametrize("value", [{"k": _Point(1)}, {"k": datetime.date(2026, 1, 1)}])
def test_values_json_rejects_are_still_rejected(value: dict[str, Any]) -> None:
    with pytest.raises(TypeError):
        dumps_bytes(value)


def test_lone_surrogate_fails_as_before() -> None:
    with pytest.raises(UnicodeEncodeError):
        dumps_bytes({"k": "a\ud800b"})


def test_chunk_records_take_the_fast_path(sample_docs: Path, monkeypatch: Any) -> None:
    doc = MarkdownParser().parse(sample_docs / "markdown" / "semchunk-README.md")
    records = [chunk_record(c, doc) for c in RecursiveChunker(ChunkerConfig(128)).chunk(doc)]
    assert records
    out = io.BytesIO()
    JsonlWriter(stream=out).write(records)
    assert out.getvalue() == b"".join(_json_bytes(r) + b"\n" for r in records)
    assert all(jsonl._float_free(r) for r in records)
    # Without orjson, the same bytes.
    monkeypatch.setattr(jsonl, "orjson", None)
    again = io.BytesIO()
    JsonlWriter(stream=again).write(records)
    assert again.getvalue() == out.getvalue()


def _peak_bytes_while_writing(writer: JsonlWriter, records: list[dict[str, Any]]) -> int:
    """The most memory Python held at once while ``writer`` wrote ``records``."""
    import tracemalloc

    tracemalloc.start()
    try:
        writer.write(records)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_document_of_many_chunks_is_serialised_in_about_its_size() -> None:
    records = [
        {"id": f"d:{i}", "text": f"## Heading {i}\n\nline {i}", "headings": [f"Heading {i}"]}
        for i in range(10_000)
    ]
    expected = b"".join(_json_bytes(r) + b"\n" for r in records)
    out = io.BytesIO()
    peak = _peak_bytes_while_writing(JsonlWriter(stream=out), records)
    assert out.getvalue() == expected
    # orjson's bytes keep a buffer of several KB each: holding a document's 10,000 lines took
    # ~80 MB for 0.6 MB of output (a 50 MB file's chunks, gigabytes).
    assert peak < 10 * len(expected) + (2 << 20), f"{peak / 1e6:.0f} MB for {len(expected)} bytes"


def _docs_of_records(n_docs: int, per_doc: int) -> list[list[dict[str, Any]]]:
    return [
        [{"id": f"{d}:{i}", "text": "x" * (d * 37 % 5000)} for i in range(per_doc)]
        for d in range(n_docs)
    ]


def test_a_file_gets_every_document_in_order_at_close(tmp_path: Path) -> None:
    # Over _PENDING_BYTES, so lines are written both while documents come and at close.
    docs = _docs_of_records(300, 3)
    path = tmp_path / "out.jsonl"
    writer = JsonlWriter(str(path))
    for records in docs:
        writer.write(records)
    assert not path.exists()  # published at close
    writer.close()
    expected = b"".join(_json_bytes(r) + b"\n" for records in docs for r in records)
    assert len(expected) > jsonl._PENDING_BYTES
    assert path.read_bytes() == expected


def test_an_aborted_file_leaves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    writer = JsonlWriter(str(path))
    writer.write(_docs_of_records(2, 2)[1])
    writer.abort()
    assert list(tmp_path.iterdir()) == []


def test_a_stream_gets_each_document_when_it_is_written() -> None:
    out = io.BytesIO()
    writer = JsonlWriter(stream=out)
    writer.write([{"id": "a"}])
    assert out.getvalue() == b'{"id":"a"}\n'  # not held back until close


def test_a_large_document_is_not_copied_again_on_its_way_to_a_file(tmp_path: Path) -> None:
    """Small documents are gathered into larger writes; a document whose output alone is over
    that size is written as its blocks are, not joined into one more copy of it."""
    records = [{"id": f"d:{i}", "text": f"{i} " + "word " * 200} for i in range(5_000)]
    path = tmp_path / "out.jsonl"
    writer = JsonlWriter(str(path))
    writer.write([{"id": "small"}])  # something pending when the large document comes
    peak = _peak_bytes_while_writing(writer, records)
    writer.close()
    expected = b'{"id":"small"}\n' + b"".join(_json_bytes(r) + b"\n" for r in records)
    assert path.read_bytes() == expected
    assert peak < 1.5 * len(expected), f"{peak / 1e6:.1f} MB for {len(expected) / 1e6:.1f} MB"


# -- pre-encoded output (a worker encodes, the writer writes the bytes) ----------------------------


class _Calls(io.BytesIO):
    """A stream that logs every call the writer makes on it (what a reader sees, and when)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, bytes]] = []

    def write(self, data: Any) -> int:
        self.calls.append(("write", bytes(data)))
        return super().write(data)

    def writelines(self, lines: Any) -> None:
        lines = list(lines)
        self.calls.append(("writelines", b"|".join(lines)))
        super().writelines(lines)

    def flush(self) -> None:
        self.calls.append(("flush", b""))


_RECORD = st.dictionaries(st.sampled_from(["id", "text", "n", "x"]), _VALUES, max_size=4)
# Up to 600 records a document: over one block of 256 lines, and past the 256 KB of a file's
# pending buffer with long text.
_DOCS = st.lists(
    st.one_of(
        st.lists(_RECORD, max_size=4),
        st.builds(lambda n: [{"t": "w" * 1000}] * n, st.integers(0, 600)),
    ),
    max_size=6,
)


@settings(max_examples=60, deadline=None)
@given(docs=_DOCS)
def test_encoded_output_is_written_exactly_as_records_are(tmp_path_factory: Any, docs: Any) -> None:
    """``write(records)`` and ``write_encoded(encoder(records))`` give a reader the same bytes
    through the same calls: a stream gets each document at once, a file the same bytes at close."""
    assert JsonlWriter.encoder is jsonl.encode
    by_records, by_blocks = _Calls(), _Calls()
    w1, w2 = JsonlWriter(stream=by_records), JsonlWriter(stream=by_blocks)
    folder = tmp_path_factory.mktemp("out")
    f1, f2 = JsonlWriter(str(folder / "1.jsonl")), JsonlWriter(str(folder / "2.jsonl"))
    for records in docs:
        blocks = jsonl.encode(records)
        assert b"".join(blocks) == b"".join(_json_bytes(r) + b"\n" for r in records)
        assert all(b.count(b"\n") <= jsonl._BLOCK_LINES for b in blocks)
        w1.write(records)
        w2.write_encoded(blocks)
        f1.write(records)
        f2.write_encoded(list(blocks))
        assert by_blocks.calls == by_records.calls
    for w in (w1, w2, f1, f2):
        w.close()
    assert by_blocks.calls == by_records.calls
    assert (folder / "1.jsonl").read_bytes() == (folder / "2.jsonl").read_bytes()
    assert (folder / "2.jsonl").read_bytes() == by_blocks.getvalue()


def test_a_record_that_cannot_be_encoded_raises_before_any_output() -> None:
    with pytest.raises(TypeError):
        jsonl.encode([{"id": "a"}, {"id": "b", "x": _Point(1)}])


def test_only_writers_that_can_take_bytes_offer_an_encoder(tmp_path: Path) -> None:
    import pickle

    from chunkwise.writers.parquet import ParquetWriter

    # Pickled by reference: a worker forked (or spawned) with the options gets the function.
    assert pickle.loads(pickle.dumps(JsonlWriter.encoder)) is jsonl.encode
    assert ParquetWriter(str(tmp_path / "x.parquet")).encoder is None
