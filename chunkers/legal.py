"""Legal chunker: legal sentences grouped up to ``max_tokens``.

Sentences come from the legal splitter (``chunkers/legal_sbd.py``). Chunk boundaries fall only on
sentence starts that are not inside a citation, and the packer tries the coarsest boundaries first:
section/article headings, then clause starts, then sentences — so a chunk ends at a section or
clause boundary whenever the cap allows. Only a single sentence longer than the cap is cut inside,
at whitespace outside citations, then at token boundaries (the cap is hard).

Every chunk carries its section path as ``headings`` (``["ARTICLE IV", "Section 4.2", "(b)"]``) and
the citations it contains in ``metadata["citations"]``. Works on any Document: when the document
did not come from the legal parser (PDF, HTML, plain text), the legal structure pass runs on its
text first.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterator, Sequence
from typing import Any

from chunkwise.chunking import BaseChunker, content_spans
from chunkwise.packing import Level, Packer, positions_level, regex_level
from chunkwise.spans import WHITESPACE, trim
from chunkwise.types import Chunk, Document, Element


class SectionPaths:
    """The section path (heading labels, then enclosing clause labels) at any offset."""

    def __init__(self, elements: Sequence[Element]) -> None:
        stack: list[tuple[int, str]] = []
        self._starts: list[int] = []
        self._paths: list[tuple[str, ...]] = []
        marks = (e for e in elements if e.kind in ("heading", "signature"))
        for el in sorted(marks, key=lambda e: e.start):
            # A signature block closes every open section.
            level = (el.level or 1) if el.kind == "heading" else 0
            while stack and stack[-1][0] >= level:
                stack.pop()
            title = el.attrs.get("title") or ("signature block" if el.kind == "signature" else "")
            stack.append((level, str(title)))
            self._starts.append(el.start)
            self._paths.append(tuple(t for _, t in stack if t))
        self._clauses = sorted(
            (e for e in elements if e.kind == "clause"), key=lambda e: (e.start, -e.end)
        )
        self._clause_starts = [e.start for e in self._clauses]

    def at(self, offset: int) -> tuple[str, ...]:
        i = bisect.bisect_right(self._starts, offset) - 1
        path = self._paths[i] if i >= 0 else ()
        floor = self._starts[i] if i >= 0 else -1
        j = bisect.bisect_right(self._clause_starts, offset)
        clauses = [
            e
            for e in self._clauses[:j]
            if e.start >= floor and e.end > offset and e.start <= offset
        ]
        clauses.sort(key=lambda e: (e.level or 0, e.start))
        return path + tuple(str(e.attrs.get("label", "")) for e in clauses)


def _outside(positions: list[int], spans: Sequence[tuple[int, int]]) -> list[int]:
    """Positions not strictly inside any of ``spans`` (sorted, non-overlapping)."""
    if not spans:
        return positions
    starts = [a for a, _ in spans]
    out = []
    for p in positions:
        i = bisect.bisect_right(starts, p - 1) - 1
        if i >= 0 and spans[i][0] < p < spans[i][1]:
            continue
        out.append(p)
    return out


def _whitespace_level(text: str, cites: Sequence[tuple[int, int]]) -> Level:
    words = regex_level(WHITESPACE, text)

    def cuts(a: int, b: int) -> list[int]:
        return _outside(list(words(a, b)), cites)

    return cuts


def _pack_sections(
    packer: Packer,
    regions: Sequence[tuple[int, int]],
    section_starts: Sequence[int],
    max_tokens: int,
    heading_ends: dict[int, int],
    min_tokens: int = 0,
) -> list[tuple[int, int]]:
    """Plan chunks section by section: each section is split (clauses, sentences, whitespace)
    and merged on its own; neighbouring sections share a chunk only when they fit in it whole
    (or the first is a bare heading, "ARTICLE IV" over its first section), so a heading never
    dangles at the end of a chunk and a chunk never straddles a section boundary halfway."""
    cut_level = positions_level(section_starts)
    text = packer.text
    # start, end, additive count, opens a section, is a whole section, is a bare heading
    planned: list[tuple[int, int, int, bool, bool, bool]] = []
    for ra, rb in regions:
        bounds = [ra, *cut_level(ra, rb), rb]
        for a, b in itertools.pairwise(bounds):
            pieces = packer.split(a, b)
            ta, tb = trim(text, a, b)
            bare = ta in heading_ends and tb <= heading_ends[ta]
            for j, (s, e, c) in enumerate(pieces):
                planned.append((s, e, c, j == 0, len(pieces) == 1, bare))
    out: list[tuple[int, int]] = []
    # start, end, count, 1 if made of whole sections only, 1 if made of bare headings only
    cur: list[int] = []
    for s, e, c, opens, whole, bare in planned:
        fits = bool(cur) and cur[2] + c <= max_tokens
        if fits and (not opens or (cur[3] and whole) or cur[4]):
            cur[1], cur[2] = e, cur[2] + c
            cur[3] = int(cur[3] and whole)
            cur[4] = int(cur[4] and bare)
        else:
            if cur:
                out.append((cur[0], cur[1]))
            cur = [s, e, c, int(whole), int(bare)]
    if cur:
        out.append((cur[0], cur[1]))
    if min_tokens > 0:
        out = _merge_small(packer, out, min_tokens, max_tokens)
    trimmed = []
    for a, b in out:
        a, b = trim(packer.text, a, b)
        if a < b:
            trimmed.append((a, b))
    return trimmed


def _merge_small(
    packer: Packer, planned: list[tuple[int, int]], min_tokens: int, max_tokens: int
) -> list[tuple[int, int]]:
    """``--min-tokens``: a chunk under the minimum ("Id. at 496.") joins its smaller neighbour
    when the two fit under the cap together."""
    out = list(planned)
    i = 0
    while i < len(out):
        a, b = out[i]
        n = packer.index.count(a, b)
        if n >= min_tokens or len(out) == 1:
            i += 1
            continue
        prev_n = packer.index.count(*out[i - 1]) if i > 0 else None
        next_n = packer.index.count(*out[i + 1]) if i + 1 < len(out) else None
        options = [
            (m, j)
            for m, j in ((prev_n, i - 1), (next_n, i + 1))
            if m is not None and m + n <= max_tokens
        ]
        if not options:
            i += 1
            continue
        _, j = min(options)
        lo, hi = min(i, j), max(i, j)
        out[lo : hi + 1] = [(out[lo][0], out[hi][1])]
        i = lo
    return out


def _finish(
    packer: Packer, cuts: Sequence[int], planned: Sequence[tuple[int, int]]
) -> tuple[list[tuple[int, int]], list[int]]:
    """Exact token counts for planned chunks. The plan uses additive estimates; a chunk whose
    exact count is over the cap gives up its last sentences (cut at an allowed boundary, never
    inside a citation) before the whitespace/token fallback of ``Packer.split_exact``."""
    text, tok, cap = packer.text, packer.tokenizer, packer.max
    out: list[tuple[int, int]] = []
    counts: list[int] = []
    todo = list(planned)
    exact = tok.count_batch([text[a:b] for a, b in todo])
    for (a, b), n in zip(todo, exact, strict=True):
        while a < b:
            if n <= cap:
                out.append((a, b))
                counts.append(n)
                break
            lo, hi = bisect.bisect_right(cuts, a), bisect.bisect_left(cuts, b)
            for p in reversed(cuts[lo:hi]):
                s, e = trim(text, a, p)
                m = tok.count(text[s:e]) if s < e else 0
                if 0 < m <= cap:
                    out.append((s, e))
                    counts.append(m)
                    a, b = trim(text, p, b)
                    n = tok.count(text[a:b]) if a < b else 0
                    break
            else:
                for s, e, m in packer.split_exact(a, b):
                    out.append((s, e))
                    counts.append(m)
                break
    return out, counts


class LegalChunker(BaseChunker):
    name = "legal"

    def chunk(self, doc: Document) -> Iterator[Chunk]:
        from chunkwise.chunkers.legal_sbd import sentence_spans

        text = doc.text
        if doc.parser == "legal":
            structure: Sequence[Element] = doc.elements
        else:
            from chunkwise.parsers.legal import legal_elements

            structure, _ = legal_elements(text)
            if not any(e.kind == "heading" for e in structure):
                # No legal divisions found: keep the headings the document's own parser saw
                # (PDF/HTML/Markdown), so chunks still get a heading path.
                structure = [*structure, *(e for e in doc.elements if e.kind == "heading")]
        regions = content_spans(doc, self.config.keep_furniture)
        sentences: list[tuple[int, int]] = []
        for a, b in regions:
            sentences.extend(sentence_spans(text, a, b))
        cites = sorted(
            (e.start, e.end, str(e.attrs.get("type", "")))
            for e in structure
            if e.kind == "citation"
        )
        cite_spans = [(a, b) for a, b, _ in cites]
        sentence_starts = _outside([s for s, _ in sentences], cite_spans)
        sentence_ends = _outside([e for _, e in sentences], cite_spans)
        section_starts = _outside(
            [e.start for e in structure if e.kind in ("heading", "signature")], cite_spans
        )
        clause_starts = _outside(
            [e.start for e in structure if e.kind in ("clause", "footnote", "recital")], cite_spans
        )
        levels: list[Level] = [
            positions_level(clause_starts),
            # Sentence ends as well as starts: the whitespace between sentences (a newline and
            # an indent can be tokens of their own) then never tips a sentence over the cap.
            positions_level(sorted({*sentence_starts, *sentence_ends})),
            _whitespace_level(text, cite_spans),
        ]
        packer = Packer(text, self.tokenizer, self.config.max_tokens, levels)
        spans, counts = _finish(
            packer,
            sorted({*sentence_starts, *clause_starts, *section_starts}),
            _pack_sections(
                packer,
                regions,
                section_starts,
                self.config.max_tokens,
                {e.start: e.end for e in structure if e.kind == "heading"},
                self.config.min_tokens,
            ),
        )
        spans, counts = self.with_overlap(packer, spans, counts)
        paths = SectionPaths(structure)
        builder = self.builder(doc)
        cite_starts = [a for a, _, _ in cites]
        sent_starts = [s for s, _ in sentences]
        for (a, b), n in zip(spans, counts, strict=True):
            lo = bisect.bisect_left(cite_starts, a)
            hi = bisect.bisect_left(cite_starts, b)
            found: list[dict[str, Any]] = [
                {"text": text[s:e], "type": t, "start": s, "end": e}
                for s, e, t in cites[lo:hi]
                if e <= b
            ]
            n_sent = bisect.bisect_left(sent_starts, b) - bisect.bisect_left(sent_starts, a)
            path = paths.at(a)
            meta: dict[str, Any] = {"citations": found, "n_sentences": max(n_sent, 1)}
            if path:
                meta["section"] = path[-1]
            yield builder.chunk(a, b, n, headings=path, metadata=meta)


def sentence_records(doc: Document, keep_furniture: bool = False) -> Iterator[dict[str, Any]]:
    """The legal sentences of a document as ``{"start", "end", "text"}`` (``chunk sentences``)."""
    from chunkwise.chunkers.legal_sbd import sentence_spans

    for a, b in content_spans(doc, keep_furniture):
        for s, e in sentence_spans(doc.text, a, b):
            yield {"start": s, "end": e, "text": doc.text[s:e]}
