"""Embedding settings (see ``chunkwise.options``), apart from the embedders so that building
them imports neither numpy nor torch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from chunkwise.options import Options, option


@dataclass(frozen=True)
class EmbedConfig(Options):
    """What the CLI (or a library user) chooses about embedding; both built-in embedders take
    it (late reads window/overlap, naive reads context)."""

    plugin: ClassVar[str] = "embed"

    model: str | None = option(
        None,
        "local model folder or installed model (None: all-MiniLM-L6-v2)",
        flag="--embed-model",
    )
    device: str = option(
        "auto",
        "auto (CUDA when present), cpu, cuda or cuda:N",
        flag="--device",
        affects_output=False,
    )
    batch_size: int = option(
        32,
        "windows (late) or texts (naive) per forward pass",
        min=1,
        flag="--batch-size",
        affects_output=False,
    )
    window: int | None = option(
        None,
        "late: tokens per window incl. special tokens (None: the model's maximum)",
        min=8,
        flag="--late-window",
    )
    overlap: int | None = option(
        None,
        "late: tokens shared by neighbouring windows (None: window // 4)",
        min=0,
        flag="--late-overlap",
    )
    context: bool = option(
        False, "naive: prefix each chunk with its heading path / context", flag="--embed-context"
    )
    merge: int | None = option(
        None,
        "late: merge the chunker's pieces into chunks of up to this many tokens where the meaning "
        "changes (set under --embed; None keeps the chunker's chunks)",
        min=1,
    )
