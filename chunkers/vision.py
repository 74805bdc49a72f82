"""Vision-guided chunking: page images are read in batches by a page reader, and the context of
one batch (heading path, unfinished paragraph/list/table) is carried into the next, so content cut
by a page or batch break continues instead of starting over.

After "Vision-Guided Chunking Is All You Need: Enhancing RAG with Multimodal Document
Understanding". The pieces:

- ``PageSource`` re-opens the PDF behind a ``Document`` (its path, or the bytes handed over by the
  pipeline for stdin) and renders page images, cached per run.
- A page reader (``--vision-backend``) turns one batch of pages into ``Block`` s: the offline
  ``layout`` reader (pymupdf's ONNX layout model, ``vision_layout.py``) or an OpenAI-compatible
  endpoint (``vision_openai.py``). Readers are told the carried ``Context``.
- ``Stitcher`` merges a block into the open block when it continues it (the reader says so, or the
  page-break heuristics do): tables spanning pages become one logical table.
- ``BlockPacker`` packs logical blocks into chunks under the token cap: tables are split between
  rows and every piece repeats the header rows; lists stay whole when they fit; every chunk carries
  a 3-level heading path and a ``continues`` flag.

Chunk text is the reader's text (table pieces are rewritten as Markdown rows with the header
repeated), so the chunker is synthetic; ``start``/``end`` still cover the source span in
``Document.text``, found by aligning the block text with the document text.
"""

from __future__ import annotations

import bisect
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

from chunkwise.chunkers.options import VisionOptions

from chunkwise.chunking import BaseChunker, ChunkerConfig
from chunkwise.errors import ChunkError
from chunkwise.kinds import LAYOUT_KINDS, chunk_kind
from chunkwise.types import BBox, Chunk, Document, PageBox, doc_id_for

log = logging.getLogger("chunkwise.vision")

MAX_HEADING_DEPTH = 3
DEFAULT_DPI = VisionOptions.dpi
# Page images kept per process: enough for a few batches of large pages.
IMAGE_CACHE_BYTES = 96 * 1024 * 1024
_CLOSERS = frozenset("%)]}.,;:!?\"'”’")
_TERMINAL = re.compile(r"""[.!?:;…]["'”’)\]]*$""")


# -- what a page reader returns ------------------------------------------------------------------


@dataclass
class Block:
    """One structured unit read from a page.

    ``continues``: the reader's verdict on whether this block continues the open block carried
    from the previous page/batch (True/False), or None when it cannot tell (the stitcher then
    applies page-break heuristics).
    """

    kind: str
    page: int
    text: str = ""
    bbox: BBox | None = None
    level: int | None = None
    items: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    header_rows: int = 0
    continues: bool | None = None
    # Running page header/footer: left out of chunks unless --keep-furniture, or unless the
    # document has nothing else (a page of only a running line is still text worth keeping).
    furniture: bool = False

    def __post_init__(self) -> None:
        if self.kind not in LAYOUT_KINDS:
            raise ValueError(f"unknown block kind {self.kind!r}")


@dataclass
class Context:
    """What is carried from one batch to the next."""

    headings: list[tuple[int, str]] = field(default_factory=list)
    open_kind: str | None = None
    open_tail: str = ""
    open_header: list[list[str]] = field(default_factory=list)
    open_columns: int = 0

    def heading_path(self) -> tuple[str, ...]:
        return tuple(t for _, t in self.headings)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"headings": list(self.heading_path())}
        if self.open_kind:
            out["open_block"] = {"kind": self.open_kind, "tail": self.open_tail}
            if self.open_kind == "table":
                out["open_block"]["header_rows"] = self.open_header
                out["open_block"]["columns"] = self.open_columns
        return out


@dataclass
class PageBatch:
    """Pages (0-based numbers) handed to a reader together."""

    index: int
    pages: list[int]
    source: PageSource

    def image(self, pno: int) -> bytes:
        return self.source.image(pno)


class PageReader(Protocol):
    """Turns a batch of pages into blocks. ``prepare`` does the context-free work (rendering,
    layout analysis) and runs on the caller's thread, one batch ahead; ``read`` gets the carried
    context and may run on a worker thread, so it must not touch pymupdf objects."""

    name: str

    def prepare(self, batch: PageBatch) -> Any: ...

    def read(self, prepared: Any, context: Context) -> list[Block]: ...


# -- the PDF behind a document -------------------------------------------------------------------

_SOURCE_BYTES: dict[str, bytes] = {}
_SOURCE_LOCK = threading.Lock()


class _ImageCache:
    """PNG bytes of rendered pages, shared by every document of one run (per process)."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.used = 0
        self.items: OrderedDict[tuple[str, int, int], bytes] = OrderedDict()
        self.lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple[str, int, int]) -> bytes | None:
        with self.lock:
            data = self.items.get(key)
            if data is not None:
                self.items.move_to_end(key)
                self.hits += 1
            else:
                self.misses += 1
            return data

    def put(self, key: tuple[str, int, int], data: bytes) -> None:
        with self.lock:
            if key in self.items:
                return
            self.items[key] = data
            self.used += len(data)
            while self.used > self.budget and len(self.items) > 1:
                _, old = self.items.popitem(last=False)
                self.used -= len(old)


IMAGE_CACHE = _ImageCache(IMAGE_CACHE_BYTES)


class PageSource:
    """The rendered pages of one document."""

    def __init__(self, doc: Document, dpi: int = DEFAULT_DPI) -> None:
        from chunkwise.parsers.pdf import pymupdf_module

        pymupdf = pymupdf_module()
        self.doc_id = doc.doc_id
        self.dpi = dpi
        data = source_bytes(doc)
        filetype = _filetype(doc, data)
        if filetype == "pdf":
            from chunkwise.parsers.pdf import open_pdf

            # The PDF parser's opener: same one-line errors, MuPDF's own chatter kept off stderr.
            self.pdf = open_pdf(data)
        else:
            try:
                # As a PDF: the layout reader closes non-PDF documents it is given, and an image
                # then reads exactly as the image parser's PDF page (same coordinates).
                image = pymupdf.open(stream=data, filetype=filetype)
                self.pdf = pymupdf.open("pdf", image.convert_to_pdf())
                image.close()
            except Exception as exc:
                raise ChunkError(f"vision chunker cannot open {doc.source}: {exc}") from exc
        if self.pdf.page_count == 0:
            raise ChunkError("vision chunker: the document has no pages")
        # Only the pages the parser kept (--pages), so spans and pages agree with the Document.
        selected = doc.metadata.get("selected_pages") if doc.metadata else None
        n = int(self.pdf.page_count)
        if selected:
            self.pages = [int(p) - 1 for p in selected if 0 < int(p) <= n]
        else:
            self.pages = list(range(n))

    def image(self, pno: int) -> bytes:
        key = (self.doc_id, pno, self.dpi)
        data = IMAGE_CACHE.get(key)
        if data is None:
            pix = self.pdf[pno].get_pixmap(dpi=self.dpi)
            data = pix.tobytes("png")
            IMAGE_CACHE.put(key, data)
        return data

    def close(self) -> None:
        self.pdf.close()


def remember_source(doc_id: str, data: bytes) -> None:
    """Keep the bytes of a document read from stdin until the vision chunker renders it."""
    with _SOURCE_LOCK:
        _SOURCE_BYTES[doc_id] = data


def source_bytes(doc: Document) -> bytes:
    with _SOURCE_LOCK:
        data = _SOURCE_BYTES.pop(doc.doc_id, None)
    if data is not None:
        return data
    path = Path(doc.source)
    if not path.is_file():
        raise ChunkError(
            f"vision chunker needs the source file to render pages, and {doc.source!r} "
            "is not a readable file"
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ChunkError(f"vision chunker cannot read {doc.source}: {exc.strerror}") from exc
    # Render exactly what was parsed: a file rewritten since then would misplace every span.
    if doc.doc_id and doc_id_for(data) != doc.doc_id:
        raise ChunkError(f"{doc.source} changed between parsing and page rendering")
    return data


def _filetype(doc: Document, data: bytes) -> str:
    if data[:1024].lstrip().startswith(b"%PDF-"):
        return "pdf"
    suffix = Path(doc.source).suffix.lower().lstrip(".")
    if suffix in ("png", "jpg", "jpeg", "tif", "tiff", "bmp", "gif", "webp", "xps", "epub"):
        return suffix
    raise ChunkError(
        f"vision chunker renders PDF and image documents; {doc.source} "
        f"(parser {doc.parser or 'unknown'}) is not one"
    )


# -- aligning reader text with Document.text -----------------------------------------------------


class Locator:
    """Finds where a reader's text lies in ``Document.text``, comparing letters and digits only:
    the reader and the parser see the same words but lay them out differently."""

    HEAD = 24

    def __init__(self, text: str) -> None:
        from array import array

        self.text = text
        # Casefolding can lengthen a character ("ß" -> "ss", "ﬁ" -> "fi"): map every squeezed
        # character back to the character it came from.
        idx = array("q")
        parts: list[str] = []
        for i, c in enumerate(text):
            if c.isalnum():
                f = c.casefold()
                parts.append(f)
                idx.extend([i] * len(f))
        self.idx = idx
        self.squeezed = "".join(parts)
        self.cursor = 0  # in squeezed coordinates

    @staticmethod
    def squeeze(text: str) -> str:
        # Letters and digits only: Markdown pipes, bullets and rule lines differ between a parser
        # and a reader, the words do not.
        return "".join(c for c in text if c.isalnum()).casefold()

    def _orig(self, sq_start: int, sq_end: int) -> tuple[int, int]:
        if not self.idx:
            return 0, 0
        sq_end = max(sq_end, sq_start + 1)
        a = self.idx[min(sq_start, len(self.idx) - 1)]
        b = self.idx[min(sq_end, len(self.idx)) - 1] + 1
        # Closing punctuation belongs to the text it follows ("+3%", "(USD)").
        while b < len(self.text) and self.text[b] in _CLOSERS:
            b += 1
        return a, b

    def _to_sq(self, offset: int) -> int:
        return bisect.bisect_left(self.idx, offset)

    def locate(
        self, text: str, lo: int | None = None, hi: int | None = None
    ) -> tuple[int, int] | None:
        """Span of ``text`` in the document, searched from the cursor (then anywhere) or inside
        [lo, hi) when given; None when it is not there."""
        q = self.squeeze(text)
        if not q:
            return None
        sq = self.squeezed
        s_lo = self._to_sq(lo) if lo is not None else None
        s_hi = self._to_sq(hi) if hi is not None else len(sq)
        for n in (self.HEAD, 12, 6):
            head = q[:n]
            if s_lo is not None:
                pos = sq.find(head, s_lo, s_hi)
            else:
                pos = sq.find(head, self.cursor)
                if pos < 0:
                    pos = sq.find(head)
            if pos >= 0:
                break
            if len(q) <= n:
                return None
        else:
            return None
        tail = q[-min(len(q), self.HEAD) :]
        want = pos + len(q)
        # The tail should sit about where the length of the text says; allow some slack for
        # text the parser has and the reader dropped (or the other way round).
        end_pos = sq.find(tail, max(pos, want - len(tail) - len(q) // 2 - 8), want + len(q) + 64)
        sq_end = end_pos + len(tail) if end_pos >= 0 else min(want, len(sq))
        if s_lo is None:
            self.cursor = max(self.cursor, sq_end)
        return self._orig(pos, sq_end)


# -- stitching blocks across page and batch breaks -----------------------------------------------


@dataclass
class LogicalBlock:
    """A block after stitching: may span pages (one box per page piece)."""

    kind: str
    headings: tuple[str, ...]
    text: str = ""
    level: int | None = None
    items: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    header_rows: int = 0
    boxes: list[tuple[int, BBox | None]] = field(default_factory=list)
    # For tables: index of the first row read on each page (page breaks inside the table).
    row_pages: list[int] = field(default_factory=list)

    @property
    def pages(self) -> list[int]:
        return sorted({p for p, _ in self.boxes})

    def full_text(self) -> str:
        if self.kind == "list":
            return "\n".join(self.items)
        if self.kind == "table":
            return table_text(self.rows[: self.header_rows], self.rows[self.header_rows :])
        return self.text


def _clean_cell(cell: Any) -> str:
    return " ".join(str(cell if cell is not None else "").split()).replace("|", "\\|")


def table_text(header: Sequence[Sequence[str]], rows: Sequence[Sequence[str]]) -> str:
    """Markdown rows; the separator line follows the header so the piece reads as a table."""
    lines = ["| " + " | ".join(_clean_cell(c) for c in r) + " |" for r in header]
    if header:
        lines.append("|" + "---|" * max(len(r) for r in header))
    lines.extend("| " + " | ".join(_clean_cell(c) for c in r) + " |" for r in rows)
    return "\n".join(lines)


def _norm_row(row: Sequence[str]) -> tuple[str, ...]:
    return tuple(" ".join(str(c or "").split()).casefold() for c in row)


class Stitcher:
    """Feeds blocks batch by batch, keeping the heading stack and the open block."""

    def __init__(self) -> None:
        self.blocks: list[LogicalBlock] = []
        self.context = Context()
        self._open: LogicalBlock | None = None
        self._page_with_body: int = -1

    def add_batch(self, blocks: Sequence[Block], pages: Sequence[int]) -> None:
        """``pages``: the batch's pages, for readers' sake; blocks carry their own page."""
        del pages
        for b in blocks:
            self.add(b)
        self._refresh_context()

    def add(self, b: Block) -> None:
        if b.kind == "heading":
            self._close()
            level = min(max(b.level or 1, 1), MAX_HEADING_DEPTH)
            title = " ".join(b.text.split())
            if not title:
                return
            stack = self.context.headings
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, title))
            self.blocks.append(
                LogicalBlock(
                    "heading",
                    self.context.heading_path(),
                    title,
                    level=level,
                    boxes=[(b.page, b.bbox)],
                )
            )
            self._page_with_body = b.page
            return
        if b.furniture:
            # Kept (--keep-furniture) but transparent: a running footer between two halves of a
            # paragraph must neither close it nor be continued by the second half.
            text = " ".join(b.text.split())
            if text:
                self.blocks.append(
                    LogicalBlock(
                        "paragraph", self.context.heading_path(), text, boxes=[(b.page, b.bbox)]
                    )
                )
            return
        first_on_page = b.page != self._page_with_body
        self._page_with_body = b.page
        open_ = self._open
        if open_ is not None and self._continues(open_, b, first_on_page):
            self._merge(open_, b)
            return
        self._close()
        lb = LogicalBlock(
            b.kind,
            self.context.heading_path(),
            text=" ".join(b.text.split()) if b.kind != "table" else "",
            items=[" ".join(i.split()) for i in b.items if i.strip()],
            rows=[[str(c or "") for c in r] for r in b.rows],
            header_rows=min(b.header_rows, len(b.rows)),
            boxes=[(b.page, b.bbox)],
            row_pages=[0] if b.kind == "table" else [],
        )
        if lb.kind == "table" and not lb.rows:
            return
        if lb.kind == "list" and not lb.items:
            lb.items = [lb.text] if lb.text else []
            if not lb.items:
                return
        if lb.kind in ("paragraph", "caption", "figure") and not lb.text:
            return
        self.blocks.append(lb)
        self._open = lb if lb.kind in ("paragraph", "list", "table") else None

    def _continues(self, open_: LogicalBlock, b: Block, first_on_page: bool) -> bool:
        if b.kind != open_.kind:
            return False
        if b.continues is not None:
            return b.continues
        last_page = open_.boxes[-1][0]
        # Without a reader verdict only a page break can split a block: the new block must be the
        # first body block of the very next page.
        if not first_on_page or b.page != last_page + 1:
            return False
        if b.kind == "paragraph":
            # An unfinished sentence (or a word hyphenated at the page end) runs on.
            return not _TERMINAL.search(open_.text)
        if b.kind == "list":
            return True
        if b.kind == "table":
            cols = max((len(r) for r in open_.rows), default=0)
            new_cols = max((len(r) for r in b.rows), default=0)
            header = [_norm_row(r) for r in open_.rows[: open_.header_rows]]
            repeats = bool(header) and [_norm_row(r) for r in b.rows[: len(header)]] == header
            return repeats or (cols > 0 and cols == new_cols)
        return False

    def _merge(self, open_: LogicalBlock, b: Block) -> None:
        open_.boxes.append((b.page, b.bbox))
        if open_.kind == "paragraph":
            tail = " ".join(b.text.split())
            if open_.text.endswith("-") and tail[:1].islower():
                open_.text = open_.text[:-1] + tail
            else:
                open_.text = f"{open_.text} {tail}".strip()
        elif open_.kind == "list":
            items = [" ".join(i.split()) for i in b.items if i.strip()] or (
                [" ".join(b.text.split())] if b.text.strip() else []
            )
            open_.items.extend(items)
        else:
            rows = [[str(c or "") for c in r] for r in b.rows]
            header = [_norm_row(r) for r in open_.rows[: open_.header_rows]]
            if header and [_norm_row(r) for r in rows[: len(header)]] == header:
                rows = rows[len(header) :]  # the header repeated on the new page
            open_.row_pages.append(len(open_.rows) - open_.header_rows)
            open_.rows.extend(rows)

    def _close(self) -> None:
        self._open = None

    def _refresh_context(self) -> None:
        ctx = self.context
        o = self._open
        ctx.open_kind = o.kind if o else None
        ctx.open_tail = ""
        ctx.open_header = []
        ctx.open_columns = 0
        if o is None:
            return
        if o.kind == "table":
            ctx.open_header = [list(r) for r in o.rows[: o.header_rows]]
            ctx.open_columns = max((len(r) for r in o.rows), default=0)
            last = o.rows[-1] if o.rows else []
            ctx.open_tail = " | ".join(last)
        elif o.kind == "list":
            ctx.open_tail = o.items[-1][-300:] if o.items else ""
        else:
            ctx.open_tail = o.text[-300:]


# -- packing logical blocks into chunks ----------------------------------------------------------


@dataclass
class Piece:
    """Part of a logical block that goes into one chunk."""

    block: int
    text: str
    fresh: bool  # starts its block (not the continuation of a piece before it)
    kind: str
    headings: tuple[str, ...]
    pages: list[int]
    boxes: list[tuple[int, BBox | None]]
    span_text: str  # text used to find the source span
    meta: dict[str, Any] = field(default_factory=dict)
    extra_blocks: list[int] = field(default_factory=list)  # headings that lead the piece


class BlockPacker:
    def __init__(self, chunker: VisionChunker, doc: Document) -> None:
        self.chunker = chunker
        self.tok = chunker.tokenizer
        self.max = chunker.config.max_tokens
        self.min = chunker.config.min_tokens
        self.doc = doc
        self.builder = chunker.builder(doc)
        self.locator = Locator(doc.text)
        self.block_spans: dict[int, tuple[int, int]] = {}

    def count(self, text: str) -> int:
        return int(self.tok.count(text))

    # Pieces of each block, each within the cap on its own.
    def pieces(self, blocks: Sequence[LogicalBlock]) -> list[Piece]:
        out: list[Piece] = []
        pending: list[int] = []  # headings waiting for the content they introduce
        for i, b in enumerate(blocks):
            if b.kind == "heading":
                pending.append(i)
                continue
            heads, pending = pending, []
            prefix = "\n\n".join(blocks[h].text for h in heads)
            if b.kind == "table":
                # A table piece starts with its header row; the heading lines live in the
                # chunk's `headings` path instead.
                ps = self._table_pieces(i, b)
                heads = []
            elif b.kind == "list":
                ps = self._list_pieces(i, b, prefix)
            else:
                # Heading lines go in front of the text before it is split, so they stay with
                # the start of what they introduce and the cap still holds.
                text = f"{prefix}\n\n{b.text}" if prefix else b.text
                ps = [
                    self._piece(i, b, part, j == 0, b.pages, b.boxes)
                    for j, part in enumerate(self.split_text(text))
                ]
            if ps and heads:
                ps[0].extra_blocks = heads
                if ps[0].span_text.startswith(prefix):
                    ps[0].span_text = ps[0].span_text[len(prefix) :].lstrip()
                ps[0].pages = sorted({*ps[0].pages, *(pg for h in heads for pg in blocks[h].pages)})
                ps[0].boxes = [bx for h in heads for bx in blocks[h].boxes] + ps[0].boxes
            out.extend(ps)
        if pending:
            # Headings at the very end, introducing nothing: they are the last chunk's text.
            last = blocks[pending[-1]]
            text = "\n\n".join(blocks[h].text for h in pending)
            for j, part in enumerate(self.split_text(text)):
                p = self._piece(pending[-1], last, part, j == 0, last.pages, last.boxes)
                p.extra_blocks = pending[:-1] if j == 0 else []
                out.append(p)
        return out

    def _piece(
        self,
        i: int,
        b: LogicalBlock,
        text: str,
        fresh: bool,
        pages: list[int],
        boxes: list[tuple[int, BBox | None]],
        span_text: str | None = None,
        meta: dict[str, Any] | None = None,
    ) -> Piece:
        return Piece(
            i, text, fresh, b.kind, b.headings, pages, boxes, span_text or text, meta or {}
        )

    def split_text(self, text: str) -> list[str]:
        if self.count(text) <= self.max:
            return [text]
        from chunkwise.chunkers.recursive import text_levels

        from chunkwise.packing import Packer

        packer = Packer(text, self.tok, self.max, text_levels(text))
        spans, _ = packer.pack([(0, len(text))])
        return [text[a:b] for a, b in spans]

    def _list_pieces(self, i: int, b: LogicalBlock, prefix: str = "") -> list[Piece]:
        lead = f"{prefix}\n\n" if prefix else ""
        whole = lead + "\n".join(b.items)
        if self.count(whole) <= self.max:
            return [self._piece(i, b, whole, True, b.pages, b.boxes)]
        # Too long to stay together: split between items, an oversized item by its sentences.
        groups: list[str] = []
        cur: list[str] = []
        parts = self.split_text(prefix) if prefix else []
        if parts:
            # The heading lines lead the first group; "\n\n" keeps them apart from the items.
            groups.extend(parts[:-1])
            cur = [parts[-1] + "\n"]
        for item in b.items:
            for part in self.split_text(item):
                if cur and self.count("\n".join([*cur, part])) > self.max:
                    groups.append("\n".join(cur))
                    cur = []
                cur.append(part)
        if cur:
            groups.append("\n".join(cur))
        return [self._piece(i, b, g, j == 0, b.pages, b.boxes) for j, g in enumerate(groups)]

    def _table_pieces(self, i: int, b: LogicalBlock) -> list[Piece]:
        header = b.rows[: b.header_rows]
        body = b.rows[b.header_rows :]
        pieces: list[Piece] = []
        start = 0

        def page_of(row: int) -> int:
            k = bisect.bisect_right(b.row_pages, row) - 1
            return b.boxes[max(0, min(k, len(b.boxes) - 1))][0]

        def emit(lo: int, hi: int, with_header: bool, text: str, meta: dict[str, Any]) -> None:
            pages = sorted({page_of(r) for r in range(lo, max(hi, lo + 1))})
            boxes = [bx for bx in b.boxes if bx[0] in pages]
            span = "\n".join(" ".join(r) for r in body[lo:hi]) if hi > lo else text
            meta = {
                "table_rows": [lo, hi],
                "header_rows": len(header) if with_header else 0,
                "table_pages": b.pages,
                **meta,
            }
            pieces.append(self._piece(i, b, text, lo == 0, pages, boxes, span, meta))

        if not body:
            emit(0, 0, True, table_text(header, []), {})
            return pieces
        while start < len(body):
            hi = start + 1
            text = table_text(header, body[start:hi])
            if self.count(text) > self.max:
                # One row with its header is over the cap: the cap wins over the header, and a row
                # over the cap on its own is the only case where a row is cut.
                bare = table_text([], body[start:hi])
                if self.count(bare) <= self.max:
                    emit(start, hi, False, bare, {"header_dropped": True})
                else:
                    for part in self.split_text(bare):
                        emit(start, hi, False, part, {"row_split": True})
                start = hi
                continue
            # Grow by rows while the piece fits (exact counts; rows are short, pieces are few).
            best = text
            while hi < len(body):
                cand = table_text(header, body[start : hi + 1])
                if self.count(cand) > self.max:
                    break
                hi += 1
                best = cand
            emit(start, hi, bool(header), best, {})
            start = hi
        return pieces

    def chunks(self, blocks: Sequence[LogicalBlock]) -> Iterator[Chunk]:
        pieces = self.pieces(blocks)
        self._locate_blocks(blocks)
        groups: list[list[Piece]] = []
        cur: list[Piece] = []

        def flush() -> None:
            nonlocal cur
            if cur:
                groups.append(cur)
                cur = []

        for p in pieces:
            if p.kind == "table":
                # A table piece is a chunk of its own: it must start with the header row.
                flush()
                groups.append([p])
                continue
            if cur:
                joined = self.count(_join([*cur, p]))
                # A new section (another heading path) starts a new chunk, unless the chunk so far
                # is under --min-tokens and the two fit together.
                new_section = bool(p.extra_blocks) or cur[-1].headings != p.headings
                small = self.min > 0 and self.count(_join(cur)) < self.min
                if joined > self.max or (new_section and not small):
                    flush()
            cur.append(p)
        flush()

        prev_block = -1
        for group in groups:
            text = _join(group)
            first = group[0]
            if first.fresh or first.block != prev_block:
                continues = "false"
            elif all(g.block == first.block for g in group):
                continues = "true"
            else:
                continues = "partial"
            prev_block = group[-1].block
            yield self._chunk(group, text, continues)

    def _locate_blocks(self, blocks: Sequence[LogicalBlock]) -> None:
        for i, b in enumerate(blocks):
            probe = b.text
            if b.kind == "list":
                probe = "\n".join(b.items)
            elif b.kind == "table":
                probe = "\n".join(" ".join(r) for r in b.rows)
            span = self.locator.locate(probe)
            if span is None:
                span = self._span_from_elements(b)
            if span is not None:
                self.block_spans[i] = span

    def _span_from_elements(self, b: LogicalBlock) -> tuple[int, int] | None:
        hits: list[tuple[int, int]] = []
        for page, box in b.boxes:
            if box is None:
                continue
            for el in self.doc.elements:
                if el.page == page and el.bbox is not None and _inside(el.bbox, box):
                    hits.append((el.start, el.end))
        if not hits:
            return None
        return min(a for a, _ in hits), max(e for _, e in hits)

    def _piece_span(self, p: Piece) -> tuple[int, int] | None:
        block = self.block_spans.get(p.block)
        if block is None:
            return None
        a, b = block
        if p.fresh:
            start = a
        else:
            found = self.locator.locate(p.span_text, a, b)
            start = found[0] if found else a
        found_end = self.locator.locate(p.span_text, start, b)
        end = found_end[1] if found_end else b
        return start, max(start, end)

    def _chunk(self, group: list[Piece], text: str, continues: str) -> Chunk:
        spans = [s for s in (self._piece_span(p) for p in group) if s is not None]
        spans += [
            self.block_spans[h] for p in group for h in p.extra_blocks if h in self.block_spans
        ]
        if spans:
            start, end = min(a for a, _ in spans), max(b for _, b in spans)
        else:
            # Text the parser never saw (e.g. a scanned page): an empty span where it would be.
            start = end = self._nearest_span_end(group[0].block)
        meta: dict[str, Any] = {}
        for p in group:
            meta.update(p.meta)
        blocks_pages = [p.pages for p in group]
        if any(len(pg) > 1 for pg in blocks_pages):
            meta["cross_page"] = True
        meta["backend"] = self.chunker.backend
        # Pages and boxes are the reader's (the page images), not the parsed document's.
        return self.builder.chunk(
            start,
            end,
            text=text,
            kind=chunk_kind(p.kind for p in group),
            # The path of the content, not of the first heading line the chunk starts with.
            headings=next((p for p in group if p.kind != "heading"), group[-1]).headings,
            pages=(pg for p in group for pg in p.pages),
            boxes=(PageBox(pg, *bx) for p in group for pg, bx in p.boxes if bx is not None),
            continues=continues,
            metadata=meta,
        )

    def _nearest_span_end(self, block: int) -> int:
        known = [s for i, s in self.block_spans.items() if i < block]
        return max((b for _, b in known), default=0)


def _join(pieces: Sequence[Piece]) -> str:
    return "\n\n".join(p.text for p in pieces)


def _inside(inner: BBox, outer: BBox, slack: float = 2.0) -> bool:
    cx = (inner[0] + inner[2]) / 2
    cy = (inner[1] + inner[3]) / 2
    return outer[0] - slack <= cx <= outer[2] + slack and outer[1] - slack <= cy <= outer[3] + slack


# -- the chunker ---------------------------------------------------------------------------------


def make_reader(options: VisionOptions) -> PageReader:
    if options.backend == "openai":
        from chunkwise.chunkers.vision_openai import OpenAIReader

        return OpenAIReader.from_options(options)
    from chunkwise.chunkers.vision_layout import LayoutReader

    return LayoutReader(ocr=options.ocr)


class VisionChunker(BaseChunker):
    name = "vision"
    synthetic: ClassVar[bool] = True
    options_class = VisionOptions
    options: VisionOptions

    def __init__(
        self,
        config: ChunkerConfig | None = None,
        options: VisionOptions | Mapping[str, Any] | None = None,
        *,
        reader: PageReader | None = None,
    ) -> None:
        self._reader = reader  # given: a test double, or one reader shared between chunkers
        super().__init__(config, options)

    def configure(self) -> None:
        self.pages_per_batch = self.options.pages_per_batch
        self.jobs = self.options.jobs
        self.dpi = self.options.dpi
        reader = self._reader
        self.backend = reader.name if reader is not None else self.options.backend
        if reader is None:
            # Fail on a bad backend or missing endpoint before any document is read.
            self._reader = make_reader(self.options)
        if self.config.overlap:
            log.warning(
                "vision chunker: --overlap is not applied (chunks follow the page blocks; table "
                "pieces repeat their header rows instead)"
            )

    @property
    def reader(self) -> PageReader:
        assert self._reader is not None
        return self._reader

    def attach_source(self, doc: Document, data: bytes) -> None:
        """Called by the pipeline for input without a path (stdin): keep the bytes to render."""
        remember_source(doc.doc_id, data)

    def chunk(self, doc: Document) -> Iterator[Chunk]:
        blocks = self.read_blocks(doc)
        return BlockPacker(self, doc).chunks(blocks)

    def read_blocks(self, doc: Document) -> list[LogicalBlock]:
        source = PageSource(doc, self.dpi)
        try:
            pages = source.pages
            size = self.pages_per_batch
            batches = [
                PageBatch(k, pages[s : s + size], source)
                for k, s in enumerate(range(0, len(pages), size))
            ]
            stitcher = Stitcher()
            furniture: list[tuple[list[int], list[Block]]] = []
            keep = self.config.keep_furniture
            for batch, blocks in self._run(batches, stitcher):
                furniture.append((batch.pages, [b for b in blocks if b.furniture]))
                stitcher.add_batch([b for b in blocks if keep or not b.furniture], batch.pages)
            if not stitcher.blocks and any(f for _, f in furniture):
                stitcher = Stitcher()
                for pages, blocks in furniture:
                    stitcher.add_batch(blocks, pages)
            return stitcher.blocks
        finally:
            source.close()

    def _run(
        self, batches: list[PageBatch], stitcher: Stitcher
    ) -> Iterator[tuple[PageBatch, list[Block]]]:
        """Batches in order. Preparing (rendering, layout analysis) runs up to ``jobs`` batches
        ahead on this thread while the reader works on the current batch on a worker thread, so
        an endpoint's latency overlaps the rendering; the carried context forces ``read`` itself to
        go one batch at a time."""
        reader = self.reader
        ahead: list[Any] = []
        it = iter(batches)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="vision-read") as pool:
            for _ in range(min(self.jobs, len(batches))):
                b = next(it)
                ahead.append((b, reader.prepare(b)))
            while ahead:
                batch, prepared = ahead.pop(0)
                fut: Future[list[Block]] = pool.submit(reader.read, prepared, stitcher.context)
                nxt = next(it, None)
                if nxt is not None:
                    ahead.append((nxt, reader.prepare(nxt)))
                try:
                    blocks = fut.result()
                except ChunkError:
                    raise
                except Exception as exc:  # a reader bug must become this document's error
                    raise ChunkError(
                        f"{reader.name} page reader failed on pages "
                        f"{batch.pages[0] + 1}-{batch.pages[-1] + 1}: {exc}"
                    ) from exc
                yield batch, blocks
