"""What every chunker shares: its configuration, a base class, the element index of a document
(:class:`SpanAnnotator`) and the one chunk builder (:class:`ChunkBuilder`) that turns a character
span into a chunk with its layout metadata (pages, boxes, heading path, kind)."""

from __future__ import annotations

import bisect
import operator
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from chunkwise.kinds import (
    BLOCK_KINDS,
    FURNITURE_KINDS,
    HEADING,
    METADATA_KINDS,
    TEXT,
    span_kind,
)
from chunkwise.options import Options
from chunkwise.packing import Packer, add_overlap
from chunkwise.tokenizers import DEFAULT_TOKENIZER, Tokenizer, get_tokenizer
from chunkwise.types import Chunk, Document, Element, PageBox


@dataclass(frozen=True)
class ChunkerConfig:
    max_tokens: int = 512
    overlap: int = 0
    tokenizer: str = DEFAULT_TOKENIZER
    min_tokens: int = 0
    keep_furniture: bool = False
    # Each chunker's own options by chunker name (chunkwise.options); a chunker not named here
    # gets its defaults. Travels with the config so auto's candidates find theirs.
    options: Mapping[str, Options] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from chunkwise.errors import UsageError

        if self.max_tokens < 1:
            raise UsageError("--max-tokens must be at least 1")
        if self.overlap < 0 or self.overlap >= self.max_tokens:
            raise UsageError("--overlap must be >= 0 and smaller than --max-tokens")
        if self.min_tokens < 0 or self.min_tokens > self.max_tokens:
            raise UsageError("--min-tokens must be between 0 and --max-tokens")


class BaseChunker:
    """Base for built-in chunkers. Subclasses set ``name`` and implement ``chunk``."""

    name: ClassVar[str] = ""
    synthetic: ClassVar[bool] = False
    # The chunker's options dataclass (chunkwise.options); the base class has no fields.
    options_class: ClassVar[type[Options]] = Options

    def __init__(
        self,
        config: ChunkerConfig | None = None,
        options: Options | Mapping[str, Any] | None = None,
    ) -> None:
        """``options`` (an instance or a mapping of values) wins over ``config.options``."""
        self.config = config or ChunkerConfig()
        if options is None:
            options = self.config.options.get(self.name)
        self.options = self.options_class.coerce(options, self.name)
        self._tokenizer: Tokenizer | None = None
        self.configure()

    @classmethod
    def preload(cls, parsers: Iterable[str]) -> None:
        """Hook: import now what chunking documents of these parsers will need (called before
        worker processes fork, so every worker inherits it)."""

    def configure(self) -> None:
        """Hook: derive settings from ``self.config`` and ``self.options`` (validated already);
        raise UsageError for combinations the options alone cannot rule out."""

    def prepare(self, doc: Document) -> Any:
        """Hook: do now for ``doc`` what is cheaper done for a batch of documents in a row than
        interleaved with the rest of the work (tokenizing); ``chunk(doc)`` comes later, and what
        this returns is held until then."""
        return None

    @property
    def tokenizer(self) -> Tokenizer:
        if self._tokenizer is None:
            self._tokenizer = get_tokenizer(self.config.tokenizer)
        return self._tokenizer

    def chunk(self, doc: Document) -> Iterator[Chunk]:
        raise NotImplementedError

    def attach_source(self, doc: Document, data: bytes) -> None:
        """Input without a path (stdin): a chunker that goes back to the source keeps it."""

    def with_overlap(
        self, packer: Packer, spans: Sequence[tuple[int, int]], counts: Sequence[int]
    ) -> tuple[list[tuple[int, int]], list[int]]:
        """Apply ``--overlap``: each chunk starts up to that many tokens into its predecessor."""
        if not self.config.overlap:
            return list(spans), list(counts)
        return add_overlap(
            packer.text,
            spans,
            counts,
            self.tokenizer,
            packer.index,
            self.config.overlap,
            self.config.max_tokens,
        )

    def builder(self, doc: Document) -> ChunkBuilder:
        """The builder every chunk of ``doc`` is made with (see :class:`ChunkBuilder`)."""
        return ChunkBuilder(doc, self.tokenizer, self.name)

    def build(
        self,
        doc: Document,
        spans: Sequence[tuple[int, int]],
        counts: Sequence[int],
        metadata: Sequence[Mapping[str, Any]] | None = None,
    ) -> Iterator[Chunk]:
        """Turn exact spans with exact token counts into annotated chunks."""
        yield from self.builder(doc).spans(spans, counts, metadata)


class SpanAnnotator:
    """Answers "which elements does [start, end) touch?" and "which headings are open at
    offset?" fast, for one document. Each index is built on its first question: a chunker that
    only asks for heading paths never sorts every element."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self._els: list[Element] | None = None
        self._starts: list[int] = []
        self._max_end: list[int] = []
        self._heading_starts: list[int] | None = None
        self._heading_paths: list[tuple[str, ...]] = []

    def _build_overlap_index(self) -> list[Element]:
        els = sorted(self.doc.elements, key=_start_then_longest)
        self._starts = [e.start for e in els]
        running = -1
        max_end = self._max_end
        for e in els:
            if e.end > running:
                running = e.end
            max_end.append(running)
        self._els = els
        return els

    def _build_heading_index(self) -> list[int]:
        doc = self.doc
        starts: list[int] = []
        paths = self._heading_paths
        stack: list[tuple[int, str]] = []
        # Sorting the headings alone keeps their order among equal starts (a stable sort), as
        # sorting every element would.
        heads = sorted((e for e in doc.elements if e.kind == "heading"), key=_start)
        for el in heads:
            level = el.level or 1
            title = el.attrs.get("title") if el.attrs else None
            if not title:
                title = " ".join(doc.text[el.start : el.end].split()).lstrip("#").strip()
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, str(title)))
            starts.append(el.start)
            paths.append(tuple(t for _, t in stack))
        self._heading_starts = starts
        return starts

    def headings_at(self, offset: int) -> tuple[str, ...]:
        starts = self._heading_starts
        if starts is None:
            starts = self._build_heading_index()
        i = bisect.bisect_right(starts, offset) - 1
        return self._heading_paths[i] if i >= 0 else ()

    def overlapping(self, start: int, end: int) -> list[Element]:
        els = self._els
        if els is None:
            els = self._build_overlap_index()
        hi = bisect.bisect_left(self._starts, max(end, start + 1))
        out: list[Element] = []
        j = hi - 1
        max_end = self._max_end
        while j >= 0 and max_end[j] > start:
            el = els[j]
            if el.end > start:
                out.append(el)
            j -= 1
        out.reverse()
        return out


def _start_then_longest(e: Element) -> tuple[int, int]:
    return (e.start, -e.end)


_start = operator.attrgetter("start")


class ChunkBuilder:
    """The one way a chunk is made: every chunker builds its chunks here, so that each field
    follows one rule whichever chunker made it.

    - ``text``: ``doc.text[start:end]``; a chunker that writes its own text (a table piece that
      repeats its header, the vision reader's text) passes it, and the chunk is ``synthetic``
      exactly when that text differs from the span's.
    - ``index``: 0, 1, 2... in the order the chunks are built.
    - ``n_tokens``: the exact count the chunker has (the packer's), else counted on the text.
    - ``pages``, ``bboxes``: of the elements the span overlaps, boxes deduplicated in element
      order; a chunker that reads the layout itself (vision) passes its own.
    - ``headings``: the heading path at ``start``, unless the chunker knows better (the path a
      section's chunks share, a code chunk's scopes, the vision reader's path).
    - ``kind``: :func:`chunkwise.kinds.span_kind` of the overlapped elements, unless given (a
      chunker that knows the block it cut: a table piece, code).
    """

    def __init__(self, doc: Document, tokenizer: Tokenizer, chunker: str) -> None:
        self.doc = doc
        self.tokenizer = tokenizer
        self.chunker = chunker
        self._annotator: SpanAnnotator | None = None
        self._next_index = 0
        # What the document's elements can contribute at all, known once: pages and boxes come
        # from elements with a page (source code and plain text have none), a kind other than
        # text from a block element, a heading path from a heading. A document of plain
        # paragraphs needs no element lookup for any chunk.
        paged = False
        kinds: set[str] = set()
        for e in doc.elements:
            kinds.add(e.kind)
            if e.page is not None:
                paged = True
        self._paged = paged
        self._blocks = not BLOCK_KINDS.isdisjoint(kinds)
        self._headed = HEADING in kinds

    @property
    def annotator(self) -> SpanAnnotator:
        if self._annotator is None:
            self._annotator = SpanAnnotator(self.doc)
        return self._annotator

    def chunk(
        self,
        start: int,
        end: int,
        n_tokens: int | None = None,
        *,
        text: str | None = None,
        kind: str | None = None,
        headings: Sequence[str] | None = None,
        pages: Iterable[int] | None = None,
        boxes: Iterable[PageBox] | None = None,
        continues: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Chunk:
        doc_text = self.doc.text
        if not 0 <= start <= end <= len(doc_text):
            raise ValueError(f"chunk span [{start}, {end}) outside the text (0..{len(doc_text)})")
        source = doc_text[start:end]
        synthetic = text is not None and text != source
        if text is None:
            text = source
        els: list[Element] = []
        paged = self._paged and (pages is None or boxes is None)
        if (kind is None and self._blocks) or paged:
            els = self.annotator.overlapping(start, end)
        if pages is not None:
            page_t = tuple(sorted(set(pages)))
        elif paged:
            page_t = tuple(sorted({e.page for e in els if e.page is not None}))
        else:
            page_t = ()
        if boxes is not None:
            box_t = tuple(dict.fromkeys(boxes))
        elif paged:
            # Nested elements often share a box: each box once, in element order.
            box_t = tuple(
                dict.fromkeys(
                    PageBox(e.page, *e.bbox)
                    for e in els
                    if e.bbox is not None and e.page is not None
                )
            )
        else:
            box_t = ()
        if kind is None:
            # Without a block element in the document every span is text (kinds.span_kind).
            kind = span_kind(doc_text, els, start, end) if self._blocks else TEXT
        if headings is None:
            headings = self.annotator.headings_at(start) if self._headed else ()
        index = self._next_index
        self._next_index += 1
        return Chunk(
            doc_id=self.doc.doc_id,
            index=index,
            start=start,
            end=end,
            text=text,
            n_tokens=self.tokenizer.count(text) if n_tokens is None else n_tokens,
            tokenizer=self.tokenizer.name,
            chunker=self.chunker,
            pages=page_t or None,
            bboxes=box_t or None,
            headings=tuple(headings),
            kind=kind,
            continues=continues,
            metadata=dict(metadata or {}),
            synthetic=synthetic,
        )

    def spans(
        self,
        spans: Sequence[tuple[int, int]],
        counts: Sequence[int],
        metadata: Sequence[Mapping[str, Any]] | None = None,
    ) -> Iterator[Chunk]:
        """``chunk(start, end, count, metadata=...)`` for each span in turn; for a document of
        plain paragraphs (no page, block or heading: every field is known without looking at
        an element) without the per-call overhead, since such documents are most of a folder
        of text files."""
        if self._paged or self._blocks or self._headed or type(self).chunk is not _CHUNK:
            for i, (start, end) in enumerate(spans):
                yield self.chunk(
                    start, end, counts[i], metadata=metadata[i] if metadata is not None else None
                )
            return
        doc = self.doc
        doc_text = doc.text
        n = len(doc_text)
        doc_id = doc.doc_id
        tok_name = self.tokenizer.name
        chunker = self.chunker
        for i, (start, end) in enumerate(spans):
            if not 0 <= start <= end <= n:
                raise ValueError(f"chunk span [{start}, {end}) outside the text (0..{n})")
            index = self._next_index
            self._next_index = index + 1
            meta = metadata[i] if metadata is not None else None
            text = doc_text[start:end]
            count = counts[i]
            yield Chunk(
                doc_id,
                index,
                start,
                end,
                text,
                self.tokenizer.count(text) if count is None else count,
                tok_name,
                chunker,
                None,
                None,
                (),
                TEXT,
                None,
                dict(meta) if meta else {},
                False,
            )


# A subclass that makes its chunks its own way gets every span through its chunk().
_CHUNK = ChunkBuilder.chunk


def content_spans(doc: Document, keep_furniture: bool = False) -> list[tuple[int, int]]:
    """The parts of ``doc.text`` chunks may cover: everything but front matter and page furniture
    (headers, footers; kept with ``keep_furniture``)."""
    cut_kinds = METADATA_KINDS if keep_furniture else FURNITURE_KINDS | METADATA_KINDS
    cuts = sorted((e.start, e.end) for e in doc.elements if e.kind in cut_kinds)
    if not cuts:
        return [(0, len(doc.text))]
    spans: list[tuple[int, int]] = []
    pos = 0
    for a, b in cuts:
        if a > pos:
            spans.append((pos, a))
        pos = max(pos, b)
    if pos < len(doc.text):
        spans.append((pos, len(doc.text)))
    return spans
