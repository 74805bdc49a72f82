"""What ``--chunker auto`` picks per format, and how it scores against every fixed chunker.

For every document of sample_docs/ and ../shared/corpus/ (PDF, HTML, the court decisions of
legal/), each candidate chunker of its format runs on its own, and auto runs as users run it.
All outputs are scored by the intrinsic metrics of ``chunk eval`` (chunkwise.quality). A named peer,
LangChain's RecursiveCharacterTextSplitter sized in the same tokens, is scored the same way.

Printed per format: documents, auto's picks, the mean combined score of auto, of every fixed
chunker and of the peer, on how many documents auto is at least as good as the best fixed
chunker (1e-4 tolerance), the chunking time per document of auto against the parser's default
chunker, and what that does to parse + chunk time.

    .venv/bin/python benchmarks/auto_report.py [--vectors lexical|model] [--legal-limit 4]
        [--max-tokens 512] [--json FILE]

``--vectors model`` scores with all-MiniLM-L6-v2 while auto still chooses with lexical vectors
(its default): a check that the choice holds under another similarity.
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chunkwise.chunkers.auto import CANDIDATES, AutoChunker  # noqa: E402

from chunkwise import quality, registry  # noqa: E402
from chunkwise.chunking import ChunkerConfig  # noqa: E402
from chunkwise.errors import DocumentError  # noqa: E402
from chunkwise.tokenizers import get_tokenizer  # noqa: E402
from chunkwise.types import Chunk, Document  # noqa: E402

SAMPLES = ROOT / "sample_docs"
CORPUS = ROOT.parent / "shared" / "corpus"


PARSE_SECONDS: dict[str, float] = {}


def documents(legal_limit: int) -> Iterator[tuple[str, Document]]:
    """(collection, parsed document) for every readable document."""
    parsers: dict[str, Any] = {}

    def parse(
        path: Path | None, data: bytes | None, source: str, hint: str | None = None
    ) -> Document | None:
        name = hint or registry.parser_for(source) or "text"
        if name not in parsers:
            parsers[name] = registry.load("parsers", name)({})
        t = time.perf_counter()
        try:
            doc = parsers[name].parse(data if data is not None else path, source=source)
        except DocumentError:
            return None
        PARSE_SECONDS[source] = time.perf_counter() - t
        return doc if doc.parser else dataclasses.replace(doc, parser=name)

    for folder in sorted(p for p in SAMPLES.iterdir() if p.is_dir() and p.name != "broken"):
        for f in sorted(folder.rglob("*")):
            if f.is_file() and registry.parser_for(str(f)) and not f.name.startswith("LICENSE"):
                doc = parse(f, None, str(f))
                if doc is not None and doc.text.strip():
                    yield "sample_docs", doc
    for sub in ("pdf", "html"):
        for f in sorted((CORPUS / sub).glob("*")):
            if f.is_file() and registry.parser_for(str(f)) and not f.name.startswith("LICENSE"):
                doc = parse(f, None, str(f))
                if doc is not None and doc.text.strip():
                    yield "corpus", doc
    for f in sorted((CORPUS / "legal").glob("*.jsonl.gz")):
        with gzip.open(f, "rt", encoding="utf-8") as fh:
            for i, line in enumerate(fh):
                if i >= legal_limit:
                    break
                text = json.loads(line)["text"]
                doc = parse(None, text.encode("utf-8"), f"{f.name}#{i}", hint="legal")
                if doc is not None:
                    yield "corpus", doc


def langchain_chunks(doc: Document, max_tokens: int, tokenizer: str) -> list[Chunk] | None:
    try:
        from langchain_text_splitters import RecursiveCharacterTextSplitter
    except ImportError:
        return None
    tok = get_tokenizer(tokenizer)
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=max_tokens, chunk_overlap=0, length_function=tok.count, add_start_index=True
    )
    out: list[Chunk] = []
    for i, d in enumerate(splitter.create_documents([doc.text])):
        a = int(d.metadata["start_index"])
        b = a + len(d.page_content)
        out.append(
            Chunk(doc.doc_id, i, a, b, doc.text[a:b], tok.count(d.page_content), tok.name, "lc")
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--vectors", default="lexical", choices=("lexical", "model"))
    ap.add_argument("--legal-limit", type=int, default=4, help="decisions per legal file")
    ap.add_argument("--max-tokens", type=int, default=512)
    ap.add_argument("--json", type=Path, help="also write every per-document row here")
    args = ap.parse_args()

    cfg = ChunkerConfig(max_tokens=args.max_tokens)
    auto = AutoChunker(cfg)
    vec = quality.get_vectorizer(args.vectors)
    fixed: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    for collection, doc in documents(args.legal_limit):
        names = auto.candidates(doc)
        default = auto.default_for(doc.parser)
        scores: dict[str, float] = {}
        times: dict[str, float] = {}
        for name in names:
            if name not in fixed:
                fixed[name] = registry.load("chunkers", name)(cfg)
            t = time.perf_counter()
            chunks = list(fixed[name].chunk(doc))
            times[name] = time.perf_counter() - t
            scores[name] = _score(doc, chunks, vec, auto, args.max_tokens)
        t = time.perf_counter()
        auto_chunks = list(auto.chunk(doc))
        times["auto"] = time.perf_counter() - t
        # Auto holds its own chunker instances: time it warm too (best of two runs).
        t = time.perf_counter()
        list(auto.chunk(doc))
        times["auto"] = min(times["auto"], time.perf_counter() - t)
        # The first run of a chunker pays its warm-up (grammars, tokenizer): time the default
        # again now that everything is loaded, as auto ran after it.
        if default in fixed:
            t = time.perf_counter()
            list(fixed[default].chunk(doc))
            times[default] = min(times[default], time.perf_counter() - t)
        scores["auto"] = _score(doc, auto_chunks, vec, auto, args.max_tokens)
        lc = langchain_chunks(doc, args.max_tokens, cfg.tokenizer)
        if lc:
            scores["langchain"] = _score(doc, lc, vec, auto, args.max_tokens)
        rows.append(
            {
                "collection": collection,
                "source": doc.source,
                "format": doc.parser,
                "chars": len(doc.text),
                "chosen": auto_chunks[0].metadata["auto"]["chosen"] if auto_chunks else None,
                "default": default,
                "scores": scores,
                "seconds": times,
                "parse_seconds": PARSE_SECONDS.get(doc.source, 0.0),
            }
        )
        print(
            f"{doc.parser:8} {Path(doc.source).name[:40]:40} -> {rows[-1]['chosen']:9} "
            + " ".join(f"{k}={v:.3f}" for k, v in scores.items()),
            file=sys.stderr,
        )
    _print(rows, args)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1), encoding="utf-8")


def _score(
    doc: Document, chunks: list[Chunk], vec: Any, auto: AutoChunker, max_tokens: int
) -> float:
    if not chunks:
        return 0.0
    return quality.score(
        doc, chunks, size=auto.size, vectorizer=vec, max_tokens=max_tokens
    ).combined


def _print(rows: list[dict[str, Any]], args: argparse.Namespace) -> None:
    formats = sorted({r["format"] for r in rows})
    print(
        f"\nauto vs fixed chunkers, combined intrinsic score ({args.vectors} similarity, "
        f"--max-tokens {args.max_tokens})\n"
    )
    header = (
        f"{'format':8} {'docs':>4}  {'auto picks':32} {'auto':>6}  {'fixed chunkers (mean)':44} "
        f"{'langchain':>9}  {'auto>=best':>10}  {'auto s/doc':>10} {'default s/doc':>13} "
        f"{'parse+auto / parse+default':>26}"
    )
    print(header)
    print("-" * len(header))
    total = ok = 0
    for fmt in [*formats, "ALL"]:
        rs = rows if fmt == "ALL" else [r for r in rows if r["format"] == fmt]
        picks: dict[str, int] = {}
        for r in rs:
            picks[r["chosen"]] = picks.get(r["chosen"], 0) + 1
        names = [n for n in CANDIDATES.get(fmt, ()) if any(n in r["scores"] for r in rs)]
        if fmt == "ALL":
            names = sorted({n for r in rs for n in r["scores"]} - {"auto", "langchain"})
        fixed_txt = " ".join(
            f"{n}={_mean([r['scores'][n] for r in rs if n in r['scores']]):.3f}" for n in names
        )
        good = sum(
            1
            for r in rs
            if r["scores"]["auto"]
            >= max(v for k, v in r["scores"].items() if k not in ("auto", "langchain")) - 1e-4
        )
        if fmt != "ALL":
            total += len(rs)
            ok += good
        lc = [r["scores"]["langchain"] for r in rs if "langchain" in r["scores"]]
        pick_txt = " ".join(f"{k} {v}" for k, v in sorted(picks.items()))
        auto_t = _mean([r["seconds"]["auto"] for r in rs])
        def_t = _mean([r["seconds"].get(r["default"], float("nan")) for r in rs])
        parse_t = _mean([r["parse_seconds"] for r in rs])
        overhead = (parse_t + auto_t) / (parse_t + def_t) if parse_t + def_t else float("nan")
        print(
            f"{fmt:8} {len(rs):>4}  {pick_txt:32} {_mean([r['scores']['auto'] for r in rs]):6.3f}  "
            f"{fixed_txt:44} {(_mean(lc) if lc else float('nan')):9.3f}  "
            f"{good:>4}/{len(rs):<5}  {auto_t:10.3f} {def_t:13.3f} {overhead:25.2f}x"
        )
    print(f"\nauto at least as good as the best fixed chunker on {ok}/{total} documents")


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs) if xs else float("nan")


if __name__ == "__main__":
    main()
