"""chunk search latency: 100k synthetic chunks (random unit vectors, 384-d, ~60-word texts) in a
Parquet file and a LanceDB table, queried after the model is loaded and as a cold command.

    .venv/bin/python benchmarks/search.py [--rows 100000] [--queries 20] [--skip-embed-peer]

Prints per-query latency (query embedding through ONNX + search, median and p90) for vector,
hybrid and --where searches on both indexes, the cold ``chunk search`` command time, and as the
peer the cold ``echo q | chunk embed`` (sentence-transformers) measured in the same run. With
``--vector-index`` also the IVF_PQ index's build time, latency and recall@10 against the flat scan.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
MODEL = "sentence-transformers/all-MiniLM-L6-v2"
QUERIES = [
    "what is the notice period for terminating the agreement",
    "how is the payment schedule defined",
    "which party owns the intellectual property",
    "data retention obligations of providers",
    "limitation of liability cap",
]


def records(n: int, dim: int, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(5000)] + ["notice", "payment", "liability", "retention"]
    vecs = rng.standard_normal((n, dim)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    out = []
    for i in range(n):
        text = " ".join(words[j] for j in rng.integers(0, len(words), 60))
        src = f"{'contracts' if i % 4 == 0 else 'docs'}/{i // 20}.txt"
        out.append(
            {
                "id": f"{i // 20:016x}:{i % 20}",
                "doc_id": f"{i // 20:016x}",
                "source": src,
                "index": i % 20,
                "text": text,
                "start": 0,
                "end": len(text),
                "n_tokens": 60,
                "tokenizer": "all-MiniLM-L6-v2",
                "chunker": "token",
                "parser": "text",
                "pages": None,
                "bboxes": None,
                "headings": [],
                "kind": "text",
                "continues": None,
                "synthetic": False,
                "metadata": {},
                "embedding": vecs[i].tolist(),
                "embedding_model": MODEL,
            }
        )
    return out


def build(folder: Path, n: int) -> tuple[Path, Path, float, float]:
    from chunkwise.writers.lance import LanceWriter
    from chunkwise.writers.parquet import ParquetWriter

    recs = records(n, 384)
    pq_path, lance_path = folder / "kb.parquet", folder / "kb.lance"
    t = time.perf_counter()
    w = ParquetWriter(str(pq_path))
    w.write(recs)
    w.close()
    t_pq = time.perf_counter() - t
    t = time.perf_counter()
    lw = LanceWriter(str(lance_path))
    lw.begin({"embedding_model": MODEL, "embedding_dim": "384"}, incremental=False)
    lw.write(recs)
    lw.close()
    return pq_path, lance_path, t_pq, time.perf_counter() - t


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def latency(path: Path, n_queries: int, **kw: object) -> tuple[float, float, float, float]:
    """(load s, median ms, p90 ms, CPU ms per query) of search(), index and model loaded once
    (the first query, which reads what --where or the full-text side need, is not timed)."""
    from chunkwise.search import open_index, query_encoder, search

    t = time.perf_counter()
    index = open_index(str(path))
    embed = query_encoder(index)
    search(index, embed, "warm up", 10, **kw)  # type: ignore[arg-type]
    load = time.perf_counter() - t
    times = []
    c = cpu()
    for i in range(n_queries):
        q = QUERIES[i % len(QUERIES)] + f" {i}"
        t = time.perf_counter()
        search(index, embed, q, 10, **kw)  # type: ignore[arg-type]
        times.append((time.perf_counter() - t) * 1000)
    per_query_cpu = (cpu() - c) / n_queries * 1000
    times.sort()
    return load, statistics.median(times), times[int(0.9 * (len(times) - 1))], per_query_cpu


def cold(args: list[str], stdin: bytes | None = None, runs: int = 3) -> str:
    """Median wall time and CPU time (user + sys) of a fresh process; on a loaded machine the
    CPU time is what the command costs, the wall time what it waited."""
    wall, cpu = [], []
    for _ in range(runs):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        subprocess.run(args, input=stdin, capture_output=True, check=True, cwd=ROOT)
        wall.append(time.perf_counter() - t)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)
    return f"{statistics.median(wall):.2f} s wall, {statistics.median(cpu):.2f} s CPU"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=20)
    ap.add_argument("--skip-embed-peer", action="store_true")
    ap.add_argument("--vector-index", action="store_true")
    a = ap.parse_args()
    from chunkwise.embedders.onnx import OnnxQueryEncoder
    from chunkwise.writers.parquet import ParquetWriter

    OnnxQueryEncoder()  # export once if the cache is empty, outside the timings
    with tempfile.TemporaryDirectory() as tmp:
        pq_path, lance_path, t_pq, t_lance = build(Path(tmp), a.rows)
        print(
            f"{a.rows} chunks: Parquet written in {t_pq:.1f} s, LanceDB (+FTS) in {t_lance:.1f} s"
        )
        print(
            f"{'index':<8} {'mode':<8} {'load s':>7} {'median ms':>10} {'p90 ms':>7} {'CPU ms':>7}"
        )
        for name, path in (("parquet", pq_path), ("lance", lance_path)):
            for mode, kw in (
                ("vector", {}),
                ("hybrid", {"hybrid": True}),
                ("where", {"where": "source LIKE 'contracts/%'"}),
            ):
                load, med, p90, c = latency(path, a.queries, **kw)
                print(f"{name:<8} {mode:<8} {load:>7.2f} {med:>10.1f} {p90:>7.1f} {c:>7.1f}")
        enc = OnnxQueryEncoder()
        t, c = time.perf_counter(), cpu()
        for q in QUERIES * 4:
            enc.encode([q])
        wall, used = (time.perf_counter() - t) / 20 * 1000, (cpu() - c) / 20 * 1000
        print(f"query embedding alone (ONNX): {wall:.1f} ms wall, {used:.1f} ms CPU")
        print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        chunk = [sys.executable, "-m", "chunkwise.cli.app"]
        small = Path(tmp) / "small.parquet"
        w = ParquetWriter(str(small))
        w.write(records(200, 384))
        w.close()
        s = cold([*chunk, "search", str(small), "q"])
        print(f"cold `chunk search` on 200 chunks (Parquet): {s}")
        for name, path in (("parquet", pq_path), ("lance", lance_path)):
            s = cold([*chunk, "search", str(path), QUERIES[0], "-k", "5"])
            print(f"cold `chunk search {name} q`: {s}")
        s = cold([*chunk, "search", str(pq_path), "-"], stdin=("\n".join(QUERIES) + "\n").encode())
        print(f"cold `chunk search parquet -` with {len(QUERIES)} queries: {s}")
        if not a.skip_embed_peer:
            s = cold([*chunk, "embed"], stdin=b"q\n", runs=1)
            print(f"peer: cold `echo q | chunk embed` (sentence-transformers): {s}")
        if a.vector_index:
            vector_index(lance_path, a.queries)


def vector_index(lance_path: Path, n_queries: int) -> None:
    import lancedb
    from chunkwise.embedders.onnx import OnnxQueryEncoder

    table = lancedb.connect(str(lance_path)).open_table("chunks")
    enc = OnnxQueryEncoder()
    qs = enc.encode([f"{QUERIES[i % 5]} {i}" for i in range(n_queries)])

    def top(refine: bool) -> tuple[list[list[str]], float]:
        out, t = [], time.perf_counter()
        for q in qs:
            s = table.search(q, vector_column_name="embedding").metric("cosine").limit(10)
            if refine:
                s = s.nprobes(32).refine_factor(10)
            out.append(s.select(["id", "_distance"]).to_arrow().column("id").to_pylist())
        return out, (time.perf_counter() - t) / len(qs) * 1000

    flat, t_flat = top(False)
    t = time.perf_counter()
    from lancedb.index import IvfPq

    table.create_index("embedding", config=IvfPq(distance_type="cosine"))
    build = time.perf_counter() - t
    approx, t_ivf = top(True)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(flat, approx, strict=True)])
    print(
        f"IVF_PQ: built in {build:.1f} s; {t_ivf:.1f} ms/query vs flat {t_flat:.1f} ms; "
        f"recall@10 {recall:.2f} (random vectors are the worst case for IVF)"
    )


if __name__ == "__main__":
    main()
