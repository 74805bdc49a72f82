"""JSON Lines: one record per line, UTF-8, fields in schema order; stdout or an atomic file."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import IO, Any

from chunkwise.writers.atomic import AtomicFile


def dumps(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


class JsonlWriter:
    name = "jsonl"

    def __init__(self, path: str | None = None, stream: IO[bytes] | None = None) -> None:
        self._file: AtomicFile | None = None
        if path is not None and path != "-":
            self._file = AtomicFile(path)
            self._out: IO[bytes] = self._file.fh
        else:
            self._out = stream if stream is not None else sys.stdout.buffer
        # Records reach the reader as they are written (stdout, a FIFO, a device), not at close.
        self.durable_writes = self._file is None or self._file.tmp is None

    def write(self, records: Iterable[dict[str, Any]]) -> None:
        lines = [dumps(r) for r in records]
        if not lines:
            return
        self._out.write(("\n".join(lines) + "\n").encode("utf-8"))
        # One document's records at a time reach the reader: `| head` and tailing work promptly.
        self._out.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.commit()
        else:
            self._out.flush()

    def abort(self) -> None:
        if self._file is not None:
            self._file.discard()
