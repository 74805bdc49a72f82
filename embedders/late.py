"""Late chunking (Günther et al., "Late Chunking: Contextual Chunk Embeddings Using Long-Context
Embedding Models", 2024): embed the whole document first, pool per chunk afterwards.

Each document is tokenized once with character offsets and no truncation. Its tokens are cut into
windows of ``window`` tokens (special tokens included) that overlap by ``overlap`` tokens; the last
window is aligned to the end of the document so it has full context too. Windows from all the
documents of a batch are embedded together, longest first. A token covered by several windows
takes the weighted mean of their vectors, each weighted by the token's distance to that window's
nearer edge (a cross-fade), so the vector a token gets comes mostly from the window where it sees
the most context on both sides. A chunk's vector is the mean of the vectors of the tokens whose
character start lies in ``[chunk.start, chunk.end)``, passed through the model's post-pooling
modules and L2-normalised.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from chunkwise.embedders.backend import ModelEmbedder, guarded, to_floats
from chunkwise.embedders.options import EmbedConfig

from chunkwise.errors import UsageError
from chunkwise.types import Chunk, Document

if TYPE_CHECKING:
    import numpy.typing as npt

log = logging.getLogger("chunkwise")


def window_starts(n_tokens: int, content: int, overlap: int) -> list[int]:
    """Start token of each window over ``n_tokens`` tokens, ``content`` tokens per window."""
    if n_tokens <= content:
        return [0]
    stride = content - overlap
    starts = list(range(0, n_tokens - content, stride))
    starts.append(n_tokens - content)
    return starts


def edge_weights(length: int) -> npt.NDArray[np.float64]:
    """Weight of each position of a window: distance (in tokens) to the nearer edge, plus one."""
    pos = np.arange(length, dtype=np.float64)
    return np.minimum(pos + 1, length - pos)


def coverage_weights(n_tokens: int, starts: list[int], content: int) -> npt.NDArray[np.float64]:
    """Sum over the windows covering each token of its edge weight in that window; a token's
    vector is the sum of its window vectors weighted by ``edge weight / coverage weight``."""
    total = np.zeros(n_tokens, dtype=np.float64)
    for s in starts:
        length = min(content, n_tokens - s)
        total[s : s + length] += edge_weights(length)
    return total


@dataclass
class _Plan:
    """One document's share of a batch: its windows and a running sum per chunk."""

    ranges: npt.NDArray[np.int64]  # (n_chunks, 2) token ranges [a, b)
    coverage: npt.NDArray[np.float64]
    sums: npt.NDArray[np.float64]
    ordered: bool

    def add(self, start: int, vectors: npt.NDArray[np.float32]) -> None:
        """Fold one window's token vectors into the sums of the chunks it overlaps."""
        length = len(vectors)
        frac = edge_weights(length) / self.coverage[start : start + length]
        csum = np.zeros((length + 1, vectors.shape[1]), dtype=np.float64)
        np.cumsum(vectors * frac[:, None], axis=0, out=csum[1:])
        a, b = self.ranges[:, 0], self.ranges[:, 1]
        if self.ordered:
            lo = int(np.searchsorted(b, start, "right"))
            hi = int(np.searchsorted(a, start + length, "left"))
            cand = np.arange(lo, max(lo, hi))
        else:
            cand = np.nonzero((b > start) & (a < start + length))[0]
        x0 = np.maximum(a[cand], start) - start
        x1 = np.minimum(b[cand], start + length) - start
        keep = x1 > x0
        cand, x0, x1 = cand[keep], x0[keep], x1[keep]
        self.sums[cand] += csum[x1] - csum[x0]


def span_token_ranges(
    tok_starts: npt.NDArray[np.int64],
    tok_ends: npt.NDArray[np.int64],
    spans: list[tuple[int, int]],
) -> list[tuple[int, int]]:
    """For each character span, the tokens ``[a, b)`` whose start lies inside it; a span that
    holds no token start (it sits inside one long token) takes the tokens it overlaps."""
    out = []
    for cs, ce in spans:
        a = int(np.searchsorted(tok_starts, cs, "left"))
        b = int(np.searchsorted(tok_starts, ce, "left"))
        if a >= b:
            a = int(np.searchsorted(tok_ends, cs, "right"))
            b = max(a, int(np.searchsorted(tok_starts, ce, "left")))
        out.append((a, b))
    return out


class LateChunkingEmbedder(ModelEmbedder):
    """Contextual chunk vectors: every token sees its document before chunks are pooled."""

    name = "late"

    def __init__(self, config: EmbedConfig | Mapping[str, Any] | None = None) -> None:
        super().__init__(config)
        self.window = 0
        self.overlap = 0

    def load(self) -> LateChunkingEmbedder:
        """Load the model and check the window options against it (usage errors come here)."""
        b = self.backend
        b.load()
        window = self.config.window or b.max_length
        if window > b.max_positions:
            raise UsageError(
                f"--late-window {window} is above what {b.display_name} can take "
                f"({b.max_positions} positions)"
            )
        content = window - b.n_special
        overlap = self.config.overlap if self.config.overlap is not None else window // 4
        if overlap >= content:
            raise UsageError(
                f"--late-overlap {overlap} must be smaller than the window's {content} text tokens "
                f"(--late-window {window} minus {b.n_special} special tokens)"
            )
        self.window, self.overlap = window, overlap
        return self

    def chunk_limit(self) -> int | None:
        """Late chunking never truncates: a chunk longer than a window spans several windows."""
        return None

    def embed(self, docs: list[Document], chunks: list[list[Chunk]]) -> list[list[Chunk]]:
        return guarded(self._embed, docs, chunks)

    def _merge(self, doc: Document, pieces: list[Chunk], plan: _Plan) -> list[Chunk]:
        """Merge ``pieces`` into chunks of up to ``config.merge`` tokens at meaning changes
        (:mod:`chunkwise.semantic_merge`), from the pieces' own late vectors; ``plan`` is
        rewritten to the merged chunks, whose sums are the sums of their pieces."""
        from chunkwise import semantic_merge

        counts = plan.ranges[:, 1] - plan.ranges[:, 0]
        pooled = plan.sums / np.maximum(counts, 1)[:, None]
        vecs = self.backend.finish(pooled).astype(np.float64)
        vecs[counts == 0] = 0.0
        segs = semantic_merge.plan(vecs, pieces, int(self.config.merge or 0))
        # Token counts travel as the range length: pieces' token ranges abut, so a merged
        # chunk's range is [first piece's start, first start + the pieces' total).
        plan.sums = np.vstack([plan.sums[a:b].sum(axis=0) for a, b in segs])
        plan.ranges = np.asarray(
            [(plan.ranges[a, 0], plan.ranges[a, 0] + counts[a:b].sum()) for a, b in segs],
            dtype=np.int64,
        )
        return semantic_merge.merge(doc, pieces, segs)

    def _embed(self, docs: list[Document], chunks: list[list[Chunk]]) -> list[list[Chunk]]:
        if not self.window:
            self.load()
        t0 = time.perf_counter()
        b = self.backend
        content = self.window - b.n_special
        plans: list[_Plan | None] = []
        windows: list[npt.NDArray[np.int64]] = []
        owners: list[tuple[int, int]] = []  # (document, first token) of each window
        for d, (doc, doc_chunks) in enumerate(zip(docs, chunks, strict=True)):
            if not doc_chunks:
                plans.append(None)
                continue
            ids, starts, ends = b.tokenize(doc.text)
            ws = window_starts(len(ids), content, self.overlap) if len(ids) else []
            ranges = np.asarray(
                span_token_ranges(starts, ends, [(c.start, c.end) for c in doc_chunks]),
                dtype=np.int64,
            )
            ordered = bool(
                np.all(np.diff(ranges[:, 0]) >= 0) and np.all(np.diff(ranges[:, 1]) >= 0)
            )
            plans.append(
                _Plan(
                    ranges,
                    coverage_weights(len(ids), ws, content),
                    np.zeros((len(doc_chunks), b.dim), dtype=np.float64),
                    ordered,
                )
            )
            for s in ws:
                windows.append(ids[s : s + content])
                owners.append((d, s))
        # Token vectors are folded into per-chunk sums as each batch of windows comes back, so
        # memory stays at one batch of windows plus one vector per chunk, whatever the length.
        for i, vectors in b.iter_token_embeddings(windows, self.on_progress):
            d, s = owners[i]
            plan = plans[d]
            assert plan is not None
            plan.add(s, vectors)
        if self.config.merge:
            chunks = [list(cs) for cs in chunks]
            for d, plan in enumerate(plans):
                if plan is not None:
                    chunks[d] = self._merge(docs[d], chunks[d], plan)
        pooled_rows: list[npt.NDArray[np.float64]] = []
        where: list[tuple[int, int]] = []
        fallback: list[tuple[int, int, str]] = []  # chunks without a token of their own
        for d, plan in enumerate(plans):
            if plan is None:
                continue
            counts = plan.ranges[:, 1] - plan.ranges[:, 0]
            for i, n in enumerate(counts.tolist()):
                if n > 0:
                    pooled_rows.append(plan.sums[i] / n)
                    where.append((d, i))
                else:
                    fallback.append((d, i, chunks[d][i].text))
        vectors_by_chunk: dict[tuple[int, int], tuple[float, ...]] = {}
        if pooled_rows:
            finished = to_floats(b.finish(np.vstack(pooled_rows)))
            vectors_by_chunk.update(zip(where, finished, strict=True))
        if fallback:
            # Whitespace-only chunks hold no token: their text is embedded alone.
            enc = to_floats(b.encode([t for _, _, t in fallback]))
            vectors_by_chunk.update(((d, i), v) for (d, i, _), v in zip(fallback, enc, strict=True))
        out = [
            [
                dataclasses.replace(
                    c, embedding=vectors_by_chunk[(d, i)], embedding_model=self.model_name
                )
                for i, c in enumerate(doc_chunks)
            ]
            for d, doc_chunks in enumerate(chunks)
        ]
        log.info(
            "late-chunked %d chunks of %d documents (%d windows) in %.2fs",
            len(where) + len(fallback),
            len(docs),
            len(windows),
            time.perf_counter() - t0,
        )
        return out
