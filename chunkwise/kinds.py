"""Element and chunk kinds: the one definition of each set, and the one rule that names a chunk's
``kind`` (docs/design.md, data model). Light on purpose: parsers, chunkers and the quality metrics
all import it."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from chunkwise.types import Element

_NONBLANK = re.compile(r"\S")

HEADING = "heading"
PARAGRAPH = "paragraph"
# A chunk's kind when its content is not all one block.
TEXT = "text"

# Element kinds that describe page furniture, not content: kept in the Document, left out of
# chunks unless the user asks for them.
FURNITURE_KINDS = frozenset({"header", "footer", "page_header", "page_footer"})
# Never chunk text: metadata the parser already lifted into Document.metadata (YAML front matter).
METADATA_KINDS = frozenset({"front_matter"})
# Blocks: a chunk lying entirely inside blocks of one of these kinds reports that kind.
BLOCK_KINDS = frozenset({"table", "code", "list", "figure", "caption", "formula", "quote"})
# The blocks a chunk boundary should not cut (chunkwise.quality). A caption is left out: it is
# one line beside its figure or table, which is the block whose integrity counts.
UNCUT_BLOCK_KINDS = BLOCK_KINDS - {"caption"}
# What a vision page reader labels a region with: headings and paragraphs, and the blocks a page
# image shows (code, formulas and quotes read as paragraphs there). Ordered: the OpenAI reader's
# JSON schema lists them in this order.
LAYOUT_KINDS = (HEADING, PARAGRAPH, "list", "table", "figure", "caption")


def chunk_kind(parts: Iterable[str]) -> str:
    """The kind of a chunk made of top-level parts of these kinds: the block kind when every part
    that is not a heading is a block of that one kind, else ``text`` (also for headings alone)."""
    content = {k for k in parts if k != HEADING}
    if len(content) == 1:
        (only,) = content
        if only in BLOCK_KINDS:
            return only
    return TEXT


def span_kind(text: str, elements: Sequence[Element], start: int, end: int) -> str:
    """The kind of the chunk ``text[start:end]`` given the ``elements`` that overlap it.

    The parts are the block elements, every other element that lies outside all blocks, and any
    non-blank text no element claims (plain-text parsers); headings do not count
    (:func:`chunk_kind`)."""
    if BLOCK_KINDS.isdisjoint({e.kind for e in elements}):
        # Without a block the answer is text whatever else is there; skip the scans below.
        return TEXT
    blocks = [e for e in elements if e.kind in BLOCK_KINDS]
    kind = blocks[0].kind
    # Two parts of different kinds make text: return as soon as a second kind shows.
    if any(b.kind != kind for b in blocks):
        return TEXT
    for el in elements:
        if el.kind == HEADING or el.kind in BLOCK_KINDS:
            continue
        if not any(b.start <= el.start and el.end <= b.end for b in blocks):
            return TEXT
    claimed = sorted(
        (max(e.start, start), min(e.end, end))
        for e in elements
        if e.kind == HEADING or e.kind in BLOCK_KINDS
    )
    pos = start
    for a, b in claimed:
        if pos < a and _NONBLANK.search(text, pos, a):
            return TEXT
        pos = max(pos, b)
    if pos < end and _NONBLANK.search(text, pos, end):
        return TEXT
    return chunk_kind((kind,))
