"""Resource bounds under hostile input (issue 21): linear time and bounded memory on long
unbroken tokens and many headings, bounded stdin and gzip, a per-worker memory cap."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from chunkwise import registry
from chunkwise.chunking import ChunkerConfig
from chunkwise.pipeline import IngestOptions, Processor, Source, ingest
from chunkwise.quality import LexicalVectorizer, cohesion_separation
from tests.conftest import ROOT, MemoryWriter, load_benchmark

hostile = load_benchmark("hostile")


def peak_mb(fn: Any) -> tuple[Any, float]:
    tracemalloc.start()
    try:
        out = fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return out, peak / 1e6


def test_auto_on_markdown_with_a_base64_image_has_bounded_memory(tmp_path: Path) -> None:
    name, data = hostile.base64_markdown(0.15)  # ~460 KB of one unbroken token
    path = tmp_path / name
    path.write_bytes(data)
    proc = Processor(IngestOptions(chunker="auto"))
    res, peak = peak_mb(lambda: proc.process(Source(str(path), path=path)))
    assert res.error is None and res.chunks
    # The dense sentences x vocabulary matrix of the scoring took ~25x the file here.
    assert peak < 60, f"peak {peak:.0f} MB for a {len(data) / 1e6:.1f} MB file"


class _DenseOnly:
    """The lexical vectorizer without its sparse path: the reference for the sparse one."""

    name = "lexical"

    def __init__(self) -> None:
        self.inner = LexicalVectorizer()

    def vectors(self, texts: Any) -> Any:
        return self.inner.vectors(texts)


def test_sparse_cohesion_equals_the_dense_computation(sample_docs: Path) -> None:
    config = ChunkerConfig(max_tokens=96)
    proc = Processor(IngestOptions(chunker="recursive", chunker_config=config))
    files = sorted((sample_docs / "markdown").glob("*.md"))[:3]
    assert files
    for f in files:
        res = proc.process(Source(str(f), path=f))
        assert res.doc is not None
        sparse = cohesion_separation(res.doc, res.chunks, LexicalVectorizer())
        dense = cohesion_separation(res.doc, res.chunks, _DenseOnly())  # type: ignore[arg-type]
        assert sparse == pytest.approx(dense, abs=1e-5), f.name


def test_section_is_linear_in_headings(tmp_path: Path) -> None:
    name, data = hostile.section_headings(0.25)  # 5,000 headings
    path = tmp_path / name
    path.write_bytes(data)
    proc = Processor(IngestOptions(chunker="section"))
    proc.process(Source("warm.md", data=b"# a\n\nb\n"))
    t0 = time.perf_counter()
    res = proc.process(Source(str(path), path=path))
    took = time.perf_counter() - t0
    assert res.error is None and len(res.chunks) == 5000
    # Quadratic, this took ~8 s (123 s at 20,000 headings); linear, about one second.
    assert took < 5, f"{took:.1f} s for 5,000 headings"


def test_section_is_linear_in_headings_with_nothing_under_them(tmp_path: Path) -> None:
    # Every heading is empty, so all of them merge forward into one group: the group's emptiness
    # and token total were recomputed over all its sections at each join (quadratic: ~10 s here).
    data = "".join(f"## Heading {i}\n\n" for i in range(20_000)).encode()
    proc = Processor(IngestOptions(chunker="section"))
    proc.process(Source("warm.md", data=b"# a\n\nb\n"))
    t0 = time.perf_counter()
    path = tmp_path / "empty-headings.md"
    path.write_bytes(data)
    res = proc.process(Source(str(path), path=path))
    took = time.perf_counter() - t0
    assert res.error is None and res.chunks
    assert "".join(c.text for c in res.chunks).replace("\n", "") == data.decode().replace("\n", "")
    assert took < 3, f"{took:.1f} s for 20,000 empty headings"


def test_section_is_linear_in_headings_between_page_furniture() -> None:
    # A long PDF's shape: a heading, a paragraph and a footer on each of 20,000 pages. Each
    # section was clipped against every furniture gap of the document (quadratic: ~11 s here).
    from chunkwise.chunkers.section import SectionChunker

    from chunkwise.types import Document, Element

    parts: list[str] = []
    els: list[Element] = []
    pos = 0
    for i in range(20_000):
        for kind, line in (("heading", f"Part {i}"), ("paragraph", "Body."), ("footer", f"p{i}")):
            level = 1 if kind == "heading" else None
            els.append(Element(kind, pos, pos + len(line), page=i + 1, level=level))
            parts.append(line + "\n\n")
            pos += len(line) + 2
    doc = Document("long.pdf", "0" * 16, "".join(parts), tuple(els), {}, "pdf")
    chunker = SectionChunker(ChunkerConfig())
    t0 = time.perf_counter()
    chunks = list(chunker.chunk(doc))
    took = time.perf_counter() - t0
    assert [c.text for c in chunks] == [f"Part {i}\n\nBody." for i in range(20_000)]
    assert took < 4, f"{took:.1f} s for 20,000 pages"


def test_a_gzip_bomb_is_an_error_record_at_once(tmp_path: Path) -> None:
    from chunkwise.parsers.html import MAX_DECOMPRESSED

    page = (
        b"<html><body>" + b"<p>lorem ipsum</p>" * (MAX_DECOMPRESSED // 18 + 10) + b"</body></html>"
    )
    bomb = tmp_path / "bomb.html.gz"
    bomb.write_bytes(gzip.compress(page, 6))
    (tmp_path / "ok.html").write_text("<html><body><h1>Fine</h1><p>A page.</p></body></html>")
    writer = MemoryWriter()
    writer_records = writer.records
    errors: list[Any] = []

    t0 = time.perf_counter()
    summary = ingest(
        [str(tmp_path)], IngestOptions(chunker="recursive"), writer, on_error=errors.append
    )
    assert time.perf_counter() - t0 < 20
    assert [Path(e.source).name for e in errors] == ["bomb.html.gz"]
    assert "MiB when decompressed" in errors[0].message
    assert summary.documents == 2 and writer_records


def test_stdin_is_read_only_up_to_max_file_size() -> None:
    # An endless stream: the run must stop reading at the limit and report it, not fill memory.
    code = (
        "import resource; resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30)); "
        "import sys; from chunkwise.cli.app import main; "
        "sys.argv = ['chunk', 'ingest', '-', '--max-file-size', '1000000', '-j', '0']; main()"
    )
    with open("/dev/zero", "rb") as zero:
        proc = subprocess.run(
            [sys.executable, "-c", code], stdin=zero, capture_output=True, cwd=ROOT, timeout=60
        )
    assert proc.returncode == 3, proc.stderr.decode()[-2000:]
    err = json.loads(proc.stderr.decode().splitlines()[0])
    assert err["source"] == "<stdin>" and "--max-file-size 1000000" in err["message"]


@pytest.mark.parametrize("command", ["parse", "sentences"])
def test_parse_reads_stdin_only_up_to_max_file_size(command: str) -> None:
    # `chunk parse -` read stdin whole: /dev/zero filled memory until the address-space cap.
    code = (
        "import resource; resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30)); "
        "import sys; from chunkwise.cli.app import main; "
        f"sys.argv = ['chunk', '{command}', '-', '--max-file-size', '1000000']; main()"
    )
    with open("/dev/zero", "rb") as zero:
        proc = subprocess.run(
            [sys.executable, "-c", code], stdin=zero, capture_output=True, cwd=ROOT, timeout=60
        )
    assert proc.returncode == 3, proc.stderr.decode()[-2000:]
    lines = proc.stderr.decode().splitlines()
    assert len(lines) == 1 and not proc.stdout
    err = json.loads(lines[0])
    assert err["source"] == "<stdin>" and err["stage"] == "read"
    assert err["message"] == "stdin is over --max-file-size 1000000 bytes; reading stopped there"


def test_parse_refuses_a_file_over_max_file_size(tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    big.write_bytes(b"word " * 1000)
    cmd = [sys.executable, "-m", "chunkwise.cli.app", "parse", str(big), "--max-file-size", "100"]
    proc = subprocess.run(cmd, capture_output=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 3, proc.stderr.decode()[-2000:]
    err = json.loads(proc.stderr.decode().splitlines()[0])
    assert err["message"] == "file is 5000 bytes, over --max-file-size 100"
    ok = subprocess.run(cmd[:-2], capture_output=True, cwd=ROOT, timeout=60)
    assert ok.returncode == 0 and json.loads(ok.stdout)["text"].startswith("word")


class HogParser:
    """Allocates 3 GB for files named *.hog; a normal text parser otherwise."""

    def __init__(self, options: Any) -> None:
        from chunkwise.parsers.text import TextParser

        self.inner = TextParser(options)

    def parse(self, src: Any, source: str) -> Any:
        if source.endswith(".hog"):
            blob = bytearray(3 << 30)
            blob[-1] = 1
        return self.inner.parse(src, source=source)


def test_max_memory_turns_a_runaway_document_into_an_error_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    spec = registry.Spec("hog", f"{__name__}:HogParser", (".hog", ".fine"), "test")
    monkeypatch.setitem(registry.BUILTINS["parsers"], "hog", spec)
    registry.extension_map.cache_clear()
    request.addfinalizer(registry.extension_map.cache_clear)
    (tmp_path / "a.hog").write_text("hungry\n")
    (tmp_path / "b.fine").write_text("fine text\n")
    writer = MemoryWriter()
    records = writer.records
    errors: list[Any] = []

    opts = IngestOptions(chunker="recursive", jobs=1, max_memory=512 << 20, timeout=60)
    summary = ingest([str(tmp_path)], opts, writer, on_error=errors.append)
    assert [Path(e.source).name for e in errors] == ["a.hog"]
    assert errors[0].error in ("MemoryError", "WorkerCrash"), errors[0]
    assert [Path(r["source"]).name for r in records] == ["b.fine"]
    assert summary.failed == 1


SLOW_EMBED = """
import os, sys, time
import chunkwise.embedders as emb

class SlowEmbedder:
    def embed(self, docs, chunks):
        open(os.environ["EMBED_MARKER"], "w").close()
        time.sleep(60)
        return chunks

emb.build_embedder = lambda kind, cfg: SlowEmbedder()
emb.chunk_sizing = lambda embedder, model, tokenizer, max_tokens, explicit=True: (
    tokenizer,
    max_tokens,
)
from chunkwise.cli.app import main
sys.argv = ["chunk", *sys.argv[1:]]
main()
"""


def test_ctrl_c_during_embedding_without_state_stops_at_once(tmp_path: Path) -> None:
    docs = tmp_path / "in"
    docs.mkdir()
    for i in range(3):
        (docs / f"d{i}.txt").write_text(f"Document {i}.\n")
    out, marker = tmp_path / "out.jsonl", tmp_path / "embedding"
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_EMBED, "ingest", str(docs), "--embed", "-o", str(out)],
        cwd=ROOT,
        env={**os.environ, "EMBED_MARKER": str(marker)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), "embedding never started"
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert time.monotonic() - t0 < 5, "Ctrl-C waited for the embedding batch"
    assert proc.returncode == 130, err.decode()
    assert "removed" in err.decode() and "Traceback" not in err.decode()
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


def _nested_defs(n: int) -> list[Any]:
    """Top-level definitions, each with one nested definition: a minified file's shape."""
    from chunkwise.types import Element

    out = []
    for i in range(n):
        a = i * 100
        out.append(Element("function", a, a + 90, attrs={"scope": [f"f{i}"]}))
        out.append(Element("function", a + 10, a + 50, attrs={"scope": [f"f{i}", f"g{i}"]}))
    return sorted(out, key=lambda e: (e.start, -e.end))


def test_cast_scope_lookup_is_linear_and_equal_to_the_scan() -> None:
    from chunkwise.chunkers.cast import _scope, _ScopeSweep

    defs = _nested_defs(300)
    starts = [e.start for e in defs]
    spans = [(a, a + 5) for a in range(0, 30_000, 7)] + [(15, 45), (5, 95)]
    sweep = _ScopeSweep(defs)
    for a, b in spans:  # the last two go back: the sweep falls back to the scan
        assert sweep.scope(a, b) == _scope(defs, starts, a, b), (a, b)
    big = _nested_defs(20_000)
    sweep = _ScopeSweep(big)
    t0 = time.perf_counter()
    for a in range(0, 2_000_000, 100):
        sweep.scope(a + 12, a + 40)
    # The scan of every earlier definition per chunk took minutes here (quadratic).
    assert time.perf_counter() - t0 < 2
