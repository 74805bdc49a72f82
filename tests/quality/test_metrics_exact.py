"""The metrics' faster code gives exactly (==, bit for bit) what the code before it gave.

``--chunker auto`` writes every candidate's combined score into the chunks' metadata and picks
the winner by them, and the retrieval-quality work is tuned on these values: a speed-up must not
move them in the last bit. The reference below is the implementation as it was before the
speed-up (per-text numpy bags numbered by one global dict, ``np.unique`` for columns and keys),
frozen here; the tests compare it with :mod:`chunkwise.quality` on generated documents and
chunkings and on the sample documents' real candidates.
"""

from __future__ import annotations

import itertools
import math
import random
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from chunkwise.chunkers.auto import AutoChunker
from hypothesis import given, settings
from hypothesis import strategies as st

from chunkwise import quality, registry
from chunkwise.chunking import ChunkerConfig
from chunkwise.packing import TokenIndex
from chunkwise.quality import SparseRows
from chunkwise.types import Chunk, Document

# -- the reference: the code before the speed-up -------------------------------------------------


class RefLexical:
    """LexicalVectorizer before: numpy arrays per bag, global word numbers, np.unique."""

    def __init__(self) -> None:
        self._bags: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._ids: dict[str, int] = {}

    def _bag(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        bag = self._bags.get(text)
        if bag is None:
            counts = Counter(w.lower() for w in quality._WORD.findall(text))
            ids = self._ids
            setdefault = ids.setdefault
            words = np.fromiter(
                (setdefault(w, len(ids)) for w in counts), dtype=np.int64, count=len(counts)
            )
            tfs = np.fromiter(counts.values(), dtype=np.int64, count=len(counts))
            bag = self._bags[text] = (words, tfs)
        return bag

    def sparse_vectors(self, texts: Sequence[str]) -> SparseRows:
        bags = [self._bag(t) for t in texts]
        n = len(texts)
        sizes = [len(words) for words, _ in bags]
        total = sum(sizes)
        rows = np.repeat(np.arange(n, dtype=np.int64), sizes)
        if not total:
            empty = np.zeros(0, dtype=np.int64)
            return SparseRows(rows, empty, np.zeros(0, dtype=np.float32), n, 0).normalised()
        words = np.concatenate([w for w, _ in bags])
        tfs = np.concatenate([t for _, t in bags])
        uniq, first, inverse, df = np.unique(
            words, return_index=True, return_inverse=True, return_counts=True
        )
        order = np.argsort(first, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        cols = rank[inverse.reshape(-1)]
        freqs = df[order]
        distinct = np.unique(freqs)
        logs = np.array([math.log((1 + n) / (1 + d)) + 1.0 for d in distinct.tolist()])
        idf = logs[np.searchsorted(distinct, freqs)]
        top = int(tfs.max())
        sublinear = np.array([1.0 + math.log(t) if t else 0.0 for t in range(top + 1)])
        vals = (sublinear[tfs] * idf[cols]).astype(np.float32)
        return SparseRows(rows, cols, vals, n, len(uniq)).normalised()


def ref_sparse_cohesion(m: SparseRows, own: np.ndarray, n_chunks: int) -> tuple[np.ndarray, ...]:
    width = max(1, m.n_cols)
    keys = own[m.rows] * width + m.cols
    uniq, inverse = np.unique(keys, return_inverse=True)
    sums = np.bincount(inverse, weights=m.vals.astype(np.float64)).astype(np.float32)
    cent = SparseRows(uniq // width, uniq % width, sums, n_chunks, m.n_cols).normalised()
    sims = np.bincount(
        m.rows, weights=(m.vals * cent.vals[inverse]).astype(np.float64), minlength=m.n_rows
    )
    nonzero = np.bincount(m.rows, minlength=m.n_rows) > 0
    nxt = np.searchsorted(uniq, uniq + width)
    nxt_ok = nxt < len(uniq)
    hit = np.zeros(len(uniq), dtype=bool)
    hit[nxt_ok] = uniq[nxt[nxt_ok]] == uniq[nxt_ok] + width
    adj = np.bincount(
        cent.rows[hit],
        weights=(cent.vals[hit] * cent.vals[nxt[hit]]).astype(np.float64),
        minlength=n_chunks,
    )[: max(0, n_chunks - 1)]
    return sims, nonzero, adj


def ref_cohesion_separation(
    doc: Document, chunks: Sequence[Chunk], vec: RefLexical
) -> tuple[float, float]:
    if not chunks:
        return 0.0, 0.0
    owners: list[int] = []
    texts: list[str] = []
    for i, c in enumerate(chunks):
        spans = quality.sentence_spans(doc, c.start, c.end) if not c.synthetic else []
        if not spans:
            texts.append(c.text)
            owners.append(i)
            continue
        for a, b in spans:
            texts.append(doc.text[a:b])
            owners.append(i)
    own = np.asarray(owners, dtype=np.int64)
    k = len(chunks)
    sims, nonzero, adj = ref_sparse_cohesion(vec.sparse_vectors(texts), own, k)
    n_all = np.bincount(own, minlength=k)
    n_nz = np.bincount(own, weights=nonzero, minlength=k)
    s_all = np.bincount(own, weights=sims, minlength=k)
    s_nz = np.bincount(own, weights=sims * nonzero, minlength=k)
    use_nz = n_nz > 0
    count = np.where(use_nz, n_nz, n_all)
    total = np.where(use_nz, s_nz, s_all)
    per_chunk = np.where(count <= 1, 1.0, total / np.maximum(count, 1))
    cohesion = float(np.clip(np.mean(per_chunk), 0.0, 1.0))
    if k < 2:
        return cohesion, 1.0
    return cohesion, float(np.clip(1.0 - np.mean(adj), 0.0, 1.0))


# -- helpers -------------------------------------------------------------------------------------


def same_rows(got: SparseRows, want: SparseRows) -> None:
    assert (got.n_rows, got.n_cols) == (want.n_rows, want.n_cols)
    assert np.array_equal(got.rows, want.rows) and np.array_equal(got.cols, want.cols)
    assert got.vals.dtype == want.vals.dtype and got.vals.tobytes() == want.vals.tobytes()


def chunking(doc: Document, cuts: Sequence[int]) -> list[Chunk]:
    edges = sorted({0, len(doc.text), *(c % (len(doc.text) + 1) for c in cuts)})
    out = []
    for i, (a, b) in enumerate(itertools.pairwise(edges)):
        n = max(1, len(doc.text[a:b].split()))
        out.append(Chunk(doc.doc_id, i, a, b, doc.text[a:b], n, "cl100k_base", "t"))
    return out


# Words that lower-case to more characters or to no word character ("İ", "ẞ", "Σ" at a word's
# end), ASCII and not, numbers, underscores, repeats.
_WORDS = ["It", "rained", "IT", "RAINED", "İstanbul", "STRASSE", "Straße", "ΟΔΟΣ", "éTÉ", "x"]
_WORDS += ["42", "a_b", "K", "\u212aelvin", "Dr.", "however", "the", "The", "ǅemal", "ﬁne"]
_PUNCT = [" ", " ", " ", ". ", "? ", "! ", "\n", "\n\n", ", ", "; ", "… ", "\n- ", " | "]
_TEXTS = st.lists(
    st.tuples(st.sampled_from(_WORDS), st.sampled_from(_PUNCT)).map("".join),
    min_size=1,
    max_size=120,
).map("".join)


# -- the tests -----------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.lists(_TEXTS | st.text(max_size=60), min_size=0, max_size=14))
def test_sparse_vectors_equal_the_reference(texts: list[str]) -> None:
    new, ref = quality.LexicalVectorizer(), RefLexical()
    for call in (texts, texts[::-1], texts[: len(texts) // 2], texts):
        same_rows(new.sparse_vectors(call), ref.sparse_vectors(call))


@settings(max_examples=150, deadline=None)
@given(_TEXTS | st.text(max_size=200))
def test_bag_words_equal_lowercasing_each_word(text: str) -> None:
    words, counts = quality.LexicalVectorizer()._bag(text)
    want = Counter(w.lower() for w in quality._WORD.findall(text))
    assert words == list(want) and counts == list(want.values())


@settings(max_examples=150, deadline=None)
@given(
    texts=st.lists(_TEXTS, min_size=1, max_size=16),
    owners=st.lists(st.integers(0, 3), min_size=16, max_size=16),
    dense=st.booleans(),
)
def test_sparse_cohesion_equals_the_reference(
    texts: list[str], owners: list[int], dense: bool
) -> None:
    """Both ways of placing keys (the table and np.unique) give the reference's arrays."""
    m = quality.LexicalVectorizer().sparse_vectors(texts)
    # Chunks numbered from 0 in order, each with a text (as cohesion_separation makes them).
    own = np.unique(sorted(owners[: len(texts)]), return_inverse=True)[1].reshape(-1)
    own = own.astype(np.int64)
    k = int(own[-1]) + 1
    old = quality._DENSE_KEYS
    quality._DENSE_KEYS = old if dense else 0
    try:
        got = quality._sparse_cohesion(m, own, k)
    finally:
        quality._DENSE_KEYS = old
    for a, b in zip(got, ref_sparse_cohesion(m, own, k), strict=True):
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes()


@settings(max_examples=80, deadline=None)
@given(
    text=_TEXTS,
    cuts=st.lists(st.lists(st.integers(0, 3000), max_size=6), min_size=1, max_size=4),
    parser=st.sampled_from(["markdown", "text", "code"]),
)
def test_cohesion_and_scores_equal_the_reference(
    text: str, cuts: list[list[int]], parser: str
) -> None:
    """Several chunkings of one document, scored in a row with one memo and one vectorizer (as
    auto does), give the reference's cohesion and separation and the memo-less scores."""
    doc = Document(source="mem", doc_id="d" * 16, text=text, parser=parser)
    memo, vec, ref = quality.ScoreMemo(doc), quality.LexicalVectorizer(), RefLexical()
    for c in cuts:
        chunks = chunking(doc, c)
        got = quality.cohesion_separation(doc, chunks, vec, memo=memo)
        assert got == ref_cohesion_separation(doc, chunks, ref)
        with_memo = quality.score(doc, chunks, vectorizer=vec, max_tokens=8, memo=memo)
        assert with_memo.values == quality.score(doc, chunks, max_tokens=8).values


def test_memo_serves_one_document() -> None:
    a = Document(source="a", doc_id="a", text="One. Two.", parser="text")
    b = Document(source="b", doc_id="b", text="One. Two!", parser="text")
    with pytest.raises(ValueError, match="one document"):
        quality.cohesion_separation(b, chunking(b, [4]), memo=quality.ScoreMemo(a))


def _real_chunkings(path: Path) -> tuple[Document, list[list[Chunk]]]:
    name = registry.parser_for(str(path)) or "text"
    doc = registry.load("parsers", name)({}).parse(path, source=str(path))
    auto = AutoChunker(ChunkerConfig())
    index = TokenIndex.of(doc.text, auto.tokenizer, lazy=False)  # noqa: F841 (held: shared)
    return doc, [list(auto._judge(n).chunk(doc)) for n in auto.candidates(doc)]


def test_real_candidates_score_as_the_reference(sample_docs: Path) -> None:
    """The sample Markdown and HTML documents' candidate chunkings: cohesion and separation of
    each as the reference computes them."""
    paths = [*sorted((sample_docs / "markdown").glob("*.md"))]
    paths += sorted((sample_docs / "html").glob("*.html"))
    assert paths
    for path in paths:
        doc, chunkings = _real_chunkings(path)
        memo, vec, ref = quality.ScoreMemo(doc), quality.LexicalVectorizer(), RefLexical()
        for chunks in chunkings:
            want = ref_cohesion_separation(doc, chunks, ref)
            assert quality.cohesion_separation(doc, chunks, vec, memo=memo) == want, path


def test_shuffled_calls_keep_values() -> None:
    """A vectorizer's cache (bags of earlier documents, cleared when full) changes no value."""
    rng = random.Random(7)
    words = [w for w in _WORDS if w.strip(".")]
    texts = [" ".join(rng.choices(words, k=rng.randint(1, 12))) + "." for _ in range(60)]
    vec = quality.LexicalVectorizer()
    vec.cache_size = 17
    for _ in range(20):
        call = rng.sample(texts, rng.randint(1, 25))
        same_rows(vec.sparse_vectors(call), RefLexical().sparse_vectors(call))
