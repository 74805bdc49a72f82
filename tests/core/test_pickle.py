"""Workers send documents and chunks to the main process pickled: every field survives."""

from __future__ import annotations

import io
import pickle

from hypothesis import given
from hypothesis import strategies as st

from chunkwise.errors import ErrorRecord
from chunkwise.pipeline import Result, _encode, _without_elements
from chunkwise.records import chunk_records
from chunkwise.types import Chunk, Document, Element, PageBox

_text = st.text(max_size=40)
_opt_int = st.none() | st.integers(0, 10**6)
_meta = st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5), max_size=3)

elements = st.builds(
    Element, _text, st.integers(0, 99), st.integers(0, 99), _opt_int,
    st.none() | st.tuples(*[st.floats(allow_nan=False)] * 4), _opt_int, _meta,
)  # fmt: skip
boxes = st.builds(PageBox, st.integers(1, 9), *[st.floats(allow_nan=False)] * 4)
chunks = st.builds(
    Chunk, _text, st.integers(0, 99), st.integers(0, 99), st.integers(0, 99), _text,
    st.integers(0, 999), _text, _text,
    pages=st.none() | st.tuples(st.integers(1, 9)),
    bboxes=st.none() | st.tuples(boxes),
    headings=st.tuples(_text),
    kind=_text,
    continues=st.none() | _text,
    metadata=_meta,
    synthetic=st.booleans(),
    embedding=st.none() | st.tuples(st.floats(allow_nan=False)),
    embedding_model=st.none() | _text,
)  # fmt: skip
documents = st.builds(
    Document, _text, _text, _text, st.tuples(elements), _meta, _text
)  # fmt: skip


@given(documents, st.lists(chunks, max_size=3))
def test_documents_and_chunks_round_trip(doc: Document, cs: list[Chunk]) -> None:
    res = Result(doc.source, doc=doc, chunks=cs, path="p", content_hash="h", size=3)
    back = pickle.loads(pickle.dumps(res, pickle.HIGHEST_PROTOCOL))
    assert back.doc == doc and back.chunks == cs
    assert (back.path, back.content_hash, back.size) == ("p", "h", 3)
    assert all(type(c) is Chunk for c in back.chunks)


@given(st.text(alphabet="ab#", min_size=1, max_size=60), st.data())
def test_chunks_sent_without_their_text_come_back_equal(text: str, data: st.DataObject) -> None:
    """A worker's chunks travel as spans of the document's text where their text is that span;
    any other chunk (rewritten text, a span outside the text) travels whole."""
    n = len(text)
    spans = data.draw(
        st.lists(
            st.tuples(
                st.integers(-2, n + 2), st.integers(-2, n + 2), st.sampled_from("=#?"), _text
            ),
            max_size=5,
        )
    )

    def chunk_text(a: int, b: int, mode: str, other: str) -> str:
        if mode == "=":
            return text[a:b]
        if mode == "#":  # rewritten, same length
            return "#" * len(text[a:b])
        return other

    cs = [
        Chunk("d", i, a, b, chunk_text(a, b, mode, other), 1, "t", "c")
        for i, (a, b, mode, other) in enumerate(spans)
    ]
    doc = Document("s", "d", text)
    res = _without_elements(Result("s", doc=doc, chunks=list(cs)))
    back = pickle.loads(pickle.dumps(res, pickle.HIGHEST_PROTOCOL))
    assert back.chunks == cs and type(back.chunks) is list
    assert all(type(c) is Chunk for c in back.chunks)


def test_a_document_s_text_is_sent_once() -> None:
    text = "word " * 2000
    cs = [Chunk("d", i, i * 1000, (i + 1) * 1000, text[i * 1000 : (i + 1) * 1000], 1, "t", "c")
          for i in range(10)]  # fmt: skip
    plain = pickle.dumps(Result("s", doc=Document("s", "d", text), chunks=cs))
    res = _without_elements(Result("s", doc=Document("s", "d", text), chunks=list(cs)))
    shared = pickle.dumps(res)
    assert len(shared) < len(text) + 3000 < len(plain)
    assert pickle.loads(shared).chunks == cs


class _MyChunk(Chunk):
    """A plugin's own chunk class."""


def test_a_chunk_subclass_travels_as_it_did() -> None:
    cs: list[Chunk] = [
        _MyChunk("d", 0, 0, 3, "abc", 1, "t", "c"),
        Chunk("d", 1, 0, 3, "abc", 1, "t", "c"),
    ]
    res = _without_elements(Result("s", doc=Document("s", "d", "abc"), chunks=list(cs)))
    back = pickle.loads(pickle.dumps(res)).chunks
    before = pickle.loads(pickle.dumps(cs))
    assert back == before and [type(c) for c in back] == [type(c) for c in before]


@given(documents, st.lists(chunks, max_size=3), documents, st.lists(chunks, max_size=3))
def test_an_encoded_result_carries_the_writers_bytes_and_what_the_run_needs(
    doc: Document, cs: list[Chunk], att_doc: Document, att_cs: list[Chunk]
) -> None:
    """What a worker sends when the main process only writes: the bytes JsonlWriter would write
    for the document's records, their count, and (for --state) the same ids and doc id the
    object path records; an attachment the same way; every other field as it was."""
    from chunkwise.writers.jsonl import JsonlWriter, encode

    def objects() -> Result:
        att = Result(att_doc.source, doc=att_doc, chunks=list(att_cs))
        return Result(
            doc.source, doc=doc, chunks=list(cs), path="p", content_hash="h", size=3,
            mtime_ns=7, attachments=[att],
        )  # fmt: skip

    plain = objects()
    sent = pickle.loads(pickle.dumps(_encode(objects(), encode, True), pickle.HIGHEST_PROTOCOL))
    for before, after in ((plain, sent), (plain.attachments[0], sent.attachments[0])):
        assert before.doc is not None and after.encoded is not None
        assert (after.doc, after.chunks, after.error) == (None, [], None)
        out = io.BytesIO()
        JsonlWriter(stream=out).write(chunk_records(before.chunks, before.doc))
        assert b"".join(after.encoded.data) == out.getvalue()
        assert after.n_chunks == before.n_chunks == len(before.chunks)
        assert after.chunk_ids() == before.chunk_ids()
        assert after.doc_id == before.doc_id
    assert (sent.source, sent.path, sent.content_hash, sent.size, sent.mtime_ns) == (
        doc.source, "p", "h", 3, 7,
    )  # fmt: skip


def test_every_field_of_a_result_survives_pickling() -> None:
    err = ErrorRecord(source="s", stage="parse", error="E", message="m")
    res = Result(
        "s", error=err, path="p", content_hash="h", size=1, mtime_ns=2, unchanged=True,
        attachments=[Result("s#a", empty=True)], empty=True,
    )  # fmt: skip
    assert pickle.loads(pickle.dumps(res)) == res


@given(st.lists(st.tuples(st.integers(0, 10**9), st.integers(0, 10**9)), max_size=20))
def test_plain_elements_are_the_dataclass_built_ones(spans: list[tuple[int, int]]) -> None:
    """Elements with their slots set directly compare equal, repr, pickle and stay
    frozen like ``Element(kind, start, end)``; each has its own attrs dict."""
    import dataclasses

    import pytest

    from chunkwise.types import plain_elements

    got = plain_elements("paragraph", spans)
    want = [Element("paragraph", a, b) for a, b in spans]
    assert got == want
    assert [repr(e) for e in got] == [repr(e) for e in want]
    assert pickle.loads(pickle.dumps(got)) == want
    for e in got:
        with pytest.raises(dataclasses.FrozenInstanceError):
            e.start = 0  # type: ignore[misc]
    assert len({id(e.attrs) for e in got}) == len(got)
