"""Every BPE backend gives tiktoken's ids: tiktoken is the reference."""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chunkwise.errors import UsageError
from chunkwise.tokenizers import (
    _TIKTOKEN_SPECS,
    _lengths_from_ranks,
    _quicktok_data_dir,
    bpe_backends,
    get_tokenizer,
    read_quicktok_vocab,
    tiktoken_encoding,
    token_byte_lengths,
)

ENCODINGS = ["cl100k_base", "o200k_base"]
BACKENDS = bpe_backends()


@contextmanager
def bpe_backend(backend: str) -> Iterator[None]:
    """Select the backend for get_tokenizer (and so for every chunker) inside the block."""
    old = os.environ.get("CHUNKWISE_BPE")
    os.environ["CHUNKWISE_BPE"] = backend
    try:
        if backend == "tokie":
            # Its counts are loaded lazily (after 1 MB of text): load them now for the block.
            for name in ENCODINGS:
                get_tokenizer(name).warm()
        yield
    finally:
        if old is None:
            del os.environ["CHUNKWISE_BPE"]
        else:
            os.environ["CHUNKWISE_BPE"] = old


@functools.lru_cache(maxsize=4)
def reference(name: str) -> object:
    return tiktoken_encoding(name)


def test_tokie_and_rs_bpe_are_installed_and_preferred() -> None:
    # Core dependencies: if one went missing, every run would silently fall back to a slower
    # backend.
    assert BACKENDS == ["tokie", "rs-bpe", "tiktoken"]
    assert get_tokenizer("cl100k_base").backend == os.environ.get("CHUNKWISE_BPE", "tokie")


def _tokenizer(name: str, backend: str) -> Any:
    with bpe_backend(backend):
        tok = get_tokenizer(name)
    if backend == "tokie":
        assert tok._fast is not None, "tokie's model could not be built or loaded"
    return tok


def test_unknown_backend_is_a_usage_error() -> None:
    with bpe_backend("nope"), pytest.raises(UsageError, match="CHUNKWISE_BPE"):
        get_tokenizer("cl100k_base")


@pytest.mark.parametrize("name", ENCODINGS)
def test_shipped_token_lengths_match_the_ranks(name: str) -> None:
    ranks = read_quicktok_vocab(_quicktok_data_dir() / _TIKTOKEN_SPECS[name][0])
    assert np.array_equal(token_byte_lengths(name), _lengths_from_ranks(ranks))


# Letters of several scripts and cases, marks, digits, apostrophes (contractions), every kind of
# whitespace, unassigned and private-use code points: what the pre-tokenizer regex splits on.
_PIECES = st.sampled_from(
    [
        *"aZé'sSdDmtlvre0123456789.,!?;-—_ \n\r\t\u00a0\u2028\u3000中ßǅ\u0301\u02b0İı🎉",
        *("'ll", "'VE", "  \n", "\r\n", "    ", "\U000326db", "\U000e01f0", "\ue000"),
    ]
)
_TEXT = st.one_of(
    st.text(max_size=80),
    st.lists(st.one_of(_PIECES, st.characters(exclude_categories=("Cs",))), max_size=80).map(
        "".join
    ),
)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ENCODINGS)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=_TEXT)
def test_backend_ids_equal_tiktoken(name: str, backend: str, text: str) -> None:
    tok = _tokenizer(name, backend)
    assert tok.backend == backend
    want = reference(name).encode_ordinary(text)  # type: ignore[attr-defined]
    assert tok.encode(text) == want
    assert tok.count(text) == len(want)
    assert tok.count_batch([text, text + "x"]) == [len(want), tok.count(text + "x")]
    starts, ends = tok.offsets(text)
    assert len(starts) == len(want)
    if len(want):
        assert text[int(starts[0]) : int(ends[-1])] == text


@pytest.mark.parametrize("backend", BACKENDS)
def test_backend_ids_equal_tiktoken_on_documents(backend: str, sample_docs: Path) -> None:
    texts = [
        p.read_text(encoding="utf-8", errors="replace")
        for p in sorted(sample_docs.rglob("*"))
        if p.suffix in (".txt", ".md", ".html", ".py", ".json")
    ]
    assert texts
    # One long text exercises the segmented (both cores) path of offsets().
    texts.append("\n".join(texts))
    for name in ENCODINGS:
        tok = _tokenizer(name, backend)
        for text in texts:
            want = reference(name).encode_ordinary(text)  # type: ignore[attr-defined]
            assert tok.encode(text) == want
            assert tok.count(text) == len(want)
            starts, _ = tok.offsets(text)
            assert len(starts) == len(want)
