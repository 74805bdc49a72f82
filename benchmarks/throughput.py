"""Throughput of the token and recursive chunkers against peers, same text, same size, same
tokenizer (cl100k_base), in one run.

Text: the court decisions of ../shared/corpus/legal/ plus the gold article bodies of
../shared/corpus/html/ (0.35 MB of real prose in 38 documents). That set is run as it is ("small
docs") and as 8 long documents, each the whole set in a different shuffled order joined by blank
lines, every paragraph numbered so that none repeats ("long docs", 2.8 MB): the corpus holds no
more real text than that, and repeated paragraphs would measure the peers' token-count caches
rather than chunking.

Peers: chonkie TokenChunker / RecursiveChunker, semchunk, langchain-text-splitters'
RecursiveCharacterTextSplitter (length in cl100k tokens). All get the same tiktoken Encoding object,
built offline by chunkwise (tiktoken's own loader would download the ranks).

Methods run interleaved, several rounds, and the median is reported with the ratio to ours, because
this machine is shared and noisy. Also reports ``chunk --help`` wall time.

    .venv/bin/python benchmarks/throughput.py [--rounds 3] [--max-tokens 512]
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"


def load_texts() -> list[str]:
    texts: list[str] = []
    for name in ("CD_scotus_test.jsonl.gz", "CD_intellectual_property_test.jsonl.gz"):
        with gzip.open(CORPUS / "legal" / name, "rt", encoding="utf-8") as fh:
            texts.extend(json.loads(line)["text"] for line in fh)
    gold = json.loads((CORPUS / "html" / "ground-truth.json").read_text(encoding="utf-8"))
    texts.extend(v["articleBody"] for v in gold.values() if v.get("articleBody"))
    return texts


def long_docs(texts: list[str], copies: int = 8) -> list[str]:
    """Long documents from the corpus: each copy shuffles the documents and numbers every paragraph
    ("[copy.n] ..."), so no paragraph repeats and no peer's cache of token counts gets hits."""
    import random

    rng = random.Random(0)
    out = []
    for copy in range(copies):
        order = texts[:]
        rng.shuffle(order)
        paras = [p for t in order for p in t.split("\n\n") if p.strip()]
        out.append("\n\n".join(f"[{copy}.{i}] {p}" for i, p in enumerate(paras)))
    return out


def build_methods(max_tokens: int) -> dict[str, Callable[[str], int]]:
    from chunkwise.chunkers.recursive import RecursiveChunker
    from chunkwise.chunkers.token import TokenChunker

    from chunkwise.chunking import ChunkerConfig
    from chunkwise.tokenizers import tiktoken_encoding
    from chunkwise.types import Document

    enc = tiktoken_encoding("cl100k_base")  # the same tiktoken.Encoding for every peer
    cfg = ChunkerConfig(max_tokens=max_tokens)
    ours_token = TokenChunker(cfg)
    ours_rec = RecursiveChunker(cfg)

    def doc(text: str) -> Document:
        return Document("bench", "0", text)

    methods: dict[str, Callable[[str], int]] = {
        "chunkwise token": lambda t: sum(1 for _ in ours_token.chunk(doc(t))),
        "chunkwise recursive": lambda t: sum(1 for _ in ours_rec.chunk(doc(t))),
    }
    try:
        from chonkie import RecursiveChunker as CRec
        from chonkie import TokenChunker as CTok

        c_tok = CTok(tokenizer=enc, chunk_size=max_tokens, chunk_overlap=0)
        c_rec = CRec(tokenizer=enc, chunk_size=max_tokens)
        methods["chonkie TokenChunker"] = lambda t: len(c_tok.chunk(t))
        methods["chonkie RecursiveChunker"] = lambda t: len(c_rec.chunk(t))
    except Exception as exc:  # a peer that cannot run here is reported, not fatal
        print(f"chonkie unavailable: {exc}", file=sys.stderr)
    try:
        import semchunk

        s_chunker = semchunk.chunkerify(enc, max_tokens)
        methods["semchunk"] = lambda t: len(s_chunker(t))
    except Exception as exc:
        print(f"semchunk unavailable: {exc}", file=sys.stderr)
    try:
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        lc = RecursiveCharacterTextSplitter(
            chunk_size=max_tokens,
            chunk_overlap=0,
            length_function=lambda s: len(enc.encode_ordinary(s)),
        )
        methods["langchain RecursiveCharacterTextSplitter"] = lambda t: len(lc.split_text(t))
    except Exception as exc:
        print(f"langchain-text-splitters unavailable: {exc}", file=sys.stderr)
    return methods


def help_time(rounds: int = 5) -> float:
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "chunkwise.cli.app", "--help"], capture_output=True, check=True
        )
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--max-tokens", type=int, default=512)
    args = ap.parse_args()

    small = load_texts()
    for label, texts in (("small docs", small), ("long docs", long_docs(small))):
        mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
        times: dict[str, list[float]] = {}
        counts: dict[str, int] = {}
        for _ in range(args.rounds):
            # Fresh chunker objects every round: semchunk and chonkie memoise token counts, and a
            # second pass over the same text would time their caches, not their chunking.
            methods = build_methods(args.max_tokens)
            for name, fn in methods.items():
                fn("Warm-up text. " * 20)  # lazy imports and first-call set-up, not timed
                t0 = time.perf_counter()
                counts[name] = sum(fn(t) for t in texts)
                times.setdefault(name, []).append(time.perf_counter() - t0)
        ours = statistics.median(times["chunkwise recursive"])
        print(
            f"\n{label}: {len(texts)} documents, {mb:.2f} MB, max_tokens={args.max_tokens}, "
            f"cl100k_base, median of {args.rounds} interleaved rounds"
        )
        print(f"{'method':<42} {'MB/s':>8} {'chunks':>8} {'time / chunkwise recursive':>27}")
        for name in times:
            med = statistics.median(times[name])
            print(f"{name:<42} {mb / med:>8.2f} {counts[name]:>8} {med / ours:>26.2f}x")
    print(f"chunk --help: {help_time():.3f} s (median of 5)")


if __name__ == "__main__":
    main()
