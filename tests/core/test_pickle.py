"""Workers send documents and chunks to the main process pickled: every field survives."""

from __future__ import annotations

import pickle

from hypothesis import given
from hypothesis import strategies as st

from chunkwise.pipeline import Result, _without_elements
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
