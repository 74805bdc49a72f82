"""JSON Lines: one record per line, UTF-8, fields in schema order; stdout or an atomic file.

Records are serialised by orjson (5-10x faster than ``json``) whenever that gives the very bytes
``json.dumps(record, ensure_ascii=False, separators=(",", ":"))`` gives, so the output never
depends on which path wrote it: records holding floats (orjson writes ``1e-5`` where json writes
``1e-05``), and anything orjson would treat differently (subclasses, dataclasses, datetimes,
integers over 64 bits, non-string keys, lone surrogates) go through ``json``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import IO, Any

from chunkwise.writers import BaseWriter
from chunkwise.writers.atomic import AtomicFile

try:
    import orjson

    _ORJSON_OPTIONS = (
        orjson.OPT_PASSTHROUGH_DATACLASS
        | orjson.OPT_PASSTHROUGH_DATETIME
        | orjson.OPT_PASSTHROUGH_SUBCLASS
    )
except ImportError:  # pragma: no cover - orjson is a core dependency
    orjson = None  # type: ignore[assignment]


def dumps(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


_SCALARS = frozenset({str, int, bool, type(None)})


def _float_free(value: Any) -> bool:
    """True when ``value`` holds nothing but str, int, bool and None in dicts, lists and tuples
    (exact types), where orjson writes what json writes."""
    kind = type(value)
    if kind in _SCALARS:
        return True
    if kind is dict:
        items = value.values()
    elif kind is list or kind is tuple:
        items = value
    else:
        # Floats, and any other type: let json decide (it also raises where it always did).
        return False
    # A loop, not all() over a generator (twice as slow): this runs on every record.
    for v in items:  # noqa: SIM110
        if type(v) not in _SCALARS and not _float_free(v):
            return False
    return True


def dumps_bytes(record: dict[str, Any]) -> bytes:
    """One record as UTF-8 JSON bytes, identical to ``dumps(record).encode("utf-8")``."""
    if orjson is not None and _float_free(record):
        try:
            return orjson.dumps(record, option=_ORJSON_OPTIONS)
        except (TypeError, orjson.JSONEncodeError):
            pass
    return dumps(record).encode("utf-8")


_BLOCK_LINES = 256
# A file published at close gets its lines in writes of about this size: one write call per
# small document (~2,000 for a folder of small files) cost more than the copying.
_PENDING_BYTES = 1 << 18


def encode(records: Iterable[dict[str, Any]]) -> list[bytes]:
    """A document's records as the JSONL bytes ``JsonlWriter.write`` writes, in blocks of up to
    256 lines (what ``write_encoded`` takes). Pure, so a worker process can call it and send the
    bytes instead of the document (``IngestOptions.encoder``); a record that cannot be
    serialised raises before any block is returned."""
    # Lines are joined into blocks as they come: each bytes object orjson returns keeps a
    # buffer of several KB whatever its length, so a document's 100,000 short records held
    # one by one would take ~20x their size.
    blocks: list[bytes] = []
    lines: list[bytes] = []
    for r in records:
        lines.append(dumps_bytes(r))
        if len(lines) == _BLOCK_LINES:
            lines.append(b"")
            blocks.append(b"\n".join(lines))
            lines.clear()
    if lines:
        lines.append(b"")
        blocks.append(b"\n".join(lines))
    return blocks


class JsonlWriter(BaseWriter):
    name = "jsonl"
    encoder = staticmethod(encode)

    def __init__(self, path: str | None = None, stream: IO[bytes] | None = None) -> None:
        self._file: AtomicFile | None = None
        if path is not None and path != "-":
            self._file = AtomicFile(path)
            self._out: IO[bytes] = self._file.fh
        else:
            self._out = stream if stream is not None else sys.stdout.buffer
        # Records reach the reader as they are written (stdout, a FIFO, a device), not at close.
        self.durable_writes = self._file is None or self._file.tmp is None
        self._pending: list[bytes] = []
        self._pending_bytes = 0

    def write(self, records: Iterable[dict[str, Any]]) -> None:
        self.write_encoded(encode(records))

    def write_encoded(self, blocks: list[bytes]) -> None:
        """One document's output as ``encode`` returned it (here or in a worker)."""
        if not blocks:
            return
        if self.durable_writes:
            # One document's records at a time reach the reader: `| head` and tailing work
            # promptly.
            self._out.writelines(blocks)
            self._out.flush()
            return
        size = sum(map(len, blocks))
        if size >= _PENDING_BYTES:
            # A large document goes out block by block: joining its blocks would copy all of
            # its output once more (+65 MB peak on a 50 MB one-line file).
            self._drain()
            self._out.writelines(blocks)
            return
        self._pending.extend(blocks)
        self._pending_bytes += size
        if self._pending_bytes >= _PENDING_BYTES:
            self._drain()

    def _drain(self) -> None:
        pending = self._pending
        if pending:
            self._out.write(pending[0] if len(pending) == 1 else b"".join(pending))
            pending.clear()
            self._pending_bytes = 0

    def close(self) -> None:
        if self._file is not None:
            try:
                self._drain()
            except BaseException:
                self._file.discard()
                raise
            self._file.commit()
        else:
            self._drain()
            self._out.flush()

    def abort(self) -> None:
        self._pending.clear()
        if self._file is not None:
            self._file.discard()
