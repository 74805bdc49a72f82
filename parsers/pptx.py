"""PowerPoint presentations (.pptx, .pptm, .potx, .ppsx), read straight from their OOXML.

One page per slide: every element carries ``page`` = the slide's number (1-based, in the
presentation's order). A slide's title placeholder is its heading (level 1; an untitled slide gets
the heading ``Slide N``, marked ``generated``, so sections never run across slides). Then the
slide's shapes in reading order (top to bottom, then left to right; a placeholder without its own
position takes its layout's): body placeholders as lists (bullet levels kept) or paragraphs, text
boxes, shapes inside groups, tables (first-row header when the table style says so; merged cells
as in Word), charts as ``figure`` elements whose text is the chart's title (or its series names),
pictures as ``figure`` elements with their alt text. Speaker notes follow the slide as ``note``
elements (``attrs["notes"] = True``): kept in chunks, and marked. Footer, date and slide-number
placeholders are furniture.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from chunkwise import ooxml
from chunkwise.archive import SafeZip, open_zip, parse_xml
from chunkwise.blocks import Block, BlocksParser, clean_inline, title_from_headings
from chunkwise.errors import ParseError
from chunkwise.ooxml import child, children, local
from chunkwise.types import Element

WHAT = "PowerPoint presentation"
_TITLE_TYPES = frozenset({"title", "ctrTitle"})
_FURNITURE_TYPES = frozenset({"ftr", "dt", "sldNum", "hdr"})
_BODY_TYPES = frozenset({"body", "obj", "subTitle", None})


@dataclass
class _Shape:
    y: int | None
    x: int | None
    order: int
    blocks: list[Block]
    title: str | None = None


def _xfrm_pos(el: Any) -> tuple[int, int] | None:
    """(y, x) of a shape from its own transform."""
    for holder in ("spPr", "grpSpPr"):
        sp = child(el, holder)
        if sp is not None:
            xfrm = child(sp, "xfrm")
            off = child(xfrm, "off") if xfrm is not None else None
            if off is not None:
                return _int(off.get("y")), _int(off.get("x"))
    xfrm = child(el, "xfrm")  # graphicFrame
    off = child(xfrm, "off") if xfrm is not None else None
    if off is not None:
        return _int(off.get("y")), _int(off.get("x"))
    return None


def _int(v: Any) -> int:
    try:
        return int(v)
    except (TypeError, ValueError):
        return 0


def _placeholder(el: Any) -> Any:
    for nv in ("nvSpPr", "nvPicPr", "nvGraphicFramePr", "nvGrpSpPr"):
        n = child(el, nv)
        if n is not None:
            nvpr = child(n, "nvPr")
            if nvpr is not None:
                return child(nvpr, "ph")
    return None


def _c_nv_pr(el: Any) -> Any:
    for nv in ("nvSpPr", "nvPicPr", "nvGraphicFramePr", "nvGrpSpPr", "nvCxnSpPr"):
        n = child(el, nv)
        if n is not None:
            return child(n, "cNvPr")
    return None


def _paragraph_text(p: Any) -> str:
    out: list[str] = []
    for c in p:
        tag = local(c)
        if tag in ("r", "fld"):
            t = child(c, "t")
            if t is not None and t.text:
                out.append(t.text)
        elif tag == "br":
            out.append("\n")
    return "".join(out)


def text_body_blocks(body: Any, *, as_list: bool, page: int) -> list[Block]:
    """Paragraphs of a text body: a list when bullets are on (body placeholders by default,
    explicit bullets elsewhere), paragraphs otherwise."""
    blocks: list[Block] = []
    counters: dict[int, int] = {}
    for p in children(body, "p"):
        text = _paragraph_text(p)
        if not text.strip():
            continue
        ppr = child(p, "pPr")
        lvl = _int(ppr.get("lvl")) if ppr is not None else 0
        bullet = as_list
        numbered = False
        if ppr is not None:
            if child(ppr, "buNone") is not None:
                bullet = False
            elif child(ppr, "buAutoNum") is not None:
                bullet, numbered = True, True
            elif child(ppr, "buChar") is not None or child(ppr, "buBlip") is not None:
                bullet = True
        if not bullet:
            blocks.append(Block("paragraph", text, page=page))
            counters.clear()
            continue
        for deeper in [k for k in counters if k > lvl]:
            del counters[deeper]
        marker = "-"
        if numbered:
            counters[lvl] = counters.get(lvl, 0) + 1
            marker = f"{counters[lvl]}."
        item = (min(lvl, 8), marker, text)
        if blocks and blocks[-1].kind == "list":
            blocks[-1].items.append(item)
            if numbered:
                blocks[-1].attrs["ordered"] = True
        else:
            blocks.append(Block("list", items=[item], page=page, attrs={"ordered": numbered}))
    return blocks


def table_block(tbl: Any, page: int | None) -> Block | None:
    rows: list[list[str]] = []
    above: dict[int, str] = {}
    for tr in children(tbl, "tr"):
        cells: list[str] = []
        for col, tc in enumerate(children(tr, "tc")):
            if tc.get("hMerge") in ("1", "true"):
                cells.append("")
                continue
            if tc.get("vMerge") in ("1", "true"):
                cells.append(above.get(col, ""))
                continue
            body = child(tc, "txBody")
            text = ""
            if body is not None:
                text = " ".join(_paragraph_text(p) for p in children(body, "p"))
            text = clean_inline(text)
            above[col] = text
            cells.append(text)
        rows.append(cells)
    if not any(any(c for c in r) for r in rows):
        return None
    tblpr = child(tbl, "tblPr")
    first = tblpr is not None and tblpr.get("firstRow") in ("1", "true")
    return Block("table", rows=rows, n_head=1 if first and len(rows) > 1 else 0, page=page)


def chart_block(zf: SafeZip, part: str, page: int | None) -> Block | None:
    root = parse_xml(zf, part)
    chart = child(root, "chart")
    if chart is None:
        return None
    title_el = child(chart, "title")
    title = ""
    if title_el is not None:
        title = clean_inline(
            " ".join(t.text or "" for t in title_el.iter() if local(t) in ("t", "v"))
        )
    plot = child(chart, "plotArea")
    kinds = [local(c) for c in plot if local(c).endswith("Chart")] if plot is not None else []
    series: list[str] = []
    if plot is not None:
        for ser in (s for s in plot.iter() if local(s) == "ser"):
            tx = child(ser, "tx")
            if tx is not None:
                name = clean_inline(" ".join(t.text or "" for t in tx.iter() if local(t) == "v"))
                if name and name not in series:
                    series.append(name)
    text = title or (f"Chart: {', '.join(series)}" if series else "")
    if not text:
        return None
    attrs: dict[str, Any] = {"chart": True}
    if kinds:
        attrs["chart_type"] = kinds[0]
    if series:
        attrs["series"] = series
    return Block("figure", text, page=page, attrs=attrs)


class _Slide:
    def __init__(self, zf: SafeZip, part: str, number: int) -> None:
        self.zf = zf
        self.part = part
        self.page = number
        self.rels = ooxml.relationships(zf, part)
        self.layout_pos: dict[tuple[str, str], tuple[int, int]] = {}
        self.furniture: list[Block] = []
        layout = next((t for ty, t, ext in self.rels.values() if ty == "slideLayout"), None)
        if layout and zf.has(layout):
            self._read_layout(layout)

    def _read_layout(self, part: str) -> None:
        try:
            root = parse_xml(self.zf, part)
        except ParseError:
            return  # positions are a nicety; a damaged layout does not lose the slide
        for el in root.iter():
            if local(el) not in ("sp", "pic", "graphicFrame"):
                continue
            ph = _placeholder(el)
            pos = _xfrm_pos(el)
            if ph is None or pos is None:
                continue
            self.layout_pos[("idx", ph.get("idx") or "")] = pos
            self.layout_pos[("type", ph.get("type") or "body")] = pos

    def _pos(self, el: Any) -> tuple[int, int] | None:
        pos = _xfrm_pos(el)
        if pos is not None:
            return pos
        ph = _placeholder(el)
        if ph is None:
            return None
        return self.layout_pos.get(("idx", ph.get("idx") or "")) or self.layout_pos.get(
            ("type", ph.get("type") or "body")
        )

    def shapes(self, tree: Any, out: list[_Shape]) -> None:
        for el in tree:
            tag = local(el)
            if tag not in ("sp", "grpSp", "graphicFrame", "pic", "AlternateContent"):
                continue
            if tag == "AlternateContent":
                choice = child(el, "Choice")
                chosen = choice if choice is not None else child(el, "Fallback")
                if chosen is not None:
                    self.shapes(chosen, out)
                continue
            pos = self._pos(el)
            order = len(out)
            if tag == "grpSp":
                # A group reads as one unit at its position, its members in their own order.
                inner: list[_Shape] = []
                self.shapes(el, inner)
                inner.sort(key=_reading_key)
                blocks = [b for s in inner for b in s.blocks]
                title = next((s.title for s in inner if s.title), None)
                if blocks or title:
                    out.append(
                        _Shape(
                            pos[0] if pos else None, pos[1] if pos else None, order, blocks, title
                        )
                    )
                continue
            blocks, title = self.shape_blocks(el, tag)
            if blocks or title:
                out.append(
                    _Shape(pos[0] if pos else None, pos[1] if pos else None, order, blocks, title)
                )

    def shape_blocks(self, el: Any, tag: str) -> tuple[list[Block], str | None]:
        ph = _placeholder(el)
        ph_type = ph.get("type") if ph is not None else None
        if tag == "sp":
            body = child(el, "txBody")
            if body is None:
                return [], None
            if ph is not None and ph_type in _TITLE_TYPES:
                title = clean_inline(" ".join(_paragraph_text(p) for p in children(body, "p")))
                return [], title or None
            if ph is not None and ph_type in _FURNITURE_TYPES:
                text = clean_inline(" ".join(_paragraph_text(p) for p in children(body, "p")))
                if text:
                    self.furniture.append(
                        Block("page_footer", text, page=self.page, attrs={"placeholder": ph_type})
                    )
                return [], None
            as_list = ph is not None and ph_type in _BODY_TYPES and ph_type != "subTitle"
            return text_body_blocks(body, as_list=as_list, page=self.page), None
        if tag == "pic":
            nv = _c_nv_pr(el)
            alt = clean_inline((nv.get("descr") or nv.get("title") or "") if nv is not None else "")
            if alt:
                return [Block("figure", alt, page=self.page, attrs={"alt": alt})], None
            return [], None
        if tag == "graphicFrame":
            graphic = child(el, "graphic")
            data = child(graphic, "graphicData") if graphic is not None else None
            if data is None:
                return [], None
            for c in data:
                kind = local(c)
                if kind == "tbl":
                    b = table_block(c, self.page)
                    return ([b] if b else []), None
                if kind == "chart":
                    rid = ooxml.rel_id(c)
                    rel = self.rels.get(rid or "")
                    if rel and not rel[2] and self.zf.has(rel[1]):
                        b = chart_block(self.zf, rel[1], self.page)
                        return ([b] if b else []), None
        return [], None

    def read(self) -> tuple[list[Block], list[Block], bool]:
        root = parse_xml(self.zf, self.part)
        hidden = root.get("show") in ("0", "false")
        csld = child(root, "cSld")
        tree = child(csld, "spTree") if csld is not None else None
        shapes: list[_Shape] = []
        if tree is not None:
            self.shapes(tree, shapes)
        title = next((s.title for s in shapes if s.title), None)
        shapes.sort(key=_reading_key)
        blocks: list[Block] = []
        if title:
            blocks.append(Block("heading", title, level=1, page=self.page))
        else:
            blocks.append(
                Block(
                    "heading",
                    f"Slide {self.page}",
                    level=1,
                    page=self.page,
                    attrs={"generated": True},
                )
            )
        for s in shapes:
            blocks.extend(s.blocks)
        blocks.extend(self.notes())
        return blocks, self.furniture, hidden

    def notes(self) -> list[Block]:
        part = next((t for ty, t, ext in self.rels.values() if ty == "notesSlide"), None)
        if not part or not self.zf.has(part):
            return []
        root = parse_xml(self.zf, part)
        out: list[Block] = []
        for sp in (e for e in root.iter() if local(e) == "sp"):
            ph = _placeholder(sp)
            if ph is None or ph.get("type") != "body":
                continue  # the slide image, number and header placeholders of the notes page
            body = child(sp, "txBody")
            if body is None:
                continue
            text = "\n".join(_paragraph_text(p) for p in children(body, "p")).strip()
            if text:
                out.append(Block("note", text, page=self.page, attrs={"notes": True}))
        return out


def _reading_key(s: _Shape) -> tuple[int, int, int, int]:
    # The title first; then top to bottom, left to right (rows within ~1/4 inch count as one
    # line); shapes without a position keep their place after the positioned ones.
    if s.title:
        return (0, 0, 0, s.order)
    if s.y is None:
        return (2, 0, 0, s.order)
    return (1, s.y // 228600, s.x or 0, s.order)


def read_pptx(data: bytes) -> tuple[list[Block], dict[str, Any]]:
    zf = open_zip(data, WHAT)
    try:
        part = ooxml.main_part(zf, "ppt/presentation.xml", WHAT)
        root = parse_xml(zf, part)
        rels = ooxml.relationships(zf, part)
        lst = child(root, "sldIdLst")
        slide_parts: list[str] = []
        for sid in children(lst, "sldId") if lst is not None else []:
            rel = rels.get(ooxml.rel_id(sid) or "")
            if rel and not rel[2] and zf.has(rel[1]):
                slide_parts.append(rel[1])
        blocks: list[Block] = []
        furniture: list[Block] = []
        hidden: list[int] = []
        for n, sp in enumerate(slide_parts, 1):
            slide_blocks, slide_furniture, is_hidden = _Slide(zf, sp, n).read()
            blocks.extend(slide_blocks)
            furniture.extend(slide_furniture)
            if is_hidden:
                hidden.append(n)
        meta = ooxml.core_properties(zf)
        meta["n_slides"] = len(slide_parts)
        if hidden:
            meta["hidden_slides"] = hidden
        # Furniture after the content: one footer text repeated on every slide stays out of the
        # way of the slides' sections.
        return blocks + furniture, meta
    finally:
        zf.close()


class PptxParser(BlocksParser):
    name = "pptx"
    extensions = (".pptx", ".pptm", ".potx", ".potm", ".ppsx", ".ppsm")

    def read(self, data: bytes) -> tuple[list[Block], dict[str, Any]]:
        return read_pptx(data)

    def describe(self, meta: dict[str, Any], elements: Sequence[Element]) -> None:
        meta.update(
            {
                "mime": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
                "n_pages": meta.get("n_slides", 0),
                "n_notes": sum(1 for e in elements if e.kind == "note"),
            }
        )
        title_from_headings(meta, elements)
