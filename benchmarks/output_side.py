"""CPU of the output side of ``chunk ingest``, in process, stage by stage: building chunks from the
chunker's spans, what a worker adds to send a result, what the main process spends on each result
(unpickle, records, JSON, write) and the same without workers (``--jobs 0``); on a build whose
workers encode the output themselves (``pipeline._encode``), also what that costs a worker and
saves the main process.

Runs on any build of chunkwise (the interpreter's), so two builds compare by running it with each
one's Python, alternating:

    .venv/bin/python benchmarks/output_side.py /tmp/bench/small [--chunker recursive] [--rounds 9]

Figures are the minimum over the rounds of ``time.process_time()``, per document and in total.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import pickle
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from chunkwise.writers.jsonl import JsonlWriter

from chunkwise.chunking import BaseChunker, ChunkerConfig
from chunkwise.pipeline import IngestOptions, Processor, Result, Source, _without_elements

try:
    from chunkwise.pipeline import _encode
except ImportError:  # a build from before workers sent encoded output
    _encode = None  # type: ignore[assignment]
from chunkwise.run import Ingest
from chunkwise.types import Chunk, Document


def best(fn: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        gc.collect()
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("path", type=Path)
    ap.add_argument("--chunker", default="recursive")
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    files = (
        sorted(p for p in args.path.iterdir() if p.is_file()) if args.path.is_dir() else [args.path]
    )
    opts = IngestOptions(
        chunker=args.chunker,
        chunker_config=ChunkerConfig(max_tokens=512, tokenizer="cl100k_base"),
    )
    proc = Processor(opts)
    chunker = proc.chunker(args.chunker)
    docs: list[Document] = []
    for f in files:
        name = proc.parser_name(Source(str(f), path=f))
        doc = proc.parser(name).parse(f, source=str(f))
        docs.append(doc if doc.parser else dataclasses.replace(doc, parser=name))

    # The chunker's spans and counts, captured once, so that building is timed alone.
    spans: list[tuple[Document, Sequence[tuple[int, int]], Sequence[int]]] = []
    build = BaseChunker.build

    def capture(self: BaseChunker, doc: Document, s: Any, c: Any, metadata: Any = None) -> Any:
        spans.append((doc, list(s), list(c)))
        return build(self, doc, s, c, metadata)

    BaseChunker.build = capture  # type: ignore[method-assign,assignment]
    chunks: list[list[Chunk]] = [list(chunker.chunk(d)) for d in docs]
    BaseChunker.build = build  # type: ignore[method-assign]

    def results() -> list[Result]:
        return [
            Result(d.source, doc=d, chunks=list(cs), path=d.source)
            for d, cs in zip(docs, chunks, strict=True)
        ]

    blobs = [pickle.dumps(_without_elements(r), pickle.HIGHEST_PROTOCOL) for r in results()]
    out = Path(tempfile.mkdtemp()) / "out.jsonl"

    def build_chunks() -> None:
        for doc, s, c in spans:
            list(chunker.build(doc, s, c))

    def worker_send() -> None:
        for r in results():
            pickle.dumps(_without_elements(r), pickle.HIGHEST_PROTOCOL)

    def main_process(blobs: list[bytes]) -> None:
        writer = JsonlWriter(str(out))
        ingest = Ingest([str(args.path)], opts, writer)
        for blob in blobs:
            ingest.take(pickle.loads(blob))
        ingest.flush()
        writer.close()

    def in_process() -> None:
        writer = JsonlWriter(str(out))
        ingest = Ingest([str(args.path)], opts, writer)
        for r in results():
            ingest.take(r)
        ingest.flush()
        writer.close()

    def encoded_blobs() -> list[bytes]:
        assert _encode is not None and JsonlWriter.encoder is not None
        return [
            pickle.dumps(_encode(r, JsonlWriter.encoder, False), pickle.HIGHEST_PROTOCOL)
            for r in results()
        ]

    n = len(docs)
    print(f"{n} documents, {sum(map(len, chunks))} chunks, {sum(map(len, blobs))} bytes pickled")
    stages = [
        ("build chunks (spans given)", build_chunks),
        ("worker: send results", worker_send),
        ("main: unpickle + write", lambda: main_process(blobs)),
        ("--jobs 0: records + write", in_process),
    ]
    if _encode is not None:
        encoded = encoded_blobs()
        stages += [
            ("worker: encode + send", encoded_blobs),
            ("main: unpickle + write bytes", lambda: main_process(encoded)),
        ]
    for name, fn in stages:
        t = best(fn, args.rounds)
        print(f"{name:28s} {t * 1000:8.1f} ms {t / n * 1e6:9.1f} us/doc", flush=True)


if __name__ == "__main__":
    main()
