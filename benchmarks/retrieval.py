"""Retrieval quality of late-chunking vs naive chunk embeddings at the same chunking.

Corpus: the 30 news/blog articles of the shared corpus (``html/ground-truth.json``, the gold
``articleBody`` text of each page, so the parser is not what is measured). Questions:
``benchmarks/data/retrieval_questions.jsonl``, 40 questions written for this benchmark, each with
the character span(s) of its answer in one (or two) of the articles. Every question is searched
against the chunks of all 30 articles.

A retrieved chunk is a hit when it is from the answer's article and covers at least half of the
answer span. Reported: recall@k (a hit among the first k chunks) and MRR.

Rows: naive and late chunk embeddings on the same recursive chunks (chunkwise), and the peer,
chonkie's LateChunker, which chunks by its own recursive rules at the same ``chunk_size`` and
late-embeds with the same loaded model (``--no-peer`` skips it).

    .venv/bin/python benchmarks/retrieval.py [--max-tokens 64 128 256] [--device auto]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus" / "html" / "ground-truth.json"
QUESTIONS = ROOT / "benchmarks" / "data" / "retrieval_questions.jsonl"
KS = (1, 3, 5, 10)


def load_docs() -> list[Any]:
    from chunkwise.types import Document

    truth = json.loads(CORPUS.read_text(encoding="utf-8"))
    return [
        Document(source=sha, doc_id=sha[:16], text=v["articleBody"])
        for sha, v in sorted(truth.items())
    ]


def load_questions(docs: list[Any]) -> list[dict[str, Any]]:
    texts = {d.source: d.text for d in docs}
    qs = [json.loads(x) for x in QUESTIONS.read_text(encoding="utf-8").splitlines() if x.strip()]
    for q in qs:
        for a in q["answers"]:
            # The spans are the ground truth: refuse to score against a corpus they do not match.
            assert texts[a["doc"]][a["start"] : a["end"]] == a["answer"], (q["id"], a)
    return qs


def is_hit(chunk: Any, answers: list[dict[str, Any]]) -> bool:
    for a in answers:
        if chunk.doc_id != a["doc"][:16]:
            continue
        overlap = min(chunk.end, a["end"]) - max(chunk.start, a["start"])
        if overlap >= 0.5 * (a["end"] - a["start"]):
            return True
    return False


def score(
    chunks: list[Any], vecs: np.ndarray, qvecs: np.ndarray, qs: list[dict[str, Any]]
) -> dict[str, float]:
    sims = qvecs @ vecs.T
    recall = dict.fromkeys(KS, 0)
    rr = 0.0
    for qi, q in enumerate(qs):
        order = np.argsort(-sims[qi], kind="stable")
        rank = next((r for r, ci in enumerate(order) if is_hit(chunks[ci], q["answers"])), None)
        if rank is None:
            continue
        rr += 1.0 / (rank + 1)
        for k in KS:
            recall[k] += rank < k
    n = len(qs)
    out = {f"R@{k}": recall[k] / n for k in KS}
    out["MRR"] = rr / n
    return out


@dataclass
class Span:
    doc_id: str
    start: int
    end: int


def chonkie_late(docs: list[Any], max_tokens: int, device: str) -> tuple[list[Span], Any] | None:
    """The peer: chonkie's LateChunker, which chunks (its own recursive rules, ``chunk_size`` in
    the model's tokenizer) and late-embeds in one call, on the same loaded model."""
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
    spans, vecs = [], []
    for d in docs:
        for c in chunker.chunk(d.text):
            spans.append(Span(d.doc_id, c.start_index, c.end_index))
            v = np.asarray(c.embedding, dtype=np.float32)
            vecs.append(v / max(float(np.linalg.norm(v)), 1e-12))
    return spans, np.vstack(vecs)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--max-tokens", type=int, nargs="+", default=[64, 128, 256])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--json", type=Path, help="also write the rows here")
    ap.add_argument(
        "--no-peer", dest="peer", action="store_false", help="skip chonkie's LateChunker"
    )
    args = ap.parse_args()

    from chunkwise.chunkers.recursive import RecursiveChunker
    from chunkwise.embedders import EmbedConfig, build_embedder

    from chunkwise.chunking import ChunkerConfig

    docs = load_docs()
    qs = load_questions(docs)
    methods = {
        "naive": build_embedder("naive", EmbedConfig(device=args.device)),
        "late (window 256)": build_embedder("late", EmbedConfig(device=args.device)),
        "late (window 512)": build_embedder("late", EmbedConfig(device=args.device, window=512)),
    }
    backend = methods["naive"].backend
    qvecs = backend.encode([q["question"] for q in qs])
    rows = []
    for max_tokens in args.max_tokens:
        cfg = ChunkerConfig(max_tokens=max_tokens, tokenizer="all-MiniLM-L6-v2")
        chunker = RecursiveChunker(cfg)
        chunk_lists = [list(chunker.chunk(d)) for d in docs]
        for name, emb in methods.items():
            if name.startswith("naive") and max_tokens > backend.max_content_tokens:
                continue  # the model would truncate: not a fair baseline
            t0 = time.perf_counter()
            out = emb.embed(docs, chunk_lists)
            secs = time.perf_counter() - t0
            flat = [c for cl in out for c in cl]
            vecs = np.asarray([c.embedding for c in flat], dtype=np.float32)
            row = {"max_tokens": max_tokens, "method": name, "chunks": len(flat)}
            row.update(score(flat, vecs, qvecs, qs))
            row["embed_s"] = secs
            rows.append(row)
            print(f"  {max_tokens:>4} {name:<18} done in {secs:.1f}s", file=sys.stderr)
        if args.peer:
            t0 = time.perf_counter()
            peer = chonkie_late(docs, max_tokens, args.device)
            if peer is not None:
                spans, pvecs = peer
                row = {
                    "max_tokens": max_tokens,
                    "method": "chonkie LateChunker",
                    "chunks": len(spans),
                }
                row.update(score(spans, pvecs, qvecs, qs))
                row["embed_s"] = time.perf_counter() - t0
                rows.append(row)

    head = f"{'max_tokens':>10} {'method':<20} {'chunks':>6} " + " ".join(
        f"{k:>6}" for k in [*[f"R@{k}" for k in KS], "MRR"]
    )
    print(f"{len(qs)} questions over {len(docs)} articles, model {backend.display_name}")
    print(head)
    print("-" * len(head))
    for r in rows:
        vals = " ".join(f"{r[k]:>6.3f}" for k in [*[f"R@{k}" for k in KS], "MRR"])
        print(f"{r['max_tokens']:>10} {r['method']:<20} {r['chunks']:>6} {vals}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
