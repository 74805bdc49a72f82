"""Embedding throughput: late chunking vs naive per-chunk embedding, with a batch-size sweep, and
chonkie's LateChunker (the peer) on the same texts and model, in the same run.

Corpus: the 30 articles of the shared corpus (``html/ground-truth.json`` article bodies), chunked
by our recursive chunker at ``--max-tokens`` in the model's tokenizer (chunking is done once and
not timed for our embedders; chonkie's LateChunker chunks and embeds in one call, so its time
includes its own recursive chunking, which is small next to the forward passes).

chunks/s = chunks embedded per second; tokens/s = tokens of document text embedded per second
(late: each document's tokens once, though overlapping windows compute some twice; naive: the
tokens of the chunks). Device: ``--device auto`` uses CUDA when torch sees a GPU.

    .venv/bin/python benchmarks/embedding.py [--batch-sizes 8 32 128] [--device auto]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from retrieval import load_docs


def run_ours(method: str, docs: list[Any], chunk_lists: list[Any], cfg: Any) -> float:
    from chunkwise.embedders import build_embedder

    emb = build_embedder(method, cfg)
    emb.embed(docs[:1], chunk_lists[:1])  # warm-up: first-call allocations
    t0 = time.perf_counter()
    emb.embed(docs, chunk_lists)
    return time.perf_counter() - t0


def run_chonkie(docs: list[Any], max_tokens: int, device: str) -> tuple[float, int] | None:
    try:
        from chonkie import LateChunker
        from chonkie.embeddings import SentenceTransformerEmbeddings
    except ImportError:
        return None
    from chunkwise.models import load_sentence_model

    model = load_sentence_model(None, device)
    chunker = LateChunker(
        embedding_model=SentenceTransformerEmbeddings(model), chunk_size=max_tokens
    )
    chunker.chunk(docs[0].text)
    t0 = time.perf_counter()
    n = sum(len(chunker.chunk(d.text)) for d in docs)
    return time.perf_counter() - t0, n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[8, 32, 128])
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--repeat", type=int, default=1, help="corpus copies (more work per timing)")
    args = ap.parse_args()

    from chunkwise.chunkers.recursive import RecursiveChunker
    from chunkwise.embedders import EmbedConfig

    from chunkwise.chunking import ChunkerConfig
    from chunkwise.models import resolve_device
    from chunkwise.tokenizers import get_tokenizer

    docs = load_docs() * args.repeat
    chunker = RecursiveChunker(
        ChunkerConfig(max_tokens=args.max_tokens, tokenizer="all-MiniLM-L6-v2")
    )
    chunk_lists = [list(chunker.chunk(d)) for d in docs]
    n_chunks = sum(len(c) for c in chunk_lists)
    tok = get_tokenizer("all-MiniLM-L6-v2")
    doc_tokens = sum(tok.count(d.text) for d in docs)
    chunk_tokens = sum(c.n_tokens for cl in chunk_lists for c in cl)
    device = resolve_device(args.device)
    import torch

    rows = []
    for bs in args.batch_sizes:
        for method in ("late", "naive"):
            cfg = EmbedConfig(device=args.device, batch_size=bs)
            secs = run_ours(method, docs, chunk_lists, cfg)
            toks = doc_tokens if method == "late" else chunk_tokens
            rows.append((f"chunkwise {method}", bs, n_chunks, secs, toks))
            print(f"  {method} batch {bs}: {secs:.1f}s", file=sys.stderr)
    peer = run_chonkie(docs, args.max_tokens, args.device)
    if peer is not None:
        secs, n = peer
        rows.append(("chonkie LateChunker", 32, n, secs, doc_tokens))

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"{len(docs)} documents, {doc_tokens} tokens, {n_chunks} chunks of <= {args.max_tokens} "
        f"tokens; model all-MiniLM-L6-v2 on {device} ({torch.get_num_threads()} torch threads, "
        f"load average {load:.1f})"
    )
    late_ref = {bs: secs for name, bs, _, secs, _ in rows if name == "chunkwise late"}
    head = (
        f"{'embedder':<22} {'batch':>5} {'chunks':>6} {'seconds':>8} {'chunks/s':>9} "
        f"{'tokens/s':>9} {'vs late':>8}"
    )
    print(head)
    print("-" * len(head))
    for name, bs, n, secs, toks in rows:
        ref = late_ref.get(bs, next(iter(late_ref.values())))
        print(
            f"{name:<22} {bs:>5} {n:>6} {secs:>8.2f} {n / secs:>9.1f} {toks / secs:>9.0f} "
            f"{secs / ref:>7.2f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
