"""Recursive splitting along a separator hierarchy, merged greedily up to ``max_tokens``.

Hierarchy: section starts (heading elements), block starts (paragraphs, tables, code, lists from
the parser), blank lines, line breaks, sentence ends, whitespace, and finally token boundaries.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator

from chunkwise.chunking import BaseChunker, content_spans
from chunkwise.packing import Level, Packer, TokenIndex, positions_level, regex_level
from chunkwise.spans import SEPARATORS
from chunkwise.types import Chunk, Document


def structure_levels(doc: Document) -> list[Level]:
    """Cut levels from the parser's elements, coarsest first; empty for plain text."""
    levels: list[Level] = []
    headings = [e.start for e in doc.elements if e.kind == "heading"]
    if headings:
        levels.append(positions_level(headings))
    blocks = [e.start for e in doc.elements if e.kind not in ("heading",)]
    if blocks:
        levels.append(positions_level(blocks))
    return levels


def text_levels(text: str) -> list[Level]:
    return [regex_level(pattern, text) for pattern in SEPARATORS]


class _Prepared:
    """What ``prepare`` made for a document: ``chunk`` finds it again while the caller holds it."""

    __slots__ = ("__weakref__", "doc", "index", "levels")

    def __init__(self, doc: Document, levels: list[Level], index: TokenIndex) -> None:
        self.doc, self.levels, self.index = doc, levels, index


class RecursiveChunker(BaseChunker):
    name = "recursive"

    def configure(self) -> None:
        # By id(doc), weakly: an entry lives as long as the pipeline holds what prepare returned.
        self._prepared: weakref.WeakValueDictionary[int, _Prepared] = weakref.WeakValueDictionary()

    def prepare(self, doc: Document) -> _Prepared:
        levels = self.levels(doc)
        prepared = _Prepared(doc, levels, Packer.index_for(doc.text, self.tokenizer, levels))
        self._prepared[id(doc)] = prepared
        return prepared

    @staticmethod
    def levels(doc: Document) -> list[Level]:
        return structure_levels(doc) + text_levels(doc.text)

    def chunk(self, doc: Document) -> Iterator[Chunk]:
        text = doc.text
        prepared = self._prepared.get(id(doc))
        if prepared is not None and prepared.doc is doc:
            levels, index = prepared.levels, prepared.index
        else:
            levels, index = self.levels(doc), None
        # Chunks are packed to leave room for the overlap that is prepended afterwards.
        budget = self.config.max_tokens - self.config.overlap
        packer = Packer(text, self.tokenizer, budget, levels, index=index)
        spans, counts = packer.pack(content_spans(doc, self.config.keep_furniture))
        spans, counts = self.with_overlap(packer, spans, counts)
        yield from self.build(doc, spans, counts)
