"""``chunk search INDEX QUERY``: the top-k chunks of a LanceDB table (``--format lance``) or of a
Parquet file with embeddings, for a query embedded with the model the index records.

Vector search ranks by cosine similarity (chunk and query vectors are L2-normalised). ``hybrid``
fuses the vector ranking with a full-text ranking by reciprocal rank fusion (each list contributes
``1 / (60 + rank)``, Cormack et al. 2009). On LanceDB the full-text side is its BM25 index on
``text``; on Parquet it is BM25 computed on the fly (pyarrow regex counts, doc length in tokens),
so Parquet needs neither an index nor an extra. Queries are embedded through onnxruntime
(``embedders/onnx.py``), without importing torch.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

import numpy as np

from chunkwise.errors import UsageError
from chunkwise.records import FIELDS

if TYPE_CHECKING:
    import numpy.typing as npt

RRF_K = 60
# Candidates each ranking contributes to the fusion, at least.
FUSION_DEPTH = 50
OUTPUT_FIELDS = tuple(f for f in FIELDS if f not in ("embedding", "embedding_model"))
_WORD = re.compile(r"\w+")


@dataclass
class Hit:
    key: Any
    score: float
    row: dict[str, Any]
    ranks: dict[str, int] = field(default_factory=dict)


class Index(Protocol):
    embedding_model: str
    dim: int

    def vector(self, query: npt.NDArray[np.float32], n: int, where: str | None) -> list[Hit]: ...
    def text(self, query: str, n: int, where: str | None) -> list[Hit]: ...


def open_index(path: str) -> Index:
    p = Path(path)
    if p.is_dir():
        return LanceIndex(p)
    if p.is_file():
        return ParquetIndex(p)
    raise UsageError(f"no such index: {path} (a LanceDB folder or a Parquet file)")


# -- Parquet: brute force ----------------------------------------------------------------------


class ParquetIndex:
    """A (rows, dim) float32 matrix in memory; the other columns are read when a query needs
    them: all of them for ``--where`` and the full-text side, else only the row groups of hits."""

    def __init__(self, path: Path) -> None:
        import pyarrow.parquet as pq

        try:
            pf = pq.ParquetFile(path, memory_map=True)
        except Exception as exc:
            raise UsageError(f"{path} is not a Parquet file: {exc}") from exc
        names = pf.schema_arrow.names
        if "embedding" not in names or "text" not in names:
            raise UsageError(f"{path} is not chunkwise output (no text/embedding columns)")
        table = pf.read(columns=["embedding", "embedding_model"])
        emb = table.column("embedding")
        if table.num_rows and emb.null_count == table.num_rows:
            raise UsageError(f"{path} has no embeddings: ingest with --embed")
        if emb.null_count:
            raise UsageError(f"{path}: {emb.null_count} chunks have no embedding")
        models = table.column("embedding_model").unique().to_pylist()
        if len(models) > 1:
            raise UsageError(f"{path} mixes embedding models: {', '.join(map(str, models))}")
        self.embedding_model = str(models[0]) if models else ""
        self.matrix = _matrix(emb)
        self.dim = int(self.matrix.shape[1]) if table.num_rows else 0
        self._pf = pf
        self._others = [c for c in names if c not in ("embedding", "embedding_model")]
        self.columns = set(self._others)
        self._groups = np.cumsum([0] + [pf.metadata.row_group(g).num_rows
                                         for g in range(pf.num_row_groups)])  # fmt: skip
        self._group_cache: dict[int, Any] = {}
        self._table: Any = None
        self._where: dict[str, npt.NDArray[np.bool_]] = {}
        self._lower: Any = None
        self._rows: dict[int, dict[str, Any]] = {}

    @property
    def table(self) -> Any:
        """Every column but the embeddings, read once."""
        if self._table is None:
            self._table = self._pf.read(columns=self._others)
        return self._table

    def _mask(self, where: str | None) -> npt.NDArray[np.bool_] | None:
        if not where:
            return None
        if where not in self._where:
            import pyarrow as pa

            from chunkwise.where import parse_where

            expr = parse_where(where, self.columns)
            n = self.table.num_rows
            idx = pa.table({"i": np.arange(n), **{c: self.table.column(c) for c in self.columns}})
            try:
                kept = _numpy(idx.filter(expr).column("i"), np.int64)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, TypeError) as exc:
                raise UsageError(f"--where: {exc}") from exc
            mask = np.zeros(n, dtype=bool)
            mask[kept] = True
            self._where[where] = mask
        return self._where[where]

    def _row(self, i: int) -> dict[str, Any]:
        if i not in self._rows:
            if self._table is not None:
                self._rows[i] = self._table.slice(i, 1).to_pylist()[0]
            else:
                g = int(np.searchsorted(self._groups, i, side="right")) - 1
                if g not in self._group_cache:
                    self._group_cache[g] = self._pf.read_row_group(g, columns=self._others)
                part = self._group_cache[g]
                self._rows[i] = part.slice(i - int(self._groups[g]), 1).to_pylist()[0]
        return self._rows[i]

    def _top(self, scores: npt.NDArray[Any], n: int, where: str | None) -> list[Hit]:
        mask = self._mask(where)
        if mask is not None:
            scores = np.where(mask, scores, -np.inf)
        n = min(n, len(scores))
        if n <= 0:
            return []
        top = np.argpartition(-scores, n - 1)[:n] if n < len(scores) else np.arange(len(scores))
        top = top[np.lexsort((top, -scores[top]))]
        return [
            Hit(int(i), float(scores[i]), self._row(int(i))) for i in top if np.isfinite(scores[i])
        ]

    def vector(self, query: npt.NDArray[np.float32], n: int, where: str | None) -> list[Hit]:
        return self._top(self.matrix @ query, n, where)

    def text(self, query: str, n: int, where: str | None) -> list[Hit]:
        """BM25 (k1 1.2, b 0.75) over whole words, case-folded; length in the chunk's tokens."""
        import pyarrow.compute as pc

        terms = list(dict.fromkeys(t.lower() for t in _WORD.findall(query)))
        if not terms or not self.table.num_rows:
            return []
        if self._lower is None:
            self._lower = pc.utf8_lower(self.table.column("text"))
        lengths = _numpy(self.table.column("n_tokens"), np.float64)
        avg = max(float(lengths.mean()), 1.0)
        total = len(lengths)
        scores = np.zeros(total, dtype=np.float64)
        for term in terms:
            counts = pc.count_substring_regex(self._lower, pattern=rf"\b{re.escape(term)}\b")
            tf = _numpy(counts, np.float64)
            df = int(np.count_nonzero(tf))
            if not df:
                continue
            idf = math.log((total - df + 0.5) / (df + 0.5) + 1.0)
            scores += idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * lengths / avg))
        scores[scores <= 0] = -np.inf
        return self._top(scores, n, where)


def _matrix(column: Any) -> npt.NDArray[np.float32]:
    import pyarrow as pa

    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if len(arr) == 0:
        return np.zeros((0, 0), np.float32)
    if pa.types.is_fixed_size_list(arr.type):
        dim = arr.type.list_size
    else:
        sizes = set(pa.compute.list_value_length(arr).unique().to_pylist())
        if len(sizes) != 1:
            raise UsageError("embeddings of different sizes in one index")
        dim = sizes.pop()
    return _numpy(arr.flatten(), np.float32).reshape(len(arr), dim)


def _numpy(column: Any, dtype: Any) -> npt.NDArray[Any]:
    """A primitive Arrow column without nulls as a numpy view. (pyarrow's ``to_numpy`` imports
    pandas, half a second of a cold ``chunk search``.)"""
    import pyarrow as pa

    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if arr.null_count:
        raise UsageError("unexpected nulls in a numeric column of the index")
    width = arr.type.bit_width // 8
    buf = np.frombuffer(
        arr.buffers()[1],
        dtype=np.dtype(f"<{'f' if pa.types.is_floating(arr.type) else 'i'}{width}"),
    )
    return buf[arr.offset : arr.offset + len(arr)].astype(dtype, copy=False)


# -- LanceDB -------------------------------------------------------------------------------------


class LanceIndex:
    def __init__(self, path: Path) -> None:
        from chunkwise.writers.lance import TABLE, import_lancedb, table_settings

        lancedb = import_lancedb()
        try:
            self.table = lancedb.connect(str(path)).open_table(TABLE)
        except (FileNotFoundError, ValueError) as exc:
            raise UsageError(f"{path} holds no chunkwise table (write one with -f lance)") from exc
        settings = table_settings(self.table.schema)
        self.embedding_model = settings.get("embedding_model", "")
        self.dim = int(settings.get("embedding_dim") or 0)
        self._has_vector_index = any(
            ix.columns == ["embedding"] for ix in self.table.list_indices()
        )
        self._vectors: npt.NDArray[np.float32] | None = None
        self._row_ids: npt.NDArray[np.uint64] = np.zeros(0, np.uint64)
        self._masks: dict[str, npt.NDArray[np.bool_]] = {}

    def _run(
        self, query: Any, n: int, where: str | None, key: str, score: Callable[[float], float]
    ) -> Any:
        if where:
            query = query.where(where, prefilter=True)
        try:
            rows = query.limit(n).select([*OUTPUT_FIELDS, key]).to_arrow().to_pylist()
        except (ValueError, RuntimeError, OSError) as exc:
            msg = " ".join(str(exc).split())[:300]
            raise UsageError(f"search failed{' (check --where)' if where else ''}: {msg}") from exc
        return [Hit((r["source"], r["id"]), score(float(r[key])), _clean(r)) for r in rows]

    def vector(self, query: npt.NDArray[np.float32], n: int, where: str | None) -> list[Hit]:
        if not self._has_vector_index:
            return self._brute_force(query, n, where)
        q = self.table.search(query, vector_column_name="embedding").metric("cosine")
        q = q.nprobes(32).refine_factor(10)
        return self._run(q, n, where, "_distance", lambda d: 1.0 - d)

    # Without a vector index, LanceDB's flat scan re-reads every vector per query (276 ms CPU per
    # query on 100k chunks, benchmarks/search.py); holding them in numpy costs one such read and
    # then about 10 ms a query, exactly.

    def _scan(self, columns: list[str], where: str | None) -> Any:
        q = self.table.search().select(columns).with_row_id(True)
        if where:
            q = q.where(where)
        try:
            return q.limit(max(1, self.table.count_rows())).to_arrow()
        except (ValueError, RuntimeError, OSError) as exc:
            msg = " ".join(str(exc).split())[:300]
            raise UsageError(f"search failed{' (check --where)' if where else ''}: {msg}") from exc

    def _brute_force(self, query: npt.NDArray[np.float32], n: int, where: str | None) -> list[Hit]:
        if self._vectors is None:
            data = self._scan(["embedding"], None)
            self._row_ids = _numpy(data.column("_rowid"), np.uint64)
            self._vectors = _matrix(data.column("embedding"))
        scores = self._vectors @ query if len(self._row_ids) else np.zeros(0, np.float32)
        if where:
            if where not in self._masks:
                kept = _numpy(self._scan(["id"], where).column("_rowid"), np.uint64)
                self._masks[where] = np.isin(self._row_ids, kept)
            scores = np.where(self._masks[where], scores, -np.inf)
        n = min(n, len(scores))
        if n <= 0:
            return []
        top = np.argpartition(-scores, n - 1)[:n] if n < len(scores) else np.arange(len(scores))
        top = top[np.lexsort((top, -scores[top]))]
        order = [int(i) for i in top if np.isfinite(scores[i])]
        wanted = [int(self._row_ids[i]) for i in order]
        fetched = self.table.take_row_ids(wanted).select(list(OUTPUT_FIELDS)).with_row_id()
        rows = {r["_rowid"]: r for r in fetched.to_arrow().to_pylist()}
        hits = []
        for i, rid in zip(order, wanted, strict=True):
            r = rows[rid]
            hits.append(Hit((r["source"], r["id"]), float(scores[i]), _clean(r)))
        return hits

    def text(self, query: str, n: int, where: str | None) -> list[Hit]:
        if not _WORD.search(query):
            return []
        q = self.table.search(query, query_type="fts", fts_columns="text")
        return self._run(q, n, where, "_score", float)


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in OUTPUT_FIELDS if k in row}


# -- the command -----------------------------------------------------------------------------------


def fuse(rankings: dict[str, list[Hit]], k: int) -> list[Hit]:
    """Reciprocal rank fusion of several rankings of the same index's chunks."""
    fused: dict[Any, Hit] = {}
    for name, hits in rankings.items():
        for rank, hit in enumerate(hits, 1):
            entry = fused.setdefault(hit.key, Hit(hit.key, 0.0, hit.row))
            entry.score += 1.0 / (RRF_K + rank)
            entry.ranks[name] = rank
    return sorted(fused.values(), key=lambda h: -h.score)[:k]


def search(
    index: Index,
    embed: Callable[[list[str]], npt.NDArray[np.float32]],
    query: str,
    k: int,
    *,
    hybrid: bool = False,
    where: str | None = None,
) -> list[Hit]:
    vec = embed([query])[0]
    if not hybrid:
        return index.vector(vec, k, where)
    depth = max(FUSION_DEPTH, 4 * k)
    vector, text = index.vector(vec, depth, where), index.text(query, depth, where)
    return fuse({"vector": vector, "text": text}, k)


def output_record(query: str, rank: int, hit: Hit) -> dict[str, Any]:
    rec: dict[str, Any] = {"query": query, "rank": rank, "score": round(hit.score, 6)}
    if hit.ranks:
        rec["ranks"] = hit.ranks
    for key in OUTPUT_FIELDS:
        value = hit.row.get(key)
        if key == "metadata" and isinstance(value, str):
            value = json.loads(value) if value else {}
        rec[key] = value
    return rec


def query_encoder(index: Index) -> Callable[[list[str]], npt.NDArray[np.float32]]:
    """The recorded model, through ONNX; refuses an index whose vectors it cannot reproduce."""
    if not index.embedding_model:
        raise UsageError("the index has no embeddings: ingest with --embed")
    from chunkwise.embedders.onnx import OnnxQueryEncoder

    encoder = OnnxQueryEncoder(index.embedding_model)
    if index.dim and encoder.dim != index.dim:
        raise UsageError(
            f"the index holds {index.dim}-d vectors but {index.embedding_model} makes "
            f"{encoder.dim}-d ones; was the model folder changed since ingest?"
        )
    return encoder.encode


def run(
    index_path: str,
    query: str,
    out: IO[str],
    *,
    k: int = 5,
    hybrid: bool = False,
    where: str | None = None,
    stdin: Iterable[str] | None = None,
) -> int:
    """Print the hits of ``query`` (or of each line of ``stdin`` when it is ``-``) as JSONL;
    return the number of queries answered."""
    if k < 1:
        raise UsageError("-k must be at least 1")
    index = open_index(index_path)
    embed = query_encoder(index)
    queries: Iterator[str] = iter([query]) if query != "-" else _lines(stdin or [])
    answered = 0
    for q in queries:
        for rank, hit in enumerate(search(index, embed, q, k, hybrid=hybrid, where=where), 1):
            out.write(json.dumps(output_record(q, rank, hit), ensure_ascii=False) + "\n")
        out.flush()
        answered += 1
    return answered


def _lines(stream: Iterable[str]) -> Iterator[str]:
    for line in stream:
        text = line.strip()
        if text:
            yield text
