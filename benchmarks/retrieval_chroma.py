"""Chroma's chunking evaluation on ``shared/corpus/retrieval`` (2 corpora, 132 questions): our
configurations beside faithful re-implementations of Chroma's baseline chunkers and the chonkie /
LangChain splitters, all embedded with the same all-MiniLM-L6-v2 in the same run.

Protocol (Smith & Troynikov 2024): all chunks of both corpora in one collection, top 5 by cosine
per question, character recall / precision / IoU ×100 (``chunkwise.retrieval``, the code
``chunk eval --questions`` uses). Baselines embed each chunk's text on its own, as Chroma's
``SentenceTransformerEmbeddingFunction`` does (the model's 256-token limit included), and locate
chunks in the corpus as Chroma's ``rigorous_document_search`` does (first exact occurrence, else
the same words with any whitespace between them).

Embeddings are cached under ``benchmarks/.cache`` keyed by a hash of the text (naive) or of the
window's token ids (late), so re-runs only pay for what changed.

    .venv/bin/python benchmarks/retrieval_chroma.py                 # every row
    .venv/bin/python benchmarks/retrieval_chroma.py --only ours     # our rows only
    .venv/bin/python benchmarks/retrieval_chroma.py --ours 'recursive:128:0:late' ...
    .venv/bin/python benchmarks/retrieval_chroma.py --throughput    # late vs naive speed
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
# The shared corpus sits beside the checkout (main) or two levels up (a worktree under wt/).
CORPUS = next(
    (p / "shared" / "corpus" / "retrieval" for p in (ROOT.parent, ROOT.parent.parent)
     if (p / "shared" / "corpus" / "retrieval").is_dir()),
    ROOT.parent / "shared" / "corpus" / "retrieval",
)  # fmt: skip
CACHE = ROOT / "benchmarks" / ".cache" / "retrieval"
K = 5
SEPARATORS = ["\n\n", "\n", ".", "?", "!", " ", ""]


# -- embedding cache -----------------------------------------------------------------------------


class Cache:
    """Vectors on disk, one .npy per key (a hash), under a folder per kind."""

    def __init__(self, kind: str) -> None:
        self.dir = CACHE / kind
        self.dir.mkdir(parents=True, exist_ok=True)
        self.hits = self.misses = 0

    def get(self, key: str) -> np.ndarray | None:
        p = self.dir / f"{key}.npy"
        if p.is_file():
            self.hits += 1
            return np.load(p)
        self.misses += 1
        return None

    def put(self, key: str, vec: np.ndarray) -> None:
        np.save(self.dir / f"{key}.npy", vec)


def _h(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def cached_backend(backend: Any) -> Any:
    """Wrap a ``SentenceTransformerBackend``'s ``encode`` and ``iter_token_embeddings`` with the
    disk cache (same results, computed once)."""
    if getattr(backend, "_cached", False):
        return backend
    texts_cache, windows_cache = Cache("naive"), Cache("late")
    encode, iter_tokens = backend.encode, backend.iter_token_embeddings

    def enc(texts: Sequence[str], progress: Any = None) -> np.ndarray:
        keys = [_h(t.encode("utf-8")) for t in texts]
        got = [texts_cache.get(k) for k in keys]
        todo = [i for i, g in enumerate(got) if g is None]
        if todo:
            fresh = encode([texts[i] for i in todo])
            for i, v in zip(todo, fresh, strict=True):
                texts_cache.put(keys[i], v)
                got[i] = v
        return np.asarray(got, dtype=np.float32).reshape(len(texts), -1)

    def tokens(windows: Sequence[np.ndarray], progress: Any = None) -> Iterator[tuple[int, Any]]:
        keys = [_h(np.asarray(w, dtype=np.int64).tobytes()) for w in windows]
        todo = []
        for i, k in enumerate(keys):
            v = windows_cache.get(k)
            if v is None:
                todo.append(i)
            else:
                yield i, v
        for j, v in iter_tokens([windows[i] for i in todo], progress):
            windows_cache.put(keys[todo[j]], v)
            yield todo[j], v

    backend.encode, backend.iter_token_embeddings, backend._cached = enc, tokens, True
    return backend


# -- Chroma's chunkers, re-implemented from chroma-core/chunking_evaluation ---------------------


def cl100k() -> Any:
    """tiktoken's cl100k_base ``Encoding``, built from the ranks chunkwise ships (tiktoken's own
    ``get_encoding`` would download them)."""
    from chunkwise.tokenizers import tiktoken_encoding

    return tiktoken_encoding("cl100k_base")


def token_len(enc: Any) -> Callable[[str], int]:
    return lambda s: len(enc.encode(s, disallowed_special=()))


def fixed_token_chunks(text: str, size: int, overlap: int, enc: Any) -> list[str]:
    """``FixedTokenChunker``: ``size`` cl100k tokens every ``size - overlap``, decoded."""
    ids = enc.encode(text, disallowed_special=())
    out: list[str] = []
    start = 0
    while start < len(ids):
        end = min(start + size, len(ids))
        out.append(enc.decode(ids[start:end]))
        if end == len(ids):
            break
        start += size - overlap
    return out


def _split_keep(text: str, sep: str) -> list[str]:
    if sep:
        parts = re.split(f"({re.escape(sep)})", text)
        splits = [parts[i] + parts[i + 1] for i in range(1, len(parts), 2)]
        if len(parts) % 2 == 0:
            splits += parts[-1:]
        splits = [parts[0], *splits]
    else:
        splits = list(text)
    return [s for s in splits if s != ""]


def _merge(splits: list[str], size: int, overlap: int, length: Callable[[str], int]) -> list[str]:
    """LangChain's ``_merge_splits`` with separator "" (keep_separator=True) and strip."""
    docs: list[str] = []
    cur: list[str] = []
    total = 0
    for d in splits:
        n = length(d)
        if total + n > size and cur:
            doc = "".join(cur).strip()
            if doc:
                docs.append(doc)
            while total > overlap or (total + n > size and total > 0):
                total -= length(cur[0])
                cur = cur[1:]
        cur.append(d)
        total += n
    doc = "".join(cur).strip()
    if doc:
        docs.append(doc)
    return docs


def recursive_token_chunks(
    text: str, size: int, overlap: int, length: Callable[[str], int], seps: list[str] = SEPARATORS
) -> list[str]:
    """``RecursiveTokenChunker`` (LangChain's recursive splitter, separators kept in front)."""
    sep, rest = seps[-1], []
    for i, s in enumerate(seps):
        if s == "":
            sep = s
            break
        if s in text:
            sep, rest = s, seps[i + 1 :]
            break
    final: list[str] = []
    good: list[str] = []
    for s in _split_keep(text, sep):
        if length(s) < size:
            good.append(s)
            continue
        if good:
            final.extend(_merge(good, size, overlap, length))
            good = []
        if not rest:
            final.append(s)
        else:
            final.extend(recursive_token_chunks(s, size, overlap, length, rest))
    if good:
        final.extend(_merge(good, size, overlap, length))
    return final


def cluster_semantic_chunks(
    text: str, max_size: int, embed: Callable[[list[str]], np.ndarray], length: Callable[[str], int]
) -> list[str]:
    """``ClusterSemanticChunker``: 50-token pieces, then the segmentation maximising the summed
    (mean-centred) similarity inside each cluster of at most ``max_size // 50`` pieces."""
    pieces = recursive_token_chunks(text, 50, 0, length)
    m = np.asarray(embed(pieces), dtype=np.float64)
    sim = m @ m.T
    n = len(pieces)
    mean = np.mean(sim[np.triu_indices(n, k=1)]) if n > 1 else 0.0
    sim = sim - mean
    np.fill_diagonal(sim, 0)
    max_cluster = max_size // 50
    dp = np.zeros(n)
    seg = np.zeros(n, dtype=int)
    for i in range(n):
        for size in range(1, max_cluster + 1):
            if i - size + 1 >= 0:
                reward = float(np.sum(sim[i - size + 1 : i + 1, i - size + 1 : i + 1]))
                if i - size >= 0:
                    reward += dp[i - size]
                if reward > dp[i]:
                    dp[i] = reward
                    seg[i] = i - size + 1
    clusters = []
    i = n - 1
    while i >= 0:
        clusters.append((int(seg[i]), i))
        i = int(seg[i]) - 1
    clusters.reverse()
    return [" ".join(pieces[a : b + 1]) for a, b in clusters]


def locate(corpus: str, chunk: str) -> tuple[int, int]:
    """``rigorous_document_search`` without the fuzzy fallback (never needed here: every chunk is
    found exactly or up to whitespace; an unfound chunk stops the run)."""
    target = chunk[:-1] if chunk.endswith(".") else chunk
    i = corpus.find(target)
    if i >= 0:
        return i, i + len(target)
    words = re.sub(r"\s+", " ", target).strip().split()
    m = re.compile(r"\s*".join(re.escape(w) for w in words), re.IGNORECASE).search(corpus)
    if m is None:
        raise SystemExit(f"chunk not found in corpus: {chunk[:80]!r}")
    return m.start(), m.end()


# -- chonkie / LangChain -------------------------------------------------------------------------


def chonkie_rows() -> list[tuple[str, Callable[[str], list[tuple[int, int]]]]]:
    rows: list[tuple[str, Callable[[str], list[tuple[int, int]]]]] = []
    try:
        from chonkie import RecursiveChunker, SentenceChunker, TokenChunker

        def spans(chunker: Any) -> Callable[[str], list[tuple[int, int]]]:
            return lambda t: [(c.start_index, c.end_index) for c in chunker.chunk(t)]

        enc = cl100k()
        rows.append(("chonkie TokenChunker 512/0", spans(TokenChunker(enc, 512, 0))))
        rows.append(("chonkie TokenChunker 256/0", spans(TokenChunker(enc, 256, 0))))
        rows.append(("chonkie RecursiveChunker 512", spans(RecursiveChunker(enc, 512))))
        rows.append(("chonkie SentenceChunker 256/0", spans(SentenceChunker(enc, 256, 0))))
    except Exception as exc:  # an optional peer that does not run offline is left out, said so
        print(f"# chonkie rows skipped: {exc}", file=sys.stderr)
    try:
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        # from_tiktoken_encoder would download cl100k: the same length function, given here.
        lc = RecursiveCharacterTextSplitter(
            chunk_size=200,
            chunk_overlap=0,
            length_function=token_len(cl100k()),
            add_start_index=True,
        )

        def lc_spans(t: str) -> list[tuple[int, int]]:
            return [
                (d.metadata["start_index"], d.metadata["start_index"] + len(d.page_content))
                for d in lc.create_documents([t])
            ]

        rows.append(("LangChain RecursiveCharacterTextSplitter 200/0 (cl100k)", lc_spans))
    except Exception as exc:
        print(f"# LangChain row skipped: {exc}", file=sys.stderr)
    return rows


# -- the run -------------------------------------------------------------------------------------


def load(runner_opts: Any) -> tuple[list[Any], list[Any], list[int]]:
    from chunkwise import evaluate as ev
    from chunkwise.retrieval import match_documents, read_questions

    paths = [str(CORPUS / "chatlogs.md"), str(CORPUS / "state_of_the_union.md")]
    docs = ev.parse_documents(paths, runner_opts)
    for d in docs:
        # Offsets of the gold excerpts are into the file: the parsed text must be the file.
        assert d.text == Path(d.source).read_text(encoding="utf-8"), d.source
    qpath = CORPUS / "questions.csv"
    qs = read_questions(qpath)
    return docs, qs, match_documents(qs, docs, qpath)


def parse_ours(spec: str) -> Any:
    from chunkwise.evaluate import RetrievalConfig

    parts = spec.split(":")
    chunker = parts[0]
    cap = int(parts[1]) if len(parts) > 1 and parts[1] else None
    ov = int(parts[2]) if len(parts) > 2 and parts[2] else None
    emb = parts[3] if len(parts) > 3 else "late"
    return RetrievalConfig(chunker, cap, ov, emb)


DEFAULT_OURS = [
    "auto",  # plain `chunk ingest --embed`
    "auto:::naive",
    "recursive:200:0:late",
    "recursive:200:0:naive",
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--only", choices=["ours", "baselines", "all"], default="all")
    ap.add_argument("--ours", nargs="*", default=None, help="chunker:max_tokens:overlap:late|naive")
    ap.add_argument("--json", type=Path, help="Write all rows as JSON here.")
    ap.add_argument("--throughput", action="store_true", help="Late vs naive speed, no cache.")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(2)
    from chunkwise.embedders import EmbedConfig

    from chunkwise.evaluate import RetrievalRunner
    from chunkwise.pipeline import IngestOptions

    opts = IngestOptions()
    docs, qs, qdocs = load(opts)
    runner = RetrievalRunner(opts, EmbedConfig(None, "cpu", 32), k=K, on_error=print)
    if args.throughput:
        return throughput(runner, docs)
    for kind, merge in (
        ("late", None),
        ("naive", None),
        ("late", runner.sizing(parse_ours("auto"))[1]),
    ):
        cached_backend(runner.embedder(kind, merge).backend)
    qvecs = runner.question_vectors(qs)
    rows: list[dict[str, Any]] = []
    names = [Path(d.source).stem for d in docs]

    def add(name: str, res: dict[str, Any], seconds: float) -> None:
        row = {"name": name, "seconds": round(seconds, 1)}
        row.update({k: res[k] for k in ("chunks", "mean_tokens", "recall", "precision", "iou")})
        for src, v in res["by_document"].items():
            row[Path(src).stem] = {k: v[k] for k in ("recall", "iou", "precision")}
        rows.append(row)
        per = "  ".join(
            f"{n} {row[n]['recall']:5.1f}/{row[n]['iou']:4.1f}" for n in names if n in row
        )
        print(
            f"{name:48s} {row['chunks']:5d} {row['mean_tokens']:6.1f}  R {row['recall']:5.1f}  "
            f"IoU {row['iou']:4.1f}  P {row['precision']:4.1f}  | {per}  ({seconds:.1f}s)",
            flush=True,
        )

    if args.only in ("ours", "all"):
        for spec in args.ours if args.ours is not None else DEFAULT_OURS:
            cfg = parse_ours(spec)
            t0 = time.perf_counter()
            run, vecs = runner.embed(runner.chunk(docs, cfg), cfg)
            res = runner.score(run, vecs, docs, qs, qdocs, qvecs)
            add(f"ours {cfg.name}" if spec != "auto" else "chunk ingest --embed (defaults)", res,
                time.perf_counter() - t0)  # fmt: skip
    if args.only in ("baselines", "all"):
        for name, res, secs in baselines(runner, docs, qs, qdocs, qvecs):
            add(name, res, secs)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1), "utf-8")
    return 0


def baselines(
    runner: Any, docs: list[Any], qs: list[Any], qdocs: list[int], qvecs: np.ndarray
) -> Iterator[tuple[str, dict[str, Any], float]]:
    from chunkwise.retrieval import score_retrieval

    enc = cl100k()
    length = token_len(enc)
    backend = runner.embedder("naive").backend

    def embed(texts: list[str]) -> np.ndarray:
        return np.asarray(backend.encode(texts), dtype=np.float32)

    def score(spans: list[tuple[int, int, int]], texts: list[str]) -> dict[str, Any]:
        res = score_retrieval(spans, embed(texts), qvecs, qs, qdocs, K)
        res["chunks"] = len(spans)
        res["mean_tokens"] = round(float(np.mean([length(t) for t in texts])), 1)
        res["by_document"] = {docs[i].source: v for i, v in res["by_document"].items()}
        return res

    def chroma(split: Callable[[str], list[str]]) -> tuple[dict[str, Any], float]:
        t0 = time.perf_counter()
        spans, texts = [], []
        for i, d in enumerate(docs):
            for t in split(d.text):
                a, b = locate(d.text, t)
                spans.append((i, a, b))
                texts.append(t)
        return score(spans, texts), time.perf_counter() - t0

    yield "Chroma fixed tokens 250/125", *chroma(lambda t: fixed_token_chunks(t, 250, 125, enc))
    yield "Chroma fixed tokens 200/0", *chroma(lambda t: fixed_token_chunks(t, 200, 0, enc))
    yield (
        "Chroma recursive tokens 200/0",
        *chroma(lambda t: recursive_token_chunks(t, 200, 0, length)),
    )
    yield (
        "Chroma recursive tokens 250/0",
        *chroma(lambda t: recursive_token_chunks(t, 250, 0, length)),
    )
    yield (
        "Chroma ClusterSemanticChunker 200",
        *chroma(lambda t: cluster_semantic_chunks(t, 200, embed, length)),
    )
    yield (
        "Chroma ClusterSemanticChunker 400",
        *chroma(lambda t: cluster_semantic_chunks(t, 400, embed, length)),
    )
    for name, split in chonkie_rows():
        t0 = time.perf_counter()
        spans, texts = [], []
        for i, d in enumerate(docs):
            for a, b in split(d.text):
                spans.append((i, a, b))
                texts.append(d.text[a:b])
        yield name, score(spans, texts), time.perf_counter() - t0


def throughput(runner: Any, docs: list[Any]) -> int:
    """Chunks/s and MB/s of ``chunk ingest --embed`` (late) vs ``--embed --naive``, each with its
    default chunking, chunking included, no cache; alternated 3 times, best of each kept."""
    from chunkwise.evaluate import RetrievalConfig

    mb = sum(len(d.text.encode("utf-8")) for d in docs) / 1e6
    cfgs = {"late": RetrievalConfig("auto"), "naive": RetrievalConfig("auto", embedding="naive")}
    for cfg in cfgs.values():
        runner.embed(runner.chunk(docs, cfg), cfg)  # warm-up (model load, first passes)
    best: dict[str, tuple[float, int]] = {}
    for _ in range(3):
        for kind, cfg in cfgs.items():
            t0 = time.perf_counter()
            run, _ = runner.embed(runner.chunk(docs, cfg), cfg)
            dt = time.perf_counter() - t0
            n = sum(len(cs) for _, cs in run.docs)
            if kind not in best or dt < best[kind][0]:
                best[kind] = (dt, n)
    for kind, (dt, n) in best.items():
        print(f"{kind:6s} {n:4d} chunks  {n / dt:7.2f} chunks/s  {mb / dt:8.5f} MB/s  ({dt:.2f}s)")
    print(f"late / naive throughput (MB/s): {best['naive'][0] / best['late'][0]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
