"""Size-capped splitting of character spans, shared by the text chunkers.

The document is tokenized once; the token count of a span is then estimated as the number of tokens
that start inside it, which is additive over adjacent spans, so splitting and greedy merging cost
array look-ups, not tokenizer calls. Every final chunk is then counted exactly, and the rare chunk
whose exact count exceeds the cap (BPE merges differ at its edges) is split again by exact counts.
That keeps the hard guarantee — no chunk over ``max_tokens`` — at the price of one extra encode.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import operator
import re
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import ClassVar

import numpy as np

from chunkwise.spans import WHITESPACE as _WS
from chunkwise.spans import Span, split_over, trim
from chunkwise.tokenizers import Tokenizer

# Returns cut positions strictly inside (start, end), sorted (a list, or an iterator: Packer takes
# them in batches).
Level = Callable[[int, int], Iterable[int]]
# Cuts taken from a level at a time (see Packer._merge_level).
_BATCH = 1 << 15


class TokenIndex:
    """Token start offsets of one text, for additive span counts.

    The starts are int32 for texts under 2**31 characters (4 bytes a token: a 50 MB file of
    short words has 23 million tokens). Look them up through the methods (``count``,
    ``first_token``, ``first_tokens``, ``start``): a Python int or an int64 array searched
    against an int32 array makes numpy convert the whole array on every call. ``starts`` and
    ``ends`` give int64 arrays, built on first use.

    ``lazy``: with a tokenizer whose counts are exact and cheaper than its offsets (rs-bpe), the
    index answers from counts of exact pieces (``LazyCounts``) and encodes with offsets only the
    parts asked about inside them. Every answer is the same as the eager index's (tested).
    """

    # Indexes still in use, by text: auto runs several chunkers on one document (and section
    # packs sub-spans), and each would otherwise tokenize the whole text again (seconds on a
    # multi-MB file). Weak: an index lives as long as a packer or a caller holds it, not until
    # the next document (on a 50 MB file it is ~100 MB).
    _live: ClassVar[weakref.WeakValueDictionary[tuple[int, type, str | None], TokenIndex]] = (
        weakref.WeakValueDictionary()
    )

    def __init__(self, text: str, tokenizer: Tokenizer, lazy: bool = False) -> None:
        self.text = text
        self.tokenizer = tokenizer
        self._starts64: np.ndarray | None = None
        self._ends: np.ndarray | None = None
        self._lazy: LazyCounts | None = None
        self._s: np.ndarray = _NO_TOKENS
        self._splits: np.ndarray = _NO_TOKENS
        if lazy and getattr(tokenizer, "lazy_counts", False):
            atoms = tokenizer.atom_counts(text)  # type: ignore[attr-defined]
            if atoms is not None:
                self._lazy = LazyCounts(text, tokenizer, *atoms)
                return
        self._encode()

    def _encode(self) -> None:
        text, tokenizer = self.text, self.tokenizer
        compact = getattr(tokenizer, "compact_offsets", None)
        if compact is not None:
            # BPE tokens tile the text: the ends follow from the starts.
            self._s, self._splits = compact(text)
        else:
            starts, self._ends = tokenizer.offsets(text)
            self._s = np.asarray(starts, dtype=np.int64)
            self._starts64 = self._s
        self._scalar = self._s.dtype.type

    def materialize(self) -> None:
        """Encode the whole text now (a lazy index that is asked about most of it)."""
        if self._lazy is not None:
            # Encoded first: another thread keeps the lazy answers until the eager ones are set.
            self._encode()
            self._lazy = None

    def _check(self, lazy: LazyCounts) -> None:
        if lazy.exhausted:
            self.materialize()

    @classmethod
    def of(cls, text: str, tokenizer: Tokenizer, lazy: bool = True) -> TokenIndex:
        """The index of ``text`` (the very same string object) under ``tokenizer``, reused while
        anything holds it. Each chunker loads its own tokenizer object; the same class and name
        tokenize alike. ``lazy=False`` (a caller that will ask for most token starts) encodes a
        shared lazy index whole."""
        key = (id(text), type(tokenizer), getattr(tokenizer, "name", None))
        index = cls._live.get(key)
        # The index holds its text, so the id cannot have been reused while the entry lives.
        if index is None or index.text is not text:
            index = cls._live[key] = cls(text, tokenizer, lazy)
        elif not lazy:
            index.materialize()
        return index

    def __len__(self) -> int:
        if self._lazy is not None:
            return self._lazy.n
        return len(self._s)

    @property
    def starts(self) -> np.ndarray:
        """Every token's start (int64)."""
        self.materialize()
        if self._starts64 is None:
            self._starts64 = self._s.astype(np.int64)
        return self._starts64

    @property
    def ends(self) -> np.ndarray:
        """Every token's end (int64)."""
        self.materialize()
        if self._ends is None:
            from chunkwise.tokenizers import expand_ends

            self._ends = expand_ends(self._s, self._splits, len(self.text))
        return self._ends

    def first_token(self, pos: int) -> int:
        """Index of the first token that starts at or after ``pos``."""
        lazy = self._lazy
        if lazy is not None:
            i = lazy.first_token(pos)
            self._check(lazy)
            return i
        return int(self._s.searchsorted(self._scalar(pos), "left"))

    def first_tokens(self, positions: Sequence[int] | np.ndarray) -> np.ndarray:
        """``first_token`` of each position, as an int64 array."""
        lazy = self._lazy
        if lazy is not None:
            out = lazy.first_tokens(positions)
            self._check(lazy)
            return out
        return self._s.searchsorted(np.asarray(positions, dtype=self._s.dtype), "left")

    def first_tokens_list(self, positions: list[int]) -> list[int]:
        """``first_tokens`` as a list, without an array in between for a few positions."""
        lazy = self._lazy
        if lazy is not None:
            out = lazy.first_tokens_list(positions)
            self._check(lazy)
            return out
        return self.first_tokens(positions).tolist()

    def start(self, i: int) -> int:
        lazy = self._lazy
        if lazy is not None:
            pos = lazy.start(i)
            self._check(lazy)
            return pos
        return int(self._s[i])

    def end(self, i: int) -> int:
        """Token ``i``'s end: the next token's start (a character later when that one starts
        inside a multi-byte character), the text's end for the last."""
        lazy = self._lazy
        if lazy is not None:
            pos = lazy.end(i)
            self._check(lazy)
            return pos
        if self._ends is not None:
            return int(self._ends[i])
        if i + 1 >= len(self._s):
            return len(self.text)
        j = int(self._splits.searchsorted(i + 1, "left"))
        inside = j < len(self._splits) and int(self._splits[j]) == i + 1
        return int(self._s[i + 1]) + int(inside)

    def count(self, a: int, b: int) -> int:
        if self._lazy is not None:
            return self.first_token(b) - self.first_token(a)
        s, t = self._s, self._scalar
        return int(s.searchsorted(t(b), "left") - s.searchsorted(t(a), "left"))

    def counts(self, bounds: Sequence[int]) -> list[int]:
        return np.diff(self.first_tokens(bounds)).tolist()

    def token_cuts(self, a: int, b: int, size: int) -> list[int]:
        """Positions that cut [a, b) into runs of ``size`` tokens, on token starts."""
        i0 = self.first_token(a)
        i1 = self.first_token(b)
        if self._lazy is not None:
            found = [self.start(i) for i in range(i0 + size, i1, size)]
        else:
            found = self._s[i0 + size : i1 : size].tolist()
        out: list[int] = []
        for pos in found:
            if a < pos < b and (not out or pos > out[-1]):
                out.append(pos)
        return out


_NO_TOKENS = np.zeros(0, dtype=np.int64)


class _Block:
    """A run of atoms encoded with offsets: its first token's index, the int64 starts of its
    tokens and the indices (from its first token) of those starting inside a character."""

    __slots__ = ("first", "splits", "starts")

    def __init__(self, first: int, starts: np.ndarray, splits: np.ndarray) -> None:
        self.first = first
        self.starts = starts
        self.splits = splits

    def first_token(self, pos: int) -> int:
        return self.first + int(self.starts.searchsorted(pos, "left"))


class LazyCounts:
    """``TokenIndex``'s answers from exact counts, encoding with offsets only where asked.

    The text is cut into atoms (``bpe_index.atom_bounds``: every exact line start, and in long
    lines the space after each sentence end). Tokens never cross an atom bound
    and each atom encodes alone to exactly the text's tokens there, so its ``count`` (cheaper
    than encoding with offsets) and prefix sums answer ``first_token`` on any atom bound: the
    paragraph and line starts the packer asks about.

    Elsewhere, a position ``p`` that is a piece boundary (``piece_boundary``: a space after a
    word, where chunk edges in ``exact_counts`` fall) is answered by counting the text from the
    nearest known boundary of its atom to ``p`` (remembered: the next question in that atom
    counts less); right after such a space (a sentence or word start), it is that answer plus
    one, since exactly one token starts in a one-byte character. Any other position, a token's
    start or end inside an atom, or a batch of positions word-dense in one block, encodes the
    block of atoms around it (atoms starting within the same ``BLOCK_CHARS``) with offsets, kept.
    Once half the text has been encoded that way, ``exhausted`` asks the index to encode the
    whole text.

    Bounds and counts are Python lists (bisect costs a fraction of a numpy call on the small
    documents that are most of a folder); numpy copies serve batches of positions.
    """

    BLOCK_CHARS = 1 << 12
    # Batches of more positions than this are looked up with numpy.
    _VECTOR = 32
    # A batch with more positions than this inside the atoms of one block (words, not
    # sentences) encodes the block.
    _DENSE = 256

    def __init__(
        self, text: str, tokenizer: Tokenizer, bounds: list[int], prefix: list[int]
    ) -> None:
        self.text = text
        self.length = len(text)
        self.tokenizer = tokenizer
        self.b = bounds
        self.c = prefix
        self.n = prefix[-1]
        self._arrays: tuple[np.ndarray, np.ndarray] | None = None
        self._space_bounds: np.ndarray | None = None  # bounds at a space or tab, when any
        self._blocks: list[int] | None = None
        self._encoded: dict[int, _Block] = {}
        self._encoded_chars = 0
        # Per atom: piece boundaries found inside it (with its bounds) and their first tokens.
        self._sub: dict[int, tuple[list[int], list[int]]] = {}
        self.exhausted = False
        # The caches above grow as questions come; an index shared (``TokenIndex.of``) by
        # chunkers on several threads must not read or insert into an atom's lists while
        # another thread inserts (measured: wrong answers and IndexErrors without it).
        self._lock = threading.Lock()

    # -- positions ------------------------------------------------------------------------------
    def first_token(self, pos: int) -> int:
        if pos <= 0:
            return 0
        if pos >= self.length:
            return self.n
        k = bisect.bisect_right(self.b, pos) - 1
        at = self.b[k]
        if at == pos:
            return self.c[k]
        # One past a bound that is a space (sentence cuts): that space's token, and no other,
        # starts in between.
        if at == pos - 1 and self.text[at] in " \t":
            return self.c[k] + 1
        return self._inside(pos, k)

    def first_tokens_list(self, positions: list[int]) -> list[int]:
        if len(positions) <= self._VECTOR:
            return self._first_tokens_few(positions)
        return self.first_tokens(positions).tolist()

    def first_tokens(self, positions: Sequence[int] | np.ndarray) -> np.ndarray:
        if len(positions) <= self._VECTOR:
            pl = positions.tolist() if isinstance(positions, np.ndarray) else positions
            return np.array(self._first_tokens_few(pl), dtype=np.int64)
        if self._arrays is None:
            self._arrays = (np.array(self.b, dtype=np.int64), np.array(self.c, dtype=np.int64))
            text = self.text
            spaces = [k for k, p in enumerate(self.b[:-1]) if text[p] in " \t"]
            if spaces:
                self._space_bounds = np.zeros(len(self.b), dtype=bool)
                self._space_bounds[spaces] = True
        b, c = self._arrays
        pos = np.asarray(positions, dtype=np.int64)
        pos = np.minimum(np.maximum(pos, 0), self.length)
        k = b.searchsorted(pos, "right") - 1
        out = c[k]
        at = b[k]
        miss = np.flatnonzero(at != pos)
        if len(miss) and self._space_bounds is not None:
            # One past a space bound, as in first_token.
            after = (at[miss] == pos[miss] - 1) & self._space_bounds[k[miss]]
            out[miss[after]] += 1
            miss = miss[~after]
        if len(miss) > self._DENSE:
            # Many positions inside the atoms of one block (a long sentence cut at every
            # space): encode the block rather than count word by word.
            blocks = np.array(self._block_list(), dtype=np.int64)
            owner = blocks.searchsorted(k[miss], "right") - 1
            ids, sizes = np.unique(owner, return_counts=True)
            dense = ids[sizes > self._DENSE]
            if len(dense):
                for block in dense.tolist():
                    done = self._encode(block)
                    sel = miss[owner == block]
                    out[sel] = done.first + done.starts.searchsorted(pos[sel], "left")
                miss = miss[~np.isin(owner, dense)]
        if len(miss):
            for j, p, a in zip(miss.tolist(), pos[miss].tolist(), k[miss].tolist(), strict=True):
                out[j] = self._inside(p, a)
        return out

    def _first_tokens_few(self, positions: Sequence[int]) -> list[int]:
        """``first_token`` inlined: small batches come by the thousand."""
        b, c, text, length = self.b, self.c, self.text, self.length
        found: list[int] = []
        for p in positions:
            if p <= 0:
                found.append(0)
            elif p >= length:
                found.append(self.n)
            else:
                k = bisect.bisect_right(b, p) - 1
                at = b[k]
                if at == p:
                    found.append(c[k])
                elif at == p - 1 and text[at] in " \t":
                    found.append(c[k] + 1)
                else:
                    found.append(self._inside(int(p), k))
        return found

    def _inside(self, pos: int, k: int) -> int:
        """``first_token(pos)`` for ``pos`` strictly inside atom ``k``."""
        if self._encoded:
            done = self._encoded.get(self._block_of(k))
            if done is not None:
                return done.first_token(pos)
        sub = self._sub.get(k)
        if sub is not None:
            with self._lock:
                j = bisect.bisect_left(sub[0], pos)
                if sub[0][j] == pos:
                    return sub[1][j]
        text = self.text
        if piece_boundary(text, pos):
            return self._refine(k, pos)
        q = pos - 1
        if text[q] in " \t" and piece_boundary(text, q):
            return self._refine(k, q) + 1
        return self._encode(self._block_of(k)).first_token(pos)

    def _refine(self, k: int, q: int) -> int:
        """First token at piece boundary ``q`` inside atom ``k`` (or on its start), counted
        from the nearer known boundary of the atom."""
        if q == self.b[k]:
            return self.c[k]
        with self._lock:
            sub = self._sub.get(k)
            if sub is None:
                sub = self._sub[k] = ([self.b[k], self.b[k + 1]], [self.c[k], self.c[k + 1]])
            at, first = sub
            j = bisect.bisect_left(at, q)
            if at[j] == q:
                return first[j]
            lo, hi = at[j - 1], at[j]
            count = self.tokenizer.count
            if q - lo <= hi - q:
                n = first[j - 1] + count(self.text[lo:q])
            else:
                n = first[j] - count(self.text[q:hi])
            at.insert(j, q)
            first.insert(j, n)
            return n

    # -- tokens ---------------------------------------------------------------------------------
    def _atom_of_token(self, i: int) -> tuple[int, int | None]:
        """(atom holding token ``i``, the position where ``i`` starts if already known)."""
        k = bisect.bisect_right(self.c, i) - 1
        if self.c[k] == i:
            return k, self.b[k]
        sub = self._sub.get(k)
        if sub is not None:
            with self._lock:
                j = bisect.bisect_left(sub[1], i)
                if j < len(sub[1]) and sub[1][j] == i:
                    return k, sub[0][j]
        return k, None

    def _token(self, i: int) -> int:
        if i < 0:
            i += self.n
        if not 0 <= i < self.n:
            raise IndexError(f"token {i} of {self.n}")
        return i

    def start(self, i: int) -> int:
        i = self._token(i)
        k, pos = self._atom_of_token(i)
        if pos is not None:
            return pos
        block = self._encode(self._block_of(k))
        return int(block.starts[i - block.first])

    def end(self, i: int) -> int:
        i = self._token(i)
        if i + 1 == self.n:
            return self.length
        # A known start of the next token is a piece boundary: never inside a character.
        k, pos = self._atom_of_token(i + 1)
        if pos is not None:
            return pos
        block = self._encode(self._block_of(k))
        r = i + 1 - block.first
        inside = r in block.splits
        return int(block.starts[r]) + int(inside)

    # -- blocks ---------------------------------------------------------------------------------
    def _block_list(self) -> list[int]:
        """The first atom of each block: atoms whose starts share a ``BLOCK_CHARS`` window."""
        if self._blocks is None:
            size = self.BLOCK_CHARS
            b = self.b
            self._blocks = [
                k for k in range(len(b) - 1) if k == 0 or b[k] // size != b[k - 1] // size
            ]
        return self._blocks

    def _block_of(self, k: int) -> int:
        return bisect.bisect_right(self._block_list(), k) - 1

    def _encode(self, block: int) -> _Block:
        done = self._encoded.get(block)
        if done is not None:
            return done
        blocks = self._block_list()
        k0 = blocks[block]
        k1 = blocks[block + 1] if block + 1 < len(blocks) else len(self.b) - 1
        a, b = self.b[k0], self.b[k1]
        starts, splits = self.tokenizer.range_offsets(self.text, a, b)  # type: ignore[attr-defined]
        with self._lock:
            done = self._encoded.setdefault(block, _Block(self.c[k0], starts, splits))
            self._encoded_chars += b - a
            if 2 * self._encoded_chars > self.length:
                self.exhausted = True
        return done


# Up to this many cuts, a batch is merged with lists and bisect; more, with numpy.
_FEW_CUTS = 64


def _search_right(sorted_values: np.ndarray, x: int) -> int:
    return int(sorted_values.searchsorted(x, "right"))


def _cut_batches(level: Level, a: int, b: int) -> Iterator[np.ndarray | list[int]]:
    """A level's cuts in (a, b), non-empty batches of up to about ``_BATCH``: int64 arrays from
    a level that makes them (whitespace), lists from any other."""
    batches = getattr(level, "batches", None)
    if batches is not None:
        return (x for x in batches(a, b) if len(x))
    cuts = iter(level(a, b))

    def gen() -> Iterator[list[int]]:
        while True:
            batch = list(itertools.islice(cuts, _BATCH))
            if batch:
                yield batch
            if len(batch) < _BATCH:
                return

    return gen()


# What ``\s`` matches in a str pattern: the characters ``str.isspace`` holds for (tested over every
# code point).
_SPACE_CODEPOINTS = np.array(
    [
        *range(0x9, 0xE), *range(0x1C, 0x21), 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B),
        0x2028, 0x2029, 0x202F, 0x205F, 0x3000,
    ],
    dtype=np.uint32,
)  # fmt: skip
_ASCII_SPACE = np.zeros(256, dtype=bool)
_ASCII_SPACE[_SPACE_CODEPOINTS[_SPACE_CODEPOINTS < 128]] = True


class WhitespaceLevel:
    r"""``regex_level(re.compile(r"\s+"), text)``, vectorised: the cuts (match ends) are the
    positions whose previous character is whitespace and whose own is not, found with numpy a
    window of characters at a time (a regex pass costs ~0.4 µs a match: seconds on a 50 MB line
    of words)."""

    window = 1 << 18

    def __init__(self, text: str) -> None:
        self.text = text

    def __call__(self, a: int, b: int) -> Iterator[int]:
        for batch in self.batches(a, b):
            yield from batch.tolist()

    def batches(self, a: int, b: int) -> Iterator[np.ndarray]:
        # A cut e needs a < e < b and the characters at e - 1 and e.
        lo = a + 1
        while lo < b:
            hi = min(lo + self.window, b)
            ws = _space_mask(self.text[lo - 1 : hi])
            yield np.flatnonzero(ws[:-1] & ~ws[1:]) + lo
            lo = hi


def _space_mask(s: str) -> np.ndarray:
    if s.isascii():
        return _ASCII_SPACE[np.frombuffer(s.encode("ascii"), dtype=np.uint8)]
    # surrogatepass: text decoded with surrogateescape keeps lone surrogates (never spaces).
    codes = np.frombuffer(s.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    return np.isin(codes, _SPACE_CODEPOINTS)


def regex_level(pattern: re.Pattern[str], text: str) -> Level:
    """A level that cuts after every match of ``pattern``."""
    if pattern.pattern == r"\s+" and pattern.flags == re.UNICODE:
        return WhitespaceLevel(text)

    def cuts(a: int, b: int) -> Iterator[int]:
        # Lazy: a level over a 50 MB line yields millions of cuts, taken in batches.
        return (e for m in pattern.finditer(text, a, b) if a < (e := m.end()) < b)

    return cuts


class PositionsLevel:
    """A level that cuts at fixed positions (element starts, sentence ends...)."""

    def __init__(self, positions: Sequence[int]) -> None:
        self.positions = sorted(set(positions))

    def __call__(self, a: int, b: int) -> list[int]:
        pos = self.positions
        return pos[bisect.bisect_right(pos, a) : bisect.bisect_left(pos, b)]

    def mostly_inside_lines(self, text: str) -> bool:
        """Whether more than a quarter of (a sample of) the positions are not line starts: a
        lazy index would be asked about most of the text (sentence starts)."""
        pos = self.positions
        sample = pos[:: max(1, len(pos) // 64)]
        n = len(text)
        before = [text[p - 1] for p in sample if 0 < p < n]
        inside = len(before) - before.count("\n")
        return 4 * inside > len(sample)


def positions_level(positions: Sequence[int]) -> Level:
    """A level that cuts at fixed positions (element starts, sentence ends...)."""
    return PositionsLevel(positions)


class Packer:
    """Recursive split-then-merge of spans under a token cap."""

    def __init__(
        self,
        text: str,
        tokenizer: Tokenizer,
        max_tokens: int,
        levels: Sequence[Level],
        index: TokenIndex | None = None,
    ) -> None:
        self.text = text
        self.tokenizer = tokenizer
        self.max = max_tokens
        self.levels = list(levels)
        self.index = index or self.index_for(text, tokenizer, self.levels)
        # Counts of the short heads and tails exact_counts encodes (words recur).
        self._small: dict[str, int] = {}

    @staticmethod
    def index_for(text: str, tokenizer: Tokenizer, levels: Sequence[Level]) -> TokenIndex:
        """The token index a packer of ``text`` cutting at ``levels`` uses (shared while held)."""
        # Without levels (the token chunker), or cutting at sentence starts throughout, most of
        # the text is asked about: encode it at once rather than count it first.
        lazy = bool(levels) and not any(
            isinstance(level, PositionsLevel) and level.mostly_inside_lines(text)
            for level in levels
        )
        return TokenIndex.of(text, tokenizer, lazy=lazy)

    # -- planning with additive counts -------------------------------------------------------
    def split(self, a: int, b: int, level: int = 0) -> list[tuple[int, int, int]]:
        n = self.index.count(a, b)
        if n <= self.max:
            return [(a, b, n)]
        while level < len(self.levels):
            batches = _cut_batches(self.levels[level], a, b)
            first = next(batches, None)
            if first is not None:
                return self._merge_level(a, b, itertools.chain((first,), batches), level)
            level += 1
        token_cuts = self.index.token_cuts(a, b, self.max)
        if not token_cuts:
            return [(a, b, n)]
        bounds = [a, *token_cuts, b]
        counts = self.index.counts(bounds)
        return [(s, e, c) for s, e, c in zip(bounds, bounds[1:], counts, strict=False)]

    def _merge_level(
        self, a: int, b: int, batches: Iterator[np.ndarray | list[int]], level: int
    ) -> list[tuple[int, int, int]]:
        """``merge`` of the pieces between a, the cuts and b, each piece over the cap split at the
        next level first: the same chunks as building that whole list and merging it, but taken
        a batch of cuts at a time (a level may yield millions: every space of a 50 MB line) and,
        where no piece of a batch is over the cap, merged by prefix sums, one step per chunk.

        Counts are additive (tokens starting inside), so a chunk grows from piece i up to the
        last bound j with idx[j] - idx[i] <= cap, and the chunk still open at the end of a batch
        carries over as one piece of its count."""
        cap = self.max
        index = self.index
        out: list[tuple[int, int, int]] = []
        open_s, open_c = -1, 0  # the chunk still open, from open_s to head (none when open_s < 0)
        head = a
        while True:
            batch = next(batches, None)
            last = batch is None
            m = 1 if batch is None else len(batch)
            bounds: Sequence[int] | np.ndarray
            idx: Sequence[int] | np.ndarray
            search: Callable[[int], int]
            if m <= _FEW_CUTS:
                # Most batches are a few cuts (a small file's paragraphs): lists and bisect cost
                # less than numpy's per-call overhead.
                if batch is None:
                    bounds = [head, b]
                elif isinstance(batch, list):
                    bounds = [head, *batch]
                else:
                    bounds = [head, *batch.tolist()]
                idx = index.first_tokens_list(bounds)
                fits = max(map(operator.sub, idx[1:], idx[:-1])) <= cap
                search = functools.partial(bisect.bisect_right, idx)
            else:
                arr = np.empty(m + 1, dtype=np.int64)
                arr[0] = head
                arr[1:] = b if batch is None else batch
                idx_arr = index.first_tokens(arr)
                bounds, idx = arr, idx_arr
                fits = int((idx_arr[1:] - idx_arr[:-1]).max()) <= cap
                search = functools.partial(_search_right, idx_arr)

            if fits:
                i = 0
                if open_s >= 0:
                    j = search(idx[0] + cap - open_c) - 1
                    if j >= m:
                        open_c += int(idx[m] - idx[0])
                        i = -1
                    elif j <= 0:
                        out.append((open_s, head, open_c))
                    else:
                        out.append((open_s, int(bounds[j]), open_c + int(idx[j] - idx[0])))
                        i = j
                if i >= 0:
                    while True:
                        j = search(idx[i] + cap) - 1
                        if j >= m:
                            break
                        out.append((int(bounds[i]), int(bounds[j]), int(idx[j] - idx[i])))
                        i = j
                    open_s, open_c = int(bounds[i]), int(idx[m] - idx[i])
            else:
                bl = bounds if isinstance(bounds, list) else bounds.tolist()
                il = idx if isinstance(idx, list) else idx.tolist()
                counts = list(map(operator.sub, il[1:], il[:-1]))
                for s, e, c in zip(bl, bl[1:], counts, strict=False):
                    for ps, _, pc in [(s, e, c)] if c <= cap else self.split(s, e, level + 1):
                        if open_s < 0:
                            open_s, open_c = ps, pc
                        elif open_c + pc <= cap:
                            open_c += pc
                        else:
                            out.append((open_s, ps, open_c))
                            open_s, open_c = ps, pc
            head = int(bounds[-1])
            if last:
                if open_s >= 0:
                    out.append((open_s, b, open_c))
                return out

    # -- exact finishing ---------------------------------------------------------------------
    def pack(self, spans: Sequence[Span]) -> tuple[list[Span], list[int]]:
        """Split and merge each span; return trimmed chunks with exact token counts."""
        planned: list[Span] = []
        for a, b in spans:
            for s, e, _ in self.split(a, b):
                s, e = trim(self.text, s, e)
                if s < e:
                    planned.append((s, e))
        return self.finish(planned)

    def finish(self, planned: Sequence[Span]) -> tuple[list[Span], list[int]]:
        return split_over(planned, self.exact_counts(planned), self.max, self.split_exact)

    def exact_counts(self, spans: Sequence[Span]) -> list[int]:
        """Exact token counts of spans encoded on their own, mostly without encoding them.

        With a regex-pre-tokenized BPE (tiktoken's cl100k/o200k) the text is cut into pieces and
        each piece is encoded alone. Some positions end a piece whatever comes before them (see
        ``piece_boundary``); between two such positions L <= R inside a span, the span alone has
        exactly the whole text's tokens. So a span's count is the index's count over [L, R) plus
        the counts of its head [a, L) and tail [R, b) encoded alone: a word or two each, cached.
        Spans without such positions are encoded whole (in one batch).
        """
        text = self.text
        counts: list[int | None] = [None] * len(spans)
        exact_index = getattr(self.tokenizer, "offsets_exact", None)
        if (
            getattr(self.tokenizer, "span_exact_after_newline", False)
            and exact_index is not None
            and exact_index(text)
        ):
            bounds: list[int] = []
            edges: list[tuple[int, int, int, int]] = []
            for k, (a, b) in enumerate(spans):
                inner = _inner_boundaries(text, a, b)
                if inner is None:
                    continue
                left, right = inner
                edges.append((k, left, right, len(bounds)))
                bounds.extend((left, right))
            if edges:
                idx = self.index.first_tokens_list(bounds)
                small = self._small
                count = self.tokenizer.count
                for k, left, right, pos in edges:
                    a, b = spans[k]
                    n = idx[pos + 1] - idx[pos]
                    for piece in (text[a:left], text[right:b]):
                        if piece:
                            c = small.get(piece)
                            if c is None:
                                c = small[piece] = count(piece)
                            n += c
                    counts[k] = n
        todo = [k for k, c in enumerate(counts) if c is None]
        if todo:
            for k, c in zip(
                todo,
                self.tokenizer.count_batch([text[spans[k][0] : spans[k][1]] for k in todo]),
                strict=True,
            ):
                counts[k] = c
        return [int(c) for c in counts if c is not None]

    def split_exact(self, a: int, b: int) -> list[tuple[int, int, int]]:
        """Split [a, b) counting exactly: prefer whitespace, shrink by a token until it fits."""
        text = self.text
        out: list[tuple[int, int, int]] = []
        while a < b:
            a, b = trim(text, a, b)
            if a >= b:
                break
            sub = text[a:b]
            n = self.tokenizer.count(sub)
            if n <= self.max:
                out.append((a, b, n))
                break
            starts, _ = self.tokenizer.offsets(sub)
            # Longest prefix of about max tokens, pulled back to the last whitespace if any.
            limit = int(starts[self.max]) if len(starts) > self.max else len(sub)
            end = _last_ws_cut(sub, limit)
            while True:
                s, e = trim(text, a, a + end)
                n = self.tokenizer.count(text[s:e]) if s < e else 0
                if n <= self.max or end <= 1:
                    break
                end = _shrink(sub, starts, end)
            if s >= e:
                # Whitespace-only prefix: skip it.
                a = a + max(end, 1)
                continue
            out.append((s, e, n))
            a = a + end
        return out


def piece_boundary(text: str, p: int) -> bool:
    """Whether the pre-tokenizer of cl100k/o200k ends a piece at ``p`` whatever text precedes
    (from any start before ``p``) and starts the same piece there whatever text follows the next
    piece. True for:

    - the ends of the text;
    - a space or tab after a non-space: no pattern crosses from non-space into a space (a space
      only opens pieces: " word", " .", runs of spaces);
    - a non-space after a newline, except "/" (o200k's punctuation pieces run on over newlines
      and slashes: ".\n/usr" is one piece);
    - a newline after an ASCII letter or digit (letter and number pieces stop there; punctuation
      pieces would take the newline along).

    Python's ``isspace`` holds for every Unicode White_Space character (and a few more), so the
    tests err on the safe side.
    """
    if p <= 0 or p >= len(text):
        return True
    c, before = text[p], text[p - 1]
    if c in " \t":
        return not before.isspace()
    if before == "\n":
        return not c.isspace() and c != "/"
    if c in "\r\n":
        return before.isascii() and before.isalnum()
    return False


def _inner_boundaries(text: str, a: int, b: int) -> tuple[int, int] | None:
    """The first and last piece boundaries L <= R in [a, b], or None."""
    left = a
    if not piece_boundary(text, a):
        left = text.find(" ", a + 1, b)
        while left != -1 and text[left - 1].isspace():
            left = text.find(" ", left + 1, b)
        if left == -1:
            return None
    right = b
    if not piece_boundary(text, b):
        right = text.rfind(" ", left, b)
        while right > left and text[right - 1].isspace():
            right = text.rfind(" ", left, right)
        if right < left or (right == left and not piece_boundary(text, left)):
            return None
    return left, right


def _last_ws_cut(sub: str, limit: int) -> int:
    last = None
    for last in _WS.finditer(sub, 0, limit):  # noqa: B007 - the last match is the one we want
        continue
    if last is not None and last.start() > 0 and last.end() <= limit:
        return last.end()
    return max(limit, 1)


def _shrink(sub: str, starts: np.ndarray, end: int) -> int:
    """Next smaller cut: the previous token start before ``end`` (at least one character)."""
    i = int(np.searchsorted(starts, end, "left")) - 1
    while i >= 0 and int(starts[i]) >= end:
        i -= 1
    if i <= 0:
        return max(1, end - 1)
    return max(1, int(starts[i]))


def merge(pieces: Sequence[tuple[int, int, int]], max_tokens: int) -> list[tuple[int, int, int]]:
    """Greedily merge adjacent pieces while the additive count stays within the cap."""
    out: list[tuple[int, int, int]] = []
    cur_s = cur_e = cur_c = -1
    for s, e, c in pieces:
        if cur_s < 0:
            cur_s, cur_e, cur_c = s, e, c
        elif cur_c + c <= max_tokens:
            cur_e, cur_c = e, cur_c + c
        else:
            out.append((cur_s, cur_e, cur_c))
            cur_s, cur_e, cur_c = s, e, c
    if cur_s >= 0:
        out.append((cur_s, cur_e, cur_c))
    return out


def add_overlap(
    text: str,
    spans: Sequence[Span],
    counts: Sequence[int],
    tokenizer: Tokenizer,
    index: TokenIndex,
    overlap: int,
    max_tokens: int,
) -> tuple[list[Span], list[int]]:
    """Extend each chunk's start back into its predecessor by up to ``overlap`` tokens, on a word
    boundary, as long as the chunk stays within the cap."""
    if overlap <= 0 or len(spans) < 2:
        return list(spans), list(counts)
    out = [spans[0]]
    out_counts = [counts[0]]
    for i in range(1, len(spans)):
        a, b = spans[i]
        prev_a = spans[i - 1][0]
        budget = min(overlap, max_tokens - counts[i])
        best = (a, b, counts[i])
        while budget > 0:
            i_tok = index.first_token(a)
            j = max(i_tok - budget, 0)
            cand = max(index.start(j), prev_a) if j < len(index) else a
            # Snap to the next word start so the overlap never begins mid-word.
            m = _WS.search(text, cand, a) if cand > prev_a else None
            if cand > prev_a and not text[cand - 1].isspace():
                cand = m.end() if m else a
            cand, _ = trim(text, cand, b)
            if cand >= a:
                break
            n = tokenizer.count(text[cand:b])
            if n <= max_tokens:
                best = (cand, b, n)
                break
            budget -= max(1, n - max_tokens)
        out.append((best[0], best[1]))
        out_counts.append(best[2])
    return out, out_counts
