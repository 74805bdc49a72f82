"""The offline page reader: pymupdf's ONNX layout model (shipped in the pymupdf 2.x wheel).

The model classifies the boxes of a page (title, section-header, text, list-item, table, picture,
caption, footnote, page-header, page-footer...) from the rendered page image plus the text and
vector features of the page, and finds the table grid; pymupdf4llm's ``parse_document`` runs it and
puts the boxes in reading order. Pages without a text layer are OCRed with RapidOCR when the
``ocr`` extra is installed (its ONNX models ship in the ``rapidocr-onnxruntime`` wheel).
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterator
from typing import Any

from chunkwise.chunkers.vision import Block, Context, PageBatch
from chunkwise.parsers.pdf_text import Piece, clean
from chunkwise.parsers.pdf_text import join_lines as join_text_lines
from chunkwise.parsers.pdf_text import line_text as line_text_of

from chunkwise.errors import ChunkError, UsageError

log = logging.getLogger("chunkwise.vision")

FURNITURE = frozenset({"page-header", "page-footer"})
HEADINGS = frozenset({"title", "section-header"})
TEXTUAL = frozenset({"text", "footnote", "formula", "code", "list-item", "caption"})

_OCR_FUNCTION: Any = None
_OCR_CHECKED = False
_QUIETED = False


class _LogSink(io.StringIO):
    """Stands in for pymupdf4llm's message buffer, which it prints to stdout after every call."""

    def write(self, s: str) -> int:
        if s.strip():
            log.debug("layout: %s", s.strip())
        return len(s)

    def getvalue(self) -> str:
        return ""


def _layout_module() -> Any:
    global _QUIETED
    try:
        import pymupdf
        from pymupdf4llm.helpers import document_layout
    except ImportError as exc:
        # pymupdf 2.x ships the layout model and requires pymupdf4llm; an older pymupdf lacks both.
        raise UsageError(
            f"the vision layout backend needs pymupdf 2.x with its layout model (missing module "
            f"{exc.name!r}): pip install 'pymupdf>=2.0,<2.1'"
        ) from exc
    if not _QUIETED:
        _QUIETED = True
        # stdout carries only records: pymupdf's user messages default to stdout.
        pymupdf.set_messages(pylogging=True, pylogging_name="chunkwise.pymupdf")
        document_layout.INFO_MESSAGES = _LogSink()
    return document_layout


@contextlib.contextmanager
def _no_stdout() -> Iterator[None]:
    # Some OCR helpers print() on import; none of it may reach the record stream.
    with contextlib.redirect_stdout(io.StringIO()) as buf:
        yield
    if buf.getvalue().strip():
        log.debug("layout: %s", buf.getvalue().strip())


def _ocr_function() -> Any:
    global _OCR_FUNCTION, _OCR_CHECKED
    if not _OCR_CHECKED:
        _OCR_CHECKED = True
        dl = _layout_module()
        try:
            with _no_stdout():
                _OCR_FUNCTION = dl.select_ocr_function()
        except Exception:  # no OCR engine: pages without text simply yield no text blocks
            _OCR_FUNCTION = None
    return _OCR_FUNCTION


def line_text(line: dict[str, Any]) -> str:
    """One line of a layout box, assembled like the PDF parser's lines (``pdf_text.line_text``):
    pymupdf4llm drops mupdf's whitespace spans, so the spaces between words come back from the
    gaps between spans, and right-to-left lines are put in logical order."""
    spans = line.get("spans") or ()
    return line_text_of(
        [
            Piece(str(s.get("text", "")), _box(s.get("bbox")), float(s.get("size") or 0))
            for s in spans
        ]
    )


def join_lines(lines: list[str]) -> str:
    """Lines of a box joined as the PDF parser joins the lines of a paragraph."""
    return join_text_lines([clean(ln) for ln in lines])


def _box(b: Any) -> tuple[float, float, float, float]:
    if b is None:
        return (0.0, 0.0, 0.0, 0.0)
    return (float(b[0]), float(b[1]), float(b[2]), float(b[3]))


class LayoutReader:
    name = "layout"

    def __init__(self, ocr: bool = True) -> None:
        self.ocr = ocr
        # Font sizes of the headings seen so far in the current document: pymupdf4llm ranks
        # heading sizes within one call (one batch), which would give the same heading style
        # another level in the next batch; ranking over the document so far keeps levels stable.
        self._doc: str | None = None
        self._sizes: set[float] = set()
        _layout_module()

    def prepare(self, batch: PageBatch) -> list[Block]:
        dl = _layout_module()
        from pymupdf4llm.ocr import OCRMode

        ocr_fn = _ocr_function() if self.ocr else None
        try:
            with _no_stdout():
                parsed = dl.parse_document(
                    batch.source.pdf,
                    pages=batch.pages,
                    use_ocr=OCRMode.SELECT_KEEP_OLD if ocr_fn else OCRMode.NEVER,
                    ocr_function=ocr_fn,
                    # Text inside boxes the model calls pictures (often tables drawn without
                    # rules) is kept; without it that text is lost to the chunks.
                    force_text=True,
                )
        except Exception as exc:
            raise ChunkError(
                f"layout analysis failed on pages {batch.pages[0] + 1}-{batch.pages[-1] + 1}: {exc}"
            ) from exc
        if batch.source.doc_id != self._doc:
            self._doc, self._sizes = batch.source.doc_id, set()
        for page in parsed.pages:
            for box in page.boxes:
                if box.boxclass in HEADINGS and box.max_fontsize:
                    self._sizes.add(round(float(box.max_fontsize), 1))
        blocks: list[Block] = []
        for page in parsed.pages:
            pdf_page = batch.source.pdf[page.page_number - 1]
            blocks.extend(self.page_blocks(page, pdf_page))
        return blocks

    def heading_level(self, box: Any) -> int:
        if box.boxclass == "title":
            return 1
        size = round(float(box.max_fontsize or 0), 1)
        ranked = sorted(self._sizes, reverse=True)
        # Rank of the size among the heading sizes of the document so far: a title's size takes
        # rank 1, so the section headers below it start at level 2.
        return 1 + ranked.index(size) if size in ranked else int(box.header_level or 2)

    def read(self, prepared: list[Block], context: Context) -> list[Block]:
        # The layout model sees one page at a time; continuation across the break is decided by
        # the stitcher from the carried context, so nothing depends on ``context`` here.
        return prepared

    def page_blocks(self, page: Any, pdf_page: Any) -> list[Block]:
        pno = int(page.page_number)
        out: list[Block] = []
        for box in page.boxes:
            cls = str(box.boxclass)
            bbox = (float(box.x0), float(box.y0), float(box.x1), float(box.y1))
            if cls == "table":
                rows = self.table_rows(box, pdf_page, bbox)
                if rows:
                    out.append(Block("table", pno, bbox=bbox, rows=rows, header_rows=1))
                continue
            text = join_lines([line_text(ln) for ln in (box.textlines or [])])
            if cls in HEADINGS:
                if text:
                    out.append(
                        Block("heading", pno, text, bbox=bbox, level=self.heading_level(box))
                    )
                continue
            if cls == "list-item":
                if out and out[-1].kind == "list" and out[-1].page == pno:
                    out[-1].items.append(text)
                    out[-1].bbox = _union(out[-1].bbox, bbox)
                elif text:
                    out.append(Block("list", pno, bbox=bbox, items=[text]))
                continue
            if cls == "picture":
                # Text inside a figure (labels, axis ticks) is rarely useful prose; keep it only as
                # the figure's text so it stays searchable.
                if text:
                    out.append(Block("figure", pno, text, bbox=bbox))
                continue
            if cls == "caption":
                if text:
                    out.append(Block("caption", pno, text, bbox=bbox))
                continue
            if text:
                out.append(Block("paragraph", pno, text, bbox=bbox, furniture=cls in FURNITURE))
        return out

    @staticmethod
    def table_rows(
        box: Any, pdf_page: Any, bbox: tuple[float, float, float, float]
    ) -> list[list[str]]:
        table = box.table or {}
        grid = table.get("cells") or []
        if grid:
            # Cell texts from whole words, as the PDF parser reads its tables: the model's grid
            # lines may run through a word, and its own extract then cuts the word in two.
            from chunkwise.parsers.pdf import cell_texts

            rows = cell_texts(grid, pdf_page.get_text("words"))
        else:
            rows = [[str(c or "") for c in r] for r in (table.get("extract") or [])]
        rows = [r for r in rows if any(c.strip() for c in r)]
        if rows:
            return _drop_empty_columns(rows)
        # The layout model saw a table but found no grid: the PDF parser's ruled-table finder gets
        # a look at the page, and a table of its inside the box is taken.
        from chunkwise.parsers.pdf import page_tables

        for t in page_tables(pdf_page):
            if _overlaps(t.bbox, bbox):
                rows = [list(t.attrs["header"]), *(list(r) for r in t.attrs["rows"])]
                return _drop_empty_columns([[str(c or "") for c in r] for r in rows])
        return []


def _drop_empty_columns(rows: list[list[str]]) -> list[list[str]]:
    width = max(len(r) for r in rows)
    rows = [r + [""] * (width - len(r)) for r in rows]
    keep = [j for j in range(width) if any(r[j].strip() for r in rows)]
    return [out for r in rows for out in split_merged_row([r[j] for j in keep])]


def split_merged_row(row: list[str]) -> list[list[str]]:
    """The grid model sometimes misses a row line and puts two rows in one; that shows as every
    filled cell holding the same number of text lines. A wrapped cell alone does not."""
    filled = [c.strip().split("\n") for c in row if c.strip()]
    n = len(filled[0]) if filled else 1
    if len(filled) < 2 or n < 2 or any(len(lines) != n for lines in filled):
        return [row]
    parts = [c.strip().split("\n") if c.strip() else [""] * n for c in row]
    return [[p[k] for p in parts] for k in range(n)]


def _overlaps(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    cx, cy = (a[0] + a[2]) / 2, (a[1] + a[3]) / 2
    return b[0] <= cx <= b[2] and b[1] <= cy <= b[3]


def _union(
    a: tuple[float, float, float, float] | None, b: tuple[float, float, float, float]
) -> tuple[float, float, float, float]:
    if a is None:
        return b
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))
