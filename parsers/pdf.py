"""PDF with real layout (pymupdf): paragraphs, headings, lists, tables, figures, captions and page
furniture, each with its page (1-based), bounding box (PDF points, in the page as displayed, i.e.
after its /Rotate) and reading order.

``Document.text`` is the extracted text in reading order: blocks separated by a blank line, the
lines of one paragraph joined by a space (a word hyphenated across a line break is joined again),
table rows rendered as Markdown rows. Every offset points into that text, so every repair
(ligatures, de-hyphenation) is made while the text is built and offsets stay exact.

The page-level pieces are public and reusable (the vision chunker renders pages and reuses tables):
``open_pdf`` (bytes -> pymupdf document, with clear errors), ``extract_page`` (one page -> its
``PageLayout`` of blocks in reading order), ``page_tables``, ``reading_order`` (pure geometry) and
``parse_page_ranges``.
"""

from __future__ import annotations

import logging
import math
import re
import sys
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from chunkwise.parsers.options import PdfOptions
from chunkwise.parsers.pdf_rules import may_hold_table
from chunkwise.parsers.pdf_text import Piece, clean, has_rtl, join_lines, line_text

from chunkwise.errors import ParseError, UsageError
from chunkwise.parsing import BaseParser
from chunkwise.types import BBox, Document, Element

log = logging.getLogger("chunkwise.parsers.pdf")

# Block kinds produced here; "header"/"footer" are furniture (left out of chunks by default).
HEADER, FOOTER = "header", "footer"

_BULLET = re.compile(
    r"^(?:[\u2022\u2023\u25e6\u2043\u2219\u25aa\u25ab\u25cf\u25cb\u25a0\u25a1\u2013\u2014*\-\u00b7]"
    r"|(?:\d{1,3}|[a-z]|[ivxlc]{1,6})[.)]|\((?:\d{1,3}|[a-zA-Z]|[ivxlcIVXLC]{1,6})\))"
    r"\s+[\w\"'(\u201c]"
)
_CAPTION = re.compile(r"^(?:figure|fig\.|table|chart|exhibit|plate|graph)\s*[\dIVXivx]+\b", re.I)
# Roman page numbers only from i, v, x in one case: "MD" or "mix" in a margin is not a page number.
_PAGE_NUMBER = re.compile(
    r"^(?:(?i:page)\s*)?[-\u2013(]?\s*(?:\d{1,4}|[ivx]{1,6}|[IVX]{1,6})\s*[-\u2013)]?"
    r"(?:\s*(?i:of|/)\s*\d{1,4})?$"
)
_SENTENCE_END = re.compile(r"[.!?:;\"'\u201d\u2019)\]]$")
_DIGITS = re.compile(r"\d+")
_LETTER = re.compile(r"[^\W\d_]")

# Fraction of the page height at its top/bottom where running headers and footers live.
MARGIN_ZONE = 0.12
# A text block is a heading candidate when its font is at least this much larger than the body.
HEADING_RATIO = 1.12
# Tables are looked for only on pages with at least this many vector lines/rectangles: ruled
# tables need them, and find_tables costs 30-250 ms per page.
MIN_TABLE_DRAWINGS = 4


# -- page ranges ------------------------------------------------------------------------------


def parse_page_ranges(spec: str | Sequence[int] | None) -> list[tuple[int, int | None]] | None:
    """``"3-7"``, ``"1,4,9-"``, ``"-3"`` -> inclusive 1-based ranges (None = to the last page).

    Raises UsageError for malformed specs, so a typo stops the run before any output.
    """
    if spec is None or spec == "":
        return None
    if not isinstance(spec, str):
        return [(int(p), int(p)) for p in spec]
    out: list[tuple[int, int | None]] = []
    for part in spec.replace(" ", "").split(","):
        m = re.fullmatch(r"(\d*)(-?)(\d*)", part)
        if not part or not m or (not m.group(2) and not m.group(1)):
            raise UsageError(f"--pages: cannot read {spec!r}; use e.g. 3-7, 1,4,9- or -3")
        a = int(m.group(1)) if m.group(1) else 1
        b: int | None = (int(m.group(3)) if m.group(3) else None) if m.group(2) else a
        if a < 1 or (b is not None and b < a):
            raise UsageError(f"--pages: bad range {part!r} (pages are numbered from 1)")
        out.append((a, b))
    return out


def select_pages(ranges: list[tuple[int, int | None]] | None, n_pages: int) -> list[int]:
    """1-based page numbers selected by ``ranges`` in a document of ``n_pages`` pages."""
    if ranges is None:
        return list(range(1, n_pages + 1))
    chosen: set[int] = set()
    for a, b in ranges:
        chosen.update(range(a, min(b if b is not None else n_pages, n_pages) + 1))
    return sorted(chosen)


# -- opening ----------------------------------------------------------------------------------


def pymupdf_module() -> Any:
    """``pymupdf``, imported without its layout model when nothing has imported it yet.

    pymupdf 2.x imports ``pymupdf.layout`` and ``pymupdf4llm`` whenever they are installed; they
    build ONNX sessions and load numpy and onnxruntime: about 0.8 s of a 1.0 s import, paid again
    by every worker process. The parser never uses them (``find_tables(use_layout=False)``), so
    both are hidden for this one import and shown again at once: the vision chunker's layout
    backend imports pymupdf4llm later, which imports and activates the layout model. (The one
    casualty: ``pymupdf.to_markdown``, a shortcut to pymupdf4llm, stays unavailable.)
    """
    mod = sys.modules.get("pymupdf")
    if mod is not None:
        return mod
    hidden = [m for m in _OPTIONAL_PYMUPDF_PARTS if m not in sys.modules]
    for m in hidden:
        sys.modules[m] = None  # type: ignore[assignment]
    try:
        import pymupdf
    finally:
        for m in hidden:
            if m in sys.modules and sys.modules[m] is None:
                del sys.modules[m]
    if hidden:
        # pymupdf4llm's import turns quad corrections off for the whole process (line boxes
        # from the glyphs' real ascent/descent); boxes must not depend on whether it was loaded.
        pymupdf.TOOLS.unset_quad_corrections(True)
    return pymupdf


_OPTIONAL_PYMUPDF_PARTS = ("pymupdf.layout", "pymupdf4llm")


def open_pdf(data: bytes) -> Any:
    """A pymupdf Document for ``data``; ParseError with a one-line reason for input that is empty,
    not a PDF, damaged beyond repair, encrypted or without pages."""
    pymupdf = pymupdf_module()

    if not data:
        raise ParseError("empty file (0 bytes), not a PDF")
    if b"%PDF-" not in data[:1024]:
        raise ParseError("not a PDF file (no %PDF- header in the first 1024 bytes)")
    _quiet_mupdf()
    try:
        doc = pymupdf.open(stream=data, filetype="pdf")
    except Exception as exc:  # pymupdf raises FileDataError, RuntimeError, ValueError...
        raise ParseError(f"damaged PDF, cannot be opened: {_one_line(exc)}") from exc
    if doc.needs_pass:
        # pymupdf already tried the empty user password.
        doc.close()
        raise ParseError("encrypted PDF: a password is needed to read it (not supported)")
    if doc.page_count < 1:
        doc.close()
        raise ParseError("damaged PDF: no pages could be read")
    return doc


def _quiet_mupdf() -> None:
    # MuPDF reports repairs on stderr by itself; they are logged here instead (stdout stays data).
    pymupdf = pymupdf_module()

    pymupdf.TOOLS.mupdf_display_errors(False)
    pymupdf.TOOLS.mupdf_display_warnings(False)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or exc.__class__.__name__


# -- page layout ------------------------------------------------------------------------------


@dataclass
class Line:
    text: str
    bbox: BBox
    size: float
    bold: bool


@dataclass
class Block:
    """One unit of a page: a paragraph, heading, list item, table, figure, caption or furniture."""

    kind: str
    bbox: BBox
    text: str
    size: float = 0.0
    bold: bool = False
    n_lines: int = 1
    level: int | None = None
    column: str = ""
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass
class PageLayout:
    number: int  # 1-based
    width: float
    height: float
    rotation: int
    blocks: list[Block]  # reading order
    ocr: bool = False
    skipped: str | None = None  # why the page gave no text (no text layer and no OCR)
    removed_line_numbers: int = 0


def _bbox(r: Any) -> BBox:
    return (float(r[0]), float(r[1]), float(r[2]), float(r[3]))


def _union(boxes: Iterable[BBox]) -> BBox:
    bs = list(boxes)
    return (
        min(b[0] for b in bs),
        min(b[1] for b in bs),
        max(b[2] for b in bs),
        max(b[3] for b in bs),
    )


# One text assembly for the parser and the vision chunker (tests import these names here).
_clean = clean
_join_lines = join_lines


def _text_lines(page: Any, matrix: Any) -> tuple[list[list[Line]], bool]:
    """mupdf's text blocks as lists of lines, in displayed-page coordinates, and whether the page
    reads right to left (its lines are then rebuilt from characters: ``_char_lines``)."""
    pymupdf = pymupdf_module()

    flags = (pymupdf.TEXTFLAGS_DICT & ~pymupdf.TEXT_PRESERVE_IMAGES) | pymupdf.TEXT_MEDIABOX_CLIP
    raw = page.get_text("dict", flags=flags)
    rotate = page.rotation % 360 != 0
    blocks: list[list[Line]] = []
    seen = _Overprint()
    texts = seen.texts
    for b in raw.get("blocks", ()):
        if b.get("type") != 0:
            continue
        lines: list[Line] = []
        for ln in b.get("lines", ()):
            # Font size and weight weighted by the visible characters of each span.
            spans = ln.get("spans", ())
            n = bold = 0
            weighted = 0.0
            for s in spans:
                key = s["text"].strip()
                if not key:
                    continue
                if key in texts:
                    if seen.repeated(key, s["bbox"]):
                        # Overprinted text: only characters tell which copies to drop.
                        return _char_lines(page, matrix, flags)
                else:
                    # A text met for the first time on the page (most spans): nothing to compare.
                    seen.first(key, s["bbox"])
                k = len(key)
                n += k
                weighted += s["size"] * k
                if s.get("flags", 0) & 16 or "bold" in s.get("font", "").lower():
                    bold += k
            if not n:
                continue
            if len(spans) == 1:
                text = clean(spans[0]["text"])
            else:
                text = line_text([Piece(s["text"], s["bbox"], s["size"]) for s in spans])
            if not text:
                continue
            if has_rtl(text):
                return _char_lines(page, matrix, flags)
            box = _bbox(pymupdf.Rect(ln["bbox"]) * matrix) if rotate else _bbox(ln["bbox"])
            lines.append(Line(text, box, round(weighted / n, 1), bold >= 0.8 * n))
        if lines:
            blocks.extend(_split_side_by_side(lines))
    return blocks, False


class _Overprint:
    """Text printed again over itself (fake bold: the same text drawn 2-4 times, shifted by a
    fraction of a point) would repeat every word. Spans find it cheaply; the page is then read
    character by character and the copies of each character dropped."""

    TOLERANCE = 1.5

    def __init__(self) -> None:
        self.boxes: dict[tuple[str, int, int], list[Sequence[float]]] = {}
        # Most spans of a page are texts met once: those skip the nine grid look-ups.
        self.texts: set[str] = set()

    def repeated(self, text: str, bbox: Sequence[float], both: bool = False) -> bool:
        """Whether ``text`` was seen at about ``bbox``. A copy is shifted by less than half the
        text's width, so two equal neighbours ("ll", dot leaders) are never copies of each other.
        ``both``: both ends must match (characters); otherwise either (a trailing space may widen
        one copy of a span)."""
        key = text.strip()
        if not key:
            return False
        if key not in self.texts:
            self.first(key, bbox)
            return False
        gx, gy = int(bbox[0] // 4), int(bbox[1] // 4)
        t = min(self.TOLERANCE, 0.5 * (bbox[2] - bbox[0]))
        # A copy's top is within t of this one's: only the grid rows that [y - t, y + t] meets
        # (widened a little against rounding) can hold it, mostly one row instead of three.
        rows = range(
            max(gy - 1, int((bbox[1] - t - 0.01) // 4)),
            min(gy + 1, int((bbox[1] + t + 0.01) // 4)) + 1,
        )
        for dx in (-1, 0, 1):
            for y in rows:
                if self._near(self.boxes.get((key, gx + dx, y), ()), bbox, t, both):
                    return True
        self.boxes.setdefault((key, gx, gy), []).append(bbox)
        return False

    def first(self, key: str, bbox: Sequence[float]) -> None:
        """Record ``key`` (stripped, not yet in ``texts``) at ``bbox``."""
        self.texts.add(key)
        self.boxes[(key, int(bbox[0] // 4), int(bbox[1] // 4))] = [bbox]

    @staticmethod
    def _near(
        boxes: Iterable[Sequence[float]], bbox: Sequence[float], t: float, both: bool
    ) -> bool:
        for o in boxes:
            left, right = abs(bbox[0] - o[0]) <= t, abs(bbox[2] - o[2]) <= t
            same_x = (left and right) if both else (left or right)
            if same_x and abs(bbox[1] - o[1]) <= t and abs(bbox[3] - o[3]) <= t:
                return True
        return False


def _char_lines(page: Any, matrix: Any, flags: int) -> tuple[list[list[Line]], bool]:
    """Lines of a page with right-to-left text, rebuilt from characters: mupdf cuts a visual
    line where the direction changes (and sometimes starts a new block there), and some
    producers store right-to-left text in visual order. Pieces of one visual line are joined in
    logical order by ``line_text``; lines are grouped into blocks by how they stack."""
    pymupdf = pymupdf_module()
    raw = page.get_text("rawdict", flags=flags)
    rotate = page.rotation % 360 != 0
    seen = _Overprint()
    segs: list[tuple[BBox, list[Piece], float, int, int]] = []  # box, pieces, size*n, n, bold
    for b in raw.get("blocks", ()):
        if b.get("type") != 0:
            continue
        for ln in b.get("lines", ()):
            pieces: list[Piece] = []
            n = bold = 0
            weighted = 0.0
            for s in ln.get("spans", ()):
                is_bold = bool(s.get("flags", 0) & 16 or "bold" in s.get("font", "").lower())
                for c in s.get("chars", ()):
                    ch = c["c"]
                    if not ch.isspace() and seen.repeated(ch, c["bbox"], both=True):
                        continue
                    if pieces and unicodedata.combining(ch):
                        # A vowel sign or point follows its letter, wherever its glyph stands.
                        pieces[-1].text += ch
                        continue
                    box = _bbox(pymupdf.Rect(c["bbox"]) * matrix) if rotate else _bbox(c["bbox"])
                    pieces.append(Piece(ch, box, s["size"], len(segs)))
                    if not ch.isspace():
                        n += 1
                        weighted += s["size"]
                        bold += is_bold
            if n:
                # The box of the characters kept (copies of overprinted ones are gone).
                segs.append((_union(p.bbox for p in pieces), pieces, weighted, n, bold))
    # Segments of one visual line: overlapping vertically, near each other horizontally (a
    # column gutter is wider than a word space).
    segs.sort(key=lambda t: ((t[0][1] + t[0][3]) / 2, -t[0][2]))
    rows: list[list[tuple[BBox, list[Piece], float, int, int]]] = []
    for seg in segs:
        box = seg[0]
        size = seg[2] / seg[3]
        for row in reversed(rows[-8:]):
            rb = _union(s[0] for s in row)
            overlap = min(box[3], rb[3]) - max(box[1], rb[1])
            gap = max(box[0] - rb[2], rb[0] - box[2])
            if overlap >= 0.5 * min(box[3] - box[1], rb[3] - rb[1]) and gap <= size:
                row.append(seg)
                break
        else:
            rows.append([seg])
    lines: list[Line] = []
    rtl_chars = ltr_chars = 0
    for seg in segs:
        for p in seg[1]:
            if p.text.isalpha():
                if has_rtl(p.text):
                    rtl_chars += 1
                else:
                    ltr_chars += 1
    page_rtl = rtl_chars > ltr_chars
    for row in rows:
        # Left to right; a line with right-to-left text is ordered again from its positions.
        row.sort(key=lambda seg: seg[0][0])
        pieces = [p for s in row for p in s[1]]
        text = line_text(pieces, page_rtl)
        if not text:
            continue
        n = sum(s[3] for s in row)
        size = sum(s[2] for s in row) / n
        bold = sum(s[4] for s in row) >= 0.8 * n
        lines.append(Line(text, _union(s[0] for s in row), round(size, 1), bold))
    return _stack_lines(lines), page_rtl


def _stack_lines(lines: list[Line]) -> list[list[Line]]:
    """Lines without blocks (OCR, rebuilt right-to-left lines) grouped into blocks: lines that
    stack closely with overlapping x ranges."""
    lines = sorted(lines, key=lambda ln: (ln.bbox[1], ln.bbox[0]))
    groups: list[list[Line]] = []
    for ln in lines:
        for g in reversed(groups[-6:]):
            last = g[-1]
            h = max(last.bbox[3] - last.bbox[1], 1.0)
            overlap = min(ln.bbox[2], last.bbox[2]) - max(ln.bbox[0], last.bbox[0])
            # Boxes of Arabic and Hebrew fonts are tall: consecutive lines may overlap a little.
            if -0.5 * h <= ln.bbox[1] - last.bbox[3] < 0.9 * h and overlap > 0:
                g.append(ln)
                break
        else:
            groups.append([ln])
    return groups


def _split_side_by_side(lines: list[Line]) -> list[list[Line]]:
    """mupdf sometimes puts lines of several columns into one block (forms, bulletins written by
    Ghostscript); such a block is cut into runs of lines that read within one column."""
    if len(lines) < 2 or len(lines) > 2000:
        return [lines]
    by_y = sorted(lines, key=lambda ln: ln.bbox[1])
    side = False
    for i, a in enumerate(by_y):
        for b in by_y[i + 1 :]:
            if b.bbox[1] >= a.bbox[3]:
                break
            if b.bbox[0] > a.bbox[2] + 3 or a.bbox[0] > b.bbox[2] + 3:
                side = True
                break
        if side:
            break
    if not side:
        return [lines]
    order, labels = reading_order([ln.bbox for ln in lines])
    runs: list[list[Line]] = []
    last = None
    for i in order:
        if runs and labels[i] == last:
            runs[-1].append(lines[i])
        else:
            runs.append([lines[i]])
            last = labels[i]
    return runs


def _split_paragraphs(lines: list[Line], dehyphenate: bool) -> list[Block]:
    """One mupdf block -> paragraphs: a new one starts at a bullet, at a change of font size or
    weight, and at a vertical gap larger than the line height."""
    groups: list[list[Line]] = []
    for ln in lines:
        if groups:
            prev = groups[-1][-1]
            same_row = ln.bbox[1] < prev.bbox[3] - 0.5 * (prev.bbox[3] - prev.bbox[1])
            gap = ln.bbox[1] - prev.bbox[3]
            height = max(prev.bbox[3] - prev.bbox[1], 1.0)
            new = (
                not same_row
                and (
                    bool(_BULLET.match(ln.text))
                    or abs(ln.size - prev.size) > 0.12 * max(prev.size, 1.0)
                    or ln.bold != prev.bold
                    or gap > 0.8 * height
                )
            ) or (same_row and abs(ln.size - prev.size) > 0.12 * max(prev.size, 1.0))
            if not new:
                groups[-1].append(ln)
                continue
        groups.append([ln])
    out = []
    for g in groups:
        text = _join_lines([ln.text for ln in g], dehyphenate)
        n = sum(len(ln.text) for ln in g) or 1
        size = sum(ln.size * len(ln.text) for ln in g) / n
        bold = sum(len(ln.text) for ln in g if ln.bold) >= 0.8 * n
        kind = "list_item" if _BULLET.match(text) else "paragraph"
        out.append(
            Block(kind, _union(ln.bbox for ln in g), text, round(size, 1), bold, n_lines=len(g))
        )
    return out


def _is_layout_frame(rows: Sequence[Sequence[str | None]]) -> bool:
    """A ruled box around whole columns of text (a bulletin's frame) is page layout, not a table."""
    return any(cell is not None and cell.count("\n") >= 10 for row in rows for cell in row)


def page_tables(page: Any, matrix: Any = None) -> list[Block]:
    """Ruled tables on ``page`` as table blocks (rows in ``attrs["rows"]``, Markdown-row text).

    Skips pages with too few vector lines to hold a ruled table, and boxes that are page layout.
    """
    pymupdf = pymupdf_module()

    try:
        drawings = page.get_cdrawings()
    except Exception:  # a damaged content stream: no tables rather than no page
        return []
    if len(drawings) < MIN_TABLE_DRAWINGS or not may_hold_table(drawings):
        return []
    try:
        found = page.find_tables(use_layout=False)
    except Exception as exc:
        log.debug("table detection failed on page %s: %s", page.number + 1, exc)
        return []
    rotate = page.rotation % 360 != 0
    out = []
    words: list[Any] | None = None
    for tab in found.tables:
        if tab.row_count < 2 or tab.col_count < 2:
            continue
        if words is None:
            words = page.get_text("words")
        raw_rows = _cell_texts(tab, words)
        if _is_layout_frame(raw_rows):
            continue
        rows = [[_clean(c or "") for c in row] for row in raw_rows]
        rows = [r for r in rows if any(r)]
        if len(rows) < 2:
            continue
        r = pymupdf.Rect(tab.bbox)
        if rotate:
            r = r * (matrix if matrix is not None else page.rotation_matrix)
        text = _markdown_rows(rows)
        out.append(
            Block(
                "table",
                _bbox(r),
                text,
                n_lines=len(rows),
                attrs={"header": rows[0], "rows": rows[1:], "n_rows": len(rows) - 1},
            )
        )
    return out


def _cell_texts(tab: Any, words: Sequence[Any]) -> list[list[str]]:
    return cell_texts([row.cells for row in tab.rows if row.bbox is not None], words)


def cell_texts(
    rows: Sequence[Sequence[Sequence[float] | None]], words: Sequence[Any]
) -> list[list[str]]:
    """Cell texts of a table grid (rows of cell boxes, None for a covered cell) from the page's
    words (``page.get_text("words")``): a word belongs to the cell holding its centre, so a grid
    line drawn through a word never cuts it. pymupdf's own ``Table.extract`` rebuilds words from
    characters and breaks some ("ALD-001" came out as "ALD 001\n-", "Units sold" as
    "Unitssold"); the layout model's grids cut "Handgun" into "Hand" and "gun". The vision
    chunker's layout reader uses this too, so both read a table's cells alike."""
    boxes = [c for row in rows for c in row if c is not None]
    if not boxes:
        return []
    tx0, ty0, tx1, ty1 = _union((c[0], c[1], c[2], c[3]) for c in boxes)
    inside = [
        w
        for w in words
        if tx0 - 1 <= (w[0] + w[2]) / 2 <= tx1 + 1 and ty0 - 1 <= (w[1] + w[3]) / 2 <= ty1 + 1
    ]
    out: list[list[str]] = []
    for row in rows:
        present = [c for c in row if c is not None]
        if not present:
            continue
        ry0, ry1 = min(c[1] for c in present), max(c[3] for c in present)
        in_row = [w for w in inside if ry0 - 1 <= (w[1] + w[3]) / 2 <= ry1 + 1]
        cells = []
        for cell in row:
            if cell is None:
                cells.append("")
                continue
            cx0, cy0, cx1, cy1 = cell[:4]
            ws = [
                w
                for w in in_row
                if cx0 - 1 <= (w[0] + w[2]) / 2 <= cx1 + 1
                and cy0 - 1 <= (w[1] + w[3]) / 2 <= cy1 + 1
            ]
            ws.sort(key=lambda w: (w[5], w[6], w[7]))
            # Keep line breaks inside a cell: _is_layout_frame counts them.
            lines: list[list[str]] = []
            last = None
            for w in ws:
                if (w[5], w[6]) != last:
                    lines.append([])
                    last = (w[5], w[6])
                lines[-1].append(w[4])
            cells.append("\n".join(" ".join(ln) for ln in lines))
        out.append(cells)
    return out


def _markdown_rows(rows: Sequence[Sequence[str]]) -> str:
    def fmt(row: Sequence[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in row) + " |"

    lines = [fmt(rows[0]), "|" + "|".join("---" for _ in rows[0]) + "|"]
    lines.extend(fmt(r) for r in rows[1:])
    return "\n".join(lines)


def _figures(page: Any, matrix: Any, area: float) -> list[Block]:
    pymupdf = pymupdf_module()

    out = []
    try:
        if not _may_have_images(page):
            return []
        infos = page.get_image_info()
    except Exception:
        return []
    rotate = page.rotation % 360 != 0
    for info in infos:
        r = pymupdf.Rect(info["bbox"])
        if rotate:
            r = r * matrix
        r = r & page.rect
        if r.is_empty or r.width * r.height < 0.02 * area:
            continue
        out.append(Block("figure", _bbox(r), "", attrs={"image": True}))
    return out


# An inline image operator (``BI /W 10 ... ID ... EI``) standing as a token of a content stream.
_INLINE_IMAGE = re.compile(rb"(?<![^\s\]>)}])BI[\s/]")


def _may_have_images(page: Any) -> bool:
    """False when the page draws no image: no image in its resources, no form XObject (which may
    draw one) and no inline image in its content. ``get_image_info`` builds a second text page to
    answer that (3.5 ms a page); these look-ups cost a third of it."""
    return bool(
        page.get_images() or page.get_xobjects() or _INLINE_IMAGE.search(page.read_contents())
    )


def _inside(inner: BBox, outer: BBox, tol: float = 2.0) -> bool:
    cx = (inner[0] + inner[2]) / 2
    cy = (inner[1] + inner[3]) / 2
    return outer[0] - tol <= cx <= outer[2] + tol and outer[1] - tol <= cy <= outer[3] + tol


def _drop_line_numbers(blocks: list[Block]) -> tuple[list[Block], int]:
    """Transcript and legal line numbers (a column of small integers at one x) are margin marks,
    not text: left in, they become a column of their own and a chunk of bare numbers."""
    nums = [b for b in blocks if b.kind == "paragraph" and re.fullmatch(r"\d{1,2}", b.text)]
    if len(nums) < 5:
        return blocks, 0
    # Numbers are left- or right-aligned in their gutter: count both edges.
    lefts = Counter(round(b.bbox[0] / 4) for b in nums)
    rights = Counter(round(b.bbox[2] / 4) for b in nums)
    gutter = {
        id(b) for b in nums if lefts[round(b.bbox[0] / 4)] >= 5 or rights[round(b.bbox[2] / 4)] >= 5
    }
    if len(gutter) < 5:
        return blocks, 0
    return [b for b in blocks if id(b) not in gutter], len(gutter)


def _ocr_blocks(page: Any, engine: Any, dpi: int = 150) -> list[Block]:
    """OCR of a page without a text layer: text lines with their boxes, grouped into paragraphs."""
    import numpy as np

    pix = page.get_pixmap(dpi=dpi)
    img = np.frombuffer(pix.samples, dtype=np.uint8).reshape(pix.height, pix.width, pix.n)
    if pix.n == 4:
        img = img[:, :, :3]
    result, _ = engine(np.ascontiguousarray(img[:, :, ::-1]))
    scale = 72.0 / dpi
    lines: list[Line] = []
    for box, text, _score in result or ():
        xs = [p[0] * scale for p in box]
        ys = [p[1] * scale for p in box]
        t = _clean(str(text))
        if t:
            bb = (min(xs), min(ys), max(xs), max(ys))
            lines.append(Line(t, bb, round((bb[3] - bb[1]) * 0.8, 1), False))
    # OCR gives lines, not blocks.
    out: list[Block] = []
    for g in _stack_lines(lines):
        out.extend(_split_paragraphs(g, True))
    for b in out:
        b.attrs["ocr"] = True
    return out


def extract_page(
    page: Any,
    *,
    tables: bool = True,
    ocr_engine: Any = None,
    dehyphenate: bool = True,
) -> PageLayout:
    """One page -> its blocks in reading order (kinds paragraph, list_item, table, figure,
    caption; headings and furniture are decided over the whole document by ``PdfParser``)."""
    matrix = page.rotation_matrix
    rect = page.rect
    width, height = float(rect.width), float(rect.height)
    layout = PageLayout(page.number + 1, width, height, page.rotation % 360, [])
    line_blocks, rtl = _text_lines(page, matrix)
    blocks: list[Block] = []
    for lines in line_blocks:
        blocks.extend(_split_paragraphs(lines, dehyphenate))
    if not blocks:
        has_ink = bool(page.get_image_info()) or bool(page.get_cdrawings())
        if has_ink:
            if ocr_engine is not None:
                blocks = _ocr_blocks(page, ocr_engine)
                layout.ocr = True
            else:
                layout.skipped = "no text layer"
    blocks, layout.removed_line_numbers = _drop_line_numbers(blocks)
    tabs = page_tables(page, matrix) if tables and not layout.ocr else []
    if tabs:
        blocks = [b for b in blocks if not any(_inside(b.bbox, t.bbox) for t in tabs)]
    figs = [f for f in _figures(page, matrix, width * height) if not layout.ocr]
    items = blocks + tabs + figs
    for b in items:
        if b.kind == "paragraph" and _CAPTION.match(b.text):
            b.kind = "caption"
    for b in items:
        # Glyph boxes may poke past the page edge (descenders of a footer): keep boxes on the page.
        x0, y0, x1, y1 = b.bbox
        b.bbox = (
            min(max(x0, 0.0), width),
            min(max(y0, 0.0), height),
            min(max(x1, 0.0), width),
            min(max(y1, 0.0), height),
        )
    order, columns = reading_order([b.bbox for b in items], rtl=rtl)
    layout.blocks = [items[i] for i in order]
    for b, col in zip(layout.blocks, (columns[i] for i in order), strict=True):
        b.column = col
    return layout


# -- reading order ----------------------------------------------------------------------------


def reading_order(
    boxes: Sequence[BBox], min_gap: float = 2.0, min_col_width: float = 36.0, rtl: bool = False
) -> tuple[list[int], list[str]]:
    """Reading order of boxes on one page, and the column each box belongs to.

    Recursive XY-cut that reads columns top to bottom before moving right. Horizontal bands whose
    union still has a vertical gutter are merged first, so three columns whose paragraph breaks
    happen to line up are still read column by column, not row by row. Column labels are paths
    (``"0"``, ``"1"``, ``"1.0"``); ``""`` marks a box spanning all columns of its region.
    A "column" narrower than ``min_col_width`` (a column of numbers, a party code, a colon) joins
    its neighbour: it is a field of the rows beside it, read row by row with them.
    ``rtl``: a right-to-left page reads its columns, and the boxes of a row, from the right.
    """
    n = len(boxes)
    labels = [""] * n
    out: list[int] = []

    def ysort(idx: list[int]) -> list[int]:
        # Row by row (boxes overlapping by half their height share a row), left to right in a row.
        s = sorted(idx, key=lambda i: (boxes[i][1], boxes[i][0]))
        rows: list[list[int]] = []
        row_bottom = -math.inf
        for i in s:
            y0, y1 = boxes[i][1], boxes[i][3]
            if rows and y0 < row_bottom - 0.5 * (y1 - y0):
                rows[-1].append(i)
            else:
                rows.append([i])
                row_bottom = y1
        if rtl:
            return [i for row in rows for i in sorted(row, key=lambda i: -boxes[i][2])]
        return [i for row in rows for i in sorted(row, key=lambda i: boxes[i][0])]

    def split_y(idx: list[int]) -> list[list[int]]:
        s = sorted(idx, key=lambda i: boxes[i][1])
        bands: list[list[int]] = []
        bottom = -math.inf
        for i in s:
            if bands and boxes[i][1] < bottom - 1.0:
                bands[-1].append(i)
                bottom = max(bottom, boxes[i][3])
            else:
                bands.append([i])
                bottom = boxes[i][3]
        return bands

    def split_x(idx: list[int]) -> list[list[int]]:
        s = sorted(idx, key=lambda i: boxes[i][0])
        cols: list[list[int]] = []
        right = -math.inf
        for i in s:
            if cols and boxes[i][0] <= right + min_gap:
                cols[-1].append(i)
                right = max(right, boxes[i][2])
            else:
                cols.append([i])
                right = boxes[i][2]
        if len(cols) < 2:
            return cols
        merged: list[list[int]] = []
        for c in cols:
            width = max(boxes[i][2] for i in c) - min(boxes[i][0] for i in c)
            if merged and width < min_col_width:
                merged[-1].extend(c)
            else:
                merged.append(c)
        first = merged[0]
        if (
            len(merged) > 1
            and max(boxes[i][2] for i in first) - min(boxes[i][0] for i in first) < min_col_width
        ):
            merged[1] = first + merged[1]
            merged.pop(0)
        return merged

    def rec(idx: list[int], label: str, depth: int) -> None:
        if len(idx) <= 1 or depth > 60:
            for i in ysort(idx):
                labels[i] = label
                out.append(i)
            return
        bands = split_y(idx)
        if len(bands) > 1:
            groups: list[list[int]] = [bands[0]]
            # Columns of the last group, known from the test that built it (None: not yet).
            last_cols: int | None = None
            for band in bands[1:]:
                last = groups[-1]
                joined = len(split_x(last + band))
                if joined > 1:
                    groups[-1] = last + band
                    last_cols = joined
                    continue
                if last_cols is None:
                    last_cols = len(split_x(last))
                if last_cols == 1 and len(split_x(band)) == 1:
                    groups[-1] = last + band
                    last_cols = joined
                else:
                    groups.append(band)
                    last_cols = None
            if len(groups) > 1:
                for g in groups:
                    rec(g, label, depth + 1)
                return
        cols = split_x(idx)
        if len(cols) > 1:
            if rtl:
                cols = cols[::-1]
            for k, c in enumerate(cols):
                rec(c, f"{label}.{k}" if label else str(k), depth + 1)
            return
        for i in ysort(idx):
            labels[i] = label
            out.append(i)

    rec(list(range(n)), "", 0)
    return out, labels


# -- document-level classification ------------------------------------------------------------


def _body_size(pages: Sequence[PageLayout]) -> float:
    sizes: Counter[float] = Counter()
    for p in pages:
        for b in p.blocks:
            if b.kind in ("paragraph", "list_item") and b.size > 0:
                sizes[round(b.size * 2) / 2] += len(b.text)
    return sizes.most_common(1)[0][0] if sizes else 0.0


def classify_headings(pages: Sequence[PageLayout]) -> None:
    """Headings from font statistics: short blocks set clearly larger than the body text get a level
    by size rank (largest = 1); short all-bold blocks at body size are the lowest level."""
    body = _body_size(pages)
    if body <= 0:
        return
    cands: list[tuple[Block, float | None]] = []
    n_par = 0
    for p in pages:
        for b in p.blocks:
            # Numbered section titles ("2. Methods") look like list items until their font shows.
            if b.kind not in ("paragraph", "list_item"):
                continue
            n_par += 1
            words = len(b.text.split())
            if words == 0 or words > 20 or b.n_lines > 3 or not _LETTER.search(b.text):
                continue
            if _PAGE_NUMBER.match(b.text):
                continue
            if b.size >= body * HEADING_RATIO:
                cands.append((b, round(b.size * 2) / 2))
            elif b.bold and b.size >= body * 0.95 and words <= 12 and not b.text.endswith("."):
                cands.append((b, None))
    # A page of bold labels (forms, tables without rules) is not a page of headings.
    bold_only = [c for c in cands if c[1] is None]
    if n_par and len(bold_only) > 0.4 * n_par:
        cands = [c for c in cands if c[1] is not None]
    sizes = sorted({s for _, s in cands if s is not None}, reverse=True)
    # Many distinct sizes are usually noise (charts, stamps); keep the levels readable.
    rank = {s: min(i + 1, 5) for i, s in enumerate(sizes)}
    lowest = min(len(sizes) + 1, 6)
    for b, s in cands:
        b.kind = "heading"
        b.level = rank[s] if s is not None else lowest


def _furniture_key(text: str) -> str:
    return _DIGITS.sub("#", " ".join(text.lower().split()))


def classify_furniture(pages: Sequence[PageLayout]) -> None:
    """Running headers and footers: text in the top/bottom margin zone repeated (digits ignored) at
    about the same place on most pages; lone page numbers in those zones on any page."""
    zone: list[tuple[PageLayout, Block, str]] = []
    for p in pages:
        for b in p.blocks:
            if b.kind in ("table", "figure") or not b.text:
                continue
            top = b.bbox[3] <= p.height * MARGIN_ZONE
            bottom = b.bbox[1] >= p.height * (1 - MARGIN_ZONE)
            if top or bottom:
                zone.append((p, b, HEADER if top else FOOTER))
    n = len(pages)
    seen: dict[tuple[str, str, int], set[int]] = {}
    for p, b, where in zone:
        key = (_furniture_key(b.text), where, round(b.bbox[1] / max(p.height, 1) * 20))
        seen.setdefault(key, set()).add(p.number)
    need = max(2, math.ceil(0.5 * n))
    for p, b, where in zone:
        key = (_furniture_key(b.text), where, round(b.bbox[1] / max(p.height, 1) * 20))
        if (n >= 2 and len(seen[key]) >= need) or _PAGE_NUMBER.match(b.text):
            b.kind = where
            b.level = None


# -- the parser -------------------------------------------------------------------------------


def _ocr_engine(mode: str) -> Any:
    if mode == "off":
        return None
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError:
        return None
    return RapidOCR()


class PdfParser(BaseParser):
    """Options: ``chunkwise.parsers.options.PdfOptions``."""

    name = "pdf"
    extensions = (".pdf",)
    default_chunker = "s2"
    options_class = PdfOptions
    options: PdfOptions

    def __init__(self, options: PdfOptions | Mapping[str, Any] | None = None) -> None:
        super().__init__(options)
        self.ranges = parse_page_ranges(self.options.pages)
        self.tables = self.options.tables
        self.ocr = self.options.ocr
        self.dehyphenate = self.options.dehyphenate
        self._engine: Any = None
        self._engine_tried = False

    @classmethod
    def preload(cls) -> None:
        pymupdf_module()

    def _ocr(self) -> Any:
        if not self._engine_tried:
            self._engine_tried = True
            self._engine = _ocr_engine(self.ocr)
        return self._engine

    def parse_bytes(self, data: bytes, source: str) -> Document:
        pymupdf = pymupdf_module()

        pdf = open_pdf(data)
        try:
            selected = select_pages(self.ranges, pdf.page_count)
            if not selected:
                raise ParseError(
                    f"--pages {self.options.pages} selects no page of this "
                    f"{pdf.page_count}-page PDF"
                )
            pages: list[PageLayout] = []
            failed: list[int] = []
            skipped: list[int] = []
            for no in selected:
                try:
                    page = pdf[no - 1]
                    layout = extract_page(
                        page, tables=self.tables, ocr_engine=None, dehyphenate=self.dehyphenate
                    )
                    if layout.skipped and self._ocr() is not None:
                        layout = extract_page(
                            page,
                            tables=self.tables,
                            ocr_engine=self._ocr(),
                            dehyphenate=self.dehyphenate,
                        )
                except (RuntimeError, ValueError, pymupdf.FileDataError) as exc:
                    log.warning("%s: page %d cannot be read, skipped: %s", source, no, exc)
                    failed.append(no)
                    continue
                if layout.skipped:
                    skipped.append(no)
                pages.append(layout)
            if skipped:
                log.warning(
                    "%s: page(s) %s have no text layer and were skipped; install the 'ocr' extra "
                    "(pip install 'chunkwise[ocr]') to OCR them",
                    source,
                    _ranges_text(skipped),
                )
            if failed and len(failed) == len(selected):
                raise ParseError(f"damaged PDF: none of its {len(selected)} page(s) can be read")
            meta = self._metadata(pdf, pages, selected, failed, skipped)
        finally:
            pdf.close()
        classify_furniture(pages)
        classify_headings(pages)
        text, elements = assemble(pages)
        if "title" not in meta:
            for el in elements:
                if el.kind == "heading":
                    meta["title"] = el.attrs["title"]
                    break
        meta["n_headings"] = sum(1 for e in elements if e.kind == "heading")
        meta["n_tables"] = sum(1 for e in elements if e.kind == "table")
        return self.document(data, source, text, elements, meta)

    def _metadata(
        self,
        pdf: Any,
        pages: Sequence[PageLayout],
        selected: Sequence[int],
        failed: Sequence[int],
        skipped: Sequence[int],
    ) -> dict[str, Any]:
        info = pdf.metadata or {}
        meta: dict[str, Any] = {"mime": "application/pdf", "pages": pdf.page_count}
        if info.get("title", "").strip():
            meta["title"] = info["title"].strip()
        for k in ("author", "producer"):
            if info.get(k, "").strip():
                meta[k] = info[k].strip()
        if len(selected) != pdf.page_count:
            meta["selected_pages"] = list(selected)
        # S2 and the vision chunker normalise distances by page size.
        meta["page_sizes"] = {str(p.number): [round(p.width, 2), round(p.height, 2)] for p in pages}
        rotated = [p.number for p in pages if p.rotation]
        if rotated:
            meta["rotated_pages"] = rotated
        ocr = [p.number for p in pages if p.ocr]
        if ocr:
            meta["ocr_pages"] = ocr
        if skipped:
            meta["skipped_pages"] = list(skipped)
            meta["warnings"] = [
                f"pages {_ranges_text(skipped)} have no text layer; install the 'ocr' extra"
            ]
        if failed:
            meta["failed_pages"] = list(failed)
        return meta


def _ranges_text(nums: Sequence[int]) -> str:
    parts: list[str] = []
    i = 0
    while i < len(nums):
        j = i
        while j + 1 < len(nums) and nums[j + 1] == nums[j] + 1:
            j += 1
        parts.append(str(nums[i]) if i == j else f"{nums[i]}-{nums[j]}")
        i = j + 1
    return ",".join(parts)


def _continues(prev: Block, nxt: Block) -> bool:
    """A paragraph broken by a page end goes on with a lower-case word on the next page."""
    return (
        prev.kind == "paragraph"
        and nxt.kind == "paragraph"
        and not _SENTENCE_END.search(prev.text)
        and nxt.text[:1].islower()
    )


def _round_box(b: BBox) -> BBox:
    return (round(b[0], 2), round(b[1], 2), round(b[2], 2), round(b[3], 2))


def assemble(pages: Sequence[PageLayout]) -> tuple[str, list[Element]]:
    """Concatenate the pages' blocks into the document text and its elements, with the heading
    path of every element in ``attrs["headings"]``."""
    parts: list[str] = []
    pos = 0
    elements: list[Element] = []
    stack: list[tuple[int, str]] = []
    last_content: Block | None = None
    list_run: list[Element] = []

    def close_list() -> None:
        if len(list_run) >= 1:
            first, last = list_run[0], list_run[-1]
            elements.append(
                Element(
                    "list",
                    first.start,
                    last.end,
                    page=first.page,
                    bbox=_round_box(_union(e.bbox for e in list_run if e.bbox)),
                    attrs={"n_items": len(list_run), "headings": first.attrs.get("headings", [])},
                )
            )
        list_run.clear()

    def emit(b: Block, page: int, sep: str, cont: bool) -> None:
        nonlocal pos, last_content
        if b.kind == "figure":
            attrs = dict(b.attrs)
            attrs["headings"] = [t for _, t in stack]
            elements.append(
                Element("figure", pos, pos, page=page, bbox=_round_box(b.bbox), attrs=attrs)
            )
            return
        if parts:
            parts.append(sep)
            pos += len(sep)
        start = pos
        parts.append(b.text)
        pos += len(b.text)
        attrs = dict(b.attrs)
        if b.kind == "heading":
            level = b.level or 1
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, b.text))
            attrs["title"] = b.text
        attrs["headings"] = [t for _, t in stack]
        if b.column:
            attrs["column"] = b.column
        if cont:
            attrs["continues"] = True
        if b.kind in ("paragraph", "heading", "list_item", "caption") and b.size:
            attrs["font_size"] = b.size
        el = Element(
            b.kind,
            start,
            pos,
            page=page,
            bbox=_round_box(b.bbox),
            level=b.level if b.kind == "heading" else None,
            attrs=attrs,
        )
        if b.kind == "list_item":
            if list_run and list_run[-1].page != page:
                close_list()
            list_run.append(el)
        elif b.kind not in (HEADER, FOOTER):
            close_list()
        elements.append(el)
        if b.kind not in (HEADER, FOOTER):
            last_content = b

    # Furniture sits between pages (last page's footers, then this page's headers), after a
    # paragraph that runs on from the previous page, so running text is never cut by it.
    prev_footers: list[tuple[Block, int]] = []
    for p in pages:
        content = [b for b in p.blocks if b.kind not in (HEADER, FOOTER)]
        headers = [b for b in p.blocks if b.kind == HEADER]
        footers = [b for b in p.blocks if b.kind == FOOTER]
        if content and last_content is not None and _continues(last_content, content[0]):
            emit(content[0], p.number, " ", True)
            content = content[1:]
        for fb, fpage in prev_footers:
            emit(fb, fpage, "\n\n", False)
        for hb in headers:
            emit(hb, p.number, "\n\n", False)
        for cb in content:
            # A paragraph also runs on from the foot of one column to the head of the next.
            cont = (
                last_content is not None
                and cb.column != last_content.column
                and _continues(last_content, cb)
            )
            emit(cb, p.number, " " if cont else "\n\n", cont)
        prev_footers = [(fb, p.number) for fb in footers]
    for fb, fpage in prev_footers:
        emit(fb, fpage, "\n\n", False)
    close_list()
    elements.sort(key=lambda e: (e.start, -e.end))
    return "".join(parts), elements
