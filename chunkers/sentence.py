"""General-purpose sentences grouped up to ``max_tokens``.

The splitter is a fast rule-based one for ordinary prose (abbreviations, initials, decimals,
closing quotes, ellipses, paragraph breaks); legal text has its own in ``chunkers/legal.py``.
A sentence longer than the cap is split at whitespace, then at token boundaries.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import pairwise

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

# The rule: terminal punctuation, optional closing quotes/brackets, whitespace, then something
# that can start a sentence; not before a lower-case character; a lone period not after an
# abbreviation or a single letter (the word before it: ``_word_before``).
_CANDIDATE = re.compile(r"""([.!?…]+)(["'”’»)\]]*)(\s+)(?=["'“‘«(\[]?[\w¿¡])""")
_WORD = re.compile(r"[\w.]+")
# Longer than any abbreviation: a longer word is none of them and not an initial, so looking at
# its last 16 characters decides the same (and a regex search over 40 characters tried a match
# at each of them).
_WORD_WINDOW = 16
_PUNCT = ".!?…"


def _word_before(text: str, start: int, at: int) -> str:
    r"""The run of word characters and dots that ends at ``at`` (or at ``at - 1`` when that is a
    newline, as ``[\w.]+$`` would find it), at most ``_WORD_WINDOW`` long and not before
    ``start``, lower-cased."""
    if at > start and text[at - 1] == "\n":
        at -= 1
    lo = max(start, at - _WORD_WINDOW)
    m = _WORD.match(text[lo:at][::-1])
    return m.group()[::-1].lower() if m else ""


def _is_start(text: str, start: int, at: int, pos: int) -> bool:
    """The rule for the candidate ``text[at:pos]`` (a ``_CANDIDATE`` match, ``pos`` < the end):
    whether a sentence starts at ``pos``."""
    # A lower-case continuation ("she asked", "p.m. sharp") is almost never a new sentence: an
    # abbreviation we do not know, or a quotation that goes on.
    if text[pos].islower():
        return False
    if text[at] == "." and text[at + 1] not in _PUNCT:
        word = _word_before(text, start, at)
        if word.rstrip(".") in ABBREVIATIONS:
            return False
        # Initials ("J. R. R. Tolkien") and single letters ("item a.") are not sentence ends.
        if len(word) == 1 and word.isalpha():
            return False
    return True


# The same rule in four regex scans, one per mark, with no Python step per candidate
# (sentence_starts). A scan that starts with a literal is a plain character search between
# tries (5 MB: ~10 ms for the periods); a class first ([.!?…]) is tested at every character
# (~25 ms), and _CANDIDATE's group first makes re try a whole match at every character (~55 ms).
# A candidate is tried at each mark of its run, but a later mark ends where the first does and
# is rejected whenever the first is (a lower-case letter next), so the set of ends is the rule's.
_TAIL = r"""["'”’»)\]]*\s+(?=["'“‘«(\[]?[\w¿¡])(?![a-z])"""
# A non-ASCII character next (a lower-case one?) is left to _is_start, apart from those that
# cannot be lower-case and open most sentences in typeset text.
_UNSURE_NEXT = r"(?:(?=[^\x00-\x7f“‘«¿¡])())?"
# So is a lone period after a newline (the word before it is on the line above) or after any
# non-ASCII character (a letter whose lower case is one or two characters, the Kelvin sign
# that lower-cases to k): the lookbehinds below then only meet ASCII words.
_UNSURE_WORD = r"(?:(?<=[^\x00-\x09\x0b-\x7f]\.)())?"
# Texts are scanned behind a space: a word at ``start`` then has a non-word character before
# it for the lookbehinds (the rule reads no word before ``start``).
_PAD = 1
# The characters besides A-Z whose lower case is an ASCII letter (a test checks every code point).
_LOWERS_TO = {"k": "\u212a"}


def _ascii_trie(words: list[str]) -> str:
    """A regex matching the words whose lower case is one of ``words`` (lower-case ASCII letters
    and dots), one alternative per distinct first character at each level."""
    if not words[0]:
        return ""
    heads: dict[str, list[str]] = {}
    for w in words:
        heads.setdefault(w[0], []).append(w[1:])
    alts = [
        (r"\." if c == "." else f"[{c}{c.upper()}{_LOWERS_TO.get(c, '')}]") + _ascii_trie(rest)
        for c, rest in sorted(heads.items())
    ]
    return alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"


def _not_after_abbreviation() -> str:
    r"""Negative lookbehinds, one per length, that fail where the period just matched ends an
    abbreviation or a single ASCII letter that a non-word character (or the padding) precedes:
    then the word before the period, ``[\w.]+`` up to it, is exactly that (its last character
    is no dot: a run of marks is matched from its first)."""
    by_length: dict[int, list[str]] = {1: []}
    for a in sorted(ABBREVIATIONS):
        by_length.setdefault(len(a), []).append(a)
    parts = []
    for n, words in sorted(by_length.items()):
        body = "[A-Za-z]" if n == 1 else _ascii_trie(words)
        parts.append(rf"(?<![^\w.]{body}\.)")
    return "".join(parts)


_SCANS = [
    # A lone period (a closer or a space next) must not end an abbreviation: the lookbehinds
    # run only where a candidate can match (over a third of big.txt's periods are not).
    re.compile(
        r"\.(?:(?=[\"'”’»)\]\s])" + _not_after_abbreviation() + _UNSURE_WORD
        + r"|[.!?…]+)" + _TAIL + _UNSURE_NEXT
    ),
    *(re.compile(re.escape(c) + r"[.!?…]*" + _TAIL + _UNSURE_NEXT) for c in "!?…"),
]  # fmt: skip
_SCAN_MARKS = list(zip(_PUNCT, _SCANS, strict=True))


def sentence_starts(text: str, start: int = 0, end: int | None = None) -> list[int]:
    """Offsets where a new sentence starts within text[start:end] (excluding ``start``)."""
    end = len(text) if end is None else end
    if end <= start:
        return []
    s = " " * _PAD + text[start:end]
    cuts = [m.end() for m in PARAGRAPH.finditer(s)]
    if cuts and cuts[-1] == end - start + _PAD:
        cuts.pop()
    for mark, scan in _SCAN_MARKS:
        if mark not in s:  # a search for one character costs less than a scan's set-up
            continue
        # A match with a group set is one the scan leaves to _is_start.
        cuts += [
            m.end()
            for m in scan.finditer(s)
            if m.lastindex is None or _is_start(s, _PAD, m.start(), m.end())
        ]
    # Sorted runs (one per scan), merged by the sort; a paragraph break after a sentence's
    # mark is found by two scans.
    cuts.sort()
    cuts.append(-1)
    shift = start - _PAD
    return [c + shift for c, after in pairwise(cuts) if c != after]


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
