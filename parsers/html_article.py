"""Article-mode repairs on top of trafilatura's main-text extraction, measured on the
article-extraction-benchmark pages (benchmarks/html_extraction.py, issue 19):

- **Page furniture.** Before extraction, elements whose class or id has a furniture word
  (newsletter, promo, ad, cookie, rollover...) go, matched case-insensitively on whole words;
  trafilatura's own patterns are case-sensitive and miss "Newsletter-container".
- **Split bodies.** Some sites cut one article into several sibling containers of the same class
  (a grid item per chunk, with ad rails between them); trafilatura keeps the first and drops the
  rest. The containers of the extracted paragraphs give the body's class signature; other elements
  of that signature near them in the page, after them, holding paragraph text that was not
  extracted, are the rest of the article and are read in document order.
- **Shortcodes.** A paragraph that is one unrendered WordPress shortcode is a widget.
- **Small pages.** On a page that is little more than its article (a table, a short note under
  headings), trafilatura flattens tables and drops or flattens headings and lists. There the
  page's own reading from the article's first words to its last (plus the headings right above)
  replaces it, so headings, tables and lists keep their kinds and levels (issue 22)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from typing import Any

from chunkwise.parsers.html import _article_blocks, _Block, _block_plain

_WORDS = re.compile(r"\w+")
# A paragraph is recognised by its first words; shorter paragraphs are too common to identify.
_KEY_WORDS = 8
_MIN_KEY_CHARS = 30
# A continuation must hold this much paragraph text of its own; smaller matches are teasers.
_MIN_CONTINUATION_CHARS = 200
# How far up the tree a continuation and the extracted body may be apart (grid cell, grid, chunk
# list): further apart, a same-class element is another article (a teaser list).
_MAX_ANCESTOR_HOPS = 3
# A class that many elements share is a list item's, not an article body's.
_MAX_CANDIDATES = 32
# Small pages. Cheap first test: the article holds this share of the page's visible text.
SMALL_PAGE_SHARE = 0.6
# A block of the page's own reading belongs to the article when this share of its words is in the
# article; such blocks of at least _ANCHOR_WORDS words set the article's extent (a one-word menu
# item is made of article words too), and together they must account for COVER_SHARE of the
# article's words.
KEEP_SHARE = 0.9
_ANCHOR_WORDS = 5
COVER_SHARE = 0.97
# The page is "little more than its article" when what lies outside that extent is at most this
# share of its text, and the structure added inside it at most this share of the article.
SMALL_PAGE_OUTSIDE = 0.15
SMALL_PAGE_GROWTH = 0.5
# A list whose text is mostly link text is navigation or a story list.
LINK_DENSE = 0.8


# Class and id words of page furniture, matched case-insensitively on whole words of the
# attribute ("Newsletter-stateSent" -> newsletter, state, sent). trafilatura's own discard
# patterns are case-sensitive and miss "Newsletter", "ArticleEventPromo", "rollover-people".
_FURNITURE = frozenset(
    """
    newsletter newsletters subscribe subscription signup promo promos promotion recirc
    recirculation outbrain taboola sponsored advert advertisement advertising ad ads adslot
    dfp cookie cookies consent gdpr paywall rollover tooltip popup modal notification
    disclosure trending
    """.split()
)
_ATTR_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
# Never removed, whatever its class says: a wrapper this big is the page's content.
_MAX_FURNITURE_SHARE = 0.3


def _furniture(attrs: str) -> bool:
    return any(w.lower() in _FURNITURE for w in _ATTR_WORDS.findall(attrs))


def strip_furniture(tree: Any) -> int:
    """Remove page furniture (newsletter boxes, promos, ads, cookie notices, hover cards) from
    ``tree`` in place, before extraction; returns how many elements went."""
    body = tree.find("body") if tree is not None else None
    if body is None:
        return 0
    doomed = []
    for el in body.iter():
        attrs = el.get("class") or el.get("id")
        if attrs is None or not isinstance(el.tag, str) or el.tag in ("main", "article"):
            continue
        if el.get("id") and el.get("class"):
            attrs = f"{el.get('class')} {el.get('id')}"
        if _furniture(attrs):
            doomed.append(el)
    if not doomed:
        return 0
    total = len(body.text_content()) or 1
    gone: set[int] = set()
    for el in doomed:
        if any(id(a) in gone for a in el.iterancestors()):
            continue
        if len(el.text_content()) <= _MAX_FURNITURE_SHARE * total:
            el.drop_tree()
            gone.add(id(el))
    return len(gone)


# A WordPress shortcode the site failed to render: "[button link=...]Send us YOUR review[/button]".
_SHORTCODE = re.compile(r"\[([a-z_]+)\b[^\]\n]*\].*\[/\1\]", re.DOTALL)


def drop_shortcodes(blocks: list[_Block]) -> list[_Block]:
    """Paragraphs that are one unrendered shortcode are widgets (buttons, forms), not text."""
    return [b for b in blocks if not (b.kind == "paragraph" and _SHORTCODE.fullmatch(b.text))]


def _key(text: str) -> str:
    return " ".join(_WORDS.findall(text.lower())[:_KEY_WORDS])


def _signature(el: Any) -> tuple[str, str] | None:
    cls = (el.get("class") or "").strip()
    return (str(el.tag), cls) if cls and isinstance(el.tag, str) else None


def _paragraph_keys(blocks: list[_Block]) -> set[str]:
    keys = set()
    for b in blocks:
        if b.kind in ("paragraph", "quote"):
            k = _key(b.text)
            if len(k) >= _MIN_KEY_CHARS:
                keys.add(k)
    return keys


def split_body_continuations(tree: Any, blocks: list[_Block]) -> list[_Block]:
    """Blocks of the article's sibling containers after the extracted ones that the extraction
    dropped, in document order; empty when the body is not split. Only containers after the
    extracted body count: one before it is a lead-in (a fact check's claim, a teaser)."""
    keys = _paragraph_keys(blocks)
    body = tree.find("body") if tree is not None else None
    if len(keys) < 2 or body is None:
        return []
    paragraphs = list(body.iter("p"))
    parents: Counter[tuple[str, str]] = Counter()
    matched: list[Any] = []
    for p in paragraphs:
        parent = p.getparent()
        sig = _signature(parent) if parent is not None else None
        if sig is not None and _key(p.text_content()) in keys:
            parents[sig] += 1
            matched.append(parent)
    if not parents:
        return []
    sig, n = parents.most_common(1)[0]
    if n < 2:
        return []
    home = {id(e) for e in matched if _signature(e) == sig}
    near: set[int] = set()
    for e in matched:
        if _signature(e) == sig:
            for _ in range(_MAX_ANCESTOR_HOPS):
                e = e.getparent()
                if e is None:
                    break
                near.add(id(e))
    extra = []
    candidates = [el for el in body.iter(sig[0]) if id(el) not in home and _signature(el) == sig]
    if len(candidates) > _MAX_CANDIDATES:
        return []
    for el in candidates:
        ps = list(el.iter("p"))
        if any(_key(p.text_content()) in keys for p in ps):
            continue
        if sum(len(p.text_content().strip()) for p in ps) < _MIN_CONTINUATION_CHARS:
            continue
        up, hops = el.getparent(), 0
        while up is not None and hops < _MAX_ANCESTOR_HOPS and id(up) not in near:
            up, hops = up.getparent(), hops + 1
        if up is not None and id(up) in near:
            extra.append(el)
    if not extra:
        return []
    order = {id(e): i for i, e in enumerate(body.iter())}
    last_home = max(order[i] for i in home if i in order)
    return _cleaned([el for el in extra if order[id(el)] > last_home])


def _cleaned(elements: list[Any]) -> list[_Block]:
    """The blocks of ``elements`` after trafilatura's own boilerplate removal (subscription boxes
    and story lists sit inside the chunks too)."""
    if not elements:
        return []
    import lxml.html

    inner = "".join(lxml.html.tostring(el, encoding="unicode") for el in elements)
    page = lxml.html.document_fromstring(f"<html><body><article>{inner}</article></body></html>")
    for lst in list(page.iter("ul", "ol")):
        if _link_dense(lst):
            # "More Great Stories": a list of links to other articles.
            lst.drop_tree()
    blocks, _ = _article_blocks(page, len(inner))
    return blocks


def _link_dense(el: Any) -> bool:
    """Mostly link text, or a link in every item of a list of several ("YouTubers must unionize,
    <a>no matter what Google says</a>")."""
    text = len(el.text_content().strip())
    linked = sum(len(a.text_content().strip()) for a in el.iter("a"))
    items = [li for li in el if li.tag == "li"]
    every_item = len(items) >= 3 and all(li.find(".//a") is not None for li in items)
    return text > 0 and (linked >= LINK_DENSE * text or (every_item and linked >= 0.4 * text))


_STRUCTURE = frozenset({"heading", "table", "list"})


def _structure(blocks: list[_Block]) -> int:
    return sum(1 for b in blocks if b.kind in _STRUCTURE)


def visible_chars(tree: Any) -> int:
    """Characters of the body's text, scripts and styles left out (an estimate: whitespace
    counts)."""
    body = tree.find("body") if tree is not None else None
    if body is None:
        return 0
    hidden = sum(len(el.text or "") for el in body.iter("script", "style", "noscript"))
    return len(body.text_content()) - hidden


def restructure_small_page(
    article: list[_Block], tree: Any, full_blocks: Callable[[Any], list[_Block]]
) -> list[_Block] | None:
    """On a page that is little more than its article, the page's own blocks (full mode) from the
    article's first words to its last: headings, tables and lists come back where trafilatura
    flattened or dropped them, while what lies around the article (menus, byline, footer) stays
    out. The headings right above the article's first block are its titles and are kept too.
    None when the page is not small, the full reading has no more structure, does not account for
    the article's words, or would add more than ``SMALL_PAGE_GROWTH`` of text.
    ``full_blocks(tree)`` only runs past the first, cheap test."""
    article_len = sum(len(_block_plain(b)) for b in article)
    if not article_len or article_len < SMALL_PAGE_SHARE * visible_chars(tree):
        return None
    full = full_blocks(tree)
    if _structure(full) <= _structure(article):
        return None
    left = Counter(w for b in article for w in _WORDS.findall(_block_plain(b).lower()))
    total = remaining = sum(left.values())
    inside = []
    anchors = []
    for i, b in enumerate(full):
        words = Counter(_WORDS.findall(_block_plain(b).lower()))
        n = sum(words.values())
        if n and sum(min(c, left[w]) for w, c in words.items() if w in left) >= KEEP_SHARE * n:
            inside.append(i)
            # Only this block's words change: ``left -= words`` would rescan every word left
            # (quadratic on a page of numbers and ids).
            for w, c in words.items():
                have = left.get(w, 0)
                if have:
                    remaining -= min(c, have)
                    if have > c:
                        left[w] = have - c
                    else:
                        del left[w]
            if n >= _ANCHOR_WORDS:
                anchors.append(i)
    if not anchors or remaining > (1 - COVER_SHARE) * total:
        return None
    # A menu item ("Business") is made of article words too: the article's extent is set by
    # blocks long enough to be its own.
    lo, hi = anchors[0], anchors[-1]
    keep = set(inside)
    # Short article blocks after the last long one ("Deeper text."), with the headings above them.
    while hi + 1 < len(full) and (
        hi + 1 in keep or (full[hi + 1].kind == "heading" and hi + 2 in keep)
    ):
        hi += 1
    # The headings right above the first block: its section's and the page's own.
    while lo > 0 and full[lo - 1].kind == "heading":
        lo -= 1
    lengths = [len(_block_plain(b)) for b in full]
    if sum(lengths[:lo]) + sum(lengths[hi + 1 :]) > SMALL_PAGE_OUTSIDE * sum(lengths):
        return None
    kept = [b for i, b in enumerate(full[lo : hi + 1], lo) if i in keep or b.kind in _STRUCTURE]
    growth = sum(len(_block_plain(b)) for b in kept) - article_len
    if growth > SMALL_PAGE_GROWTH * article_len or _structure(kept) <= _structure(article):
        return None
    return kept
