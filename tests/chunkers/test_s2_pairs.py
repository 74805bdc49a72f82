"""S2's spatial graph visits only element pairs that share a page: the same matrix as all pairs."""

from __future__ import annotations

import numpy as np
from chunkwise.chunkers.s2 import _close_pairs, _Node, _spatial
from hypothesis import given, settings
from hypothesis import strategies as st

BOX = st.tuples(st.floats(0, 500), st.floats(0, 700), st.floats(1, 100), st.floats(1, 60)).map(
    lambda t: (t[0], t[1], t[0] + t[2], t[1] + t[3])
)
PLACE = st.tuples(st.integers(1, 4), BOX)
# Mostly boxed places; sometimes a node without page or box (structure distance for all pairs).
NODE = st.tuples(st.one_of(PLACE, PLACE, PLACE, st.just((None, None))), st.lists(PLACE, max_size=2))


def all_pairs(nodes: list[_Node], sizes: dict[int, tuple[float, float]]) -> np.ndarray:
    n = len(nodes)
    sp = np.zeros((n, n))
    for a in range(n):
        for b in range(a + 1, n):
            sp[a, b] = sp[b, a] = _spatial(nodes[a], nodes[b], b - a, sizes)
    return sp


@settings(max_examples=150, deadline=None)
@given(st.lists(NODE, min_size=1, max_size=12))
def test_close_pairs_give_the_all_pairs_matrix(specs: list) -> None:
    nodes = []
    for k, ((page, bbox), more) in enumerate(specs):
        node = _Node(k, k + 1, "paragraph", page, bbox, 0, False)
        if page is not None:
            node.more = list(more)
        nodes.append(node)
    sizes = {p: (612.0, 792.0) for p in range(1, 5)}
    win = list(range(len(nodes)))
    sp = np.zeros((len(nodes), len(nodes)))
    for a, b in _close_pairs(nodes, win):
        assert a < b
        sp[a, b] = sp[b, a] = _spatial(nodes[a], nodes[b], b - a, sizes)
    assert np.array_equal(sp, all_pairs(nodes, sizes))
