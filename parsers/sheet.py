"""Spreadsheets: Excel workbooks (.xlsx, .xlsm, .xltx, .xltm) and delimited text (.csv, .tsv).

Each worksheet becomes a section: a level-1 heading with the sheet's name, then its rows as one
table (pipe rows, see :mod:`chunkwise.blocks`), so the section chunker keeps rows whole and
repeats the header row on every piece of a split table. The header is the first row when it looks
like one (every cell filled, no cell a number); otherwise the table has none.

Workbooks are read straight from their XML with ``lxml.etree.iterparse``, one row at a time (each
row's elements are freed once read), so memory follows the text kept, not the XML's size.
Formulas give their cached values (what Excel showed when the file was saved; a file written by a
library that never computed them has none, and those cells are empty). Dates and times stored as
serial numbers with a date format become ISO dates. Cells merged across rows repeat their value in
every row they cover; across columns, the cells after the first stay empty. Hidden and very
hidden sheets are skipped unless the option ``xlsx.hidden_sheets`` is true (they are listed in
``metadata["hidden_sheets"]`` either way).

CSV/TSV: the dialect (comma, semicolon, tab or pipe; quoting) is sniffed from the first 40 lines;
``.tsv`` files are tab-separated unless the sniffer proves otherwise.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterator, Sequence
from typing import Any

from chunkwise.parsers.options import XlsxOptions

from chunkwise.archive import SafeZip, open_zip, optional_xml, parse_xml
from chunkwise.blocks import Block, BlocksParser, render
from chunkwise.errors import ParseError
from chunkwise.ooxml import attr, child, children, core_properties, local, main_part, relationships
from chunkwise.parsing import BaseParser, decode_text
from chunkwise.types import Document, Element

WHAT = "Excel workbook"
# A cell far to the right (XFD1) would pad every row with thousands of empty cells.
MAX_COLUMNS = 1024
_CELL_REF = re.compile(r"^([A-Z]{1,3})(\d+)$")
_NUMERIC = re.compile(r"^[\s$€£¥%+\-−–.,:/()#]*\d[\d\s$€£¥%+\-−–.,:/()#eE]*$")
# Built-in number formats that show dates or times (ECMA-376 18.8.30).
_DATE_FORMATS = frozenset({14, 15, 16, 17, 18, 19, 20, 21, 22, 27, 30, 36, 45, 46, 47, 50, 57})
_EXCEL_EPOCH = dt.datetime(1899, 12, 30)


def _col_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + (ord(ch) - 64)
    return n - 1


def _is_date_format(code: str) -> bool:
    # Strip quoted text, escapes and [colour]/[locale] brackets; what is left decides.
    code = re.sub(r'"[^"]*"|\\.|\[[^\]]*\]', "", code).lower()
    return bool(re.search(r"[dy]|h|ss|(?<![#0])m", code)) and "#" not in code and "0" not in code


def _number(v: str) -> str:
    """A cached numeric value as Excel would show it in General format, near enough."""
    try:
        f = float(v)
    except ValueError:
        return v
    if f.is_integer() and abs(f) < 1e15:
        return str(int(f))
    return repr(round(f, 10)).rstrip("0").rstrip(".") if "e" not in repr(f) else v


def _date(v: str, date1904: bool) -> str:
    try:
        f = float(v)
    except ValueError:
        return v
    base = dt.datetime(1904, 1, 1) if date1904 else _EXCEL_EPOCH
    try:
        when = base + dt.timedelta(days=f)
    except OverflowError:
        return v
    if f < 1 and not date1904:
        return when.time().isoformat(timespec="seconds")
    if when.hour == when.minute == when.second == 0:
        return when.date().isoformat()
    return when.isoformat(timespec="seconds")


def _looks_like_header(rows: Sequence[Sequence[str]]) -> bool:
    if len(rows) < 2:
        return False
    first = rows[0]
    filled = [c for c in first if c.strip()]
    if len(filled) < max(1, len(first) // 2) or any(_NUMERIC.match(c) for c in filled):
        return False
    return len(set(filled)) == len(filled)


def _table(rows: list[list[str]]) -> Block:
    width = max((len(r) for r in rows), default=0)
    # Columns left empty in every row (a sheet that starts at column C) are layout, not data.
    lead = min((next((i for i, c in enumerate(r) if c.strip()), width) for r in rows), default=0)
    rows = [r[lead:] + [""] * (width - len(r)) for r in rows]
    return Block("table", rows=rows, n_head=1 if _looks_like_header(rows) else 0)


# -- xlsx ----------------------------------------------------------------------------------------


def _shared_strings(zf: SafeZip, part: str | None) -> list[str]:
    if part is None or not zf.has(part):
        return []
    from lxml import etree

    out: list[str] = []
    with zf.open(part) as fh:
        try:
            for _, el in etree.iterparse(fh, events=("end",), tag="{*}si", resolve_entities=False):
                # Rich text runs (r/t) or plain t; phonetic guides (rPh) are not the text.
                out.append(
                    "".join(
                        t.text or ""
                        for t in el.iter()
                        if local(t) == "t" and local(t.getparent()) != "rPh"
                    )
                )
                el.clear()
        except (etree.XMLSyntaxError, OSError) as exc:
            raise ParseError(f"damaged {WHAT}: shared strings are not well-formed ({exc})") from exc
    return out


def _date_styles(zf: SafeZip, part: str | None) -> set[int]:
    """Indexes of cell formats (``s`` attribute) that show dates."""
    root = optional_xml(zf, part)
    if root is None:
        return set()  # without styles, dates show as serial numbers: the data survives
    custom: dict[int, str] = {}
    fmts = child(root, "numFmts")
    for nf in children(fmts, "numFmt") if fmts is not None else []:
        try:
            custom[int(attr(nf, "numFmtId") or -1)] = attr(nf, "formatCode") or ""
        except ValueError:
            continue
    out: set[int] = set()
    xfs = child(root, "cellXfs")
    for i, xf in enumerate(children(xfs, "xf") if xfs is not None else []):
        try:
            fid = int(attr(xf, "numFmtId") or 0)
        except ValueError:
            continue
        if fid in _DATE_FORMATS or (fid in custom and _is_date_format(custom[fid])):
            out.add(i)
    return out


def _sheet_rows(
    zf: SafeZip, part: str, strings: list[str], dates: set[int], date1904: bool
) -> tuple[list[list[str]], list[tuple[int, int, int, int]]]:
    """Rows of one worksheet (empty rows dropped) and its merged ranges (r0, c0, r1, c1)."""
    from lxml import etree

    rows: list[tuple[int, list[str]]] = []
    merges: list[tuple[int, int, int, int]] = []
    next_row = 0
    with zf.open(part) as fh:
        try:
            for _, el in etree.iterparse(
                fh, events=("end",), tag=("{*}row", "{*}mergeCell"), resolve_entities=False
            ):
                tag = local(el)
                if tag == "row":
                    r = _int(el.get("r"), next_row + 1) - 1
                    next_row = r + 1
                    cells: dict[int, str] = {}
                    col = 0
                    for c in el.iterchildren("{*}c"):
                        ref = c.get("r")
                        m = _CELL_REF.match(ref) if ref else None
                        if m:
                            col = _col_index(m.group(1))
                        if col < MAX_COLUMNS:
                            value = _cell_value(c, strings, dates, date1904)
                            if value:
                                cells[col] = value
                        col += 1
                    if cells:
                        width = max(cells) + 1
                        rows.append((r, [cells.get(i, "") for i in range(width)]))
                    el.clear()
                    # Free the rows already read (iterparse keeps finished siblings).
                    while el.getprevious() is not None:
                        del el.getparent()[0]
                elif tag == "mergeCell":
                    rng = (el.get("ref") or "").split(":")
                    if len(rng) == 2:
                        a, b = _CELL_REF.match(rng[0]), _CELL_REF.match(rng[1])
                        if a and b:
                            merges.append(
                                (
                                    int(a.group(2)) - 1,
                                    _col_index(a.group(1)),
                                    int(b.group(2)) - 1,
                                    _col_index(b.group(1)),
                                )
                            )
        except (etree.XMLSyntaxError, OSError) as exc:
            raise ParseError(f"damaged {WHAT}: {part} is not well-formed XML ({exc})") from exc
    if merges:
        _fill_merges(rows, merges)
    return [cells for _, cells in rows], merges


def _fill_merges(
    rows: list[tuple[int, list[str]]], merges: list[tuple[int, int, int, int]]
) -> None:
    by_row = {r: cells for r, cells in rows}
    for r0, c0, r1, _c1 in merges:
        top = by_row.get(r0)
        if top is None or c0 >= len(top) or r1 <= r0 or r1 - r0 > 10_000:
            continue
        value = top[c0]
        for r in range(r0 + 1, r1 + 1):
            cells = by_row.get(r)
            if cells is None:
                continue
            if c0 >= len(cells):
                cells.extend([""] * (c0 + 1 - len(cells)))
            if not cells[c0]:
                cells[c0] = value


def _cell_value(c: Any, strings: list[str], dates: set[int], date1904: bool) -> str:
    t = c.get("t") or "n"
    if t == "inlineStr":
        is_ = c.find("{*}is")
        return (
            "".join(x.text or "" for x in is_.iter() if local(x) == "t") if is_ is not None else ""
        )
    v = c.find("{*}v")
    if v is None or v.text is None:
        return ""
    raw = v.text
    if t == "s":
        try:
            return strings[int(raw)]
        except (ValueError, IndexError):
            return ""
    if t == "b":
        return "TRUE" if raw.strip() in ("1", "true") else "FALSE"
    if t in ("str", "e"):
        return raw
    style = _int(c.get("s"), 0)
    if style in dates:
        return _date(raw, date1904)
    return _number(raw)


def _int(v: Any, default: int) -> int:
    try:
        return int(v)
    except (TypeError, ValueError):
        return default


def read_xlsx(data: bytes, *, hidden: bool = False) -> tuple[list[Block], dict[str, Any]]:
    zf = open_zip(data, WHAT)
    try:
        part = main_part(zf, "xl/workbook.xml", WHAT)
        root = parse_xml(zf, part)
        rels = relationships(zf, part)
        by_type: dict[str, str] = {}
        for rtype, target, ext in rels.values():
            if not ext:
                by_type.setdefault(rtype, target)
        pr = child(root, "workbookPr")
        date1904 = pr is not None and (attr(pr, "date1904") or "") in ("1", "true")
        strings = _shared_strings(zf, by_type.get("sharedStrings"))
        dates = _date_styles(zf, by_type.get("styles"))
        sheets_el = child(root, "sheets")
        blocks: list[Block] = []
        names: list[str] = []
        hidden_names: list[str] = []
        n_rows = 0
        for sh in children(sheets_el, "sheet") if sheets_el is not None else []:
            name = sh.get("name") or f"Sheet{len(names) + 1}"
            state = sh.get("state") or "visible"
            rel = rels.get(_rid(sh) or "")
            if rel is None or rel[2] or rel[0] != "worksheet" or not zf.has(rel[1]):
                continue  # chart sheets, dialog sheets, dangling references
            if state != "visible":
                hidden_names.append(name)
                if not hidden:
                    continue
            rows, _ = _sheet_rows(zf, rel[1], strings, dates, date1904)
            names.append(name)
            attrs: dict[str, Any] = {"sheet": name}
            if state != "visible":
                attrs["hidden"] = True
            blocks.append(Block("heading", name, level=1, attrs=dict(attrs)))
            if rows:
                table = _table(rows)
                table.attrs.update(attrs)
                blocks.append(table)
                n_rows += len(rows)
        meta = core_properties(zf)
        meta["sheets"] = names
        meta["n_rows"] = n_rows
        if hidden_names:
            meta["hidden_sheets"] = hidden_names
        return blocks, meta
    finally:
        zf.close()


def _rid(el: Any) -> str | None:
    for key, value in el.attrib.items():
        if key.endswith("}id"):
            return str(value)
    return None


class XlsxParser(BlocksParser):
    name = "xlsx"
    extensions = (".xlsx", ".xlsm", ".xltx", ".xltm")
    options_class = XlsxOptions
    options: XlsxOptions

    def read(self, data: bytes) -> tuple[list[Block], dict[str, Any]]:
        return read_xlsx(data, hidden=self.options.hidden_sheets)

    def describe(self, meta: dict[str, Any], elements: Sequence[Element]) -> None:
        meta["mime"] = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# -- csv -----------------------------------------------------------------------------------------


def sniff_dialect(sample: str, suffix: str) -> Any:
    """The CSV dialect of ``sample``: the delimiter that splits its lines (quotes respected) into
    the most fields, the same number on nearly every line. The stdlib sniffer is not used: it is
    superlinear in its sample and, when two delimiters are both consistent, prefers the comma
    even for ``a;b;c;note, with a comma``."""
    lines = [ln for ln in sample.splitlines() if ln.strip()][:40] or [""]
    preferred = "\t,;|" if suffix in (".tsv", ".tab") else ",;\t|"
    best, best_key = preferred[0], (False, 0.0, 0)
    for rank, d in enumerate(preferred):
        try:
            counts = [len(r) for r in csv.reader(lines, delimiter=d) if r]
        except csv.Error:
            continue
        if not counts:
            continue
        mode = max(set(counts), key=counts.count)
        consistency = counts.count(mode) / len(counts)
        key = (consistency >= 0.8 and mode > 1, mode * consistency, -rank)
        if key > best_key:
            best, best_key = d, key

    class _Dialect(csv.excel):
        delimiter = best

    return _Dialect


def _iter_csv(text: str, dialect: Any) -> Iterator[list[str]]:
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    try:
        yield from reader
    except csv.Error as exc:
        raise ParseError(f"malformed CSV at line {reader.line_num}: {exc}") from exc


class CsvParser(BaseParser):
    name = "csv"
    extensions = (".csv", ".tsv", ".tab")
    default_chunker = "section"

    def parse_bytes(self, data: bytes, source: str) -> Document:
        text, encoding = decode_text(data)
        suffix = "." + source.rsplit(".", 1)[-1].lower() if "." in source else ""
        csv.field_size_limit(64 * 1024 * 1024)
        # The first 40 lines (16 KiB at most, cut at a line end) decide.
        sample = text[:16384]
        cut = -1
        for _ in range(40):
            nxt = sample.find("\n", cut + 1)
            if nxt < 0:
                break
            cut = nxt
        if len(text) > cut + 1 > 0:
            sample = sample[:cut]
        dialect = sniff_dialect(sample, suffix)
        rows = [r[:MAX_COLUMNS] for r in _iter_csv(text, dialect) if any(c.strip() for c in r)]
        blocks = [_table(rows)] if rows else []
        out, elements = render(blocks)
        delim = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe"}.get(
            dialect.delimiter, dialect.delimiter
        )
        meta = {
            "mime": "text/csv",
            "encoding": encoding,
            "delimiter": delim,
            "n_rows": len(rows),
        }
        return self.document(data, source, out, elements, meta)
