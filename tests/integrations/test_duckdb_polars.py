"""The Parquet output read by DuckDB and Polars as docs/integrations.md shows: filter by source,
tokens per document, and the error records joined to the chunks."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli


@pytest.fixture(scope="module")
def output(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[dict]]:
    folder = tmp_path_factory.mktemp("out")
    chunks, errors = folder / "chunks.parquet", folder / "errors.jsonl"
    inputs = [str(ROOT / "sample_docs" / d) for d in ("markdown", "text", "broken")]
    res = run_cli(
        "ingest", *inputs, "-j0", "-f", "parquet", "-o", str(chunks), "--errors", str(errors)
    )
    assert res.returncode == 1, res.stderr  # some documents failed: their records are in errors
    records = run_cli("ingest", *inputs, "-j0").records()
    return chunks, errors, records


def expected(records: list[dict]) -> dict[str, int]:
    tokens: Counter[str] = Counter()
    for r in records:
        if r["source"].endswith(".md"):
            tokens[r["source"]] += r["n_tokens"]
    return dict(tokens)


def test_duckdb(output: tuple[Path, Path, list[dict]]) -> None:
    duckdb = pytest.importorskip("duckdb")
    chunks, errors, records = output
    con = duckdb.connect()
    rows = con.execute(
        "SELECT source, sum(n_tokens) FROM read_parquet(?) WHERE source LIKE '%.md' "
        "GROUP BY source ORDER BY source",
        [str(chunks)],
    ).fetchall()
    assert dict(rows) == expected(records)
    status = con.execute(
        """
        SELECT s.source, c.n AS chunks, e.error
        FROM (SELECT source FROM read_parquet($1) UNION SELECT source FROM read_json_auto($2)) s
        LEFT JOIN (SELECT source, count(*) AS n FROM read_parquet($1) GROUP BY source) c
            USING (source)
        LEFT JOIN read_json_auto($2) e USING (source)
        ORDER BY s.source
        """,
        [str(chunks), str(errors)],
    ).fetchall()
    failed = {json.loads(line)["source"] for line in errors.read_text().splitlines()}
    assert failed and {s for s, n, e in status if e is not None} == failed
    assert all((n is None) == (e is not None) for _, n, e in status)


def test_polars(output: tuple[Path, Path, list[dict]]) -> None:
    pl = pytest.importorskip("polars")
    chunks, errors, records = output
    df = pl.read_parquet(chunks)
    per_doc = (
        df.filter(pl.col("source").str.ends_with(".md"))
        .group_by("source")
        .agg(pl.col("n_tokens").sum())
    )
    assert dict(per_doc.iter_rows()) == expected(records)
    errs = pl.read_ndjson(errors)
    counts = df.group_by("source").len()
    joined = errs.join(counts, on="source", how="left")
    assert joined.height == errs.height and joined["len"].null_count() == errs.height
    assert df.height == len(records)
