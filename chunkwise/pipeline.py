"""walk -> parse -> chunk -> (embed) -> write, streaming one document at a time per worker.

With ``jobs > 1`` (or ``isolate``) documents are parsed and chunked in worker processes
(``chunkwise.workers``): at most a bounded window of documents is in flight, results come back in
input order (so the output is identical to a single-process run), and a document that hangs or
kills its worker becomes an error record after ``timeout`` seconds while the run goes on.

With a ``State`` (``--state``) unchanged files are skipped, changed ones re-chunked and gone ones
reported; the state is staged here and committed by the caller once the output is durable.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import itertools
import json
import logging
import os
import stat
import sys
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chunkwise import registry
from chunkwise.batching import BatchSizer
from chunkwise.chunking import ChunkerConfig
from chunkwise.errors import ChunkwiseError, DocumentError, ErrorRecord, UsageError
from chunkwise.names import display, raw_hex
from chunkwise.options import Options
from chunkwise.types import Chunk, Document, _pickled_positionally, shared_text_chunks
from chunkwise.walk import WalkOptions, walk_files

if TYPE_CHECKING:
    from chunkwise.protocols import Embedder, Encoder, Writer
    from chunkwise.workers import TaskLost

log = logging.getLogger("chunkwise")

STDIN = "-"
DEFAULT_MAX_FILE_SIZE = 200 * 1024 * 1024
DEFAULT_TIMEOUT = 120.0


# Positionally: a folder's sources travel to the workers by the thousand.
@_pickled_positionally
@dataclass(frozen=True)
class Source:
    """One input document: a file path (a string when found by walking), or bytes read from
    stdin."""

    name: str
    path: str | Path | None = None
    data: bytes | None = None
    explicit: bool = False  # named on the command line (not found by walking)
    # With --state: the sha256 recorded last time; a worker finding the same bytes skips parsing.
    known_hash: str | None = None
    # An attachment (``mail.eml#report.pdf``): its parser, from its name, and how deep it is nested.
    parser: str | None = None
    depth: int = 0
    # stdin longer than --max-file-size: reading stopped at this many bytes (an error record).
    oversize: int | None = None


@dataclass
class IngestOptions:
    chunker: str = "auto"
    chunker_config: ChunkerConfig = field(default_factory=ChunkerConfig)
    # Each parser's options by parser name (chunkwise.options); a parser not named gets its
    # defaults.
    parser_options: Mapping[str, Options] = field(default_factory=dict)
    format_hint: str | None = None
    walk: WalkOptions = field(default_factory=WalkOptions)
    jobs: int = 1
    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    # Seconds one document may take in a worker before the worker is killed (None: no limit).
    timeout: float | None = DEFAULT_TIMEOUT
    # Run in worker processes even with jobs == 1, for the timeout and crash isolation.
    isolate: bool = False
    # Follow file symlinks that lead out of the folder being walked.
    follow_symlinks: bool = False
    # Compute the sha256 of every file read (set by ``ingest`` when a state is in use).
    hash_content: bool = False
    # Empty files are error records (--strict) instead of being counted as skipped-empty.
    strict: bool = False
    # Address-space cap (bytes) of each worker process (--max-memory); None: no cap.
    max_memory: int | None = None
    # Set by ``chunkwise.run.Ingest`` (the writer's ``encoder``) when the main process needs no
    # chunk objects: workers then send each document's finished output (``Result.encoded``).
    encoder: Encoder | None = None
    # With ``encoder``: the encoded output carries its chunk ids too (--state records them).
    encoded_ids: bool = False

    def __post_init__(self) -> None:
        for name, value in self.parser_options.items():
            if not isinstance(value, Options):
                # The options of one parser, not a flat dict of every parser's keys.
                raise TypeError(f"parser_options[{name!r}] must be an Options instance")


@_pickled_positionally
@dataclass(frozen=True, slots=True)
class Encoded:
    """A document's output made by the writer's encoder in a worker, and what the main process
    still needs of its chunks: how many, and with --state their ids and the document's id."""

    data: list[bytes]
    chunks: int
    doc_id: str
    ids: tuple[str, ...] | None = None


# Positionally too: with the output encoded, the Result's own field names were most of what
# a small file's result pickled.
@_pickled_positionally
@dataclass
class Result:
    source: str
    doc: Document | None = None
    chunks: list[Chunk] = field(default_factory=list)
    error: ErrorRecord | None = None
    path: str | None = None
    content_hash: str | None = None
    size: int | None = None
    mtime_ns: int | None = None
    unchanged: bool = False  # --state: same bytes as last time, not parsed
    # Results of the document's attachments (e-mail), written after it as documents of their own.
    attachments: list[Result] = field(default_factory=list)
    empty: bool = False  # nothing in it (0 bytes, or only whitespace): skipped-empty, not failed
    # Instead of doc and chunks, which are then None and []: the output, encoded by a worker.
    encoded: Encoded | None = None

    @property
    def n_chunks(self) -> int:
        return self.encoded.chunks if self.encoded is not None else len(self.chunks)

    @property
    def doc_id(self) -> str | None:
        if self.encoded is not None:
            return self.encoded.doc_id
        return self.doc.doc_id if self.doc is not None else None

    def chunk_ids(self) -> tuple[str, ...]:
        """The ids of the chunks written for this document (none when it failed)."""
        if self.encoded is not None:
            if self.encoded.ids is None:
                raise ValueError(f"{self.source}: encoded without its chunk ids (encoded_ids)")
            return self.encoded.ids
        if self.doc is None:
            return ()
        from chunkwise.records import chunk_id

        source = self.doc.source
        return tuple(chunk_id(source, c.doc_id, c.index) for c in self.chunks)


@dataclass
class Summary:
    documents: int = 0
    failed: int = 0
    chunks: int = 0
    skipped: int = 0  # unchanged since the last run (--state)
    deleted: int = 0  # delete records emitted (--emit-deletes)
    interrupted: bool = False  # stopped early (signal): the walk did not finish
    # Files not chunked and not failed, by reason ("unsupported format", "empty", ...).
    ignored: dict[str, int] = field(default_factory=dict)

    def ignore(self, reason: str, n: int = 1) -> None:
        self.ignored[reason] = self.ignored.get(reason, 0) + n

    @property
    def exit_code(self) -> int:
        if self.documents == 0:
            # An incremental run with nothing new to do is a success, not an empty input; so is a
            # folder of empty files (every __init__.py of a package).
            return 0 if self.skipped or self.deleted or self.ignored.get("empty") else 3
        if self.failed == self.documents and not self.skipped:
            return 3
        return 1 if self.failed else 0


# -- inputs --------------------------------------------------------------------------------------


def read_stdin(stream: Any, limit: int) -> Source:
    """stdin as one document, read up to ``limit`` bytes: an endless or huge stream becomes an
    error record instead of filling memory."""
    parts: list[bytes] = []
    size = 0
    while size <= limit:
        block = stream.read(min(1 << 20, limit + 1 - size))
        if not block:
            break
        parts.append(block)
        size += len(block)
    if size > limit:
        return Source("<stdin>", data=b"", explicit=True, oversize=limit)
    return Source("<stdin>", data=b"".join(parts), explicit=True)


def iter_sources(
    paths: Sequence[str],
    walk_options: WalkOptions,
    stdin: Any = None,
    *,
    follow_symlinks: bool = False,
    max_stdin: int = DEFAULT_MAX_FILE_SIZE,
    on_skip: Callable[[str, str], None] | None = None,
) -> Iterator[Source]:
    """Expand command-line paths lazily; folders are walked, files and '-' taken as given.

    A file symlink found by walking that leads out of the folder is skipped (with a warning)
    unless ``follow_symlinks``, which also lets the walk descend into folder symlinks (a link
    back to a folder being walked is skipped, so loops end). A file reached twice (named twice,
    inside a folder also given, or through a symlink) is read once. ``on_skip(name, reason)`` hears
    of every file passed over.
    """
    skip = on_skip or (lambda name, reason: None)
    if follow_symlinks and not walk_options.follow_symlinks:
        walk_options = dataclasses.replace(walk_options, follow_symlinks=True)
    seen: set[str] = set()

    def first_time(path: str | Path, real: str | None = None) -> bool:
        real = real or os.path.realpath(path)
        if real in seen:
            skip(display(str(path)), "duplicate")
            return False
        seen.add(real)
        return True

    for p in paths:
        if p == STDIN:
            yield read_stdin(stdin if stdin is not None else sys.stdin.buffer, max_stdin)
            continue
        path = Path(p)
        if path.is_dir():
            root: Path | None = None
            # Unless links are followed, the walk enters no folder symlink: a file that is no
            # link itself is the real folder's path plus its relative path (no realpath call,
            # one lstat per path component, per file).
            real_root = None if walk_options.follow_symlinks else os.path.realpath(path)
            for f, rel, link in walk_files(path, walk_options):
                if registry.parser_for(f) is None:
                    skip(display(f), "unsupported format")
                    continue
                if not follow_symlinks and link:
                    if root is None:
                        root = path.resolve()
                    if not _inside(Path(f), root):
                        log.warning(
                            "skipping %s: symlink leads out of %s (use --follow-symlinks)",
                            display(f),
                            display(p),
                        )
                        skip(display(f), "symlink out of the folder")
                        continue
                real = None if real_root is None or link else f"{real_root}/{rel}"
                if first_time(f, real):
                    yield Source(display(f), path=f)
        elif path.exists():
            if first_time(path):
                yield Source(display(str(path)), path=path, explicit=True)
        else:
            raise UsageError(f"no such file or folder: {display(p)}")


def _inside(link: Path, root: Path) -> bool:
    try:
        target = link.resolve(strict=True)
    except (OSError, RuntimeError):  # dangling or looping link
        return False
    return target == root or root in target.parents


def check_paths(paths: Sequence[str]) -> None:
    """Fail fast (usage error) on a path that does not exist, before any output."""
    if not paths:
        raise UsageError("no input: give files, folders, or '-' for stdin")
    for p in paths:
        if p != STDIN and not Path(p).exists():
            raise UsageError(f"no such file or folder: {p}")
    if paths.count(STDIN) > 1:
        raise UsageError("'-' (stdin) can be given only once")


def check_output(paths: Sequence[str], output: str | None, what: str = "output") -> None:
    """Refuse an output (or state) file that is one of the inputs or would be read as one."""
    if not output or output == STDIN:
        return
    out = Path(output).resolve()
    for p in paths:
        if p == STDIN:
            continue
        src = Path(p).resolve()
        if out == src:
            raise UsageError(f"{what} file {output} is also an input; refusing to overwrite it")
        if src.is_dir() and src in out.parents and registry.parser_for(str(out)) is not None:
            raise UsageError(
                f"{what} file {output} is inside input folder {p} and would be read back as a "
                "document; write it elsewhere"
            )


# -- one document --------------------------------------------------------------------------------


def _file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(functools.partial(fh.read, 1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# Runs one step of one source of a batch: ``step(k, advance)`` (``Processor.process_many``).
Step = Callable[[int, Callable[[], object]], object]


class Processor:
    """Parses and chunks documents; one per process, caching parser and chunker instances."""

    def __init__(self, options: IngestOptions) -> None:
        self.options = options
        self._parsers: dict[str, Any] = {}
        self._chunkers: dict[str, Any] = {}

    def parser(self, name: str) -> Any:
        if name not in self._parsers:
            cls = registry.load("parsers", name)
            self._parsers[name] = cls(self.options.parser_options.get(name))
        return self._parsers[name]

    def chunker(self, name: str) -> Any:
        if name not in self._chunkers:
            cls = registry.load("chunkers", name)
            self._chunkers[name] = cls(self.options.chunker_config)
        return self._chunkers[name]

    def parser_name(self, src: Source) -> str:
        if src.parser is not None:
            return src.parser
        hint = self.options.format_hint
        if src.data is not None:
            return registry.parser_for_bytes(src.data, hint)
        name = registry.parser_for(src.name, hint)
        if name is None and src.path is not None and "code" in registry.BUILTINS["parsers"]:
            # An extensionless script named explicitly: its shebang may name the language.
            from chunkwise.parsers.code import shebang_parser

            name = shebang_parser(src.path)
        if name is None:
            # Named explicitly but of no known type: read it as text, which reports binary files.
            name = "text"
        return name

    def process(self, src: Source) -> Result:
        return next(self.process_many([src]))

    def process_many(self, sources: Sequence[Source], step: Step | None = None) -> Iterator[Result]:
        """``process`` of each source, in order, a step at a time across them: every document is
        read and parsed, then every one is prepared (``BaseChunker.prepare``: a batch of small
        files tokenized in a row keeps the tokenizer's tables in the CPU's caches: -8% of their
        CPU on a quiet machine, more on a loaded one), then every one is chunked.
        ``step(k, advance)`` runs each step of ``sources[k]`` (``advance()``): a pool marks
        which source is running, so that a crash or a hang is pinned on that one; the in-process
        run arms ``--timeout`` around it."""
        steps: list[Iterator[None] | None] = [self._steps(src) for src in sources]
        done: dict[int, Result] = {}
        emitted = 0
        while emitted < len(sources):
            for k, gen in enumerate(steps):
                if gen is None:
                    continue
                try:
                    if step is None:
                        next(gen)
                    else:
                        step(k, functools.partial(next, gen))
                except StopIteration as stop:
                    done[k] = self._finished(sources[k], stop.value)
                    steps[k] = None
                # Each result as soon as those before it are out: a pool sends it on (pickled
                # under the step that finished it) while the next one is chunked.
                while emitted in done:
                    yield done.pop(emitted)
                    emitted += 1

    @staticmethod
    def _finished(src: Source, res: Result) -> Result:
        if res.error is not None and src.path is not None:
            hexname = raw_hex(src.path)
            if hexname is not None:
                res.error = dataclasses.replace(res.error, source_bytes_hex=hexname)
        return res

    def _empty(self, res: Result, what: str) -> Result:
        if self.options.strict:
            raise DocumentError(f"empty file ({what})", stage="read")
        res.empty = True
        return res

    def check_readable(self, src: Source, st: os.stat_result | None = None) -> None:
        """Raise the read-stage error of a source that must not be read whole: stdin cut off at
        --max-file-size, or a file (``st``, its stat) over it or not regular."""
        if src.oversize is not None:
            raise DocumentError(
                f"stdin is over --max-file-size {src.oversize} bytes; reading stopped there",
                stage="read",
            )
        if st is None:
            return
        if not stat.S_ISREG(st.st_mode):
            # A FIFO or device would block the read forever or never end.
            raise DocumentError("not a regular file (pipe, device or socket)", stage="read")
        if st.st_size > self.options.max_file_size:
            raise DocumentError(
                f"file is {st.st_size} bytes, over --max-file-size {self.options.max_file_size}",
                stage="read",
            )

    def _steps(self, src: Source) -> Generator[None, None, Result]:
        """The work on one source as a generator: it pauses once parsed and once prepared for
        chunking (``process_many`` runs each step across a batch) and returns the Result; every
        failure, in any step, is caught here and becomes the Result's error record."""
        stage = "read"
        res = Result(src.name, path=os.fspath(src.path) if src.path is not None else None)
        try:
            st = os.stat(src.path) if src.path is not None else None
            self.check_readable(src, st)
            if src.path is not None and st is not None:
                res.size, res.mtime_ns = st.st_size, st.st_mtime_ns
                if self.options.hash_content:
                    res.content_hash = _file_sha256(src.path)
                    if src.known_hash is not None and res.content_hash == src.known_hash:
                        res.unchanged = True
                        return res
                if st.st_size == 0:
                    return self._empty(res, "0 bytes")
            elif src.data is not None:
                if not src.data:
                    return self._empty(res, "0 bytes")
                if self.options.hash_content:
                    res.content_hash = hashlib.sha256(src.data).hexdigest()
            pname = self.parser_name(src)
            parser = self.parser(pname)
            stage = "parse"
            try:
                doc = parser.parse(src.data if src.data is not None else src.path, source=src.name)
            except DocumentError as exc:
                if pname == "text" and src.path is not None and "binary" in str(exc):
                    unsupported = registry.parser_for(src.name, self.options.format_hint) is None
                    if unsupported:
                        # Named explicitly, claimed by no parser, and not text: say so plainly.
                        ext = "".join(Path(src.path).suffixes[-1:]) or "no extension"
                        raise DocumentError(f"unsupported format ({ext})", stage="read") from exc
                raise
            if not doc.parser:
                doc = dataclasses.replace(doc, parser=pname)
            hexname = raw_hex(src.path) if src.path is not None else None
            if hexname is not None:
                doc = dataclasses.replace(
                    doc, metadata={**doc.metadata, "source_bytes_hex": hexname}
                )
            yield
            stage = "chunk"
            # "auto" is a chunker too: it picks per document among those that fit its format.
            chunker = self.chunker(self.options.chunker)
            if src.data is not None:
                # Chunkers that go back to the source (vision renders pages) get stdin's bytes.
                chunker.attach_source(doc, src.data)
            prepare = getattr(chunker, "prepare", None)  # plugins need not derive from ours
            prepared = prepare(doc) if prepare is not None else None
            yield
            chunks = list(chunker.chunk(doc))
            del prepared
            if doc.attachments:
                res.attachments = self.attachments(src, doc)
                doc = dataclasses.replace(doc, attachments=())
            if not chunks and not res.attachments:
                if not doc.text.strip() and pname in _PLAIN_TEXT_PARSERS:
                    return self._empty(res, "only whitespace")
                # Every input ends as chunks or as an error record: a document that silently
                # vanishes (blank page, scanned PDF without OCR, furniture only) would go unnoticed.
                raise DocumentError(
                    "no text to chunk: the document is empty after parsing", stage="chunk"
                )
            res.doc, res.chunks = doc, chunks
            return res
        except UsageError:
            raise
        except (DocumentError, OSError) as exc:
            st_name = exc.stage if isinstance(exc, DocumentError) else "read"
            res.doc, res.chunks = None, []
            res.error = ErrorRecord.from_exception(src.name, exc, st_name)
            return res
        except _Deadline as exc:
            res.doc, res.chunks = None, []
            res.error = exc.record(src.name, stage)
            return res
        except (KeyboardInterrupt, SystemExit, GeneratorExit):
            raise
        except BaseException as exc:  # a bug or a hostile file
            # BaseException: Rust extensions (tiktoken, tokenizers) raise pyo3's PanicException,
            # which is not an Exception, e.g. on a megabyte of whitespace.
            log.debug("unexpected error on %s", src.name, exc_info=True)
            res.doc, res.chunks = None, []
            res.error = ErrorRecord.from_exception(src.name, exc, stage)
            return res

    def attachments(self, src: Source, doc: Document) -> list[Result]:
        """Each attachment of a known format parsed and chunked as a document of its own (nested
        ones too, up to MAX_ATTACHMENT_DEPTH); a failing one is an error record of its own."""
        out: list[Result] = []
        if src.depth >= MAX_ATTACHMENT_DEPTH:
            log.warning("%s: attachments nested deeper than %d are skipped", src.name, src.depth)
            return out
        for att in doc.attachments:
            pname = registry.parser_for(att.name)
            if pname is None:
                continue  # images, archives, executables: not documents we read
            child = Source(
                f"{src.name}#{att.name}", data=att.data, parser=pname, depth=src.depth + 1
            )
            r = self.process(child)
            out.append(r)
            out.extend(r.attachments)
            r.attachments = []
        return out


MAX_ATTACHMENT_DEPTH = 3


def _expand(results: Iterable[Result]) -> Iterator[Result]:
    """Results with their attachments' results right after them."""
    for r in results:
        yield r
        yield from r.attachments


# Parsers whose documents are the file's text as is: no text after parsing means an empty file
# (for a PDF or HTML page it means the parser found nothing, which stays an error).
_PLAIN_TEXT_PARSERS = frozenset({"text", "code", "markdown"})


def _worker_handler(options: IngestOptions) -> _WorkerHandler:
    if options.jobs >= 2:
        # A large text may be tokenized on a second core when one is idle (chunkwise.bpe_index);
        # never with --jobs 0 or 1, where the user asked for one process or one core.
        from chunkwise.bpe_index import allow_helpers

        allow_helpers(1)
    return _WorkerHandler(Processor(options), _reply(options))


class _WorkerHandler:
    """A worker's documents: one at a time, or a batch a step at a time across it (``many``:
    the pool calls it for a batch and marks each step's document, so a crash or a hang is
    pinned on that one). ``reply`` is what the worker makes of a result before sending it."""

    def __init__(self, proc: Processor, reply: Callable[[Result], Result]) -> None:
        self.proc, self.reply = proc, reply

    def __call__(self, src: Source) -> Result:
        return self.reply(self.proc.process(src))

    def many(self, sources: Sequence[Source], step: Step) -> Iterator[Result]:
        for k, res in enumerate(self.proc.process_many(sources, step)):
            # Encoding the result is a step of its document too (its deadline, its crash).
            box: list[Result] = []
            step(k, functools.partial(self._reply_into, box, res))
            yield box[0]

    def _reply_into(self, box: list[Result], res: Result) -> None:
        box.append(self.reply(res))


def _reply(options: IngestOptions) -> Callable[[Result], Result]:
    """What a worker makes of a result before sending it: its output encoded when the main
    process only writes it (``IngestOptions.encoder``), else the objects without elements."""
    encoder = options.encoder
    if encoder is None:
        return _without_elements
    with_ids = options.encoded_ids
    return lambda r: _encode(r, encoder, with_ids)


# Documents up to this many characters are encoded in the worker. The gain is per document
# (~25 us of the main process); a large one would hold its records and their bytes in the
# worker, whose memory --max-memory caps, so it travels as objects, as before.
_ENCODE_MAX_CHARS = 1 << 20


def _encode(r: Result, encoder: Encoder, with_ids: bool) -> Result:
    """What a worker sends back when the main process only writes: each document's finished
    output, not its Document and Chunks (unpickling those, building the records and serialising
    them were most of the main process's work per small file)."""
    _encode_one(r, encoder, with_ids)
    for att in r.attachments:
        _encode(att, encoder, with_ids)
    return r


def _encode_one(r: Result, encoder: Encoder, with_ids: bool) -> None:
    """``r`` alone, not its attachments. A record that cannot be serialised fails its document
    alone, at stage "write", as in ``Ingest._write``."""
    from chunkwise.records import chunk_records

    doc = r.doc
    if doc is None:
        return
    if len(doc.text) > _ENCODE_MAX_CHARS:
        _shed(r)
        return
    chunks, r.doc, r.chunks = r.chunks, None, []
    try:
        records = chunk_records(chunks, doc)
        data = encoder(records)
    except Exception as exc:  # TypeError, RecursionError, MemoryError: this document's alone
        log.debug("cannot write records of %s", r.source, exc_info=True)
        r.error = ErrorRecord.from_exception(r.source, exc, "write")
        return
    ids = tuple(rec["id"] for rec in records) if with_ids else None
    r.encoded = Encoded(data, len(records), doc.doc_id, ids)


def _without_elements(r: Result) -> Result:
    """What a worker sends back: the parent writes chunks and embeds from the text, never reads
    elements, and pickling them is most of a small file's transfer cost (~4x the rest); the
    chunks travel without the text they share with the document (half the bytes)."""
    _shed(r)
    for att in r.attachments:
        _without_elements(att)
    return r


def _shed(r: Result) -> None:
    """``_without_elements`` of ``r`` alone, not its attachments."""
    if r.doc is not None:
        if r.doc.elements:
            r.doc = dataclasses.replace(r.doc, elements=())
        if r.chunks:
            r.chunks = shared_text_chunks(r.chunks, r.doc.text)


def _lost(src: Source, exc: TaskLost) -> Result:
    if exc.kind == "fatal":
        raise UsageError(exc.detail)
    kind = {"timeout": "WorkerTimeout", "crash": "WorkerCrash"}.get(exc.kind, "WorkerError")
    rec = ErrorRecord(source=src.name, stage="parse", error=kind, message=str(exc))
    return Result(src.name, error=rec, path=os.fspath(src.path) if src.path is not None else None)


# A few small plain-text or Markdown files, the everyday ``chunk ingest notes.md`` or ``notes/``,
# and a run whose only input is one such file of any size, are parsed in this process: starting
# workers would cost more than the work (~25 ms per worker, and ~20% more CPU per file for the
# round trip; one 5 MB file cost ~0.13 CPU-s more through a worker, its chunks pickled back),
# and what a worker guards against (a C library crashing on hostile bytes) does not apply to
# these pure-Python parsers. What decides is the work, so the bytes: on two idle cores the pool
# broke even at ~260 files of 3.7 KB (~1 MB), and with more cores it pays sooner (the work it
# spreads shrinks with the cores, its start-up does not), so up to 512 KB in all, in at most
# 256 files of at most 64 KB. --timeout still applies, by an alarm in this process
# (``_Deadlines``); a large file still gets a second core for its tokens (``bpe_index``).
_IN_PROCESS_PARSERS = ("text", "markdown")
_IN_PROCESS_MAX_BYTES = 64 * 1024
_IN_PROCESS_MAX_TOTAL = 512 * 1024
_IN_PROCESS_MAX_FILES = 256
# Files taken at a time in this process (``BatchSizer``: ~50 ms of work, at most this many).
_IN_PROCESS_BATCH = 64
# Files sent to a worker at a time (the pool's ``BatchSizer``: ~50 ms of work, at most this
# many). 128 where 64 was: a small file now takes ~0.3 ms, and each batch is a round trip in
# which the worker waits for the main process, longer when another program keeps a core busy.
_POOL_BATCH = 128


def _plain_file_size(src: Source, options: IngestOptions) -> int | None:
    """The size of a regular plain-text or Markdown file, else None."""
    if src.path is None or src.data is not None or options.max_memory:
        return None
    if (
        src.parser or registry.parser_for(src.name, options.format_hint)
    ) not in _IN_PROCESS_PARSERS:
        return None
    try:
        st = os.stat(src.path)
    except OSError:
        return None
    return st.st_size if stat.S_ISREG(st.st_mode) else None


def _small_plain_files(sources: Sequence[Source], options: IngestOptions) -> bool:
    """Whether every source is a small plain file and all of them hold at most
    ``_IN_PROCESS_MAX_TOTAL`` bytes (stops at the first that is not, or past the total)."""
    total = 0
    for src in sources:
        size = _plain_file_size(src, options)
        if size is None or size > _IN_PROCESS_MAX_BYTES:
            return False
        total += size
        if total > _IN_PROCESS_MAX_TOTAL:
            return False
    return True


class _Deadline(BaseException):
    """--timeout reached by a document parsed in this process. A BaseException, so that no
    ``except Exception`` in a parser's fallback path swallows it."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"timed out after {seconds:g} s (--timeout)")

    def record(self, source: str, stage: str) -> ErrorRecord:
        # The same error name as a worker's timeout: whether a document ran in a worker is the
        # pipeline's choice, not something a filter on the output should have to know.
        return ErrorRecord(source=source, stage=stage, error="WorkerTimeout", message=str(self))


class _Deadlines:
    """--timeout for documents processed in this process: SIGALRM (a real-time interval timer)
    raises ``_Deadline`` in the document's code, which ``Processor`` turns into its error
    record. Python code is interrupted between bytecodes, the regex engine every few thousand
    steps, a Rust tokenizer call when it returns (a segment: milliseconds). Only in the main
    thread of a process that has ``setitimer``; elsewhere documents run without a deadline, as
    before."""

    def __init__(self, seconds: float | None) -> None:
        import signal
        import threading

        self.seconds = seconds
        self.armed = False
        self._signal = signal
        self._old: Any = None
        self.active = bool(
            seconds
            and hasattr(signal, "setitimer")
            and threading.current_thread() is threading.main_thread()
        )

    def __enter__(self) -> _Deadlines:
        if self.active:
            self._old = self._signal.signal(self._signal.SIGALRM, self._fire)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.active:
            self.armed = False
            self._signal.setitimer(self._signal.ITIMER_REAL, 0)
            self._signal.signal(self._signal.SIGALRM, self._old)

    def _fire(self, signum: int, frame: Any) -> None:
        if self.armed:  # not once the document is done: the alarm may come a moment late
            self.armed = False
            raise _Deadline(self.seconds or 0)

    def batch(self) -> Step:
        """The ``step`` for one batch of ``Processor.process_many``: each step of a document runs
        under what is left of the document's time (its earlier steps count), as in a worker; the
        step's own code turns ``_Deadline`` into the document's error record."""
        assert self.seconds is not None
        seconds, signal = self.seconds, self._signal
        spent: dict[int, float] = {}

        def step(k: int, advance: Callable[[], object]) -> None:
            began = time.monotonic()
            try:
                self.armed = True
                # Never 0, which would disarm: a document out of time is stopped at once.
                signal.setitimer(signal.ITIMER_REAL, max(1e-6, seconds - spent.get(k, 0.0)))
                advance()
            except _Deadline:
                # Between the step's end and the disarming: the step was done in time.
                pass
            finally:
                self.armed = False
                signal.setitimer(signal.ITIMER_REAL, 0)
                spent[k] = spent.get(k, 0.0) + time.monotonic() - began

        return step


def _preload_before_fork(options: IngestOptions, head: Sequence[Source]) -> None:
    """Import the libraries of the first files' parsers and the chunker's modules here, before
    the workers fork and inherit them: each worker would otherwise import its own (pymupdf:
    ~0.14 s a process)."""
    parsers = {src.parser or registry.parser_for(src.name, options.format_hint) for src in head}
    names = sorted(p for p in parsers if p)
    try:
        for name in names:
            preload = getattr(registry.load("parsers", name), "preload", None)
            if preload is not None:  # plugins need not derive from BaseParser
                preload()
        preload = getattr(registry.load("chunkers", options.chunker), "preload", None)
        if preload is not None:
            preload(names)
        # tokie's model (~40 ms to load), once here rather than in every worker, for a run
        # with the text to pay for it (a few PDFs leave it to the workers, after 1 MB each).
        from chunkwise.tokenizers import TokieTokenizer, get_tokenizer

        enough = TokieTokenizer.LOAD_AFTER_CHARS
        if len(head) > _IN_PROCESS_MAX_FILES or _head_bytes(head) >= enough:
            warm = getattr(get_tokenizer(options.chunker_config.tokenizer), "warm", None)
            if warm is not None:
                warm()
    except (ChunkwiseError, ImportError) as exc:  # the worker reports it on the document
        log.debug("preload before fork: %s", exc)


def _head_bytes(head: Sequence[Source]) -> int:
    total = 0
    for src in head:
        if src.data is not None:
            total += len(src.data)
        elif src.path is not None:
            with contextlib.suppress(OSError):
                total += os.stat(src.path).st_size
    return total


def _in_process(
    sources: Iterable[Source],
    options: IngestOptions,
    stop: Callable[[], bool],
    timeout: float | None,
) -> Iterator[Result]:
    from chunkwise import bpe_index

    proc = Processor(options)
    helpers = bpe_index.helpers_allowed()
    if options.jobs >= 2:
        # The cores the workers would have used: a large text's tokens on two of them.
        bpe_index.allow_helpers(1, sole=True)
    sources = iter(sources)
    # Batches of ~50 ms of work, each processed a step at a time across its documents.
    sizer = BatchSizer(_IN_PROCESS_BATCH)
    try:
        with _Deadlines(timeout) as deadlines:
            while not stop():
                batch = list(itertools.islice(sources, sizer.size))
                if not batch:
                    return
                start = time.monotonic()
                yield from proc.process_many(batch, deadlines.batch() if deadlines.active else None)
                sizer.observe(time.monotonic() - start, len(batch))
    finally:
        bpe_index.allow_helpers(*helpers)


def process_all(
    sources: Iterable[Source],
    options: IngestOptions,
    should_stop: Callable[[], bool] | None = None,
) -> Iterator[Result]:
    """Results in input order. With ``jobs > 1`` or ``isolate``, from worker processes with at
    most ``2 * jobs`` documents in flight and a per-document ``timeout``. Once ``should_stop()``
    is true no new source is taken and unfinished ones are dropped."""
    stop = should_stop or (lambda: False)
    sources = iter(sources)
    if options.jobs <= 1 and not options.isolate and not options.max_memory:
        # --jobs 0 (or 1 without isolation): no deadline, as asked (a debugger may pause here).
        yield from _in_process(sources, options, stop, timeout=None)
        return
    head = list(itertools.islice(sources, _IN_PROCESS_MAX_FILES + 1))
    sources = itertools.chain(head, sources)
    if len(head) == 1:
        plain_only = _plain_file_size(head[0], options) is not None
    else:
        plain_only = len(head) <= _IN_PROCESS_MAX_FILES and _small_plain_files(head, options)
    if plain_only:
        yield from _in_process(sources, options, stop, timeout=options.timeout)
        return
    from chunkwise.workers import OrderedPool

    _preload_before_fork(options, head)
    pool: OrderedPool[Source, Result] = OrderedPool(
        functools.partial(_worker_handler, options),
        _lost,
        jobs=options.jobs,
        timeout=options.timeout,
        window=2 * max(1, options.jobs),
        fatal=(UsageError,),
        batch=_POOL_BATCH,
        max_memory=options.max_memory,
    )
    yield from pool.imap(sources, should_stop=stop)


# -- incremental runs ----------------------------------------------------------------------------


def options_hash(options: IngestOptions, embedder: Embedder | None = None) -> str:
    """Everything that shapes the output of one file: a change re-chunks every file."""
    from chunkwise import __version__

    emb = None
    if embedder is not None:
        emb = [
            type(embedder).__module__,
            type(embedder).__qualname__,
            f"model_name={embedder.model_name}",
            json.dumps(embedder.config.output_values(), sort_keys=True),
        ]
    blob = json.dumps(
        {
            "version": __version__,
            "chunker": options.chunker,
            "config": _common_config(options),
            "options": _plugin_output_options(options),
            "format_hint": options.format_hint,
            "embedder": emb,
        },
        sort_keys=True,
        default=repr,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def _common_config(options: IngestOptions) -> dict[str, Any]:
    cfg = options.chunker_config
    return {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg) if f.name != "options"}


def _plugin_output_options(options: IngestOptions) -> dict[str, dict[str, Any]]:
    """Options declared to change the output, where they differ from their default: a different
    --jobs or --device must not re-chunk the whole folder."""
    by_kind = (("parsers", options.parser_options), ("chunkers", options.chunker_config.options))
    return {
        f"{kind}.{name}": values
        for kind, by_name in by_kind
        for name, opts in by_name.items()
        if (values := opts.output_values())
    }


def run_settings(options: IngestOptions, embedder: Any = None) -> dict[str, str]:
    """What a table output records so a later run or a query does not mix models or chunkings
    (any embedder: a test double or a plugin may lack a loaded model)."""
    dim = getattr(getattr(embedder, "backend", None), "dim", None)
    return {
        "embedding_model": str(getattr(embedder, "model_name", "") or "") if embedder else "",
        "embedding_dim": str(dim) if embedder is not None and isinstance(dim, int) else "",
        "embedder": str(getattr(embedder, "name", "") or "") if embedder else "",
        "tokenizer": options.chunker_config.tokenizer,
        "chunker": options.chunker,
        "chunker_options": json.dumps(
            {"config": _common_config(options), "options": _plugin_output_options(options)},
            sort_keys=True,
            default=repr,
        ),
    }


def writer_is_streaming(writer: Writer) -> bool:
    """True when ``write`` hands records to the reader at once (JSONL on a stream), so state may
    be committed as documents are written; writers that publish at ``close`` (atomic files,
    Parquet) get their state committed only after the close."""
    return bool(writer.durable_writes)


def delete_record(fs: Any, reason: str) -> dict[str, Any]:
    return {
        "deleted": True,
        "doc_id": fs.doc_id,
        "source": fs.source,
        "ids": list(fs.chunk_ids),
        "reason": reason,
    }


# -- the whole run -------------------------------------------------------------------------------


def ingest(paths: Sequence[str], options: IngestOptions, writer: Writer, **kwargs: Any) -> Summary:
    """Run the pipeline and write every record; return counts for the exit code. The keyword
    arguments (``on_error``, ``embedder``, ``state``, ``engine``, ...) are
    :class:`chunkwise.run.Ingest`'s, which owns the run (writer, deletes, state, summary)."""
    from chunkwise.run import Ingest

    return Ingest(paths, options, writer, **kwargs).run()


def default_jobs() -> int:
    from chunkwise.workers import default_jobs as cores

    return cores()
