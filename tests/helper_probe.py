"""Checks of ``bpe_index``'s forked helper process, run in a fresh interpreter: forking needs a
single-threaded process, and a pytest session may hold tiktoken's thread pool."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

# What every check starts with: a text, helpers forced on whatever the machine's load (the
# protocol is what is tested), and two replacements for ``_spawn``: ``spawn`` records the
# helpers it forks, ``dying`` forks helpers that exit at once (this process must then do
# their half itself).
PRELUDE = r"""
import os, sys
import numpy as np
from chunkwise import bpe_index
from chunkwise.tokenizers import get_tokenizer

text = "Some words, é and 日本 🎉 here.\n" * 20_000
bpe_index.PARALLEL_MIN_CHARS = 1000
bpe_index._idle_core = lambda: True
bpe_index.allow_helpers(1)
real_spawn = bpe_index._spawn
spawned = []

def spawn(work):
    child = real_spawn(work)
    spawned.append(child)
    return child

def dying(work):
    def die():
        os._exit(3)
    return real_spawn(die)
"""


def run_probe(body: str, *args: str) -> None:
    """Run ``PRELUDE`` + ``body`` (which prints "ok" when its checks pass) with ``args``."""
    out = subprocess.run(
        [sys.executable, "-c", PRELUDE + body, *args],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
        timeout=120,
    )
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
