"""Workers send documents and chunks to the main process pickled: every field survives."""

from __future__ import annotations

import pickle

from hypothesis import given
from hypothesis import strategies as st

from chunkwise.pipeline import Result
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
