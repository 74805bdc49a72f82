"""--device logic with torch's CUDA availability patched (no GPU needed)."""

from __future__ import annotations

import sys
import types

import pytest

from chunkwise import models
from chunkwise.errors import UsageError

pytestmark = pytest.mark.embed

torch = pytest.importorskip("torch")


@pytest.fixture
def gpu(monkeypatch: pytest.MonkeyPatch):
    def set_available(flag: bool) -> None:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: flag)

    return set_available


def test_auto_picks_cuda_when_torch_sees_a_gpu(gpu) -> None:
    gpu(True)
    assert models.resolve_device("auto") == "cuda"
    assert models.resolve_device("cuda") == "cuda"
    assert models.resolve_device("cuda:1") == "cuda:1"
    assert models.resolve_device("cpu") == "cpu"


def test_auto_falls_back_to_cpu(gpu) -> None:
    gpu(False)
    assert models.resolve_device("auto") == "cpu"
    assert models.resolve_device("cpu") == "cpu"


def test_cuda_without_gpu_is_a_usage_error(gpu) -> None:
    gpu(False)
    with pytest.raises(UsageError, match="no CUDA GPU"):
        models.resolve_device("cuda")
    with pytest.raises(UsageError, match="must be auto, cpu or cuda"):
        models.resolve_device("tpu")


def test_embedder_refuses_cuda_before_loading_anything(gpu) -> None:
    from chunkwise.embedders import EmbedConfig, build_embedder

    gpu(False)
    with pytest.raises(UsageError, match="no CUDA GPU"):
        build_embedder("late", EmbedConfig(device="cuda"))


def test_cuda_model_is_loaded_in_half_precision(gpu, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, object]] = []

    class FakeST:
        def __init__(self, path: str, device: str, local_files_only: bool) -> None:
            calls.append(("init", device))
            assert local_files_only

        def half(self) -> FakeST:
            calls.append(("half", None))
            return self

        def eval(self) -> FakeST:
            return self

    fake = types.ModuleType("sentence_transformers")
    fake.SentenceTransformer = FakeST  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "sentence_transformers", fake)
    load = models.load_sentence_model.__wrapped__  # bypass the per-process cache
    gpu(True)
    load(None, "auto")
    assert calls == [("init", "cuda"), ("half", None)]
    calls.clear()
    gpu(False)
    load(None, "auto")
    assert calls == [("init", "cpu")]
