"""walk -> parse -> chunk -> (embed) -> write, streaming one document at a time per worker.

With ``jobs > 1`` documents are parsed and chunked in worker processes; at most a bounded window of
documents is in flight and results come back in input order, so the output is identical to a
single-process run.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from chunkwise import registry
from chunkwise.chunking import ChunkerConfig
from chunkwise.errors import DocumentError, ErrorRecord, UsageError
from chunkwise.records import chunk_record
from chunkwise.types import Chunk, Document
from chunkwise.walk import WalkOptions, walk

log = logging.getLogger("chunkwise")

STDIN = "-"
DEFAULT_MAX_FILE_SIZE = 200 * 1024 * 1024


@dataclass(frozen=True)
class Source:
    """One input document: a file path, or bytes read from stdin."""

    name: str
    path: Path | None = None
    data: bytes | None = None
    explicit: bool = False  # named on the command line (not found by walking)


@dataclass
class IngestOptions:
    chunker: str = "auto"
    chunker_config: ChunkerConfig = field(default_factory=ChunkerConfig)
    parser_options: dict[str, Any] = field(default_factory=dict)
    format_hint: str | None = None
    walk: WalkOptions = field(default_factory=WalkOptions)
    jobs: int = 1
    max_file_size: int = DEFAULT_MAX_FILE_SIZE


@dataclass
class Result:
    source: str
    doc: Document | None = None
    chunks: list[Chunk] = field(default_factory=list)
    error: ErrorRecord | None = None


@dataclass
class Summary:
    documents: int = 0
    failed: int = 0
    chunks: int = 0

    @property
    def exit_code(self) -> int:
        if self.documents == 0 or self.failed == self.documents:
            return 3
        return 1 if self.failed else 0


class Writer(Protocol):
    def write(self, records: Iterable[dict[str, Any]]) -> None: ...
    def close(self) -> None: ...
    def abort(self) -> None: ...


class Embedder(Protocol):
    def embed(self, docs: list[Document], chunks: list[list[Chunk]]) -> list[list[Chunk]]: ...


# -- inputs --------------------------------------------------------------------------------------


def iter_sources(
    paths: Sequence[str], walk_options: WalkOptions, stdin: Any = None
) -> Iterator[Source]:
    """Expand command-line paths lazily; folders are walked, files and '-' taken as given."""
    for p in paths:
        if p == STDIN:
            stream = stdin if stdin is not None else sys.stdin.buffer
            yield Source("<stdin>", data=stream.read(), explicit=True)
            continue
        path = Path(p)
        if path.is_dir():
            for f in walk(path, walk_options):
                if registry.parser_for(str(f)) is not None:
                    yield Source(str(f), path=f)
        elif path.exists():
            yield Source(str(path), path=path, explicit=True)
        else:
            raise UsageError(f"no such file or folder: {p}")


def check_paths(paths: Sequence[str]) -> None:
    """Fail fast (usage error) on a path that does not exist, before any output."""
    if not paths:
        raise UsageError("no input: give files, folders, or '-' for stdin")
    for p in paths:
        if p != STDIN and not Path(p).exists():
            raise UsageError(f"no such file or folder: {p}")
    if paths.count(STDIN) > 1:
        raise UsageError("'-' (stdin) can be given only once")


# -- one document --------------------------------------------------------------------------------


class Processor:
    """Parses and chunks documents; one per process, caching parser and chunker instances."""

    def __init__(self, options: IngestOptions) -> None:
        self.options = options
        self._parsers: dict[str, Any] = {}
        self._chunkers: dict[str, Any] = {}

    def parser(self, name: str) -> Any:
        if name not in self._parsers:
            cls = registry.load("parsers", name)
            self._parsers[name] = cls(self.options.parser_options)
        return self._parsers[name]

    def chunker(self, name: str) -> Any:
        if name not in self._chunkers:
            cls = registry.load("chunkers", name)
            self._chunkers[name] = cls(self.options.chunker_config)
        return self._chunkers[name]

    def parser_name(self, src: Source) -> str:
        hint = self.options.format_hint
        if src.data is not None:
            return registry.parser_for_bytes(src.data, hint)
        name = registry.parser_for(src.name, hint)
        if name is None:
            # Named explicitly but of no known type: read it as text, which reports binary files.
            name = "text"
        return name

    def chunker_name(self, parser: Any) -> str:
        name = self.options.chunker
        if name == "auto" and "auto" not in registry.BUILTINS["chunkers"]:
            return getattr(parser, "default_chunker", "recursive") or "recursive"
        return name

    def process(self, src: Source) -> Result:
        stage = "read"
        try:
            if src.path is not None:
                size = src.path.stat().st_size
                if size > self.options.max_file_size:
                    raise DocumentError(
                        f"file is {size} bytes, over --max-file-size {self.options.max_file_size}",
                        stage="read",
                    )
            pname = self.parser_name(src)
            parser = self.parser(pname)
            stage = "parse"
            doc = parser.parse(src.data if src.data is not None else src.path, source=src.name)
            if not doc.parser:
                doc = dataclasses.replace(doc, parser=pname)
            stage = "chunk"
            chunker = self.chunker(self.chunker_name(parser))
            chunks = list(chunker.chunk(doc))
            return Result(src.name, doc=doc, chunks=chunks)
        except UsageError:
            raise
        except (DocumentError, OSError) as exc:
            st = exc.stage if isinstance(exc, DocumentError) else "read"
            return Result(src.name, error=ErrorRecord.from_exception(src.name, exc, st))
        except (MemoryError, RecursionError, Exception) as exc:  # a bug or a hostile file
            log.debug("unexpected error on %s", src.name, exc_info=True)
            return Result(src.name, error=ErrorRecord.from_exception(src.name, exc, stage))


# Worker-process state: one Processor per worker, built once by the pool initializer.
_WORKER: Processor | None = None


def _init_worker(options: IngestOptions) -> None:
    global _WORKER
    import signal

    # The parent decides what an interrupt means; workers just stop when told.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _WORKER = Processor(options)


def _work(src: Source) -> Result:
    assert _WORKER is not None
    return _WORKER.process(src)


def process_all(sources: Iterable[Source], options: IngestOptions) -> Iterator[Result]:
    """Results in input order; with jobs > 1 from a pool, at most 2*jobs documents in flight."""
    if options.jobs <= 1:
        proc = Processor(options)
        for src in sources:
            yield proc.process(src)
        return
    window = 2 * options.jobs
    with ProcessPoolExecutor(
        max_workers=options.jobs, initializer=_init_worker, initargs=(options,)
    ) as pool:
        pending: deque[tuple[Source, Future[Result]]] = deque()
        try:
            for src in sources:
                pending.append((src, pool.submit(_work, src)))
                if len(pending) >= window:
                    yield _collect(*pending.popleft())
            while pending:
                yield _collect(*pending.popleft())
        finally:
            for _, fut in pending:
                fut.cancel()


def _collect(src: Source, fut: Future[Result]) -> Result:
    try:
        return fut.result()
    except UsageError:
        raise
    except Exception as exc:  # the worker died (segfault, OOM kill)
        return Result(src.name, error=ErrorRecord.from_exception(src.name, exc, "parse"))


# -- the whole run -------------------------------------------------------------------------------


def ingest(
    paths: Sequence[str],
    options: IngestOptions,
    writer: Writer,
    *,
    on_error: Callable[[ErrorRecord], None] | None = None,
    on_result: Callable[[Result], None] | None = None,
    embedder: Embedder | None = None,
    embed_batch_docs: int = 32,
    stdin: Any = None,
) -> Summary:
    """Run the pipeline and write every record; return counts for the exit code."""
    check_paths(paths)
    summary = Summary()
    sources = iter_sources(paths, options.walk, stdin=stdin)
    batch: list[Result] = []

    def flush(batch: list[Result]) -> None:
        if embedder is not None and batch:
            try:
                embedded = embedder.embed(
                    [r.doc for r in batch if r.doc], [r.chunks for r in batch]
                )
                for r, chunks in zip(batch, embedded, strict=True):
                    r.chunks = chunks
            except DocumentError as exc:
                # Embedding failures are per batch; report each document of it.
                for r in batch:
                    fail(Result(r.source, error=ErrorRecord.from_exception(r.source, exc, "embed")))
                return
        for r in batch:
            assert r.doc is not None
            doc = r.doc
            writer.write(chunk_record(c, doc) for c in r.chunks)
            summary.chunks += len(r.chunks)
            if on_result:
                on_result(r)

    def fail(r: Result) -> None:
        summary.failed += 1
        if on_error and r.error:
            on_error(r.error)
        if on_result:
            on_result(r)

    for result in process_all(sources, options):
        summary.documents += 1
        if result.error is not None:
            fail(result)
            continue
        batch.append(result)
        if embedder is None or len(batch) >= embed_batch_docs:
            flush(batch)
            batch = []
    flush(batch)
    return summary


def default_jobs() -> int:
    return max(
        1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    )
