"""Workers reply in bunches: a crash or a hang still costs one item, in order, memory bounded."""

from __future__ import annotations

import functools
import multiprocessing
import os
import signal
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from chunkwise.errors import UsageError
from chunkwise.workers import _T_SHIFT, OrderedPool, TaskLost


def _handle(log: str, item: tuple[Any, ...]) -> Any:
    kind, name = item[0], item[1]
    # One O_APPEND write per line: lines of two workers never interleave.
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    os.write(fd, f"{os.getpid()} {name}\n".encode())
    os.close(fd)
    if kind == "ok":
        time.sleep(item[2] if len(item) > 2 else 0)
        return name
    if kind == "big":
        return name * item[2]
    if kind == "segv":
        os.kill(os.getpid(), signal.SIGSEGV)
        time.sleep(5)
    if kind == "hang":
        while True:
            time.sleep(0.01)
    raise AssertionError(kind)


def _factory(log: str) -> Callable[[tuple[Any, ...]], Any]:
    return functools.partial(_handle, log)


def _lost(item: tuple[Any, ...], exc: TaskLost) -> Any:
    return ("lost", exc.kind, item[1])


def _pool(log: Path, fixed: int = 0, **kw: Any) -> OrderedPool[Any, Any]:
    """``fixed``: batches of that size from the first, whatever the items' times (a loaded
    machine would otherwise move the batch boundaries the tests rely on)."""
    kw.setdefault("jobs", 1)
    kw.setdefault("timeout", 5.0)
    pool: OrderedPool[Any, Any] = OrderedPool(functools.partial(_factory, str(log)), _lost, **kw)
    return _fix(pool, fixed) if fixed else pool


def _fix(pool: OrderedPool[Any, Any], size: int) -> OrderedPool[Any, Any]:
    pool.sizer.size = pool.sizer.most = size
    pool.sizer.seconds = 1e9
    return pool


def _runs(log: Path) -> list[tuple[int, str]]:
    return [(int(p), n) for p, n in (line.split() for line in log.read_text().splitlines())]


def _workers_alive() -> list[Any]:
    return [p for p in multiprocessing.active_children() if p.name == "chunkwise-worker"]


def _batched(hostile: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    # Batches of 8: the hostile item (index 12) sits in the second, after four items that
    # finished before it.
    items: list[tuple[Any, ...]] = [("ok", f"i{i}") for i in range(24)]
    items[12] = hostile
    return items


def _check_one_item_lost(log: Path, pool: OrderedPool[Any, Any], out: list[Any], kind: str) -> None:
    assert out[12] == ("lost", kind, "bad")
    assert out[:12] + out[13:] == [f"i{i}" for i in range(24) if i != 12]
    assert pool.replaced == 1
    runs = _runs(log)
    doomed = next(pid for pid, name in runs if name == "bad")
    assert [n for _, n in runs].count("bad") == 1  # the culprit is not run again
    # Items the doomed worker finished before the culprit never reached the parent (replies
    # wait for the end of the batch): they were run again by the next worker, so still came out.
    again = [n for n, c in Counter(n for _, n in runs).items() if c > 1]
    assert again, runs
    assert all((doomed, n) in runs for n in again)
    assert all(int(n[1:]) < 12 for n in again)
    assert _workers_alive() == []


def test_a_crash_inside_a_batch_costs_only_its_item(tmp_path: Path) -> None:
    log = tmp_path / "log"
    pool = _pool(log, fixed=8, reply_seconds=60)
    out = list(pool.imap(_batched(("segv", "bad"))))
    _check_one_item_lost(log, pool, out, "crash")


def test_a_hang_inside_a_batch_costs_only_its_item(tmp_path: Path) -> None:
    log = tmp_path / "log"
    pool = _pool(log, fixed=8, reply_seconds=60, timeout=0.5)
    start = time.monotonic()
    out = list(pool.imap(_batched(("hang", "bad"))))
    assert time.monotonic() - start < 4
    _check_one_item_lost(log, pool, out, "timeout")


def test_bunches_keep_input_order(tmp_path: Path) -> None:
    items = [("ok", f"i{i}", 0.002 if i % 5 else 0.01) for i in range(120)]
    pool = _pool(tmp_path / "log", fixed=16, jobs=2, reply_seconds=0.01)
    assert list(pool.imap(items)) == [f"i{i}" for i in range(120)]
    # Fewer messages than results (bunches), more than tasks (a batch streams every 10 ms).
    assert pool.tasks < pool.replies < 120, (pool.tasks, pool.replies)


def test_large_results_stream_instead_of_piling_up(tmp_path: Path) -> None:
    # Each result is ~300 KB, over the 256 KB a worker may hold: each goes out on its own, even
    # though the batch is far from done and the time limit far away.
    items = [("ok", f"s{i}") for i in range(16)] + [("big", f"b{i}", 150_000) for i in range(16)]
    pool = _pool(tmp_path / "log", fixed=8, reply_seconds=60, reply_bytes=256 * 1024)
    out = list(pool.imap(items))
    assert out[16:] == [f"b{i}" * 150_000 for i in range(16)]
    assert pool.tasks < 16 <= pool.replies, (pool.tasks, pool.replies)


def test_the_selector_follows_replaced_workers(tmp_path: Path) -> None:
    items = [("segv", f"x{i}") if i % 7 == 3 else ("ok", f"i{i}") for i in range(40)]
    pool = _pool(tmp_path / "log", jobs=2, batch=4)
    selector = None
    seen = []
    for r in pool.imap(items):
        seen.append(r)
        assert pool._selector is not None
        selector = selector or pool._selector
        assert pool._selector is selector  # one selector for the whole run
        keyed = [key.data[0] for key in selector.get_map().values()]
        # Exactly the live workers, each with its pipe and its sentinel.
        assert sorted(map(id, keyed)) == sorted(id(w) for w in pool._workers for _ in "ps")
    assert seen == [("lost", "crash", f"x{i}") if i % 7 == 3 else f"i{i}" for i in range(40)]
    assert pool.replaced == 6
    assert pool._selector is None and _workers_alive() == []


def test_a_death_between_two_items_blames_neither(tmp_path: Path) -> None:
    # The worker sent item 0 and was killed before it wrote that it started item 1 (faked here:
    # the word is set back to "item 0 finished" just before the kill): nothing is blamed.
    items = [("ok", "a", 0), ("ok", "b", 0.5), ("ok", "c", 0)]
    pool = _pool(tmp_path / "log", fixed=3, reply_seconds=0)

    def killer() -> None:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            w = pool._workers[0] if pool._workers else None
            if w is not None and w.k == 1 and (w.state[0] >> 1) & 0xFFFF == 1:
                w.state[0] = w.state[0] >> _T_SHIFT << _T_SHIFT | 1  # item 0 finished
                os.kill(w.proc.pid, signal.SIGKILL)
                return
            time.sleep(0.005)

    spy = threading.Thread(target=killer)
    spy.start()
    out = list(pool.imap(items))
    spy.join()
    assert out == ["a", "b", "c"]
    assert pool.replaced == 1
    assert [n for _, n in _runs(tmp_path / "log")].count("b") == 2


def test_results_in_the_pipe_of_a_killed_worker_count_once(tmp_path: Path) -> None:
    # Item 1 finished and went out just as its deadline check fired (the worker went on to item
    # 2): the kill finds item 1's result in the pipe and keeps it, item 0 (arrived before) is not
    # counted twice, nothing is blamed, and item 2 goes to another worker.
    pool = _pool(tmp_path / "log", fixed=3, reply_seconds=0)
    items = [("ok", "a"), ("ok", "b", 0.2), ("ok", "c", 5)]
    pending: deque[tuple[int, Any]] = deque(enumerate(items))
    retry: deque[list[tuple[int, Any]]] = deque()
    received: dict[int, Any] = {}
    done: dict[int, Any] = {}
    pool._assign(pending, retry)
    (w,) = pool._workers
    time.sleep(0.05)
    pool._receive(w, received, done, retry)  # item 0
    assert w.k == 1 and sorted(received) == [0]
    time.sleep(0.4)  # item 1's reply now waits in the pipe
    pool._lose(w, received, done, retry, "timeout", 1)
    assert sorted(received) == [0, 1] and not done
    assert list(retry) == [[(2, items[2])]]
    assert pool.replaced == 1 and pool._workers == []
    pool.close()


def test_the_shared_word_names_the_running_item(tmp_path: Path) -> None:
    pool = _pool(tmp_path / "log", fixed=3, reply_seconds=60)
    pending: deque[tuple[int, Any]] = deque(
        [(0, ("ok", "a")), (1, ("hang", "h")), (2, ("ok", "c"))]
    )
    before = time.monotonic()
    pool._assign(pending, deque())
    (w,) = pool._workers
    deadline = time.monotonic() + 5
    while pool._running(w)[0] != 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    k, since = pool._running(w)
    assert k == 1 and before <= since <= time.monotonic()
    pool.close()


@pytest.mark.parametrize("size", [1, 150_000])
def test_a_consumer_slower_than_the_timeout_kills_no_worker(tmp_path: Path, size: int) -> None:
    # While the caller works on one result for longer than --timeout (an embedder, a slow
    # writer), the workers finish their items and send them, one message each: small ones all
    # wait in the pipe, big ones block the worker on a full pipe. Waiting on the caller is not a
    # hang: no worker is killed, no item blamed.
    items = [("big", f"b{i}", size) for i in range(8)]
    pool = _pool(tmp_path / "log", fixed=4, jobs=2, timeout=0.5, reply_bytes=1)
    out = []
    for r in pool.imap(items):
        out.append(r)
        if len(out) == 1:
            time.sleep(1.0)
    assert out == [f"b{i}" * size for i in range(8)]
    assert pool.replaced == 0


class _Steps:
    """A handler with ``many``, like the pipeline's: every item's first step across the batch,
    then each item's second step and its result. ("ok", name, a, b) sleeps a then b seconds;
    ("segv"|"hang"|"fatal", name, step) misbehaves in that step (0 or 1)."""

    def __init__(self, log: str) -> None:
        self.log = log

    def __call__(self, item: tuple[Any, ...]) -> Any:
        self._step(item, 0)
        return self._step(item, 1)

    def many(self, items: list[Any], step: Callable[[int, Callable[[], object]], None]) -> Any:
        for k, item in enumerate(items):
            step(k, functools.partial(self._step, item, 0))
        for k, item in enumerate(items):
            box: list[Any] = []
            step(k, functools.partial(self._into, box, item))
            yield box[0]

    def _into(self, box: list[Any], item: tuple[Any, ...]) -> None:
        box.append(self._step(item, 1))

    def _step(self, item: tuple[Any, ...], n: int) -> Any:
        kind, name = item[0], item[1]
        fd = os.open(self.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        os.write(fd, f"{os.getpid()} {name}.{n}\n".encode())
        os.close(fd)
        if kind == "ok":
            time.sleep(item[2 + n] if len(item) > 2 else 0)
        elif item[2] == n:
            if kind == "segv":
                os.kill(os.getpid(), signal.SIGSEGV)
            if kind == "hang":
                while True:
                    time.sleep(0.01)
            if kind == "fatal":
                raise UsageError("missing extra")
        return name


def _steps_pool(log: Path, **kw: Any) -> OrderedPool[Any, Any]:
    pool: OrderedPool[Any, Any] = OrderedPool(
        functools.partial(_Steps, str(log)), _lost, jobs=1, fatal=(UsageError,), **kw
    )
    return _fix(pool, 8)


@pytest.mark.parametrize(("kind", "lost"), [("segv", "crash"), ("hang", "timeout")])
def test_batches_run_a_step_at_a_time_and_a_crash_still_costs_one_item(
    tmp_path: Path, kind: str, lost: str
) -> None:
    log = tmp_path / "log"
    items: list[tuple[Any, ...]] = [("ok", f"i{i}") for i in range(8)]
    items[5] = (kind, "bad", 1)  # in its second step: every item's first step is done
    pool = _steps_pool(log, timeout=0.5, reply_seconds=60)
    out = list(pool.imap(items))
    assert out == ["i0", "i1", "i2", "i3", "i4", ("lost", lost, "bad"), "i6", "i7"]
    assert pool.replaced == 1
    runs = [n for _, n in _runs(log)]
    assert runs.count("bad.1") == 1  # not run again
    assert runs.count("i7.0") == 2  # begun by the dead worker, redone by the next
    assert runs.count("i2.1") == 2  # finished but unsent by the dead worker, redone


def test_the_deadline_of_a_batch_item_bounds_all_its_steps(tmp_path: Path) -> None:
    # 0.35 s in each of two steps: each step within the 0.5 s deadline, the item not.
    items = [("ok", "a"), ("ok", "slow", 0.35, 0.35), ("ok", "c"), ("ok", "d")]
    pool = _steps_pool(tmp_path / "log", timeout=0.5)
    assert list(pool.imap(items)) == ["a", ("lost", "timeout", "slow"), "c", "d"]


def test_a_batch_that_raises_goes_on_one_item_at_a_time(tmp_path: Path) -> None:
    log = tmp_path / "log"
    items: list[tuple[Any, ...]] = [("ok", f"i{i}") for i in range(6)]
    items[3] = ("fatal", "bad", 0)
    pool = _steps_pool(log, timeout=5)
    out = list(pool.imap(items))
    assert out == ["i0", "i1", "i2", ("lost", "fatal", "bad"), "i4", "i5"]
    assert pool.replaced == 0
    runs = [n for _, n in _runs(log)]
    assert runs.count("i0.0") == 2  # the batch step, then alone
    assert runs.count("bad.0") == 2
