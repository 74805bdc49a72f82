"""Token start offsets of a whole text under cl100k/o200k: in bounded segments, on two cores for a
large text when worker processes are allowed.

A regex-pre-tokenized BPE encodes pieces independently, and some positions end a piece whatever
precedes them and start one whatever follows (``packing.piece_boundary``): right after a newline
before a non-space other than ``/``, and at a space or tab after a non-space. Cutting the text
there and encoding the segments apart gives exactly the tokens of encoding it whole (tested on
generated text against tiktoken). So:

- **Memory stays linear and small.** A segment of ~256K characters is encoded at a time and its
  ids (a Python list, ~36 bytes a token) become at once the character starts of its tokens,
  written in place into one growing int32 array (``Starts``; int64 only past 2**31 characters),
  plus the few token indices whose start falls inside a multi-byte character. A 50 MB one-line
  file no longer holds 23 million Python ints.
- **Both cores for one large document.** rs-bpe holds the GIL, so threads do not help; a process
  forked for the second half of the segments encodes them while this one encodes the first half
  and sends back the offsets (4 bytes a token through a pipe). Only where the pipeline allows it
  (``allow_helpers``: pool workers with ``--jobs`` >= 2, never ``--jobs 0``), only for texts of
  ``PARALLEL_MIN_CHARS`` or more, only from a single-threaded process (a fork copies one thread;
  locks held by others would stay held), and only when a core is idle (or, for a process working
  alone, at most one other task per core runs: ``_idle_core``). Any failure of the helper (killed,
  short reply, fork refused) means this process encodes those segments itself: the output never
  depends on it.

Whitespace runs of 64K+ characters are also cut every 32,768 characters (tiktoken's regex
overflows its stack on hundreds of KB of whitespace); those cuts are not exact
(``_BpeTokenizer.offsets_exact``), and they are the same with either backend and either path.
"""

from __future__ import annotations

import contextlib
import itertools
import operator
import os
import re
import struct
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import numpy.typing as npt

SEGMENT_CHARS = 1 << 18
PARALLEL_MIN_CHARS = 1 << 20
LONG_WHITESPACE = 65536
WHITESPACE_STEP = 32768

# Not before "/": o200k's punctuation pieces run on over newlines and slashes (".\n/usr" is one
# piece), so a cut there would change the tokens.
_NEWLINE_THEN_TEXT = re.compile(r"\n(?=[^\s/])")
# A space or tab after a non-space: no piece of either pattern runs from a non-space into a space.
_SPACE_AFTER_TEXT = re.compile(r"(?<=\S)[ \t]")
_LONG_WHITESPACE = re.compile(rf"\s{{{LONG_WHITESPACE},}}")
_WS_RUN = re.compile(r"\s*")

# How many extra processes one text may be encoded on; set per process by the pipeline.
_HELPERS = 0
# Whether this process is the only one working for its run (an in-process run, no pool), so that
# any other runnable task on the machine is another program's.
_SOLE = False


def allow_helpers(n: int, sole: bool = False) -> None:
    """Let a large text be encoded on ``n`` forked helper processes besides this one (0: none).
    Called in pool workers when ``--jobs`` is 2 or more (and for a run kept in the main process,
    ``sole``); the default keeps library use and ``--jobs 0`` in one process."""
    global _HELPERS, _SOLE
    _HELPERS = max(0, min(int(n), 1))
    _SOLE = bool(sole)


def helpers_allowed() -> tuple[int, bool]:
    """What ``allow_helpers`` last set (to restore it)."""
    return _HELPERS, _SOLE


def _idle_core(loadavg: str = "/proc/loadavg", sole: bool | None = None) -> bool:
    """Whether a helper gets a core's worth of use right now, from the kernel's instantaneous
    count of runnable tasks (Linux /proc/loadavg), this one included: fewer than the usable
    cores, a core is idle. A ``sole`` process (its run's only one) also forks beside one task
    per core more: with one core kept busy by another program, it and its helper share two cores
    with that task, 4/3 of a core against 1 (`benchmarks/RESULTS.md`, fifth session: one core
    busy, 5 MB 1.44 -> 1.57x chonkie). A pool worker does not: the other runnable task is
    likely its sibling, and a helper would only compete with its own run. On a busier machine
    the fork, copy-on-write faults and cold caches measured slower."""
    if sole is None:
        sole = _SOLE
    load = _runnable_and_cores(loadavg)
    if load is None:
        return False
    running, cores = load
    return running < cores or (sole and cores > 1 and running <= cores)


def _runnable_and_cores(loadavg: str = "/proc/loadavg") -> tuple[int, int] | None:
    """(runnable tasks now, this one included; cores this process may use), None unknown."""
    try:
        with open(loadavg, "rb") as fh:
            running = int(fh.read().split()[3].split(b"/")[0])
    except (OSError, ValueError, IndexError):
        return None
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return running, cores


def _cpus_apart(loadavg: str = "/proc/loadavg") -> tuple[int, int] | None:
    """(this process's CPU, another for its helper) when no core is idle (a helper forked
    beside one busy task per core), else None: an idle core takes the helper by itself. With
    every core busy the scheduler may leave the two halves sharing one core (nothing it moves
    makes the counts more even), and then the helper gains nothing; pinned apart, each shares
    with one other task at most (`benchmarks/RESULTS.md`, seventh session)."""
    load = _runnable_and_cores(loadavg)
    if load is None or load[0] < load[1]:
        return None
    try:
        allowed = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None
    if len(allowed) < 2:
        return None
    mine = _current_cpu()
    if mine not in allowed:
        mine = allowed[0]
    return mine, next(c for c in allowed if c != mine)


def _current_cpu() -> int | None:
    """The CPU this process runs on (Linux: field 39 of /proc/self/stat), None unknown."""
    try:
        with open("/proc/self/stat", "rb") as fh:
            stat = fh.read()
        # The command name (field 2) is in parentheses and may hold spaces: count after it.
        return int(stat[stat.rindex(b")") + 2 :].split()[36])
    except (OSError, ValueError, IndexError):
        return None


# -- where to cut ---------------------------------------------------------------------------------


def exact_cuts(text: str, every: int = SEGMENT_CHARS) -> list[int]:
    """Positions about ``every`` characters apart where the text can be cut without changing its
    tokens: after a newline before text (preferred), else before a space that follows a
    non-space. A stretch with neither (a base64 blob) stays in one segment; the last segment keeps
    at least a quarter of ``every``."""
    cuts: list[int] = []
    n = len(text)
    stop = n - every // 4
    pos = every
    while pos < stop:
        hi = min(pos + every, stop)
        m = _NEWLINE_THEN_TEXT.search(text, pos, hi) or _SPACE_AFTER_TEXT.search(text, pos, hi)
        if m is None:
            pos = hi  # nothing here: look further on, the segment grows
            continue
        cut = m.end() if m.re is _NEWLINE_THEN_TEXT else m.start()
        cuts.append(cut)
        pos = cut + every
    return cuts


def has_long_whitespace(text: str) -> bool:
    """``_LONG_WHITESPACE.search(text) is not None``, without a regex pass over every character
    (~40 ms per MB): such a run covers a multiple of 32768, so only those positions are probed,
    and the run around a probe that lands on whitespace is measured."""
    if len(text) < LONG_WHITESPACE:
        return False
    for p in range(0, len(text), WHITESPACE_STEP):
        end = _WS_RUN.match(text, p).end()  # type: ignore[union-attr]
        if end == p:
            continue
        back = _WS_RUN.match(text[max(0, p - LONG_WHITESPACE) : p][::-1]).end()  # type: ignore[union-attr]
        if end - (p - back) >= LONG_WHITESPACE:
            return True
    return False


def whitespace_cuts(text: str) -> list[int]:
    """Cuts inside whitespace runs of 64K+ characters, every 32,768 characters (not exact)."""
    return [
        pos
        for m in _LONG_WHITESPACE.finditer(text)
        for pos in range(m.start() + WHITESPACE_STEP, m.end() - 1, WHITESPACE_STEP)
    ]


def segment_bounds(text: str, long_whitespace: bool, every: int = SEGMENT_CHARS) -> list[int]:
    """[0, cut, ..., len(text)]: the segments a text is encoded in."""
    cuts = exact_cuts(text, every)
    if long_whitespace:
        cuts = sorted({*cuts, *whitespace_cuts(text)})
    return [0, *cuts, len(text)]


# -- atoms: exact pieces counted apart -----------------------------------------------------------

# Lines longer than this (~256 tokens) are also cut at the space after each sentence end: the
# packer splits a line over its cap at sentence starts, each then one token after a bound.
SENTENCE_LINE = 1024
_SENTENCE_SPACE = re.compile(r"""[.!?…]["'”’)\]]*([ \t])""")
# A text with an atom longer than this (8K characters without a line start or sentence end:
# code, base64, a line of words) is split there at whitespace, every word asked about; one of
# more than ``LAZY_MAX_CHARS``, or with atoms of fewer than ``ATOM_DENSITY`` characters on
# average (a list held as Python ints), keeps the segmented, linear-memory encoding.
LONG_ATOM = 1 << 13
LAZY_MAX_CHARS = 1 << 24
ATOM_DENSITY = 16


def atom_bounds(text: str) -> list[int] | None:
    """[0, ..., len(text)]: every exact line start (after a newline, before a non-space other
    than "/") and, in a line longer than ``SENTENCE_LINE``, the space after each sentence end.
    Tokens never cross these positions, and the text between two of them encodes alone to
    exactly the whole text's tokens there (``packing.LazyCounts``). None for a text better
    encoded whole (see ``LONG_ATOM``)."""
    n = len(text)
    if n > LAZY_MAX_CHARS:
        return None
    budget = n // ATOM_DENSITY + 2
    found = _NEWLINE_THEN_TEXT.finditer(text)
    bounds = [0, *(m.end() for m in itertools.islice(found, budget)), n]
    if len(bounds) > budget:
        return None
    if n <= SENTENCE_LINE:
        return bounds
    gaps = list(map(operator.sub, bounds[1:], bounds))
    if max(gaps) <= SENTENCE_LINE:
        return bounds
    long = [k for k, gap in enumerate(gaps) if gap > SENTENCE_LINE]
    room = budget - len(bounds)
    for k in reversed(long):
        a, b = bounds[k], bounds[k + 1]
        cuts: list[int] = []
        last = pos = a
        # Each search stops LONG_ATOM past the last cut: a stretch without one (minified code)
        # gives up there, not after scanning the whole line.
        while b - last > LONG_ATOM:
            m = _SENTENCE_SPACE.search(text, pos, min(b, last + LONG_ATOM + 1))
            if m is None or len(cuts) >= room:
                return None
            last = m.start(1)
            pos = m.end()
            cuts.append(last)
        cuts.extend(m.start(1) for m in _SENTENCE_SPACE.finditer(text, pos, b))
        if len(cuts) > room:
            return None
        room -= len(cuts)
        bounds[k + 1 : k + 1] = cuts
    return bounds


def _count_range(count: Callable[[str], int], text: str, bounds: Sequence[int]) -> list[int]:
    return [count(text[a:b]) for a, b in itertools.pairwise(bounds)]


def atom_counts(
    count: Callable[[str], int], text: str, bounds: list[int], fork: bool = False
) -> list[int]:
    """[0, n0, n0 + n1, ...]: prefix sums of the token counts of the text between ``bounds``,
    each counted alone. With ``fork``, the second half is counted on a helper process under
    the same conditions as ``text_offsets``; a failed helper means this process counts it."""
    m = len(bounds) - 1
    if fork and _HELPERS and len(text) >= PARALLEL_MIN_CHARS and m > 1 and _idle_core():
        mid = _middle(bounds)
        child = _spawn(lambda: _pack_ints(_count_range(count, text, bounds[mid:])))
        if child is not None:
            try:
                counts = _count_range(count, text, bounds[: mid + 1])
            except BaseException:
                _abandon(child)
                raise
            got = Starts(np.int64, m - mid)
            if _receive(child, got) is not None and got.n == m - mid:
                counts.extend(got.finish().tolist())
            else:
                counts.extend(_count_range(count, text, bounds[mid:]))
            return list(itertools.accumulate(counts, initial=0))
    return list(itertools.accumulate(_count_range(count, text, bounds), initial=0))


# -- offsets of a run of segments -----------------------------------------------------------------

# Encodes a few segments at once (a thread pool for tiktoken, which releases the GIL).
EncodeMany = Callable[[list[str]], Iterable[Sequence[int]]]
_GROUP = 4


def _segment_starts(
    ids_list: Sequence[int], lens: npt.NDArray[np.uint8], seg: str
) -> tuple[npt.NDArray[Any], npt.NDArray[np.int64]]:
    """Character start of every token of ``seg`` (int32, from 0) and the indices of the tokens
    that start inside a multi-byte character (their start rounds down to it)."""
    ids = np.asarray(ids_list, dtype=np.int32)
    blen = lens[ids]
    # int32 halves the memory and time of the prefix sums; a segment without any cut point
    # (gigabytes of base64) falls back to int64.
    dtype = np.int32 if 4 * len(seg) < 2**31 else np.int64
    bstarts: npt.NDArray[Any] = np.cumsum(blen, dtype=dtype)
    bstarts -= blen
    if seg.isascii():
        return bstarts, _NO_SPLITS
    raw = np.frombuffer(seg.encode("utf-8"), dtype=np.uint8)
    is_start = (raw & 0xC0) != 0x80
    prefix = np.zeros(len(raw) + 1, dtype=dtype)
    np.cumsum(is_start, out=prefix[1:], dtype=dtype)
    cont = ~is_start[bstarts]
    starts: npt.NDArray[Any] = np.subtract(prefix[bstarts], cont, dtype=dtype)
    return starts, np.flatnonzero(cont)


_NO_SPLITS: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)


def index_dtype(text: str) -> type[np.signedinteger]:
    """int32 offsets (4 bytes a token) unless the text is too long for them."""
    return np.int32 if len(text) < 2**31 - 1 else np.int64


class Starts:
    """A growing array of token starts: filled segment by segment in place, enlarged by realloc
    (in place for large blocks) and trimmed at the end, so no second copy of the array is ever
    made; ``concatenate`` of per-segment parts held two."""

    def __init__(self, dtype: type[np.signedinteger], capacity: int) -> None:
        self.arr: npt.NDArray[Any] = np.empty(max(capacity, 1024), dtype=dtype)
        self.n = 0

    def reserve(self, k: int) -> npt.NDArray[Any]:
        """A view of the next ``k`` free slots (counted as used)."""
        need = self.n + k
        if need > len(self.arr):
            self.arr.resize(max(need, len(self.arr) * 3 // 2), refcheck=False)
        view = self.arr[self.n : need]
        self.n = need
        return view

    def truncate(self, n: int) -> None:
        self.n = n

    def finish(self) -> npt.NDArray[Any]:
        self.arr.resize(self.n, refcheck=False)
        return self.arr


def _capacity(text: str, a: int, b: int) -> int:
    # Prose has ~0.25 tokens a character, random letters ~0.5; the rare text with more grows.
    return (b - a) // 2 + 64


def range_offsets(
    encode: EncodeMany,
    lens: npt.NDArray[np.uint8],
    text: str,
    bounds: Sequence[int],
    out: Starts | None = None,
) -> tuple[Starts, npt.NDArray[np.int64]]:
    """The character starts of the tokens of text[bounds[0]:bounds[-1]], encoded segment by
    segment, appended to ``out`` (a new ``Starts`` of ``index_dtype(text)`` by default), and the
    indices (counted from the range's first token) of tokens that start inside a multi-byte
    character."""
    if out is None:
        out = Starts(index_dtype(text), _capacity(text, bounds[0], bounds[-1]))
    first = out.n
    splits: list[npt.NDArray[np.int64]] = []
    spans = list(itertools.pairwise(bounds))
    for g in range(0, len(spans), _GROUP):
        group = spans[g : g + _GROUP]
        segs = [text[a:b] for a, b in group]
        for (a, _), seg, ids in zip(group, segs, encode(segs), strict=True):
            rel, split = _segment_starts(ids, lens, seg)
            if len(split):
                splits.append(split + (out.n - first))
            view = out.reserve(len(rel))
            view[:] = rel
            view += a
    return out, (np.concatenate(splits) if splits else _NO_SPLITS)


def text_offsets(
    encode: EncodeMany,
    lens: npt.NDArray[np.uint8],
    text: str,
    bounds: Sequence[int],
    fork: bool = False,
) -> tuple[npt.NDArray[np.signedinteger], npt.NDArray[np.int64]]:
    """(token starts as ``index_dtype(text)``, split-token indices) of the whole text; with
    ``fork`` (a backend that holds the GIL), the second half of the segments is encoded on a
    helper process when that is allowed and worth it."""
    out = Starts(index_dtype(text), _capacity(text, 0, len(text)))
    if fork and _HELPERS and len(text) >= PARALLEL_MIN_CHARS and len(bounds) > 2 and _idle_core():
        mid = _middle(bounds)
        rest = bounds[mid:]
        child = _spawn(lambda: _pack(*range_offsets(encode, lens, text, rest)))
        if child is not None:
            try:
                _, first_splits = range_offsets(encode, lens, text, bounds[: mid + 1], out)
            except BaseException:
                _abandon(child)
                raise
            n_first = out.n
            second_splits = _receive(child, out)
            if second_splits is None:
                out.truncate(n_first)
                _, second_splits = range_offsets(encode, lens, text, rest, out)
            splits = np.concatenate([first_splits, second_splits + n_first])
            return out.finish(), splits
    _, splits = range_offsets(encode, lens, text, bounds, out)
    return out.finish(), splits


def _middle(bounds: Sequence[int]) -> int:
    """Index of the bound nearest the middle of the text (never the first or the last)."""
    import bisect

    half = bounds[-1] // 2
    k = bisect.bisect_left(bounds, half)
    if k < len(bounds) - 1 and k > 0 and half - bounds[k - 1] < bounds[k] - half:
        k -= 1
    return min(max(k, 1), len(bounds) - 2)


# -- the helper process ---------------------------------------------------------------------------

_HEADER = struct.Struct("<QQQ")


def _pack(starts: Starts, splits: npt.NDArray[np.int64]) -> list[bytes]:
    arr = starts.arr[: starts.n]
    return [
        _HEADER.pack(starts.n, arr.itemsize, len(splits)),
        arr.tobytes(),
        splits.astype(np.int64).tobytes(),
    ]


def _pack_ints(values: Sequence[int]) -> list[bytes]:
    return [_HEADER.pack(len(values), 8, 0), np.asarray(values, dtype=np.int64).tobytes()]


def _read_into(fh: Any, view: memoryview) -> bool:
    while len(view):
        got = fh.readinto(view)
        if not got:
            return False
        view = view[got:]
    return True


def _receive(child: tuple[int, int], out: Starts) -> npt.NDArray[np.int64] | None:
    """Read the helper's starts straight into ``out`` (no second copy) and return its split
    indices; None (``out`` possibly partly written) when the helper did not finish cleanly."""
    pid, r = child
    splits: npt.NDArray[np.int64] | None = None
    try:
        with os.fdopen(r, "rb", buffering=0) as fh:
            header = bytearray(_HEADER.size)
            if _read_into(fh, memoryview(header)):
                n, itemsize, n_splits = _HEADER.unpack(header)
                if itemsize == out.arr.itemsize:
                    view = out.reserve(n).data.cast("B")
                    raw = bytearray(8 * n_splits)
                    if (
                        _read_into(fh, view)
                        and _read_into(fh, memoryview(raw))
                        and fh.read(1) == b""
                    ):
                        splits = np.frombuffer(bytes(raw), dtype=np.int64)
    except OSError:
        splits = None
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        return None
    finally:
        _helper_done()
    if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
        return None
    return splits


def _spawn(work: Callable[[], list[bytes]]) -> tuple[int, int] | None:
    """Fork a process that runs ``work`` and writes its bytes to a pipe; (pid, read end), or
    None when forking is unsafe or fails."""
    import threading

    if threading.active_count() > 1 or not hasattr(os, "fork"):
        return None
    try:
        r, w = os.pipe()
    except OSError:
        return None
    parent = os.getpid()
    apart = _cpus_apart()
    try:
        pid = os.fork()
    except OSError:
        os.close(r)
        os.close(w)
        return None
    if pid == 0:  # pragma: no cover - the child; its output is checked by the parent's tests
        code = 1
        try:
            os.close(r)
            _die_with_parent(parent)
            if apart is not None:
                _pin(apart[1])
            for block in work():
                view = memoryview(block)
                while view:
                    view = view[os.write(w, view) :]
            code = 0
        finally:
            # Never return into the caller's stack (it would run the parent's code twice), run
            # no atexit handler and flush no inherited buffer.
            os._exit(code)
    os.close(w)
    if apart is not None:
        global _UNPIN
        _UNPIN = os.sched_getaffinity(0)
        _pin(apart[0])
    return pid, r


# The CPUs this process may use again once its helper is done (``_cpus_apart`` pinned it).
_UNPIN: set[int] | None = None


def _pin(cpu: int) -> None:
    with contextlib.suppress(OSError):
        os.sched_setaffinity(0, {cpu})


def _helper_done() -> None:
    global _UNPIN
    if _UNPIN is not None:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, _UNPIN)
        _UNPIN = None


def _abandon(child: tuple[int, int]) -> None:
    import signal

    pid, r = child
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(OSError):
        os.close(r)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)
    _helper_done()


def _die_with_parent(parent: int) -> None:  # pragma: no cover - runs in the child
    """Linux: the kernel kills the helper if its parent dies (a worker killed on --timeout)."""
    import signal

    # Ctrl-C and SIGTERM are the parent's to handle; the helper only ends with it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # it died before the request took effect
        os._exit(1)
