"""The pipeline as an iterator, for the framework loaders.

Kept to two functions, ``iter_records`` and ``chunk_text``, shaped like the public
``chunkwise.ingest`` / ``chunkwise.chunk_text`` API (issue 18) so the loaders switch to it by
changing their import. Options are the CLI's, by their long names (``max_tokens=256``,
``chunker="recursive"``, ``glob=["*.md"]``); an unknown name is a ``UsageError``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from typing import Any

from chunkwise.chunking import ChunkerConfig
from chunkwise.errors import DocumentError, ErrorRecord, UsageError
from chunkwise.pipeline import IngestOptions, Processor, Source, _expand, iter_sources, process_all
from chunkwise.records import chunk_record
from chunkwise.types import Chunk, Document
from chunkwise.walk import WalkOptions

_CONFIG = {f.name for f in dataclasses.fields(ChunkerConfig)} - {"extra"}
_RUN = {"chunker", "format_hint", "jobs", "timeout", "max_file_size", "follow_symlinks"}
_WALK = {"glob": "include", "exclude": "exclude", "gitignore": "gitignore"}
_WALK["default_excludes"] = "default_excludes"
_PARSER = {"html_mode", "pages", "language"}
_EXTRA = {
    "max_chars",
    "auto_vectors",
    "pages_per_batch",
    "vision_backend",
    "vision_endpoint",
    "vision_model",
    "spatial_weight",
    "semantic",
}


def build_options(**options: Any) -> IngestOptions:
    """IngestOptions from the CLI's option names; in-process (jobs=1) unless ``jobs`` is given."""
    unknown = set(options) - _CONFIG - _RUN - set(_WALK) - _PARSER - _EXTRA
    if unknown:
        raise UsageError(f"unknown option(s): {', '.join(sorted(unknown))}")
    config = {k: options[k] for k in _CONFIG if k in options}
    extra = {k: options[k] for k in _EXTRA if k in options}
    if "max_tokens" in options:
        extra["max_tokens_given"] = True
    parser = {k: options[k] for k in _PARSER if k in options}
    parser["keep_furniture"] = options.get("keep_furniture", False)
    parser["format_hint"] = options.get("format_hint")
    walk = {_WALK[k]: options[k] for k in _WALK if k in options}
    if isinstance(walk.get("include"), str):
        walk["include"] = [walk["include"]]
    if isinstance(walk.get("exclude"), str):
        walk["exclude"] = [walk["exclude"]]
    run = {k: options[k] for k in _RUN if k in options}
    jobs = int(run.pop("jobs", 1))
    return IngestOptions(
        chunker_config=ChunkerConfig(**config, extra=extra),
        parser_options=parser,
        walk=WalkOptions(**walk),
        jobs=max(1, jobs),
        isolate=jobs > 1,
        **run,
    )


def iter_results(
    paths: str | Sequence[str], options: IngestOptions
) -> Iterator[tuple[Document | None, list[Chunk], ErrorRecord | None]]:
    """(document, chunks, None) or (None, [], error) per input document, lazily, in input order:
    folders are walked as they are read and at most a bounded window is in flight."""
    if isinstance(paths, str):
        paths = [paths]
    from chunkwise.pipeline import check_paths

    check_paths(paths)
    sources = iter_sources(paths, options.walk, follow_symlinks=options.follow_symlinks)
    for r in _expand(process_all(sources, options)):
        if r.error is not None:
            yield None, [], r.error
        elif r.doc is not None:
            yield r.doc, r.chunks, None


def iter_records(
    paths: str | Sequence[str], **options: Any
) -> Iterator[dict[str, Any] | ErrorRecord]:
    """Output records (the JSONL schema) and error records, as ``chunk ingest`` writes them."""
    for doc, chunks, error in iter_results(paths, build_options(**options)):
        if error is not None:
            yield error
        else:
            assert doc is not None
            for c in chunks:
                yield chunk_record(c, doc)


def chunk_text(text: str, **options: Any) -> tuple[Document, list[Chunk]]:
    """Parse ``text`` as ``format_hint`` (default plain text) and chunk it; offsets index
    ``text``. A document that cannot be chunked raises ``DocumentError``."""
    options.setdefault("format_hint", "text")
    proc = Processor(build_options(**options))
    res = proc.process(Source("<text>", data=text.encode("utf-8"), explicit=True))
    if res.error is not None:
        raise DocumentError(res.error.message, stage=res.error.stage)
    assert res.doc is not None
    return res.doc, res.chunks
