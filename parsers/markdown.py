"""Markdown (CommonMark/GFM block structure): headings (ATX and setext), fenced and indented code,
pipe tables, lists with their items, block quotes, front matter and paragraphs.

``Document.text`` is the file verbatim; elements point into it, so a chunk's offsets are offsets
into the file. Inline markup is left as written.
"""

from __future__ import annotations

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
    lines = text.splitlines(keepends=True)
    offs = [0]
    for ln in lines:
        offs.append(offs[-1] + len(ln))

    def body(i: int) -> str:
        return lines[i].rstrip("\r\n")

    def end_of(i: int) -> int:
        """Offset of the end of line i without its line break."""
        return offs[i] + len(body(i))

    def blank(i: int) -> bool:
        return not body(i).strip()

    elements: list[Element] = []
    meta: dict[str, Any] = {}
    title_heading: Element | None = None
    n = len(lines)
    i = 0

    if n and body(0).strip() == "---":
        for j in range(1, n):
            if body(j).strip() in ("---", "..."):
                elements.append(Element("front_matter", 0, end_of(j)))
                fm = text[offs[1] : offs[j]]
                values = _front_matter(fm)
                if values is not None:
                    meta["front_matter"] = values
                m = _FRONT_TITLE.search(fm)
                if m:
                    meta["title"] = m.group(1)
                    if m.group(1):
                        title_at = offs[1] + m.start(1)
                        title_heading = Element(
                            "heading",
                            title_at,
                            title_at + len(m.group(1)),
                            level=1,
                            attrs={"title": m.group(1), "from": "front_matter"},
                        )
                i = j + 1
                break

    def starts_block(k: int) -> bool:
        line = body(k)
        return bool(
            _ATX.match(line)
            or _FENCE.match(line)
            or _QUOTE.match(line)
            or _RULE.match(line)
            or _LIST_ITEM.match(line)
            or _HTML_BLOCK.match(line)
        )

    while i < n:
        line = body(i)
        if not line.strip():
            i += 1
            continue

        m = _ATX.match(line)
        if m:
            title = (m.group(2) or "").strip()
            elements.append(
                Element(
                    "heading", offs[i], end_of(i), level=len(m.group(1)), attrs={"title": title}
                )
            )
            i += 1
            continue

        m = _FENCE.match(line)
        if m:
            indent, fence, lang = m.group(1), m.group(2), m.group(3)
            j = i + 1
            closing = re.compile(
                r"^ {0,3}" + re.escape(fence[0]) + "{" + str(len(fence)) + r",}[ \t]*$"
            )
            while j < n and not closing.match(body(j)):
                j += 1
            last = min(j, n - 1)
            attrs: dict[str, Any] = {"fence": fence[:3]}
            if lang:
                attrs["language"] = lang
            elements.append(Element("code", offs[i], end_of(last), attrs=attrs))
            del indent
            i = last + 1
            continue

        if line.startswith(("    ", "\t")) and (i == 0 or blank(i - 1) or not elements):
            j = i
            while j + 1 < n and (body(j + 1).startswith(("    ", "\t")) or blank(j + 1)):
                j += 1
            while blank(j):
                j -= 1
            elements.append(Element("code", offs[i], end_of(j), attrs={"indented": True}))
            i = j + 1
            continue

        if _RULE.match(line):
            i += 1
            continue

        if "|" in line and i + 1 < n and _TABLE_SEP.match(body(i + 1)) and "-" in body(i + 1):
            header = _split_row(line)
            rows = []
            j = i + 2
            while j < n and "|" in body(j) and body(j).strip():
                rows.append(_split_row(body(j)))
                j += 1
            elements.append(
                Element(
                    "table",
                    offs[i],
                    end_of(j - 1),
                    attrs={"header": header, "rows": rows, "n_rows": len(rows)},
                )
            )
            i = j
            continue

        if _QUOTE.match(line):
            j = i
            while (
                j + 1 < n
                and not blank(j + 1)
                and (_QUOTE.match(body(j + 1)) or not starts_block(j + 1))
            ):
                j += 1
            elements.append(Element("quote", offs[i], end_of(j)))
            i = j + 1
            continue

        m = _LIST_ITEM.match(line)
        if m:
            ordered = m.group(2)[0].isdigit()
            kind_of_marker = "ordered" if ordered else m.group(2)
            base_indent = len(m.group(1))
            spans: list[tuple[int, int]] = []
            item_start = last = i
            k = i + 1
            while k < n:
                if blank(k):
                    # A list goes on past blank lines when what follows is another item of the
                    # same list or an indented continuation.
                    k2 = k
                    while k2 < n and blank(k2):
                        k2 += 1
                    if k2 >= n:
                        break
                    nxt2 = body(k2)
                    mi2 = _LIST_ITEM.match(nxt2)
                    sibling = (
                        mi2 is not None
                        and _marker(mi2) == kind_of_marker
                        and len(mi2.group(1)) <= base_indent + 1
                    )
                    if sibling or _indent(nxt2) > base_indent + 1:
                        k = k2
                        continue
                    break
                nxt = body(k)
                mi = _LIST_ITEM.match(nxt)
                if mi and len(mi.group(1)) <= base_indent + 1:
                    if _marker(mi) != kind_of_marker:
                        break
                    spans.append((item_start, last))
                    item_start = last = k
                    k += 1
                    continue
                if not mi and starts_block(k) and _indent(nxt) <= base_indent:
                    break
                last = k
                k += 1
            spans.append((item_start, last))
            items = [Element("list_item", offs[a], end_of(b)) for a, b in spans]
            elements.append(
                Element(
                    "list", offs[i], end_of(last), attrs={"ordered": ordered, "n_items": len(items)}
                )
            )
            elements.extend(items)
            i = last + 1
            continue

        if _HTML_BLOCK.match(line):
            j = i
            while j + 1 < n and not blank(j + 1):
                j += 1
            elements.append(Element("html", offs[i], end_of(j)))
            i = j + 1
            continue

        # Paragraph, possibly a setext heading.
        j = i
        setext = None
        while j + 1 < n and not blank(j + 1):
            nm = _SETEXT.match(body(j + 1))
            if nm:
                setext = 1 if nm.group(1)[0] == "=" else 2
                break
            if starts_block(j + 1) or (
                "|" in body(j + 1) and j + 2 < n and _TABLE_SEP.match(body(j + 2))
            ):
                break
            j += 1
        if setext is not None:
            title = " ".join(text[offs[i] : end_of(j)].split())
            elements.append(
                Element("heading", offs[i], end_of(j + 1), level=setext, attrs={"title": title})
            )
            i = j + 2
            continue
        a = offs[i] + (len(line) - len(line.lstrip()))
        elements.append(Element("paragraph", a, end_of(j)))
        i = j + 1

    if "title" not in meta:
        for el in elements:
            if el.kind == "heading" and el.level == 1:
                meta["title"] = el.attrs.get("title", "")
                break
    meta["n_headings"] = sum(1 for e in elements if e.kind == "heading")
    if title_heading is not None and not any(
        e.kind == "heading" and e.level == 1 for e in elements
    ):
        # Without a level-1 heading of its own, the front matter's title heads the document, so
        # chunks carry it in their heading path (the element lies inside the front matter, which
        # chunks never cover).
        elements.insert(1, title_heading)
    return elements, meta
