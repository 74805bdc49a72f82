"""LanceDB output (``--format lance -o kb.lance``): one table ``chunks`` of the record schema, with
the ``embedding`` column as the vector column under ``--embed``.

Every run ends in exactly one data commit, so a run killed at any point leaves the table at its
previous version or at the new one, never half (Lance commits a version by writing its manifest
last). Records are staged in a temporary Arrow file beside the table while the run goes on and
committed in ``close``:

- without ``--state`` (or with an empty state) the table is overwritten: a new version holding
  exactly this run's records;
- with ``--state`` one ``merge_insert`` on (``source``, ``id``) inserts or updates the chunks of
  the documents re-chunked in this run and, in the same commit, deletes every other row of those
  documents and of documents gone since the last run (``delete``, fed by the pipeline). Unchanged
  documents are not touched. Deletions go by source (a document's old rows are those of its
  source not written again), so the source is part of the key.

Run settings (embedding model and size, tokenizer, chunker options, schema version) live in the
table's schema metadata; an incremental run with other settings, and ``chunk search`` with another
model, are refused. After the commit a full-text index on ``text`` is kept current and, once the
table is large enough for it to pay, a vector index on ``embedding``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from chunkwise.errors import MissingExtra, UsageError
from chunkwise.records import SCHEMA_VERSION

log = logging.getLogger("chunkwise")

TABLE = "chunks"
META_PREFIX = "chunkwise."
ROWS_PER_BATCH = 4096
# Below this many rows chunk search holds the vectors in numpy (exact, ~10 ms CPU a query on 100k)
# and an approximate index only costs build time and recall: IVF_PQ on 100k took minutes to build
# here and kept 23% of the exact top 10 on random vectors (benchmarks/search.py --vector-index).
VECTOR_INDEX_MIN_ROWS = 1_000_000
# Settings that must match for rows of two runs to share one table (and one query embedding).
MODEL_KEYS = ("embedding_model", "embedding_dim")
RUN_KEYS = ("schema_version", *MODEL_KEYS, "tokenizer", "chunker", "chunker_options")


def import_lancedb() -> Any:
    # lancedb warns at every fork after its import. The forks here are document workers and Ray's
    # fork+exec: neither touches LanceDB, and no LanceDB call is in flight when they start.
    warnings.filterwarnings(
        "ignore", message="lancedb fork support is experimental", category=RuntimeWarning
    )
    try:
        import lancedb
    except ImportError as exc:
        raise MissingExtra("LanceDB output and search", "lance", "lancedb") from exc
    return lancedb


def table_settings(schema: Any) -> dict[str, str]:
    """The chunkwise settings recorded in a table's (or Parquet file's) schema metadata."""
    meta = schema.metadata or {}
    out: dict[str, str] = {}
    for k, v in meta.items():
        key = k.decode() if isinstance(k, bytes) else str(k)
        if key.startswith(META_PREFIX):
            out[key[len(META_PREFIX) :]] = v.decode() if isinstance(v, bytes) else str(v)
    return out


def describe(settings: Mapping[str, str]) -> str:
    model = settings.get("embedding_model") or "no embeddings"
    dim = settings.get("embedding_dim")
    return f"{model}{f' ({dim}-d)' if dim else ''}"


class LanceWriter:
    name = "lance"
    # Records are committed in ``close``: the state may be committed only after it.
    durable_writes = False

    def __init__(self, path: str | None = None) -> None:
        if not path or path == "-":
            raise UsageError("--format lance needs an output folder: -o kb.lance")
        self.lancedb = import_lancedb()
        self.path = Path(path)
        if self.path.exists() and not self.path.is_dir():
            raise UsageError(f"{path} exists and is not a LanceDB folder")
        self.settings: dict[str, str] = {"schema_version": SCHEMA_VERSION}
        self.incremental = False
        self._replace: set[str] = set()  # sources whose old rows this run replaces or removes
        self._rows: list[dict[str, Any]] = []
        self._staged = 0
        self._stage: Any = None  # pyarrow IPC writer on the staging file
        self._stage_path: Path | None = None
        self._schema: Any = None

    # -- the pipeline's hooks --------------------------------------------------------------------

    def begin(self, settings: Mapping[str, str], *, incremental: bool) -> None:
        """Called before the first record: this run's settings, and whether it updates the table
        (``--state`` with earlier runs recorded) or replaces it."""
        self.settings.update(settings)
        self.incremental = incremental
        table = self._open_table()
        if not incremental:
            return
        if table is None:
            raise UsageError(
                f"{self.path} holds no chunks table, but the --state file records earlier runs; "
                "delete the state file to rebuild the table from scratch"
            )
        old = table_settings(table.schema)
        diff = [k for k in RUN_KEYS if old.get(k, "") != self.settings.get(k, "")]
        if diff:
            what = (
                f"embeddings of {describe(old)}, this run makes {describe(self.settings)}"
                if any(k in MODEL_KEYS for k in diff)
                else "chunks made with other " + ", ".join(d.replace("_", " ") for d in diff)
            )
            raise UsageError(
                f"{self.path} holds {what}; an incremental run would mix them in one table. "
                "Rebuild it (run without --state, or with a new state file) or write to a new path"
            )

    def write(self, records: Iterable[dict[str, Any]]) -> None:
        for r in records:
            row = dict(r)
            row["metadata"] = json.dumps(r["metadata"], ensure_ascii=False, sort_keys=True)
            self._rows.append(row)
            self._replace.add(row["source"])
        if len(self._rows) >= ROWS_PER_BATCH:
            self._flush()

    def delete(self, records: Iterable[dict[str, Any]]) -> None:
        """Delete records of the pipeline (a document re-chunked, failed or gone): every row of
        that source not written again by this run goes in the commit."""
        for r in records:
            self._replace.add(r["source"])

    # -- staging ---------------------------------------------------------------------------------

    def _flush(self) -> None:
        import pyarrow as pa

        if not self._rows:
            return
        if self._stage is None:
            self._schema = self._arrow_schema(self._rows)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(
                prefix=f".{self.path.name}.", suffix=".arrow.part", dir=self.path.parent
            )
            os.close(fd)
            self._stage_path = Path(tmp)
            self._stage = pa.ipc.new_stream(str(tmp), self._schema)
        batch = pa.RecordBatch.from_pylist(self._rows, schema=self._schema)
        self._stage.write_batch(batch)
        self._staged += len(self._rows)
        self._rows = []

    def _arrow_schema(self, rows: list[dict[str, Any]]) -> Any:
        import pyarrow as pa
        from chunkwise.writers.parquet import arrow_schema

        dim = next((len(r["embedding"]) for r in rows if r["embedding"]), None)
        expected = self.settings.get("embedding_dim")
        if dim is not None and expected and int(expected) != dim:
            raise UsageError(f"embeddings have {dim} dimensions, the run announced {expected}")
        if dim is not None:
            self.settings["embedding_dim"] = str(dim)
        schema = arrow_schema(dim)
        meta = dict(schema.metadata or {})
        for k, v in self.settings.items():
            meta[(META_PREFIX + k).encode()] = str(v).encode()
        # Lance's full-text index reads ``string``; chunk texts stay far below its 2 GiB limit.
        i = schema.get_field_index("text")
        schema = schema.set(i, schema.field(i).with_type(pa.string()))
        return schema.with_metadata(meta)

    def _reader(self) -> Any:
        import pyarrow as pa

        assert self._stage_path is not None
        source = pa.memory_map(str(self._stage_path))
        return pa.ipc.open_stream(source)

    # -- commit ----------------------------------------------------------------------------------

    def _open_table(self) -> Any:
        if not self.path.is_dir():
            return None
        db = self.lancedb.connect(str(self.path))
        try:
            return db.open_table(TABLE)
        except (FileNotFoundError, ValueError):
            return None

    def close(self) -> None:
        self._flush()
        try:
            if self._stage is not None:
                self._stage.close()
                self._stage = None
            table = self._commit()
            if table is not None:
                self._maintain(table)
        finally:
            self._discard_stage()

    def _commit(self) -> Any:
        db = self.lancedb.connect(str(self.path))
        table = self._open_table()
        if not self.incremental or table is None:
            if self._stage_path is None:
                # Nothing was written: an empty table still records the settings.
                self._schema = self._arrow_schema([])
                import pyarrow as pa

                data: Any = pa.Table.from_pylist([], schema=self._schema)
            else:
                data = self._reader()
            # "create" when there is none: Lance warns on stderr when overwrite creates a table.
            mode = "create" if table is None else "overwrite"
            return db.create_table(TABLE, data, schema=self._schema, mode=mode)
        if self._stage_path is None and not self._replace:
            return None  # nothing changed: no new version
        if self._stage_path is None:
            import pyarrow as pa

            empty = pa.Table.from_pylist([], schema=table.schema)
            data = pa.RecordBatchReader.from_batches(table.schema, empty.to_batches())
        else:
            data = self._reader()
        merge = (
            table.merge_insert(["source", "id"])
            .when_matched_update_all()
            .when_not_matched_insert_all()
        )
        if self._replace:
            merge = merge.when_not_matched_by_source_delete(
                "source IN (" + ", ".join(sql_string(s) for s in sorted(self._replace)) + ")"
            )
        merge.execute(data)
        return table

    def _maintain(self, table: Any) -> None:
        """Indexes after the data commit: a crash here leaves the new data with the old indexes,
        which Lance still answers from (rows an index misses are scanned)."""
        from lancedb.index import FTS

        names = {ix.columns[0] for ix in table.list_indices()}
        rows = table.count_rows()
        if "text" not in names:
            table.create_index("text", config=FTS(), replace=True)
        if (
            "embedding" not in names
            and self.settings.get("embedding_dim")
            and rows >= VECTOR_INDEX_MIN_ROWS
        ):
            from lancedb.index import IvfPq

            table.create_index("embedding", config=IvfPq(distance_type="cosine"))
        if self.incremental:
            # Folds new rows into the indexes and compacts the small fragments each run adds;
            # versions older than the default week are pruned.
            table.optimize()

    def _discard_stage(self) -> None:
        if self._stage is not None:
            with contextlib.suppress(Exception):
                self._stage.close()
            self._stage = None
        if self._stage_path is not None:
            self._stage_path.unlink(missing_ok=True)
            self._stage_path = None

    def abort(self) -> None:
        self._rows = []
        self._discard_stage()


def sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
