"""Heading-aware chunking: chunks stay inside the sections the headings delimit.

Works on any Document whose parser emits ``heading`` elements (HTML, Markdown, PDF):

- A section runs from a heading to the next heading of any level (text before the first heading is
  a section of its own). A chunk never spans two sections, with one exception: a section smaller
  than ``--min-tokens``, or a heading with no text under it, merges with a neighbour in the same
  scope: forward into its next sibling or its first subsection, else back into its previous
  sibling (or its parent), preferring a neighbour it fits with under the cap.
- A section over the cap is split recursively (blocks, paragraphs, lines, sentences, words, tokens)
  by :class:`chunkwise.packing.Packer`, so every chunk stays under ``--max-tokens``.
- Every chunk carries its heading path: the headings that contain the whole chunk (for a chunk
  of merged sections, the path they share).
- A table that fits the cap is never cut. A larger table is split by rows; each piece after the
  first repeats the header row(s), so those chunks are *synthetic* (``text`` differs from the source
  span, ``synthetic=True``) while ``start``/``end`` still cover the rows' span in ``Document.text``.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from chunkwise.chunking import BaseChunker, SpanAnnotator, content_spans
from chunkwise.packing import Packer, positions_level, regex_level
from chunkwise.spans import SEPARATORS, Span, trim
from chunkwise.types import Chunk, Document, Element

# Inside one over-long table row: cut between cells.
CELL_SEP = re.compile(r"(?<!\\)\|\s*")
# The delimiter row of a Markdown-style table: | --- | :---: |
TABLE_SEP = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
# A repeated header may use at most this share of the cap; wider headers are not repeated, so that
# the rows themselves keep most of every chunk.
MAX_HEADER_SHARE = 0.5


@dataclass
class _Section:
    start: int
    end: int
    level: int  # heading level; 0 for text before the first heading
    path: tuple[str, ...]
    spans: list[Span]
    tokens: int
    empty: bool  # a heading with nothing under it


class _Group:
    """Consecutive sections packed together. Totals are kept as sections join, so that a group
    of thousands of sections (empty headings all merging forward) costs linear time."""

    def __init__(self, sections: Sequence[_Section]) -> None:
        self.sections: list[_Section] = []
        self.tokens = 0
        self._nonempty = 0
        self.extend(sections)

    def extend(self, sections: Sequence[_Section]) -> None:
        self.sections.extend(sections)
        self.tokens += sum(s.tokens for s in sections)
        self._nonempty += sum(not s.empty for s in sections)

    @property
    def top(self) -> int:
        return self.sections[0].level

    @property
    def empty(self) -> bool:
        return self._nonempty == 0

    def path(self, start: int, end: int) -> tuple[str, ...]:
        """Heading path of [start, end): the headings shared by every section it touches."""
        secs = self.sections
        # Sections are sorted and disjoint: bisect to the touched ones instead of testing all.
        lo = bisect.bisect_right(secs, start, key=lambda s: s.end)
        hi = bisect.bisect_left(secs, end, key=lambda s: s.start)
        touched = secs[lo:hi]
        # A heading with nothing under it merged into its first subsection does not make the
        # chunk's text any less the subsection's.
        paths = [s.path for s in touched if not s.empty] or [s.path for s in touched]
        return _common(paths) if paths else self.sections[0].path


@dataclass
class _Piece:
    start: int
    end: int
    n_tokens: int
    text: str | None = None  # set for synthetic pieces
    kind: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


class SectionChunker(BaseChunker):
    name = "section"
    # Pieces of split tables repeat their header; only those chunks have synthetic=True.
    synthetic: ClassVar[bool] = True

    def chunk(self, doc: Document) -> Iterator[Chunk]:
        text = doc.text
        if not text.strip():
            return
        packer = Packer(text, self.tokenizer, self.config.max_tokens, [])
        builder = self.builder(doc)
        ann = builder.annotator
        sections = self._sections(doc, ann, packer)
        groups = self._merge(sections)
        plain = self._plain_pieces(ann, groups, packer)
        for i, group in enumerate(groups):
            pieces = plain[i] if i in plain else self._pieces(ann, group, packer)
            for piece in pieces:
                yield builder.chunk(
                    piece.start,
                    piece.end,
                    piece.n_tokens,
                    text=piece.text,
                    kind=piece.kind,
                    headings=group.path(piece.start, piece.end),
                    metadata=piece.metadata,
                )

    # -- sections --------------------------------------------------------------------------------
    def _sections(self, doc: Document, ann: SpanAnnotator, packer: Packer) -> list[_Section]:
        text = doc.text
        heads: dict[int, Element] = {}
        for el in doc.elements:
            if el.kind == "heading" and el.start not in heads:
                heads[el.start] = el
        starts = sorted(heads)
        bounds = [0, *[s for s in starts if s > 0], len(text)]
        allowed = content_spans(doc, self.config.keep_furniture)
        out: list[_Section] = []
        k = 0  # first allowed span that may reach into the current section (both are sorted)
        for a, b in itertools.pairwise(bounds):
            while k < len(allowed) and allowed[k][1] <= a:
                k += 1
            spans = []
            j = k
            while j < len(allowed) and allowed[j][0] < b:
                s, e = allowed[j]
                spans.append((max(a, s), min(b, e)))
                j += 1
            spans = [trim(text, s, e) for s, e in spans]
            spans = [(s, e) for s, e in spans if s < e]
            if not spans:
                continue
            head = heads.get(a)
            if head is not None:
                level = head.level or 1
                path = ann.headings_at(a)
                empty = not any(text[max(s, head.end) : e].strip() for s, e in spans)
            else:
                level, path, empty = 0, (), False
            out.append(_Section(a, b, level, path, spans, 0, empty))
        # Token counts of all sections at once: one array look-up instead of two per section.
        counts = iter(_span_counts(packer, [sp for sec in out for sp in sec.spans]))
        for sec in out:
            sec.tokens = sum(next(counts) for _ in sec.spans)
        return out

    def _merge(self, sections: Sequence[_Section]) -> list[_Group]:
        cap = self.config.max_tokens

        def small(g: _Group) -> bool:
            return g.empty or g.tokens < self.config.min_tokens

        groups = [_Group((sec,)) for sec in sections]
        # Forward where it fits: a small section takes in its next sibling or first subsection. A
        # heading with nothing under it always goes forward: alone it would be a chunk of a title.
        groups = _join(
            groups,
            lambda a, b: small(a) and b.top >= a.top and (a.empty or a.tokens + b.tokens <= cap),
        )
        # Backward where it fits: into the previous sibling, or the parent section.
        groups = _join(
            groups, lambda a, b: small(b) and a.top <= b.top and a.tokens + b.tokens <= cap
        )
        # Still small: join a neighbour anyway; packing then splits the group under the cap, and
        # the small section's text travels with the nearest part of its neighbour.
        groups = _join(groups, lambda a, b: small(a) and b.top >= a.top)
        return _join(groups, lambda a, b: small(b) and a.top <= b.top)

    # -- the usual groups, all at once ------------------------------------------------------------
    def _plain_pieces(
        self, ann: SpanAnnotator, groups: Sequence[_Group], packer: Packer
    ) -> dict[int, list[_Piece]]:
        """Pieces of the groups that hold no table and whose spans all fit the cap, by group
        index: the usual section. They need no cut levels (building those cost more than the
        packing itself), and their exact counts are taken in one batch; with thousands of
        headings the per-group calls were most of the time."""
        text = ann.doc.text
        cap = self.config.max_tokens
        tables = sorted(
            (e.start, e.end) for e in ann.doc.elements if e.kind == "table" and e.end > e.start
        )
        table_starts = [a for a, _ in tables]
        todo: list[tuple[int, list[Span]]] = []
        for i, group in enumerate(groups):
            spans = [
                t for t in (trim(text, a, b) for a, b in _group_spans(text, group)) if t[0] < t[1]
            ]
            if not spans:
                continue
            lo, hi = spans[0][0], spans[-1][1]
            k = bisect.bisect_left(table_starts, lo)
            if any(tables[j][1] <= hi for j in range(k, bisect.bisect_left(table_starts, hi))):
                continue  # a table inside: the general path decides whether it fits
            todo.append((i, spans))
        approx = iter(_span_counts(packer, [sp for _, spans in todo for sp in spans]))
        fitting = []
        for i, spans in todo:
            if max(next(approx) for _ in spans) <= cap:
                fitting.append((i, spans))
        exact = iter(packer.exact_counts([sp for _, spans in fitting for sp in spans]))
        out: dict[int, list[_Piece]] = {}
        for i, spans in fitting:
            planned: list[Span] = []
            counts: list[int] = []
            for a, b in spans:
                n = next(exact)
                if n <= cap:
                    planned.append((a, b))
                    counts.append(n)
                else:  # BPE merges at the edges differ from the whole text's: split exactly
                    for s, e, c in packer.split_exact(a, b):
                        planned.append((s, e))
                        counts.append(c)
            planned, counts = self.with_overlap(packer, planned, counts)
            out[i] = [_Piece(a, b, n) for (a, b), n in zip(planned, counts, strict=True)]
        return out

    # -- one group -> pieces ---------------------------------------------------------------------
    def _pieces(self, ann: SpanAnnotator, group: _Group, packer: Packer) -> list[_Piece]:
        doc = ann.doc
        text = doc.text
        cap = self.config.max_tokens
        spans = _group_spans(text, group)
        lo, hi = spans[0][0], spans[-1][1]
        tables = [
            e
            for e in ann.overlapping(lo, hi)
            if e.kind == "table" and e.end > e.start and lo <= e.start and e.end <= hi
        ]
        big: list[Element] = []
        fitting: list[Element] = []
        for t in tables:
            approx = packer.index.count(t.start, t.end)
            # The exact count decides "fits"; the cheap count only skips obvious cases.
            fits = approx <= cap // 2 or self.tokenizer.count(text[t.start : t.end]) <= cap
            (fitting if fits else big).append(t)
        big = _outermost(big)

        # Cut the group's spans around the tables that must be split by rows.
        segments: list[tuple[str, Span | Element]] = []
        for a, b in spans:
            pos = a
            for t in big:
                if t.end <= pos or t.start >= b:
                    continue
                if t.start > pos:
                    segments.append(("text", (pos, t.start)))
                segments.append(("table", t))
                pos = max(pos, t.end)
            if pos < b:
                segments.append(("text", (pos, b)))

        pieces: list[_Piece] = []
        text_run: list[Span] = []

        def flush_text() -> None:
            if text_run:
                pieces.extend(self._pack_text(ann, text_run, fitting, packer))
                text_run.clear()

        for kind, item in segments:
            if kind == "text":
                assert isinstance(item, tuple)
                s, e = trim(text, *item)
                if s < e:
                    text_run.append((s, e))
            else:
                assert isinstance(item, Element)
                lead = None
                if text_run and self._only_headings(ann, text_run, packer, item):
                    # A heading right above a table that is split goes with its first piece,
                    # not into a chunk of its own.
                    lead = text_run[0][0]
                    text_run.clear()
                flush_text()
                pieces.extend(self._split_table(doc, item, packer, lead))
        flush_text()
        return pieces

    def _pack_text(
        self,
        ann: SpanAnnotator,
        spans: list[Span],
        fitting: list[Element],
        packer: Packer,
    ) -> list[_Piece]:
        doc = ann.doc
        text = doc.text
        lo, hi = spans[0][0], spans[-1][1]
        inside = [(t.start, t.end) for t in fitting if t.start < hi and t.end > lo]
        cuts: list[int] = []
        for el in ann.overlapping(lo, hi):
            if lo < el.start < hi and el.kind not in ("table_row",):
                cuts.append(el.start)
        cuts.extend(b for _, b in inside)
        # No cut inside a table that fits: it stays one piece at every level.
        cuts = [c for c in cuts if not any(a < c < b for a, b in inside)]
        levels = [positions_level(cuts)] if cuts else []
        for pattern in SEPARATORS:
            levels.append(_outside(regex_level(pattern, text), inside))
        sub = Packer(text, self.tokenizer, self.config.max_tokens, levels, index=packer.index)
        out_spans, counts = sub.pack(spans)
        out_spans, counts = self.with_overlap(packer, out_spans, counts)
        return [_Piece(a, b, n) for (a, b), n in zip(out_spans, counts, strict=True)]

    def _only_headings(
        self, ann: SpanAnnotator, run: list[Span], packer: Packer, table: Element
    ) -> bool:
        lo, hi = run[0][0], run[-1][1]
        if packer.index.count(lo, table.start) > self.config.max_tokens // 4:
            return False
        heads = [(e.start, e.end) for e in ann.overlapping(lo, hi) if e.kind == "heading"]
        pos = lo
        for a, b in sorted(heads):
            if ann.doc.text[pos:a].strip():
                return False
            pos = max(pos, b)
        # Page furniture between the headings and the table (a footer, a page header) is left
        # out of the chunks: the headings cannot reach over it to the table.
        text = ann.doc.text
        return bool(heads) and not text[pos:hi].strip() and not text[hi : table.start].strip()

    def _split_table(
        self, doc: Document, table: Element, packer: Packer, lead: int | None = None
    ) -> list[_Piece]:
        """Pieces of a table over the cap; ``lead`` is where the first piece starts when
        headings above the table travel with it."""
        text = doc.text
        start0 = table.start if lead is None else lead
        cap = self.config.max_tokens
        count = self.tokenizer.count
        lines = _lines(text, table.start, table.end)
        n_head = _header_lines(text, lines, table)
        header = lines[:n_head]
        rows = lines[n_head:]
        header_text = text[header[0][0] : header[-1][1]] if header else ""
        repeat = bool(header) and count(header_text) <= cap * MAX_HEADER_SHARE
        if not rows or not repeat:
            # Nothing to repeat: plain row-aligned pieces of the source text.
            level = positions_level([table.start] + [a for a, _ in lines[1:]])
            cells = regex_level(CELL_SEP, text)
            sub = Packer(text, self.tokenizer, cap, [level, cells], index=packer.index)
            spans, counts = sub.pack([(start0, table.end)])
            row_starts = [a for a, _ in rows]
            out: list[_Piece] = []
            for (a, b), n in zip(spans, counts, strict=True):
                if b <= table.start:  # the headings above the table, alone
                    out.append(_Piece(a, b, n))
                    continue
                meta: dict[str, Any] = {"n_table_rows": len(rows), "header_repeated": False}
                # Body rows this piece touches (none when it holds only header lines).
                lo = max(bisect.bisect_right(row_starts, a) - 1, 0)
                hi = bisect.bisect_left(row_starts, b) - 1
                if rows and hi >= lo and rows[lo][1] > a:
                    meta["table_rows"] = [lo, hi]
                out.append(_Piece(a, b, n, kind="table", metadata=meta))
            return out

        pieces: list[_Piece] = []
        i = 0
        first = True
        n_body = len(rows)
        header_tokens = count(header_text) + 1
        while i < n_body:
            base = packer.index.count(start0, rows[i][0]) if first else header_tokens
            j = i
            while j + 1 < n_body and base + packer.index.count(rows[i][0], rows[j + 1][1]) <= cap:
                j += 1

            body = _render_rows(text, start0 if first else None, header_text, rows, i, j)
            n = count(body)
            while n > cap and j > i:
                j -= 1
                body = _render_rows(text, start0 if first else None, header_text, rows, i, j)
                n = count(body)
            meta = {"table_rows": [i, j], "n_table_rows": n_body, "header_repeated": not first}
            if n <= cap:
                start = start0 if first else rows[i][0]
                pieces.append(
                    _Piece(
                        start,
                        rows[j][1],
                        n,
                        text=None if first else body,
                        kind="table",
                        metadata=meta,
                    )
                )
                i = j + 1
            else:
                # One row too long even on its own line: the row's text, split under the cap.
                if first:
                    for a, b, c in packer.split_exact(start0, header[-1][1]):
                        pieces.append(_Piece(a, b, c, kind="table" if b > table.start else None))
                for a, b, c in packer.split_exact(*rows[i]):
                    pieces.append(_Piece(a, b, c, kind="table", metadata={"table_rows": [i, i]}))
                i += 1
            first = False
        return pieces


def _group_spans(text: str, group: _Group) -> list[Span]:
    """The group's content spans; sections of one group are packed together, so spans separated
    by whitespace only are joined."""
    spans: list[Span] = []
    for sp in (sp for sec in group.sections for sp in sec.spans):
        if spans and not text[spans[-1][1] : sp[0]].strip():
            spans[-1] = (spans[-1][0], sp[1])
        else:
            spans.append(sp)
    return spans


def _span_counts(packer: Packer, spans: Sequence[Span]) -> list[int]:
    """The token index's counts of many spans, in one look-up."""
    if not spans:
        return []
    bounds = np.asarray(spans, dtype=np.int64)
    starts = packer.index.starts
    return (
        np.searchsorted(starts, bounds[:, 1], "left")
        - np.searchsorted(starts, bounds[:, 0], "left")
    ).tolist()


def _join(groups: list[_Group], ok: Callable[[_Group, _Group], bool]) -> list[_Group]:
    """One left-to-right pass that appends a group to its predecessor when ``ok(prev, group)``."""
    out: list[_Group] = []
    for g in groups:
        if out and ok(out[-1], g):
            out[-1].extend(g.sections)
        else:
            out.append(g)
    return out


def _common(paths: Sequence[tuple[str, ...]]) -> tuple[str, ...]:
    common: list[str] = []
    for parts in zip(*paths, strict=False):
        if any(p != parts[0] for p in parts):
            break
        common.append(parts[0])
    return tuple(common)


def _render_rows(
    text: str, table_start: int | None, header: str, rows: Sequence[Span], i: int, j: int
) -> str:
    """Rows i..j: the source text from the table start (first piece), else header + rows."""
    if table_start is not None:
        return text[table_start : rows[j][1]]
    return header + "\n" + text[rows[i][0] : rows[j][1]]


def _outermost(tables: list[Element]) -> list[Element]:
    out: list[Element] = []
    for t in sorted(tables, key=lambda e: (e.start, -e.end)):
        if out and t.start < out[-1].end:
            continue
        out.append(t)
    return out


def _outside(level: Any, blocked: Sequence[Span]) -> Any:
    if not blocked:
        return level

    def cuts(a: int, b: int) -> list[int]:
        return [c for c in level(a, b) if not any(s < c < e for s, e in blocked)]

    return cuts


def _lines(text: str, start: int, end: int) -> list[Span]:
    out: list[Span] = []
    pos = start
    while pos < end:
        nl = text.find("\n", pos, end)
        stop = end if nl < 0 else nl
        a, b = trim(text, pos, stop)
        if a < b:
            out.append((a, b))
        pos = stop + 1
    return out


def _header_lines(text: str, lines: Sequence[Span], table: Element) -> int:
    """How many leading lines of a table are its header: up to a Markdown delimiter row, else
    the first line when the parser says the table has a header."""
    attrs = table.attrs or {}
    if "header" in attrs and not attrs["header"]:
        return 0  # the parser knows there is none: a row of "---" cells is data
    for i, (a, b) in enumerate(lines[:6]):
        if i > 0 and TABLE_SEP.match(text[a:b]):
            return i + 1
    return 1 if attrs.get("header") and len(lines) > 1 else 0
