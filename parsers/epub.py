"""E-books (.epub, EPUB 2 and 3), read from the zip: the package file's spine gives the chapters'
order, and each chapter's XHTML goes through the HTML parser's full-page reader (every visible
block: an e-book has no boilerplate to drop).

Headings come from the chapters' own ``<h1>``-``<h6>``; a chapter that starts without a heading
gets its table-of-contents title (EPUB 3 nav or EPUB 2 NCX) as a level-1 heading, marked
``generated``, so every chapter is a section. Title, author, language and publisher come from the
package metadata. Non-linear spine items (pop-up notes) are kept, after the linear ones.
"""

from __future__ import annotations

import posixpath
from typing import Any
from urllib.parse import unquote

from chunkwise.archive import SafeZip, open_zip, parse_xml
from chunkwise.blocks import Block, BlocksParser, clean_inline, from_html_blocks
from chunkwise.errors import ParseError
from chunkwise.ooxml import child, children, local

WHAT = "EPUB e-book"
_XHTML = frozenset({"application/xhtml+xml", "text/html", "application/xml"})


def _resolve(base: str, href: str) -> str:
    href = unquote(href.split("#", 1)[0])
    return posixpath.normpath(posixpath.join(posixpath.dirname(base), href)) if href else ""


def _rootfile(zf: SafeZip) -> str:
    if zf.has("META-INF/container.xml"):
        root = parse_xml(zf, "META-INF/container.xml")
        for el in root.iter():
            if local(el) == "rootfile" and el.get("full-path"):
                path = el.get("full-path") or ""
                if zf.has(path):
                    return zf.find(path) or path
    opf = next((n for n in zf.names() if n.lower().endswith(".opf")), None)
    if opf is None:
        raise ParseError(f"not an {WHAT}: no META-INF/container.xml and no .opf package file")
    return opf


def _toc_titles(zf: SafeZip, manifest: dict[str, tuple[str, str, str]]) -> dict[str, str]:
    """Chapter file -> its first table-of-contents title."""
    titles: dict[str, str] = {}
    nav = next((href for href, mt, props in manifest.values() if "nav" in props.split()), None)
    ncx = next(
        (href for href, mt, _ in manifest.values() if mt == "application/x-dtbncx+xml"), None
    )
    try:
        if nav and zf.has(nav):
            for a in (e for e in _xml(zf, nav).iter() if local(e) == "a" and e.get("href")):
                target = _resolve(nav, a.get("href") or "")
                text = clean_inline("".join(a.itertext()))
                if target and text:
                    titles.setdefault(target, text)
        elif ncx and zf.has(ncx):
            for point in (e for e in parse_xml(zf, ncx).iter() if local(e) == "navPoint"):
                label = child(point, "navLabel")
                content = child(point, "content")
                if label is None or content is None:
                    continue
                text = clean_inline("".join(label.itertext()))
                target = _resolve(ncx, content.get("src") or "")
                if target and text:
                    titles.setdefault(target, text)
    except ParseError:
        return titles  # a broken table of contents costs the generated headings only
    return titles


def _xml(zf: SafeZip, name: str) -> Any:
    from chunkwise.parsers.html import _XML_DECL, _load, decode_html

    html, _ = decode_html(zf.read(name))
    # lxml refuses a str that still declares its encoding.
    tree, _ = _load(_XML_DECL.sub("", html, count=1))
    if tree is None:
        raise ParseError(f"damaged {WHAT}: {name} has no markup")
    return tree


def read_epub(data: bytes) -> tuple[list[Block], dict[str, Any]]:
    from chunkwise.parsers.html import _full_blocks

    zf = open_zip(data, WHAT)
    try:
        if zf.has("META-INF/encryption.xml"):
            enc = zf.read("META-INF/encryption.xml")
            if b"EncryptedData" in enc and b"font" not in enc.lower():
                raise ParseError(f"DRM-protected {WHAT}: its chapters are encrypted")
        opf = _rootfile(zf)
        root = parse_xml(zf, opf)
        meta: dict[str, Any] = {"mime": "application/epub+zip"}
        md = child(root, "metadata")
        if md is not None:
            for el in md:
                key = {
                    "title": "title",
                    "creator": "author",
                    "language": "language",
                    "publisher": "publisher",
                    "date": "date",
                }.get(local(el))
                text = clean_inline(el.text or "")
                if key and text and key not in meta:
                    meta[key] = text
        manifest: dict[str, tuple[str, str, str]] = {}
        man = child(root, "manifest")
        for item in children(man, "item") if man is not None else []:
            iid, href = item.get("id"), item.get("href")
            if iid and href:
                manifest[iid] = (
                    _resolve(opf, href),
                    item.get("media-type") or "",
                    item.get("properties") or "",
                )
        spine = child(root, "spine")
        linear: list[str] = []
        extra: list[str] = []
        for ref in children(spine, "itemref") if spine is not None else []:
            entry = manifest.get(ref.get("idref") or "")
            if entry is None or entry[1] not in _XHTML:
                continue
            (extra if ref.get("linear") == "no" else linear).append(entry[0])
        titles = _toc_titles(zf, manifest)
        blocks: list[Block] = []
        n = 0
        for href in linear + extra:
            if not zf.has(href):
                continue
            chapter = from_html_blocks(_full_blocks(_xml(zf, href)))
            if not any(b.text.strip() or b.items or b.rows for b in chapter):
                continue
            n += 1
            if (not chapter or chapter[0].kind != "heading") and href in titles:
                chapter.insert(
                    0, Block("heading", titles[href], level=1, attrs={"generated": True})
                )
            for b in chapter:
                if b.kind == "heading":
                    b.attrs.setdefault("chapter", href)
                    break
            blocks.extend(chapter)
        meta["n_chapters"] = n
        return blocks, meta
    finally:
        zf.close()


class EpubParser(BlocksParser):
    name = "epub"
    extensions = (".epub",)

    def read(self, data: bytes) -> tuple[list[Block], dict[str, Any]]:
        return read_epub(data)
