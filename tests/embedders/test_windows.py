"""Late chunking's window plan, stitching and span lookup, without a model."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from chunkwise.embedders.late import (
    _Plan,
    coverage_weights,
    edge_weights,
    span_token_ranges,
    window_starts,
)
from hypothesis import given, settings
from hypothesis import strategies as st


@settings(deadline=None)
@given(
    n=st.integers(1, 3000),
    content=st.integers(2, 600),
    data=st.data(),
)
def test_windows_cover_every_token_with_the_promised_overlap(n: int, content: int, data) -> None:
    overlap = data.draw(st.integers(0, content - 1))
    starts = window_starts(n, content, overlap)
    assert starts[0] == 0
    assert starts == sorted(set(starts))
    covered = np.zeros(n, dtype=int)
    for s in starts:
        assert s >= 0 and (s + content <= n or s == 0)
        covered[s : s + content] += 1
    assert covered.min() >= 1
    # Neighbouring windows share at least `overlap` tokens, so no token sits at a seam blind.
    for a, b in itertools.pairwise(starts):
        assert a + content - b >= overlap
    if n > content:
        assert starts[-1] + content == n, "the last window ends at the document end"


def test_edge_weights_peak_in_the_middle() -> None:
    assert edge_weights(5).tolist() == [1, 2, 3, 2, 1]
    assert edge_weights(4).tolist() == [1, 2, 2, 1]
    assert edge_weights(1).tolist() == [1]


def _fold(n: int, dim: int, starts: list[int], vectors: list[np.ndarray]) -> np.ndarray:
    """Token vectors as the late embedder combines them: one chunk per token, so each chunk's
    pooled sum is exactly that token's combined vector."""
    content = max(len(v) for v in vectors)
    plan = _Plan(
        np.array([[t, t + 1] for t in range(n)]),
        coverage_weights(n, starts, content),
        np.zeros((n, dim)),
        ordered=True,
    )
    for s, v in zip(starts, vectors, strict=True):
        plan.add(s, v)
    return plan.sums


def test_single_window_is_identity() -> None:
    rng = np.random.default_rng(0)
    vec = rng.normal(size=(7, 3)).astype(np.float32)
    np.testing.assert_allclose(_fold(7, 3, [0], [vec]), vec, rtol=1e-6)


def test_overlaps_cross_fade_by_distance_to_edge() -> None:
    a = np.ones((4, 1), np.float32)  # tokens 0..3
    b = np.full((4, 1), 3.0, np.float32)  # tokens 2..5
    out = _fold(6, 1, [0, 2], [a, b])[:, 0]
    # token 2: weight 2 in a (pos 2 of 4), 1 in b (pos 0) -> (2*1 + 1*3) / 3
    # token 3: weight 1 in a, 2 in b -> (1 + 6) / 3
    np.testing.assert_allclose(out, [1, 1, 5 / 3, 7 / 3, 3, 3])


@settings(deadline=None, max_examples=60)
@given(n=st.integers(1, 400), content=st.integers(2, 64), data=st.data())
def test_chunk_sums_match_per_token_folding(n: int, content: int, data) -> None:
    """Pooling whole chunks inside the fold equals folding per token, then summing per chunk,
    for any window plan and any (possibly overlapping, unordered) chunk ranges."""
    overlap = data.draw(st.integers(0, content - 1))
    starts = window_starts(n, content, overlap)
    rng = np.random.default_rng(n * 1000 + content)
    vecs = [rng.normal(size=(min(content, n - s), 2)).astype(np.float32) for s in starts]
    per_token = _fold(n, 2, starts, vecs)
    cuts = data.draw(
        st.lists(st.tuples(st.integers(0, n), st.integers(0, n)), min_size=1, max_size=8)
    )
    ranges = np.array([[min(x, y), max(x, y)] for x, y in cuts])
    ordered = bool(np.all(np.diff(ranges, axis=0) >= 0))
    plan = _Plan(ranges, coverage_weights(n, starts, content), np.zeros((len(ranges), 2)), ordered)
    for s, v in zip(starts, vecs, strict=True):
        plan.add(s, v)
    expected = np.array([per_token[a:b].sum(axis=0) for a, b in ranges])
    np.testing.assert_allclose(plan.sums, expected, atol=1e-9)


def test_span_token_ranges_by_token_start() -> None:
    # tokens: "ab" [0,2) "cd" [2,4) " ef" [5,7) -> starts 0,2,5
    starts = np.array([0, 2, 5])
    ends = np.array([2, 4, 7])
    assert span_token_ranges(starts, ends, [(0, 4), (4, 7), (0, 7)]) == [(0, 2), (2, 3), (0, 3)]
    # A span inside one token falls back to the tokens it overlaps.
    assert span_token_ranges(starts, ends, [(6, 7)]) == [(2, 3)]
    # Whitespace between tokens holds none.
    assert span_token_ranges(starts, ends, [(4, 5)]) == [(2, 2)]


@pytest.mark.parametrize("n,content,overlap", [(10, 10, 3), (11, 10, 3), (100, 10, 0)])
def test_window_examples(n: int, content: int, overlap: int) -> None:
    starts = window_starts(n, content, overlap)
    expected = {(10, 10, 3): [0], (11, 10, 3): [0, 1], (100, 10, 0): list(range(0, 91, 10))}
    assert starts == expected[(n, content, overlap)]


def test_embedder_options_reach_the_incremental_state_hash() -> None:
    """--state must re-embed when the window or context options change (no model is loaded)."""
    from chunkwise.embedders import EmbedConfig
    from chunkwise.embedders.late import LateChunkingEmbedder
    from chunkwise.embedders.naive import NaiveEmbedder

    from chunkwise.pipeline import IngestOptions, options_hash

    opts = IngestOptions()
    hashes = {
        options_hash(opts, emb)
        for emb in (
            LateChunkingEmbedder(EmbedConfig()),
            LateChunkingEmbedder(EmbedConfig(window=128)),
            LateChunkingEmbedder(EmbedConfig(window=128, overlap=8)),
            NaiveEmbedder(EmbedConfig()),
            NaiveEmbedder(EmbedConfig(context=True)),
        )
    }
    assert len(hashes) == 5
    assert options_hash(opts, LateChunkingEmbedder(EmbedConfig(batch_size=8))) == options_hash(
        opts, LateChunkingEmbedder(EmbedConfig(batch_size=64))
    )


def test_unexpected_embedding_failures_become_embed_errors() -> None:
    from chunkwise.embedders.backend import guarded

    from chunkwise.errors import EmbedError, UsageError

    def boom(kind: type[Exception]) -> None:
        raise kind("CUDA error: device-side assert\ntriggered")

    with pytest.raises(EmbedError, match="embedding failed: CUDA error: device-side assert"):
        guarded(boom, RuntimeError)
    with pytest.raises(UsageError):
        guarded(boom, UsageError)
    assert guarded(lambda x: x + 1, 1) == 2
