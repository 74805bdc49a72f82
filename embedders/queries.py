"""``chunk embed``: embed lines of text (or JSONL records with a ``text`` field) read from a stream,
with the same model and normalisation the chunks got, so queries and chunks share one space."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from chunkwise.embedders.backend import SentenceTransformerBackend, to_floats

from chunkwise.errors import ErrorRecord, UsageError

FORMATS = ("auto", "text", "jsonl")


@dataclass
class EmbedSummary:
    lines: int = 0
    embedded: int = 0
    failed: int = 0
    truncated: int = 0

    @property
    def exit_code(self) -> int:
        if self.embedded == 0:
            return 3
        return 1 if self.failed else 0


def _records(
    lines: Iterable[str], fmt: str, on_error: Callable[[ErrorRecord], None], summary: EmbedSummary
) -> Iterator[dict[str, Any]]:
    """Input records; ``auto`` picks JSONL when the first non-blank line is a JSON object."""
    mode = fmt
    for lineno, raw in enumerate(lines, 1):
        line = raw.rstrip("\r\n")
        if not line.strip():
            continue  # blank lines carry nothing to embed
        summary.lines += 1
        if mode == "auto":
            mode = "jsonl" if _json_object(line) is not None else "text"
        if mode == "text":
            yield {"text": line}
            continue
        obj = _json_object(line)
        if obj is None or not isinstance(obj.get("text"), str):
            summary.failed += 1
            why = "not a JSON object" if obj is None else "no string 'text' field"
            on_error(ErrorRecord(f"<stdin>:{lineno}", "read", "InputError", why))
            continue
        yield obj


def _json_object(line: str) -> dict[str, Any] | None:
    if not line.lstrip().startswith("{"):
        return None
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None


def embed_stream(
    backend: SentenceTransformerBackend,
    lines: Iterable[str],
    out: IO[str],
    *,
    fmt: str = "auto",
    on_error: Callable[[ErrorRecord], None],
    group: int = 256,
) -> EmbedSummary:
    """Write one JSONL record per input line: the input (or ``{"text": line}``) plus
    ``embedding`` and ``embedding_model``. Works in groups so a pipe gets output promptly."""
    if fmt not in FORMATS:
        raise UsageError(f"--input-format must be one of {', '.join(FORMATS)}")
    summary = EmbedSummary()
    limit = backend.max_content_tokens
    pending: list[dict[str, Any]] = []

    def flush() -> None:
        if not pending:
            return
        texts = [r["text"] for r in pending]
        summary.truncated += sum(backend.count(t) > limit for t in texts)
        for rec, vec in zip(pending, to_floats(backend.encode(texts)), strict=True):
            rec["embedding"] = list(vec)
            rec["embedding_model"] = backend.display_name
            out.write(json.dumps(rec, ensure_ascii=False, separators=(",", ":")) + "\n")
        out.flush()
        summary.embedded += len(pending)
        pending.clear()

    for rec in _records(lines, fmt, on_error, summary):
        pending.append(rec)
        if len(pending) >= group:
            flush()
    flush()
    return summary
