"""Parquet: one row per chunk, docs/design.md schema; written to a temporary file and renamed on
success, so an interrupted run never leaves a partial file."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable
from typing import Any

from chunkwise.writers import BaseWriter
from chunkwise.writers.atomic import AtomicFile, check_target

from chunkwise.errors import UsageError
from chunkwise.records import FIELDS, SCHEMA_VERSION

ROWS_PER_GROUP = 4096


def arrow_schema(embedding_dim: int | None) -> Any:
    import pyarrow as pa

    bbox = pa.struct(
        [
            ("page", pa.int32()),
            ("x0", pa.float64()),
            ("y0", pa.float64()),
            ("x1", pa.float64()),
            ("y1", pa.float64()),
        ]
    )
    emb = pa.list_(pa.float32(), embedding_dim) if embedding_dim else pa.list_(pa.float32())
    fields = [
        ("id", pa.string()),
        ("doc_id", pa.string()),
        ("source", pa.string()),
        ("index", pa.int64()),
        ("text", pa.large_string()),
        ("start", pa.int64()),
        ("end", pa.int64()),
        ("n_tokens", pa.int64()),
        ("tokenizer", pa.string()),
        ("chunker", pa.string()),
        ("parser", pa.string()),
        ("pages", pa.list_(pa.int32())),
        ("bboxes", pa.list_(bbox)),
        ("headings", pa.list_(pa.string())),
        ("kind", pa.string()),
        ("continues", pa.string()),
        ("synthetic", pa.bool_()),
        ("metadata", pa.string()),
        ("embedding", emb),
        ("embedding_model", pa.string()),
    ]
    assert tuple(f for f, _ in fields) == FIELDS
    return pa.schema(fields, metadata={b"chunkwise.schema_version": SCHEMA_VERSION.encode()})


class ParquetWriter(BaseWriter):
    name = "parquet"

    def __init__(self, path: str | None = None) -> None:
        if not path or path == "-":
            raise UsageError("--format parquet needs an output file: -o FILE.parquet")
        check_target(path)  # a folder or block device is refused before any work
        self.path = path
        self._file: AtomicFile | None = None
        self._writer: Any = None
        self._schema: Any = None
        self._rows: list[dict[str, Any]] = []

    def write(self, records: Iterable[dict[str, Any]]) -> None:
        rows = []
        for r in records:
            row = dict(r)
            row["metadata"] = json.dumps(r["metadata"], ensure_ascii=False, sort_keys=True)
            rows.append(row)
        # All of a document's rows or none: one that cannot be serialised fails that document.
        self._rows.extend(rows)
        if len(self._rows) >= ROWS_PER_GROUP:
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self._writer is None:
            dim = next((len(r["embedding"]) for r in self._rows if r["embedding"]), None)
            self._schema = arrow_schema(dim)
            self._file = AtomicFile(self.path)
            self._writer = pq.ParquetWriter(self._file.fh, self._schema, compression="zstd")
        if self._rows:
            table = pa.Table.from_pylist(self._rows, schema=self._schema)
            self._writer.write_table(table, row_group_size=ROWS_PER_GROUP)
            self._rows = []

    def close(self) -> None:
        self._flush()
        self._writer.close()
        assert self._file is not None
        self._file.commit()

    def abort(self) -> None:
        if self._writer is not None:
            # The file is being thrown away; a close error must not hide the original one.
            with contextlib.suppress(Exception):
                self._writer.close()
        if self._file is not None:
            self._file.discard()
