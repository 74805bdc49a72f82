"""Intrinsic quality metrics of one document's chunks (retrieval metrics: chunkwise.retrieval).

Every metric is a pure function of a :class:`Document` and its chunks, in [0, 1], higher is
better (chunk stickiness, reported as well, is lower-is-better and stays out of the combined
score). After "Adaptive Chunking" (de Moura Junior et al., LREC 2026) and MoC (Zhao et al., 2025):

- ``size_compliance``: share of chunks whose token count lies in the target range.
- ``cohesion``: mean similarity of each sentence to its chunk (intra-chunk cohesion).
- ``separation``: one minus the mean similarity of neighbouring chunks (inter-chunk separation).
- ``block_integrity``: tables, lists, code blocks, quotes kept whole, and chunk boundaries that fall
  between sentences rather than inside them.
- ``reference_completeness``: share of chunks that do not open with a dangling reference ("It",
  "This", "the above", "However") whose antecedent sits in the previous chunk.
- ``boundary_clarity``: MoC's ppl(next | previous) / ppl(next), with a compressor standing in for
  the language model (no LLM ships offline): the share of a chunk's information that its
  predecessor does not already predict.

Similarity uses sentence-transformers vectors when asked (``vectors="model"``) and installed, else
TF-IDF vectors of words, which need nothing and are deterministic. Nothing heavy is imported at
module level.
"""

from __future__ import annotations

import bisect
import itertools
import math
import re
import zlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from chunkwise.kinds import UNCUT_BLOCK_KINDS
from chunkwise.spans import trim, trimmed_pieces
from chunkwise.types import Chunk, Document

DEFAULT_MIN_SIZE = 100
DEFAULT_MAX_SIZE = 1100
# The metrics that make up the combined score, and their weights.
WEIGHTS: Mapping[str, float] = {
    "size_compliance": 1.0,
    "cohesion": 1.0,
    "separation": 1.0,
    "block_integrity": 1.0,
    "reference_completeness": 1.0,
    "boundary_clarity": 1.0,
}
METRICS = tuple(WEIGHTS)

_WORD = re.compile(r"[^\W_]{2,}", re.UNICODE)
_LINE_START = re.compile(r"\n")
# Words that point back to something said before; a chunk opening with one depends on the chunk
# before it. "This Agreement" / "That Section" (a capitalised noun after the demonstrative) is a
# defined term, not a dangling reference.
_DANGLING = re.compile(
    r"""^(?:
        (?:it|its|they|them|their|theirs|he|him|his|she|her|hers|these|those|such|both)\b
      | (?:this|that)\b(?!(?-i:\s+[A-Z]))
      | the\s+(?:above|former|latter|same|foregoing|aforementioned|preceding|previous)\b
      | (?:however|moreover|furthermore|therefore|thus|hence|consequently|additionally|also
          |nevertheless|nonetheless|instead|otherwise|accordingly|likewise|similarly|besides
          |then|meanwhile)\b
      | (?:as\s+(?:a\s+result|mentioned|noted|described|shown|discussed)\b)
      | (?:in\s+(?:addition|contrast|particular|turn)\b)
      | (?:for\s+(?:example|instance)\b)
      | (?:on\s+the\s+other\s+hand\b)
    )""",
    re.IGNORECASE | re.VERBOSE,
)
# List bullets, numbering, quote marks and Markdown emphasis before the first word.
_LEAD = re.compile(r"""^(?:[\s>*_\-•+#|"'“‘(\[]|\d{1,3}[.)]\s)+""")


@dataclass(frozen=True)
class SizeRange:
    lo: int = DEFAULT_MIN_SIZE
    hi: int = DEFAULT_MAX_SIZE


@dataclass
class Scores:
    """The metrics of one chunking of one document."""

    values: dict[str, float] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def combined(self) -> float:
        return combined_score(self.values)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: round(v, 4) for k, v in self.values.items()}
        out["combined"] = round(self.combined, 4)
        out.update(self.details)
        return out


def combined_score(values: Mapping[str, float], weights: Mapping[str, float] = WEIGHTS) -> float:
    """Weighted mean of the metrics present in ``values``."""
    total = sum(w for k, w in weights.items() if k in values)
    if total == 0:
        return 0.0
    return sum(values[k] * w for k, w in weights.items() if k in values) / total


class ScoreMemo:
    """What scoring several chunkings of one document can share (``--chunker auto`` scores every
    candidate's): the vectors of a list of sentence texts. Candidates that cut between sentences
    give the same list, only grouped into chunks differently (the candidates of 487 of 500
    Markdown files), and the vectors are a function of the list alone, so the ones kept here
    are those the vectorizer would compute again.
    """

    def __init__(self, doc: Document) -> None:
        self.text = doc.text
        self.rows: dict[tuple[str, ...], Any] = {}
        self.rows_of: Vectorizer | None = None

    def check(self, doc: Document) -> None:
        if doc.text is not self.text:
            raise ValueError("a ScoreMemo serves the one document it was made for")

    def vectors(self, vec: Vectorizer, texts: list[str], compute: Any) -> Any:
        if self.rows_of is not vec:
            self.rows.clear()
            self.rows_of = vec
        key = tuple(texts)
        got = self.rows.get(key)
        if got is None:
            got = self.rows[key] = compute(texts)
        return got


# -- vectors -------------------------------------------------------------------------------------


class Vectorizer(Protocol):
    name: str

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        """One L2-normalised row per text (zero row for a text with no content)."""
        ...


class LexicalVectorizer:
    """TF-IDF over words, vocabulary and IDF fitted on the texts of each call (one document's
    sentences), so no state and no hashing collisions."""

    name = "lexical"
    cache_size = 50_000

    def __init__(self) -> None:
        # Candidates compared on one document share most sentences: count each one's words
        # once, as its distinct words in the order they first occur and their counts (lists:
        # one call joins a few dozen bags, and an array per bag would cost more to make than
        # it saves). Every bag holds the one copy of a word kept in ``_words``.
        self._bags: dict[str, tuple[list[str], list[int]]] = {}
        self._words: dict[str, str] = {}

    def _bag(self, text: str) -> tuple[list[str], list[int]]:
        bag = self._bags.get(text)
        if bag is None:
            # Lower-casing ASCII text first finds the same words (A-Z stay word characters and
            # nothing else changes); elsewhere a lower case can be several characters or no word
            # character at all ("İ"), so words are lower-cased one by one.
            found = (
                _WORD.findall(text.lower())
                if text.isascii()
                else map(str.lower, _WORD.findall(text))
            )
            counts = Counter(found)
            words = list(map(self._words.setdefault, counts, counts))
            bag = self._bags[text] = (words, list(counts.values()))
        return bag

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        m = self.sparse_vectors(texts)
        out = np.zeros((m.n_rows, max(1, m.n_cols)), dtype=np.float32)
        out[m.rows, m.cols] = m.vals
        return out

    def sparse_vectors(self, texts: Sequence[str]) -> SparseRows:
        """The same L2-normalised rows, as their non-zero entries only.

        A dense texts x vocabulary matrix grows with the square of the document when every
        sentence brings new words (a base64 image, minified code): 8 GB on a 4 MB file."""
        if len(self._bags) >= self.cache_size:
            self._bags.clear()
            self._words.clear()
        bags = [self._bag(t) for t in texts]
        n = len(texts)
        sizes = [len(words) for words, _ in bags]
        total = sum(sizes)
        rows = np.repeat(np.arange(n, dtype=np.int64), sizes)
        if not total:
            empty = np.zeros(0, dtype=np.int64)
            return SparseRows(rows, empty, np.zeros(0, dtype=np.float32), n, 0).normalised()
        chain = itertools.chain.from_iterable
        words = list(chain(w for w, _ in bags))
        # Columns are numbered in the order words first occur over the texts (dict order; each
        # step here runs in C); a word occurs once per bag, so its count of entries is its
        # document frequency.
        column = dict(zip(dict.fromkeys(words), itertools.count()))
        cols = np.fromiter(map(column.__getitem__, words), dtype=np.int64, count=total)
        tfs = np.fromiter(chain(t for _, t in bags), dtype=np.int64, count=total)
        df = np.bincount(cols)
        # Logarithms from math (numpy's may differ in the last bit), one per distinct document
        # frequency; products in numpy: one IEEE multiplication either way, so the values are
        # those of a Python loop.
        distinct = np.flatnonzero(np.bincount(df))  # small counts: no sort needed
        by_df = np.zeros(int(distinct[-1]) + 1)
        by_df[distinct] = [math.log((1 + n) / (1 + d)) + 1.0 for d in distinct.tolist()]
        vals = (_sublinear(int(tfs.max()))[tfs] * by_df[df][cols]).astype(np.float32)
        return SparseRows(rows, cols, vals, n, len(column)).normalised()


_SUBLINEAR: list[np.ndarray] = [np.array([0.0])]


def _sublinear(top: int) -> np.ndarray:
    """1 + log(tf) for tf in 0..top at least (0 for 0), from math."""
    table = _SUBLINEAR[0]
    if len(table) <= top:
        size = max(top + 1, 2 * len(table))
        table = _SUBLINEAR[0] = np.array(
            [1.0 + math.log(t) if t else 0.0 for t in range(size)], dtype=np.float64
        )
    return table


@dataclass
class SparseRows:
    """A matrix by its non-zero entries (COO), for row-wise cosine arithmetic in linear time."""

    rows: np.ndarray
    cols: np.ndarray
    vals: np.ndarray
    n_rows: int
    n_cols: int

    def row_norms(self) -> np.ndarray:
        sq = np.bincount(
            self.rows, weights=self.vals.astype(np.float64) ** 2, minlength=self.n_rows
        )
        return np.sqrt(sq)

    def normalised(self) -> SparseRows:
        norms = self.row_norms()
        norms[norms == 0] = 1.0
        vals = (self.vals / norms[self.rows]).astype(np.float32)
        return SparseRows(self.rows, self.cols, vals, self.n_rows, self.n_cols)


# Chunks x columns up to this many: keys are placed by a table (1 byte and 8 bytes per cell).
_DENSE_KEYS = 1 << 18


def _sparse_cohesion(m: SparseRows, own: np.ndarray, n_chunks: int) -> tuple[np.ndarray, ...]:
    """Per text: cosine with its chunk's centroid; per text: has any word; per neighbouring
    chunk pair: centroid cosine. The dense computation's results, from non-zero entries."""
    width = max(1, m.n_cols)
    keys = own[m.rows] * width + m.cols
    n_keys = n_chunks * width
    if n_keys <= _DENSE_KEYS:
        # The sorted distinct keys and each entry's place among them, from a table of every
        # possible key (np.unique sorts; this is a few passes over a small array).
        present = np.zeros(n_keys + width, dtype=bool)  # + a row: (i + 1, c) for the last i
        present[keys] = True
        place = np.cumsum(present) - 1
        uniq = np.flatnonzero(present)
        inverse = place[keys]
        hit = present[uniq + width]
        nxt = place[uniq + width]
    else:
        uniq, inverse = np.unique(keys, return_inverse=True)
        # Entry (i, c) meets (i + 1, c), found by key in the sorted keys.
        nxt = np.searchsorted(uniq, uniq + width)
        nxt_ok = nxt < len(uniq)
        hit = np.zeros(len(uniq), dtype=bool)
        hit[nxt_ok] = uniq[nxt[nxt_ok]] == uniq[nxt_ok] + width
    sums = np.bincount(inverse, weights=m.vals.astype(np.float64)).astype(np.float32)
    cent = SparseRows(uniq // width, uniq % width, sums, n_chunks, m.n_cols).normalised()
    sims = np.bincount(
        m.rows, weights=(m.vals * cent.vals[inverse]).astype(np.float64), minlength=m.n_rows
    )
    nonzero = np.bincount(m.rows, minlength=m.n_rows) > 0
    # Neighbouring centroids: the entries (i, c) that (i + 1, c) meets.
    adj = np.bincount(
        cent.rows[hit],
        weights=(cent.vals[hit] * cent.vals[nxt[hit]]).astype(np.float64),
        minlength=n_chunks,
    )[: max(0, n_chunks - 1)]
    return sims, nonzero, adj


class ModelVectorizer:
    """Sentence-transformers embeddings (the ``embed`` extra), loaded on first use."""

    name = "model"
    cache_size = 100_000

    def __init__(
        self, model: str | None = None, device: str = "auto", batch_size: int = 64
    ) -> None:
        self.model_name = model
        self.device = device
        self.batch_size = batch_size
        self._model: Any = None
        self._cache: dict[str, np.ndarray] = {}

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        if self._model is None:
            from chunkwise.models import load_sentence_model

            self._model = load_sentence_model(self.model_name, self.device)
        if not texts:
            return np.zeros((0, 1), dtype=np.float32)
        # Chunkers compared on one document share most sentences: embed each text once.
        todo = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if todo:
            arr = self._model.encode(
                todo,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            if len(self._cache) + len(todo) > self.cache_size:
                self._cache = {t: self._cache[t] for t in texts if t in self._cache}
            self._cache.update(zip(todo, np.asarray(arr, dtype=np.float32), strict=True))
        return np.stack([self._cache[t] for t in texts])


def get_vectorizer(
    kind: str = "lexical", model: str | None = None, device: str = "auto"
) -> Vectorizer:
    """``lexical``, ``model``, or ``auto`` (the model when sentence-transformers is installed)."""
    from chunkwise.errors import UsageError

    if kind == "auto":
        import importlib.util

        kind = "model" if importlib.util.find_spec("sentence_transformers") else "lexical"
    if kind == "lexical":
        return LexicalVectorizer()
    if kind == "model":
        return ModelVectorizer(model, device)
    raise UsageError(f"vectors must be auto, lexical or model, not {kind!r}")


def normalise(m: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return m / norms


# -- units: sentences and boundaries -------------------------------------------------------------


def unit_starts(doc: Document, start: int = 0, end: int | None = None) -> list[int]:
    """Where a new sentence (prose) or line (code) starts inside doc.text[start:end]."""
    end = len(doc.text) if end is None else end
    if doc.parser == "code":
        return [m.end() for m in _LINE_START.finditer(doc.text, start, end) if m.end() < end]
    from chunkwise.chunkers.sentence import sentence_starts

    return sentence_starts(doc.text, start, end)


def sentence_spans(doc: Document, start: int, end: int) -> list[tuple[int, int]]:
    """Non-blank sentence spans of doc.text[start:end], whitespace trimmed."""
    text = doc.text
    return trimmed_pieces(text, [start, *unit_starts(doc, start, end), end])


def _snap(text: str, pos: int) -> tuple[int, int]:
    """The whitespace run around ``pos``: any cut inside it is the same cut."""
    lo = pos
    while lo > 0 and text[lo - 1].isspace():
        lo -= 1
    hi = pos
    while hi < len(text) and text[hi].isspace():
        hi += 1
    return lo, hi


def boundaries(doc: Document, chunks: Sequence[Chunk]) -> list[int]:
    """Interior cut positions of a chunking: chunk starts and ends that are not the edges of the
    document's content (ignoring whitespace), deduplicated by whitespace run."""
    text = doc.text
    first = len(text) - len(text.lstrip())
    last = len(text.rstrip())
    seen: set[tuple[int, int]] = set()
    out: list[int] = []
    for pos in sorted({c.start for c in chunks} | {c.end for c in chunks}):
        lo, hi = _snap(text, pos)
        if hi <= first or lo >= last or (lo, hi) in seen:
            continue
        seen.add((lo, hi))
        out.append(pos)
    return out


# -- the metrics ---------------------------------------------------------------------------------


def size_compliance(chunks: Sequence[Chunk], size: SizeRange = SizeRange()) -> float:
    """Share of chunks with ``lo <= n_tokens <= hi``. A document smaller than ``lo`` in total
    cannot give chunks of ``lo`` tokens, so the lower bound drops to its size."""
    if not chunks:
        return 0.0
    total = sum(c.n_tokens for c in chunks)
    lo = min(size.lo, total)
    ok = sum(1 for c in chunks if lo <= c.n_tokens <= size.hi)
    return ok / len(chunks)


def cohesion_separation(
    doc: Document,
    chunks: Sequence[Chunk],
    vectorizer: Vectorizer | None = None,
    *,
    memo: ScoreMemo | None = None,
) -> tuple[float, float]:
    """(intra-chunk cohesion, inter-chunk separation).

    Cohesion: for every chunk, the mean cosine similarity between each of its sentences and the
    chunk (the normalised mean of its sentence vectors); averaged over chunks. A one-sentence
    chunk is perfectly cohesive. Separation: one minus the mean cosine similarity of neighbouring
    chunks (1.0 for a single chunk); clipped to [0, 1].
    """
    vec = vectorizer or LexicalVectorizer()
    if not chunks:
        return 0.0, 0.0
    if memo is not None:
        memo.check(doc)
    owners: list[int] = []
    texts: list[str] = []
    for i, c in enumerate(chunks):
        spans = sentence_spans(doc, c.start, c.end) if not c.synthetic else []
        if not spans:
            texts.append(c.text)
            owners.append(i)
            continue
        for a, b in spans:
            texts.append(doc.text[a:b])
            owners.append(i)
    own = np.asarray(owners, dtype=np.int64)
    k = len(chunks)
    sparse = getattr(vec, "sparse_vectors", None)
    if sparse is not None:
        rows = sparse(texts) if memo is None else memo.vectors(vec, texts, sparse)
        sims, nonzero, adj = _sparse_cohesion(rows, own, k)
    else:
        m = vec.vectors(texts) if memo is None else memo.vectors(vec, texts, vec.vectors)
        # Rows are grouped by chunk in order, so each chunk's sum is one reduceat segment.
        firsts = np.searchsorted(own, np.arange(k))
        centroids = normalise(np.add.reduceat(m, firsts, axis=0))
        sims = np.einsum("ij,ij->i", m, centroids[own])
        nonzero = np.linalg.norm(m, axis=1) > 0
        adj = np.einsum("ij,ij->i", centroids[:-1], centroids[1:])
    # Per chunk (by counts, not a loop over chunks x texts): the mean similarity of its texts.
    # Sentences without a single word (a lone number, a rule line) say nothing about topic,
    # unless the chunk has nothing else.
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
    separation = float(np.clip(1.0 - np.mean(adj), 0.0, 1.0))
    return cohesion, separation


def block_integrity(
    doc: Document,
    chunks: Sequence[Chunk],
    max_tokens: int | None = None,
    *,
    details: dict[str, Any] | None = None,
) -> float:
    """Blocks kept whole and boundaries that fall between sentences.

    Blocks are the document's table, list, code, quote, formula and figure elements (outermost
    only). A block inside one chunk scores 1, a cut block 0, except a block too big for
    ``max_tokens``: it must be cut, and scores the share of its cuts that fall at line starts
    (between rows, items or lines). The sentence part is the share of interior boundaries that
    sit on a sentence (or line, for code) or element edge, or between the lines of a block. With
    blocks the two parts weigh the same; without, the sentence part is the score. One chunk and
    no blocks: 1.0.
    """
    text = doc.text
    cuts = boundaries(doc, chunks)
    blocks = _outermost([e for e in doc.elements if e.kind in UNCUT_BLOCK_KINDS])
    block_scores: list[float] = []
    n_cut_blocks = 0
    tok: Any = None
    for el in blocks:
        a, b = trim(text, el.start, el.end)
        if b <= a:
            continue
        inside = [p for p in cuts if a < p < b and not _is_blank(text, a, p)]
        if not inside:
            block_scores.append(1.0)
            continue
        n_cut_blocks += 1
        if max_tokens is not None and chunks:
            if tok is None:
                from chunkwise.tokenizers import get_tokenizer

                tok = get_tokenizer(chunks[0].tokenizer)
            if tok.count(text[a:b]) > max_tokens:
                clean = sum(1 for p in inside if _at_line_start(text, p))
                block_scores.append(clean / len(inside))
                continue
        block_scores.append(0.0)
    edges = sorted({p for e in doc.elements for p in (e.start, e.end)})
    # Between two rows, items or lines of a block is the right place to cut a block that has to
    # be cut; the block part above already judged whether it had to.
    spans = [(e.start, e.end) for e in blocks]
    clean_cuts = sum(
        1
        for p in cuts
        if _clean_cut(doc, p, edges)
        or (_at_line_start(text, p) and any(a < p < b for a, b in spans))
    )
    sentence_part = clean_cuts / len(cuts) if cuts else 1.0
    if details is not None:
        details["blocks"] = len(block_scores)
        details["blocks_cut"] = n_cut_blocks
        details["boundaries"] = len(cuts)
        details["boundaries_in_sentences"] = len(cuts) - clean_cuts
    if not block_scores:
        return sentence_part
    return 0.5 * float(np.mean(block_scores)) + 0.5 * sentence_part


def _clean_cut(doc: Document, p: int, edges: Sequence[int]) -> bool:
    """A cut between sentences (or lines of code), at an element edge (``edges``: sorted), or
    after a clause end (";", ":", "!", "?" and whitespace; a "." is left to the sentence
    splitter, which knows abbreviations)."""
    text = doc.text
    lo, hi = _snap(text, p)
    k = bisect.bisect_left(edges, lo)
    if k < len(edges) and edges[k] <= hi:
        return True
    if 0 < lo < hi and text[lo - 1] in "!?:;…":
        return True
    # Some context before the cut lets the splitter see abbreviations ("Dr. Smith").
    starts = unit_starts(doc, max(0, lo - 60), min(len(text), hi + 2))
    return any(lo <= s <= hi for s in starts)


def _outermost(els: Sequence[Any]) -> list[Any]:
    out: list[Any] = []
    for el in sorted(els, key=lambda e: (e.start, -e.end)):
        if out and el.end <= out[-1].end:
            continue
        out.append(el)
    return out


def _is_blank(text: str, a: int, b: int) -> bool:
    return not text[a:b].strip()


def _at_line_start(text: str, p: int) -> bool:
    lo, hi = _snap(text, p)
    return "\n" in text[lo:hi] or (lo > 0 and text[lo - 1] == "\n")


def dangling_reference(text: str) -> bool:
    """Does this chunk text open with a word that points back to something said before?"""
    head = _LEAD.sub("", text.lstrip(), count=1)
    return bool(_DANGLING.match(head))


def reference_completeness(
    doc: Document, chunks: Sequence[Chunk], *, details: dict[str, Any] | None = None
) -> float:
    """Share of chunks (after the one that opens the document) not opening with a dangling
    reference. A chunk that starts a section (right after a heading, or with one) is not judged:
    a heading resets the context a reader needs."""
    text = doc.text
    first = len(text) - len(text.lstrip())
    edges = sorted({p for e in doc.elements if e.kind == "heading" for p in (e.start, e.end)})
    judged = dangling = 0
    for c in chunks:
        lo, hi = _snap(text, c.start)
        if hi <= first:
            continue
        # A heading edge in [lo, hi]: the first edge at or after lo is at most hi.
        k = bisect.bisect_left(edges, lo)
        if k < len(edges) and edges[k] <= hi:
            continue
        judged += 1
        if dangling_reference(text[c.start : c.end] if not c.synthetic else c.text):
            dangling += 1
    if details is not None:
        details["dangling_starts"] = dangling
    return 1.0 - dangling / judged if judged else 1.0


_C0 = len(zlib.compress(b"", 9))
# Compression looks back 32 KB at most; longer context adds cost, not information.
_CONTEXT_CHARS = 4000


def _clen(data: bytes, sizes: dict[bytes, int] | None = None) -> int:
    """Compressed size of ``data``; ``sizes`` remembers it (along a chain of chunks each one is
    compressed as the next of one pair and, when short, the very same bytes as the previous of
    the following pair)."""
    if sizes is None:
        return len(zlib.compress(data, 9))
    n = sizes.get(data)
    if n is None:
        n = sizes[data] = len(zlib.compress(data, 9))
    return n


def conditional_information(prev: str, nxt: str, sizes: dict[bytes, int] | None = None) -> float:
    """The share of ``nxt``'s compressed size left after compressing it behind ``prev``:
    C(prev + nxt) - C(prev) over C(nxt), a compressor's stand-in for ppl(nxt | prev) / ppl(nxt).
    1.0: ``prev`` says nothing about ``nxt``; near 0: ``nxt`` repeats ``prev``."""
    a = prev[-_CONTEXT_CHARS:].encode("utf-8")
    b = nxt[:_CONTEXT_CHARS].encode("utf-8")
    alone = _clen(b, sizes) - _C0
    if alone <= 0:
        return 1.0
    given = _clen(a + b) - _clen(a, sizes)
    return float(min(1.0, max(0.0, given / alone)))


def boundary_clarity(chunks: Sequence[Chunk]) -> float:
    """MoC boundary clarity over neighbouring chunks (mean of :func:`conditional_information`);
    1.0 for a single chunk."""
    if len(chunks) < 2:
        return 1.0
    sizes: dict[bytes, int] = {}
    vals = [conditional_information(a.text, b.text, sizes) for a, b in itertools.pairwise(chunks)]
    return float(np.mean(vals))


def chunk_stickiness(chunks: Sequence[Chunk], window: int = 3, threshold: float = 0.15) -> float:
    """MoC chunk stickiness on the sequence-aware graph, normalised to [0, 1] (lower is better).

    Chunks i < j (j - i <= ``window``) are joined when i predicts j: 1 - BC(j | i) > threshold.
    The score is the structural entropy of the degree distribution, -sum(d/2m log2 d/2m), over
    log2(n): chunks that all lean on each other score near 1, independent chunks 0.
    """
    n = len(chunks)
    if n < 2:
        return 0.0
    deg = [0] * n
    edges = 0
    for i in range(n):
        for j in range(i + 1, min(n, i + window + 1)):
            if 1.0 - conditional_information(chunks[i].text, chunks[j].text) > threshold:
                deg[i] += 1
                deg[j] += 1
                edges += 1
    if edges == 0:
        return 0.0
    two_m = 2 * edges
    h = -sum((d / two_m) * math.log2(d / two_m) for d in deg if d)
    return float(min(1.0, h / math.log2(n)))


# -- all at once ---------------------------------------------------------------------------------


def score(
    doc: Document,
    chunks: Sequence[Chunk],
    *,
    size: SizeRange = SizeRange(),
    vectorizer: Vectorizer | None = None,
    max_tokens: int | None = None,
    stickiness: bool = False,
    memo: ScoreMemo | None = None,
) -> Scores:
    """Every intrinsic metric of one document's chunks (``memo``: shared by the calls that score
    chunkings of this one document, see :class:`ScoreMemo`)."""
    ordered = sorted(chunks, key=lambda c: (c.start, c.end, c.index))
    details: dict[str, Any] = {
        "chunks": len(ordered),
        "mean_tokens": round(float(np.mean([c.n_tokens for c in ordered])), 1) if ordered else 0,
    }
    vals: dict[str, float] = {}
    vals["size_compliance"] = size_compliance(ordered, size)
    vals["cohesion"], vals["separation"] = cohesion_separation(doc, ordered, vectorizer, memo=memo)
    vals["block_integrity"] = block_integrity(doc, ordered, max_tokens, details=details)
    vals["reference_completeness"] = reference_completeness(doc, ordered, details=details)
    vals["boundary_clarity"] = boundary_clarity(ordered)
    if stickiness:
        details["stickiness"] = round(chunk_stickiness(ordered), 4)
    return Scores(vals, details)


def table_integrity(doc: Document, chunks: Sequence[Chunk]) -> float:
    """Share of the chunks holding rows of a table with a header that carry that header (in place
    or repeated) and cut no row: 1.0 when no such chunk exists. A table split by rows without its
    header leaves every piece after the first unreadable for retrieval, which the other metrics
    barely see (issue 22: 428 of 429 pieces headless, combined score 0.987 vs 0.982)."""
    from chunkwise.chunkers.section import _header_lines, _lines

    text = doc.text
    total = ok = 0
    for t in doc.elements:
        if t.kind != "table" or t.end <= t.start:
            continue
        lines = _lines(text, t.start, t.end)
        n_head = _header_lines(text, lines, t)
        if not n_head or len(lines) <= n_head:
            continue
        head = text[lines[0][0] : lines[0][1]]
        body_start = lines[n_head][0]
        starts = {a for a, _ in lines}
        ends = {b for _, b in lines}
        for c in chunks:
            if c.end <= body_start or c.start >= t.end:
                continue
            total += 1
            has_head = c.start <= lines[0][0] or head in c.text
            # An edge inside the table must fall between rows.
            clean_start = c.start <= t.start or c.start in starts
            clean_end = c.end >= t.end or c.end in ends or text[c.end : c.end + 1] == "\n"
            ok += has_head and clean_start and clean_end
    return ok / total if total else 1.0
