"""Counts derived from one tokenization of the document equal encoding each span alone."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chunkwise.packing import Packer, piece_boundary
from chunkwise.tokenizers import bpe_backends, get_tokenizer
from tests.core.test_bpe_backends import bpe_backend, reference

# Words, punctuation runs, digits, quotes and every kind of break, so spans start and end at and
# around each kind of pre-tokenizer boundary.
_ATOMS = st.sampled_from(
    [
        "word", "Word", "the", "it's", "THEY'RE", "naïve", "日本語", "🎉", "x" * 30, "12345",
        "3.5", "e.g.", "U.S.", "said.", "said.”", "(a)", "—", "/usr/bin", "'", "\u0301",
        " ", " ", "  ", "\t", "\n", "\n\n", "\r\n", " \n", "\u00a0", "\u3000", ".", "!?", "”",
    ]
)  # fmt: skip
_TEXTS = st.lists(_ATOMS, min_size=1, max_size=80).map("".join)


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base"])
@pytest.mark.parametrize("backend", bpe_backends())
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=_TEXTS, data=st.data())
def test_exact_counts_equal_encoding_each_span(
    name: str, backend: str, text: str, data: st.DataObject
) -> None:
    with bpe_backend(backend):
        tok = get_tokenizer(name)
    packer = Packer(text, tok, 10_000, levels=[])
    cuts = st.integers(0, len(text))
    spans = [
        tuple(sorted((data.draw(cuts), data.draw(cuts))))
        for _ in range(data.draw(st.integers(1, 6)))
    ]
    spans = [(a, b) for a, b in spans if a < b]
    ref = reference(name)
    want = [len(ref.encode_ordinary(text[a:b])) for a, b in spans]  # type: ignore[attr-defined]
    assert packer.exact_counts(spans) == want


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base"])
@settings(max_examples=200, deadline=None)
@given(text=_TEXTS, data=st.data())
def test_piece_boundaries_split_the_encoding(name: str, text: str, data: st.DataObject) -> None:
    """At a piece boundary, encoding the two sides apart gives the whole text's tokens."""
    p = data.draw(st.integers(0, len(text)))
    if not piece_boundary(text, p):
        return
    ref = reference(name)
    whole = ref.encode_ordinary(text)  # type: ignore[attr-defined]
    assert ref.encode_ordinary(text[:p]) + ref.encode_ordinary(text[p:]) == whole  # type: ignore[attr-defined]


def test_windows_and_trimmed_chunks_are_counted_without_encoding() -> None:
    text = ("The court held that the statute applies. " * 40 + "\n\n") * 5
    tok = get_tokenizer("cl100k_base")
    packer = Packer(text, tok, 10_000, levels=[])
    starts = packer.index.starts
    # Token windows (start and end on token starts, " word") and trimmed sentences.
    spans = [(int(starts[i]), int(starts[i + 50])) for i in range(0, 1000, 50)]
    spans += [(m, text.index(".", m) + 1) for m in range(0, 2000, 41)]
    calls = 0
    real_count = tok.count

    def counting(t: str) -> int:
        nonlocal calls
        calls += 1
        return int(real_count(t))

    packer.tokenizer = type("T", (), {})()  # only what exact_counts uses
    packer.tokenizer.span_exact_after_newline = True  # type: ignore[attr-defined]
    packer.tokenizer.offsets_exact = tok.offsets_exact  # type: ignore[attr-defined]
    packer.tokenizer.count = counting  # type: ignore[attr-defined]
    packer.tokenizer.count_batch = lambda ts: [counting(t) for t in ts]  # type: ignore[attr-defined]
    got = packer.exact_counts(spans)
    assert got == [tok.count(text[a:b]) for a, b in spans]
    # Heads and tails are a word or two, and the same words recur: a few encodes, not one per
    # span (69 spans here; their arbitrary starts cut words at 12 different places).
    assert calls <= 15, calls
