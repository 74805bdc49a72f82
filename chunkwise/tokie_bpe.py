"""Exact cl100k/o200k counts and ids from ``tokie``, on the texts where it is known to be exact.

tokie (chonkie's Rust tokenizer) counts a 3.7 KB prose file in ~25 us where rs-bpe takes
~100-170; with the guard below, whole files cost ~70-100 us to count and ~80-100 to encode
against rs-bpe's ~105-125 and ~115-155 (`benchmarks/tokie_exactness.py`). It has no tiktoken
encodings of its own, so its model is built here from the same ranks tiktoken is built from
(quicktok's), once per machine, and kept in ``cache_root()/tokie`` (~7 MB for cl100k, ~14 MB for
o200k; 2-4 s to build, ~40 ms to load).

tokie 0.1.4 does not follow tiktoken everywhere: a newline, spaces and a newline (``"\\n \\n"``)
come out as two pieces where tiktoken has one; a tab or other control character before
punctuation and a letter splits them; a space before a Roman numeral joins it; for o200k a curly
quote before an accented capital splits and a mark before punctuation joins; a piece of over
10,000 bytes is encoded differently; 1.5% (cl100k) and 2.3% (o200k) of random Unicode texts
differ. So tokie takes a text only when it is ``safe``: ``SAFE`` matches it whole (letters of the
common scripts, digits, punctuation, spaces and newlines, no newline-spaces-newline run) and, for
a text of ``LONG_RUN`` characters or more, no run of spaces or non-spaces (for o200k, nor of
whitespace-or-slash) is that long. The exact backend (rs-bpe) takes every other text. 1,700,000
generated safe texts per encoding, as many random texts and the corpus gave tiktoken's tokens
(``benchmarks/tokie_exactness.py``); the tests compare tokie's ids and the guarded counts and
ids with tiktoken's on generated text and on every divergence found.

The merges are derived from the ranks as tiktoken applies them: each token's two parts are what
byte-pair merging of its own bytes ends with, using only tokens of lower rank. (The conversion
that lists every split of a token whose parts are tokens, transformers' ``TikTokenConverter``,
gives tokie wrong tokens: "euma" as e/um/a instead of e/uma.)
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import logging
import os
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chunkwise.cache import cache_root

log = logging.getLogger("chunkwise")

FORMAT = "1"  # bump when the model built here changes meaning

# Character classes admitted (fuzzed per encoding: ``benchmarks/tokie_exactness.py``). Left out:
# control characters but the newline, every other kind of whitespace, numbers that are not
# digits (Roman numerals, superscripts, fractions), unassigned and private-use code points.
_PUNCT = "\u2018\u2019\u201c\u201d\u2013\u2014\u2026\u2020\u2021\u2022\u20ac\u2122"
_LATIN1_SYMBOLS = "\u00a1-\u00ac\u00ae-\u00b1\u00b4-\u00b8\u00ba\u00bb\u00bf\u00d7\u00f7"
_LATIN1_LOWER = "\u00df-\u00f6\u00f8-\u00ff"  # ß-ö, ø-ÿ
_LATIN1_UPPER = "\u00c0-\u00d6\u00d8-\u00de"  # À-Ö, Ø-Þ
_CASED_SCRIPTS = (
    "\u0100-\u024f"  # Latin Extended-A and -B
    "\u0386\u0388-\u038a\u038c\u038e-\u03a1\u03a3-\u03ce"  # Greek letters
    "\u0400-\u04ff"  # Cyrillic
)
_MARKED_SCRIPTS = (
    "\u0591-\u05c7\u05d0-\u05ea"  # Hebrew letters and points
    "\u0610-\u061a\u0620-\u0669\u066e-\u06d3"  # Arabic letters, marks, digits
    "\u0900-\u0963\u0966-\u096f"  # Devanagari
    "\u0e01-\u0e3a\u0e40-\u0e4e"  # Thai
)
# Hebrew and Arabic letters and digits without their marks.
_UNMARKED_LETTERS = "\u05d0-\u05ea\u0620-\u064a\u0660-\u0669\u066e\u066f\u0671-\u06d3"
_CJK = "\u3041-\u3096\u30a1-\u30fa\u30fc\u4e00-\u9fff\uac00-\ud7a3"  # kana, Han, Hangul


# A text is "safe" (tokie counts it exactly) when this matches it whole: only those characters
# (and newlines), and no newline followed by spaces and a newline. Possessive runs keep it one
# pass, ~2 ns a character; a search for the first unsafe character took ~9.
def _safe_texts(chars: str) -> re.Pattern[str]:
    return re.compile(f"(?:[{chars}]*+\\n(?! +\\n))*+[{chars}]*+")


_COMMON = f" -~{_PUNCT}{_LATIN1_SYMBOLS}{_LATIN1_LOWER}\u3001-\u3003\u300c-\u300f{_CJK}"
_ADMITTED = {
    "cl100k_base": f"{_COMMON}{_LATIN1_UPPER}{_CASED_SCRIPTS}{_MARKED_SCRIPTS}",
    # o200k's letter pieces are cut by case and take marks along: tokie splits "’É" and joins
    # "ּ*h" where tiktoken does not, so no capitals beyond ASCII and no combining marks.
    "o200k_base": f"{_COMMON}{_UNMARKED_LETTERS}",
}
SAFE = {name: _safe_texts(chars) for name, chars in _ADMITTED.items()}


def admitted(name: str) -> list[str]:
    """Every character ``SAFE[name]`` admits besides the newline, by code point (what the fuzz
    benchmark and the tests draw safe texts from)."""
    cls = re.compile(f"[{_ADMITTED[name]}]")
    return [chr(c) for c in range(0x30000) if cls.match(chr(c))]


# Checked after loading a cached model, against the exact backend: a damaged or stale file is
# rebuilt rather than trusted.
_PROBE = "The naïve café’s “menu” — 12,345 items… don't\n\nété über-fast\n"


def _bytes_to_unicode() -> list[str]:
    """GPT-2's byte-level alphabet (what tokenizer.json vocabularies are written in), by byte."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1)]
    keep += range(ord("®"), ord("ÿ") + 1)
    chars: dict[int, str] = {b: chr(b) for b in keep}
    extra = 0
    for b in range(256):
        if b not in chars:
            chars[b] = chr(256 + extra)
            extra += 1
    return [chars[b] for b in range(256)]


def derive_merges(ranks: dict[bytes, int]) -> list[tuple[bytes, bytes]]:
    """One merge per multi-byte token, in rank order: the two parts byte-pair merging of the
    token's own bytes ends with, when only lower-ranked tokens may form."""
    merges: list[tuple[bytes, bytes]] = []
    for token, rank in sorted(ranks.items(), key=lambda kv: kv[1]):
        if len(token) < 2:
            continue
        parts = [token[i : i + 1] for i in range(len(token))]
        while len(parts) > 2:
            best = -1
            best_rank = rank
            for i in range(len(parts) - 1):
                r = ranks.get(parts[i] + parts[i + 1])
                if r is not None and r < best_rank:
                    best, best_rank = i, r
            if best < 0:
                raise ValueError(f"token {token!r} cannot be formed from lower-ranked tokens")
            parts[best : best + 2] = [parts[best] + parts[best + 1]]
        merges.append((parts[0], parts[1]))
    return merges


def tokenizer_json(ranks: dict[bytes, int], pattern: str) -> dict[str, Any]:
    """A Hugging Face ``tokenizer.json`` for a tiktoken encoding without special tokens."""
    alphabet = _bytes_to_unicode()

    def word(b: bytes) -> str:
        return "".join([alphabet[x] for x in b])

    split = {"type": "Split", "pattern": {"Regex": pattern}, "behavior": "Removed", "invert": True}
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True}
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [],
        "normalizer": None,
        "pre_tokenizer": {
            "type": "Sequence",
            "pretokenizers": [split, {**byte_level, "use_regex": False}],
        },
        "post_processor": None,
        "decoder": {**byte_level, "use_regex": True},
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": "",
            "end_of_word_suffix": "",
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": False,
            "vocab": {word(t): r for t, r in ranks.items()},
            "merges": [[word(a), word(b)] for a, b in derive_merges(ranks)],
        },
    }


def _model_path(name: str, vocab: Path, tokie_module: Any) -> Path:
    """The cached model's path, keyed by what it is built from (the ranks, tokie's build)."""
    h = hashlib.sha256(FORMAT.encode())
    for p in (vocab, Path(tokie_module.__file__)):
        st = p.stat()
        h.update(f"\0{p}\0{st.st_size}\0{st.st_mtime_ns}".encode())
    return cache_root() / "tokie" / f"{name}-{h.hexdigest()[:20]}.tkz"


# Models of another key (another tokie build, rank file or virtualenv) unused this long are
# removed when a model is built: 7-14 MB each. A model in use is touched when loaded, so two
# environments sharing the cache do not remove each other's.
STALE_DAYS = 30


def _prune(keep: Path) -> None:
    """Remove the cached models beside ``keep`` not loaded for ``STALE_DAYS`` days."""
    cutoff = time.time() - STALE_DAYS * 86400
    for other in keep.parent.glob("*.tkz"):
        with contextlib.suppress(OSError):
            if other != keep and other.stat().st_mtime < cutoff:
                other.unlink()


def _build(path: Path, ranks: dict[bytes, int], pattern: str, tokie_mod: Any) -> Any:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_json = tempfile.mkstemp(suffix=".json", dir=path.parent)
    tmp_model = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(tokenizer_json(ranks, pattern), fh, ensure_ascii=False)
        tok = tokie_mod.Tokenizer.from_json(tmp_json)
        tok.save(str(tmp_model))
        # Concurrent builders each rename a whole file into place.
        os.replace(tmp_model, path)
    finally:
        for leftover in (tmp_json, tmp_model):
            with contextlib.suppress(OSError):
                os.unlink(leftover)
    return tok


# tokie encodes a pre-tokenizer piece of more than 10,000 bytes differently (10,000 newlines or
# 5,001 "ab" came out one token longer than tiktoken's). A cl100k piece is at most one character,
# a run of non-spaces and a run of whitespace; with both runs under 1,500 characters (3 bytes at
# most each, in the safe alphabet) it stays under 9,000 bytes. o200k's punctuation pieces take
# any mix of newlines and slashes after them ("!" then "\\n//" 3,400 times is one piece), so
# for o200k runs of whitespace-or-slash are bounded too. Checked only for texts that long.
LONG_RUN = 1500
_RUN = f"{{0,{LONG_RUN - 1}}}+"
_RUN1 = f"{{1,{LONG_RUN - 1}}}+"


def _alternating_runs(inside: str, outside: str) -> re.Pattern[str]:
    # Strictly alternating runs, each taken whole (possessive): a longer run cannot match.
    return re.compile(f"{inside}{_RUN}(?:{outside}{_RUN1}{inside}{_RUN1})*+{outside}{_RUN}")


_SHORT_RUNS = _alternating_runs("\\s", "\\S")
_SHORT_SLASH_RUNS = _alternating_runs("[\\s/]", "[^\\s/]")


def _runs_check(name: str) -> Callable[[str], object]:
    if name != "o200k_base":
        return _SHORT_RUNS.fullmatch
    plain, slashes = _SHORT_RUNS.fullmatch, _SHORT_SLASH_RUNS.fullmatch
    # Without a slash, the second check is the first one again.
    return lambda text: plain(text) and ("/" not in text or slashes(text))


class TokieMismatch(RuntimeError):
    """tokie answered differently from the exact backend on a text the guard let through."""


def _checked(
    raw: Callable[[str], int],
    encode: Callable[..., Any],
    exact: Callable[[str], int],
    exact_ids: Callable[[str], list[int]],
) -> tuple[Callable[[str], int], Callable[..., Any]]:
    """``CHUNKWISE_TOKIE_CHECK=1``: every answer tokie gives is compared with the exact
    backend's (the test suite runs so: every count of every test checks the guard)."""

    def count(text: str) -> int:
        got, want = raw(text), exact(text)
        if got != want:
            raise TokieMismatch(f"tokie counts {got} tokens, rs-bpe {want}: {text[:200]!r}")
        return got

    def ids(text: str, add_special_tokens: bool = False) -> Any:
        got = encode(text, add_special_tokens=add_special_tokens)
        if list(got.ids) != exact_ids(text):
            raise TokieMismatch(f"tokie's ids differ from rs-bpe's: {text[:200]!r}")
        return got

    return count, ids


class TokieCounts:
    """tokie's counts and ids for one encoding. ``count`` and ``encode`` take any text: tokie's
    answer where ``safe`` (``SAFE``'s characters, and runs under ``LONG_RUN``), else the exact
    backend's. ``within`` counts texts whose characters are known safe (a substring of a text
    ``chars_ok`` admits): it checks only the length of their runs."""

    def __init__(
        self,
        name: str,
        tok: Any,
        exact: Callable[[str], int],
        exact_ids: Callable[[str], list[int]],
    ) -> None:
        self.tok = tok  # the tokie.Tokenizer
        raw: Callable[[str], int] = tok.count_tokens
        encode = tok.encode
        if os.environ.get("CHUNKWISE_TOKIE_CHECK", "") not in ("", "0"):
            raw, encode = _checked(raw, encode, exact, exact_ids)
        chars_ok = SAFE[name].fullmatch
        runs_ok = _runs_check(name)

        def within(text: str) -> int:
            return raw(text) if len(text) < LONG_RUN or runs_ok(text) else exact(text)

        def count(text: str) -> int:
            return within(text) if chars_ok(text) else exact(text)

        def safe(text: str) -> bool:
            if chars_ok(text) is None:
                return False
            return len(text) < LONG_RUN or bool(runs_ok(text))

        def ids(text: str) -> list[int]:
            if safe(text):
                return list(encode(text, add_special_tokens=False).ids)
            return exact_ids(text)

        self.raw, self.chars_ok, self.within, self.count = raw, chars_ok, within, count
        self.safe, self.encode = safe, ids


def load(
    name: str, exact: Callable[[str], int], exact_ids: Callable[[str], list[int]]
) -> TokieCounts | None:
    """tokie's counts and ids for ``name``, checked against ``exact`` (the exact backend's
    count; ``exact_ids`` its ids, for the texts tokie may not take). None when tokie is not
    installed or its model can be neither loaded nor built and cached."""
    try:
        import tokie
    except ImportError:
        return None
    from chunkwise.tokenizers import _TIKTOKEN_SPECS, _quicktok_data_dir, read_quicktok_vocab

    vocab_file, pattern, _ = _TIKTOKEN_SPECS[name]
    vocab = _quicktok_data_dir() / vocab_file
    try:
        path = _model_path(name, vocab, importlib.import_module("tokie.tokie"))
        tok = None
        if path.is_file():
            try:
                tok = tokie.Tokenizer.from_file(str(path))
            except Exception as exc:  # a damaged file (tokie raises its own errors): rebuilt
                log.debug("tokie model %s unreadable (%s): rebuilding", path, exc)
            else:
                with contextlib.suppress(OSError):  # marks it in use for ``_prune``
                    os.utime(path)
        if tok is None or tok.count_tokens(_PROBE) != exact(_PROBE):
            log.debug("building the tokie model for %s in %s", name, path.parent)
            tok = _build(path, read_quicktok_vocab(vocab), pattern, tokie)
            _prune(path)
            if tok.count_tokens(_PROBE) != exact(_PROBE):
                raise ValueError("the built model disagrees with the exact backend")
    except Exception as exc:
        # A read-only home, a full disk, a tokie that cannot read what it wrote: the exact
        # backend counts everything (rebuilding in every process would cost seconds each).
        log.debug("tokie counts unavailable for %s: %s", name, exc)
        return None
    return TokieCounts(name, tok, exact, exact_ids)
