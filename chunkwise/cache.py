"""Where chunkwise keeps what it builds once per machine (ONNX exports, tokie BPE models)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """``$CHUNKWISE_CACHE_DIR``, else ``$XDG_CACHE_HOME/chunkwise``, else ``~/.cache/chunkwise``."""
    env = os.environ.get("CHUNKWISE_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "chunkwise"
