from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chunkwise.errors import UsageError
from chunkwise.tokenizers import get_tokenizer


def test_cl100k_matches_published_ids() -> None:
    tok = get_tokenizer("cl100k_base")
    assert tok.encode("Hello world!") == [9906, 1917, 0]
    assert tok.count("Hello world!") == 3


def test_o200k_loads_offline() -> None:
    tok = get_tokenizer("o200k_base")
    assert tok.encode("Hello world!") == [13225, 2375, 0]


def test_special_token_text_is_counted_as_text() -> None:
    tok = get_tokenizer("cl100k_base")
    # A document that happens to contain "<|endoftext|>" must not raise or be read as a control.
    assert tok.count("a <|endoftext|> b") > 3


def test_minilm_tokenizer_from_bundled_model_is_not_truncated() -> None:
    tok = get_tokenizer("all-MiniLM-L6-v2")
    assert tok.name == "sentence-transformers/all-MiniLM-L6-v2"
    assert tok.count("word " * 1000) == 1000


def test_unknown_tokenizer_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown tokenizer"):
        get_tokenizer("no-such-tokenizer")


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base", "all-MiniLM-L6-v2", "chars"])
@settings(max_examples=60, deadline=None)
@given(text=st.text(min_size=0, max_size=300))
def test_offsets_are_monotonic_and_inside_text(name: str, text: str) -> None:
    tok = get_tokenizer(name)
    starts, ends = tok.offsets(text)
    assert len(starts) == len(ends)
    if len(starts):
        assert np.all(np.diff(starts) >= 0)
        assert starts[0] >= 0 and ends[-1] <= len(text)
        assert np.all(ends >= starts)


@settings(max_examples=80, deadline=None)
@given(text=st.text(min_size=1, max_size=300))
def test_tiktoken_offsets_cover_every_character(text: str) -> None:
    tok = get_tokenizer("cl100k_base")
    starts, ends = tok.offsets(text)
    covered = np.zeros(len(text), dtype=bool)
    for a, b in zip(starts, ends, strict=True):
        covered[a:b] = True
    assert covered.all()
    assert len(starts) == tok.count(text)


def _has_run(text: str) -> bool:
    # Linear reference (the \s{65536,} regex itself is quadratic inside such a run).
    return max((len(m.group()) for m in re.finditer(r"\s+", text)), default=0) >= 65536


@pytest.mark.parametrize("start", [0, 1, 32767, 40000])
@pytest.mark.parametrize("length", [65535, 65536, 70000])
@pytest.mark.parametrize("space", [" ", "\u3000", " \t\n"])
def test_long_whitespace_probe_finds_the_runs(start: int, length: int, space: str) -> None:
    from chunkwise.bpe_index import has_long_whitespace as _long_whitespace_run

    run = (space * length)[:length]
    text = "x" * start + run + "y" * 40_000
    assert _long_whitespace_run(text) == _has_run(text) == (length >= 65536)
    broken = text[: start + length // 2] + "z" + text[start + length // 2 + 1 :]
    assert not _long_whitespace_run(broken) and not _has_run(broken)
