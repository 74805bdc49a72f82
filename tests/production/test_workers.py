"""The worker pool on its own: order, bounded window, deadlines, crashes, stop, cleanup."""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from chunkwise.errors import UsageError
from chunkwise.workers import OrderedPool, TaskLost


def _handle(item: tuple[Any, ...]) -> Any:
    kind = item[0]
    if kind == "ok":
        time.sleep(item[2])
        return item[1]
    if kind == "hang":
        while True:  # a parser stuck in a loop that never releases the GIL for long
            pass
    if kind == "segv":
        os.kill(os.getpid(), signal.SIGSEGV)
        time.sleep(5)
    if kind == "exit":
        os._exit(3)
    if kind == "raise":
        raise ValueError("boom")
    if kind == "fatal":
        raise UsageError("missing extra")
    if kind == "unpicklable":
        return lambda: None
    raise AssertionError(kind)


def _factory() -> Callable[[tuple[Any, ...]], Any]:
    return _handle


def _lost(item: tuple[Any, ...], exc: TaskLost) -> Any:
    if exc.kind == "fatal":
        raise UsageError(exc.detail)
    return ("lost", exc.kind, str(exc))


def _pool(jobs: int = 2, timeout: float | None = 5.0) -> OrderedPool[Any, Any]:
    return OrderedPool(_factory, _lost, jobs=jobs, timeout=timeout, fatal=(UsageError,))


def _workers_alive() -> list[Any]:
    return [p for p in multiprocessing.active_children() if p.name == "chunkwise-worker"]


def test_results_come_back_in_input_order() -> None:
    rng = random.Random(7)
    items = [("ok", i, rng.choice([0, 0.001, 0.01, 0.02])) for i in range(40)]
    assert list(_pool(jobs=3).imap(items)) == list(range(40))
    assert _workers_alive() == []


def test_hostile_tasks_become_lost_results_and_the_run_goes_on() -> None:
    items = [
        ("ok", 0, 0),
        ("hang",),
        ("ok", 2, 0),
        ("segv",),
        ("ok", 4, 0),
        ("exit",),
        ("raise",),
        ("unpicklable",),
        ("ok", 8, 0),
    ]
    pool = _pool(jobs=2, timeout=1.0)
    start = time.monotonic()
    out = list(pool.imap(items))
    elapsed = time.monotonic() - start
    assert [o for o in out if not isinstance(o, tuple)] == [0, 2, 4, 8]
    assert [o if not isinstance(o, tuple) else o[1] for o in out] == [
        0, "timeout", 2, "crash", 4, "crash", "error", "error", 8,
    ]  # fmt: skip
    assert "timed out after 1 s" in out[1][2]
    assert "SIGSEGV" in out[3][2]
    assert "exited with status 3" in out[5][2]
    assert "ValueError: boom" in out[6][2]
    assert "could not be sent" in out[7][2]
    assert pool.replaced == 3  # hang, segv, exit; raising and unpicklable keep their worker
    assert elapsed < 8
    assert _workers_alive() == []


def test_only_a_bounded_window_of_items_is_pulled_ahead() -> None:
    pulled = 0

    def items() -> Iterator[tuple[Any, ...]]:
        nonlocal pulled
        for i in range(1000):
            pulled += 1
            yield ("ok", i, 0)

    pool = OrderedPool(_factory, _lost, jobs=2, timeout=5, window=4)
    it = pool.imap(items())
    assert next(it) == 0
    assert pulled <= 5
    for _ in range(10):
        next(it)
    assert pulled <= 11 + 4
    it.close()  # type: ignore[attr-defined]
    assert _workers_alive() == []


def test_stop_takes_no_new_items_and_ends_promptly() -> None:
    results: list[Any] = []
    pulled = 0

    def items() -> Iterator[tuple[Any, ...]]:
        nonlocal pulled
        for i in range(100):
            pulled += 1
            yield ("ok", i, 0.01) if i != 5 else ("hang",)

    pool = _pool(jobs=2, timeout=60)
    start = time.monotonic()
    for r in pool.imap(items(), should_stop=lambda: len(results) >= 3 or pulled > 5):
        results.append(r)
    # The hanging item is dropped (not waited for 60 s) and the worker running it is killed.
    assert time.monotonic() - start < 5
    assert results == list(range(len(results)))
    assert pulled <= 6
    assert _workers_alive() == []


def test_fatal_errors_propagate_and_workers_are_cleaned_up() -> None:
    with pytest.raises(UsageError, match="missing extra"):
        list(_pool().imap([("ok", 0, 0), ("fatal",), ("ok", 2, 0)]))
    assert _workers_alive() == []


def test_workers_die_with_a_killed_parent(tmp_path: Any) -> None:
    pids = tmp_path / "pids"
    script = textwrap.dedent(
        f"""
        import os, signal, sys, time
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        from test_workers import _pool
        import multiprocessing
        it = _pool(jobs=2, timeout=600).imap([("hang",), ("hang",)])
        def spy():
            time.sleep(0.5)
            kids = [p.pid for p in multiprocessing.active_children()]
            open({str(pids)!r}, "w").write(" ".join(map(str, kids)))
            os.kill(os.getpid(), signal.SIGKILL)
        import threading
        threading.Thread(target=spy, daemon=True).start()
        next(it)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], timeout=60, capture_output=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    kids = [int(p) for p in pids.read_text().split()]
    assert len(kids) == 2
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(_alive(k) for k in kids):
        time.sleep(0.05)
    assert not any(_alive(k) for k in kids), "orphaned workers keep running"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_lost_hook_sees_the_item() -> None:
    seen: list[Any] = []

    def lost(item: Any, exc: TaskLost) -> Any:
        seen.append((item, exc.kind))
        return None

    pool = OrderedPool(_factory, lost, jobs=1, timeout=0.5)
    assert list(pool.imap([("hang",), ("ok", 1, 0)])) == [None, 1]
    assert seen == [(("hang",), "timeout")]


@pytest.mark.parametrize("batch", [1, 8])
def test_hostile_items_inside_batches_cost_only_themselves(batch: int) -> None:
    # Fast items first, so the pool has measured them and sends batches by the hostile ones.
    fast = [("ok", i, 0) for i in range(30)]
    hostile = [("hang",), ("ok", "a", 0), ("segv",), ("ok", "b", 0), ("raise",), ("ok", "c", 0)]
    pool = OrderedPool(_factory, _lost, jobs=2, timeout=1.0, batch=batch)
    out = list(pool.imap(fast + hostile + fast))
    assert out[:30] == list(range(30)) and out[36:] == list(range(30))
    kinds = [o[1] if isinstance(o, tuple) else o for o in out[30:36]]
    assert kinds == ["timeout", "a", "crash", "b", "error", "c"]
    assert pool.replaced == 2
    if batch > 1:
        assert pool.tasks < len(out) / 2, pool.tasks
    assert _workers_alive() == []


def test_batches_keep_order_and_bound_the_window() -> None:
    pulled = 0

    def items() -> Iterator[tuple[Any, ...]]:
        nonlocal pulled
        for i in range(400):
            pulled += 1
            yield ("ok", i, 0.0005 if i % 7 else 0.003)

    pool = OrderedPool(_factory, _lost, jobs=2, timeout=5, window=4, batch=16)
    seen = []
    for r in pool.imap(items()):
        seen.append(r)
        # At most window x batch items are pulled ahead of what was yielded.
        assert pulled - len(seen) <= 4 * 16
    assert seen == list(range(400))
    assert pool.tasks < 200


def _affinity(item: int) -> tuple[int, int, tuple[int, ...]]:
    return item, os.getpid(), tuple(sorted(os.sched_getaffinity(0)))


def _affinity_factory() -> Callable[[int], tuple[int, int, tuple[int, ...]]]:
    return _affinity


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="no CPU affinity here")
def test_workers_run_batches_of_small_items_pinned_apart_and_single_items_unpinned() -> None:
    allowed = tuple(sorted(os.sched_getaffinity(0)))
    pool = OrderedPool(_affinity_factory, _lost, jobs=len(allowed), batch=64)
    got = list(pool.imap(range(3000)))
    assert [g[0] for g in got] == list(range(3000))
    # The batch sizer starts at one item a task: those run on every allowed CPU; once batches
    # grow, each worker runs on one CPU of its own.
    assert got[0][2] == allowed
    pinned = {(pid, cpus) for _, pid, cpus in got if len(cpus) == 1}
    assert pinned and len(pinned) == len({pid for pid, _ in pinned})
    assert len({cpus for _, cpus in pinned}) == len(pinned)
    assert all(cpus == allowed or len(cpus) == 1 for _, _, cpus in got)


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="no CPU affinity here")
@pytest.mark.parametrize("case", ["more workers than CPUs", "CHUNKWISE_PIN=0"])
def test_workers_are_left_to_the_scheduler(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from chunkwise import workers

    allowed = tuple(sorted(os.sched_getaffinity(0)))
    jobs = len(allowed) + 1 if case == "more workers than CPUs" else len(allowed)
    if case == "CHUNKWISE_PIN=0":
        monkeypatch.setattr(workers, "_PIN", False)
    pool = OrderedPool(_affinity_factory, _lost, jobs=jobs, batch=64)
    assert {cpus for _, _, cpus in pool.imap(range(2000))} == {allowed}
