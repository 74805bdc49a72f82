"""Merging small pieces into chunks whose boundaries fall where the meaning changes.

After Chroma's ClusterSemanticChunker (Smith & Troynikov 2024): choose the segmentation of a
document's pieces into runs of at most ``cap`` tokens that maximises the summed pairwise
similarity inside each run, similarities centred on their document mean (so joining unrelated
pieces costs, joining related ones pays). Chroma embeds every ~50-token piece on its own; here the
piece vectors are late-chunked (pooled from the same token vectors the chunks are pooled from), so
the boundaries cost no extra model pass and each piece is read in context.

Only neighbours that belong together structurally are ever merged: the same heading path, the
same kind, both plain (not synthetic, e.g. a table piece that repeats its header). Offsets stay
exact: a merged chunk is ``doc.text[first.start:last.end]``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from chunkwise.types import Chunk, Document

Segment = tuple[int, int]


def segments(vectors: np.ndarray, sizes: Sequence[int], cap: int) -> list[Segment]:
    """``[a, b)`` runs of pieces covering all of them, each at most ``cap`` tokens (a single piece
    over ``cap`` stays alone), maximising the centred within-run similarity (dynamic programming,
    O(pieces x run length))."""
    n = len(sizes)
    if n <= 1:
        return [(0, n)] if n else []
    v = np.asarray(vectors, dtype=np.float64)
    sim = v @ v.T
    sim -= float(np.mean(sim[np.triu_indices(n, 1)]))
    np.fill_diagonal(sim, 0.0)
    # Prefix sums over rows make the reward of a run [i, j) an O(run) update as i moves left.
    best = np.full(n + 1, -np.inf)
    best[0] = 0.0
    back = np.zeros(n + 1, dtype=np.int64)
    for j in range(1, n + 1):
        total = 0
        reward = 0.0
        i = j
        while i > 0:
            if i < j and total + sizes[i - 1] > cap:
                break
            i -= 1
            total += sizes[i]
            # Adding piece i to run [i+1, j): its similarity to every piece already in, twice.
            reward += 2.0 * float(sim[i, i + 1 : j].sum())
            # Ties go to the longer run: a uniform stretch is joined up to the cap.
            if best[i] + reward >= best[j]:
                best[j] = best[i] + reward
                back[j] = i
    out: list[Segment] = []
    j = n
    while j > 0:
        out.append((int(back[j]), j))
        j = int(back[j])
    return out[::-1]


def mergeable(a: Chunk, b: Chunk) -> bool:
    """Whether ``b`` may join the chunk that ends with ``a``."""
    return (
        not a.synthetic
        and not b.synthetic
        and a.kind == b.kind
        and a.headings == b.headings
        and a.end <= b.start
    )


def groups(chunks: Sequence[Chunk]) -> list[Segment]:
    """Maximal runs of neighbours that :func:`mergeable` allows to merge."""
    out: list[Segment] = []
    start = 0
    for i in range(1, len(chunks) + 1):
        if i == len(chunks) or not mergeable(chunks[i - 1], chunks[i]):
            out.append((start, i))
            start = i
    return out if chunks else []


def plan(vectors: np.ndarray, chunks: Sequence[Chunk], cap: int) -> list[Segment]:
    """Segments over all of ``chunks``: :func:`segments` inside each mergeable group."""
    out: list[Segment] = []
    for a, b in groups(chunks):
        sizes = [c.n_tokens for c in chunks[a:b]]
        out.extend((a + x, a + y) for x, y in segments(vectors[a:b], sizes, cap))
    return out


def merge(doc: Document, chunks: Sequence[Chunk], plan_: Sequence[Segment]) -> list[Chunk]:
    """One chunk per segment, text and offsets exact, renumbered."""
    out: list[Chunk] = []
    for k, (a, b) in enumerate(plan_):
        run = chunks[a:b]
        first, last = run[0], run[-1]
        if len(run) == 1:
            out.append(dataclasses.replace(first, index=k))
            continue
        pages = sorted({p for c in run for p in (c.pages or ())})
        boxes = [bb for c in run for bb in (c.bboxes or ())]
        out.append(
            dataclasses.replace(
                first,
                index=k,
                end=last.end,
                text=doc.text[first.start : last.end],
                n_tokens=sum(c.n_tokens for c in run),
                pages=tuple(pages) if pages else None,
                bboxes=tuple(boxes) if boxes else None,
                continues=last.continues,
            )
        )
    return out
