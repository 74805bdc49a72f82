"""The packing core on its own (not through a chunker): Packer, merge, add_overlap, TokenIndex."""

from __future__ import annotations

import itertools
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chunkwise.packing import Packer, TokenIndex, add_overlap, merge, regex_level
from chunkwise.spans import trim
from chunkwise.tokenizers import get_tokenizer

TOK = get_tokenizer("cl100k_base")
WORDS = st.sampled_from(
    ["the", "court", "Mr.", "3.5", "naïve", "日本語", "🎉", "x" * 30, "end.", "—", "(a)", "|"]
)
SEPS = st.sampled_from([" ", "  ", "\n", "\n\n", "\t", ". ", " \n "])
TEXTS = st.lists(st.tuples(WORDS, SEPS), min_size=1, max_size=80).map(
    lambda ps: "".join(a + b for a, b in ps)
)
# A character is at most 4 bytes, so at most 4 byte-level BPE tokens: caps below that cannot hold.
SLOW = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _packer(text: str, cap: int) -> Packer:
    levels = [regex_level(re.compile(r"\n\n+"), text), regex_level(re.compile(r"\s+"), text)]
    return Packer(text, TOK, cap, levels)


@SLOW
@given(TEXTS, st.integers(min_value=4, max_value=40))
def test_pack_is_exact_capped_trimmed_ordered_and_covers_all_content(text: str, cap: int) -> None:
    spans, counts = _packer(text, cap).pack([(0, len(text))])
    assert len(spans) == len(counts)
    prev_end = 0
    for (a, b), n in zip(spans, counts, strict=True):
        assert prev_end <= a < b
        assert (a, b) == trim(text, a, b)
        assert n == TOK.count(text[a:b]) and n <= cap
        prev_end = b
    covered = set()
    for a, b in spans:
        covered.update(range(a, b))
    assert all(text[i].isspace() for i in range(len(text)) if i not in covered)


@SLOW
@given(TEXTS, st.integers(min_value=4, max_value=30))
def test_finish_counts_exactly_even_for_spans_ending_in_whitespace(text: str, cap: int) -> None:
    # Token windows may end in whitespace; whole-text tokens there can differ from the span's.
    index = TokenIndex(text, TOK)
    bounds = [0, *[int(s) for s in index.starts[cap::cap]], len(text)]
    planned = [(a, b) for a, b in itertools.pairwise(bounds) if a < b]
    spans, counts = _packer(text, cap).finish(planned)
    for (a, b), n in zip(spans, counts, strict=True):
        assert n == TOK.count(text[a:b]) and n <= cap


def test_merge_is_greedy_and_additive() -> None:
    pieces = [(0, 2, 3), (2, 5, 4), (5, 6, 1), (6, 9, 5), (9, 10, 9)]
    assert merge(pieces, 8) == [(0, 6, 8), (6, 9, 5), (9, 10, 9)]
    assert merge([], 8) == []
    assert merge(pieces, 100) == [(0, 10, 22)]


@given(TEXTS)
@settings(max_examples=40, deadline=None)
def test_token_index_counts_are_additive(text: str) -> None:
    index = TokenIndex(text, TOK)
    cuts = sorted({0, len(text) // 3, len(text) // 2, len(text)})
    parts = index.counts(cuts)
    assert sum(parts) == index.count(0, len(text)) == len(TOK.offsets(text)[0])
    assert parts == [index.count(a, b) for a, b in itertools.pairwise(cuts)]


@SLOW
@given(TEXTS, st.integers(min_value=4, max_value=30), st.integers(min_value=1, max_value=10))
def test_add_overlap_extends_starts_backwards_within_the_cap(
    text: str, cap: int, overlap: int
) -> None:
    packer = _packer(text, cap)
    spans, counts = packer.pack([(0, len(text))])
    out, out_counts = add_overlap(text, spans, counts, TOK, packer.index, overlap, cap)
    assert len(out) == len(spans) and out[:1] == spans[:1]
    for i, ((a, b), n) in enumerate(zip(out, out_counts, strict=True)):
        assert b == spans[i][1] and a <= spans[i][0]
        assert n == TOK.count(text[a:b]) and n <= cap
        if i and a < spans[i][0]:
            assert a >= spans[i - 1][0] and not text[a].isspace()
            # The overlap starts at a word (or where the previous chunk starts, maybe mid-word).
            assert a == spans[i - 1][0] or text[a - 1].isspace() or not text[a - 1].isalnum()


def test_add_overlap_example() -> None:
    text = "alpha beta gamma delta epsilon zeta"
    packer = _packer(text, 4)
    spans, counts = packer.pack([(0, len(text))])
    assert [text[a:b] for a, b in spans] == ["alpha beta gamma", "delta epsilon zeta"]
    assert counts == [3, 4]
    # Two tokens back from "delta" is " gamma": the overlap starts at the word, within cap 6.
    out, out_counts = add_overlap(text, spans, counts, TOK, packer.index, 2, 6)
    assert [text[a:b] for a, b in out] == ["alpha beta gamma", "gamma delta epsilon zeta"]
    assert out_counts == [3, 5]
    # A cap the longer chunk would exceed keeps the chunk as it was.
    assert add_overlap(text, spans, counts, TOK, packer.index, 2, 4) == (spans, counts)
    assert add_overlap(text, spans, counts, TOK, packer.index, 0, 6) == (spans, counts)


def _reference_split(packer: Packer, a: int, b: int, level: int = 0) -> list[tuple[int, int, int]]:
    """Packer.split as it was before batching: the whole list of pieces, then ``merge``."""
    n = packer.index.count(a, b)
    if n <= packer.max:
        return [(a, b, n)]
    while level < len(packer.levels):
        cuts = list(packer.levels[level](a, b))
        if cuts:
            break
        level += 1
    else:
        cuts = packer.index.token_cuts(a, b, packer.max)
        if not cuts:
            return [(a, b, n)]
        bounds = [a, *cuts, b]
        return list(zip(bounds, bounds[1:], packer.index.counts(bounds), strict=False))
    bounds = [a, *cuts, b]
    pieces: list[tuple[int, int, int]] = []
    for s, e, c in zip(bounds, bounds[1:], packer.index.counts(bounds), strict=False):
        pieces.extend([(s, e, c)] if c <= packer.max else _reference_split(packer, s, e, level + 1))
    return merge(pieces, packer.max)


@SLOW
@given(
    TEXTS,
    st.integers(min_value=1, max_value=40),
    st.sampled_from([1, 2, 3, 5, 1 << 15]),
    st.sampled_from([0, 2, 64]),
)
def test_batched_split_plans_the_same_chunks_as_one_merge(
    text: str, cap: int, batch: int, few: int
) -> None:
    """Whatever the batch size, and whether a batch is merged with lists (up to ``_FEW_CUTS``
    cuts) or numpy arrays, the chunks are those of one merge, as Python ints."""
    import chunkwise.packing as packing

    levels = [
        regex_level(re.compile(r"\n\n+"), text),
        regex_level(re.compile(r"\n"), text),
        regex_level(re.compile(r"\s+"), text),
    ]
    packer = Packer(text, TOK, cap, levels)
    want = _reference_split(packer, 0, len(text))
    old = packing._BATCH, packing._FEW_CUTS
    packing._BATCH, packing._FEW_CUTS = batch, few
    try:
        got = packer.split(0, len(text))
    finally:
        packing._BATCH, packing._FEW_CUTS = old
    assert got == want
    assert all(type(x) is int for piece in got for x in piece)


def test_space_codepoints_are_what_the_regex_calls_whitespace() -> None:
    from chunkwise.packing import _SPACE_CODEPOINTS

    every = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000)
    assert [ord(m.group()) for m in re.finditer(r"\s", every)] == _SPACE_CODEPOINTS.tolist()


_WS_TEXTS = st.lists(
    st.sampled_from(["a", "bc", "é", "日", "🎉", " ", "  ", "\t", "\n", "\x1c", "\x85", "\xa0"])
    | st.sampled_from(["\u2003", "\u3000", "\u200b", "\ud800", "x\u2028y"]),
    max_size=60,
).map("".join)


@settings(max_examples=200, deadline=None)
@given(_WS_TEXTS, st.data(), st.integers(1, 9))
def test_whitespace_level_cuts_where_the_regex_does(
    text: str, data: st.DataObject, window: int
) -> None:
    from chunkwise.packing import WhitespaceLevel

    a = data.draw(st.integers(0, len(text)))
    b = data.draw(st.integers(a, len(text)))
    level = regex_level(re.compile(r"\s+"), text)
    assert isinstance(level, WhitespaceLevel)
    level.window = window
    want = [e for m in re.compile(r"\s+").finditer(text, a, b) if a < (e := m.end()) < b]
    assert list(level(a, b)) == want
    assert [int(x) for batch in level.batches(a, b) for x in batch] == want
