"""CPU per file of each step a worker takes on a folder of small files, in one warm process.

``Processor`` runs a batch of 64 files a step at a time (``process_many``); this times each step
across the batch: reading and parsing, preparing (the token index: atoms and their exact
counts), chunking, and encoding the records as the worker sends them. Process CPU, a few
rounds after a warm-up batch, tokie's model loaded first (as the pool does before it forks).

    .venv/bin/python benchmarks/worker_stages.py /tmp/bench/small --chunker recursive
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chunkwise.writers.jsonl import JsonlWriter

from chunkwise.chunking import ChunkerConfig
from chunkwise.pipeline import IngestOptions, Processor, Source, _reply
from chunkwise.tokenizers import get_tokenizer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--chunker", default="recursive")
    ap.add_argument("--max-tokens", type=int, default=512)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    warm = getattr(get_tokenizer("cl100k_base"), "warm", None)
    if warm is not None:
        warm()
    opts = IngestOptions(
        chunker=args.chunker, chunker_config=ChunkerConfig(max_tokens=args.max_tokens)
    )
    opts.encoder = JsonlWriter.encoder
    proc = Processor(opts)
    reply = _reply(opts)
    sources = [Source(p.name, path=p) for p in sorted(args.folder.iterdir()) if p.is_file()]
    for res in proc.process_many(sources[:64]):
        reply(res)
    gc.collect()
    names = ("read and parse", "prepare", "chunk", "encode")
    for _ in range(args.rounds):
        spent = dict.fromkeys(names, 0.0)
        for i in range(0, len(sources), 64):
            batch = sources[i : i + 64]
            steps = [proc._steps(src) for src in batch]
            t0 = time.process_time()
            for gen in steps:
                next(gen)
            t1 = time.process_time()
            for gen in steps:
                next(gen)
            t2 = time.process_time()
            results = []
            for src, gen in zip(batch, steps, strict=True):
                try:
                    next(gen)
                except StopIteration as stop:
                    results.append(proc._finished(src, stop.value))
            t3 = time.process_time()
            for res in results:
                reply(res)
            t4 = time.process_time()
            for name, took in zip(names, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
                spent[name] += took
        per = {k: v / len(sources) * 1e6 for k, v in spent.items()}
        cells = ", ".join(f"{k} {v:.0f}" for k, v in per.items())
        print(f"{len(sources)} files, us a file: {cells}; total {sum(per.values()):.0f}")


if __name__ == "__main__":
    main()
