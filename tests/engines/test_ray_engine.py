"""``--engine ray``: the same records as the local engine, on one local Ray instance.

One Ray instance serves the whole module (starting Ray costs ~10 s on two cores); CLI runs in
subprocesses attach to it with ``--ray-address``. Every test is bounded by an alarm so a stuck
cluster fails the test instead of hanging CI.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chunkwise.writers.jsonl import JsonlWriter

from chunkwise.errors import ErrorRecord
from chunkwise.parsing import BaseParser
from chunkwise.pipeline import IngestOptions, Summary, ingest
from chunkwise.types import Document

ray = pytest.importorskip("ray")

from chunkwise.ray_engine import RayConfig, RayEngine, ShardWriter  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
TEST_TIMEOUT = 150  # seconds per test: ~45 s for the module here, ~3 min with both cores hogged


@pytest.fixture(scope="module")
def ray_address() -> Iterator[str]:
    ctx = ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        logging_level="ERROR",
        ignore_reinit_error=True,
    )
    try:
        yield ctx.address_info["gcs_address"]
    finally:
        ray.shutdown()


@pytest.fixture(autouse=True)
def _bounded() -> Iterator[None]:
    def expired(signum: int, frame: Any) -> None:
        raise TimeoutError(f"ray test took over {TEST_TIMEOUT} s")

    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(TEST_TIMEOUT)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory, sample_docs: Path) -> Path:
    """A few hundred small documents of several formats, plus broken ones among them."""
    root = tmp_path_factory.mktemp("generated")
    words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu".split()
    for i in range(300):
        sub = root / f"group{i % 7}"
        sub.mkdir(exist_ok=True)
        body = " ".join(words[(i * 7 + k) % len(words)] for k in range(40 + i % 90))
        if i % 3 == 0:
            text = f"# Document {i}\n\n{body}.\n\n## Part two\n\n{body[::-1]}.\n"
            (sub / f"doc{i:03d}.md").write_text(text, encoding="utf-8")
        elif i % 3 == 1:
            (sub / f"doc{i:03d}.txt").write_text(f"{body}.\n\n{body.upper()}.\n", "utf-8")
        else:
            html = f"<html><body><h1>Doc {i}</h1><p>{body}.</p><p>{body.title()}.</p></body></html>"
            (sub / f"doc{i:03d}.html").write_text(html, encoding="utf-8")
    (root / "group3" / "broken.txt").write_bytes(b"\x00\x01binary\x00junk" * 10)
    shutil.copy(sample_docs / "broken" / "truncated.pdf", root / "group5" / "truncated.pdf")
    return root


def run(
    paths: list[str], engine: RayEngine | None = None, **kwargs: Any
) -> tuple[bytes, list[ErrorRecord], Summary]:
    buf = io.BytesIO()
    errors: list[ErrorRecord] = []
    summary = ingest(
        paths,
        kwargs.pop("options", IngestOptions()),
        kwargs.pop("writer", None) or JsonlWriter(stream=buf),
        on_error=errors.append,
        engine=engine,
        **kwargs,
    )
    return buf.getvalue(), errors, summary


def engine(**kwargs: Any) -> RayEngine:
    return RayEngine(RayConfig(progress=False, quiet=True), **kwargs)


def test_sample_docs_same_output_as_local(ray_address: str, sample_docs: Path) -> None:
    local = run([str(sample_docs)])
    distributed = run([str(sample_docs)], engine())
    assert distributed[0] == local[0]  # byte-identical JSONL, input order kept
    assert distributed[1] == local[1]
    assert distributed[2] == local[2]
    assert local[2].failed > 0 and local[2].chunks > 0


def test_generated_folder_with_broken_files(ray_address: str, generated: Path) -> None:
    local_out, local_err, local_sum = run([str(generated)])
    out, errs, summary = run([str(generated)], engine())
    assert out == local_out
    assert summary == local_sum
    assert summary.documents == 302 and summary.failed == 2 and summary.exit_code == 1
    assert sorted(e.source for e in errs) == sorted(e.source for e in local_err)
    assert {Path(e.source).name for e in errs} == {"broken.txt", "truncated.pdf"}
    # The bad files lose nothing of the others: every good document has its chunks.
    sources = {json.loads(line)["source"] for line in out.splitlines()}
    assert len(sources) == 300


def test_state_skips_unchanged_files_and_redoes_changed(
    ray_address: str, generated: Path, tmp_path: Path
) -> None:
    from chunkwise.state import State

    folder = tmp_path / "docs"
    shutil.copytree(generated / "group1", folder)
    n = len(list(folder.iterdir()))
    with State(tmp_path / "state.db") as st:
        _out1, _, s1 = run([str(folder)], engine(), state=st)
        st.commit()
    assert s1.documents == n and s1.skipped == 0
    target = sorted(folder.glob("*.txt"))[0]
    target.write_text("A changed document.\n", encoding="utf-8")
    with State(tmp_path / "state.db") as st:
        out2, _, s2 = run([str(folder)], engine(), state=st)
        st.commit()
    assert (s2.documents, s2.skipped) == (1, n - 1)
    assert {json.loads(line)["source"] for line in out2.splitlines()} == {str(target)}
    with State(tmp_path / "state.db") as st:
        _, _, s3 = run([str(folder)], engine(), state=st)
    assert (s3.documents, s3.skipped, s3.exit_code) == (0, n, 0)


def test_sharded_parquet_has_local_schema_and_rows(
    ray_address: str, generated: Path, tmp_path: Path
) -> None:
    import pyarrow.parquet as pq
    from chunkwise.writers.parquet import ParquetWriter

    local_file = tmp_path / "local.parquet"
    lw = ParquetWriter(str(local_file))
    run([str(generated)], writer=lw)
    lw.close()

    out_dir = tmp_path / "parts"
    shards = ShardWriter(f"{out_dir}/", "parquet")
    _, errs, summary = run([str(generated)], engine(shards=shards), writer=shards)
    shards.close()
    parts = sorted(out_dir.glob("part-*.parquet"))
    assert len(parts) > 1 and summary.failed == 2 and len(errs) == 2
    local = pq.read_table(local_file)
    tables = [pq.read_table(p) for p in parts]
    for t in tables:
        assert t.schema.equals(local.schema, check_metadata=True)
    rows = sorted((r for t in tables for r in t.to_pylist()), key=lambda r: r["id"])
    assert rows == sorted(local.to_pylist(), key=lambda r: r["id"])
    assert summary.chunks == len(rows)

    # A second run without --state replaces the folder's parts instead of adding to them.
    again = ShardWriter(str(out_dir), "parquet")
    run([str(generated / "group0")], engine(shards=again), writer=again)
    again.close()
    remaining = sorted(out_dir.glob("part-*.parquet"))
    assert remaining and all(again.run_id in p.name for p in remaining)


def test_shard_writer_abort_removes_only_its_run(tmp_path: Path) -> None:
    old = ShardWriter(str(tmp_path), "jsonl", keep_previous=True)
    (tmp_path / f"part-{old.run_id}-000000000.jsonl").write_text("{}\n")
    new = ShardWriter(str(tmp_path), "jsonl", keep_previous=True)
    (tmp_path / f"part-{new.run_id}-000000000.jsonl").write_text("{}\n")
    new.abort()
    assert [p.name for p in tmp_path.iterdir()] == [f"part-{old.run_id}-000000000.jsonl"]


def _env() -> dict[str, str]:
    import os

    env = dict(os.environ)
    env.setdefault("HF_HUB_OFFLINE", "1")
    return env


def test_cli_attaches_to_cluster_and_matches_local(
    ray_address: str, generated: Path, tmp_path: Path
) -> None:
    folder = generated / "group3"  # holds broken.txt
    cmd = [sys.executable, "-m", "chunkwise.cli.app", "ingest", str(folder)]
    local = subprocess.run(cmd, capture_output=True, timeout=60, env=_env())
    errors = tmp_path / "errors.jsonl"
    dist = subprocess.run(
        [*cmd, "--engine", "ray", "--ray-address", ray_address, "--errors", str(errors)],
        capture_output=True,
        timeout=90,
        env=_env(),
    )
    assert dist.returncode == local.returncode == 1, dist.stderr.decode()[-2000:]
    assert dist.stdout == local.stdout  # stdout holds records only: no Ray banner or progress
    recs = [json.loads(line) for line in errors.read_text().splitlines()]
    assert [Path(r["source"]).name for r in recs] == ["broken.txt"]
    assert '"stage": "parse"' in dist.stderr.decode()


def test_cli_parts_folder_with_state_and_deletes(
    ray_address: str, generated: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    shutil.copytree(generated / "group4", folder)
    out = tmp_path / "out"
    cmd = [
        sys.executable, "-m", "chunkwise.cli.app", "ingest", str(folder), "--engine", "ray",
        "--ray-address", ray_address, "-o", f"{out}/", "--state", str(tmp_path / "st.db"),
        "--emit-deletes", "-q",
    ]  # fmt: skip
    first = subprocess.run(cmd, capture_output=True, timeout=90, env=_env())
    assert first.returncode == 0 and first.stdout == b"", first.stderr.decode()[-2000:]
    parts = sorted(out.glob("part-*.jsonl"))
    records = [json.loads(line) for p in parts for line in p.read_text().splitlines()]
    assert {r["source"] for r in records} == {str(p) for p in folder.iterdir()}
    gone = sorted(folder.iterdir())[0]
    gone.unlink()
    second = subprocess.run(cmd, capture_output=True, timeout=90, env=_env())
    assert second.returncode == 0, second.stderr.decode()[-2000:]
    assert sorted(out.glob("part-*.jsonl")) == parts  # nothing changed: no new part
    deletes = [json.loads(line) for line in (out / ".deletes.jsonl").read_text().splitlines()]
    assert [(d["source"], d["reason"]) for d in deletes] == [(str(gone), "removed")]


@pytest.mark.embed
@pytest.mark.slow  # loads the model twice (driver and actor): ~30 s on two cores
def test_embeddings_match_local_within_tolerance(ray_address: str, generated: Path) -> None:
    pytest.importorskip("sentence_transformers")
    import numpy as np
    from chunkwise.embedders import EmbedConfig, build_embedder

    from chunkwise.chunking import ChunkerConfig

    folder = generated / "group2"
    files = [*sorted(str(p) for p in folder.iterdir())[:12], str(generated / "group3/broken.txt")]
    cfg = EmbedConfig(device="cpu", batch_size=8)
    options = IngestOptions(
        chunker_config=ChunkerConfig(max_tokens=64, tokenizer="all-MiniLM-L6-v2")
    )
    embedder = build_embedder("late", cfg)
    local_out, local_err, local_sum = run(files, options=options, embedder=embedder)
    ray_engine = engine(embed=("late", cfg))
    out, errs, summary = run(files, ray_engine, options=options, embedder=embedder)
    assert summary == local_sum and errs == local_err
    assert ray_engine.stats["actors"] == 1 and ray_engine.stats["gpus"] == 0
    a = [json.loads(line) for line in local_out.splitlines()]
    b = [json.loads(line) for line in out.splitlines()]
    assert [(r["id"], r["text"], r["start"], r["end"]) for r in b] == [
        (r["id"], r["text"], r["start"], r["end"]) for r in a
    ]
    assert all(r["embedding_model"] == s["embedding_model"] for r, s in zip(a, b, strict=True))
    va = np.array([r["embedding"] for r in a], dtype=np.float32)
    vb = np.array([r["embedding"] for r in b], dtype=np.float32)
    assert va.shape == vb.shape and va.shape[1] == 384
    np.testing.assert_allclose(vb, va, atol=1e-5)


class _FakeRay:
    def __init__(self, gpus: float) -> None:
        self.gpus = gpus

    def cluster_resources(self) -> dict[str, float]:
        return {"CPU": 64.0, "GPU": self.gpus} if self.gpus else {"CPU": 64.0}


@pytest.mark.parametrize(
    ("gpus", "actors", "per", "expected"),
    [
        (0, None, 1.0, (1, 0.0)),  # no GPU: one CPU actor
        (0, 3, 1.0, (3, 0.0)),
        (4, None, 1.0, (4, 1.0)),  # one actor per GPU
        (4, None, 0.5, (8, 0.5)),  # two small models share a GPU
        (8, 2, 2.0, (2, 2.0)),
    ],
)
def test_actor_sizing(
    gpus: float, actors: int | None, per: float, expected: tuple[int, float]
) -> None:
    eng = RayEngine(RayConfig(embed_actors=actors, gpus_per_actor=per))
    assert eng.actors(_FakeRay(gpus)) == expected


def test_actor_sizing_refuses_more_gpus_than_the_cluster_has() -> None:
    from chunkwise.errors import UsageError

    with pytest.raises(UsageError, match="needs 6 GPUs; the cluster has 4"):
        RayEngine(RayConfig(embed_actors=3, gpus_per_actor=2)).actors(_FakeRay(4))
    with pytest.raises(UsageError, match="--embed-actors"):
        RayConfig(embed_actors=0)


class HostileParser(BaseParser):
    """Hangs or crashes the process on cue, like a broken C library would."""

    name = "hostile"

    def parse_bytes(self, data: bytes, source: str) -> Document:
        if source.endswith(".hang"):
            while True:
                time.sleep(0.01)
        if source.endswith(".segv"):
            os.kill(os.getpid(), signal.SIGSEGV)
        text = data.decode()
        return self.document(data, source, text, [], {})


def test_parse_stage_isolates_hanging_and_crashing_documents(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sample_docs: Path
) -> None:
    """The CPU stage (run here without Ray: it is a plain function of a block) turns a document
    that kills or hangs its process into an error record, so a Ray worker never dies on it."""
    import pyarrow as pa

    from chunkwise import registry
    from chunkwise.pipeline import Source
    from chunkwise.ray_engine import _unpack, close_pools, parse_chunk_batch

    spec = registry.Spec("hostile", f"{__name__}:HostileParser", (".hang", ".segv"), "test")
    monkeypatch.setitem(registry.BUILTINS["parsers"], "hostile", spec)
    registry.extension_map.cache_clear()
    try:
        good = sorted((sample_docs / "text").glob("*.txt"))[0]
        files = [tmp_path / "a.hang", tmp_path / "b.segv", good]
        files[0].write_text("x")
        files[1].write_text("x")
        sources = [Source(str(p), path=p) for p in files]
        table = pa.table(
            {
                "order": pa.array([0, 1, 2], pa.int64()),
                "source": pa.array([pickle.dumps(s) for s in sources], pa.large_binary()),
            }
        )
        options = IngestOptions(isolate=True, timeout=1.0)
        start = time.monotonic()
        orders, results = _unpack(parse_chunk_batch(table, pickle.dumps(options)))
        assert time.monotonic() - start < 20
        # The child is kept for the next block: a second block reuses it (same results).
        again = _unpack(parse_chunk_batch(table, pickle.dumps(options)))[1]
        assert [r.error.error if r.error else None for r in again] == [
            "WorkerTimeout",
            "WorkerCrash",
            None,
        ]
    finally:
        close_pools()
        registry.extension_map.cache_clear()
    assert orders == [0, 1, 2]
    assert results[0].error.error == "WorkerTimeout"
    assert results[1].error.error == "WorkerCrash" and "SIGSEGV" in results[1].error.message
    assert results[2].error is None and results[2].chunks
