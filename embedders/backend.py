"""The sentence-transformers backend both embedders share: one loaded model, token-level forward
passes over batches of windows, sentence-level encoding, and the model's limits.

torch and sentence-transformers are imported only when a model is loaded (through
``chunkwise.models``), so importing this module costs nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import numpy as np
from chunkwise.embedders.options import EmbedConfig

from chunkwise.errors import ChunkwiseError, EmbedError, UsageError

if TYPE_CHECKING:
    import numpy.typing as npt

log = logging.getLogger("chunkwise")

Progress = Callable[[int, int], None]
_T = TypeVar("_T")


def to_floats(vectors: npt.NDArray[np.float32]) -> list[tuple[float, ...]]:
    """Rows as tuples of Python floats holding exactly the float32 values.

    Going through float32's shortest decimal repr keeps JSONL about half the size of printing
    the float64 widening (0.1 instead of 0.10000000149011612) and still reads back bit-exact.
    """
    text = np.asarray(vectors, dtype=np.float32).astype(str)
    return [tuple(map(float, row)) for row in text]


def guarded(fn: Callable[..., _T], *args: Any) -> _T:
    """Run an embedding step; an unexpected failure becomes an EmbedError (error records for the
    documents of the batch, the run goes on) instead of a traceback that ends the run."""
    try:
        return fn(*args)
    except ChunkwiseError:
        raise
    except Exception as exc:
        log.debug("embedding failed", exc_info=True)
        msg = " ".join(str(exc).split())[:300] or type(exc).__name__
        raise EmbedError(f"embedding failed: {msg}") from exc


class SentenceTransformerBackend:
    """A sentence-transformers model plus what late chunking needs to drive it token by token."""

    def __init__(self, model: str | None = None, device: str = "auto", batch_size: int = 32):
        from chunkwise.models import model_display_name

        self.model_name = model
        self.device_request = device
        self.batch_size = batch_size
        self.display_name = model_display_name(model)
        self._model: Any = None

    # -- loading ---------------------------------------------------------------------------------

    def load(self) -> Any:
        """Load the model now (usage errors surface here, before any output is written)."""
        if self._model is None:
            from chunkwise.models import load_sentence_model

            try:
                self._model = load_sentence_model(self.model_name, self.device_request)
            except (UsageError, EmbedError):
                raise
            except Exception as exc:  # a folder that is not a sentence-transformers model
                msg = " ".join(str(exc).split())[:300]
                raise UsageError(
                    f"cannot load embedding model {self.display_name!r}: {msg}"
                ) from exc
            self._inspect()
        return self._model

    @property
    def model(self) -> Any:
        return self.load()

    def _inspect(self) -> None:
        model = self._model
        tok = model.tokenizer
        if tok is None or not getattr(tok, "is_fast", False):
            raise UsageError(
                f"embedding model {self.display_name!r} has no fast (Rust) tokenizer; late "
                "chunking needs character offsets"
            )
        self.device = str(model.device)
        self.max_length = int(model.max_seq_length or tok.model_max_length)
        config = model[0].auto_model.config
        self.max_positions = int(getattr(config, "max_position_embeddings", 0) or self.max_length)
        # Some tokenizers report a huge sentinel model_max_length; the positions table is the truth.
        self.max_length = min(self.max_length, self.max_positions)
        self.dim = int(model.get_embedding_dimension())
        self.pad_id = int(tok.pad_token_id if tok.pad_token_id is not None else 0)
        # Copy through JSON so switching truncation off does not change the model's own tokenizer.
        from tokenizers import Tokenizer

        raw = Tokenizer.from_str(tok.backend_tokenizer.to_str())
        raw.no_truncation()
        raw.no_padding()
        self._raw = raw
        self.prefix_ids, self.suffix_ids = _special_frame(raw)
        self.n_special = len(self.prefix_ids) + len(self.suffix_ids)
        self._pool_index, self.pooling = _pooling_module(model)
        if self.pooling != "mean":
            log.warning(
                "%s pools with %s; late chunking mean-pools token vectors anyway",
                self.display_name,
                self.pooling,
            )

    @property
    def max_content_tokens(self) -> int:
        """Tokens of text one forward pass takes, after the model's special tokens."""
        self.load()
        return self.max_length - self.n_special

    # -- tokenization ----------------------------------------------------------------------------

    def tokenize(
        self, text: str
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Token ids and character (start, end) of every token of ``text``; no truncation."""
        self.load()
        enc = self._raw.encode(text, add_special_tokens=False)
        ids = np.asarray(enc.ids, dtype=np.int64)
        if not len(ids):
            empty = np.zeros(0, dtype=np.int64)
            return ids, empty, empty
        off = np.asarray(enc.offsets, dtype=np.int64)
        starts = off[:, 0].copy()
        ends = off[:, 1].copy()
        # Word pieces of one normalised word may repeat offsets; span lookups need them sorted.
        np.maximum.accumulate(starts, out=starts)
        np.maximum.accumulate(ends, out=ends)
        return ids, starts, ends

    def count(self, text: str) -> int:
        self.load()
        return len(self._raw.encode(text, add_special_tokens=False).ids)

    # -- forward passes --------------------------------------------------------------------------

    def token_embeddings(
        self, windows: Sequence[npt.NDArray[np.int64]], progress: Progress | None = None
    ) -> list[npt.NDArray[np.float32]]:
        """Contextual vectors of the content tokens of each window, in input order."""
        out: list[npt.NDArray[np.float32]] = [np.zeros((0, self.dim), np.float32)] * len(windows)
        for i, vec in self.iter_token_embeddings(windows, progress):
            out[i] = vec
        return out

    def iter_token_embeddings(
        self, windows: Sequence[npt.NDArray[np.int64]], progress: Progress | None = None
    ) -> Iterator[tuple[int, npt.NDArray[np.float32]]]:
        """(window index, vectors of its content tokens) as each batch finishes; special tokens
        are added and stripped here. Windows are batched longest first so padding stays small,
        and nothing is kept after it is yielded, so memory stays bounded by one batch."""
        import torch

        model = self.model
        order = sorted(range(len(windows)), key=lambda i: -len(windows[i]))
        pre, suf = len(self.prefix_ids), len(self.suffix_ids)
        batch_size = self.batch_size
        t0 = time.perf_counter()
        pos = 0
        while pos < len(order):
            idx = order[pos : pos + batch_size]
            seqs = [self.prefix_ids + windows[i].tolist() + self.suffix_ids for i in idx]
            width = max(len(s) for s in seqs)
            ids = torch.full((len(seqs), width), self.pad_id, dtype=torch.long)
            mask = torch.zeros((len(seqs), width), dtype=torch.long)
            for row, s in enumerate(seqs):
                ids[row, : len(s)] = torch.tensor(s, dtype=torch.long)
                mask[row, : len(s)] = 1
            try:
                with torch.inference_mode():
                    dev = model.device
                    inputs = {"input_ids": ids.to(dev), "attention_mask": mask.to(dev)}
                    feats = model[0](inputs)
                    emb = feats["token_embeddings"].float().cpu().numpy()
            except torch.cuda.OutOfMemoryError as exc:
                # Long windows at a large batch may not fit a small GPU: halve and retry.
                torch.cuda.empty_cache()
                if batch_size == 1:
                    raise EmbedError("out of GPU memory embedding a single window") from exc
                batch_size = max(1, batch_size // 2)
                log.warning("out of GPU memory; batch size lowered to %d", batch_size)
                continue
            pos += len(idx)
            if progress is not None:
                progress(pos, len(windows))
            for row, i in enumerate(idx):
                n = len(seqs[row])
                yield i, emb[row, pre : n - suf]
        log.debug(
            "embedded %d windows in %.2fs on %s",
            len(windows),
            time.perf_counter() - t0,
            self.device,
        )

    def finish(self, pooled: npt.NDArray[np.float64]) -> npt.NDArray[np.float32]:
        """Mean-pooled token vectors -> sentence vectors: the model's modules after pooling
        (Dense, Normalize...), then L2 normalisation."""
        import torch

        model = self.model
        vecs = pooled.astype(np.float32)
        tail = list(model)[self._pool_index + 1 :] if self._pool_index is not None else []
        if tail and len(vecs):
            with torch.inference_mode():
                param = next(model.parameters())
                feats: dict[str, Any] = {
                    "sentence_embedding": torch.from_numpy(vecs).to(param.device, param.dtype)
                }
                for module in tail:
                    feats = module(feats)
                vecs = feats["sentence_embedding"].float().cpu().numpy()
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        return (vecs / np.maximum(norms, 1e-12)).astype(np.float32)

    def encode(
        self, texts: Sequence[str], progress: Progress | None = None
    ) -> npt.NDArray[np.float32]:
        """Sentence vectors exactly as sentence-transformers' ``encode`` gives them, normalised."""
        model = self.model
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        vecs = model.encode(
            list(texts),
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        if progress is not None:
            progress(len(texts), len(texts))
        return np.asarray(vecs, dtype=np.float32)


def _special_frame(raw: Any) -> tuple[list[int], list[int]]:
    """The special tokens the model puts before and after one text ([CLS] / [SEP] for BERT)."""
    probe = "hello world"
    plain = list(raw.encode(probe, add_special_tokens=False).ids)
    framed = list(raw.encode(probe, add_special_tokens=True).ids)
    for at in range(len(framed) - len(plain) + 1):
        if framed[at : at + len(plain)] == plain:
            return framed[:at], framed[at + len(plain) :]
    raise UsageError("cannot tell where the embedding model's tokenizer puts its special tokens")


def _pooling_module(model: Any) -> tuple[int | None, str]:
    for i, module in enumerate(model):
        if type(module).__name__ == "Pooling":
            mode = getattr(module, "pooling_mode", None)
            if mode is None:
                cfg = module.get_config_dict() if hasattr(module, "get_config_dict") else {}
                modes = [k for k, v in cfg.items() if k.startswith("pooling_mode_") and v]
                mode = modes[0].removeprefix("pooling_mode_") if modes else "mean_tokens"
            mode = str(mode)
            return i, "mean" if mode in ("mean", "mean_tokens") else mode
    return None, "none"


class ModelEmbedder:
    """What the built-in embedders share: typed options and one backend, loaded by ``load()``."""

    name: ClassVar[str] = ""
    options_class: ClassVar[type[EmbedConfig]] = EmbedConfig

    def __init__(self, config: EmbedConfig | Mapping[str, Any] | None = None) -> None:
        self.config = EmbedConfig.coerce(config, self.name)
        self.backend = SentenceTransformerBackend(
            self.config.model, self.config.device, self.config.batch_size
        )
        self.on_progress: Progress | None = None

    @property
    def model_name(self) -> str:
        return self.backend.display_name
