"""OpenDocument text (.odt, .ott), presentations (.odp, .otp) and spreadsheets (.ods, .ots),
read from ``content.xml``.

No library is needed: ODF is plain XML in a zip, and its structure maps directly onto blocks.
Text: headings (``text:h`` with their outline level), paragraphs, nested lists, tables (header rows
from ``table:table-header-rows``; spanned columns padded with empty cells, covered cells of row
spans repeat the value above), text frames and image descriptions (``figure`` elements), footnotes
and endnotes (``[^n]`` markers, the notes after the body), and the master pages' headers and
footers as furniture. Presentations: one page per slide, the title frame as a level-1 heading (else
``Slide N``, marked ``generated``), the other frames in document order, speaker notes as ``note``
elements.
"""

from __future__ import annotations

from typing import Any

from chunkwise.archive import SafeZip, open_zip, optional_xml, parse_xml
from chunkwise.blocks import Block, BlocksParser, clean_inline
from chunkwise.errors import ParseError
from chunkwise.ooxml import attr, child, local

WHAT = "OpenDocument file"


class _Reader:
    def __init__(self, page: int | None = None) -> None:
        self.notes: list[Block] = []
        self.page = page

    def inline(self, el: Any, out: list[str], extras: list[Block]) -> None:
        if el.text:
            out.append(el.text)
        for c in el:
            tag = local(c)
            if tag == "s":
                out.append(" " * _int(attr(c, "c"), 1))
            elif tag == "tab":
                out.append("\t")
            elif tag == "line-break":
                out.append("\n")
            elif tag == "note":
                self.note(c, out)
            elif tag == "frame":
                self.frame(c, extras)
            elif tag in ("annotation", "bookmark-ref", "tracked-changes", "soft-page-break"):
                pass
            else:  # span, a, ruby, meta, bookmark...
                self.inline(c, out, extras)
            if c.tail:
                out.append(c.tail)

    def note(self, note: Any, out: list[str]) -> None:
        cls = attr(note, "note-class") or "footnote"
        cit = child(note, "note-citation")
        mark = clean_inline(cit.text or "") if cit is not None else ""
        mark = ("e" if cls == "endnote" else "") + (mark or str(len(self.notes) + 1))
        out.append(f"[^{mark}]")
        body = child(note, "note-body")
        inner: list[Block] = []
        if body is not None:
            self.body(body, inner)
        text = " ".join(
            b.text if b.kind != "list" else " ".join(t for _, _, t in b.items) for b in inner
        )
        if text.strip():
            self.notes.append(Block("footnote", f"[^{mark}] {clean_inline(text)}", page=self.page))

    def frame(self, frame: Any, extras: list[Block]) -> None:
        for c in frame:
            tag = local(c)
            if tag == "text-box":
                self.body(c, extras)
            elif tag in ("image", "object"):
                title = child(frame, "title")
                desc = child(frame, "desc")
                alt = clean_inline(
                    " ".join(x.text or "" for x in (title, desc) if x is not None)
                ) or clean_inline(attr(frame, "name") or "" if tag == "object" else "")
                if alt and tag == "image":
                    extras.append(Block("figure", alt, page=self.page, attrs={"alt": alt}))

    def body(self, container: Any, blocks: list[Block]) -> None:
        for c in container:
            tag = local(c)
            if tag in ("p", "h"):
                out: list[str] = []
                extras: list[Block] = []
                self.inline(c, out, extras)
                text = "".join(out)
                if text.strip():
                    if tag == "h":
                        level = min(max(_int(attr(c, "outline-level"), 1), 1), 9)
                        blocks.append(Block("heading", text, level=level, page=self.page))
                    else:
                        blocks.append(Block("paragraph", text, page=self.page))
                blocks.extend(extras)
            elif tag == "list":
                items: list[tuple[int, str, str]] = []
                extras = []
                self.list_items(c, 0, items, extras)
                if items:
                    blocks.append(Block("list", items=items, page=self.page))
                blocks.extend(extras)
            elif tag == "table":
                self.table(c, blocks)
            elif tag in ("section", "index-body", "table-of-content", "alphabetical-index"):
                self.body(c, blocks)
            elif tag == "frame":
                self.frame(c, blocks)

    def list_items(
        self, lst: Any, depth: int, items: list[tuple[int, str, str]], extras: list[Block]
    ) -> None:
        for item in lst:
            if local(item) not in ("list-item", "list-header"):
                continue
            for c in item:
                tag = local(c)
                if tag in ("p", "h"):
                    out: list[str] = []
                    self.inline(c, out, extras)
                    text = "".join(out)
                    if text.strip():
                        items.append((min(depth, 8), "-", text))
                elif tag == "list":
                    self.list_items(c, depth + 1, items, extras)

    def table(self, tbl: Any, blocks: list[Block]) -> None:
        rows: list[list[str]] = []
        n_head = 0
        above: dict[int, str] = {}

        def read_rows(container: Any, header: bool) -> None:
            nonlocal n_head
            for r in container:
                tag = local(r)
                if tag == "table-header-rows":
                    read_rows(r, True)
                elif tag in ("table-rows", "table-row-group"):
                    read_rows(r, header)
                elif tag == "table-row":
                    repeat = min(_int(attr(r, "number-rows-repeated"), 1), 100)
                    cells: list[str] = []
                    for cell in r:
                        ctag = local(cell)
                        if ctag not in ("table-cell", "covered-table-cell"):
                            continue
                        n = min(_int(attr(cell, "number-columns-repeated"), 1), 64)
                        for _ in range(n):
                            col = len(cells)
                            if ctag == "covered-table-cell":
                                # Covered by a row span above, or by a column span to the left.
                                cells.append(above.get(col, "") if col in above else "")
                                continue
                            inner: list[Block] = []
                            self.body(cell, inner)
                            text = clean_inline(" ".join(b.text for b in inner))
                            cells.append(text)
                            if _int(attr(cell, "number-rows-spanned"), 1) > 1:
                                above[col] = text
                            else:
                                above.pop(col, None)
                    while cells and not cells[-1]:
                        cells.pop()
                    for _ in range(repeat if any(cells) else 1):
                        rows.append(list(cells))
                        if header:
                            n_head += 1

        read_rows(tbl, False)
        rows = [r for r in rows if any(r)]
        if max((len(r) for r in rows), default=0) <= 1:
            for r in rows:
                if r and r[0]:
                    blocks.append(Block("paragraph", r[0], page=self.page))
            return
        blocks.append(Block("table", rows=rows, n_head=min(n_head, 5), page=self.page))


def _flat(b: Block) -> str:
    if b.kind == "list":
        return " ".join(t for _, _, t in b.items)
    if b.kind == "table":
        return " ".join(" ".join(r) for r in b.rows)
    return b.text


def _int(v: str | None, default: int) -> int:
    try:
        return int(v) if v is not None else default
    except ValueError:
        return default


def _meta(zf: SafeZip) -> dict[str, Any]:
    root = optional_xml(zf, "meta.xml")
    if root is None:
        return {}
    out: dict[str, Any] = {}
    names = {
        "title": "title",
        "initial-creator": "author",
        "creator": "last_modified_by",
        "creation-date": "created",
        "date": "modified",
        "language": "language",
        "subject": "subject",
    }
    for el in root.iter():
        key = names.get(local(el))
        text = clean_inline(el.text or "")
        if key and text and key not in out:
            out[key] = text
    return out


def _furniture(zf: SafeZip) -> list[Block]:
    root = optional_xml(zf, "styles.xml")
    if root is None:
        return []
    out: list[Block] = []
    seen: set[tuple[str, str]] = set()
    reader = _Reader()
    for el in root.iter():
        tag = local(el)
        if tag not in ("header", "footer"):
            continue
        inner: list[Block] = []
        reader.body(el, inner)
        text = "\n".join(b.text for b in inner if b.text).strip()
        if text and (tag, text) not in seen:
            seen.add((tag, text))
            out.append(Block("page_" + tag, text))
    return out


def read_odf(data: bytes) -> tuple[list[Block], dict[str, Any]]:
    zf = open_zip(data, WHAT)
    try:
        if not zf.has("content.xml"):
            raise ParseError(f"not an {WHAT}: the zip has no content.xml")
        mimetype = (
            zf.read("mimetype").decode("ascii", "replace").strip() if zf.has("mimetype") else ""
        )
        root = parse_xml(zf, "content.xml")
        body = child(root, "body")
        if body is None:
            raise ParseError(f"damaged {WHAT}: content.xml has no body")
        meta = _meta(zf)
        meta["mime"] = mimetype or "application/vnd.oasis.opendocument"
        blocks: list[Block] = []
        pres = child(body, "presentation")
        text = child(body, "text")
        if pres is not None:
            n = 0
            for page in pres:
                if local(page) != "page":
                    continue
                n += 1
                blocks.extend(_slide(page, n))
            meta["n_slides"] = n
            meta["n_pages"] = n
        elif child(body, "spreadsheet") is not None:
            blocks.extend(_sheets(child(body, "spreadsheet")))
            meta["sheets"] = [b.text for b in blocks if b.kind == "heading"]
        elif text is not None:
            reader = _Reader()
            reader.body(text, blocks)
            blocks.extend(reader.notes)
            blocks.extend(_furniture(zf))
        else:
            kinds = [local(c) for c in body]
            raise ParseError(
                f"unsupported OpenDocument content ({', '.join(kinds) or 'empty'}); "
                "text documents, presentations and spreadsheets are read"
            )
        return blocks, meta
    finally:
        zf.close()


def _sheets(spreadsheet: Any) -> list[Block]:
    """Each sheet: a heading with its name, its rows as a table (the first row is the header
    when it looks like one, as for Excel)."""
    from chunkwise.parsers.sheet import _looks_like_header

    out: list[Block] = []
    reader = _Reader()
    for n, tbl in enumerate(spreadsheet.iterchildren("{*}table"), 1):
        name = attr(tbl, "name") or f"Sheet{n}"
        inner: list[Block] = []
        reader.table(tbl, inner)
        if not inner:
            continue
        out.append(Block("heading", name, level=1, attrs={"sheet": name}))
        for b in inner:
            if b.kind == "table" and b.n_head == 0 and _looks_like_header(b.rows):
                b.n_head = 1
        out.extend(inner)
    return out


def _slide(page: Any, n: int) -> list[Block]:
    reader = _Reader(page=n)
    title: str | None = None
    body: list[Block] = []
    notes: list[Block] = []
    for el in page:
        tag = local(el)
        if tag == "frame":
            cls = attr(el, "class")
            if cls == "title" and title is None:
                inner: list[Block] = []
                reader.frame(el, inner)
                title = clean_inline(" ".join(b.text for b in inner)) or None
                continue
            reader.frame(el, body)
            for c in el:
                if local(c) == "table":
                    reader.table(c, body)
        elif tag == "notes":
            inner = []
            for frame in (c for c in el if local(c) == "frame"):
                if attr(frame, "class") == "notes":
                    reader.frame(frame, inner)
            text = "\n".join(_flat(b) for b in inner).strip()
            if text:
                notes.append(Block("note", text, page=n, attrs={"notes": True}))
        elif tag in ("custom-shape", "rect", "g"):
            inner = []
            reader.body(el, inner)
            for g in (c for c in el.iter() if local(c) == "frame"):
                reader.frame(g, inner)
            body.extend(inner)
    head = Block("heading", title or f"Slide {n}", level=1, page=n)
    if title is None:
        head.attrs["generated"] = True
    return [head, *body, *reader.notes, *notes]


class OdfParser(BlocksParser):
    name = "odf"
    extensions = (".odt", ".ott", ".odp", ".otp", ".ods", ".ots")

    def read(self, data: bytes) -> tuple[list[Block], dict[str, Any]]:
        return read_odf(data)
