"""``chunk ingest`` once its arguments are parsed: the run's lifecycle around ``run.Ingest``.

``IngestCommand`` opens what the run needs (the ``--state`` lock, the delete writer), runs it with
signals, progress and error records on stderr, closes the output before committing the state,
prints the summary line and returns the exit code. ``cli/app.py`` only parses arguments; this
module imports nothing heavy at start-up (the pipeline is imported when a run starts).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chunkwise.errors import (
    EXIT_LOCKED,
    EXIT_OK,
    EXIT_OUTPUT,
    EXIT_USAGE,
    ChunkwiseError,
    UsageError,
)

if TYPE_CHECKING:
    from chunkwise.pipeline import IngestOptions, Summary
    from chunkwise.protocols import Embedder, Writer
    from chunkwise.state import State

log = logging.getLogger("chunkwise")


class ErrorSink:
    """Error records go to stderr (one JSON line each) and, with --errors, to a JSONL file."""

    def __init__(self, path: Path | None, quiet: bool) -> None:
        # Error records are data, not logs: --quiet does not hide them.
        self.quiet = quiet
        if path:
            from chunkwise.outputs import open_errors_file

            path = open_errors_file(path)
        self.fh = path.open("w", encoding="utf-8") if path else None

    def __call__(self, rec: Any) -> None:
        line = json.dumps(rec.to_dict(), ensure_ascii=False)
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
        if self.fh:
            self.fh.write(line + "\n")
            self.fh.flush()

    def close(self) -> None:
        if self.fh:
            # On a full disk the write already failed and was reported; closing must not raise.
            with contextlib.suppress(OSError):
                self.fh.close()


class StopSignals:
    """SIGINT/SIGTERM ask the run to stop taking files and close its output cleanly (exit
    128+signal); a second signal aborts at once."""

    def __init__(self, quiet: bool, immediate: bool = False) -> None:
        self.quiet = quiet
        self.immediate = immediate  # the first signal aborts (nothing would be kept anyway)
        self.signum = 0
        self._old: dict[int, Any] = {}

    def __enter__(self) -> StopSignals:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signum:
            raise KeyboardInterrupt
        self.signum = signum
        if self.immediate:
            raise KeyboardInterrupt
        if not self.quiet:
            sys.stderr.write(
                f"chunk: {signal.Signals(signum).name}: finishing the current documents and "
                "closing the output (signal again to abort)\n"
            )

    def requested(self) -> bool:
        return bool(self.signum)

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)


class Progress:
    """A live counter on stderr when it is a terminal; nothing otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._progress: Any = None
        self._task: Any = None
        self.docs = self.chunks = self.failed = 0

    def __enter__(self) -> Progress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import Progress as Bar
            from rich.progress import SpinnerColumn, TextColumn, TimeElapsedColumn

            self._progress = Bar(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._progress.__enter__()
            self._task = self._progress.add_task("starting", total=None)
        return self

    def update(self, result: Any) -> None:
        self.docs += 1
        self.chunks += result.n_chunks
        self.failed += result.error is not None
        if self._progress is not None:
            self._progress.update(
                self._task,
                description=f"{self.docs} docs, {self.chunks} chunks, {self.failed} failed "
                f"[dim]{result.source}[/dim]",
            )

    def embedding(self, done: int, total: int) -> None:
        if self._progress is not None:
            self._progress.update(
                self._task,
                description=f"{self.docs} docs, {self.chunks} chunks, embedding {done}/{total}",
            )

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(None, None, None)


def silence_stdout() -> None:
    # After the reader went away, Python would complain when flushing stdout at exit.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass


def _interrupt_waiting(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _interrupted_exit(exc: object) -> int:
    """128 + the signal: 143 for a SIGTERM ``_interrupt_waiting`` raised, 130 for Ctrl-C."""
    return 143 if "SIGTERM" in str(exc) else 130


class EarlySignals:
    """From the start of ``chunk ingest`` until its run installs ``StopSignals``: SIGTERM raises
    KeyboardInterrupt as Ctrl-C does, where its default action would end the process with the
    writer's temporary output file left behind. Either one removes every output temporary and
    sets ``code`` (143 or 130) instead of propagating."""

    def __init__(self) -> None:
        self.code: int | None = None
        self._old: Any = None

    def __enter__(self) -> EarlySignals:
        self._old = signal.signal(signal.SIGTERM, _interrupt_waiting)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: object, tb: object) -> bool:
        signal.signal(signal.SIGTERM, self._old)
        if kind is None or not issubclass(kind, KeyboardInterrupt):
            return False
        from chunkwise.writers.atomic import discard_all

        discard_all()
        self.code = _interrupted_exit(exc)
        return True


def writes_a_folder(writer: Any) -> bool:
    """Writers whose output is a folder they manage: a LanceDB table, Ray's ``out_dir/`` parts."""
    name = str(getattr(writer, "name", ""))
    return name == "lance" or name.endswith("-parts")


class IngestCommand:
    """One ``chunk ingest`` after argument parsing; ``run()`` returns the exit code. Messages go
    to stderr; the records to ``writer``. Owns the state (locked while the run lasts), the delete
    writer (``--emit-deletes`` beside a non-JSONL output), the error sink, the progress display
    and the signal handlers, and closes or aborts each exactly once."""

    def __init__(
        self,
        paths: Sequence[str],
        options: IngestOptions,
        writer: Writer,
        *,
        errors: Path | None = None,
        quiet: bool = False,
        embedder: Embedder | None = None,
        output: str | None = None,
        state_path: Path | None = None,
        emit_deletes: bool = False,
        wait_lock: float = 0.0,
        engine: Any = None,
    ) -> None:
        self.paths = list(paths)
        self.options = options
        self.writer = writer
        self.errors = errors
        self.quiet = quiet
        self.embedder = embedder
        self.output = output
        self.state_path = state_path
        self.emit_deletes = emit_deletes
        self.wait_lock = wait_lock
        self.engine = engine
        self.state: State | None = None
        self.delete_writer: Writer | None = None

    def run(self) -> int:
        code = self._open()
        return code if code is not None else self._ingest()

    def _usage(self, exc: BaseException) -> int:
        sys.stderr.write(f"chunk: error: {exc}\n")
        return EXIT_USAGE

    def _open(self) -> int | None:
        """Check the outputs, take the state's lock and open the delete writer; an exit code
        when that fails (nothing written)."""
        from chunkwise.outputs import check_outputs
        from chunkwise.pipeline import check_output
        from chunkwise.state import State, StateLocked

        paths, output, state_path = self.paths, self.output, self.state_path
        try:
            folder = writes_a_folder(self.writer)
            check_outputs(paths, output, self.errors, state_path, folder=folder)
            if self.emit_deletes and state_path is None:
                raise UsageError(
                    "--emit-deletes needs --state FILE: deletions are found against it"
                )
            if state_path is not None:
                check_output(paths, str(state_path), "state")
                if output and Path(output).resolve() == state_path.resolve():
                    raise UsageError("--state and --output must be different files")
                # Waiting for the lock can take long: a SIGTERM meanwhile must remove the
                # temporary output file like Ctrl-C does.
                old_term = signal.signal(signal.SIGTERM, _interrupt_waiting)
                try:
                    self.state = State(state_path, wait=self.wait_lock)
                finally:
                    signal.signal(signal.SIGTERM, old_term)
            if self.emit_deletes and self.writer.name != "jsonl":
                # Delete records do not fit the chunk schema: they go to a JSONL file beside it.
                from chunkwise.writers.jsonl import JsonlWriter

                self.delete_writer = JsonlWriter(f"{output}.deletes.jsonl")
        except StateLocked as exc:
            self._abort()
            sys.stderr.write(f"chunk: error: {exc}\n")
            return EXIT_LOCKED
        except KeyboardInterrupt as exc:
            self._abort()
            self._close_state()
            return _interrupted_exit(exc)
        except ChunkwiseError as exc:
            self._abort()
            self._close_state()
            return self._usage(exc)
        return None

    def _close_state(self) -> None:
        if self.state is not None:
            self.state.close()

    def _abort(self) -> None:
        from chunkwise.writers.atomic import discard_all

        self.writer.abort()
        if self.delete_writer is not None:
            self.delete_writer.abort()
        # A temporary its writer never got to hold (a signal just as it was created).
        discard_all()

    def _close(self) -> None:
        # Output first, state second: a file is marked done only once its records are durable.
        self.writer.close()
        if self.delete_writer is not None:
            self.delete_writer.close()
        if self.state is not None:
            self.state.commit()

    def _ingest(self) -> int:
        from chunkwise.pipeline import writer_is_streaming
        from chunkwise.run import Ingest

        quiet, output = self.quiet, self.output
        sink = ErrorSink(self.errors, quiet)
        progress = Progress(enabled=not quiet and sys.stderr.isatty())
        streaming = writer_is_streaming(self.writer)
        # Without --state a partial file is only a trap (the next run redoes everything), so a
        # signal discards it at once instead of finishing the current documents (and embedding
        # batch).
        stop = StopSignals(quiet, immediate=self.state is None and not streaming)
        started = time.monotonic()
        try:
            with progress, stop:
                if self.embedder is not None and progress.enabled:
                    self.embedder.on_progress = progress.embedding
                summary = Ingest(
                    self.paths,
                    self.options,
                    self.writer,
                    on_error=sink,
                    on_result=progress.update,
                    embedder=self.embedder,
                    state=self.state,
                    emit_deletes=self.emit_deletes,
                    delete_writer=self.delete_writer,
                    should_stop=stop.requested,
                    engine=self.engine,
                ).run()
                self._close()
        except BrokenPipeError:
            silence_stdout()
            self._abort()
            return EXIT_OK
        except KeyboardInterrupt:
            # A signal on a file output without --state, or a second signal: stop at once.
            self._abort()
            if not quiet:
                sys.stderr.write(_interrupted_message(stop.signum, streaming, progress, output))
            return 128 + (stop.signum or signal.SIGINT)
        except ChunkwiseError as exc:
            self._abort()
            return self._usage(exc)
        except OSError as exc:
            # Inputs' read errors are error records; an OSError here is the output failing (a
            # full disk, a quota, an I/O error): one line, a distinct exit code, no temporary.
            self._abort()
            reason = exc.strerror or str(exc)
            where = f" {exc.filename}" if exc.filename else f" {output}" if output else ""
            sys.stderr.write(f"chunk: error: cannot write output{where}: {reason}; nothing kept\n")
            return EXIT_OUTPUT
        finally:
            sink.close()
            self._close_state()
        return self._finish(summary, stop.signum, streaming, progress, time.monotonic() - started)

    def _finish(
        self, summary: Summary, signum: int, streaming: bool, progress: Progress, seconds: float
    ) -> int:
        quiet, incremental = self.quiet, self.state is not None
        if signum:
            if not quiet and incremental:
                sys.stderr.write(
                    f"chunk: stopped by {signal.Signals(signum).name}: {summary.documents} "
                    "documents written, output closed cleanly and recorded in the state; the next "
                    "run does the rest\n"
                )
            elif not quiet:
                sys.stderr.write(_interrupted_message(signum, streaming, progress, self.output))
            return 128 + signum
        if not quiet:
            from chunkwise.report import summary_line

            sys.stderr.write(summary_line(summary, seconds=seconds, incremental=incremental))
            sys.stderr.write("\n")
        if summary.documents == 0 and not (summary.skipped or summary.deleted or summary.ignored):
            log.warning("no documents found under %s", " ".join(self.paths))
        return summary.exit_code


def _interrupted_message(signum: int, streaming: bool, progress: Any, output: str | None) -> str:
    name = signal.Signals(signum or signal.SIGINT).name
    if streaming:
        written = progress.docs - progress.failed
        where = output if output and output != "-" else "stdout"
        return (
            f"chunk: stopped by {name}: records of {written} documents were already written to "
            f"{where}; the output is incomplete (use --state to resume where it stopped)\n"
        )
    return f"chunk: stopped by {name}: nothing written, the partial output file was removed\n"
