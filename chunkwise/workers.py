"""A small process pool built for hostile input.

``concurrent.futures.ProcessPoolExecutor`` is the wrong tool when one document can segfault a C
library or loop forever: a dead worker breaks the whole executor (``BrokenProcessPool``) and a stuck
one cannot be stopped. This pool gives every task a deadline, kills a worker that overruns it or
dies, replaces it, turns that one task into a failure the caller maps to an error record, and
yields results strictly in submission order from a bounded window.

Workers are forked (on POSIX) so they inherit the caller's registry and sys.path as they are; each
builds its handler once and then serves tasks over its own pipe.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

T = TypeVar("T")
R = TypeVar("R")

# How often a wait wakes up to look at deadlines and the stop flag when nothing arrives.
_TICK = 0.2

# Parent ends of every live worker pipe in this process. A forked child inherits copies of them;
# it closes them at start, or a worker would keep its siblings' pipes open and never see EOF when
# the parent dies.
_PARENT_ENDS: set[Connection] = set()


class TaskLost(Exception):
    """A task ended without a result: the worker crashed, timed out, or could not send it."""

    def __init__(self, kind: str, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.kind = kind  # "crash" | "timeout" | "error" | "fatal"
        self.detail = detail or message  # "fatal": the exception's own message


def _context() -> Any:
    # fork keeps test-time registry changes and avoids re-importing heavy modules per worker;
    # platforms without fork get spawn (handler factories must then be picklable).
    import multiprocessing  # here: a run that starts no worker does not pay for it

    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def _die_with_parent() -> None:
    """Linux: have the kernel kill this worker if the parent dies (SIGKILL, OOM killer)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _address_space() -> int:
    """Bytes of address space this process maps now (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm", "rb") as fh:
            return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def limit_memory(extra: int) -> None:
    """Cap this process's address space at what it maps now plus ``extra`` bytes (RLIMIT_AS).

    Relative to the current size, because a forked worker starts with all its parent mapped
    (interpreter, parsers, maybe a model). Over the cap an allocation fails: Python raises
    MemoryError (the document's error record), a C library may abort (a crash record)."""
    import resource

    cap = _address_space() + extra
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))


def _worker_main(
    conn: Connection,
    factory: Callable[[], Callable[[Any], Any]],
    fatal: tuple[type[BaseException], ...],
    max_memory: int | None = None,
) -> None:
    for other in list(_PARENT_ENDS):
        with contextlib.suppress(OSError):
            other.close()
    _PARENT_ENDS.clear()
    # The parent decides what an interrupt means and stops workers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _die_with_parent()
    # HF tokenizers warn (on stderr, per worker) when forked after the parent used its threads.
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    handler = factory()
    if max_memory:
        limit_memory(max_memory)
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        # A task is a batch of items; each result is sent as soon as it is ready, so the parent
        # writes it while this worker goes on, and knows which item a hang or crash belongs to.
        task_id, items = msg
        for k, item in enumerate(items):
            try:
                reply: tuple[int, int, bool, Any] = (task_id, k, True, handler(item))
            except BaseException as exc:  # the handler should not raise; report it, not die
                kind = "fatal" if isinstance(exc, fatal) else "error"
                reply = (task_id, k, False, (kind, f"{exc.__class__.__name__}: {exc}", str(exc)))
            try:
                conn.send(reply)
            except (BrokenPipeError, EOFError):
                return
            except Exception as exc:  # an unpicklable result: report the one item, keep serving
                text = f"result could not be sent to the main process: {exc}"
                conn.send((task_id, k, False, ("error", text, text)))


@dataclass
class _Worker:
    proc: Any
    conn: Connection
    task: int | None = None
    # The task's items as (input index, item); ``k`` is the first one without a result yet.
    items: list[tuple[int, Any]] = field(default_factory=list)
    k: int = 0
    deadline: float = math.inf
    sent: float = 0.0

    def idle(self) -> None:
        self.task, self.items, self.k, self.deadline = None, [], 0, math.inf


class OrderedPool(Generic[T, R]):
    """``imap`` over worker processes with per-task deadlines and in-order results.

    ``factory`` runs once in each worker and returns the function applied to every item.
    ``on_lost(item, TaskLost)`` turns a task that produced no result into a result (or raises).
    Exceptions of the ``fatal`` types raised by the handler reach ``on_lost`` as kind "fatal".

    ``batch`` > 1 sends up to that many items per task, sized so a task takes about
    ``batch_seconds`` (from the time items took so far): a folder of small files then pays the
    round trip to a worker per batch, not per file. Results still come back one by one and the
    deadline (``timeout``) still applies to each item: a worker that hangs or dies costs its
    current item only, and the rest of its batch goes to another worker.
    """

    def __init__(
        self,
        factory: Callable[[], Callable[[T], R]],
        on_lost: Callable[[T, TaskLost], R],
        *,
        jobs: int,
        timeout: float | None = None,
        window: int | None = None,
        fatal: tuple[type[BaseException], ...] = (),
        batch: int = 1,
        batch_seconds: float = 0.05,
        max_memory: int | None = None,
    ) -> None:
        self.factory = factory
        self.max_memory = max_memory
        self.fatal = fatal
        self.on_lost = on_lost
        self.jobs = max(1, jobs)
        self.timeout = timeout if timeout and timeout > 0 else None
        self.window = max(self.jobs, window or 2 * self.jobs)
        self.batch = max(1, batch)
        self.batch_seconds = batch_seconds
        # Running mean of seconds per item (from result arrival times), for the batch size.
        self._per_item: float | None = None
        self._ctx = _context()
        self._workers: list[_Worker] = []
        self.replaced = 0  # workers killed or found dead and replaced (for logs and tests)
        self.tasks = 0  # tasks sent (batches), for tests
        self._send_failures = 0

    # -- worker management -----------------------------------------------------------------------

    def _start(self) -> _Worker:
        parent_end, child_end = self._ctx.Pipe(duplex=True)
        _PARENT_ENDS.add(parent_end)
        proc = self._ctx.Process(
            target=_worker_main,
            args=(child_end, self.factory, self.fatal, self.max_memory),
            name="chunkwise-worker",
            daemon=True,
        )
        proc.start()
        child_end.close()
        return _Worker(proc, parent_end)

    def _retire(self, w: _Worker, *, kill: bool) -> None:
        if kill and w.proc.is_alive():
            w.proc.kill()
        w.proc.join(timeout=5)
        _PARENT_ENDS.discard(w.conn)
        with contextlib.suppress(OSError):
            w.conn.close()
        if w in self._workers:
            self._workers.remove(w)

    def close(self) -> None:
        """Stop every worker: idle ones are asked to exit, busy ones are killed."""
        for w in list(self._workers):
            if w.task is None:
                with contextlib.suppress(OSError, ValueError):
                    w.conn.send(None)
        deadline = time.monotonic() + 2
        for w in list(self._workers):
            if w.task is None:
                w.proc.join(timeout=max(0.0, deadline - time.monotonic()))
            self._retire(w, kill=True)

    def __enter__(self) -> OrderedPool[T, R]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the map ---------------------------------------------------------------------------------

    def imap(
        self, items: Iterable[T], should_stop: Callable[[], bool] | None = None
    ) -> Iterator[R]:
        """Results in input order; stops taking items (and drops unfinished ones) once
        ``should_stop()`` is true. Closes the workers when exhausted or closed early."""
        stop = should_stop or (lambda: False)
        source = iter(items)
        # Items taken from the source but not sent yet, and batches of a lost task to resend.
        pending: deque[tuple[int, T]] = deque()
        retry: deque[list[tuple[int, T]]] = deque()
        done: dict[int, R] = {}
        submitted = emitted = 0
        exhausted = False
        try:
            while True:
                window = self.window * self._batch_size()
                while not exhausted and submitted - emitted < window and not stop():
                    try:
                        item = next(source)
                    except StopIteration:
                        exhausted = True
                        break
                    pending.append((submitted, item))
                    submitted += 1
                self._assign(pending, retry)
                if emitted in done:
                    yield done.pop(emitted)
                    emitted += 1
                    continue
                if stop() or (exhausted and emitted == submitted):
                    return
                self._poll(done, retry)
        finally:
            self.close()

    def _batch_size(self) -> int:
        if self.batch == 1 or self._per_item is None:
            return 1
        return max(1, min(self.batch, int(self.batch_seconds / max(self._per_item, 1e-6))))

    def _assign(self, pending: deque[tuple[int, T]], retry: deque[list[tuple[int, T]]]) -> None:
        while pending or retry:
            idle = next((w for w in self._workers if w.task is None), None)
            if idle is None:
                if len(self._workers) >= self.jobs:
                    return
                idle = self._start()
                self._workers.append(idle)
            if retry:
                task = retry.popleft()
            else:
                # Split what is pending between the workers that could take it, so the last
                # items of a run do not all land on one worker.
                size = min(self._batch_size(), max(1, -(-len(pending) // self.jobs)))
                task = [pending.popleft() for _ in range(min(size, len(pending)))]
            task_id = task[0][0]
            try:
                idle.conn.send((task_id, [item for _, item in task]))
            except (OSError, ValueError):
                # Died while idle: replace it and retry the same task on a fresh worker, unless
                # workers cannot even start (then retrying would fork forever).
                retry.appendleft(task)
                self._retire(idle, kill=True)
                self.replaced += 1
                self._send_failures += 1
                if self._send_failures > 3 * self.jobs:
                    raise RuntimeError("worker processes die before taking any task") from None
                continue
            except Exception as exc:  # an item cannot be pickled (spawn platforms)
                retry.appendleft(task)
                raise TypeError(f"cannot send task to a worker: {exc}") from exc
            self._send_failures = 0
            self.tasks += 1
            idle.task, idle.items, idle.k = task_id, task, 0
            idle.sent = time.monotonic()
            idle.deadline = idle.sent + self.timeout if self.timeout else math.inf

    def _poll(self, done: dict[int, R], retry: deque[list[tuple[int, T]]]) -> None:
        from multiprocessing.connection import wait

        busy = [w for w in self._workers if w.task is not None]
        if not busy:
            return
        now = time.monotonic()
        nearest = min(w.deadline for w in busy)
        delay = min(_TICK, max(0.0, nearest - now))
        handles: list[Any] = [w.conn for w in busy] + [w.proc.sentinel for w in busy]
        ready = set(wait(handles, timeout=delay))
        now = time.monotonic()
        for w in busy:
            assert w.task is not None
            if w.conn in ready:
                # Every result already sent, not just the first: a batch streams them.
                while w.task is not None:
                    try:
                        _task, k, ok, payload = w.conn.recv()
                    except (EOFError, OSError):
                        self._lose(w, done, retry, "crash", "")
                        break
                    index, item = w.items[k]
                    done[index] = payload if ok else self.on_lost(item, TaskLost(*payload))
                    arrived = time.monotonic()
                    self._observe(arrived - w.sent)
                    w.sent = arrived
                    w.k = k + 1
                    if w.k == len(w.items):
                        w.idle()
                    else:
                        w.deadline = arrived + self.timeout if self.timeout else math.inf
                        if not w.conn.poll():
                            break
            elif w.proc.sentinel in ready:
                self._lose(w, done, retry, "crash", "")
            elif now >= w.deadline:
                assert self.timeout is not None
                self._lose(
                    w,
                    done,
                    retry,
                    "timeout",
                    f"timed out after {self.timeout:g} s (--timeout); the worker was killed "
                    "and replaced",
                )

    def _observe(self, seconds: float) -> None:
        if self.batch == 1:
            return
        prev = self._per_item
        self._per_item = seconds if prev is None else 0.8 * prev + 0.2 * seconds

    def _lose(
        self,
        w: _Worker,
        done: dict[int, R],
        retry: deque[list[tuple[int, T]]],
        kind: str,
        message: str,
    ) -> None:
        assert w.task is not None
        (index, item), rest = w.items[w.k], w.items[w.k + 1 :]
        self._retire(w, kill=True)
        self.replaced += 1
        if kind == "crash":
            message = self._crash_message(w)
        if rest:
            retry.appendleft(rest)
        done[index] = self.on_lost(item, TaskLost(kind, message))

    @staticmethod
    def _crash_message(w: _Worker) -> str:
        code = w.proc.exitcode
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            how = f"killed by {name}"
            if -code == signal.SIGKILL:
                how += " (out of memory?)"
            elif -code == signal.SIGABRT:
                how += " (out of memory, or a library failed)"
        elif code is not None:
            how = f"exited with status {code}"
        else:
            how = "stopped responding"
        return f"worker process crashed ({how}) on this document; it was replaced"


def default_jobs() -> int:
    """Number of CPU cores this process may use."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)
