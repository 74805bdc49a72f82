"""Markdown (CommonMark/GFM block structure): headings (ATX and setext), fenced and indented code,
pipe tables, lists with their items, block quotes, front matter and paragraphs.

``Document.text`` is the file verbatim; elements point into it, so a chunk's offsets are offsets
into the file. Inline markup is left as written.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from chunkwise.parsing import BaseParser, decode_text
from chunkwise.types import Document, Element

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^( {0,3})(`{3,}|~{3,})[ \t]*([^`\s]*)[^`]*$")
_TABLE_SEP = re.compile(r"^ {0,3}\|?[ \t]*:?-+:?[ \t]*(\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$")
_LIST_ITEM = re.compile(r"^( {0,3})([-*+]|\d{1,9}[.)])([ \t]+|$)")
_QUOTE = re.compile(r"^ {0,3}>")
_RULE = re.compile(r"^ {0,3}([-*_])([ \t]*\1){2,}[ \t]*$")
_HTML_BLOCK = re.compile(r"^ {0,3}<(?:!--|/?[A-Za-z][\w-]*[\s/>]|/?[A-Za-z][\w-]*$)")
_FRONT_TITLE = re.compile(r"^title:\s*[\"']?(.*?)[\"']?\s*$", re.M)


# What a line must start with (after at most three spaces) for any block but a paragraph or a
# table to open on it: every pattern above (_ATX, _FENCE, _QUOTE, _RULE, _LIST_ITEM,
# _HTML_BLOCK, _SETEXT) begins with " {0,3}" and then one of these characters.
_LEADS = frozenset("#`~>-*_+<=0123456789")


def _plain(line: str) -> bool:
    """True when no block pattern can match ``line`` (most lines of prose): the readers then skip
    their regexes. Indented lines (four spaces, or a tab within the first four columns) are not
    plain, so indented code still gets its look."""
    rest = line.lstrip(" ")
    if len(line) - len(rest) > 3:
        return False
    return rest[:1] not in _LEADS and not rest.startswith("\t")


def _marker(m: re.Match[str]) -> str:
    """List type: ordered, or the bullet character (a new bullet starts a new list)."""
    return "ordered" if m.group(2)[0].isdigit() else m.group(2)


def _indent(line: str) -> int:
    return len(line.expandtabs(4)) - len(line.expandtabs(4).lstrip())


def _split_row(line: str) -> list[str]:
    s = line.strip()
    if s.startswith("|"):
        s = s[1:]
    if s.endswith("|") and not s.endswith("\\|"):
        s = s[:-1]
    cells = re.split(r"(?<!\\)\|", s)
    return [c.strip() for c in cells]


_FRONT_MATTER_LIMIT = 64 * 1024


def _front_matter(block: str) -> dict[str, Any] | None:
    """YAML front matter as JSON-safe values; None when it is not a YAML mapping."""
    if len(block) > _FRONT_MATTER_LIMIT:
        return None
    import yaml

    try:
        data = yaml.safe_load(block)
    except yaml.YAMLError:
        return None
    return _json_safe(data) if isinstance(data, dict) else None


def _json_safe(value: Any) -> Any:
    # YAML has dates, sets and non-string keys that JSON records cannot hold.
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_json_safe(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


class MarkdownParser(BaseParser):
    name = "markdown"
    default_chunker = "section"

    def parse_bytes(self, data: bytes, source: str) -> Document:
        text, encoding = decode_text(data)
        elements, meta = parse_markdown(text)
        meta.update({"encoding": encoding, "mime": "text/markdown"})
        return self.document(data, source, text, elements, meta)


def parse_markdown(text: str) -> tuple[list[Element], dict[str, Any]]:
    """Block elements of ``text`` (offsets into it) and document metadata."""
    return _Blocks(text).parse()


class _Blocks:
    """One pass over the lines; each ``_read_*`` method reads the block starting at line ``i``
    when that line opens one, and returns the index of the line after it (else None)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lines = text.splitlines(keepends=True)
        self.n = len(self.lines)
        self.offs = [0, *itertools.accumulate(map(len, self.lines))]
        # Each line without its break, and whether it is blank: the readers ask about every
        # line several times (a paragraph's next line, a list's continuation).
        self.bodies = [ln.rstrip("\r\n") for ln in self.lines]
        self.blanks = [not b.strip() for b in self.bodies]
        self.elements: list[Element] = []
        self.meta: dict[str, Any] = {}
        self.title_heading: Element | None = None

    # -- lines -----------------------------------------------------------------------------------
    def body(self, i: int) -> str:
        return self.bodies[i]

    def end_of(self, i: int) -> int:
        """Offset of the end of line i without its line break."""
        return self.offs[i] + len(self.bodies[i])

    def blank(self, i: int) -> bool:
        return self.blanks[i]

    def starts_block(self, k: int) -> bool:
        line = self.body(k)
        if _plain(line):
            return False
        return bool(
            _ATX.match(line)
            or _FENCE.match(line)
            or _QUOTE.match(line)
            or _RULE.match(line)
            or _LIST_ITEM.match(line)
            or _HTML_BLOCK.match(line)
        )

    # -- the document ----------------------------------------------------------------------------
    def parse(self) -> tuple[list[Element], dict[str, Any]]:
        readers = (
            self._read_atx,
            self._read_fence,
            self._read_indented_code,
            self._read_rule,
            self._read_table,
            self._read_quote,
            self._read_list,
            self._read_html,
            self._read_paragraph,
        )
        plain_readers = (self._read_table, self._read_paragraph)
        i = self._read_front_matter()
        while i < self.n:
            if self.blank(i):
                i += 1
                continue
            line = self.body(i)
            # A plain line opens a table or a paragraph; the other readers would only fail.
            for read in plain_readers if _plain(line) else readers:
                nxt = read(i, line)
                if nxt is not None:
                    i = nxt
                    break
        return self.elements, self._finish_meta()

    def _finish_meta(self) -> dict[str, Any]:
        meta, elements = self.meta, self.elements
        if "title" not in meta:
            for el in elements:
                if el.kind == "heading" and el.level == 1:
                    meta["title"] = el.attrs.get("title", "")
                    break
        meta["n_headings"] = sum(1 for e in elements if e.kind == "heading")
        if self.title_heading is not None and not any(
            e.kind == "heading" and e.level == 1 for e in elements
        ):
            # Without a level-1 heading of its own, the front matter's title heads the document,
            # so chunks carry it in their heading path (the element lies inside the front matter,
            # which chunks never cover).
            elements.insert(1, self.title_heading)
        return meta

    def _read_front_matter(self) -> int:
        if not self.n or self.body(0).strip() != "---":
            return 0
        offs = self.offs
        for j in range(1, self.n):
            if self.body(j).strip() not in ("---", "..."):
                continue
            self.elements.append(Element("front_matter", 0, self.end_of(j)))
            fm = self.text[offs[1] : offs[j]]
            values = _front_matter(fm)
            if values is not None:
                self.meta["front_matter"] = values
            m = _FRONT_TITLE.search(fm)
            if m:
                self.meta["title"] = m.group(1)
                if m.group(1):
                    title_at = offs[1] + m.start(1)
                    self.title_heading = Element(
                        "heading",
                        title_at,
                        title_at + len(m.group(1)),
                        level=1,
                        attrs={"title": m.group(1), "from": "front_matter"},
                    )
            return j + 1
        return 0

    # -- blocks ----------------------------------------------------------------------------------
    def _read_atx(self, i: int, line: str) -> int | None:
        m = _ATX.match(line)
        if not m:
            return None
        title = (m.group(2) or "").strip()
        self.elements.append(
            Element(
                "heading", self.offs[i], self.end_of(i), level=len(m.group(1)),
                attrs={"title": title},
            )
        )  # fmt: skip
        return i + 1

    def _read_fence(self, i: int, line: str) -> int | None:
        m = _FENCE.match(line)
        if not m:
            return None
        fence, lang = m.group(2), m.group(3)
        j = i + 1
        closing = re.compile(
            r"^ {0,3}" + re.escape(fence[0]) + "{" + str(len(fence)) + r",}[ \t]*$"
        )
        while j < self.n and not closing.match(self.body(j)):
            j += 1
        last = min(j, self.n - 1)
        attrs: dict[str, Any] = {"fence": fence[:3]}
        if lang:
            attrs["language"] = lang
        self.elements.append(Element("code", self.offs[i], self.end_of(last), attrs=attrs))
        return last + 1

    def _read_indented_code(self, i: int, line: str) -> int | None:
        if not line.startswith(("    ", "\t")) or not (
            i == 0 or self.blank(i - 1) or not self.elements
        ):
            return None
        j = i
        while j + 1 < self.n and (self.body(j + 1).startswith(("    ", "\t")) or self.blank(j + 1)):
            j += 1
        while self.blank(j):
            j -= 1
        self.elements.append(
            Element("code", self.offs[i], self.end_of(j), attrs={"indented": True})
        )
        return j + 1

    def _read_rule(self, i: int, line: str) -> int | None:
        return i + 1 if _RULE.match(line) else None

    def _read_table(self, i: int, line: str) -> int | None:
        if not ("|" in line and self._table_sep(i + 1) and "-" in self.body(i + 1)):
            return None
        header = _split_row(line)
        rows = []
        j = i + 2
        while j < self.n and "|" in self.body(j) and self.body(j).strip():
            rows.append(_split_row(self.body(j)))
            j += 1
        attrs = {"header": header, "rows": rows, "n_rows": len(rows)}
        self.elements.append(Element("table", self.offs[i], self.end_of(j - 1), attrs=attrs))
        return j

    def _table_sep(self, k: int) -> bool:
        return k < self.n and _TABLE_SEP.match(self.body(k)) is not None

    def _read_quote(self, i: int, line: str) -> int | None:
        if not _QUOTE.match(line):
            return None
        j = i
        while (
            j + 1 < self.n
            and not self.blank(j + 1)
            and (_QUOTE.match(self.body(j + 1)) or not self.starts_block(j + 1))
        ):
            j += 1
        self.elements.append(Element("quote", self.offs[i], self.end_of(j)))
        return j + 1

    def _read_list(self, i: int, line: str) -> int | None:
        m = _LIST_ITEM.match(line)
        if not m:
            return None
        ordered = m.group(2)[0].isdigit()
        marker = _marker(m)
        base_indent = len(m.group(1))
        spans: list[tuple[int, int]] = []
        item_start = last = i
        k = i + 1
        while k < self.n:
            if self.blank(k):
                k2 = self._list_goes_on(k, marker, base_indent)
                if k2 is None:
                    break
                k = k2
                continue
            nxt = self.body(k)
            mi = _LIST_ITEM.match(nxt)
            if mi and len(mi.group(1)) <= base_indent + 1:
                if _marker(mi) != marker:
                    break
                spans.append((item_start, last))
                item_start = last = k
                k += 1
                continue
            if not mi and self.starts_block(k) and _indent(nxt) <= base_indent:
                break
            last = k
            k += 1
        spans.append((item_start, last))
        items = [Element("list_item", self.offs[a], self.end_of(b)) for a, b in spans]
        attrs = {"ordered": ordered, "n_items": len(items)}
        self.elements.append(Element("list", self.offs[i], self.end_of(last), attrs=attrs))
        self.elements.extend(items)
        return last + 1

    def _list_goes_on(self, k: int, marker: str, base_indent: int) -> int | None:
        """After blank line ``k``: the line the list resumes at, when what follows is another
        item of the same list or an indented continuation; else None."""
        k2 = k
        while k2 < self.n and self.blank(k2):
            k2 += 1
        if k2 >= self.n:
            return None
        nxt = self.body(k2)
        mi = _LIST_ITEM.match(nxt)
        sibling = mi is not None and _marker(mi) == marker and len(mi.group(1)) <= base_indent + 1
        return k2 if sibling or _indent(nxt) > base_indent + 1 else None

    def _read_html(self, i: int, line: str) -> int | None:
        if not _HTML_BLOCK.match(line):
            return None
        j = i
        while j + 1 < self.n and not self.blank(j + 1):
            j += 1
        self.elements.append(Element("html", self.offs[i], self.end_of(j)))
        return j + 1

    def _read_paragraph(self, i: int, line: str) -> int:
        """A paragraph, or a setext heading when an underline ends it."""
        j = i
        setext = None
        while j + 1 < self.n and not self.blank(j + 1):
            nxt = self.body(j + 1)
            nm = None if _plain(nxt) else _SETEXT.match(nxt)
            if nm:
                setext = 1 if nm.group(1)[0] == "=" else 2
                break
            if self.starts_block(j + 1) or ("|" in self.body(j + 1) and self._table_sep(j + 2)):
                break
            j += 1
        if setext is not None:
            title = " ".join(self.text[self.offs[i] : self.end_of(j)].split())
            self.elements.append(
                Element(
                    "heading", self.offs[i], self.end_of(j + 1), level=setext,
                    attrs={"title": title},
                )
            )  # fmt: skip
            return j + 2
        a = self.offs[i] + (len(line) - len(line.lstrip()))
        self.elements.append(Element("paragraph", a, self.end_of(j)))
        return j + 1
