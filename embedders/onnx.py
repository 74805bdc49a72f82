"""Query embeddings without torch: the sentence-transformers model exported once to ONNX, run by
onnxruntime with the model's own ``tokenizers`` tokenizer.

Importing torch and sentence-transformers takes seconds, which is most of a one-query
``chunk search``. The first time a model is needed here it is exported (torch + onnx, the embed
extra) with its pooling, any Dense layers and the L2 normalisation inside the graph, checked
against sentence-transformers' own ``encode``, and cached under ``$CHUNKWISE_CACHE_DIR`` (default
``~/.cache/chunkwise``) keyed by the model folder and its files' sizes and times. Later runs load
only onnxruntime, tokenizers and numpy. Nothing is downloaded: the model must be installed locally
(``chunkwise.models.resolve_model_path``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from chunkwise.cache import cache_root
from chunkwise.errors import MissingExtra, UsageError

if TYPE_CHECKING:
    import numpy.typing as npt

log = logging.getLogger("chunkwise")

FORMAT = "1"  # bump when the exported graph or encoder.json changes meaning
# Largest difference from sentence-transformers accepted when checking a fresh export.
EXPORT_TOLERANCE = 1e-5
_PROBES = ["What is the notice period for terminating the agreement?", "hello", "x " * 300]


def model_key(model_dir: Path) -> str:
    """Changes when the model folder or any of its files (weights, config) change."""
    h = hashlib.sha256(f"{FORMAT}\n{model_dir.resolve()}\n".encode())
    for p in sorted(model_dir.rglob("*")):
        if p.is_file() and not p.name.startswith("."):
            st = p.stat()
            h.update(f"{p.relative_to(model_dir)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:24]


def max_seq_length(model_dir: Path) -> int:
    """The length sentence-transformers truncates to: its own config first, then the model's."""
    for name, key in (
        ("sentence_bert_config.json", "max_seq_length"),
        ("tokenizer_config.json", "model_max_length"),
        ("config.json", "max_position_embeddings"),
    ):
        with contextlib.suppress(OSError, ValueError):
            value = json.loads((model_dir / name).read_text(encoding="utf-8")).get(key)
            if isinstance(value, int) and 0 < value < 1_000_000:
                return value
    return 512


class OnnxQueryEncoder:
    """Sentence vectors for short texts (queries), equal to the model's sentence-transformers
    vectors within ``EXPORT_TOLERANCE``, L2-normalised like the chunk vectors."""

    def __init__(self, model: str | None = None, *, export: bool = True) -> None:
        from chunkwise.models import model_display_name, resolve_model_path

        self.display_name = model_display_name(model)
        self.model_dir = resolve_model_path(model)
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise MissingExtra("fast query embedding", "embed", "onnxruntime") from exc
        folder = cache_root() / "onnx" / model_key(self.model_dir)
        if not (folder / "encoder.json").is_file():
            if not export:
                raise UsageError(f"no ONNX export of {self.display_name} in {folder.parent}")
            export_model(model, self.model_dir, folder)
        info = json.loads((folder / "encoder.json").read_text(encoding="utf-8"))
        self.dim = int(info["dim"])
        self.max_length = int(info["max_seq_length"])
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        self._session = ort.InferenceSession(
            str(folder / "model.onnx"), opts, providers=["CPUExecutionProvider"]
        )
        self._inputs = [i.name for i in self._session.get_inputs()]
        self._tokenizer = _tokenizer(self.model_dir, self.max_length)

    def encode(self, texts: list[str]) -> npt.NDArray[np.float32]:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        enc = self._tokenizer.encode_batch(texts)
        ids = np.asarray([e.ids for e in enc], dtype=np.int64)
        feeds = {
            "input_ids": ids,
            "attention_mask": np.asarray([e.attention_mask for e in enc], dtype=np.int64),
            "token_type_ids": np.asarray([e.type_ids for e in enc], dtype=np.int64),
        }
        (vecs,) = self._session.run(None, {name: feeds[name] for name in self._inputs})
        vecs = np.asarray(vecs, dtype=np.float32)
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        return (vecs / np.maximum(norms, 1e-12)).astype(np.float32)


def _tokenizer(model_dir: Path, max_length: int) -> Any:
    from tokenizers import Tokenizer

    path = model_dir / "tokenizer.json"
    if not path.is_file():
        raise UsageError(f"{model_dir} has no tokenizer.json (a fast tokenizer is needed)")
    tok = Tokenizer.from_file(str(path))
    tok.enable_truncation(max_length=max_length)
    pad = tok.padding or {}
    tok.enable_padding(pad_id=int(pad.get("pad_id", 0)), pad_token=str(pad.get("pad_token", "")))
    return tok


def export_model(name: str | None, model_dir: Path, dest: Path) -> None:
    """Export ``model_dir`` to ``dest`` (model.onnx + encoder.json), atomically: a folder is
    renamed into place only after the exported graph matched sentence-transformers."""
    try:
        import onnx  # noqa: F401  (torch's exporter needs it)
        import torch
    except ImportError as exc:
        raise MissingExtra(
            "exporting the query encoder (once per model)", "embed", exc.name or "onnx"
        ) from exc
    from chunkwise.models import load_sentence_model

    log.warning("exporting %s to ONNX once for fast queries (cache: %s)", st_model_name(name), dest)
    st_model = load_sentence_model(name, "cpu")
    prepare = getattr(st_model, "preprocess", None) or st_model.tokenize
    probe = prepare(["hello world"])
    names = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in probe]

    class Sentence(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = st_model

        def forward(self, *tensors: Any) -> Any:
            out = self.model(dict(zip(names, tensors, strict=True)))["sentence_embedding"]
            return torch.nn.functional.normalize(out, p=2.0, dim=1)

    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=dest.parent))
    try:
        axes = {n: {0: "batch", 1: "tokens"} for n in names}
        axes["sentence_embedding"] = {0: "batch"}
        with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                Sentence().eval(),
                tuple(probe[n] for n in names),
                str(tmp / "model.onnx"),
                input_names=names,
                output_names=["sentence_embedding"],
                dynamic_axes=axes,
                opset_version=17,
                dynamo=False,
            )
        info = {
            "format": FORMAT,
            "model": st_model_name(name),
            "model_dir": str(model_dir),
            "dim": int(st_model.get_embedding_dimension()),
            "max_seq_length": int(st_model.max_seq_length or max_seq_length(model_dir)),
            "inputs": names,
        }
        (tmp / "encoder.json").write_text(json.dumps(info, indent=1), encoding="utf-8")
        _check_export(tmp, model_dir, st_model, info)
        try:
            os.replace(tmp, dest)
        except OSError:
            if not (dest / "encoder.json").is_file():  # not a concurrent export that won
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def st_model_name(name: str | None) -> str:
    from chunkwise.models import model_display_name

    return model_display_name(name)


def _check_export(folder: Path, model_dir: Path, st_model: Any, info: dict[str, Any]) -> None:
    import onnxruntime as ort

    session = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    tok = _tokenizer(model_dir, int(info["max_seq_length"]))
    enc = tok.encode_batch(_PROBES)
    feeds = {
        "input_ids": np.asarray([e.ids for e in enc], dtype=np.int64),
        "attention_mask": np.asarray([e.attention_mask for e in enc], dtype=np.int64),
        "token_type_ids": np.asarray([e.type_ids for e in enc], dtype=np.int64),
    }
    (got,) = session.run(None, {i.name: feeds[i.name] for i in session.get_inputs()})
    want = st_model.encode(_PROBES, convert_to_numpy=True, normalize_embeddings=True)
    diff = float(np.abs(np.asarray(got) - np.asarray(want)).max())
    if diff > EXPORT_TOLERANCE:
        raise UsageError(
            f"the ONNX export of {info['model']} differs from sentence-transformers by {diff:.2g}; "
            "queries would not match the chunk embeddings"
        )
