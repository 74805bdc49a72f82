"""What every chunker shares: its configuration, a base class, and the annotator that turns a
character span into the layout metadata of a chunk (pages, boxes, heading path, kind)."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from chunkwise.packing import Packer, add_overlap
from chunkwise.tokenizers import DEFAULT_TOKENIZER, Tokenizer, get_tokenizer
from chunkwise.types import Chunk, Document, Element, PageBox

# Element kinds that describe page furniture, not content: kept in the Document, left out of
# chunks unless the user asks for them.
FURNITURE_KINDS = frozenset({"header", "footer", "page_header", "page_footer"})
# Never chunk text: metadata the parser already lifted into Document.metadata (YAML front matter).
METADATA_KINDS = frozenset({"front_matter"})
# A chunk lying entirely inside elements of one of these kinds reports that kind.
BLOCK_KINDS = frozenset({"table", "code", "list", "figure", "caption", "formula", "quote"})


@dataclass(frozen=True)
class ChunkerConfig:
    max_tokens: int = 512
    overlap: int = 0
    tokenizer: str = DEFAULT_TOKENIZER
    min_tokens: int = 0
    keep_furniture: bool = False
    # Chunker-specific options (e.g. max_chars for cast, pages_per_batch for vision).
    extra: Mapping[str, Any] = field(default_factory=dict)

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

    def __init__(self, config: ChunkerConfig | None = None) -> None:
        self.config = config or ChunkerConfig()
        self._tokenizer: Tokenizer | None = None

    @property
    def tokenizer(self) -> Tokenizer:
        if self._tokenizer is None:
            self._tokenizer = get_tokenizer(self.config.tokenizer)
        return self._tokenizer

    def chunk(self, doc: Document) -> Iterator[Chunk]:
        raise NotImplementedError

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

    def build(
        self,
        doc: Document,
        spans: Sequence[tuple[int, int]],
        counts: Sequence[int],
        metadata: Sequence[Mapping[str, Any]] | None = None,
    ) -> Iterator[Chunk]:
        """Turn exact spans with exact token counts into annotated chunks."""
        ann = SpanAnnotator(doc)
        for i, (start, end) in enumerate(spans):
            meta = metadata[i] if metadata is not None else {}
            yield ann.chunk(
                index=i,
                start=start,
                end=end,
                n_tokens=counts[i],
                tokenizer=self.tokenizer.name,
                chunker=self.name,
                metadata=meta,
            )


class SpanAnnotator:
    """Answers "which elements does [start, end) touch?" fast, for one document."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        els = sorted(doc.elements, key=lambda e: (e.start, -e.end))
        self._els = els
        self._starts = [e.start for e in els]
        running = -1
        self._max_end: list[int] = []
        for e in els:
            running = max(running, e.end)
            self._max_end.append(running)
        self._heading_starts: list[int] = []
        self._heading_paths: list[tuple[str, ...]] = []
        self._build_heading_index(doc)

    def _build_heading_index(self, doc: Document) -> None:
        stack: list[tuple[int, str]] = []
        for el in sorted(doc.elements, key=lambda e: e.start):
            if el.kind != "heading":
                continue
            level = el.level or 1
            title = el.attrs.get("title") if el.attrs else None
            if not title:
                title = " ".join(doc.text[el.start : el.end].split()).lstrip("#").strip()
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, str(title)))
            self._heading_starts.append(el.start)
            self._heading_paths.append(tuple(t for _, t in stack))

    def headings_at(self, offset: int) -> tuple[str, ...]:
        i = bisect.bisect_right(self._heading_starts, offset) - 1
        return self._heading_paths[i] if i >= 0 else ()

    def overlapping(self, start: int, end: int) -> list[Element]:
        hi = bisect.bisect_left(self._starts, max(end, start + 1))
        out: list[Element] = []
        j = hi - 1
        while j >= 0 and self._max_end[j] > start:
            el = self._els[j]
            if el.end > start:
                out.append(el)
            j -= 1
        out.reverse()
        return out

    def chunk(
        self,
        *,
        index: int,
        start: int,
        end: int,
        n_tokens: int,
        tokenizer: str,
        chunker: str,
        metadata: Mapping[str, Any] | None = None,
        text: str | None = None,
        kind: str | None = None,
        headings: Sequence[str] | None = None,
        continues: str | None = None,
        synthetic: bool = False,
    ) -> Chunk:
        els = self.overlapping(start, end) if self._els else []
        pages = sorted({e.page for e in els if e.page is not None})
        boxes = tuple(
            PageBox(e.page, *e.bbox) for e in els if e.bbox is not None and e.page is not None
        )
        if kind is None:
            kind = _kind_of(els)
        if headings is None:
            headings = self.headings_at(start)
        return Chunk(
            doc_id=self.doc.doc_id,
            index=index,
            start=start,
            end=end,
            text=self.doc.text[start:end] if text is None else text,
            n_tokens=n_tokens,
            tokenizer=tokenizer,
            chunker=chunker,
            pages=tuple(pages) if pages else None,
            bboxes=boxes or None,
            headings=tuple(headings),
            kind=kind,
            continues=continues,
            metadata=dict(metadata or {}),
            synthetic=synthetic,
        )


def _kind_of(els: Iterable[Element]) -> str:
    kinds = {e.kind for e in els if e.kind != "heading"}
    block = kinds & BLOCK_KINDS
    if len(block) == 1 and kinds <= block | {"list_item", "table_row", "row", "paragraph"}:
        only = next(iter(block))
        # A paragraph next to a table means mixed content; a paragraph inside a list is the list.
        if "paragraph" in kinds and only != "list":
            return "text"
        return only
    return "text"


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
