"""Naive chunk embeddings, the baseline most tools use: each chunk's text is embedded on its own
with sentence-transformers' ``encode`` (optionally with its heading path or ``context`` field in
front), so a chunk knows nothing of the document around it."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping
from typing import Any

from chunkwise.embedders.backend import (
    ModelEmbedder,
    SentenceTransformerBackend,
    guarded,
    to_floats,
)
from chunkwise.embedders.options import EmbedConfig

from chunkwise.types import Chunk, Document

log = logging.getLogger("chunkwise")

CONTEXT_SEPARATOR = "\n\n"


class NaiveEmbedder(ModelEmbedder):
    name = "naive"

    def __init__(self, config: EmbedConfig | Mapping[str, Any] | None = None) -> None:
        super().__init__(config)
        self.truncated = 0

    def load(self) -> NaiveEmbedder:
        self.backend.load()
        return self

    def chunk_limit(self) -> int | None:
        """The most text tokens one chunk may have before the model would cut it off."""
        return self.backend.max_content_tokens

    def context_of(self, chunk: Chunk) -> str:
        ctx = chunk.metadata.get("context") if chunk.metadata else None
        if isinstance(ctx, str) and ctx.strip():
            return ctx.strip()
        return " > ".join(h for h in chunk.headings if h)

    def text_for(self, chunk: Chunk) -> str:
        """What is embedded for ``chunk``: its text, with as much of its context in front as fits
        the model (outer headings are dropped first; a long context field is shortened), so
        the chunk's own text is never the part that gets cut."""
        if not self.config.context:
            return chunk.text
        b = self.backend
        limit = b.max_content_tokens
        own = b.count(chunk.text)
        sep = b.count(CONTEXT_SEPARATOR)
        budget = limit - own - sep
        if budget <= 0:
            return chunk.text
        ctx = chunk.metadata.get("context") if chunk.metadata else None
        if isinstance(ctx, str) and ctx.strip():
            prefix = _clip_to_tokens(b, ctx.strip(), budget)
        else:
            heads = [h for h in chunk.headings if h]
            prefix = ""
            while heads:
                cand = " > ".join(heads)
                if b.count(cand) <= budget:
                    prefix = cand
                    break
                heads = heads[1:]
        return prefix + CONTEXT_SEPARATOR + chunk.text if prefix else chunk.text

    def embed(self, docs: list[Document], chunks: list[list[Chunk]]) -> list[list[Chunk]]:
        return guarded(self._embed, docs, chunks)

    def _embed(self, docs: list[Document], chunks: list[list[Chunk]]) -> list[list[Chunk]]:
        t0 = time.perf_counter()
        b = self.backend
        flat = [c for doc_chunks in chunks for c in doc_chunks]
        texts = [self.text_for(c) for c in flat]
        limit = b.max_content_tokens
        over = sum(n > limit for n in (b.count(t) for t in texts))
        if over:
            self.truncated += over
            log.warning(
                "%d chunks are longer than the %d tokens %s takes and were cut off by the model; "
                "use --late, or size chunks in the model's tokenizer",
                over,
                limit,
                self.model_name,
            )
        vectors = iter(to_floats(b.encode(texts, self.on_progress)))
        out = [
            [
                dataclasses.replace(c, embedding=next(vectors), embedding_model=self.model_name)
                for c in doc_chunks
            ]
            for doc_chunks in chunks
        ]
        log.info(
            "embedded %d chunks of %d documents in %.2fs",
            len(flat),
            len(docs),
            time.perf_counter() - t0,
        )
        return out


def _clip_to_tokens(backend: SentenceTransformerBackend, text: str, budget: int) -> str:
    _, _, ends = backend.tokenize(text)
    if len(ends) <= budget:
        return text
    return text[: int(ends[budget - 1])].rstrip()
