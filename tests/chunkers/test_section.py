from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest
from chunkwise.chunkers.section import SectionChunker
from chunkwise.parsers.html import HtmlParser
from chunkwise.parsers.markdown import MarkdownParser
from hypothesis import example, given, settings
from hypothesis import strategies as st

from chunkwise import registry
from chunkwise.chunking import ChunkerConfig, SpanAnnotator
from chunkwise.tokenizers import get_tokenizer
from chunkwise.types import Chunk, Document, Element
from tests.conftest import GOLDEN, assert_golden

TOK = get_tokenizer("cl100k_base")


def _md(text: str) -> Document:
    return MarkdownParser().parse(text.encode("utf-8"), source="doc.md")


def _chunks(doc: Document, max_tokens: int = 512, **kw: int) -> list[Chunk]:
    return list(SectionChunker(ChunkerConfig(max_tokens=max_tokens, **kw)).chunk(doc))


def _check(doc: Document, chunks: list[Chunk], max_tokens: int, overlap: int) -> None:
    ann = SpanAnnotator(doc)
    assert [c.index for c in chunks] == list(range(len(chunks)))
    for c in chunks:
        assert c.chunker == "section" and c.tokenizer == "cl100k_base"
        assert 0 <= c.start < c.end <= len(doc.text)
        assert c.n_tokens == TOK.count(c.text) <= max_tokens
        if c.synthetic:
            # A table piece: the repeated header, then exactly the rows it covers.
            assert c.kind == "table"
            assert c.text.endswith("\n" + doc.text[c.start : c.end])
        else:
            assert c.text == doc.text[c.start : c.end]
        # The path holds for every character of the chunk's body (heading lines aside: a heading
        # with nothing under it travels with the subsection that follows it).
        heads = [(e.start, e.end) for e in doc.elements if e.kind == "heading"]
        probes = [c.start, c.end - 1, *(b for _, b in heads if c.start < b < c.end)]
        for pos in probes:
            if not doc.text[pos].strip() or any(a <= pos < b for a, b in heads):
                continue
            assert ann.headings_at(pos)[: len(c.headings)] == c.headings
    starts = [c.start for c in chunks]
    assert starts == sorted(starts)
    if overlap == 0:
        for a, b in itertools.pairwise(chunks):
            assert a.end <= b.start
        covered = [False] * len(doc.text)
        for c in chunks:
            for i in range(c.start, c.end):
                covered[i] = True
        missing = [ch for ch, cov in zip(doc.text, covered, strict=True) if not cov and ch.strip()]
        assert not missing


# -- generated documents --------------------------------------------------------------------------

WORDS = st.lists(
    st.sampled_from("alpha beta gamma delta the of a widget tokenizer 42 naïve über, end.".split()),
    min_size=1,
    max_size=60,
).map(" ".join)
TABLE = st.integers(1, 30).map(
    lambda n: (
        "| key | value |\n|---|---|\n"
        + "\n".join(f"| row {i} | value number {i} here |" for i in range(n))
    )
)
BLOCKS = st.lists(st.one_of(WORDS, WORDS, TABLE), min_size=1, max_size=4)
SECTION = st.tuples(st.integers(1, 4), WORDS.map(lambda w: w[:40]), BLOCKS)


def _render(preamble: list[str], sections: list[tuple[int, str, list[str]]]) -> str:
    parts = list(preamble)
    for level, title, blocks in sections:
        parts.append("#" * level + " " + title.replace("|", " "))
        parts.extend(blocks)
    return "\n\n".join(parts) + "\n"


@settings(max_examples=40, deadline=None)
@given(
    preamble=st.lists(WORDS, max_size=2),
    sections=st.lists(SECTION, max_size=8),
    max_tokens=st.integers(24, 200),
    overlap=st.sampled_from([0, 0, 5]),
)
def test_invariants_every_section_has_text(
    preamble: list[str], sections: list[tuple[int, str, list[str]]], max_tokens: int, overlap: int
) -> None:
    doc = _md(_render(preamble, sections))
    chunks = _chunks(doc, max_tokens, overlap=overlap)
    _check(doc, chunks, max_tokens, overlap)
    # min_tokens=0 and no empty sections: no chunk reaches over a heading into the next section.
    heads = [e.start for e in doc.elements if e.kind == "heading"]
    for c in chunks:
        assert not any(c.start < h < c.end for h in heads), c
    assert chunks == _chunks(doc, max_tokens, overlap=overlap)  # deterministic


@settings(max_examples=40, deadline=None)
@given(
    text=st.lists(
        st.one_of(
            st.integers(1, 5).map(lambda n: "#" * n + " Heading"),
            WORDS,
            TABLE,
            st.just("```\ncode line\n\n  more code\n```"),
        ),
        min_size=1,
        max_size=14,
    ).map("\n\n".join),
    max_tokens=st.integers(16, 160),
    min_frac=st.floats(0, 1),
)
def test_invariants_with_min_tokens_and_empty_headings(
    text: str, max_tokens: int, min_frac: float
) -> None:
    doc = _md(text)
    chunks = _chunks(doc, max_tokens, min_tokens=int(max_tokens * min_frac))
    _check(doc, chunks, max_tokens, 0)


# -- section boundaries and merging ---------------------------------------------------------------

NESTED = """# A

## A.1

First subsection has a paragraph with a few more words in it than the others do.

## A.2

Tiny.

# B

Body of B is here, with enough words to stand on its own as a section.
"""


def _texts(chunks: list[Chunk]) -> list[str]:
    return [c.text for c in chunks]


def test_sections_and_empty_heading() -> None:
    chunks = _chunks(_md(NESTED))
    # "# A" has no text of its own: it travels with its first subsection.
    assert [c.headings for c in chunks] == [("A", "A.1"), ("A", "A.2"), ("B",)]
    assert chunks[0].text.startswith("# A\n\n## A.1\n\nFirst subsection")
    assert _texts(chunks)[1] == "## A.2\n\nTiny."
    assert _texts(chunks)[2].startswith("# B\n\nBody of B")


def test_small_section_merges_with_sibling_not_across_a_higher_heading() -> None:
    chunks = _chunks(_md(NESTED), min_tokens=12)
    # A.2 is small; B is not its sibling (a higher level), so A.2 joins A.1 behind it.
    assert len(chunks) == 2
    assert chunks[0].text.endswith("## A.2\n\nTiny.") and chunks[0].headings == ("A",)
    assert chunks[1].text.startswith("# B\n\nBody") and chunks[1].headings == ("B",)


def test_small_section_merges_forward_into_sibling() -> None:
    doc = _md("## One\n\nShort.\n\n## Two\n\nAlso short but a little longer.\n\n# Next\n\nEnd.")
    chunks = _chunks(doc, min_tokens=8)
    assert chunks[0].text.startswith("## One") and "## Two" in chunks[0].text
    assert chunks[0].headings == ()
    assert chunks[-1].headings == ("Next",)


def test_long_section_splits_under_the_cap_and_keeps_its_path() -> None:
    para = " ".join(f"Sentence number {i} of a long section." for i in range(80))
    doc = _md(f"# Top\n\n## Long\n\n{para}\n\n{para}\n\n## After\n\nDone.")
    chunks = _chunks(doc, max_tokens=64)
    long_chunks = [c for c in chunks if c.headings == ("Top", "Long")]
    assert len(long_chunks) > 4
    assert all(c.n_tokens <= 64 for c in chunks)
    assert chunks[-1].text == "## After\n\nDone." and chunks[-1].headings == ("Top", "After")


def test_overlap_stays_inside_the_section() -> None:
    para = " ".join(f"Sentence number {i} of a long section." for i in range(60))
    doc = _md(f"# One\n\n{para}\n\n# Two\n\n{para}")
    chunks = _chunks(doc, max_tokens=60, overlap=10)
    two = doc.text.index("# Two")
    for a, b in itertools.pairwise(chunks):
        if b.start >= two > a.start:
            assert b.start == two  # the first chunk of a section does not reach back
        elif b.start < two or a.start >= two:
            assert b.start < a.end  # inside a section, neighbours share text
    assert all(c.n_tokens <= 60 for c in chunks)


# -- tables ---------------------------------------------------------------------------------------


def _table_doc(n_rows: int) -> Document:
    rows = "\n".join(f"| {i} | item {i} | {i * 7} units |" for i in range(n_rows))
    return _md(
        "# Stock\n\nIntro text before the table.\n\n"
        f"| id | name | amount |\n|---|---|---|\n{rows}\n\nText after the table."
    )


def test_big_table_split_by_rows_with_header_repeated() -> None:
    doc = _table_doc(60)
    chunks = _chunks(doc, max_tokens=80)
    _check(doc, chunks, 80, 0)
    table = next(e for e in doc.elements if e.kind == "table")
    pieces = [c for c in chunks if table.start <= c.start < table.end]
    assert len(pieces) > 3 and {c.kind for c in pieces} == {"table"}
    first, rest = pieces[0], pieces[1:]
    assert not first.synthetic and first.start == table.start
    assert first.text.startswith("| id | name | amount |\n|---|---|---|\n| 0 |")
    for c in rest:
        assert c.synthetic
        assert c.text.startswith("| id | name | amount |\n|---|---|---|\n| ")
        assert re.fullmatch(r"(\| \d+ \| item \d+ \| \d+ units \|\n?)+", doc.text[c.start : c.end])
    # Every row exactly once, in order, with contiguous row ranges in the metadata.
    row_lines = [ln for c in pieces for ln in doc.text[c.start : c.end].splitlines()]
    assert row_lines[2:] == doc.text[table.start : table.end].splitlines()[2:]
    ranges = [c.metadata["table_rows"] for c in pieces]
    assert ranges[0][0] == 0 and ranges[-1][1] == 59
    assert all(b[0] == a[1] + 1 for a, b in itertools.pairwise(ranges))
    assert [c.metadata["header_repeated"] for c in pieces] == [False] + [True] * len(rest)
    assert not any(c.synthetic for c in chunks if c.kind != "table")


def test_table_that_fits_is_never_cut() -> None:
    para = " ".join(f"Sentence number {i} of a long section." for i in range(30))
    rows = "\n".join(f"| {i} | item {i} |" for i in range(12))
    doc = _md(f"# S\n\n{para}\n\n| id | name |\n|---|---|\n{rows}\n\n{para}")
    table = next(e for e in doc.elements if e.kind == "table")
    table_tokens = TOK.count(doc.text[table.start : table.end])
    chunks = _chunks(doc, max_tokens=table_tokens + 20)
    holders = [c for c in chunks if c.start <= table.start and table.end <= c.end]
    assert len(holders) == 1
    assert not any(c for c in chunks if table.start < c.start < table.end)
    assert len(chunks) >= 3


def test_html_table_golden(sample_docs: Path, update_golden: bool) -> None:
    doc = HtmlParser().parse(sample_docs / "html" / "autoracing-nascar-table.html.gz")
    chunks = _chunks(doc, max_tokens=128)
    _check(doc, chunks, 128, 0)
    assert sum(c.synthetic for c in chunks) >= 10
    data = [
        {
            "start": c.start,
            "end": c.end,
            "n_tokens": c.n_tokens,
            "kind": c.kind,
            "synthetic": c.synthetic,
            "headings": list(c.headings),
            "metadata": dict(c.metadata),
            "text": c.text,
        }
        for c in chunks
    ]
    assert_golden(GOLDEN / "html" / "autoracing-nascar-table.section128.json", data, update_golden)


# -- other documents --------------------------------------------------------------------------


def test_pdf_like_document_skips_furniture_and_reports_pages() -> None:
    page1 = "Annual Report\n\nIntroduction\n\nThis year went well for everyone involved."
    footer = "Page 1 of 2"
    page2 = "Results\n\nRevenue grew by ten percent in every region we serve."
    text = f"{page1}\n\n{footer}\n\n{page2}"
    o_footer = text.index(footer)
    o_res = text.index("Results")
    els = (
        Element("heading", 0, 13, page=1, bbox=(10, 10, 200, 30), level=1),
        Element("heading", 15, 27, page=1, bbox=(10, 40, 200, 60), level=2),
        Element("paragraph", 29, len(page1), page=1, bbox=(10, 70, 500, 90)),
        Element("footer", o_footer, o_footer + len(footer), page=1, bbox=(10, 800, 100, 810)),
        Element("heading", o_res, o_res + 7, page=2, bbox=(10, 10, 200, 30), level=2),
        Element("paragraph", o_res + 9, len(text), page=2, bbox=(10, 40, 500, 60)),
    )
    doc = Document("r.pdf", "0" * 16, text, els, {}, "pdf")
    chunks = _chunks(doc)
    assert [c.headings for c in chunks] == [
        ("Annual Report", "Introduction"),
        ("Annual Report", "Results"),
    ]
    assert all(footer not in c.text for c in chunks)
    assert chunks[0].pages == (1,) and chunks[1].pages == (2,)
    assert chunks[0].bboxes is not None


def test_plain_text_without_headings() -> None:
    from chunkwise.parsers.text import TextParser

    text = "\n\n".join(f"Paragraph {i} has some words in it." for i in range(40))
    doc = TextParser().parse(text.encode(), source="t.txt")
    chunks = _chunks(doc, max_tokens=50)
    _check(doc, chunks, 50, 0)
    assert all(c.headings == () for c in chunks)


def test_empty_document_gives_no_chunks() -> None:
    assert _chunks(Document("e", "0" * 16, "  \n", (), {}, "text")) == []


@pytest.mark.parametrize("name", ["nupunkt-README.md", "semchunk-README.md"])
def test_sample_markdown(sample_docs: Path, name: str) -> None:
    doc = MarkdownParser().parse(sample_docs / "markdown" / name)
    for max_tokens, min_tokens in ((64, 0), (256, 40)):
        chunks = _chunks(doc, max_tokens, min_tokens=min_tokens)
        _check(doc, chunks, max_tokens, 0)


def test_registered_and_default_for_html_and_markdown() -> None:
    assert registry.load("chunkers", "section") is SectionChunker
    assert registry.load("parsers", "html").default_chunker == "section"
    assert registry.load("parsers", "markdown").default_chunker == "section"


HTML_BLOCK = st.one_of(
    st.tuples(st.just("h"), st.integers(1, 4), WORDS.map(lambda w: w[:30])),
    st.tuples(st.just("p"), st.just(0), WORDS),
    st.tuples(st.just("table"), st.integers(2, 40), st.booleans().map(str)),
    st.tuples(st.just("ul"), st.integers(1, 8), WORDS.map(lambda w: w[:30])),
)


def _html(blocks: list[tuple[str, int, str]]) -> str:
    out = []
    for kind, n, text in blocks:
        if kind == "h":
            out.append(f"<h{n}>{text}</h{n}>")
        elif kind == "p":
            out.append(f"<p>{text}</p>")
        elif kind == "ul":
            out.append("<ul>" + "".join(f"<li>{text} {i}</li>" for i in range(n)) + "</ul>")
        else:
            head = "<tr><th>id</th><th>name</th></tr>" if text == "True" else ""
            rows = "".join(f"<tr><td>{i}</td><td>name number {i}</td></tr>" for i in range(n))
            out.append(f"<table>{head}{rows}</table>")
    return "<html><body>" + "".join(out) + "</body></html>"


@settings(max_examples=30, deadline=None)
@given(
    blocks=st.lists(HTML_BLOCK, min_size=1, max_size=10),
    max_tokens=st.integers(24, 160),
    min_tokens=st.sampled_from([0, 0, 16]),
)
def test_invariants_on_html_pages(
    blocks: list[tuple[str, int, str]], max_tokens: int, min_tokens: int
) -> None:
    doc = HtmlParser({"mode": "full"}).parse(_html(blocks).encode(), source="p.html")
    chunks = _chunks(doc, max_tokens, min_tokens=min_tokens)
    _check(doc, chunks, max_tokens, 0)
    for c in chunks:
        if c.synthetic:
            assert c.text.startswith("| id | name |\n| --- | --- |\n| ")


def test_heading_right_above_a_split_table_goes_with_its_first_piece() -> None:
    rows = "\n".join(f"| {i} | item {i} |" for i in range(40))
    doc = _md(f"# Inventory\n\n## Parts\n\n| id | name |\n|---|---|\n{rows}\n")
    chunks = _chunks(doc, max_tokens=60)
    _check(doc, chunks, 60, 0)
    assert chunks[0].text.startswith("# Inventory\n\n## Parts\n\n| id | name |\n|---|---|\n| 0 |")
    assert not chunks[0].synthetic and chunks[0].kind == "table"
    assert chunks[0].headings == ("Inventory", "Parts")
    assert all(c.synthetic for c in chunks[1:])


LONG = " ".join(f"word{i}, more text." for i in range(30))


@settings(max_examples=100, deadline=None)
@given(
    blocks=st.lists(
        st.one_of(st.integers(1, 4).map(lambda n: ("heading", n)), WORDS, TABLE, st.just("footer")),
        min_size=1,
        max_size=14,
    ),
    max_tokens=st.integers(8, 120),
    overlap=st.sampled_from([0, 0, 3]),
    min_frac=st.floats(0, 1),
)
# A group of two spans (a footer between them) whose first is over the cap, then a group over
# the cap: its counts must not be taken from the first group's second span.
@example([("heading", 1), LONG, "footer", "end.", ("heading", 1), LONG], 12, 0, 0.0)
def test_batched_plain_groups_equal_the_general_path(
    blocks: list[object], max_tokens: int, overlap: int, min_frac: float
) -> None:
    # Groups without tables whose spans all fit are packed in one batch; the general per-group
    # path must give the very same pieces for them. Footers make groups of several spans.
    from chunkwise.chunkers.section import Packer

    parts: list[str] = []
    els: list[Element] = []
    pos = 0
    for i, b in enumerate(blocks):
        if isinstance(b, tuple):
            kind, line, level = "heading", f"Heading {i}", b[1]
        elif b == "footer":
            kind, line, level = "footer", f"Page {i}", None
        else:
            kind, line, level = ("table" if str(b).startswith("|") else "paragraph"), str(b), None
        els.append(Element(kind, pos, pos + len(line), level=level))
        parts.append(line + "\n\n")
        pos += len(line) + 2
    doc = Document("d.pdf", "0" * 16, "".join(parts), tuple(els), {}, "pdf")
    config = ChunkerConfig(max_tokens, overlap=overlap, min_tokens=int(max_tokens * min_frac))
    chunker = SectionChunker(config)
    if not doc.text.strip():
        return
    packer = Packer(doc.text, chunker.tokenizer, max_tokens, [])
    ann = SpanAnnotator(doc)
    groups = chunker._merge(chunker._sections(doc, ann, packer))
    plain = chunker._plain_pieces(ann, groups, packer)
    for i, pieces in plain.items():
        assert pieces == chunker._pieces(ann, groups[i], packer)
    for c in chunker.chunk(doc):
        assert c.n_tokens == TOK.count(c.text) <= max_tokens
        assert "Page " not in c.text


def test_heading_above_a_split_table_does_not_reach_over_page_furniture() -> None:
    rows = "\n".join(f"| row {i} | value {i} |" for i in range(40))
    table = "| key | value |\n|---|---|\n" + rows
    text = f"Results\n\nPage 3\n\n{table}\n"
    o_foot, o_table = text.index("Page 3"), text.index("| key")
    els = (
        Element("heading", 0, 7, page=3, level=1),
        Element("footer", o_foot, o_foot + 6, page=3),
        Element("table", o_table, len(text) - 1, page=4, attrs={"header": True}),
    )
    doc = Document("r.pdf", "0" * 16, text, els, {}, "pdf")
    chunks = _chunks(doc, 48)
    assert len(chunks) > 2
    assert all("Page 3" not in c.text for c in chunks)
    assert "".join(c.text for c in chunks).count("Results") == 1
