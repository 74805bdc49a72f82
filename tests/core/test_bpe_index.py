"""Segmented and two-process tokenization give exactly the offsets of encoding the text whole."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chunkwise import bpe_index
from chunkwise.tokenizers import bpe_backends, expand_ends, get_tokenizer, token_byte_lengths
from tests.core.test_bpe_backends import bpe_backend, reference

ENCODINGS = ["cl100k_base", "o200k_base"]
# Every kind of break and run a cut could land on or next to (a newline before "/", spaces after
# spaces, tabs, Unicode spaces), and multi-byte characters that tokens split.
_ATOMS = st.sampled_from(
    [
        "word", "Word", "it's", "naïve", "日本語", "🎉", "x" * 20, "12345", "3.5", "said.",
        "(a)", "—", "/usr", "/", ".\n/", "'", "\u0301", " ", "  ", "\t", " \t", "\n", "\n\n",
        "\r\n", " \n", "\n ", "\u00a0", "\u3000", "\u2028", ".", "!?", "”",
    ]
)  # fmt: skip
_TEXTS = st.lists(_ATOMS, min_size=1, max_size=120).map("".join)
SLOW = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def reference_offsets(name: str, text: str) -> tuple[list[int], list[int]]:
    """Character (start, end) of tiktoken's tokens of the whole text, from their bytes: a start
    inside a multi-byte character rounds down to it, an end rounds up."""
    enc = reference(name)
    ids = enc.encode_ordinary(text)  # type: ignore[attr-defined]
    raw = text.encode("utf-8")
    char_of_byte: list[int] = []
    for i, ch in enumerate(text):
        char_of_byte.extend([i] * len(ch.encode("utf-8")))
    char_of_byte.append(len(text))
    starts, ends, pos = [], [], 0
    for t in ids:
        end = pos + len(enc.decode_single_token_bytes(t))  # type: ignore[attr-defined]
        starts.append(char_of_byte[pos])
        inside = end < len(raw) and (raw[end] & 0xC0) == 0x80
        ends.append(char_of_byte[end] + int(inside))
        pos = end
    return starts, ends


def _encode_many(name: str) -> bpe_index.EncodeMany:
    tok = get_tokenizer(name)
    return lambda texts: [tok.encode(t) for t in texts]


@pytest.mark.parametrize("name", ENCODINGS)
@SLOW
@given(text=_TEXTS, every=st.integers(2, 40))
def test_segments_give_the_tokens_of_the_whole_text(name: str, text: str, every: int) -> None:
    bounds = bpe_index.segment_bounds(text, False, every)
    assert bounds[0] == 0 and bounds[-1] == len(text) and bounds == sorted(set(bounds))
    lens = token_byte_lengths(name).astype(np.uint8)
    out, splits = bpe_index.range_offsets(_encode_many(name), lens, text, bounds)
    starts = out.finish()
    assert starts.dtype == np.int32
    want_starts, want_ends = reference_offsets(name, text)
    assert starts.tolist() == want_starts
    assert expand_ends(starts, splits, len(text)).tolist() == want_ends


@pytest.mark.parametrize("backend", bpe_backends())
@pytest.mark.parametrize("name", ENCODINGS)
def test_tokenizer_offsets_equal_the_reference_on_a_long_mixed_text(
    name: str, backend: str
) -> None:
    # Long enough for many segments, with long lines, a line of no newline and a Unicode tail.
    text = ("The court held, at 3.5 per cent, that it's naïve. " * 3000 + "\n") * 3
    text += "/usr/lib " * 40_000 + "\n" + "日本語のテキスト。🎉 " * 20_000
    with bpe_backend(backend):
        tok = get_tokenizer(name)
    starts, ends = tok.offsets(text)
    want_starts, want_ends = reference_offsets(name, text)
    assert starts.tolist() == want_starts
    assert ends.tolist() == want_ends


def test_cuts_are_bounded_apart_and_never_before_a_slash_after_a_newline() -> None:
    text = ("alpha beta\n/gamma " * 50_000) + ("z" * 300_000) + (" tail" * 1000)
    bounds = bpe_index.segment_bounds(text, False, 4096)
    for cut in bounds[1:-1]:
        before, after = text[cut - 1], text[cut]
        assert (before == "\n" and not after.isspace() and after != "/") or (
            after in " \t" and not before.isspace()
        )
    gaps = np.diff(bounds)
    # The 300,000-character run has no cut point: that segment grows, the others stay bounded.
    assert gaps.max() >= 300_000 and np.sort(gaps)[-2] < 2 * 4096 + 64


_OFFSETS_PROBE = r"""
from chunkwise.tokenizers import token_byte_lengths

name = sys.argv[1]
tok = get_tokenizer(name)
serial = tok.compact_offsets(text)
lens = token_byte_lengths(name).astype(np.uint8)
encode = lambda texts: [tok.encode(t) for t in texts]
bounds = bpe_index.segment_bounds(text, False, 8192)
bpe_index._spawn = spawn
got = bpe_index.text_offsets(encode, lens, text, bounds, fork=True)
assert spawned and spawned[0] is not None, "no helper was forked"
assert np.array_equal(got[0], serial[0]) and np.array_equal(got[1], serial[1])
bpe_index._spawn = dying
got = bpe_index.text_offsets(encode, lens, text, bounds, fork=True)
assert np.array_equal(got[0], serial[0]) and np.array_equal(got[1], serial[1])
print("ok")
"""


@pytest.mark.parametrize("name", ENCODINGS)
def test_helper_process_gives_the_same_offsets_and_a_dead_one_is_replaced(name: str) -> None:
    from tests.helper_probe import run_probe

    run_probe(_OFFSETS_PROBE, name)


def test_starts_grow_in_place_and_trim() -> None:
    out = bpe_index.Starts(np.int32, 2)
    for k in range(10):
        view = out.reserve(300)
        view[:] = np.arange(300) + 300 * k
    out.truncate(2500)
    arr = out.finish()
    assert arr.dtype == np.int32 and arr.tolist() == list(range(2500))


def test_a_helper_is_forked_only_when_a_core_is_idle(tmp_path: Path) -> None:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    loadavg = tmp_path / "loadavg"
    loadavg.write_text(f"0.50 0.40 0.30 {cores - 1}/120 4242\n")
    assert bpe_index._idle_core(str(loadavg)) == (cores > 1)
    loadavg.write_text(f"1.50 0.40 0.30 {cores}/120 4242\n")
    assert not bpe_index._idle_core(str(loadavg), sole=False)
    # A process working alone still forks beside one busy task per core, not beside more.
    assert bpe_index._idle_core(str(loadavg), sole=True) == (cores > 1)
    loadavg.write_text(f"2.50 0.40 0.30 {cores + 1}/120 4242\n")
    assert not bpe_index._idle_core(str(loadavg), sole=True)
    assert not bpe_index._idle_core(str(tmp_path / "missing"), sole=True)


def test_a_helper_beside_busy_cores_runs_on_another_cpu_than_its_parent(tmp_path: Path) -> None:
    if not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs CPU affinity and two CPUs")
    cores = len(os.sched_getaffinity(0))
    loadavg = tmp_path / "loadavg"
    loadavg.write_text(f"0.50 0.40 0.30 {cores - 1}/120 4242\n")
    assert bpe_index._cpus_apart(str(loadavg)) is None  # an idle core takes the helper anyway
    loadavg.write_text(f"2.50 0.40 0.30 {cores}/120 4242\n")
    mine, theirs = bpe_index._cpus_apart(str(loadavg)) or (None, None)
    assert mine in os.sched_getaffinity(0) and theirs in os.sched_getaffinity(0)
    assert mine != theirs
    # Forked for real (in a fresh interpreter: a helper is only forked single-threaded), with
    # every core busy: the helper reports its CPUs, the parent is pinned apart until it is done.
    script = f"""
import json, os
from chunkwise import bpe_index

bpe_index._runnable_and_cores = lambda loadavg="": ({cores}, {cores})
before = sorted(os.sched_getaffinity(0))
child = bpe_index._spawn(lambda: [json.dumps(sorted(os.sched_getaffinity(0))).encode()])
pid, r = child
during = sorted(os.sched_getaffinity(0))
got = b""
while chunk := os.read(r, 4096):
    got += chunk
bpe_index._abandon(child)
print(json.dumps([json.loads(got), during, sorted(os.sched_getaffinity(0)) == before]))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    helper, parent, restored = json.loads(out.stdout)
    assert len(helper) == 1 and len(parent) == 1 and helper != parent
    assert restored  # the parent has its CPUs back once the helper is done
