"""One ingest run over a writer: results in, records out, every document counted once.

Three small objects share the run's bookkeeping instead of closures over one frame:

- ``Deletes``: where the stale chunks of a changed or removed file are announced (a table writer's
  own delete, and delete records with ``--emit-deletes``);
- ``Incremental``: the ``--state`` side (skip unchanged files, retire old versions, record new
  ones, checkpoint as a streaming output is written, report files gone);
- ``Ingest``: takes results in input order, embeds them in batches, writes their records, and
  keeps the ``Summary`` that the exit code comes from.

``pipeline.ingest`` is ``Ingest(...).run()``; ``chunkwise.command`` wraps it for the CLI (signals,
progress, error records on stderr, the summary line).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chunkwise.errors import ErrorRecord, UsageError
from chunkwise.pipeline import (
    STDIN,
    IngestOptions,
    Result,
    Source,
    Summary,
    _expand,
    check_paths,
    delete_record,
    iter_sources,
    options_hash,
    process_all,
    run_settings,
    writer_is_streaming,
)
from chunkwise.records import chunk_records

if TYPE_CHECKING:
    from chunkwise.protocols import Embedder, Writer
    from chunkwise.state import FileState, State

log = logging.getLogger("chunkwise")


class Deletes:
    """Announces stale chunks: to a writer that keeps a table (lance applies deletions itself,
    with or without ``--emit-deletes``) and, with ``emit``, as ``{"deleted": true, ...}`` records
    on ``out`` (counted in the summary)."""

    def __init__(self, writer: Writer, out: Writer | None, *, emit: bool, summary: Summary) -> None:
        self.table = writer.delete
        self.out = (out if out is not None else writer) if emit else None
        self.summary = summary

    def __call__(self, old: FileState, reason: str) -> None:
        if self.table is not None:
            self.table([delete_record(old, reason)])
        if self.out is not None:
            # Ids include the path, so another file with the same bytes never holds these.
            self.out.write([delete_record(old, reason)])
            self.summary.deleted += 1


class Incremental:
    """The ``--state`` bookkeeping of one run. The state is staged here; the caller commits it
    once the output is durable, except for a streaming output (JSONL on a pipe), where what was
    written is checkpointed as it goes."""

    def __init__(
        self, state: State, ohash: str, deletes: Deletes, *, streaming: bool, summary: Summary
    ) -> None:
        self.state = state
        self.ohash = ohash
        self.deletes = deletes
        self.streaming = streaming
        self.summary = summary

    def sources(self, sources: Iterable[Source]) -> Iterator[Source]:
        """Skip files whose stat, content and options match the state; mark every file seen."""
        from chunkwise.state import state_key

        state = self.state
        for src in sources:
            if src.path is None:
                yield src
                continue
            key = state_key(src.path)
            state.mark_seen(key)
            row = state.get(key)
            if row is None or row.options_hash != self.ohash:
                yield src
                continue
            try:
                st = os.stat(src.path)
            except OSError:
                yield src  # the worker reports the error
                continue
            if st.st_size == row.size and st.st_mtime_ns == row.mtime_ns:
                self.summary.skipped += 1
                continue
            # Stat changed: a worker hashes the bytes and parses only if they differ.
            yield dataclasses.replace(src, known_hash=row.content_hash)

    def unchanged(self, r: Result) -> None:
        """Same bytes under a new mtime: keep the row, remember the new stat."""
        if r.path is not None:
            from chunkwise.state import state_key

            self.state.touch(state_key(r.path), r.size or 0, r.mtime_ns or 0)

    def retire(self, r: Result) -> None:
        """The file was re-processed: its previous chunks (if any) are stale."""
        if r.path is None:
            return
        from chunkwise.state import state_key

        old = self.state.get(state_key(r.path))
        if old is None:
            return
        if old.chunk_ids:  # an empty file's row has none to delete
            self.deletes(old, "changed")
        if r.error is not None:
            self.state.forget(old.path)

    def forget(self, r: Result) -> None:
        if r.path is not None:
            from chunkwise.state import state_key

            self.state.forget(state_key(r.path))

    def record(self, r: Result) -> None:
        doc_id = r.doc_id
        if r.path is None or doc_id is None or r.content_hash is None:
            return
        # An e-mail's attachments are retired with it when it changes or goes.
        ids = tuple(i for x in (r, *r.attachments) for i in x.chunk_ids())
        self._record(r, r.content_hash, doc_id, ids)

    def record_empty(self, r: Result) -> None:
        """An empty file (skipped-empty) is known too: the chunks of a version that had text are
        retired, and a row without chunks keeps the next runs from reading it again; removing it
        or giving it text later is then noticed like for any file."""
        if r.path is None or r.content_hash is None:
            return
        self.retire(r)
        # doc_id is the first 16 hex digits of the bytes' sha256, as a parsed document's is.
        self._record(r, r.content_hash, r.content_hash[:16], ())

    def _record(self, r: Result, content_hash: str, doc_id: str, ids: tuple[str, ...]) -> None:
        from chunkwise.state import FileState, state_key

        assert r.path is not None
        self.state.record(
            FileState(
                path=state_key(r.path),
                source=r.source,
                size=r.size or 0,
                mtime_ns=r.mtime_ns or 0,
                content_hash=content_hash,
                options_hash=self.ohash,
                doc_id=doc_id,
                chunk_ids=ids,
            )
        )

    def checkpoint(self, *, final: bool = False) -> None:
        if self.streaming:
            if final:
                self.state.checkpoint(every=0.0)
            else:
                self.state.checkpoint()

    def report_gone(self, paths: Sequence[str]) -> None:
        """Files recorded under these inputs but not seen in this (complete) walk are gone."""
        from chunkwise.state import state_key

        folders = [state_key(p) for p in paths if p != STDIN and Path(p).is_dir()]
        files = [state_key(p) for p in paths if p != STDIN and not Path(p).is_dir()]
        for fs in list(self.state.unseen(folders, files)):
            self.state.forget(fs.path)
            self.deletes(fs, "removed")


class Ingest:
    """Run the pipeline over ``paths`` and write every record to ``writer``; ``run()`` returns
    the counts for the exit code.

    With ``state``: unchanged files are skipped and every written file is staged in the state;
    the caller commits it (``state.commit()``) after ``writer.close()`` succeeded, since only then
    is the output durable. For a streaming writer (JSONL on stdout) the state is also committed
    here as documents are written. With ``emit_deletes``, files gone since the last run and old
    versions of re-chunked files become ``{"deleted": true, ...}`` records on ``delete_writer``
    (default: ``writer``). ``should_stop()`` true (a signal) stops taking new files; documents
    already finished are written, unfinished ones are dropped and redone next time.

    ``engine(sources, options, should_stop=...)`` replaces ``process_all`` (the Ray engine): it
    yields finished results in input order, embedded already when ``embedder`` is given (the
    embedder then only shapes the state's options hash).

    When nothing here needs the chunks (no embedder, the default engine) and the writer has an
    ``encoder``, workers send each document's output encoded (``Result.encoded``): ``on_result``
    then gets results without ``doc`` and ``chunks``; ``n_chunks`` counts them either way.
    """

    def __init__(
        self,
        paths: Sequence[str],
        options: IngestOptions,
        writer: Writer,
        *,
        on_error: Callable[[ErrorRecord], None] | None = None,
        on_result: Callable[[Result], None] | None = None,
        embedder: Embedder | None = None,
        embed_batch_docs: int = 32,
        stdin: Any = None,
        state: State | None = None,
        emit_deletes: bool = False,
        delete_writer: Writer | None = None,
        should_stop: Callable[[], bool] | None = None,
        engine: Callable[..., Iterable[Result]] | None = None,
    ) -> None:
        self.paths = paths
        self.writer = writer
        self.on_error = on_error
        self.on_result = on_result
        self.embedder = embedder
        # The Ray engine embeds in its actors: results arrive embedded.
        self.embeds_here = embedder is not None and engine is None
        self.embed_batch_docs = embed_batch_docs
        self.stdin = stdin
        self.engine = engine or process_all
        self.stop = should_stop or (lambda: False)
        self.summary = Summary()
        self.deletes = Deletes(writer, delete_writer, emit=emit_deletes, summary=self.summary)
        self.incremental: Incremental | None = None
        self.resumed = False  # --state with rows from earlier runs
        if state is not None:
            streaming = writer_is_streaming(writer) and (
                delete_writer is None or writer_is_streaming(delete_writer)
            )
            self.incremental = Incremental(
                state,
                options_hash(options, embedder),
                self.deletes,
                streaming=streaming,
                summary=self.summary,
            )
            options = dataclasses.replace(options, hash_content=True)
            self.resumed = state.count() > 0
        # Writers from before ``encoder`` existed lack it.
        encoder = getattr(writer, "encoder", None) if embedder is None and engine is None else None
        self.options = dataclasses.replace(
            options, encoder=encoder, encoded_ids=encoder is not None and state is not None
        )
        self._batch: list[Result] = []

    def run(self) -> Summary:
        check_paths(self.paths)
        sources = self.sources()
        self.writer.begin(run_settings(self.options, self.embedder), incremental=self.resumed)
        results = self.engine(sources, self.options, should_stop=self.stop)
        try:
            for result in _expand(results):
                self.take(result)
                if self.stop():
                    break
        finally:
            close = getattr(results, "close", None)
            if close is not None:
                close()
        self.flush()
        summary = self.summary
        summary.interrupted = self.stop()
        if self.incremental is not None:
            if not summary.interrupted:
                self.incremental.report_gone(self.paths)
            self.incremental.checkpoint(final=True)
        return summary

    def sources(self) -> Iterable[Source]:
        sources: Iterable[Source] = iter_sources(
            self.paths,
            self.options.walk,
            stdin=self.stdin,
            follow_symlinks=self.options.follow_symlinks,
            max_stdin=self.options.max_file_size,
            on_skip=self.skipped,
        )
        if self.incremental is not None:
            sources = self.incremental.sources(sources)
        return sources

    def skipped(self, name: str, reason: str) -> None:
        """A file passed over (unsupported format, duplicate, empty, ...): counted, not failed."""
        self.summary.ignore(reason)
        log.info("skipped %s: %s", name, reason)

    def take(self, r: Result) -> None:
        """Account for one result, in input order."""
        if r.unchanged:
            self.summary.skipped += 1
            if self.incremental is not None:
                self.incremental.unchanged(r)
            return
        if r.empty:
            self.skipped(r.source, "empty")
            if self.incremental is not None:
                self.incremental.record_empty(r)
            return
        self.summary.documents += 1
        if r.error is not None:
            self.fail(r)
            return
        self._batch.append(r)
        if not self.embeds_here or len(self._batch) >= self.embed_batch_docs:
            self.flush()

    def flush(self) -> None:
        """Embed (when asked) and write the documents taken so far."""
        batch, self._batch = self._batch, []
        if self.embeds_here and batch and not self._embed(batch):
            return
        for r in batch:
            self._write(r)
        if self.incremental is not None:
            self.incremental.checkpoint()

    def _embed(self, batch: list[Result]) -> bool:
        assert self.embedder is not None
        try:
            embedded = self.embedder.embed(
                [r.doc for r in batch if r.doc], [r.chunks for r in batch]
            )
            for r, chunks in zip(batch, embedded, strict=True):
                r.chunks = chunks
        except (UsageError, KeyboardInterrupt, SystemExit, GeneratorExit):
            raise
        except BaseException as exc:
            # Embedding failures (a DocumentError, or a model or device error) are per batch;
            # report each document of it and go on with the next batch. BaseException: a Rust
            # tokenizer inside the model panics with pyo3's PanicException, not an Exception.
            log.debug("embedding failed", exc_info=True)
            for r in batch:
                rec = ErrorRecord.from_exception(r.source, exc, "embed")
                self.fail(Result(r.source, error=rec, path=r.path))
            return False
        return True

    def _write(self, r: Result) -> None:
        retired = False
        encoded = r.encoded  # by a worker: a record that failed to encode failed there
        try:
            records = None
            if encoded is None:
                assert r.doc is not None
                records = chunk_records(r.chunks, r.doc)
            if self.incremental is not None:
                self.incremental.retire(r)  # delete records of the old version go first
            retired = True
            # Writers serialise a document's records before writing any of them, so a record
            # that cannot be serialised fails this document alone.
            if encoded is not None:
                self.writer.write_encoded(encoded.data)
            else:
                assert records is not None
                self.writer.write(records)
        except OSError:
            raise  # a failing output ends the run
        except Exception as exc:  # TypeError, RecursionError, MemoryError: this document's alone
            log.debug("cannot write records of %s", r.source, exc_info=True)
            rec = ErrorRecord.from_exception(r.source, exc, "write")
            self.fail(Result(r.source, error=rec, path=r.path), retire=not retired)
            return
        self.summary.chunks += r.n_chunks
        if self.incremental is not None:
            self.incremental.record(r)
        if self.on_result:
            self.on_result(r)

    def fail(self, r: Result, retire: bool = True) -> None:
        """A failed document: counted, its old version retired (or, when the old version's
        deletes already went out, forgotten), its error record reported."""
        self.summary.failed += 1
        if self.incremental is not None:
            if retire:
                self.incremental.retire(r)
            else:
                self.incremental.forget(r)
        if self.on_error and r.error:
            self.on_error(r.error)
        if self.on_result:
            self.on_result(r)
