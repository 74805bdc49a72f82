"""Each metric of chunkwise.quality on hand-made documents whose right value is known."""

from __future__ import annotations

import itertools
import math
import random
import string

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chunkwise import quality
from chunkwise.quality import SizeRange
from chunkwise.types import Chunk, Document, Element


def make_doc(text: str, elements: tuple[Element, ...] = (), parser: str = "text") -> Document:
    return Document(source="mem", doc_id="d" * 16, text=text, elements=elements, parser=parser)


def cut(doc: Document, *positions: int, tokens: list[int] | None = None) -> list[Chunk]:
    """Chunks of ``doc`` between the given cut positions."""
    edges = [0, *positions, len(doc.text)]
    out = []
    for i, (a, b) in enumerate(itertools.pairwise(edges)):
        n = tokens[i] if tokens else max(1, len(doc.text[a:b].split()))
        out.append(Chunk(doc.doc_id, i, a, b, doc.text[a:b], n, "cl100k_base", "test"))
    return out


def sized(*counts: int) -> list[Chunk]:
    return [Chunk("d", i, i, i + 1, "x", n, "cl100k_base", "t") for i, n in enumerate(counts)]


# -- size compliance -----------------------------------------------------------------------------


def test_size_compliance_counts_chunks_in_range() -> None:
    assert quality.size_compliance(sized(50, 150, 1200, 500), SizeRange(100, 1100)) == 0.5
    assert quality.size_compliance(sized(100, 1100), SizeRange(100, 1100)) == 1.0


def test_size_compliance_small_document_lowers_the_floor() -> None:
    # A 30-token document cannot make a 100-token chunk: one chunk of it is compliant...
    assert quality.size_compliance(sized(30), SizeRange(100, 1100)) == 1.0
    # ...but splitting it in two is not: one chunk of 60 would have been possible.
    assert quality.size_compliance(sized(30, 30), SizeRange(100, 1100)) == 0.0


def test_size_compliance_empty() -> None:
    assert quality.size_compliance([], SizeRange()) == 0.0


# -- cohesion and separation ---------------------------------------------------------------------


def test_cohesion_identical_sentences_is_one() -> None:
    doc = make_doc("Cats purr softly. Cats purr softly.")
    coh, sep = quality.cohesion_separation(doc, cut(doc))
    assert coh == pytest.approx(1.0, abs=1e-6)
    assert sep == 1.0  # a single chunk has no neighbour to be confused with


def test_cohesion_two_unrelated_sentences_is_cos_45_degrees() -> None:
    # Disjoint vocabularies with equal weights: each sentence vector is orthogonal to the other,
    # so its cosine with their normalised sum is 1/sqrt(2).
    doc = make_doc("Cats purr softly. Stocks fell sharply.")
    coh, _ = quality.cohesion_separation(doc, cut(doc))
    assert coh == pytest.approx(1 / math.sqrt(2), abs=1e-6)


def test_cohesion_one_sentence_chunks_are_perfect() -> None:
    doc = make_doc("Cats purr softly. Stocks fell sharply.")
    coh, sep = quality.cohesion_separation(doc, cut(doc, 18))
    assert coh == 1.0
    assert sep == pytest.approx(1.0, abs=1e-6)  # nothing shared between the neighbours


def test_separation_identical_neighbours_is_zero() -> None:
    doc = make_doc("Cats purr softly. Cats purr softly.")
    _, sep = quality.cohesion_separation(doc, cut(doc, 18))
    assert sep == pytest.approx(0.0, abs=1e-6)


def test_lexical_vectors_are_deterministic_and_normalised() -> None:
    vec = quality.LexicalVectorizer()
    a = vec.vectors(["alpha beta", "gamma", "!!"])
    b = vec.vectors(["alpha beta", "gamma", "!!"])
    assert np.array_equal(a, b)
    norms = np.linalg.norm(a, axis=1)
    assert norms[0] == pytest.approx(1.0) and norms[1] == pytest.approx(1.0)
    assert norms[2] == 0.0  # no word at all: a zero row, not NaN


# -- block integrity -----------------------------------------------------------------------------

TABLE_DOC = "Intro sentence here.\n\n| a | b |\n| 1 | 2 |\n| 3 | 4 |\n\nOutro sentence."
T0 = TABLE_DOC.index("| a")
T1 = TABLE_DOC.index("\n\nOutro")
ROW3 = TABLE_DOC.index("| 3")
TABLE_ELS = (
    Element("paragraph", 0, 20),
    Element("table", T0, T1),
    Element("paragraph", T1 + 2, len(TABLE_DOC)),
)


def test_block_integrity_table_kept_whole() -> None:
    doc = make_doc(TABLE_DOC, TABLE_ELS, "markdown")
    details: dict = {}
    assert quality.block_integrity(doc, cut(doc, T0, T1), details=details) == 1.0
    assert details["blocks"] == 1 and details["blocks_cut"] == 0


def test_block_integrity_table_cut_between_rows() -> None:
    doc = make_doc(TABLE_DOC, TABLE_ELS, "markdown")
    # The table fits: cutting it costs the block part (0) but the cut sits between rows (1).
    assert quality.block_integrity(doc, cut(doc, ROW3)) == 0.5
    # The table is over the cap: it had to be cut, and between rows is the right place.
    assert quality.block_integrity(doc, cut(doc, ROW3), max_tokens=3) == 1.0


def test_block_integrity_table_cut_inside_a_row() -> None:
    doc = make_doc(TABLE_DOC, TABLE_ELS, "markdown")
    assert quality.block_integrity(doc, cut(doc, ROW3 + 3)) == 0.0
    assert quality.block_integrity(doc, cut(doc, ROW3 + 3), max_tokens=3) == 0.0


def test_block_integrity_sentences() -> None:
    doc = make_doc("One two three. Four five six. Seven eight.")
    four = doc.text.index("Four")
    assert quality.block_integrity(doc, cut(doc, four)) == 1.0
    assert quality.block_integrity(doc, cut(doc, four - 1)) == 1.0  # same cut, before the space
    details: dict = {}
    mid = doc.text.index("five")
    assert quality.block_integrity(doc, cut(doc, four, mid), details=details) == 0.5
    assert details["boundaries"] == 2 and details["boundaries_in_sentences"] == 1


def test_block_integrity_abbreviation_is_not_a_sentence_end() -> None:
    doc = make_doc("We met Dr. Smith today. He was late.")
    assert quality.block_integrity(doc, cut(doc, doc.text.index("Smith"))) == 0.0


def test_block_integrity_code_uses_lines() -> None:
    doc = make_doc("def f():\n    return 1\n\nx = f()\n", parser="code")
    assert quality.block_integrity(doc, cut(doc, doc.text.index("x ="))) == 1.0
    assert quality.block_integrity(doc, cut(doc, doc.text.index("1"))) == 0.0


# -- reference completeness ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "dangling"),
    [
        ("It is great.", True),
        ("this shows the point", True),
        ("However, the court disagreed.", True),
        ("As described above, the flag works.", True),
        ("The above rule applies.", True),
        ("- Their offices closed.", True),
        ("This Agreement is governed by law.", False),  # a defined term, not a pointer back
        ("Italy is a country.", False),
        ("Iterators are lazy.", False),
        ("The court held that.", False),
    ],
)
def test_dangling_reference(text: str, dangling: bool) -> None:
    assert quality.dangling_reference(text) is dangling


def test_reference_completeness_counts_non_initial_chunks() -> None:
    doc = make_doc("Alpha is a thing. It is great. Beta is another. Gamma too.")
    it = doc.text.index("It")
    beta = doc.text.index("Beta")
    gamma = doc.text.index("Gamma")
    assert quality.reference_completeness(doc, cut(doc, it, beta, gamma)) == pytest.approx(2 / 3)
    assert quality.reference_completeness(doc, cut(doc, beta)) == 1.0
    assert quality.reference_completeness(doc, cut(doc)) == 1.0


def test_reference_completeness_heading_resets_context() -> None:
    text = "Alpha is a thing.\n\n# Usage\n\nIt is great."
    h = text.index("# Usage")
    doc = make_doc(text, (Element("heading", h, h + 7, level=1),), "markdown")
    # A chunk that starts at the heading, or right after it, is not judged.
    assert quality.reference_completeness(doc, cut(doc, h)) == 1.0
    assert quality.reference_completeness(doc, cut(doc, text.index("It"))) == 1.0


# -- boundary clarity and stickiness -------------------------------------------------------------


def _random_text(seed: int, n: int = 1500) -> str:
    rng = random.Random(seed)
    return " ".join(
        "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(2, 9)))
        for _ in range(n // 6)
    )


def test_conditional_information_extremes() -> None:
    a, b = _random_text(1), _random_text(2)
    assert quality.conditional_information(a, a) < 0.1  # the neighbour predicts it entirely
    assert quality.conditional_information(a, b) > 0.9  # the neighbour says nothing about it
    assert quality.conditional_information(a, "") == 1.0


def test_boundary_clarity() -> None:
    a, b = _random_text(1), _random_text(2)
    doc = make_doc(a + b)
    assert quality.boundary_clarity(cut(doc, len(a))) > 0.9
    same = make_doc(a + a)
    assert quality.boundary_clarity(cut(same, len(a))) < 0.1
    assert quality.boundary_clarity(cut(doc)) == 1.0


def test_chunk_stickiness() -> None:
    a = _random_text(1)
    same = make_doc(a * 4)
    # Four copies: every pair within the window is joined, degrees all equal: entropy log2(4).
    assert quality.chunk_stickiness(cut(same, len(a), 2 * len(a), 3 * len(a))) == pytest.approx(1)
    parts = [_random_text(i) for i in range(4)]
    doc = make_doc("".join(parts))
    edges = np.cumsum([len(p) for p in parts])[:-1]
    assert quality.chunk_stickiness(cut(doc, *map(int, edges))) == 0.0
    assert quality.chunk_stickiness(cut(doc)) == 0.0


# -- the combined score --------------------------------------------------------------------------


def test_score_and_combined() -> None:
    doc = make_doc(TABLE_DOC, TABLE_ELS, "markdown")
    s = quality.score(doc, cut(doc, T0, T1), stickiness=True)
    assert set(quality.METRICS) <= set(s.values)
    assert all(0.0 <= v <= 1.0 for v in s.values.values())
    assert s.combined == pytest.approx(sum(s.values.values()) / len(s.values))
    d = s.to_dict()
    assert d["chunks"] == 3 and "stickiness" in d and d["combined"] == round(s.combined, 4)
    assert quality.combined_score({"cohesion": 0.5, "separation": 1.0}) == 0.75
    assert quality.combined_score({}) == 0.0


def test_vectorizer_names() -> None:
    from chunkwise.errors import UsageError

    assert quality.get_vectorizer("lexical").name == "lexical"
    with pytest.raises(UsageError):
        quality.get_vectorizer("bogus")


# -- embedding model -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def model_vectorizer() -> quality.Vectorizer:
    pytest.importorskip("sentence_transformers")
    vec = quality.get_vectorizer("model", device="cpu")
    vec.vectors(["warm up"])
    return vec


@pytest.mark.embed
def test_model_cohesion_prefers_one_topic(model_vectorizer: quality.Vectorizer) -> None:
    on_topic = make_doc(
        "The cat slept on the warm windowsill. A kitten curled up beside the sleeping cat."
    )
    mixed = make_doc("The cat slept on the warm windowsill. Interest rates rose by half a point.")
    coh_on, _ = quality.cohesion_separation(on_topic, cut(on_topic), model_vectorizer)
    coh_mixed, _ = quality.cohesion_separation(mixed, cut(mixed), model_vectorizer)
    assert coh_on > coh_mixed
    # Lexically the two on-topic sentences share only "cat": the model sees more than words.
    coh_lex, _ = quality.cohesion_separation(on_topic, cut(on_topic))
    assert coh_on > coh_lex


@pytest.mark.embed
def test_model_separation(model_vectorizer: quality.Vectorizer) -> None:
    text = "The cat slept on the windowsill. Bond yields climbed after the central bank spoke."
    doc = make_doc(text)
    at = text.index("Bond")
    _, sep_topic_cut = quality.cohesion_separation(doc, cut(doc, at), model_vectorizer)
    same = make_doc("The cat slept on the windowsill. The kitten napped near the cat.")
    _, sep_same = quality.cohesion_separation(
        same, cut(same, same.text.index("The kitten")), model_vectorizer
    )
    assert sep_topic_cut > sep_same


@pytest.mark.embed
def test_model_vectors_cached_and_bounded(model_vectorizer: quality.Vectorizer) -> None:
    assert isinstance(model_vectorizer, quality.ModelVectorizer)
    texts = ["a cat sat", "a dog ran", "a cat sat"]
    first = model_vectorizer.vectors(texts)
    assert first.shape == (3, 384) and np.allclose(first[0], first[2])
    old = model_vectorizer.cache_size
    try:
        model_vectorizer.cache_size = 2  # the next call overflows: keep what it needs
        again = model_vectorizer.vectors(["a cat sat", "birds sing"])
    finally:
        model_vectorizer.cache_size = old
    assert np.allclose(again[0], first[0])
    assert np.linalg.norm(again[1]) == pytest.approx(1.0, abs=1e-4)


# -- invariants ----------------------------------------------------------------------------------

_PIECES = st.sampled_from(
    [
        "It rained. ",
        "However, the sun! ",
        "Dr. Who? ",
        "| a | b |\n",
        "- item\n",
        "\n\n",
        "x ",
        "é ",
    ]
)


@settings(max_examples=60, deadline=None)
@given(
    pieces=st.lists(_PIECES, min_size=1, max_size=40),
    cuts=st.lists(st.integers(0, 10_000), max_size=8),
    block=st.tuples(st.integers(0, 400), st.integers(0, 400)),
)
def test_metrics_stay_in_unit_interval(
    pieces: list[str], cuts: list[int], block: tuple[int, int]
) -> None:
    text = "".join(pieces)
    a, b = sorted(x % (len(text) + 1) for x in block)
    doc = make_doc(text, (Element("table", a, b),) if b > a else (), "markdown")
    positions = sorted({c % len(text) for c in cuts} - {0})
    chunks = cut(doc, *positions)
    s = quality.score(doc, chunks, max_tokens=5, stickiness=True)
    for key, value in s.values.items():
        assert 0.0 <= value <= 1.0, key
    assert 0.0 <= s.details["stickiness"] <= 1.0
    assert s.details["boundaries"] <= 2 * len(chunks)


def _reference_sparse_vectors(texts: list[str]) -> quality.SparseRows:
    """The lexical vectors as first written (Counter bags, a Counter of document frequencies,
    one Python step per word), kept as the reference of the array version."""
    from collections import Counter

    bags = [Counter(w.lower() for w in quality._WORD.findall(t)) for t in texts]
    df: Counter[str] = Counter()
    for bag in bags:
        df.update(bag.keys())
    col = {w: i for i, w in enumerate(df)}
    n = len(texts)
    idf = np.array([math.log((1 + n) / (1 + d)) + 1.0 for d in df.values()], dtype=np.float64)
    total = sum(len(bag) for bag in bags)
    rows = np.repeat(np.arange(n, dtype=np.int64), [len(bag) for bag in bags])
    cols = np.fromiter((col[w] for bag in bags for w in bag), dtype=np.int64, count=total)
    tfs = np.fromiter((tf for bag in bags for tf in bag.values()), dtype=np.int64, count=total)
    top = int(tfs.max()) if total else 0
    sublinear = np.array([1.0 + math.log(t) if t else 0.0 for t in range(top + 1)])
    vals = (sublinear[tfs] * idf[cols]).astype(np.float32)
    return quality.SparseRows(rows, cols, vals, n, len(col)).normalised()


_VOCAB = ["Alpha", "alpha", "beta", "Gamma", "δέλτα", "Straße", "x", "42", "a_b", "..", "ÉTÉ"]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from(_VOCAB), max_size=25).map(" ".join), min_size=0, max_size=12),
    st.integers(min_value=1, max_value=6),
)
def test_sparse_vectors_bit_identical_to_the_reference(texts: list[str], cache: int) -> None:
    """Same rows, columns (first-occurrence order) and float32 values, bit for bit, whatever the
    vectorizer saw before and however often its cache was cleared in between."""
    vec = quality.LexicalVectorizer()
    vec.cache_size = cache
    for call in (texts, texts[::-1], texts[: len(texts) // 2], texts):
        got, want = vec.sparse_vectors(call), _reference_sparse_vectors(call)
        assert (got.n_rows, got.n_cols) == (want.n_rows, want.n_cols)
        assert np.array_equal(got.rows, want.rows) and np.array_equal(got.cols, want.cols)
        assert got.vals.dtype == want.vals.dtype
        assert got.vals.tobytes() == want.vals.tobytes()
