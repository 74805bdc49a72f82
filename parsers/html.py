"""HTML pages: main-content extraction (trafilatura) or every visible block, keeping structure.

``Document.text`` is text we build, not the file: one block per paragraph, heading, list, table,
code block or quote, blocks separated by a blank line. Headings are their text (no markup), list
items are lines (``- item`` / ``1. item``, nested items indented), tables are Markdown-style pipe
rows (one row per line, a ``| --- |`` line after the header rows), code keeps its layout.
Elements point into that text: heading (level, title), paragraph, list + list_item, caption, table
(header, rows) + table_row, code (language), quote.

Modes (parser option ``html_mode``): ``article`` (default) keeps the main content trafilatura finds
and drops boilerplate; ``full`` keeps every visible block (documentation sites, index pages). When
article mode finds almost nothing on a page that has text, the page is re-read in full mode with a
warning, and ``metadata["html_mode"]`` says which mode produced the text.
"""

from __future__ import annotations

import codecs
import copy
import logging
import re
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from chunkwise.parsers.options import HtmlOptions

from chunkwise.blocks import from_html_blocks, render
from chunkwise.errors import ParseError
from chunkwise.parsing import BaseParser, decode_text
from chunkwise.types import Document

log = logging.getLogger("chunkwise")

# Decompressed size limit for .html.gz: a gzip bomb becomes an error record, not an OOM kill (a
# 787 KB file expanding to 200 MB took 111 s and 5.6 GB under the old 256 MiB limit).
MAX_DECOMPRESSED = 64 * 1024 * 1024
# Pages with more markup than this (characters) are read in full mode: trafilatura's article
# extraction costs ~10 s per MB of markup, and metadata is looked for in the first part only.
ARTICLE_LIMIT = 2 * 1024 * 1024
METADATA_LIMIT = 1024 * 1024
# Article extraction that keeps fewer characters than this, on a page whose visible text is at
# least FALLBACK_RATIO times longer, counts as "found almost nothing".
FALLBACK_MIN_CHARS = 250
FALLBACK_RATIO = 4
# Pages larger than this (characters) get the quick date search only.
EXTENSIVE_DATE_LIMIT = 512 * 1024
# libxml2's nesting limit without XML_PARSE_HUGE (which we keep off: it also lifts size limits).
MAX_DEPTH = 256

_WS = re.compile(r"\s+")
_META_CHARSET = re.compile(
    rb"""<meta[^>]+?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE
)
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)
_CODE_LANG = re.compile(r"(?:^|\s)(?:language|lang|highlight-source)-([\w+#-]+)")
_CONTROL = bytes(b for b in range(32) if b not in (9, 10, 12, 13, 27)) + b"\x7f"

# -- tag classes of the two trees we walk: trafilatura's output tree and a raw HTML DOM ---------


@dataclass(frozen=True)
class _Vocab:
    headings: Callable[[Any], int | None]
    containers: frozenset[str]
    lists: frozenset[str]
    items: frozenset[str]
    tables: frozenset[str]
    rows: frozenset[str]
    cells: frozenset[str]
    header_cells: Callable[[Any], bool]
    code: frozenset[str]
    quotes: frozenset[str]
    breaks: frozenset[str]
    skip: frozenset[str]
    ordered: Callable[[Any], bool]


def _tei_heading(el: Any) -> int | None:
    if el.tag != "head":
        return None
    m = re.fullmatch(r"h([1-6])", el.get("rend") or "")
    return int(m.group(1)) if m else 2


def _html_heading(el: Any) -> int | None:
    tag = el.tag
    if len(tag) == 2 and tag[0] == "h" and tag[1] in "123456":
        return int(tag[1])
    return None


_TEI = _Vocab(
    headings=_tei_heading,
    containers=frozenset({"doc", "main", "body", "div", "p", "comments"}),
    lists=frozenset({"list"}),
    items=frozenset({"item"}),
    tables=frozenset({"table"}),
    rows=frozenset({"row"}),
    cells=frozenset({"cell"}),
    header_cells=lambda c: c.get("role") == "head",
    code=frozenset({"code"}),
    quotes=frozenset({"quote"}),
    breaks=frozenset({"lb"}),
    skip=frozenset({"graphic", "fw", "note"}),
    ordered=lambda el: (el.get("rend") or "").lower() == "ol",
)

_HTML = _Vocab(
    headings=_html_heading,
    containers=frozenset(
        "html body div p section article main header footer nav aside form fieldset figure "
        "figcaption dl dt dd address details summary center hgroup legend caption menu "
        "dialog search".split()
    ),
    lists=frozenset({"ul", "ol"}),
    items=frozenset({"li"}),
    tables=frozenset({"table"}),
    rows=frozenset({"tr"}),
    cells=frozenset({"td", "th"}),
    header_cells=lambda c: c.tag == "th" or _in_thead(c),
    code=frozenset({"pre"}),
    quotes=frozenset({"blockquote"}),
    breaks=frozenset({"br"}),
    skip=frozenset(
        "head script style noscript template svg iframe object embed canvas video audio "
        "map button select option input textarea datalist meter progress img picture source "
        "track link meta base title".split()
    ),
    ordered=lambda el: el.tag == "ol",
)


def _in_thead(cell: Any) -> bool:
    row = cell.getparent()
    group = row.getparent() if row is not None else None
    return group is not None and group.tag == "thead"


def _hidden(el: Any) -> bool:
    if el.get("hidden") is not None or el.get("aria-hidden") == "true":
        return True
    style = (el.get("style") or "").replace(" ", "").lower()
    return "display:none" in style or "visibility:hidden" in style


# -- blocks --------------------------------------------------------------------------------------


@dataclass
class _Block:
    kind: str  # heading, paragraph, list, table, caption, code, quote
    text: str = ""
    level: int | None = None
    attrs: dict[str, Any] = field(default_factory=dict)
    # list: (depth, marker, text); table: (cells, is_header)
    items: list[tuple[int, str, str]] = field(default_factory=list)
    rows: list[tuple[list[str], bool]] = field(default_factory=list)


def _clean_lines(raw: str) -> str:
    """Inline text: whitespace runs collapsed; line breaks only where the markup put them."""
    lines = (" ".join(part.split()) for part in raw.split("\n"))
    return "\n".join(ln for ln in lines if ln)


class _Walker:
    """Turns a tree (trafilatura's or the page's own DOM) into blocks in reading order."""

    def __init__(self, vocab: _Vocab, *, html: bool) -> None:
        self.v = vocab
        self.html = html
        self.blocks: list[_Block] = []
        self._buf: list[str] = []

    # inline text collects into _buf; every block-level element flushes it as a paragraph
    def flush(self) -> None:
        text = _clean_lines("".join(self._buf))
        self._buf.clear()
        if text:
            self.blocks.append(_Block("paragraph", text))

    def _text(self, s: str | None) -> None:
        if s:
            # Source newlines are just whitespace; "\n" in the buffer means a <br>.
            self._buf.append(_WS.sub(" ", s))

    def walk(self, el: Any) -> None:
        tag = el.tag
        if not isinstance(tag, str):  # comments, processing instructions
            self._text(el.tail)
            return
        tag = tag.lower() if self.html else tag
        v = self.v
        if tag in v.skip or (self.html and _hidden(el)):
            self._text(el.tail)
            return
        if tag in v.breaks:
            self._buf.append("\n")
            self._text(el.tail)
            return
        if tag == "hr":
            self.flush()
            self._text(el.tail)
            return
        level = v.headings(el)
        if level is not None:
            self.flush()
            text = " ".join(_inline_text(el, v, self.html).split())
            if text:
                self.blocks.append(_Block("heading", text, level=level, attrs={"title": text}))
        elif tag in v.lists:
            self.flush()
            items: list[tuple[int, str, str]] = []
            self._list(el, 0, items)
            if items:
                ordered = v.ordered(el)
                self.blocks.append(
                    _Block("list", items=items, attrs={"ordered": ordered, "n_items": len(items)})
                )
        elif tag in v.tables:
            self.flush()
            self._table(el)
        elif tag in v.code and self._is_code_block(el):
            self.flush()
            code = _code_text(el)
            if code.strip():
                attrs: dict[str, Any] = {}
                lang = _code_language(el)
                if lang:
                    attrs["language"] = lang
                self.blocks.append(_Block("code", code, attrs=attrs))
        elif tag in v.quotes:
            self.flush()
            sub = _Walker(v, html=self.html)
            sub.children(el)
            sub.flush()
            text = "\n".join(_block_plain(b) for b in sub.blocks)
            if text.strip():
                self.blocks.append(_Block("quote", text))
        elif tag in v.containers or tag in v.items or tag in v.rows or tag in v.cells:
            self.flush()
            self.children(el)
            self.flush()
        else:  # inline: its text joins the running paragraph; blocks inside it still flush
            self.children(el)
            self._text(el.tail)
            return
        self._text(el.tail)

    def children(self, el: Any) -> None:
        self._text(el.text)
        for child in el:
            self.walk(child)

    def _is_code_block(self, el: Any) -> bool:
        if self.html:
            return True  # only <pre> maps to code in the HTML vocabulary
        # trafilatura writes inline code and code blocks both as <code>; a block stands on its own.
        parent = el.getparent()
        return parent is None or parent.tag in self.v.containers - {"p"} or "\n" in (el.text or "")

    def _list(self, el: Any, depth: int, items: list[tuple[int, str, str]]) -> None:
        v = self.v
        ordered = v.ordered(el)
        n = 0
        for child in el:
            if not isinstance(child.tag, str):
                continue
            tag = child.tag.lower() if self.html else child.tag
            if self.html and _hidden(child):
                continue
            if tag in v.lists:  # a list nested directly in a list (invalid HTML, common)
                self._list(child, depth + 1, items)
                continue
            if tag not in v.items:
                text = " ".join(_inline_text(child, v, self.html).split())
                if text:
                    items.append((depth, "-", text))
                continue
            n += 1
            nested = _nested_lists(child, v, self.html)
            text = " ".join(_inline_text(child, v, self.html, exclude=v.lists).split())
            if text:
                items.append((depth, f"{n}." if ordered else "-", text))
            for sub in nested:
                self._list(sub, depth + 1, items)

    def _table(self, el: Any) -> None:
        v = self.v
        rows: list[tuple[list[str], bool]] = []
        nested_table = False
        for row in _rows(el, v, self.html):
            cells = [c for c in row if isinstance(c.tag, str) and _lower(c.tag) in v.cells]
            if not cells:
                continue
            texts: list[str] = []
            for c in cells:
                if any(_lower(d.tag) in v.tables for d in c.iterdescendants() if _is_el(d)):
                    nested_table = True
                texts.append(" ".join(_inline_text(c, v, self.html).split()))
                # A cell spanning columns keeps the columns after it aligned under their header.
                texts.extend([""] * (_span(c.get("colspan")) - 1))
            if any(texts):
                rows.append((texts, all(v.header_cells(c) for c in cells)))
        n_cols = max((len(r) for r, _ in rows), default=0)
        if nested_table or n_cols <= 1:
            # Layout tables (one column, or tables of tables): their cells are page regions, not
            # data, so their content is read as ordinary blocks.
            self.children(el)
            self.flush()
            return
        caption = next((c for c in el if _is_el(c) and _lower(c.tag) in ("caption", "head")), None)
        if caption is not None:
            title = " ".join(_inline_text(caption, v, self.html).split())
            if title:
                self.blocks.append(_Block("caption", title))
        self.blocks.append(_Block("table", rows=rows))


def _span(value: str | None) -> int:
    try:
        return min(max(int(value or 1), 1), 64)
    except ValueError:
        return 1


def _nested_lists(item: Any, v: _Vocab, html: bool) -> list[Any]:
    """Lists inside a list item, however deep (menus wrap them in <div>/<nav>), but not lists
    inside those lists."""
    out: list[Any] = []
    stack = [c for c in reversed(item) if _is_el(c)]
    while stack:
        el = stack.pop()
        tag = _lower(el.tag) if html else el.tag
        if tag in v.skip or (html and _hidden(el)):
            continue
        if tag in v.lists:
            out.append(el)
            continue
        stack.extend(c for c in reversed(el) if _is_el(c))
    return out


def _lower(tag: Any) -> str:
    return tag.lower() if isinstance(tag, str) else ""


def _is_el(el: Any) -> bool:
    return isinstance(el.tag, str)


def _rows(table: Any, v: _Vocab, html: bool) -> Iterable[Any]:
    for child in table:
        if not _is_el(child):
            continue
        tag = _lower(child.tag) if html else child.tag
        if tag in v.rows:
            yield child
        elif tag in ("thead", "tbody", "tfoot"):
            yield from (r for r in child if _is_el(r) and _lower(r.tag) in v.rows)


def _inline_text(el: Any, v: _Vocab, html: bool, exclude: frozenset[str] = frozenset()) -> str:
    """All text under ``el`` as one line: nested blocks become spaces, hidden parts are skipped."""
    out: list[str] = []

    def rec(e: Any, top: bool) -> None:
        if not top:
            if not _is_el(e) or _lower(e.tag) in exclude or e.tag in exclude:
                return
            tag = _lower(e.tag) if html else e.tag
            if tag in v.skip or (html and _hidden(e)):
                return
        out.append(e.text or "")
        for c in e:
            if _is_el(c):
                rec(c, False)
            out.append(" " if _is_el(c) and _lower(c.tag) not in _INLINE_HTML else "")
            out.append(c.tail or "")

    rec(el, True)
    return "".join(out)


# Inline tags whose neighbours join without a space ("<b>foo</b>bar" is "foobar").
_INLINE_HTML = frozenset(
    "a abbr b bdi bdo cite code data del dfn em i ins kbd mark q s samp small span strong sub sup "
    "time u var wbr font hi ref".split()
)


def _code_text(el: Any) -> str:
    parts: list[str] = []
    for piece in el.itertext():
        parts.append(piece)
    text = "".join(parts).replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(ln.rstrip() for ln in lines)


def _code_language(el: Any) -> str | None:
    for e in (el, *[c for c in el.iter() if _is_el(c)]):
        m = _CODE_LANG.search(e.get("class") or "")
        if m:
            return m.group(1).lower()
        if e.get("lang"):
            return str(e.get("lang")).lower()
    return None


def _block_plain(b: _Block) -> str:
    if b.kind == "list":
        return "\n".join("  " * d + f"{m} {t}" for d, m, t in b.items)
    if b.kind == "table":
        return "\n".join(" | ".join(cells) for cells, _ in b.rows)
    return b.text


# -- bytes -> text --------------------------------------------------------------------------------


def _gunzip(data: bytes) -> bytes:
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = d.decompress(data, MAX_DECOMPRESSED)
    except zlib.error as exc:
        raise ParseError(f"corrupt gzip data: {exc}") from exc
    if d.unconsumed_tail:
        raise ParseError(
            f"gzip content larger than {MAX_DECOMPRESSED >> 20} MiB when decompressed "
            f"({len(data)} bytes compressed); refusing a possible gzip bomb"
        )
    if not d.eof:
        raise ParseError("truncated gzip data (compressed stream ends early)")
    return out


def _utf16_or_32(data: bytes) -> bool:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return True
    sample = data[:4096]
    return sample.count(0) > len(sample) // 4


def _codec(name: str) -> str | None:
    try:
        codec = codecs.lookup(name)
    except LookupError:
        return None
    enc = codec.name
    # Browsers read these labels as windows-1252 (WHATWG encoding standard), and pages rely on it.
    if enc in ("latin-1", "iso8859-1", "ascii"):
        return "cp1252"
    # A page cannot declare UTF-16 in itself in ASCII; such a label is wrong.
    if enc.startswith(("utf-16", "utf-32")):
        return None
    return enc


def decode_html(data: bytes) -> tuple[str, str]:
    """Text and encoding of HTML bytes: byte-order mark, then valid UTF-8, then the page's own
    ``<meta charset>`` / ``http-equiv`` label, then detection."""
    if not data.strip():
        raise ParseError("empty file (no content)" if data else "empty file (0 bytes)")
    sample = data[:65536]
    controls = sum(sample.count(bytes([b])) for b in _CONTROL)
    if (
        any(data.startswith(b) for b in (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
        or b"\x00" in sample
        or controls > max(8, len(sample) // 100)
    ):
        # decode_text knows byte-order marks, BOM-less UTF-16 and binary files.
        return decode_text(data)
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    m = _META_CHARSET.search(data[:8192])
    enc = _codec(m.group(1).decode("ascii", "replace")) if m else None
    if enc and enc != "utf-8":
        try:
            return data.decode(enc), enc
        except UnicodeDecodeError:
            # A label that does not fit some bytes: keep the page, mark the odd bytes.
            return data.decode(enc, errors="replace"), enc
    return _detect(data)


# Encodings web pages are written in. Detectors also rank DOS and old Mac code pages, which decode
# almost any byte string "plausibly" (French cp1252 text comes out as Baltic cp775); among the
# candidates, the first web encoding wins.
_WEB_ENCODINGS = re.compile(
    r"^(cp125\d|iso8859_\d+|koi8_[ru]|utf_\d+|shift_jis|cp932|euc_jp|iso2022_jp|euc_kr|cp949|"
    r"gb2312|gbk|gb18030|big5|big5hkscs|cp950|tis_620|cp874)$"
)


def _detect(data: bytes) -> tuple[str, str]:
    from charset_normalizer import from_bytes

    results = list(from_bytes(data))
    for match in results:
        if _WEB_ENCODINGS.match(match.encoding):
            try:
                return data.decode(match.encoding), match.encoding
            except (UnicodeDecodeError, LookupError):
                continue
    # No web encoding fits: the shared decoder picks the detector's best or explains the failure.
    return decode_text(data)


# -- metadata ------------------------------------------------------------------------------------


def _page_facts(tree: Any) -> dict[str, Any]:
    """What trafilatura's metadata leaves out: language and the canonical link."""
    out: dict[str, Any] = {}
    root = tree.getroottree().getroot() if hasattr(tree, "getroottree") else tree
    lang = root.get("lang") or root.get("{http://www.w3.org/XML/1998/namespace}lang")
    if not lang:
        for meta in root.iter("meta"):
            key = (meta.get("http-equiv") or meta.get("property") or "").lower()
            if key in ("content-language", "og:locale") and meta.get("content"):
                lang = meta.get("content")
                break
    if lang:
        out["language"] = lang.strip().replace("_", "-")
    for link in root.iter("link"):
        if "canonical" in (link.get("rel") or "").lower().split() and link.get("href"):
            out["canonical"] = link.get("href").strip()
            break
    return out


# -- the parser -----------------------------------------------------------------------------------


class HtmlParser(BaseParser):
    name = "html"
    extensions = (".html", ".htm", ".xhtml", ".html.gz", ".htm.gz")
    # Pages are sections under headings; the section chunker keeps chunks inside them and gives
    # every chunk its heading path (see docs/html.md for the measurement).
    default_chunker = "section"
    options_class = HtmlOptions
    options: HtmlOptions

    @property
    def mode(self) -> str:
        return self.options.mode

    def parse_bytes(self, data: bytes, source: str) -> Document:
        mode = self.mode
        raw = data
        compressed = data[:2] == b"\x1f\x8b"
        if compressed:
            raw = _gunzip(data)
            if not raw.strip():
                raise ParseError("empty file (nothing inside the gzip stream)")
        warnings: list[str] = []
        nuls = raw.count(0)
        if nuls and nuls <= len(raw) // 1000 and not _utf16_or_32(raw):
            # A few stray NUL bytes in a page (browsers skip them) are damage, not a binary file.
            raw = raw.replace(b"\x00", b"")
            warnings.append(f"removed {nuls} NUL byte{'s' if nuls > 1 else ''}")
        html, encoding = decode_html(raw)
        html = _XML_DECL.sub("", html, count=1)
        if "<" not in html:
            raise ParseError("not HTML: no markup in the file")
        tree, too_deep = _load(html)
        if tree is None:
            raise ParseError("not HTML: the markup could not be parsed")
        facts = _page_facts(tree)
        if too_deep:
            # libxml2 stops descending at 256 levels; what lies deeper is not in the tree.
            warnings.append(f"markup nested deeper than {MAX_DEPTH} levels; deeper content is lost")

        used = mode
        meta: dict[str, Any] | None = None
        if mode == "article" and len(html) > ARTICLE_LIMIT:
            warnings.append(
                f"page has {len(html) >> 20} MB of markup, over the "
                f"{ARTICLE_LIMIT >> 20} MB article-mode limit; using --html-mode full"
            )
            mode = "full"
        if mode == "article":
            from chunkwise.parsers import html_article

            html_article.strip_furniture(tree)
            blocks, meta = _article_blocks(tree, len(html))
            blocks += html_article.split_body_continuations(tree, blocks)
            blocks = html_article.drop_shortcodes(blocks)
            blocks = html_article.restructure_small_page(blocks, tree, _full_blocks) or blocks
            text_len = sum(len(_block_plain(b)) for b in blocks)
            if text_len < FALLBACK_MIN_CHARS:
                full = _full_blocks(tree)
                full_len = sum(len(_block_plain(b)) for b in full)
                if full_len >= max(FALLBACK_RATIO * text_len, 1) and full_len > text_len:
                    fallback = (
                        f"article extraction kept {text_len} of {full_len} characters; "
                        "using --html-mode full"
                    )
                    warnings.append(fallback)
                    blocks, used = full, "full"
        else:
            blocks = _full_blocks(tree)
        if meta is None:  # not read by the extraction (full mode, or trafilatura gave up)
            meta = _metadata(html)
        # The walker's text is clean already (a quote keeps its nested lists' indentation), and a
        # page's header rows are all kept.
        text, elements = render(from_html_blocks(blocks, max_header_rows=None), clean=False)
        if not text.strip():
            if too_deep:
                raise ParseError(f"no readable text: markup nested deeper than {MAX_DEPTH} levels")
            raise ParseError("no visible text in the HTML page")
        for w in warnings:
            log.warning("%s: %s", source, w)
        metadata: dict[str, Any] = {
            k: meta[k]
            for k in ("title", "author", "date", "url", "site_name", "description")
            if meta.get(k)
        }
        metadata.update(facts)
        metadata.update(
            {
                "mime": "text/html",
                "encoding": encoding,
                "html_mode": used,
                "n_headings": sum(1 for e in elements if e.kind == "heading"),
            }
        )
        if compressed:
            metadata["compression"] = "gzip"
        if warnings:
            metadata["warning"] = "; ".join(warnings)
        return self.document(data, source, text, elements, metadata)


def _load(html: str) -> tuple[Any, bool]:
    """The page's DOM, and whether the parser gave up on too deep nesting."""
    import lxml.html

    parser = lxml.html.HTMLParser(remove_comments=True, remove_pis=True, recover=True)
    try:
        tree = lxml.html.document_fromstring(html, parser=parser)
    except Exception:  # lxml raises ParserError/ValueError on documents with no elements
        return None, False
    too_deep = any("Excessive depth" in e.message for e in parser.error_log)
    return tree, too_deep


def _metadata_from(doc: Any) -> dict[str, Any]:
    if doc is None:
        return {}
    cats = getattr(doc, "categories", None)
    out = {
        "title": doc.title,
        "author": doc.author,
        "date": doc.date,
        "url": doc.url,
        "site_name": doc.sitename,
        "description": doc.description,
    }
    if cats:
        out["categories"] = list(cats)
    return {k: v for k, v in out.items() if v}


def _metadata(html: str) -> dict[str, Any]:
    from trafilatura.metadata import extract_metadata

    try:
        # The head and the top of the page hold the metadata; the rest of a huge page only costs.
        head = html[:METADATA_LIMIT]
        return _metadata_from(extract_metadata(head, extensive=_extensive_dates(head)))
    except Exception:  # metadata is a bonus: a page with odd <meta> tags still parses
        log.debug("metadata extraction failed", exc_info=True)
        return {}


def _extensive_dates(html: str) -> bool:
    # htmldate's extensive search scans all of the page's text with regexes: seconds on a page of
    # megabytes, for a date that the markup usually states anyway.
    return len(html) <= EXTENSIVE_DATE_LIMIT


# trafilatura's fallbacks (its readability port and jusText, compared with its own extraction)
# cost about a third of its time and change the result only when its own extraction came out
# short: they run only then.
RESCUE_BELOW_CHARS = 500


def _article_blocks(tree: Any, size: int) -> tuple[list[_Block], dict[str, Any] | None]:
    """trafilatura's main text of the page ``tree`` (``size`` characters of markup) as blocks,
    and its metadata (None when it could not be read). ``tree`` is left as it was (trafilatura
    prunes the copy it reads)."""
    import trafilatura
    from trafilatura.metadata import extract_metadata
    from trafilatura.settings import set_date_params

    dates = set_date_params(size <= EXTENSIVE_DATE_LIMIT)
    first = copy.deepcopy(tree)
    # The metadata is read once, as bare_extraction would read it from the same tree: asking each
    # extraction run for it read it twice when the rescue ran (a third of the time of a page).
    try:
        info = extract_metadata(first, None, dates, True, None)
    except Exception:  # metadata is a bonus: a page with odd <meta> tags still parses
        log.debug("metadata extraction failed", exc_info=True)
        info = None
    url = getattr(info, "url", None)

    def run(page: Any, fast: bool) -> Any:
        return trafilatura.bare_extraction(
            page,
            url=url,
            include_comments=False,
            include_tables=True,
            # Precision mode leaves out the headline, newsletter and promo boxes that plain mode
            # keeps: +0.013 F1 on the article-extraction-benchmark pages.
            favor_precision=True,
            fast=fast,
            include_formatting=False,
            include_images=False,
            include_links=False,
            with_metadata=False,
            date_extraction_params=dates,
        )

    doc = run(first, fast=True)
    body = getattr(doc, "body", None)
    if body is None or len(" ".join(body.itertext())) < RESCUE_BELOW_CHARS:
        doc = run(tree, fast=False)
        body = getattr(doc, "body", None)
    meta = _metadata_from(info) if info is not None else None
    if body is None:
        return [], meta
    walker = _Walker(_TEI, html=False)
    walker.children(body)
    walker.flush()
    return walker.blocks, meta


def _full_blocks(tree: Any) -> list[_Block]:
    if tree is None:
        return []
    body = tree.find("body")
    walker = _Walker(_HTML, html=True)
    walker.walk(body if body is not None else tree)
    walker.flush()
    return walker.blocks
