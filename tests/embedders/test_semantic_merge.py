"""Merging pieces at meaning changes: the DP, the structural rules, exact offsets."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from chunkwise import semantic_merge as sm
from chunkwise.types import Chunk, Document


def _piece(doc: Document, a: int, b: int, i: int, **kw: object) -> Chunk:
    fields: dict[str, object] = {"headings": (), "kind": "text", "synthetic": False}
    fields.update(kw)
    return Chunk(
        doc_id=doc.doc_id,
        index=i,
        start=a,
        end=b,
        text=doc.text[a:b],
        n_tokens=b - a,
        tokenizer="chars",
        chunker="recursive",
        **fields,  # type: ignore[arg-type]
    )


def test_cuts_fall_where_the_topic_changes() -> None:
    # Two topics of three pieces each: the best cut is between them whatever the cap allows.
    a, b = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    vecs = np.array([a, a, a, b, b, b])
    assert sm.segments(vecs, [10] * 6, cap=60) == [(0, 3), (3, 6)]
    # A cap of two pieces still never joins across the topic change.
    segs = sm.segments(vecs, [10] * 6, cap=20)
    assert all(not (s < 3 < e) for s, e in segs)
    assert sum(e - s for s, e in segs) == 6


def _brute_force(vecs: np.ndarray, sizes: list[int], cap: int) -> float:
    n = len(sizes)
    v = vecs @ vecs.T
    v = v - np.mean(v[np.triu_indices(n, 1)])
    np.fill_diagonal(v, 0)
    best = -np.inf
    for cuts in itertools.product([0, 1], repeat=n - 1):
        bounds = [0] + [i + 1 for i, c in enumerate(cuts) if c] + [n]
        segs = list(itertools.pairwise(bounds))
        if any(sum(sizes[a:b]) > cap and b - a > 1 for a, b in segs):
            continue
        best = max(best, sum(float(v[a:b, a:b].sum()) for a, b in segs))
    return best


@given(
    st.lists(st.integers(1, 30), min_size=2, max_size=8),
    st.integers(0, 2**32 - 1),
    st.integers(20, 80),
)
def test_dp_is_optimal_and_respects_the_cap(sizes: list[int], seed: int, cap: int) -> None:
    rng = np.random.default_rng(seed)
    vecs = rng.normal(size=(len(sizes), 4))
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    segs = sm.segments(vecs, sizes, cap)
    assert segs[0][0] == 0 and segs[-1][1] == len(sizes)
    assert all(x[1] == y[0] for x, y in itertools.pairwise(segs))
    assert all(sum(sizes[a:b]) <= cap or b - a == 1 for a, b in segs)
    n = len(sizes)
    m = vecs @ vecs.T
    m = m - np.mean(m[np.triu_indices(n, 1)])
    np.fill_diagonal(m, 0)
    got = sum(float(m[a:b, a:b].sum()) for a, b in segs)
    assert got >= _brute_force(vecs, sizes, cap) - 1e-9


def test_merge_keeps_offsets_exact_and_respects_structure() -> None:
    doc = Document(source="d", doc_id="d", text="aaaa bbbb cccc dddd eeee ffff")
    p = [_piece(doc, 5 * i, 5 * i + 4, i) for i in range(6)]
    p[3] = _piece(doc, 15, 19, 3, headings=("Other",))
    p[5] = _piece(doc, 25, 29, 5, synthetic=True)
    assert sm.groups(p) == [(0, 3), (3, 4), (4, 5), (5, 6)]
    vecs = np.ones((6, 3))
    merged = sm.merge(doc, p, sm.plan(vecs, p, cap=100))
    assert [c.text for c in merged] == ["aaaa bbbb cccc", "dddd", "eeee", "ffff"]
    assert all(c.text == doc.text[c.start : c.end] for c in merged[:3])
    assert [c.index for c in merged] == [0, 1, 2, 3]
    assert merged[0].n_tokens == 12 and merged[3].synthetic
