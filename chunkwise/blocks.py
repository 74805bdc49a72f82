"""Blocks -> canonical text + elements, for parsers that build their text (office files, e-books).

The text follows the HTML parser's conventions so every chunker treats both alike: blocks are
separated by a blank line; a heading is its text; a list is one line per item (``- item`` /
``1. item``, nested items indented two spaces per level); a table is Markdown-style pipe rows, one
row per line, with a ``| --- |`` line after the header rows (the section chunker repeats those
rows when it splits a table). Elements point into the text and carry the block's page (a slide
number) when it has one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from chunkwise.parsing import BaseParser
from chunkwise.types import Document, Element

# Tables longer than this keep their cells in the text only, not again in the element's attrs
# (a 100,000-row sheet would otherwise be held twice).
MAX_ROW_ATTRS = 500


@dataclass
class Block:
    kind: str  # heading, paragraph, list, table, figure, caption, note, footnote, page_header...
    text: str = ""
    level: int | None = None
    page: int | None = None
    attrs: dict[str, Any] = field(default_factory=dict)
    # list: (depth, marker, text)
    items: list[tuple[int, str, str]] = field(default_factory=list)
    # table: rows of cells, the first ``n_head`` of them header rows
    rows: list[list[str]] = field(default_factory=list)
    n_head: int = 0


def clean_inline(s: str) -> str:
    """One line: whitespace runs (line breaks included) collapsed to one space."""
    return " ".join(s.split())


def clean_lines(s: str) -> str:
    """Whitespace collapsed within lines; line breaks kept, empty lines dropped."""
    lines = (" ".join(part.split()) for part in s.split("\n"))
    return "\n".join(ln for ln in lines if ln)


_PLAIN = re.compile(r"[^\s|]+(?: [^\s|]+)*")


def _cell(s: str) -> str:
    if _PLAIN.fullmatch(s):  # most cells: nothing to collapse or escape
        return s
    return clean_inline(s).replace("|", "\\|")


def table_lines(rows: Sequence[Sequence[str]], n_head: int) -> tuple[list[str], list[bool | None]]:
    """Pipe rows of a table and, per line, header row / body row / None for the delimiter."""
    n_cols = max((len(r) for r in rows), default=0)
    lines: list[str] = []
    kinds: list[bool | None] = []
    for i, cells in enumerate(rows):
        padded = [_cell(c) for c in cells] + [""] * (n_cols - len(cells))
        lines.append("| " + " | ".join(padded) + " |")
        kinds.append(i < n_head)
        if n_head and i == n_head - 1:
            lines.append("| " + " | ".join(["---"] * n_cols) + " |")
            kinds.append(None)
    return lines, kinds


def render(blocks: Sequence[Block], *, clean: bool = True) -> tuple[str, list[Element]]:
    """Join blocks with blank lines; return the text and elements pointing into it.

    ``clean``: collapse whitespace in list items and block text (:func:`clean_inline`,
    :func:`clean_lines`); a reader whose text is clean already, with indentation it means to keep
    (the HTML parser's quotes), passes False. Table cells are always cleaned."""
    inline = clean_inline if clean else _same
    lines_of = clean_lines if clean else _same
    parts: list[str] = []
    elements: list[Element] = []
    pos = 0

    def add(s: str) -> tuple[int, int]:
        nonlocal pos
        if parts:
            parts.append("\n\n")
            pos += 2
        start = pos
        parts.append(s)
        pos += len(s)
        return start, pos

    for b in blocks:
        if b.kind == "list":
            items = [(d, m, inline(t)) for d, m, t in b.items if t.strip()]
            if not items:
                continue
            lines = ["  " * d + f"{m} {t}" for d, m, t in items]
            start, end = add("\n".join(lines))
            attrs = {"n_items": len(items), **b.attrs}
            elements.append(Element("list", start, end, page=b.page, attrs=attrs))
            off = start
            for (d, _, _), line in zip(items, lines, strict=True):
                elements.append(
                    Element(
                        "list_item", off + 2 * d, off + len(line), page=b.page, attrs={"depth": d}
                    )
                )
                off += len(line) + 1
        elif b.kind == "table":
            rows = [r for r in b.rows if any(c.strip() for c in r)]
            if not rows:
                continue
            n_head = min(b.n_head, len(rows) - 1) if len(rows) > 1 else 0
            lines, kinds = table_lines(rows, n_head)
            start, end = add("\n".join(lines))
            body = rows[n_head:]
            n_cols = max(len(r) for r in rows)
            attrs = {
                "header": [clean_inline(c) for c in rows[n_head - 1]] if n_head else None,
                "n_rows": len(body),
                "n_cols": n_cols,
                **b.attrs,
            }
            if len(body) <= MAX_ROW_ATTRS:
                attrs["rows"] = [
                    [c if _PLAIN.fullmatch(c) else clean_inline(c) for c in r] for r in body
                ]
            elements.append(Element("table", start, end, page=b.page, attrs=attrs))
            off = start
            row_i = 0
            for line, is_head in zip(lines, kinds, strict=True):
                if is_head is not None:
                    elements.append(
                        Element(
                            "table_row",
                            off,
                            off + len(line),
                            page=b.page,
                            attrs={"header": is_head, "row": row_i},
                        )
                    )
                    row_i += 1
                off += len(line) + 1
        else:
            text = lines_of(b.text) if b.kind != "code" else b.text.strip("\n")
            if not text.strip():
                continue
            start, end = add(text)
            attrs = dict(b.attrs)
            if b.kind == "heading":
                attrs.setdefault("title", clean_inline(text))
            elements.append(Element(b.kind, start, end, page=b.page, level=b.level, attrs=attrs))
    return "".join(parts), elements


def _same(s: str) -> str:
    return s


def html_blocks(html: str) -> list[Block]:
    """An HTML body as blocks, through the HTML parser's full-page reader."""
    from chunkwise.parsers.html import _full_blocks, _load

    tree, _ = _load(html)
    return from_html_blocks(_full_blocks(tree))


def from_html_blocks(hblocks: list[Any], max_header_rows: int | None = 5) -> list[Block]:
    """The HTML parser's blocks as :class:`Block` (same text conventions).

    A table's header rows are its leading rows of header cells (a table of header cells only has
    none), else a first row that :func:`looks_like_header`; at most ``max_header_rows`` of them
    (None: all) when the blocks are part of another document (an e-book chapter, a mail body),
    where a long run of ``<th>`` rows is more likely layout than a header."""
    out: list[Block] = []
    for hb in hblocks:
        if hb.kind == "table":
            rows = [list(cells) for cells, _ in hb.rows]
            n_head = 0
            while n_head < len(hb.rows) and hb.rows[n_head][1]:
                n_head += 1
            if n_head == len(hb.rows):
                n_head = 0
            if n_head == 0 and looks_like_header(hb.rows):
                n_head = 1
            if max_header_rows is not None:
                n_head = min(n_head, max_header_rows)
            out.append(Block("table", rows=rows, n_head=n_head))
        elif hb.kind == "list":
            out.append(Block("list", items=list(hb.items), attrs=dict(hb.attrs)))
        else:
            out.append(Block(hb.kind, hb.text, level=hb.level, attrs=dict(hb.attrs)))
    return out


_NUMERIC = re.compile(r"^[\s$€£¥%+\-−–.,:/()#]*\d[\d\s$€£¥%+\-−–.,:/()#]*$")


def looks_like_header(rows: Sequence[tuple[Sequence[str], bool]]) -> bool:
    """A header written with <td> (often bold): a first row of words over a column of numbers."""
    if len(rows) < 3:
        return False
    first = rows[0][0]
    if any(_NUMERIC.match(c) for c in first if c) or not all(first):
        return False
    rest = [cells for cells, _ in rows[1:]]
    for col in range(len(first)):
        values = [r[col] for r in rest if col < len(r) and r[col]]
        if len(values) >= 2 and sum(bool(_NUMERIC.match(v)) for v in values) >= 0.8 * len(values):
            return True
    return False


class BlocksParser(BaseParser):
    """A parser whose reader returns blocks and metadata; text and elements are rendered from the
    blocks (:func:`render`), so every such format lays out its text alike."""

    default_chunker = "section"

    def read(self, data: bytes) -> tuple[list[Block], dict[str, Any]]:
        raise NotImplementedError

    def describe(self, meta: dict[str, Any], elements: Sequence[Element]) -> None:
        """Hook: metadata that depends on the rendered elements (by default the heading count)."""
        meta["n_headings"] = sum(1 for e in elements if e.kind == "heading")

    def parse_bytes(self, data: bytes, source: str) -> Document:
        blocks, meta = self.read(data)
        text, elements = render(blocks)
        self.describe(meta, elements)
        return self.document(data, source, text, elements, meta)


def title_from_headings(meta: dict[str, Any], elements: Sequence[Element]) -> None:
    """A document without a title in its properties takes its first real heading's (a heading
    the reader made up for an untitled slide does not count)."""
    if "title" in meta:
        return
    first = next(
        (e for e in elements if e.kind == "heading" and not e.attrs.get("generated")), None
    )
    if first is not None:
        meta["title"] = first.attrs.get("title", "")
