"""chunk search: ONNX query vectors equal sentence-transformers'; Parquet (brute force) and LanceDB
give the same ranking; --hybrid fuses ranks; --where filters; '-' reads queries from stdin; an
index of another model or size is refused."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from chunkwise.writers.parquet import ParquetWriter

from chunkwise.errors import UsageError
from chunkwise.search import Hit, fuse, open_index, run
from chunkwise.where import parse_where
from tests.conftest import ROOT, run_cli

MODEL = "sentence-transformers/all-MiniLM-L6-v2"

TEXTS = {
    "contracts/msa.txt": [
        "Either party may terminate this agreement with ninety days written notice.",
        "The supplier shall invoice the customer monthly; payment is due within thirty days.",
    ],
    "contracts/nda.txt": [
        "Confidential information must not be disclosed to third parties for five years.",
    ],
    "recipes/bread.md": [
        "Knead the dough for ten minutes, then let it rise until doubled in size.",
        "Bake the loaf at 220 degrees until the crust is deep brown.",
    ],
    "notes/astronomy.txt": [
        "Jupiter is the largest planet in the solar system and has dozens of moons.",
    ],
}


@pytest.fixture(scope="session")
def encoder(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A fresh export into a private cache (the export itself is under test), shared by the
    session and by the CLI subprocesses through the environment."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    pytest.importorskip("sentence_transformers")
    cache = tmp_path_factory.mktemp("chunkwise-cache")
    os.environ["CHUNKWISE_CACHE_DIR"] = str(cache)
    from chunkwise.embedders.onnx import OnnxQueryEncoder

    return OnnxQueryEncoder()


def records(vectors: Any, model: str = MODEL) -> list[dict[str, Any]]:
    out = []
    i = 0
    for source, texts in TEXTS.items():
        pos = 0
        for n, text in enumerate(texts):
            out.append(
                {
                    "id": f"{source}:{n}",
                    "doc_id": source,
                    "source": source,
                    "index": n,
                    "text": text,
                    "start": pos,
                    "end": pos + len(text),
                    "n_tokens": len(text.split()),
                    "tokenizer": "all-MiniLM-L6-v2",
                    "chunker": "token",
                    "parser": "text",
                    "pages": [1] if source.endswith(".md") else None,
                    "bboxes": None,
                    "headings": ["Recipes"] if source.endswith(".md") else [],
                    "kind": "text",
                    "continues": None,
                    "metadata": {"n": n},
                    "embedding": [float(x) for x in vectors[i]],
                    "embedding_model": model,
                }
            )
            pos += len(text) + 1
            i += 1
    return out


def all_texts() -> list[str]:
    return [t for texts in TEXTS.values() for t in texts]


@pytest.fixture(scope="session")
def indexes(encoder: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("indexes")
    recs = records(encoder.encode(all_texts()))
    pq_path = folder / "kb.parquet"
    w = ParquetWriter(str(pq_path))
    w.write(recs)
    w.close()
    lance_path = folder / "kb.lance"
    pytest.importorskip("lancedb")
    from chunkwise.writers.lance import LanceWriter

    lw = LanceWriter(str(lance_path))
    lw.begin({"embedding_model": MODEL, "embedding_dim": str(encoder.dim)}, incremental=False)
    lw.write(recs)
    lw.close()
    return pq_path, lance_path


@pytest.mark.embed
def test_onnx_vectors_equal_sentence_transformers(encoder: Any) -> None:
    from chunkwise.models import load_sentence_model

    texts = [
        "what is the notice period?",
        "Ünïcödé façade — naïve café 東京",
        "a",
        " ".join(["long"] * 400),  # beyond max_seq_length: truncated the same way
        *all_texts(),
    ]
    want = load_sentence_model(None, "cpu").encode(texts, normalize_embeddings=True)
    got = encoder.encode(texts)
    assert got.shape == want.shape == (len(texts), 384)
    assert float(np.abs(got - want).max()) < 1e-5
    # One at a time (no padding) equals the batch.
    single = np.vstack([encoder.encode([t]) for t in texts[:3]])
    assert float(np.abs(single - got[:3]).max()) < 1e-5


def search_ids(path: Path, query: str, **kw: Any) -> list[tuple[str, float]]:
    out = io.StringIO()
    run(str(path), query, out, **kw)
    return [(r["id"], r["score"]) for r in map(json.loads, out.getvalue().splitlines())]


@pytest.mark.embed
def test_parquet_and_lance_rank_alike(indexes: tuple[Path, Path]) -> None:
    pq_path, lance_path = indexes
    for query, best in (
        ("how do I end the contract?", "contracts/msa.txt:0"),
        ("how long should bread rise", "recipes/bread.md:0"),
        ("biggest planet", "notes/astronomy.txt:0"),
    ):
        a = search_ids(pq_path, query, k=4)
        b = search_ids(lance_path, query, k=4)
        assert a[0][0] == best
        assert [i for i, _ in a] == [i for i, _ in b]
        assert np.allclose([s for _, s in a], [s for _, s in b], atol=1e-5)


@pytest.mark.embed
def test_where_filters_both_kinds(indexes: tuple[Path, Path]) -> None:
    for path in indexes:
        hits = search_ids(path, "bread", k=10, where="source LIKE 'contracts/%'")
        assert hits and all(i.startswith("contracts/") for i, _ in hits)
        hits = search_ids(path, "bread", k=10, where="source = 'notes/astronomy.txt' OR index > 0")
        assert {i for i, _ in hits} == {
            "notes/astronomy.txt:0",
            "contracts/msa.txt:1",
            "recipes/bread.md:1",
        }


@pytest.mark.embed
def test_hybrid_fuses_vector_and_text_ranks(indexes: tuple[Path, Path]) -> None:
    for path in indexes:
        out = io.StringIO()
        run(str(path), "Jupiter moons", out, k=3, hybrid=True)
        recs = [json.loads(line) for line in out.getvalue().splitlines()]
        assert recs[0]["id"] == "notes/astronomy.txt:0"
        assert recs[0]["ranks"] == {"vector": 1, "text": 1}
        assert recs[0]["score"] == pytest.approx(2 / 61, abs=1e-6)
        assert recs[0]["metadata"] == {"n": 0} and recs[0]["start"] == 0


def test_fuse_is_reciprocal_rank_fusion() -> None:
    def hits(keys: str) -> list[Hit]:
        return [Hit(k, 0.0, {"id": k}) for k in keys]

    fused = fuse({"vector": hits("abc"), "text": hits("cbd")}, 4)
    scores = {h.key: h.score for h in fused}
    assert scores["b"] == pytest.approx(2 / 62)
    assert scores["c"] == pytest.approx(1 / 63 + 1 / 61)
    assert scores["d"] == pytest.approx(1 / 63)
    assert [h.key for h in fused] == ["c", "b", "a", "d"]  # 1/63 + 1/61 > 2/62
    assert fused[0].ranks == {"vector": 3, "text": 1}


@pytest.mark.embed
def test_stdin_queries_through_the_cli(indexes: tuple[Path, Path]) -> None:
    pq_path, _ = indexes
    res = run_cli("search", str(pq_path), "-", "-k", "1", input=b"biggest planet\n\nknead dough\n")
    assert res.returncode == 0, res.stderr
    recs = res.records()
    assert [(r["query"], r["id"]) for r in recs] == [
        ("biggest planet", "notes/astronomy.txt:0"),
        ("knead dough", "recipes/bread.md:0"),
    ]
    assert set(recs[0]) >= {"score", "source", "pages", "bboxes", "headings", "start", "end"}
    assert "embedding" not in recs[0]


@pytest.mark.embed
def test_index_of_another_model_or_size_is_refused(encoder: Any, tmp_path: Path) -> None:
    vecs = encoder.encode(all_texts())
    other = tmp_path / "other.parquet"
    w = ParquetWriter(str(other))
    w.write(records(vecs, model="acme/not-installed-model"))
    w.close()
    with pytest.raises(UsageError, match="not installed locally"):
        run(str(other), "q", io.StringIO())
    small = tmp_path / "small.parquet"
    w = ParquetWriter(str(small))
    w.write(records(vecs[:, :8]))
    w.close()
    with pytest.raises(UsageError, match="holds 8-d vectors"):
        run(str(small), "q", io.StringIO())
    res = run_cli("search", str(small), "q")
    assert res.returncode == 2 and "8-d" in res.stderr and "Traceback" not in res.stderr


def test_parquet_without_embeddings_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "plain.parquet"
    res = run_cli(
        "ingest", str(ROOT / "sample_docs" / "text"), "-j0", "-f", "parquet", "-o", str(path)
    )
    assert res.returncode == 0, res.stderr
    with pytest.raises(UsageError, match="no embeddings"):
        open_index(str(path))


def test_where_expressions() -> None:
    table = pa.table(
        {
            "source": ["a/x", "a/y", "b/z", None],
            "index": [0, 1, 2, 3],
            "kind": ["text", "table", "text", "code"],
        }
    )

    def rows(expr: str) -> list[int]:
        return table.filter(parse_where(expr, set(table.column_names))).column("index").to_pylist()

    assert rows("source LIKE 'a/%'") == [0, 1]
    assert rows("source NOT LIKE 'a/%'") == [2]
    assert rows("index >= 1 AND (kind = 'text' OR kind IN ('code'))") == [2, 3]
    assert rows("NOT index BETWEEN 1 AND 2") == [0, 3]
    assert rows("source IS NULL") == [3]
    assert rows("\"kind\" <> 'text'") == [1, 3]
    assert rows("kind NOT IN ('text', 'table')") == [3]
    for bad, message in (
        ("sauce = 'a'", "no column 'sauce'"),
        ("index >", "expected a value"),
        ("index = 1 1", "unexpected"),
        ("kind = 'text", "cannot read"),
    ):
        with pytest.raises(UsageError, match=message):
            parse_where(bad, set(table.column_names))


@pytest.mark.embed
def test_large_table_gets_a_vector_index_and_exact_scores(
    encoder: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lancedb = pytest.importorskip("lancedb")
    from chunkwise.writers import lance

    monkeypatch.setattr(lance, "VECTOR_INDEX_MIN_ROWS", 1000)
    rng = np.random.default_rng(0)
    vecs = rng.standard_normal((1500, 384)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    base = records(encoder.encode(all_texts()))[0]
    recs = [
        {**base, "id": f"d:{i}", "index": i, "embedding": [float(x) for x in vecs[i]]}
        for i in range(1500)
    ]
    w = lance.LanceWriter(str(tmp_path / "kb.lance"))
    w.begin({"embedding_model": MODEL, "embedding_dim": "384"}, incremental=False)
    w.write(recs)
    w.close()
    table = lancedb.connect(str(tmp_path / "kb.lance")).open_table("chunks")
    assert {ix.columns[0] for ix in table.list_indices()} == {"embedding", "text"}
    q = encoder.encode(["query"])[0]
    out = io.StringIO()
    run(str(tmp_path / "kb.lance"), "query", out, k=5)
    hits = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(hits) == 5
    for h in hits:  # re-ranked with exact distances
        assert h["score"] == pytest.approx(float(vecs[h["index"]] @ q), abs=1e-4)
