"""Word documents (.docx, .docm, .dotx, .dotm), read straight from their OOXML with lxml.

``Document.text`` is built from blocks (see :mod:`chunkwise.blocks`): headings (from outline
levels and heading styles, their list numbers kept: ``2.1 Scope``), paragraphs, bulleted and
numbered lists with nesting (numbers computed from the numbering part), tables (pipe rows; header
rows from "repeat as header row" or the table style's first-row look; a cell spanning columns is
followed by empty cells so later columns stay aligned, a vertically merged cell repeats its text in
every row it covers), text boxes and content controls in reading order, hyperlinks' text, images as
``figure`` elements whose text is their alt text, footnotes and endnotes (``[^n]`` markers in the
text, the notes after the body), headers and footers last as page furniture (left out of chunks
unless ``--keep-furniture``). Comments go to ``metadata["comments"]`` with the text they anchor.

Word files have no fixed pages, so elements carry no page numbers.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from chunkwise.archive import SafeZip, open_zip, parse_xml
from chunkwise.blocks import Block, BlocksParser, clean_inline, title_from_headings
from chunkwise.errors import ParseError
from chunkwise.ooxml import (
    attr,
    child,
    children,
    core_properties,
    local,
    main_part,
    rel_id,
    relationships,
)
from chunkwise.types import Element

WHAT = "Word document"
_HEADING_STYLE = re.compile(r"^heading\s*([1-9])$", re.I)
# Run content that holds no visible text of the document.
_SKIP_INLINE = frozenset(
    {
        "pPr",
        "rPr",
        "del",
        "moveFrom",
        "instrText",
        "delText",
        "fldChar",
        "sdtPr",
        "sdtEndPr",
        "proofErr",
        "bookmarkStart",
        "bookmarkEnd",
        "lastRenderedPageBreak",
        "annotationRef",
        "footnoteRef",
        "endnoteRef",
        "separator",
        "continuationSeparator",
        "object",
        "commentReference",
    }
)
_NOTE_TYPES_SKIPPED = frozenset({"separator", "continuationSeparator", "continuationNotice"})


# -- numbering ------------------------------------------------------------------------------------


def _roman(n: int) -> str:
    vals = [
        (1000, "m"),
        (900, "cm"),
        (500, "d"),
        (400, "cd"),
        (100, "c"),
        (90, "xc"),
        (50, "l"),
        (40, "xl"),
        (10, "x"),
        (9, "ix"),
        (5, "v"),
        (4, "iv"),
        (1, "i"),
    ]
    out = []
    for v, s in vals:
        while n >= v:
            out.append(s)
            n -= v
    return "".join(out) or "0"


def _letters(n: int) -> str:
    # Word repeats the letter: a..z, aa..zz, aaa...
    n = max(n, 1)
    return chr(ord("a") + (n - 1) % 26) * ((n - 1) // 26 + 1)


def format_number(n: int, fmt: str) -> str:
    if fmt == "lowerLetter":
        return _letters(n)
    if fmt == "upperLetter":
        return _letters(n).upper()
    if fmt == "lowerRoman":
        return _roman(n)
    if fmt == "upperRoman":
        return _roman(n).upper()
    if fmt == "decimalZero":
        return f"{n:02d}"
    if fmt in ("none", "bullet"):
        return ""
    return str(n)


@dataclass
class _Level:
    fmt: str = "decimal"
    text: str = "%1."
    start: int = 1


@dataclass
class _Numbering:
    levels: dict[str, dict[int, _Level]] = field(default_factory=dict)  # abstractNumId -> levels
    nums: dict[str, str] = field(default_factory=dict)  # numId -> abstractNumId
    starts: dict[tuple[str, int], int] = field(default_factory=dict)  # (numId, ilvl) override
    counters: dict[str, list[int]] = field(default_factory=dict)

    def level(self, num_id: str, ilvl: int) -> _Level | None:
        abstract = self.nums.get(num_id)
        if abstract is None:
            return None
        return self.levels.get(abstract, {}).get(ilvl)

    def next(self, num_id: str, ilvl: int) -> tuple[bool, str]:
        """(is a bullet, label) of the next item of list ``num_id`` at level ``ilvl``."""
        lvl = self.level(num_id, ilvl)
        if lvl is None:
            return True, "-"
        abstract = self.nums[num_id]
        counts = self.counters.setdefault(num_id, [0] * 9)
        ilvl = min(max(ilvl, 0), 8)
        if counts[ilvl] == 0:
            counts[ilvl] = self.starts.get((num_id, ilvl), lvl.start)
        else:
            counts[ilvl] += 1
        for deeper in range(ilvl + 1, 9):
            counts[deeper] = 0
        if lvl.fmt == "bullet":
            return True, "-"
        levels = self.levels.get(abstract, {})

        def repl(m: re.Match[str]) -> str:
            k = int(m.group(1)) - 1
            lv = levels.get(k, _Level())
            value = counts[k] if counts[k] else self.starts.get((num_id, k), lv.start)
            return format_number(value, lv.fmt)

        label = re.sub(r"%([1-9])", repl, lvl.text).strip()
        return False, label or "-"


def _read_numbering(zf: SafeZip, part: str | None) -> _Numbering:
    num = _Numbering()
    if part is None or not zf.has(part):
        return num
    root = parse_xml(zf, part)
    for an in children(root, "abstractNum"):
        aid = attr(an, "abstractNumId") or ""
        levels: dict[int, _Level] = {}
        for lvl in children(an, "lvl"):
            try:
                ilvl = int(attr(lvl, "ilvl") or 0)
            except ValueError:
                continue
            fmt_el, text_el, start_el = (
                child(lvl, "numFmt"),
                child(lvl, "lvlText"),
                child(lvl, "start"),
            )
            level = _Level()
            if fmt_el is not None:
                level.fmt = attr(fmt_el, "val") or "decimal"
            if text_el is not None:
                level.text = attr(text_el, "val") or ""
            if start_el is not None:
                with contextlib.suppress(ValueError):
                    level.start = int(attr(start_el, "val") or 1)
            levels[ilvl] = level
        num.levels[aid] = levels
    for n in children(root, "num"):
        nid = attr(n, "numId") or ""
        ref = child(n, "abstractNumId")
        if ref is not None:
            num.nums[nid] = attr(ref, "val") or ""
        for ov in children(n, "lvlOverride"):
            so = child(ov, "startOverride")
            if so is not None:
                with contextlib.suppress(ValueError):
                    num.starts[(nid, int(attr(ov, "ilvl") or 0))] = int(attr(so, "val") or 1)
    return num


# -- styles ---------------------------------------------------------------------------------------


@dataclass
class _Style:
    name: str = ""
    based_on: str | None = None
    outline: int | None = None
    num: tuple[str, int] | None = None


def _read_styles(zf: SafeZip, part: str | None) -> dict[str, _Style]:
    out: dict[str, _Style] = {}
    if part is None or not zf.has(part):
        return out
    root = parse_xml(zf, part)
    for st in children(root, "style"):
        sid = attr(st, "styleId")
        if not sid:
            continue
        s = _Style()
        name = child(st, "name")
        s.name = (attr(name, "val") or "") if name is not None else ""
        based = child(st, "basedOn")
        s.based_on = attr(based, "val") if based is not None else None
        ppr = child(st, "pPr")
        if ppr is not None:
            s.outline = _outline(ppr)
            s.num = _num_pr(ppr)
        out[sid] = s
    return out


def _outline(ppr: Any) -> int | None:
    ol = child(ppr, "outlineLvl")
    if ol is None:
        return None
    try:
        v = int(attr(ol, "val") or 9)
    except ValueError:
        return None
    return v if 0 <= v <= 8 else None


def _num_pr(ppr: Any) -> tuple[str, int] | None:
    np_ = child(ppr, "numPr")
    if np_ is None:
        return None
    nid_el, ilvl_el = child(np_, "numId"), child(np_, "ilvl")
    nid = attr(nid_el, "val") if nid_el is not None else None
    try:
        ilvl = int(attr(ilvl_el, "val") or 0) if ilvl_el is not None else 0
    except ValueError:
        ilvl = 0
    if nid is None:
        return None
    return nid, ilvl


# -- the document walk ----------------------------------------------------------------------------


class _Reader:
    def __init__(self, zf: SafeZip, part: str) -> None:
        self.zf = zf
        self.rels = relationships(zf, part)
        targets = {t: tgt for t, tgt, ext in self.rels.values() if not ext}
        self.styles = _read_styles(zf, targets.get("styles"))
        self.numbering = _read_numbering(zf, targets.get("numbering"))
        self.default_style = next(
            (sid for sid, s in self.styles.items() if s.name.lower() == "normal"), None
        )
        self.comment_anchor: dict[str, list[str]] = {}
        self.open_comments: set[str] = set()
        self.n_images = 0
        self.n_tables = 0

    # styles
    def _style_chain(self, sid: str | None) -> list[_Style]:
        out: list[_Style] = []
        seen: set[str] = set()
        while sid and sid in self.styles and sid not in seen:
            seen.add(sid)
            st = self.styles[sid]
            out.append(st)
            sid = st.based_on
        return out

    def heading_level(self, ppr: Any, style_id: str | None) -> int | None:
        if ppr is not None:
            ol = _outline(ppr)
            if ol is not None:
                return ol + 1
        for st in self._style_chain(style_id):
            m = _HEADING_STYLE.match(st.name)
            if m:
                return int(m.group(1))
            if st.name.lower() == "title":
                return 1
            if st.outline is not None:
                return st.outline + 1
        return None

    def num_of(self, ppr: Any, style_id: str | None) -> tuple[str, int] | None:
        if ppr is not None:
            direct = _num_pr(ppr)
            if direct is not None:
                # numId 0 switches numbering off for this paragraph.
                return None if direct[0] == "0" else direct
        for st in self._style_chain(style_id):
            if st.num is not None:
                return None if st.num[0] == "0" else st.num
        return None

    # inline content
    def inline(
        self, el: Any, out: list[str], extras: list[Block], links: list[dict[str, str]]
    ) -> None:
        for c in el:
            tag = local(c)
            if tag in _SKIP_INLINE or not tag:
                continue
            if tag == "t":
                t = c.text or ""
                out.append(t)
                for cid in self.open_comments:
                    self.comment_anchor.setdefault(cid, []).append(t)
            elif tag == "tab":
                out.append("\t")
            elif tag in ("br", "cr"):
                out.append("\n")
            elif tag == "noBreakHyphen":
                out.append("-")
            elif tag == "footnoteReference":
                out.append(f"[^{attr(c, 'id')}]")
            elif tag == "endnoteReference":
                out.append(f"[^e{attr(c, 'id')}]")
            elif tag == "commentRangeStart":
                self.open_comments.add(attr(c, "id") or "")
            elif tag == "commentRangeEnd":
                self.open_comments.discard(attr(c, "id") or "")
            elif tag == "r":
                rpr = child(c, "rPr")
                if rpr is not None and _on(child(rpr, "vanish")):
                    continue  # hidden text
                self.inline(c, out, extras, links)
            elif tag == "hyperlink":
                start = len(out)
                self.inline(c, out, extras, links)
                rid = rel_id(c)
                text = clean_inline("".join(out[start:]))
                if rid and rid in self.rels and text:
                    links.append({"text": text, "url": self.rels[rid][1]})
                elif attr(c, "anchor") and text:
                    links.append({"text": text, "anchor": attr(c, "anchor") or ""})
            elif tag == "drawing":
                self.drawing(c, extras)
            elif tag == "pict":
                self.vml(c, extras)
            elif tag == "AlternateContent":
                choice = child(c, "Choice")
                chosen = choice if choice is not None else child(c, "Fallback")
                if chosen is not None:
                    self.inline(chosen, out, extras, links)
            elif tag == "txbxContent":
                self.body(c, extras)
            else:  # ins, smartTag, fldSimple, sdt, sdtContent, customXml, moveTo, dir, bdo...
                self.inline(c, out, extras, links)

    def drawing(self, d: Any, extras: list[Block]) -> None:
        boxes = [t for t in d.iter() if local(t) == "txbxContent"]
        for box in boxes:
            if not any(local(a) == "txbxContent" for a in box.iterancestors()):
                self.body(box, extras)
        if any(local(x) in ("pic", "chart", "relIds") for x in d.iter()):
            self.n_images += 1
            doc_pr = next((x for x in d.iter() if local(x) == "docPr"), None)
            alt = ""
            if doc_pr is not None:
                alt = clean_inline(doc_pr.get("descr") or doc_pr.get("title") or "")
            if alt:
                name = doc_pr.get("name") or "" if doc_pr is not None else ""
                extras.append(Block("figure", alt, attrs={"alt": alt, "name": name}))

    def vml(self, p: Any, extras: list[Block]) -> None:
        for box in (x for x in p.iter() if local(x) == "txbxContent"):
            self.body(box, extras)
        for img in (x for x in p.iter() if local(x) == "imagedata"):
            self.n_images += 1
            alt = clean_inline(attr(img, "title") or "")
            if alt:
                extras.append(Block("figure", alt, attrs={"alt": alt}))

    # blocks
    def body(self, container: Any, blocks: list[Block]) -> None:
        for c in container:
            tag = local(c)
            if tag == "p":
                self.paragraph(c, blocks)
            elif tag == "tbl":
                self.table(c, blocks)
            elif tag in ("sdt", "customXml", "ins", "moveTo"):
                content = child(c, "sdtContent") if tag == "sdt" else c
                if content is not None:
                    self.body(content, blocks)
            elif tag == "sdtContent" or tag == "AlternateContent":
                self.body(c, blocks)

    def paragraph(self, p: Any, blocks: list[Block]) -> None:
        ppr = child(p, "pPr")
        style_el = child(ppr, "pStyle") if ppr is not None else None
        style_id = attr(style_el, "val") if style_el is not None else self.default_style
        out: list[str] = []
        extras: list[Block] = []
        links: list[dict[str, str]] = []
        self.inline(p, out, extras, links)
        text = "".join(out)
        level = self.heading_level(ppr, style_id)
        num = self.num_of(ppr, style_id)
        label: str | None = None
        bullet = True
        if num is not None and text.strip():
            bullet, label = self.numbering.next(*num)
        if text.strip():
            attrs: dict[str, Any] = {}
            if links:
                attrs["links"] = links
            if style_id and style_id in self.styles:
                attrs["style"] = self.styles[style_id].name
            if level is not None:
                title = clean_inline(text)
                if label and not bullet:
                    title = f"{label} {title}"
                blocks.append(Block("heading", title, level=level, attrs=attrs))
            elif num is not None:
                depth = num[1]
                item = (depth, label or "-", text)
                prev = blocks[-1] if blocks else None
                if prev is not None and prev.kind == "list" and not prev.attrs.get("closed"):
                    prev.items.append(item)
                    if not bullet:
                        prev.attrs["ordered"] = True
                else:
                    blocks.append(Block("list", items=[item], attrs={"ordered": not bullet}))
            else:
                blocks.append(Block("paragraph", text, attrs=attrs))
        if extras:
            if blocks and blocks[-1].kind == "list":
                # A text box or figure inside a list ends the list.
                blocks[-1].attrs["closed"] = True
            blocks.extend(extras)

    def cell_text(self, tc: Any) -> str:
        inner: list[Block] = []
        self.body(tc, inner)
        parts: list[str] = []
        for b in inner:
            if b.kind == "list":
                parts.extend(f"{m} {t}" for _, m, t in b.items)
            elif b.kind == "table":
                parts.extend(" ".join(r) for r in b.rows)
            else:
                parts.append(b.text)
        return clean_inline(" ".join(parts))

    def table(self, tbl: Any, blocks: list[Block]) -> None:
        self.n_tables += 1
        rows: list[list[str]] = []
        header_rows = 0
        in_header = True
        above: dict[int, str] = {}  # grid column -> text of the cell a vertical merge continues
        for tr in _rows(tbl):
            trpr = child(tr, "trPr")
            is_header = trpr is not None and _on(child(trpr, "tblHeader"))
            cells: list[str] = []
            col = 0
            before = child(trpr, "gridBefore") if trpr is not None else None
            if before is not None:
                n = _int(attr(before, "val"), 0)
                cells.extend([""] * n)
                col += n
            for tc in _cells(tr):
                tcpr = child(tc, "tcPr")
                span = 1
                vmerge = None
                if tcpr is not None:
                    gs = child(tcpr, "gridSpan")
                    span = min(max(_int(attr(gs, "val"), 1), 1), 64) if gs is not None else 1
                    vm = child(tcpr, "vMerge")
                    if vm is not None:
                        vmerge = attr(vm, "val") or "continue"
                if vmerge == "continue":
                    text = above.get(col, "")
                else:
                    text = self.cell_text(tc)
                    above[col] = text
                cells.append(text)
                cells.extend([""] * (span - 1))
                col += span
            rows.append(cells)
            if in_header and is_header:
                header_rows += 1
            else:
                in_header = False
        n_cols = max((len(r) for r in rows), default=0)
        if n_cols <= 1:
            # A one-column table is a frame around text, not data: its cells are read as blocks.
            for tr in _rows(tbl):
                for tc in _cells(tr):
                    self.body(tc, blocks)
            return
        if header_rows == 0 and len(rows) > 1 and _first_row_look(tbl):
            header_rows = 1
        if header_rows >= len(rows):
            header_rows = 0
        blocks.append(Block("table", rows=rows, n_head=min(header_rows, 5)))


def _children_through_controls(parent: Any, tag: str) -> list[Any]:
    """Children named ``tag``, including those wrapped in content controls or custom XML."""
    out = []
    for c in parent:
        name = local(c)
        if name == tag:
            out.append(c)
        elif name in ("sdt", "customXml"):
            content = child(c, "sdtContent") if name == "sdt" else c
            if content is not None:
                out.extend(_children_through_controls(content, tag))
    return out


def _rows(tbl: Any) -> list[Any]:
    return _children_through_controls(tbl, "tr")


def _cells(tr: Any) -> list[Any]:
    return _children_through_controls(tr, "tc")


def _first_row_look(tbl: Any) -> bool:
    tblpr = child(tbl, "tblPr")
    look = child(tblpr, "tblLook") if tblpr is not None else None
    if look is None:
        return False
    first = attr(look, "firstRow")
    if first is not None:
        return first in ("1", "true", "on")
    try:
        return bool(int(attr(look, "val") or "0", 16) & 0x0020)
    except ValueError:
        return False


def _on(el: Any) -> bool:
    """A Word boolean property: present and not switched off."""
    if el is None:
        return False
    return (attr(el, "val") or "true").lower() not in ("0", "false", "off")


def _int(v: str | None, default: int) -> int:
    try:
        return int(v) if v is not None else default
    except ValueError:
        return default


def _notes(reader: _Reader, part: str | None, marker: str) -> list[Block]:
    if part is None or not reader.zf.has(part):
        return []
    root = parse_xml(reader.zf, part)
    out: list[Block] = []
    for note in root:
        if local(note) not in ("footnote", "endnote"):
            continue
        if (attr(note, "type") or "") in _NOTE_TYPES_SKIPPED:
            continue
        inner: list[Block] = []
        reader.body(note, inner)
        text = " ".join(
            b.text if b.kind != "list" else " ".join(t for _, _, t in b.items) for b in inner
        )
        nid = attr(note, "id") or ""
        if text.strip():
            out.append(
                Block("footnote", f"[^{marker}{nid}] {clean_inline(text)}", attrs={"id": nid})
            )
    return out


def _comments(reader: _Reader, part: str | None) -> list[dict[str, Any]]:
    if part is None or not reader.zf.has(part):
        return []
    root = parse_xml(reader.zf, part)
    out: list[dict[str, Any]] = []
    for cm in children(root, "comment"):
        inner: list[Block] = []
        saved = set(reader.open_comments)
        reader.body(cm, inner)
        reader.open_comments = saved
        cid = attr(cm, "id") or ""
        entry: dict[str, Any] = {
            "id": cid,
            "author": attr(cm, "author") or "",
            "date": attr(cm, "date") or "",
            "text": clean_inline(" ".join(b.text for b in inner if b.kind != "list")),
        }
        anchor = clean_inline("".join(reader.comment_anchor.get(cid, [])))
        if anchor:
            entry["anchor"] = anchor
        out.append({k: v for k, v in entry.items() if v != ""})
    return out


def _furniture(reader: _Reader, parts: list[tuple[str, str]]) -> list[Block]:
    seen: set[tuple[str, str]] = set()
    out: list[Block] = []
    for kind, part in parts:
        if not reader.zf.has(part):
            continue
        inner: list[Block] = []
        reader.body(parse_xml(reader.zf, part), inner)
        text = "\n".join(
            b.text if b.kind not in ("list", "table") else clean_inline(str(b.items or b.rows))
            for b in inner
            if b.kind != "figure"
        ).strip()
        if text and (kind, text) not in seen:
            seen.add((kind, text))
            out.append(Block("page_" + kind, text, attrs={"part": part}))
    return out


def _first(by_type: dict[str, list[str]], rtype: str) -> str | None:
    parts = by_type.get(rtype)
    return parts[0] if parts else None


def read_docx(data: bytes) -> tuple[list[Block], dict[str, Any]]:
    zf = open_zip(data, WHAT)
    try:
        part = main_part(zf, "word/document.xml", WHAT)
        root = parse_xml(zf, part)
        body = child(root, "body")
        if body is None:
            raise ParseError(f"damaged {WHAT}: {part} has no body")
        reader = _Reader(zf, part)
        blocks: list[Block] = []
        reader.body(body, blocks)
        by_type: dict[str, list[str]] = {}
        for rtype, target, ext in reader.rels.values():
            if not ext:
                by_type.setdefault(rtype, []).append(target)
        blocks += _notes(reader, _first(by_type, "footnotes"), "")
        blocks += _notes(reader, _first(by_type, "endnotes"), "e")
        furniture = [("header", t) for t in sorted(by_type.get("header", []))]
        furniture += [("footer", t) for t in sorted(by_type.get("footer", []))]
        blocks += _furniture(reader, furniture)
        comments = _comments(reader, _first(by_type, "comments"))
        meta = core_properties(zf)
        if comments:
            meta["comments"] = comments
        meta["n_images"] = reader.n_images
        meta["n_tables"] = reader.n_tables
        if part.lower().endswith(".xml") and any(
            n.lower().endswith("vbaproject.bin") for n in zf.names()
        ):
            meta["macros"] = True  # .docm: the macros are not read, only noted
        return blocks, meta
    finally:
        zf.close()


class DocxParser(BlocksParser):
    name = "docx"
    extensions = (".docx", ".docm", ".dotx", ".dotm")

    def read(self, data: bytes) -> tuple[list[Block], dict[str, Any]]:
        # A document of images without alt text reads to no blocks; the pipeline then reports
        # "no text to chunk" for it, as for a scanned PDF.
        blocks, meta = read_docx(data)
        for b in blocks:
            b.attrs.pop("closed", None)
        return blocks, meta

    def describe(self, meta: dict[str, Any], elements: Sequence[Element]) -> None:
        meta["mime"] = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        super().describe(meta, elements)
        title_from_headings(meta, elements)
