from __future__ import annotations

import itertools
import re

import numpy as np
import pytest
from chunkwise.chunkers.s2 import (
    S2Chunker,
    choose_k,
    kmeans,
    lexical_vectors,
    spectral_labels,
)
from chunkwise.parsers.markdown import MarkdownParser
from chunkwise.parsers.pdf import PdfParser
from hypothesis import given, settings
from hypothesis import strategies as st

from chunkwise.chunking import ChunkerConfig
from chunkwise.errors import UsageError
from chunkwise.types import Chunk, Document, Element
from tests.conftest import SAMPLE_DOCS

JOURNAL = SAMPLE_DOCS / "pdf" / "three-column-journal.pdf"
SECTIONS = [
    "1. Rivers and Sediment",
    "2. Honey Bees and Foraging",
    "3. Bridges and Loads",
    "4. Bread and Fermentation",
]


def s2(max_tokens: int = 512, **extra: object) -> S2Chunker:
    extra.setdefault("semantic", "lexical")
    keep = bool(extra.pop("keep_furniture", False))
    overlap = int(extra.pop("overlap", 0))  # type: ignore[call-overload]
    min_tokens = int(extra.pop("min_tokens", 0))  # type: ignore[call-overload]
    config = ChunkerConfig(
        max_tokens=max_tokens,
        keep_furniture=keep,
        overlap=overlap,
        min_tokens=min_tokens,
    )
    return S2Chunker(config, extra)


@pytest.fixture(scope="module")
def journal() -> Document:
    return PdfParser().parse(JOURNAL)


def _check(doc: Document, chunks: list[Chunk], chunker: S2Chunker) -> None:
    cap = chunker.config.max_tokens
    assert [c.index for c in chunks] == list(range(len(chunks)))
    for c in chunks:
        assert c.text == doc.text[c.start : c.end]
        assert c.text and c.text == c.text.strip()
        assert c.n_tokens == chunker.tokenizer.count(c.text) <= cap
        assert c.chunker == "s2"
    if not chunker.config.overlap:
        ends = [c.end for c in chunks]
        starts = [c.start for c in chunks]
        assert all(e <= s for e, s in zip(ends, starts[1:], strict=False))


# -- on a real layout -------------------------------------------------------------------------


def test_one_chunk_per_section_on_the_journal(journal: Document) -> None:
    chunker = s2()
    chunks = list(chunker.chunk(journal))
    _check(journal, chunks, chunker)
    # Each section starts its own chunk, and no chunk holds two sections' headings.
    for title in SECTIONS:
        (owner,) = [c for c in chunks if title in c.text]
        assert owner.text.startswith(title) or owner.index == 0
        assert owner.headings[-1] == title or owner.index == 0
    for c in chunks:
        assert sum(t in c.text for t in SECTIONS) <= 1


def test_chunks_report_pages_boxes_and_headings(journal: Document) -> None:
    chunks = list(s2().chunk(journal))
    bread = next(c for c in chunks if c.text.startswith("4. Bread"))
    assert bread.pages == (2,)
    assert bread.bboxes and all(b.page == 2 for b in bread.bboxes)
    assert bread.headings == ("Field Notes on Rivers, Bees, Bridges and Bread", SECTIONS[3])
    bridges = next(c for c in chunks if c.text.startswith("3. Bridges"))
    # Its last paragraph runs on to page 2.
    assert bridges.pages == (1, 2)


def test_furniture_left_out_unless_kept(journal: Document) -> None:
    default = " ".join(c.text for c in s2().chunk(journal))
    assert "Journal of Everyday Systems" not in default and "Page 1" not in default
    kept = " ".join(c.text for c in s2(keep_furniture=True).chunk(journal))
    assert "Journal of Everyday Systems" in kept and "Page 1" in kept


def test_small_cap_splits_at_elements_then_sentences(journal: Document) -> None:
    for cap in (120, 40, 7):
        chunker = s2(cap)
        chunks = list(chunker.chunk(journal))
        _check(journal, chunks, chunker)
    chunks = list(s2(120).chunk(journal))
    # With room for whole paragraphs, cuts fall on paragraph or sentence ends.
    for c in chunks:
        assert re.search(r"[.!?:]$", c.text) or c.text in SECTIONS or c.text.endswith("Editor")


def test_every_word_of_the_content_is_kept(journal: Document) -> None:
    chunks = list(s2(100).chunk(journal))
    content = [
        journal.text[e.start : e.end]
        for e in journal.elements
        if e.kind not in ("header", "footer", "list")
    ]
    assert " ".join(" ".join(c.text for c in chunks).split()) == " ".join(" ".join(content).split())


def test_overlap_stays_under_cap(journal: Document) -> None:
    chunker = s2(80, overlap=20)
    chunks = list(chunker.chunk(journal))
    _check(journal, chunks, chunker)
    assert any(b.start < a.end for a, b in itertools.pairwise(chunks))


def test_deterministic(journal: Document) -> None:
    a = [(c.start, c.end) for c in s2(150).chunk(journal)]
    b = [(c.start, c.end) for c in s2(150).chunk(journal)]
    assert a == b


# -- columns from geometry alone ----------------------------------------------------------------


def _two_column_doc() -> Document:
    """Left column about cats, right column about ships; reading order is column by column."""
    left = [
        "Cats sleep most of the day and hunt at dusk.",
        "A cat grooms its fur with a rough tongue.",
        "Kittens learn to hunt by watching their mother cat.",
    ]
    right = [
        "Ships carry containers across the ocean.",
        "A ship's hull is painted to slow corrosion.",
        "Container ships dock at deep water ports.",
    ]
    text = ""
    els = []
    for col, paras in enumerate((left, right)):
        for k, p in enumerate(paras):
            if text:
                text += "\n\n"
            x0 = 50 + col * 260
            els.append(
                Element(
                    "paragraph",
                    len(text),
                    len(text) + len(p),
                    page=1,
                    bbox=(x0, 100 + 40 * k, x0 + 240, 130 + 40 * k),
                    attrs={"column": str(col)},
                )
            )
            text += p
    return Document(
        "cols", "0" * 16, text, tuple(els), {"page_sizes": {"1": [612, 792]}}, parser="pdf"
    )


def test_columns_become_separate_chunks() -> None:
    doc = _two_column_doc()
    for weight in (1.0, 0.5):
        chunks = list(s2(200, spatial_weight=weight, min_tokens=1).chunk(doc))
        assert [c.text.split()[0] for c in chunks] == ["Cats", "Ships"], weight


def test_elements_without_boxes_use_structure_distance() -> None:
    md = (
        "# Cats\n\nCats sleep most of the day.\n\nA cat grooms its fur.\n\n"
        "# Ships\n\nShips carry containers.\n\nA ship's hull is painted.\n"
    )
    doc = MarkdownParser().parse(md.encode(), source="x.md")
    chunker = s2(200, min_tokens=1)
    chunks = list(chunker.chunk(doc))
    _check(doc, chunks, chunker)
    assert [c.headings for c in chunks] == [("Cats",), ("Ships",)]
    assert chunks[0].bboxes is None and chunks[0].pages is None


def test_plain_text_without_elements() -> None:
    text = "First paragraph here.\n\nSecond one.\n\n\nThird and last."
    doc = Document("t.txt", "1" * 16, text)
    chunks = list(s2(50).chunk(doc))
    assert " ".join(c.text for c in chunks).split() == text.split()
    assert list(s2().chunk(Document("e", "2" * 16, "  \n"))) == []


@settings(max_examples=40, deadline=None)
@given(
    paras=st.lists(
        st.tuples(
            st.text(alphabet="abcdefgh ijk.\n", min_size=1, max_size=300),
            st.sampled_from(["paragraph", "heading", "header", "list_item"]),
            st.booleans(),
        ),
        min_size=1,
        max_size=25,
    ),
    cap=st.integers(3, 120),
    weight=st.floats(0.0, 1.0),
)
def test_invariants_on_random_documents(
    paras: list[tuple[str, str, bool]], cap: int, weight: float
) -> None:
    text = ""
    els = []
    for i, (p, kind, boxed) in enumerate(paras):
        if not p.strip():
            continue
        if text:
            text += "\n\n"
        bbox = (50.0, 20.0 * i % 700, 300.0, 20.0 * i % 700 + 15) if boxed else None
        els.append(
            Element(
                kind,
                len(text),
                len(text) + len(p),
                page=1 + i // 10 if boxed else None,
                bbox=bbox,
                level=1 if kind == "heading" else None,
            )
        )
        text += p
    doc = Document("r", "3" * 16, text, tuple(els))
    chunker = s2(cap, spatial_weight=weight)
    chunks = list(chunker.chunk(doc))
    _check(doc, chunks, chunker)
    # A hard cap may cut inside a word, so compare the non-space characters.
    content = "".join("".join(doc.text[e.start : e.end].split()) for e in els if e.kind != "header")
    covered = "".join("".join(c.text.split()) for c in chunks)
    # Furniture is cut out; all content survives, in order, once.
    assert covered == content
    assert [(c.start, c.end) for c in chunker.chunk(doc)] == [(c.start, c.end) for c in chunks]


# -- the pieces -------------------------------------------------------------------------------


def test_spectral_labels_find_blocks() -> None:
    w = np.zeros((9, 9))
    for block in ((0, 1, 2), (3, 4, 5), (6, 7, 8)):
        for i in block:
            for j in block:
                if i != j:
                    w[i, j] = 1.0
    w += 0.01
    np.fill_diagonal(w, 0)
    labels = spectral_labels(w, tokens=100, max_tokens=1000)
    assert labels[0] == labels[1] == labels[2]
    assert labels[3] == labels[4] == labels[5]
    assert labels[6] == labels[7] == labels[8]
    assert len(set(labels)) == 3
    # The token cap forces at least ceil(tokens / cap) clusters.
    assert len(set(spectral_labels(w, tokens=5000, max_tokens=1000))) >= 5


def test_choose_k_and_kmeans() -> None:
    vals = np.array([0.0, 0.01, 0.02, 0.9, 0.95, 1.0])
    assert choose_k(vals, 1, 5) == 3
    assert choose_k(vals, 4, 5) == 4 or choose_k(vals, 4, 5) == 5
    x = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0]])
    assert kmeans(x, 2) == kmeans(x, 2)
    labels = kmeans(x, 2)
    assert labels[0] == labels[1] != labels[2] == labels[3]


def test_lexical_vectors_similarity() -> None:
    v = lexical_vectors(["bees make honey", "honey bees dance", "bridges carry loads", ""])
    sim = v @ v.T
    assert sim[0, 1] > sim[0, 2]
    assert np.allclose(np.diag(sim)[:3], 1.0)
    assert sim[3, 3] == 0.0


def test_bad_options_are_usage_errors() -> None:
    with pytest.raises(UsageError):
        s2(spatial_weight=1.5)
    with pytest.raises(UsageError):
        s2(spatial_weight="heavy")
    with pytest.raises(UsageError):
        s2(semantic="telepathy")
    with pytest.raises(UsageError):
        s2(window=1)


def test_cli_ingest_pdf_with_s2(cli) -> None:
    # S2 is the PDF parser's own choice (what `auto` starts from for PDFs).
    assert PdfParser.default_chunker == "s2"
    args = ("ingest", str(JOURNAL), "-c", "s2", "--s2-semantic", "lexical")
    res = cli(*args, "--max-tokens", "300")
    assert res.returncode == 0, res.stderr
    recs = res.records()
    assert recs and all(r["chunker"] == "s2" and r["parser"] == "pdf" for r in recs)
    assert all(r["pages"] and r["bboxes"] and r["headings"] for r in recs)
    assert all(r["n_tokens"] <= 300 for r in recs)
    assert not any("Page 1" in r["text"] for r in recs)
    kept = cli(*args, "--keep-furniture")
    assert any("Page 1" in r["text"] for r in kept.records())
    bad = cli("ingest", str(JOURNAL), "--chunker", "s2", "--spatial-weight", "3")
    assert bad.returncode == 2 and "spatial_weight" in bad.stderr


@pytest.mark.slow
@pytest.mark.embed
def test_model_semantics(journal: Document) -> None:
    pytest.importorskip("sentence_transformers")
    chunker = s2(semantic="model")
    chunks = list(chunker.chunk(journal))
    _check(journal, chunks, chunker)
    for c in chunks:
        assert sum(t in c.text for t in SECTIONS) <= 1
