"""General-purpose sentences grouped up to ``max_tokens``.

The splitter is a fast rule-based one for ordinary prose (abbreviations, initials, decimals,
closing quotes, ellipses, paragraph breaks); legal text has its own in ``chunkers/legal.py``.
A sentence longer than the cap is split at whitespace, then at token boundaries.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from chunkwise.chunking import BaseChunker, content_spans
from chunkwise.packing import Packer, positions_level, regex_level
from chunkwise.spans import PARAGRAPH, WHITESPACE
from chunkwise.types import Chunk, Document

ABBREVIATIONS = frozenset(
    """
    mr mrs ms dr prof sr jr st mt ft vs etc e.g i.e cf al fig figs eq eqs no nos vol vols pp p
    inc ltd co corp dept univ assn bros est approx jan feb mar apr jun jul aug sep sept oct nov dec
    mon tue tues wed thu thur thurs fri sat sun gen col lt sgt capt cmdr adm gov sen rep rev hon
    ave blvd rd u.s u.k a.m p.m ph.d m.d b.a m.a ed eds op cit ca viz
    """.split()
)

# Terminal punctuation, optional closing quotes/brackets, whitespace, then something that can
# start a sentence.
_CANDIDATE = re.compile(r"""([.!?…]+)(["'”’»)\]]*)(\s+)(?=["'“‘«(\[]?[\w¿¡])""")
_WORD = re.compile(r"[\w.]+")
# Longer than any abbreviation: a longer word is none of them and not an initial, so looking at
# its last 16 characters decides the same (and a regex search over 40 characters tried a match
# at each of them: most of this function's time).
_WORD_WINDOW = 16
_LONG_WORD = 1 + max(len(a) for a in ABBREVIATIONS)


def _word_before(text: str, start: int, at: int) -> str:
    r"""The run of word characters and dots that ends at ``at`` (or at ``at - 1`` when that is a
    newline, as ``[\w.]+$`` would find it), at most ``_WORD_WINDOW`` long and not before
    ``start``, lower-cased."""
    if at > start and text[at - 1] == "\n":
        at -= 1
    lo = max(start, at - _WORD_WINDOW)
    m = _WORD.match(text[lo:at][::-1])
    return m.group()[::-1].lower() if m else ""


def sentence_starts(text: str, start: int = 0, end: int | None = None) -> list[int]:
    """Offsets where a new sentence starts within text[start:end] (excluding ``start``)."""
    end = len(text) if end is None else end
    cuts: set[int] = set()
    for m in PARAGRAPH.finditer(text, start, end):
        if start < m.end() < end:
            cuts.add(m.end())
    add = cuts.add
    for m in _CANDIDATE.finditer(text, start, end):
        pos = m.end()
        # A lower-case continuation ("she asked", "p.m. sharp") is almost never a new sentence:
        # an abbreviation we do not know, or a quotation that goes on.
        if pos >= end or text[pos].islower():
            continue
        if m.group(1) == ".":
            at = m.start()
            # Seven letters right before the period: a word longer than any abbreviation and
            # than an initial, a sentence end (the common case, decided without the word).
            if at - _LONG_WORD >= start and text[at - _LONG_WORD : at].isalpha():
                add(pos)
                continue
            word = _word_before(text, start, at)
            if word.rstrip(".") in ABBREVIATIONS:
                continue
            # Initials ("J. R. R. Tolkien") and single letters ("item a.") are not sentence ends.
            if len(word) == 1 and word.isalpha():
                continue
        add(pos)
    return sorted(cuts)


class SentenceChunker(BaseChunker):
    name = "sentence"

    def chunk(self, doc: Document) -> Iterator[Chunk]:
        text = doc.text
        regions = content_spans(doc, self.config.keep_furniture)
        starts: list[int] = []
        for a, b in regions:
            starts.extend(sentence_starts(text, a, b))
        levels = [positions_level(starts), regex_level(WHITESPACE, text)]
        # Chunks are packed to leave room for the overlap that is prepended afterwards.
        budget = self.config.max_tokens - self.config.overlap
        packer = Packer(text, self.tokenizer, budget, levels)
        spans, counts = packer.pack(regions)
        spans, counts = self.with_overlap(packer, spans, counts)
        yield from self.build(doc, spans, counts)
