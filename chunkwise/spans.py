"""Character spans of a text: the one whitespace trim, the separators text is cut at, and the
one "keep it if it fits the cap, else split it" loop.

Light on purpose (only ``re``): parsers, chunkers and the quality metrics all use it."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Sequence

Span = tuple[int, int]
# Pieces of the span [a, b) as (start, end, token count).
Splitter = Callable[[int, int], Iterable[tuple[int, int, int]]]

# Separators, coarsest first: a cut goes after the match, so the whitespace stays with the text
# before it and the next piece starts on content.
PARAGRAPH = re.compile(r"\n[ \t]*\n\s*")
LINE = re.compile(r"\n\s*")
SENTENCE_END = re.compile(r"""[.!?…]+["'”’)\]]*\s+""")
WHITESPACE = re.compile(r"\s+")
SEPARATORS = (PARAGRAPH, LINE, SENTENCE_END, WHITESPACE)


def trim(text: str, a: int, b: int) -> Span:
    """``[a, b)`` without leading and trailing whitespace; empty (``b, b``) when all blank."""
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return a, b


def trimmed_pieces(text: str, bounds: Iterable[int]) -> list[Span]:
    """The pieces between consecutive ``bounds``, trimmed, blank ones dropped."""
    out: list[Span] = []
    for s, e in itertools.pairwise(bounds):
        a, b = trim(text, s, e)
        if a < b:
            out.append((a, b))
    return out


def split_over(
    spans: Sequence[Span], counts: Sequence[int], cap: int, split: Splitter
) -> tuple[list[Span], list[int]]:
    """Spans whose count is within ``cap`` as they are; any other replaced by the pieces
    ``split(a, b)`` makes of it (``(start, end, count)`` each)."""
    out: list[Span] = []
    out_counts: list[int] = []
    for (a, b), n in zip(spans, counts, strict=True):
        if n <= cap:
            out.append((a, b))
            out_counts.append(n)
        else:
            for s, e, c in split(a, b):
                out.append((s, e))
                out_counts.append(c)
    return out, out_counts
