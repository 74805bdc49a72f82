"""The worker pool's own cost per item: 20,000 trivial items (a 3 KB string each) through
``OrderedPool`` with two workers and batches of up to 64, as the pipeline runs small files.
Prints the parent's and the workers' CPU microseconds per item.

    .venv/bin/python benchmarks/pool_overhead.py
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable

from chunkwise.workers import OrderedPool, TaskLost

N = 20_000


def _handle(x: int) -> tuple[str, int]:
    return ("r" * 3000, x)


def _factory() -> Callable[[int], tuple[str, int]]:
    return _handle


def _lost(item: int, exc: TaskLost) -> tuple[str, int]:
    raise AssertionError(f"item {item} lost: {exc}")


def main() -> None:
    pool: OrderedPool[int, tuple[str, int]] = OrderedPool(
        _factory, _lost, jobs=2, timeout=60, batch=64
    )
    start = time.perf_counter()
    s0 = resource.getrusage(resource.RUSAGE_SELF)
    n = sum(1 for _ in pool.imap(range(N)))
    assert n == N
    s1 = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    parent = s1.ru_utime + s1.ru_stime - s0.ru_utime - s0.ru_stime
    print(
        f"parent {parent / N * 1e6:.1f} us/item, workers "
        f"{(kids.ru_utime + kids.ru_stime) / N * 1e6:.1f} us/item, wall "
        f"{(time.perf_counter() - start) / N * 1e6:.1f} us/item, {pool.tasks} tasks"
    )


if __name__ == "__main__":
    main()
