"""The Python API (re-exported by ``chunkwise``): the CLI's pipeline as functions.

Options are the CLI's, by their long names (``max_tokens=256``, ``chunker="section"``,
``html_mode="full"``, ``glob=["*.md"]``) plus ``opt=["pdf.tables=false"]`` for any plugin option
(``chunk plugins NAME`` lists them). An unknown name or a bad value raises ``UsageError`` before
any work. Unlike the CLI, documents are processed in this process unless ``jobs`` > 1 is given.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from chunkwise.errors import DocumentError, ErrorRecord

if TYPE_CHECKING:
    from chunkwise.pipeline import IngestOptions, Result
    from chunkwise.plan import Plan
    from chunkwise.types import Chunk, Document

# One output record: the JSONL line / Parquet row of a chunk (see docs/options.md for options,
# README for the schema).
Record: TypeAlias = dict[str, Any]


def plan(**options: Any) -> Plan:
    """Validated options for a run, from the CLI's option names."""
    from chunkwise.plan import IngestArgs, build_plan

    jobs = options.get("jobs")
    # In-process unless asked: no worker processes behind a library call's back.
    options["jobs"] = 0 if jobs is None or jobs == 1 else jobs
    return build_plan(IngestArgs.from_kwargs(**options))


def ingest_options(**options: Any) -> IngestOptions:
    """:class:`~chunkwise.pipeline.IngestOptions` from the CLI's option names."""
    return plan(**options).options


def iter_results(paths: str | Sequence[str], options: IngestOptions) -> Iterator[Result]:
    """One result (document and chunks, or an error record) per input document, lazily and in
    input order; e-mail attachments follow their message."""
    from chunkwise.pipeline import _expand, check_paths, iter_sources, process_all

    paths = [paths] if isinstance(paths, str) else list(paths)
    check_paths(paths)
    sources = iter_sources(paths, options.walk, follow_symlinks=options.follow_symlinks)
    yield from _expand(process_all(sources, options))


def ingest(
    paths: str | Path | Sequence[str | Path], **options: Any
) -> Iterator[Record | ErrorRecord]:
    """Walk, parse, chunk (and with ``embed=True`` embed) like ``chunk ingest``, yielding each
    chunk's output record and an :class:`~chunkwise.errors.ErrorRecord` for each document that
    failed. Streaming: folders are walked as they are read.

    >>> for rec in chunkwise.ingest("docs/", max_tokens=300):  # doctest: +SKIP
    ...     print(rec["source"], rec["start"], rec["end"]) if isinstance(rec, dict) else print(rec)
    """
    from chunkwise.plan import embedder_and_sizing
    from chunkwise.records import chunk_record

    tokenizer = options.get("tokenizer")
    embedder, p = embedder_and_sizing(plan(**options), tokenizer)
    names = [str(paths)] if isinstance(paths, (str, Path)) else [str(x) for x in paths]
    for r in iter_results(names, p.options):
        if r.error is not None:
            yield r.error
            continue
        if r.doc is None:  # an empty file: skipped, as chunk ingest counts it
            continue
        chunks = r.chunks
        if embedder is not None:
            try:
                (chunks,) = embedder.embed([r.doc], [chunks])
            except DocumentError as exc:
                yield ErrorRecord.from_exception(r.source, exc, "embed")
                continue
        for c in chunks:
            yield chunk_record(c, r.doc)


def parse(src: str | Path | bytes, **options: Any) -> Document:
    """The parsed Document (text and layout elements with offsets, pages, boxes) of a file, or of
    bytes (their format from ``format_hint`` or sniffed). A bad document raises
    :class:`~chunkwise.errors.DocumentError`."""
    from chunkwise.pipeline import Processor, Source

    proc = Processor(plan(**options).options)
    if isinstance(src, bytes):
        source = Source("<bytes>", data=src, explicit=True)
    else:
        source = Source(str(src), path=Path(src), explicit=True)
    parser = proc.parser(proc.parser_name(source))
    doc = parser.parse(src, source=source.name)
    return doc if doc.parser else dataclasses.replace(doc, parser=parser.name)


def chunk_text(text: str, chunker: str = "recursive", **options: Any) -> list[Chunk]:
    """Chunks of ``text`` (read as ``format_hint``: plain text by default, or e.g. ``markdown``,
    ``code``, ``legal``); offsets index ``text``. Raises ``DocumentError`` when the text cannot
    be chunked (empty).

    >>> [c.text for c in chunkwise.chunk_text("One. Two.", max_tokens=2)]  # doctest: +SKIP
    """
    return process_text(text, chunker=chunker, **options)[1]


def process_text(text: str, **options: Any) -> tuple[Document, list[Chunk]]:
    """(the Document, its chunks) for ``text``; see :func:`chunk_text`."""
    from chunkwise.pipeline import Processor, Source

    options.setdefault("format_hint", "text")
    res = Processor(plan(**options).options).process(
        Source("<text>", data=text.encode("utf-8"), explicit=True)
    )
    if res.error is not None:
        raise DocumentError(res.error.message, stage=res.error.stage)
    if res.doc is None:  # nothing but whitespace: skipped-empty in a run, an error here
        raise DocumentError("no text to chunk: the input is empty", stage="chunk")
    return res.doc, res.chunks
