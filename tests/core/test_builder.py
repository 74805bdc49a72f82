"""The one chunk builder (chunking.ChunkBuilder), the kind rule (kinds.py) and the span helpers
(spans.py), tested directly rather than through a chunker."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chunkwise.chunking import ChunkBuilder
from chunkwise.kinds import (
    BLOCK_KINDS,
    LAYOUT_KINDS,
    UNCUT_BLOCK_KINDS,
    chunk_kind,
    span_kind,
)
from chunkwise.spans import trim, trimmed_pieces
from chunkwise.tokenizers import get_tokenizer
from chunkwise.types import Chunk, Document, Element, PageBox

CHARS = get_tokenizer("chars")

# "Title" heading, a paragraph, a two-item list, a table of two rows.
TEXT = "Title\n\nSome words here.\n\n- one\n- two\n\n| a | b |\n| 1 | 2 |"


def _doc(paged: bool = True) -> Document:
    def at(s: str) -> tuple[int, int]:
        i = TEXT.index(s)
        return i, i + len(s)

    def where(page: int, box: tuple[float, float, float, float] | None) -> dict:
        return {"page": page, "bbox": box} if paged else {}

    lst = at("- one\n- two")
    els = [
        Element("heading", *at("Title"), level=1, **where(1, (0.0, 0.0, 10.0, 10.0))),
        Element("paragraph", *at("Some words here."), **where(1, (0.0, 0.0, 10.0, 10.0))),
        Element("list", *lst, **where(2, (1.0, 1.0, 2.0, 2.0))),
        Element("list_item", lst[0], lst[0] + 5, **where(2, None)),
        Element("table", *at("| a | b |\n| 1 | 2 |"), **where(1, (5.0, 5.0, 6.0, 6.0))),
    ]
    return Document("t.txt", "0" * 16, TEXT, tuple(els))


def test_builder_slices_counts_and_numbers_chunks() -> None:
    b = ChunkBuilder(_doc(), CHARS, "x")
    first = b.chunk(0, 5)
    second = b.chunk(7, 23, 99)
    assert (first.index, second.index) == (0, 1)
    assert first.text == "Title" and first.n_tokens == 5  # counted when not given
    assert second.text == TEXT[7:23] and second.n_tokens == 99  # the chunker's count is kept
    assert (first.chunker, first.tokenizer, first.doc_id) == ("x", "chars", "0" * 16)
    assert not first.synthetic and not second.synthetic


def test_builder_synthetic_exactly_when_text_differs() -> None:
    b = ChunkBuilder(_doc(), CHARS, "x")
    same = b.chunk(0, 5, text="Title")
    other = b.chunk(0, 5, text="Header\nTitle")
    assert not same.synthetic
    assert other.synthetic and other.text == "Header\nTitle" and other.n_tokens == 12


def test_builder_pages_boxes_headings_kind_from_elements() -> None:
    b = ChunkBuilder(_doc(), CHARS, "x")
    lst = TEXT.index("- one")
    tbl = TEXT.index("| a")
    c = b.chunk(0, len(TEXT))
    assert c.pages == (1, 2)
    # One box per distinct box, in element order: the heading's and paragraph's are the same.
    assert c.bboxes == (
        PageBox(1, 0.0, 0.0, 10.0, 10.0),
        PageBox(2, 1.0, 1.0, 2.0, 2.0),
        PageBox(1, 5.0, 5.0, 6.0, 6.0),
    )
    assert c.kind == "text"
    assert c.headings == ("Title",)
    in_list = b.chunk(lst, lst + len("- one\n- two"))
    assert in_list.kind == "list" and in_list.pages == (2,)
    assert b.chunk(tbl, len(TEXT)).kind == "table"
    # Nothing overlapped: no pages, no boxes.
    assert b.chunk(5, 7).pages is None and b.chunk(5, 7).bboxes is None


def test_builder_given_fields_win() -> None:
    b = ChunkBuilder(_doc(), CHARS, "x")
    c = b.chunk(
        0,
        len(TEXT),
        kind="code",
        headings=["a", "b"],
        pages=[3, 1, 3],
        boxes=[PageBox(3, 0, 0, 1, 1), PageBox(3, 0, 0, 1, 1)],
        continues="true",
        metadata={"k": 1},
    )
    assert (c.kind, c.headings, c.pages, c.continues) == ("code", ("a", "b"), (1, 3), "true")
    assert c.bboxes == (PageBox(3, 0, 0, 1, 1),)
    assert c.metadata == {"k": 1}
    # Given empty: no pages, and the elements are not consulted.
    assert b.chunk(0, 5, pages=[], boxes=[]).pages is None


def test_builder_without_pages_skips_lookup() -> None:
    b = ChunkBuilder(_doc(paged=False), CHARS, "x")
    c = b.chunk(0, len(TEXT), kind="code", headings=())
    assert c.pages is None and c.bboxes is None
    assert b._annotator is None  # nothing needed the element index


@pytest.mark.parametrize(("start", "end"), [(-1, 3), (5, 4), (0, len(TEXT) + 1)])
def test_builder_rejects_spans_outside_the_text(start: int, end: int) -> None:
    with pytest.raises(ValueError, match="outside the text"):
        ChunkBuilder(_doc(), CHARS, "x").chunk(start, end)


_KINDS = ("paragraph", "heading", "table", "list_item", "code", "header")


@settings(max_examples=150, deadline=None)
@given(
    text=st.text(alphabet="ab \n#", min_size=1, max_size=60),
    spec=st.lists(
        st.tuples(st.sampled_from(_KINDS), st.integers(0, 60), st.integers(0, 20), st.booleans()),
        max_size=6,
    ),
    cuts=st.lists(st.integers(0, 60), max_size=5),
    with_meta=st.booleans(),
)
def test_spans_equal_one_chunk_call_per_span(
    text: str,
    spec: list[tuple[str, int, int, bool]],
    cuts: list[int],
    with_meta: bool,
) -> None:
    """``spans`` (with its shortcut for documents of plain paragraphs) makes the chunks one
    ``chunk`` call per span makes, whatever the elements."""
    n = len(text)
    els = tuple(
        Element(kind, min(a, n), min(a + w, n), page=1 if paged else None, level=1)
        for kind, a, w, paged in spec
    )
    doc = Document("t.txt", "0" * 16, text, els)
    bounds = sorted({0, n, *(min(c, n) for c in cuts)})
    spans = list(itertools.pairwise(bounds))
    counts = [b - a for a, b in spans]
    meta = [{"i": i} if i % 2 else {} for i in range(len(spans))] if with_meta else None
    one_by_one = ChunkBuilder(doc, CHARS, "x")
    expected = [
        one_by_one.chunk(a, b, c, metadata=meta[i] if meta else None)
        for i, ((a, b), c) in enumerate(zip(spans, counts, strict=True))
    ]
    assert list(ChunkBuilder(doc, CHARS, "x").spans(spans, counts, meta)) == expected


def test_spans_of_plain_paragraphs_use_no_element_index() -> None:
    text = "one two\n\nthree four"
    doc = Document(
        "t.txt", "0" * 16, text, (Element("paragraph", 0, 7), Element("paragraph", 9, 19))
    )
    b = ChunkBuilder(doc, CHARS, "x")
    chunks = list(b.spans([(0, 9), (9, 19)], [9, 10]))
    assert [(c.index, c.text, c.kind, c.headings) for c in chunks] == [
        (0, "one two\n\n", "text", ()),
        (1, "three four", "text", ()),
    ]
    assert b._annotator is None
    with pytest.raises(ValueError, match="outside the text"):
        list(b.spans([(0, 99)], [1]))


def test_spans_go_through_a_subclass_chunk() -> None:
    class Tagged(ChunkBuilder):
        def chunk(self, start: int, end: int, n_tokens: int | None = None, **kw: Any) -> Chunk:
            return super().chunk(start, end, n_tokens, **{**kw, "kind": "code"})

    doc = Document("t.txt", "0" * 16, "abc", (Element("paragraph", 0, 3),))
    assert [c.kind for c in Tagged(doc, CHARS, "x").spans([(0, 3)], [3])] == ["code"]


# -- the kind rule -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parts", "kind"),
    [
        (["table"], "table"),
        (["heading", "table"], "table"),
        (["caption"], "caption"),
        (["paragraph"], "text"),
        (["heading"], "text"),  # headings alone are text (vision once said "heading")
        ([], "text"),
        (["table", "list"], "text"),
        (["list", "paragraph"], "text"),
    ],
)
def test_chunk_kind(parts: list[str], kind: str) -> None:
    assert chunk_kind(parts) == kind


def _els(text: str, *spec: tuple[str, str]) -> list[Element]:
    out = []
    for kind, s in spec:
        i = text.index(s)
        out.append(Element(kind, i, i + len(s)))
    return out


def test_span_kind_nested_and_unclaimed() -> None:
    text = "Intro line\n\n- a\n- b\n\nafter"
    lst = "- a\n- b"
    a, b = text.index(lst), text.index(lst) + len(lst)
    items = _els(text, ("list", lst), ("list_item", "- a"), ("paragraph", "- b"))
    # Elements nested in the list are the list.
    assert span_kind(text, items, a, b) == "list"
    # A paragraph beside the list (not inside it) makes the chunk text; the old chunking rule
    # called this a list.
    beside = [*items, *_els(text, ("paragraph", "Intro line"))]
    assert span_kind(text, beside, 0, b) == "text"
    # Text no element claims (a plain-text parser) is content too.
    assert span_kind(text, items, a, len(text)) == "text"
    # Headings do not count.
    assert span_kind(text, [*items, *_els(text, ("heading", "Intro line"))], 0, b) == "list"
    assert span_kind(text, [], 0, len(text)) == "text"


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet="ab \n", max_size=40),
    st.lists(
        st.tuples(
            st.sampled_from(["table", "list", "heading", "paragraph", "list_item", "code"]),
            st.integers(0, 40),
            st.integers(0, 40),
        ),
        max_size=6,
    ),
    st.integers(0, 40),
    st.integers(0, 40),
)
def test_span_kind_block_means_all_content_in_that_block(
    text: str, raw: list[tuple[str, int, int]], x: int, y: int
) -> None:
    n = len(text)
    start, end = sorted((min(x, n), min(y, n)))
    els = [Element(k, min(a, b, n), min(max(a, b), n)) for k, a, b in raw]
    els = [e for e in els if e.end > start and e.start < end]
    kind = span_kind(text, els, start, end)
    assert kind == "text" or kind in BLOCK_KINDS
    if kind != "text":
        blocks = [e for e in els if e.kind == kind]
        claimed = blocks + [e for e in els if e.kind == "heading"]
        for i in range(start, end):
            if not text[i].isspace():
                assert any(e.start <= i < e.end for e in claimed), (i, els)
        assert {e.kind for e in els if e.kind in BLOCK_KINDS} == {kind}


def test_kind_sets_are_one_definition() -> None:
    assert UNCUT_BLOCK_KINDS < BLOCK_KINDS
    assert {k for k in LAYOUT_KINDS if k not in ("heading", "paragraph")} <= BLOCK_KINDS


# -- spans ---------------------------------------------------------------------------------------


def test_trim() -> None:
    assert trim("  ab \n", 0, 6) == (2, 4)
    assert trim("   ", 0, 3) == (3, 3)
    assert trim("x  y", 1, 3) == (3, 3)


@given(st.text(alphabet="ab \n\t", max_size=30), st.lists(st.integers(0, 30), max_size=6))
def test_trimmed_pieces_cover_all_content(text: str, cuts: list[int]) -> None:
    bounds = [0, *sorted(min(c, len(text)) for c in cuts), len(text)]
    pieces = trimmed_pieces(text, bounds)
    for a, b in pieces:
        assert a < b and not text[a].isspace() and not text[b - 1].isspace()
    assert "".join("".join(text[a:b] for a, b in pieces).split()) == "".join(text.split())
