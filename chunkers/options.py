"""Options of the built-in chunkers (see ``chunkwise.options``). Kept apart from the chunkers,
which import numpy and the tokenizers, so the registry can list and build them cheaply.

The settings every chunker shares (max_tokens, overlap, tokenizer, min_tokens, keep_furniture)
are ``chunkwise.chunking.ChunkerConfig``; these are each chunker's own."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from chunkwise.options import Options, option

SEMANTIC_CHOICES = ("lexical", "model", "auto")


# s2 and auto compare texts with an embedding model when their similarity switch says "model":
# the same two options for both, reached by the same flags as --embed's.
def _model_option(switch: str) -> Any:
    return option(
        None, f"{switch}=model: local model folder or installed model", flag="--embed-model"
    )


def _device_option(switch: str) -> Any:
    return option(
        "auto", f"{switch}=model: auto, cpu or cuda", flag="--device", affects_output=False
    )


@dataclass(frozen=True)
class S2Options(Options):
    plugin: ClassVar[str] = "s2"

    spatial_weight: float = option(
        0.5,
        "weight of layout vs meaning in the element graph",
        min=0.0,
        max=1.0,
        flag="--spatial-weight",
    )
    section_penalty: float = option(
        0.1, "similarity kept between elements of different sections", min=0.0, max=1.0
    )
    window: int = option(150, "elements compared with each other at most (graph window)", min=2)
    # Measured on the PDF benchmark (benchmarks/s2_quality.py): the embedding model gave no
    # better column or section purity than TF-IDF while taking about 60 times longer on CPU, so
    # the model is opt-in ("model", or "auto" = the model when the embed extra is installed).
    semantic: str = option(
        "lexical",
        "similarity of element texts: lexical (TF-IDF), model (embed extra), auto (model when "
        "installed)",
        choices=SEMANTIC_CHOICES,
        flag="--s2-semantic",
    )
    model: str | None = _model_option("semantic")
    device: str = _device_option("semantic")
    fill: bool = option(True, "merge undersized clusters into their neighbours")


@dataclass(frozen=True)
class AutoOptions(Options):
    plugin: ClassVar[str] = "auto"

    vectors: str = option(
        "lexical",
        "similarity for scoring candidates: lexical (fast), model (embed extra), auto",
        choices=SEMANTIC_CHOICES,
        flag="--auto-vectors",
    )
    model: str | None = _model_option("vectors")
    device: str = _device_option("vectors")
    choose_tokens: int | None = option(
        None,
        "judge candidates at this chunk size, then cut with the winner at --max-tokens (set "
        "under --embed, where late chunking merges small pieces)",
        min=1,
    )


@dataclass(frozen=True)
class CastOptions(Options):
    plugin: ClassVar[str] = "cast"

    max_chars: int = option(
        1500, "chunk budget in non-whitespace characters", min=1, flag="--max-chars"
    )
    # The CLI sets this from which of --max-chars / --max-tokens were given.
    budget: str = option(
        "chars",
        "what limits a chunk: chars (max_chars), tokens (--max-tokens) or both",
        choices=("chars", "tokens", "both"),
    )


def cast_budget(max_chars_given: bool, max_tokens_given: bool) -> str:
    """cast sizes by characters unless a token budget was asked for explicitly."""
    if max_tokens_given:
        return "both" if max_chars_given else "tokens"
    return "chars"


@dataclass(frozen=True)
class VisionOptions(Options):
    plugin: ClassVar[str] = "vision"

    pages_per_batch: int = option(
        4, "pages the page reader sees together", min=1, flag="--pages-per-batch"
    )
    backend: str = option(
        "layout",
        "page reader: layout (offline model) or openai (chat-completions endpoint)",
        choices=("layout", "openai"),
        flag="--vision-backend",
    )
    endpoint: str | None = option(
        None, "openai: chat-completions URL (key: CHUNK_VISION_API_KEY)", flag="--vision-endpoint"
    )
    model: str | None = option(
        None, "openai: model name sent to the endpoint", flag="--vision-model"
    )
    dpi: int = option(110, "resolution pages are rendered at", min=1)
    ocr: bool = option(True, "layout: OCR page regions without a text layer")
    jobs: int = option(1, "batches read in parallel", min=1, flag="--jobs", affects_output=False)
    timeout: float = option(120.0, "openai: seconds per request", min=0.001, affects_output=False)
    retries: int = option(3, "openai: retries of a failed request", min=0, affects_output=False)
    backoff: float = option(
        1.0, "openai: seconds before the first retry (doubles)", min=0.0, affects_output=False
    )
