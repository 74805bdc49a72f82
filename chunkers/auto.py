"""``--chunker auto``: per document, the chunker that fits its format best by the intrinsic metrics
of :mod:`chunkwise.quality` (after "Adaptive Chunking", LREC 2026).

- Candidates depend on the parser (``CANDIDATES``); the parser's ``default_chunker`` is always one
  of them and wins ties. A candidate whose module does not import, or that fails on the document,
  is left out.
- Fast path: one candidate (code -> cast) or plain text that is small or unstructured -> the
  default chunker directly, with no scoring at all.
- Documents up to ``FULL_SAMPLE_CHARS`` are chunked whole by every candidate and the best output
  is returned as is (no second run). Larger ones are scored on ``SAMPLE_WINDOWS`` windows (start,
  middle, end; cut at element edges) and only the winner runs on the whole document, so the cost of
  choosing is bounded per document.
- Table integrity (every piece of a split table carries its header, no row is cut) multiplies
  the combined score, so a chunker that loses table headers cannot win on a document with tables.
- Similarity for cohesion/separation is lexical (TF-IDF) unless the ``vectors`` option is
  ``model``: loading an embedding model for every ingest would cost more than the choice gains.

Every chunk gets ``metadata["auto"] = {"chosen": name, "scores": {candidate: combined}}``; its
``chunker`` field is the chosen chunker's name.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from chunkwise.chunkers.options import AutoOptions

from chunkwise import quality, registry
from chunkwise.chunking import BaseChunker
from chunkwise.errors import ChunkwiseError, DocumentError
from chunkwise.packing import TokenIndex
from chunkwise.types import Chunk, Document, Element

log = logging.getLogger("chunkwise")

# Per parser, the chunkers worth trying, best guess first (the parser's default is added in front
# when missing). Vision is never tried: it renders every page and would dominate the run time.
CANDIDATES: Mapping[str, tuple[str, ...]] = {
    "text": ("recursive", "sentence"),
    "markdown": ("section", "recursive", "sentence"),
    "html": ("section", "recursive", "sentence"),
    "pdf": ("s2", "section", "recursive"),
    "legal": ("legal", "sentence", "recursive", "section"),
    "code": ("cast",),
}
FALLBACK = ("recursive", "sentence")
FULL_SAMPLE_CHARS = 40_000
SAMPLE_WINDOWS = 3
WINDOW_CHARS = 12_000
# Plain text is chunked by recursive without scoring unless it is at least this large and has
# this many paragraphs: below that the candidates rarely disagree and the choice costs more than
# the chunking.
TEXT_FAST_CHARS = 20_000
TEXT_FAST_PARAGRAPHS = 20
# Scores closer than this count as a tie (the earlier candidate wins), so a rounding-level
# difference does not flip the choice between runs or machines.
TIE = 1e-6


def _scored_fields(c: Chunk) -> tuple[Any, ...]:
    """What ``quality.score`` and ``quality.table_integrity`` read of a chunk (its index only
    orders chunks of equal span, and equal lists have equal indexes)."""
    return (c.start, c.end, c.text, c.n_tokens, c.synthetic, c.tokenizer)


class AutoChunker(BaseChunker):
    name = "auto"
    options_class = AutoOptions
    options: AutoOptions

    def configure(self) -> None:
        self.vectors = self.options.vectors
        self._vectorizer: quality.Vectorizer | None = None
        self._chunkers: dict[str, Any] = {}
        # Under `--embed` the chunker cuts small pieces that late chunking merges into chunks of
        # up to this many tokens: candidates are judged at that size (scoring hundreds of tiny
        # pieces would cost ten times the chunking), the winner then cuts the pieces.
        choose_at = self.options.choose_tokens
        self.choose_config = (
            dataclasses.replace(self.config, max_tokens=int(choose_at), overlap=0)
            if choose_at and int(choose_at) != self.config.max_tokens
            else None
        )
        self._judges: dict[str, Any] = {}
        self._broken: set[str] = set()
        self._defaults: dict[str, str] = {}
        judged = (self.choose_config or self.config).max_tokens
        self.size = quality.SizeRange(
            lo=min(quality.DEFAULT_MIN_SIZE, max(1, judged // 5)),
            hi=max(quality.DEFAULT_MAX_SIZE, judged),
        )

    @classmethod
    def preload(cls, parsers: Iterable[str]) -> None:
        # The candidates of these parsers, and the sentence splitter the metrics use.
        names = {n for p in parsers for n in CANDIDATES.get(p, FALLBACK)} | {"sentence"}
        for name in sorted(names):
            try:
                registry.load("chunkers", name)
            except (ChunkwiseError, ImportError):
                continue  # left out when chosen, as in candidates()

    # -- candidates ------------------------------------------------------------------------------
    def default_for(self, parser: str) -> str:
        if parser not in self._defaults:
            name = "recursive"
            try:
                cls = registry.load("parsers", parser)
                name = getattr(cls, "default_chunker", None) or name
            except ChunkwiseError:
                pass
            self._defaults[parser] = name if name != "auto" else "recursive"
        return self._defaults[parser]

    def candidates(self, doc: Document) -> list[str]:
        default = self.default_for(doc.parser)
        names = [default, *CANDIDATES.get(doc.parser, FALLBACK)]
        out: list[str] = []
        for n in names:
            if n not in out and n != self.name and self._get(n) is not None:
                out.append(n)
        return out

    def _get(self, name: str) -> Any:
        if name in self._broken:
            return None
        if name not in self._chunkers:
            try:
                cls = registry.load("chunkers", name)
                self._chunkers[name] = cls(self.config)
            except (ChunkwiseError, ImportError) as exc:
                log.debug("auto: chunker %s unavailable: %s", name, exc)
                self._broken.add(name)
                return None
        return self._chunkers[name]

    def _judge(self, name: str) -> Any:
        """The candidate as it is scored: itself, or at the size chunks are merged to."""
        if self.choose_config is None:
            return self._chunkers[name]
        if name not in self._judges:
            self._judges[name] = registry.load("chunkers", name)(self.choose_config)
        return self._judges[name]

    def fast_path(self, doc: Document, names: Sequence[str]) -> bool:
        if len(names) <= 1:
            return True
        if doc.parser == "text":
            paragraphs = sum(1 for e in doc.elements if e.kind == "paragraph")
            return len(doc.text) < TEXT_FAST_CHARS or paragraphs < TEXT_FAST_PARAGRAPHS
        return False

    @property
    def vectorizer(self) -> quality.Vectorizer:
        if self._vectorizer is None:
            self._vectorizer = quality.get_vectorizer(
                self.vectors, self.options.model, self.options.device
            )
        return self._vectorizer

    # -- choosing --------------------------------------------------------------------------------
    def score(
        self, doc: Document, chunks: Sequence[Chunk], memo: quality.ScoreMemo | None = None
    ) -> float:
        s = quality.score(
            doc,
            chunks,
            size=self.size,
            vectorizer=self.vectorizer,
            max_tokens=(self.choose_config or self.config).max_tokens,
            memo=memo,
        )
        # A table split without its header on every piece, or cut inside a row, loses the
        # meaning of its cells: that weighs as much as all the other metrics together.
        return s.combined * quality.table_integrity(doc, chunks)

    def choose(self, doc: Document) -> tuple[str, dict[str, float], list[Chunk] | None]:
        """(chosen name, combined score per candidate, the chosen chunks when already computed)."""
        names = self.candidates(doc)
        if not names:
            raise DocumentError("no chunker available for this document", stage="chunk")
        if self.fast_path(doc, names):
            return names[0], {}, None
        whole = len(doc.text) <= FULL_SAMPLE_CHARS
        docs = [doc] if whole else sample_windows(doc, SAMPLE_WINDOWS, WINDOW_CHARS)
        # Held while the candidates run, so they share each sample's token index (TokenIndex.of
        # keeps an index only while something holds it). Encoded whole at once: every format's
        # candidates include one that asks for most token starts (section, sentence, cast), so
        # counting the sample first (the lazy index) would be work thrown away.
        shared = [TokenIndex.of(d.text, self.tokenizer, lazy=False) for d in docs]
        # The candidates' chunkings of one sample share sentences, chunks and pairs of chunks:
        # the metrics compute each once (values unchanged, see quality.ScoreMemo).
        memos = [quality.ScoreMemo(d) for d in docs]
        scores: dict[str, float] = {}
        outputs: dict[str, list[Chunk]] = {}
        first_error: Exception | None = None
        # Candidates often cut a sample alike (a short document without headings): the metrics
        # read only these fields of a chunk, so equal lists of them score the same.
        judged: dict[tuple[int, tuple[tuple[Any, ...], ...]], float] = {}
        for name in names:
            try:
                vals = []
                for k, d in enumerate(docs):
                    chunks = list(self._judge(name).chunk(d))
                    if whole and self.choose_config is None:
                        outputs[name] = chunks  # judged at another size: pieces are cut anew
                    key = (k, tuple(_scored_fields(c) for c in chunks))
                    val = judged.get(key)
                    if val is None:
                        val = judged[key] = self.score(d, chunks, memos[k]) if chunks else 0.0
                    vals.append(val)
                scores[name] = round(sum(vals) / len(vals), 6)
            except Exception as exc:  # one failing candidate must not sink the document
                log.debug("auto: %s failed on %s: %s", name, doc.source, exc)
                first_error = first_error or exc
        del shared
        if not scores:
            assert first_error is not None
            raise first_error
        best = names[0] if names[0] in scores else next(iter(scores))
        for name in names:
            if name in scores and scores[name] > scores[best] + TIE:
                best = name
        return best, {k: round(v, 4) for k, v in scores.items()}, outputs.get(best)

    def chunk(self, doc: Document) -> Iterator[Chunk]:
        chosen, scores, chunks = self.choose(doc)
        if chunks is None:
            chunks = list(self._chunkers[chosen].chunk(doc))
        info: dict[str, Any] = {"chosen": chosen, "scores": scores}
        if not scores:
            info["reason"] = "fast path"
        for c in chunks:
            meta = dict(c.metadata)
            meta["auto"] = info
            yield dataclasses.replace(c, metadata=meta)


def sample_windows(doc: Document, n: int, size: int) -> list[Document]:
    """Up to ``n`` windows of about ``size`` characters (start, middle, end) as sub-documents, cut
    at element edges (else paragraph breaks) so that the sample itself cuts no block."""
    text = doc.text
    cut_points = sorted({e.start for e in doc.elements} | {0, len(text)})
    if len(cut_points) < 8:
        cut_points = sorted({0, len(text), *(i + 2 for i in _find_all(text, "\n\n"))})
    import bisect

    out: list[Document] = []
    span = max(1, len(text) - size)
    starts = [round(i * span / max(1, n - 1)) for i in range(n)] if n > 1 else [0]
    last_end = -1
    for s in starts:
        a = cut_points[max(0, bisect.bisect_right(cut_points, s) - 1)]
        a = max(a, last_end)
        j = bisect.bisect_left(cut_points, a + size)
        b = cut_points[min(j, len(cut_points) - 1)]
        if b <= a:
            continue
        out.append(sub_document(doc, a, b))
        last_end = b
    return out or [doc]


def _find_all(text: str, needle: str) -> Iterator[int]:
    i = text.find(needle)
    while i >= 0:
        yield i
        i = text.find(needle, i + 1)


def sub_document(doc: Document, a: int, b: int) -> Document:
    """doc.text[a:b] as a Document of its own, elements clipped and shifted."""
    els: list[Element] = []
    for e in doc.elements:
        if e.end <= a or e.start >= b:
            continue
        els.append(dataclasses.replace(e, start=max(e.start, a) - a, end=min(e.end, b) - a))
    return dataclasses.replace(doc, text=doc.text[a:b], elements=tuple(els))
