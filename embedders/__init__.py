"""Chunk embedders: late chunking (default) and the naive per-chunk baseline, both on
sentence-transformers. Importing this package imports neither torch nor sentence-transformers;
the model loads when an embedder's ``load()`` (or first ``embed``) runs."""

from __future__ import annotations

import logging
from typing import Any

from chunkwise.embedders.options import EmbedConfig

log = logging.getLogger("chunkwise")

__all__ = [
    "EmbedConfig",
    "build_embedder",
    "chunk_sizing",
    "embed_chunk_defaults",
    "model_tokenizer_name",
]


def build_embedder(method: str, config: EmbedConfig, *, load: bool = True) -> Any:
    """The registered embedder ``method`` (late, naive, or a plugin), model loaded when asked."""
    from chunkwise import registry

    embedder = registry.load("embedders", method)(config)
    if load:
        embedder.load()
    return embedder


def model_tokenizer_name(model: str | None) -> str:
    """The tokenizer name ``chunkwise.tokenizers.get_tokenizer`` resolves to the model's own."""
    return model or "all-MiniLM-L6-v2"


def chunk_sizing(
    embedder: Any, model: str | None, tokenizer: str | None, max_tokens: int, explicit: bool = True
) -> tuple[str, int]:
    """Tokenizer and token cap for chunking when embedding.

    Without ``--tokenizer`` chunks are sized in the embedding model's tokenizer. When the embedder
    cannot see past a limit (naive: the model's max_seq_length minus its special tokens) and the
    chunks are sized in that tokenizer, ``max_tokens`` is capped there with a warning, so no chunk
    is silently cut by the model. A cap the user did not give (``explicit`` false: the default) is
    lowered without a warning, since there is nothing for the user to change.
    """
    name = tokenizer or model_tokenizer_name(model)
    limit = embedder.chunk_limit()
    if limit is not None and max_tokens > limit:
        if tokenizer is None:
            (log.warning if explicit else log.debug)(
                "--max-tokens %d is more than %s takes in one pass; chunks capped at %d tokens",
                max_tokens,
                embedder.model_name,
                limit,
            )
            max_tokens = limit
        else:
            log.warning(
                "chunks are sized in %s, not the model's tokenizer; any chunk over %d model "
                "tokens will be cut off by %s (use --late, or drop --tokenizer)",
                tokenizer,
                limit,
                embedder.model_name,
            )
    return name, max_tokens


# What plain ``chunk ingest --embed`` chunks to when no --max-tokens is given (measured in
# docs/retrieval.md): late chunking cuts pieces of EMBED_PIECE_TOKENS and merges them into chunks
# of up to EMBED_MAX_TOKENS where the meaning changes.
EMBED_MAX_TOKENS = 160
EMBED_PIECE_TOKENS = 32


def embed_chunk_defaults(
    method: str, max_tokens: int | None, overlap: int | None
) -> tuple[int, int, int | None]:
    """(chunker cap, overlap, merge cap) under ``--embed``: sizes given explicitly are used as
    they are, without merging; overlapping pieces are never merged."""
    if max_tokens is not None:
        return max_tokens, overlap or 0, None
    if method == "late" and not overlap:
        return EMBED_PIECE_TOKENS, 0, EMBED_MAX_TOKENS
    from chunkwise.chunking import ChunkerConfig

    # Naive and overlapping late chunks keep the general default (naive: capped at what the
    # model takes): 160-token naive chunks lose 5 recall points on the dev set.
    return ChunkerConfig.max_tokens, overlap or 0, None
