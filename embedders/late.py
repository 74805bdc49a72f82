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
from typing import TYPE_CHECKING, Any

import numpy as np
from chunkwise.embedders.backend import (
    EmbedConfig,
    Progress,
    SentenceTransformerBackend,
    to_floats,
)

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


def stitch(
    n_tokens: int,
    dim: int,
    starts: list[int],
    vectors: list[npt.NDArray[np.float32]],
) -> npt.NDArray[np.float64]:
    """One vector per document token from overlapping windows' token vectors."""
    acc = np.zeros((n_tokens, dim), dtype=np.float64)
    weight = np.zeros(n_tokens, dtype=np.float64)
    for s, vec in zip(starts, vectors, strict=True):
        w = edge_weights(len(vec))
        acc[s : s + len(vec)] += vec * w[:, None]
        weight[s : s + len(vec)] += w
    return acc / np.maximum(weight, 1e-12)[:, None]


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


class LateChunkingEmbedder:
    """Contextual chunk vectors: every token sees its document before chunks are pooled."""

    name = "late"

    def __init__(self, config: EmbedConfig | None = None) -> None:
        self.config = config or EmbedConfig()
        self.backend = SentenceTransformerBackend(
            self.config.model, self.config.device, self.config.batch_size
        )
        self.on_progress: Progress | None = None
        self.window = 0
        self.overlap = 0

    @property
    def model_name(self) -> str:
        return self.backend.display_name

    @property
    def device_independent_options(self) -> str:
        """What shapes the vectors besides the model (``--state`` re-embeds when it changes)."""
        return f"window={self.config.window},overlap={self.config.overlap}"

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

    def token_vectors(self, docs: list[Document]) -> list[Any]:
        """Per document: (token starts, token ends, stitched token vectors)."""
        if not self.window:
            self.load()
        b = self.backend
        content = self.window - b.n_special
        plans = []
        windows: list[npt.NDArray[np.int64]] = []
        for doc in docs:
            ids, starts, ends = b.tokenize(doc.text)
            ws = window_starts(len(ids), content, self.overlap) if len(ids) else []
            plans.append((ids, starts, ends, ws, len(windows)))
            windows.extend(ids[s : s + content] for s in ws)
        vecs = b.token_embeddings(windows, self.on_progress)
        out = []
        for ids, starts, ends, ws, first in plans:
            tv = stitch(len(ids), b.dim, ws, vecs[first : first + len(ws)])
            out.append((starts, ends, tv))
        return out

    def embed(self, docs: list[Document], chunks: list[list[Chunk]]) -> list[list[Chunk]]:
        t0 = time.perf_counter()
        b = self.backend
        per_doc = self.token_vectors(docs)
        pooled_rows: list[npt.NDArray[np.float64]] = []
        fallback: list[tuple[int, int, str]] = []  # (doc, chunk, text) with no token in the span
        where: list[tuple[int, int]] = []
        for d, ((starts, ends, tv), doc_chunks) in enumerate(zip(per_doc, chunks, strict=True)):
            ranges = span_token_ranges(starts, ends, [(c.start, c.end) for c in doc_chunks])
            csum = np.vstack([np.zeros((1, b.dim)), np.cumsum(tv, axis=0)])
            for i, (a, z) in enumerate(ranges):
                if z > a:
                    pooled_rows.append((csum[z] - csum[a]) / (z - a))
                    where.append((d, i))
                else:
                    fallback.append((d, i, doc_chunks[i].text))
        vectors: dict[tuple[int, int], tuple[float, ...]] = {}
        if pooled_rows:
            finished = to_floats(b.finish(np.vstack(pooled_rows)))
            vectors.update(zip(where, finished, strict=True))
        if fallback:
            # A chunk without any token of its own (whitespace only) gets its text embedded alone.
            enc = to_floats(b.encode([t for _, _, t in fallback]))
            vectors.update(((d, i), v) for (d, i, _), v in zip(fallback, enc, strict=True))
        out = [
            [
                dataclasses.replace(c, embedding=vectors[(d, i)], embedding_model=self.model_name)
                for i, c in enumerate(doc_chunks)
            ]
            for d, doc_chunks in enumerate(chunks)
        ]
        log.info(
            "late-chunked %d chunks of %d documents in %.2fs",
            len(where) + len(fallback),
            len(docs),
            time.perf_counter() - t0,
        )
        return out
