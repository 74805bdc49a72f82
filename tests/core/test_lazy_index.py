"""The lazy token index (atom counts, offsets only where asked) answers exactly as the eager one."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chunkwise import bpe_index
from chunkwise.packing import LazyCounts, Packer, TokenIndex, positions_level, regex_level
from chunkwise.spans import SEPARATORS
from chunkwise.tokenizers import RsBpeTokenizer, TiktokenTokenizer, bpe_backends, get_tokenizer
from tests.core.test_bpe_index import _ATOMS

ENCODINGS = ["cl100k_base", "o200k_base"]
# Sentence ends and words after them (where the packer cuts long lines), on top of every break
# and character a cut could land on or next to.
_PIECES = st.one_of(
    _ATOMS,
    st.sampled_from([". ", "? ", '." ', "” ", "end. Next", " said. The", "\n/usr", "a  b"]),
)
_TEXTS = st.lists(_PIECES, min_size=0, max_size=150).map("".join)
SLOW = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@contextmanager
def small_atoms(sentence_line: int, block: int, long_atom: int = 10**9) -> Iterator[None]:
    """Sentence cuts and blocks at the scale of the generated texts, and atoms of any density."""
    names = ("SENTENCE_LINE", "LONG_ATOM", "ATOM_DENSITY")
    saved = [getattr(bpe_index, k) for k in names], LazyCounts.BLOCK_CHARS
    for k, v in zip(names, (sentence_line, long_atom, 1), strict=True):
        setattr(bpe_index, k, v)
    LazyCounts.BLOCK_CHARS = block
    try:
        yield
    finally:
        for k, v in zip(names, saved[0], strict=True):
            setattr(bpe_index, k, v)
        LazyCounts.BLOCK_CHARS = saved[1]


@functools.cache
def tokenizer(name: str, backend: str) -> RsBpeTokenizer | TiktokenTokenizer:
    if backend == "rs-bpe":
        return RsBpeTokenizer(name)
    tok = TiktokenTokenizer(name)
    # tiktoken counts by encoding (no faster), so it keeps the eager index; its counts are exact
    # all the same, and the lazy index must agree with it too.
    tok.lazy_counts = True
    return tok


def lazy_index(text: str, tok: RsBpeTokenizer | TiktokenTokenizer) -> TokenIndex:
    index = TokenIndex(text, tok, lazy=True)
    assert index._lazy is not None
    return index


def lazy_counts(text: str, tok: RsBpeTokenizer | TiktokenTokenizer) -> LazyCounts:
    """The lazy answers themselves: the index would switch to the eager ones once half of a
    short text is encoded."""
    lazy = lazy_index(text, tok)._lazy
    assert lazy is not None
    return lazy


def _same_token_bounds(
    fresh: Callable[[], LazyCounts | TokenIndex], eager: TokenIndex, tokens: list[int]
) -> None:
    """Token starts and ends of fresh lazy answers, before and after the blocks around them are
    encoded, equal the eager index's."""
    lazy = fresh()
    assert [lazy.start(i) for i in tokens] == [eager.start(i) for i in tokens]
    lazy = fresh()
    assert [lazy.end(i) for i in tokens] == [eager.end(i) for i in tokens]
    assert [lazy.start(i) for i in tokens] == [eager.start(i) for i in tokens]


@pytest.mark.parametrize("backend", bpe_backends())
@pytest.mark.parametrize("name", ENCODINGS)
@SLOW
@given(
    text=_TEXTS,
    scale=st.tuples(st.integers(2, 200), st.integers(1, 200)),
    data=st.data(),
)
def test_lazy_index_answers_as_the_eager_one(
    name: str, backend: str, text: str, scale: tuple[int, int], data: st.DataObject
) -> None:
    tok = tokenizer(name, backend)
    eager = TokenIndex(text, tok)
    n, size = len(eager), len(text)
    with small_atoms(*scale):
        assert len(lazy_index(text, tok)) == n
        positions = list(range(-1, size + 2))
        # Positions one at a time in any order (the counts found inside atoms are remembered).
        order = data.draw(st.permutations(positions))
        lazy = lazy_counts(text, tok)
        assert [lazy.first_token(p) for p in order] == [eager.first_token(p) for p in order]
        # In batches: small ones by bisect, large ones by numpy (encoding dense blocks).
        for batches in ([positions], [positions[:20], order[:40], positions]):
            lazy = lazy_counts(text, tok)
            for batch in batches:
                assert np.array_equal(lazy.first_tokens(batch), eager.first_tokens(batch))
        assert lazy_counts(text, tok).first_tokens_list(positions) == (
            eager.first_tokens(positions).tolist()
        )
        tokens = data.draw(st.permutations(range(n)))
        _same_token_bounds(lambda: lazy_counts(text, tok), eager, tokens)
        # Through the index (which encodes the whole text once asked about most of it).
        pairs = data.draw(st.lists(st.tuples(*[st.integers(0, size)] * 2), max_size=20))
        index = lazy_index(text, tok)
        assert [index.count(a, b) for a, b in pairs] == [eager.count(a, b) for a, b in pairs]
        assert index.counts(sorted({0, size, *(a for a, _ in pairs)})) == eager.counts(
            sorted({0, size, *(a for a, _ in pairs)})
        )
        ends = [b for _, b in pairs]
        assert index.first_tokens_list(ends) == eager.first_tokens(ends).tolist()
        tokens = data.draw(st.permutations(range(n)))
        _same_token_bounds(lambda: lazy_index(text, tok), eager, tokens)
        cut = data.draw(st.tuples(st.integers(0, size), st.integers(0, size), st.integers(1, 9)))
        index = lazy_index(text, tok)
        assert index.token_cuts(*cut) == eager.token_cuts(*cut)
        index = lazy_index(text, tok)
        assert np.array_equal(index.starts, eager.starts)
        assert np.array_equal(index.ends, eager.ends)


@pytest.mark.parametrize("name", ENCODINGS)
def test_lazy_index_on_documents_packs_the_same_chunks(name: str) -> None:
    tok = get_tokenizer(name)
    para = "The court held, at 3.5 per cent, that it's naïve. Next one: «日本語» 🎉! "
    texts = [
        "\n\n".join(para * k for k in range(1, 40)),
        para * 400,  # one long line: cut at sentence ends and every few KB
        "\n".join(f"  /usr/lib/{k}\n- item {k}. x" for k in range(2000)),
    ]
    for text in texts:
        lazy = TokenIndex(text, tok, lazy=True)
        assert lazy._lazy is not None
        for cap in (16, 64, 512):
            levels = [regex_level(p, text) for p in SEPARATORS]
            whole = [(0, len(text))]
            want = Packer(text, tok, cap, levels, index=TokenIndex(text, tok)).pack(whole)
            got = Packer(text, tok, cap, levels, index=lazy).pack(whole)
            assert got == want


def test_long_whitespace_keeps_the_eager_index() -> None:
    tok = get_tokenizer("cl100k_base")
    text = "words here\n" + " " * 70_000 + "\nmore words"
    index = TokenIndex(text, tok, lazy=True)
    assert index._lazy is None
    assert np.array_equal(index.starts, TokenIndex(text, tok).starts)


def test_who_gets_a_lazy_index() -> None:
    tok = get_tokenizer("cl100k_base")
    text = "One. Two three.\n\nFour five. Six.\n" * 50
    starts = [m for m in range(1, len(text)) if text[m - 1] == " "]
    lines = [m for m in range(1, len(text)) if text[m - 1] == "\n"]
    assert Packer(text, tok, 8, [positions_level(lines)]).index._lazy is not None
    # Sentence starts throughout, or no levels at all (the token chunker): encoded at once.
    assert Packer(text, tok, 8, [positions_level(starts)]).index._lazy is None
    assert Packer(text, tok, 8, []).index._lazy is None
    # A shared lazy index is encoded whole for a caller that wants every token.
    held = TokenIndex.of(text, tok)
    assert held._lazy is not None
    assert TokenIndex.of(text, tok, lazy=False) is held and held._lazy is None
    # Chars and Hugging Face tokenizers have no exact piece counts: always eager.
    assert TokenIndex(text, get_tokenizer("chars"), lazy=True)._lazy is None


def test_atom_bounds_are_exact_cuts() -> None:
    text = ("A sentence here. " * 100 + "\n") * 3 + "\n  indented\n/slash\nplain"
    bounds = bpe_index.atom_bounds(text)
    assert bounds is not None
    assert bounds[0] == 0 and bounds[-1] == len(text) and bounds == sorted(set(bounds))
    assert len(bounds) > 300  # the long lines are cut at their sentence ends
    for cut in bounds[1:-1]:
        before, after = text[cut - 1], text[cut]
        assert (before == "\n" and not after.isspace() and after != "/") or (
            after in " \t" and not before.isspace()
        )
    tok = get_tokenizer("cl100k_base")
    prefix = bpe_index.atom_counts(tok.count, text, bounds)
    eager = TokenIndex(text, tok)
    assert prefix == eager.first_tokens(bounds).tolist()


def test_texts_a_lazy_index_would_not_pay_for_are_encoded_whole() -> None:
    tok = get_tokenizer("cl100k_base")
    words = "alpha beta gamma " * 600  # 10K characters without a line start or sentence end
    short_lines = "a\nb\n" * 1000
    for text in (words, "Intro.\n" + words + "\nEnd.", short_lines):
        assert bpe_index.atom_bounds(text) is None
        assert TokenIndex(text, tok, lazy=True)._lazy is None
    assert bpe_index.atom_bounds("Words. " * 1000) is None  # a bound every 7 characters
    assert bpe_index.atom_bounds("A sentence of some words here. " * 300) is not None


_COUNTS_PROBE = r"""
tok = get_tokenizer("cl100k_base")
bounds = bpe_index.atom_bounds(text)
serial = bpe_index.atom_counts(tok.count, text, bounds)
bpe_index._spawn = spawn
assert bpe_index.atom_counts(tok.count, text, bounds, fork=True) == serial
assert spawned and spawned[0] is not None, "no helper was forked"
bpe_index._spawn = dying
assert bpe_index.atom_counts(tok.count, text, bounds, fork=True) == serial
print("ok")
"""


def test_helper_process_counts_the_same_and_a_dead_one_is_replaced() -> None:
    from tests.helper_probe import run_probe

    run_probe(_COUNTS_PROBE)


def test_a_lazy_index_shared_by_threads_answers_as_the_eager_one() -> None:
    import random
    import sys
    from concurrent.futures import ThreadPoolExecutor

    tok = get_tokenizer("cl100k_base")
    text = ("One sentence, with words. Another one follows it here. " * 40 + "\n") * 30
    eager = TokenIndex(text, tok)
    # Word starts and ends: piece boundaries inside atoms, counted and remembered per atom.
    spots = [m for m in range(1, len(text)) if text[m - 1] == " " or text[m] == " "]

    def ask(seed: int) -> bool:
        order = random.Random(seed).sample(spots, len(spots))
        return [lazy.first_token(p) for p in order] == [eager.first_token(p) for p in order]

    # Switch threads as often as possible: without the lock, most runs went wrong.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for _ in range(3):
            lazy = lazy_counts(text, tok)
            with ThreadPoolExecutor(4) as pool:
                assert all(pool.map(ask, range(4)))
    finally:
        sys.setswitchinterval(interval)
