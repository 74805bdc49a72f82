"""The pipeline as an iterator, for the framework loaders.

Kept to two functions, ``iter_records`` and ``chunk_text``, shaped like the public
``chunkwise.ingest`` / ``chunkwise.chunk_text`` API (issue 18) so the loaders switch to it by
changing their import. Options are the CLI's, by their long names (``max_tokens=256``,
``chunker="recursive"``, ``glob=["*.md"]``); an unknown name is a ``UsageError``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from chunkwise.errors import DocumentError, ErrorRecord
from chunkwise.pipeline import IngestOptions, Processor, Source
from chunkwise.plan import IngestArgs, build_plan
from chunkwise.records import chunk_record
from chunkwise.types import Chunk, Document


def build_options(**options: Any) -> IngestOptions:
    """IngestOptions from the CLI's option names; in-process unless ``jobs`` > 1 is given."""
    options.setdefault("jobs", 0)
    if options["jobs"] == 1:
        options["jobs"] = 0
    return build_plan(IngestArgs.from_kwargs(**options)).options


def iter_results(
    paths: str | Sequence[str], options: IngestOptions
) -> Iterator[tuple[Document | None, list[Chunk], ErrorRecord | None]]:
    """(document, chunks, None) or (None, [], error) per input document, lazily, in input order:
    folders are walked as they are read and at most a bounded window is in flight."""
    from chunkwise.api import iter_results as results

    for r in results(paths, options):
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
