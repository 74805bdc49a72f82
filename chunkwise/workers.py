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
import gc
import os
import pickle
import selectors
import signal
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from chunkwise.batching import BatchSizer

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


# A worker tells the parent which item of its task it is on, and since when, through one shared
# 64-bit word: ``(microseconds since the pool's start << _T_SHIFT) | (item << 1) | finished``.
# One aligned store, so the parent never reads a time and an item from two different moments.
# ``finished``: the item is done and pickled; the worker is sending or about to start the next
# (a worker blocked on a full pipe waits for the parent, it does not hang). -1: no item of the
# current task has started yet. 46 bits of microseconds last two years per pool.
_K_BITS = 16
_K_MASK = (1 << _K_BITS) - 1
_T_SHIFT = _K_BITS + 1
_MAX_BATCH = _K_MASK


class _ParentGone(Exception):
    pass


class _Bunch:
    """A worker's results on their way to the parent, and the shared word (see ``_T_SHIFT``).

    Results go back in bunches: at the end of the batch, once ``seconds`` passed since the last
    send (a slow batch still streams), or once ``size`` bytes are held (memory stays bounded).
    Each result is pickled as soon as it is ready, so an unpicklable one costs its own item and
    a crash while pickling is pinned on it."""

    def __init__(
        self, conn: Connection, state: Any, base: float, seconds: float, size: int, last: int
    ) -> None:
        self.conn, self.state, self.base = conn, state, base
        self.seconds, self.size, self.last = seconds, size, last
        self.out: list[bytes] = []
        self.held = 0
        self.since = time.monotonic()

    def start(self, k: int, spent: float = 0.0) -> float:
        """Item ``k`` runs (one of its steps, or its pickling) from now, after ``spent`` seconds
        in its earlier steps: the word says it started that much earlier, so its deadline
        bounds its whole time, not each step's. Returns now."""
        now = time.monotonic()
        self.state[0] = (int((now - spent - self.base) * 1e6) << _T_SHIFT) | (k << 1)
        return now

    def add(self, k: int, reply: tuple[bool, Any]) -> None:
        try:
            blob = pickle.dumps(reply, pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # an unpicklable result: report the one item, keep serving
            text = f"result could not be sent to the main process: {exc}"
            blob = pickle.dumps((False, ("error", text, text)), pickle.HIGHEST_PROTOCOL)
        self.out.append(blob)
        self.held += len(blob)
        now = time.monotonic()
        self.state[0] = (int((now - self.base) * 1e6) << _T_SHIFT) | (k << 1) | 1
        if k == self.last or self.held >= self.size or now - self.since >= self.seconds:
            try:
                self.conn.send((k + 1 - len(self.out), now - self.since, self.out))
            except (EOFError, OSError):
                raise _ParentGone from None
            self.out, self.held, self.since = [], 0, now


def _worker_main(
    conn: Connection,
    factory: Callable[[], Callable[[Any], Any]],
    fatal: tuple[type[BaseException], ...],
    max_memory: int | None,
    state: Any,
    base: float,
    reply_seconds: float,
    reply_bytes: int,
    cpu: int | None = None,
) -> None:
    # (its CPU, the CPUs it may use otherwise) for a worker that pins itself (``_pin_for``).
    pin = (cpu, os.sched_getaffinity(0)) if cpu is not None else None
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
    # ``handler.many(items, step)``, if there is one, takes a whole batch and yields its results
    # in order, calling ``step(k, advance)`` around each piece of work it does for item k.
    many = getattr(handler, "many", None)
    if max_memory:
        limit_memory(max_memory)
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        items = msg
        if pin is not None:
            _pin_for(items, *pin)
        bunch = _Bunch(conn, state, base, reply_seconds, reply_bytes, len(items) - 1)
        try:
            _serve(handler, many, fatal, items, bunch)
        except _ParentGone:
            return


def _serve(
    handler: Callable[[Any], Any],
    many: Callable[[list[Any], Callable[[int, Callable[[], object]], None]], Iterable[Any]] | None,
    fatal: tuple[type[BaseException], ...],
    items: list[Any],
    bunch: _Bunch,
) -> None:
    """One task: each item's result, in order, into ``bunch``. With ``many``, the batch a step
    at a time across its items: ``step(k, advance)`` marks item k in the shared word, dated back
    by k's earlier steps, so the deadline bounds an item's whole time and a crash in any step is
    k's. If ``many`` raises, the items without a result go one at a time, where the same
    exception lands on its own item."""
    done = 0
    if many is not None and len(items) > 1:
        spent = [0.0] * len(items)

        def step(k: int, advance: Callable[[], object]) -> None:
            began = bunch.start(k, spent[k])
            try:
                advance()
            finally:
                spent[k] += time.monotonic() - began

        try:
            for k, result in enumerate(many(items, step)):
                bunch.start(k, spent[k])
                bunch.add(k, (True, result))
                done = k + 1
            return
        except _ParentGone:
            raise
        except BaseException:  # fatal, or a bug: the rest one at a time (see above)
            pass
    for k in range(done, len(items)):
        bunch.start(k)
        try:
            reply: tuple[bool, Any] = (True, handler(items[k]))
        except BaseException as exc:  # the handler should not raise; report it, not die
            kind = "fatal" if isinstance(exc, fatal) else "error"
            reply = (False, (kind, f"{exc.__class__.__name__}: {exc}", str(exc)))
        bunch.add(k, reply)


@dataclass(eq=False)
class _Worker:
    proc: Any
    conn: Connection
    state: Any  # the shared word the worker writes (see _T_SHIFT)
    task: int | None = None
    # The task's items as (input index, item); ``k`` is the first one without a result yet
    # (results arrive in order, so the received ones are always ``items[:k]``).
    items: list[tuple[int, Any]] = field(default_factory=list)
    k: int = 0
    sent: float = 0.0  # when the task was sent, then when a bunch of its results last arrived
    retired: bool = False
    cpu: int | None = None  # the CPU it is pinned to (``OrderedPool._cpu_for_worker``)

    def idle(self) -> None:
        self.task, self.items, self.k = None, [], 0


class OrderedPool(Generic[T, R]):
    """``imap`` over worker processes with per-task deadlines and in-order results.

    ``factory`` runs once in each worker and returns the function applied to every item; if
    that has a ``many(items, step)`` method, a batch goes to it instead (see ``_serve``).
    ``on_lost(item, TaskLost)`` turns a task that produced no result into a result (or raises).
    Exceptions of the ``fatal`` types raised by the handler reach ``on_lost`` as kind "fatal".

    ``batch`` > 1 sends up to that many items per task, sized so a task takes about
    ``batch_seconds`` (from the time items took so far): a folder of small files then pays the
    round trip to a worker per batch, not per file. A worker sends its results back in bunches
    (``reply_seconds``, ``reply_bytes``: see ``_Bunch``), and the deadline (``timeout``) still
    applies to each item: a worker that hangs or dies costs its current item only; results it
    finished but had not sent yet, and the rest of its batch, go to another worker.
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
        reply_seconds: float = 0.05,
        reply_bytes: int = 1 << 20,
    ) -> None:
        self.factory = factory
        self.max_memory = max_memory
        self.fatal = fatal
        self.on_lost = on_lost
        self.jobs = max(1, jobs)
        self.timeout = timeout if timeout and timeout > 0 else None
        self.window = max(self.jobs, window or 2 * self.jobs)
        self.reply_seconds = reply_seconds
        self.reply_bytes = reply_bytes
        # The batch size, from the items' times in the workers' replies (kept, not recomputed
        # per result).
        self.sizer = BatchSizer(min(max(1, batch), _MAX_BATCH), batch_seconds)
        self._ctx = _context()
        self._base = time.monotonic()
        self._workers: list[_Worker] = []
        self._busy = 0  # workers with a task
        # One selector for the pool's life: each worker's pipe and process sentinel are
        # registered once when it starts and unregistered when it is retired.
        self._selector: selectors.BaseSelector | None = None
        self.replaced = 0  # workers killed or found dead and replaced (for logs and tests)
        self.tasks = 0  # tasks sent (batches), for tests
        self.replies = 0  # bunches of results received, for tests
        self._send_failures = 0

    # -- worker management -----------------------------------------------------------------------

    def _cpu_for_worker(self) -> int | None:
        """The CPU a new worker is pinned to: one no live worker holds, when the pool has a
        worker for every CPU this process may use (else None: the scheduler places it)."""
        allowed = _allowed_cpus()
        if allowed is None or len(allowed) != self.jobs or not _PIN:
            return None
        taken = {w.cpu for w in self._workers if not w.retired}
        free = [c for c in allowed if c not in taken]
        return free[0] if free else None

    def _start(self) -> _Worker:
        cpu = self._cpu_for_worker()
        parent_end, child_end = self._ctx.Pipe(duplex=True)
        _PARENT_ENDS.add(parent_end)
        state = self._ctx.RawArray("q", 1)
        state[0] = -1
        proc = self._ctx.Process(
            target=_worker_main,
            args=(
                child_end,
                self.factory,
                self.fatal,
                self.max_memory,
                state,
                self._base,
                self.reply_seconds,
                self.reply_bytes,
                cpu,
            ),
            name="chunkwise-worker",
            daemon=True,
        )
        # The worker gets this process's objects in the collector's permanent generation: its
        # collections then skip them instead of touching (and so copying) their pages.
        gc.freeze()
        try:
            proc.start()
        finally:
            gc.unfreeze()
        child_end.close()
        w = _Worker(proc, parent_end, state, cpu=cpu)
        if self._selector is None:
            self._selector = selectors.DefaultSelector()
        self._selector.register(parent_end, selectors.EVENT_READ, (w, False))
        self._selector.register(proc.sentinel, selectors.EVENT_READ, (w, True))
        return w

    def _retire(self, w: _Worker, *, kill: bool) -> None:
        if kill and w.proc.is_alive():
            w.proc.kill()
        w.proc.join(timeout=5)
        self._forget(w)

    def _forget(self, w: _Worker) -> None:
        """Unregister and close a worker that has exited (or been killed and joined)."""
        if w.retired:
            return
        w.retired = True
        if self._selector is not None:
            # Unregister before closing: epoll would keep reporting a closed descriptor whose
            # pipe another process still holds open.
            for handle in (w.conn, w.proc.sentinel):
                with contextlib.suppress(KeyError, ValueError, OSError):
                    self._selector.unregister(handle)
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
        self._busy = 0
        if self._selector is not None:
            self._selector.close()
            self._selector = None

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
        loads = pickle.loads
        # Items taken from the source but not sent yet, and batches of a lost task to resend.
        pending: deque[tuple[int, T]] = deque()
        retry: deque[list[tuple[int, T]]] = deque()
        # Results by input index: ``done`` holds lost items already mapped by ``on_lost``;
        # ``received`` holds pickled replies, unpickled only when their turn comes, so a worker
        # gets its next batch without waiting for the parent to unpickle the last one.
        done: dict[int, R] = {}
        received: dict[int, tuple[bytes, T]] = {}
        submitted = emitted = 0
        exhausted = False
        try:
            while True:
                window = self.window * self.sizer.size
                while not exhausted and submitted - emitted < window and not stop():
                    try:
                        item = next(source)
                    except StopIteration:
                        exhausted = True
                        break
                    pending.append((submitted, item))
                    submitted += 1
                if (pending or retry) and self._busy < self.jobs:
                    self._assign(pending, retry)
                if emitted in received:
                    blob, item = received.pop(emitted)
                    emitted += 1
                    ok, payload = loads(blob)
                    yield payload if ok else self.on_lost(item, TaskLost(*payload))
                    continue
                if emitted in done:
                    yield done.pop(emitted)
                    emitted += 1
                    continue
                if stop() or (exhausted and emitted == submitted):
                    return
                if not self._poll(received, done, retry):
                    # No worker has it, none will: fail loudly rather than spin forever.
                    raise RuntimeError(f"worker pool lost item {emitted} (a bug)")
        finally:
            self.close()

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
                size = min(self.sizer.size, max(1, -(-len(pending) // self.jobs)))
                task = [pending.popleft() for _ in range(min(size, len(pending)))]
            # The worker is idle (every result of its last task arrived), so it writes no
            # state until it receives this task.
            idle.state[0] = -1
            try:
                idle.conn.send([item for _, item in task])
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
            idle.task, idle.items, idle.k = task[0][0], task, 0
            self._busy += 1
            idle.sent = time.monotonic()

    def _running(self, w: _Worker) -> tuple[int, float]:
        """The item ``w`` is on (index into its task) and since when, by the parent's clock.

        Not started yet: its first item, since the task was sent. An item finished: since it
        finished or since the parent last read a bunch, whichever is later (a worker blocked
        sending to a parent busy elsewhere is not hanging)."""
        word = w.state[0]
        if word < 0:
            return w.k, w.sent
        since = self._base + (word >> _T_SHIFT) * 1e-6
        if word & 1:
            since = max(since, w.sent)
        return (word >> 1) & _K_MASK, since

    def _poll(
        self,
        received: dict[int, tuple[bytes, T]],
        done: dict[int, R],
        retry: deque[list[tuple[int, T]]],
    ) -> bool:
        """Wait for replies, deaths and deadlines; False if no worker has a task."""
        selector = self._selector
        if selector is None or not any(w.task is not None for w in self._workers):
            return False
        delay = _TICK
        timeout = self.timeout
        if timeout is not None:
            now = time.monotonic()
            for w in self._workers:
                if w.task is not None:
                    delay = min(delay, max(0.0, self._running(w)[1] + timeout - now))
        for key, _ in selector.select(delay):
            w, is_sentinel = key.data
            if w.retired:
                continue  # its pipe and its sentinel were both ready; handled once
            if w.task is None:
                # An idle worker sends nothing: its sentinel or its pipe's end means it died.
                self._retire(w, kill=True)
                self.replaced += 1
                continue
            if is_sentinel:
                self._lose(w, received, done, retry, "crash", None)
            else:
                self._receive(w, received, done, retry)
        if timeout is None:
            return True
        now = time.monotonic()
        for w in list(self._workers):
            if w.task is None:
                continue
            k, since = self._running(w)
            if now >= since + timeout:
                self._lose(w, received, done, retry, "timeout", k)
        return True

    def _take(
        self, w: _Worker, reply: tuple[int, float, list[bytes]], received: dict[int, Any]
    ) -> None:
        first, seconds, blobs = reply
        items = w.items
        for j, blob in enumerate(blobs, first):
            index, item = items[j]
            received[index] = (blob, item)
        w.k = first + len(blobs)
        w.sent = time.monotonic()
        self.replies += 1
        if self.sizer.most > 1 and blobs:
            self.sizer.observe(seconds, len(blobs))
        if w.k == len(items):
            w.idle()
            self._busy -= 1

    def _receive(
        self,
        w: _Worker,
        received: dict[int, tuple[bytes, T]],
        done: dict[int, R],
        retry: deque[list[tuple[int, T]]],
    ) -> None:
        # One bunch: if another is waiting the selector says so at once, for one epoll call
        # (``Connection.poll`` would build a selector for each).
        try:
            reply = w.conn.recv()
        except (EOFError, OSError):
            self._lose(w, received, done, retry, "crash", None)
            return
        self._take(w, reply, received)

    def _lose(
        self,
        w: _Worker,
        received: dict[int, tuple[bytes, T]],
        done: dict[int, R],
        retry: deque[list[tuple[int, T]]],
        kind: str,
        overdue: int | None,
    ) -> None:
        """``w`` died (``kind`` "crash") or item ``overdue`` of its task ran out of time: kill
        it, keep every result it sent before dying, blame the one item it was running, and
        send the rest (finished but unsent, or not started) to another worker."""
        assert w.task is not None
        if w.proc.is_alive():
            w.proc.kill()
        w.proc.join(timeout=5)
        if w.proc.exitcode is not None:
            # Dead: what is in the pipe is all it sent (a bunch cut short raises EOFError).
            with contextlib.suppress(EOFError, OSError):
                while w.task is not None and w.conn.poll():
                    self._take(w, w.conn.recv(), received)
        # The word is final now. A crash is pinned on the item it names, running or finished
        # but unsent (dying while sending it, out of memory say, must cost an item too, or the
        # retries would never end); a timeout on the item seen overdue. Either may turn out to
        # have sent its result after all (the worker died between sending it and starting the
        # next): then no item is blamed.
        culprit = self._running(w)[0] if overdue is None else overdue
        items, k = w.items, w.k
        self._forget(w)
        self.replaced += 1
        if w.task is None:
            return  # every result arrived
        if culprit < k:
            rest = items[k:]
        else:
            rest = items[k:culprit] + items[culprit + 1 :]
            index, item = items[culprit]
            if kind == "crash":
                message = self._crash_message(w)
            else:
                assert self.timeout is not None
                message = (
                    f"timed out after {self.timeout:g} s (--timeout); the worker was killed "
                    "and replaced"
                )
            done[index] = self.on_lost(item, TaskLost(kind, message))
        w.idle()
        self._busy -= 1
        if rest:
            retry.appendleft(rest)

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


# Workers pinned one to a CPU while they run batches of small documents (see ``_pin_for``);
# CHUNKWISE_PIN=0 leaves them to the scheduler.
_PIN = os.environ.get("CHUNKWISE_PIN", "1") != "0"
# A task of at least this many items (the batch sizer's ~50 ms over at most ~6 ms each) is small
# single-threaded documents: the worker runs it pinned. A smaller one (a large document, a model
# with threads of its own, a helper process) runs on every CPU it may use.
_PIN_MIN_ITEMS = 8


def _allowed_cpus() -> list[int] | None:
    if not hasattr(os, "sched_getaffinity"):
        return None
    return sorted(os.sched_getaffinity(0))


def _pin_for(items: list[Any], cpu: int, unpinned: set[int]) -> None:
    """Pin this worker to ``cpu`` for a batch of small documents, else release it.

    With one worker per CPU and another process busy, the scheduler otherwise often leaves two
    workers sharing one CPU while the other process has the second to itself (3 runnable on 2
    CPUs: 1 CPU for the pool instead of 1.5); pinned apart, the other process shares with one
    of them (`benchmarks/ab_cli.py --busy`). Large documents and models run on ``unpinned``
    (the CPUs the worker may use otherwise): their threads, or a helper process
    (``bpe_index``: only where a core is idle, which a pinned worker never sees), may use an
    idle CPU."""
    want = {cpu} if len(items) >= _PIN_MIN_ITEMS else unpinned
    if want != os.sched_getaffinity(0):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, want)


def default_jobs() -> int:
    """Number of CPU cores this process may use."""
    allowed = _allowed_cpus()
    return max(1, len(allowed) if allowed is not None else os.cpu_count() or 1)
