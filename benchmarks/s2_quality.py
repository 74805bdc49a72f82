"""S2 against the recursive chunker on the same parsed PDFs.

For every chunk: does it mix two columns (it covers elements of one page that sit in different
columns, by the parser's column labels), does it mix two sections (its content elements have more
than one heading path), does it keep the token cap (recounted exactly)? Also chunk counts, mean
size, coverage of the non-furniture text, and time.

    .venv/bin/python benchmarks/s2_quality.py [--max-tokens 512 256] [--no-model]

Documents: every readable PDF of ../shared/corpus/pdf/, sample_docs/pdf/three-column-journal.pdf,
and (the corpus has no multi-column article) eight generated 2- and 3-column articles whose sections
are runs of paragraphs from the court decisions of ../shared/corpus/legal/ (CC BY 4.0), one decision
per section, set with the generator of tests/parsers/test_pdf_samples.py.

A paragraph that runs on from one column to the next is one paragraph: its second part does not
count as a second column. Two sections are mixed when a chunk holds elements of two heading paths
of which neither contains the other (siblings), not a parent's introduction and its first child.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chunkwise.parsers.pdf import PdfParser  # noqa: E402

from chunkwise.chunking import ChunkerConfig, SpanAnnotator  # noqa: E402
from chunkwise.errors import ParseError  # noqa: E402
from chunkwise.kinds import FURNITURE_KINDS  # noqa: E402
from chunkwise.registry import load  # noqa: E402
from chunkwise.types import Chunk, Document  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "pdf"
LEGAL = ROOT.parent / "shared" / "corpus" / "legal"


def legal_articles(n: int = 8) -> list[tuple[str, bytes]]:
    """Multi-column articles: each section is a run of paragraphs of one court decision."""
    import gzip
    import json

    from tests.parsers.test_pdf_samples import build

    decisions = []
    for f in sorted(LEGAL.glob("*.jsonl.gz")):
        with gzip.open(f, "rt", encoding="utf-8") as fh:
            for line in fh:
                text = json.loads(line)["text"]
                name = text.split("\n", 1)[0].split(",")[0][:40]
                paras = [
                    " ".join(p.split())
                    for p in text.split("\n\n")
                    if 250 <= len(p) <= 1200 and not p.lstrip().startswith(("*", "["))
                ]
                if len(paras) >= 12:
                    decisions.append((name, paras))
    out = []
    for a in range(n):
        sections = []
        for k in range(5):
            name, paras = decisions[(a + 3 * k) % len(decisions)]
            first = (a * 4 + k * 5) % max(1, len(paras) - 4)
            take = paras[first : first + 3 + (a + k) % 2]
            sections.append((f"{k + 1}. {name}", take))
        cols = 3 if a % 2 == 0 else 2
        out.append((f"legal-article-{a + 1}-{cols}col", build(sections, f"Notes {a + 1}", cols)))
    return out


def documents() -> list[Document]:
    out = []
    paths = [
        *sorted(CORPUS.glob("*.pdf")),
        ROOT / "sample_docs" / "pdf" / "three-column-journal.pdf",
    ]
    for p in paths:
        try:
            out.append(PdfParser().parse(p))
        except ParseError:
            continue
    if LEGAL.is_dir():
        for name, data in legal_articles():
            out.append(PdfParser().parse(data, source=name + ".pdf"))
    return out


def _mixed_columns(labels: list[str]) -> bool:
    for i, a in enumerate(labels):
        for b in labels[i + 1 :]:
            if not (a.startswith(b) or b.startswith(a)):
                return True
    return False


def score(doc: Document, chunks: list[Chunk], tokenizer: Any, cap: int) -> dict[str, float]:
    ann = SpanAnnotator(doc)
    col_mix = sec_mix = over = 0
    for c in chunks:
        els = [
            e
            for e in ann.overlapping(c.start, c.end)
            if e.kind not in FURNITURE_KINDS and e.kind != "list" and e.end > e.start
        ]
        by_page: dict[int, list[str]] = {}
        for e in els:
            if not e.attrs.get("continues"):
                by_page.setdefault(e.page or 0, []).append(str(e.attrs.get("column", "")))
        col_mix += any(_mixed_columns(v) for v in by_page.values())
        paths = [tuple(e.attrs.get("headings", ())) for e in els]
        sec_mix += any(
            p[: len(q)] != q and q[: len(p)] != p for i, p in enumerate(paths) for q in paths[i:]
        )
        over += tokenizer.count(c.text) > cap
    content = sum(
        len(doc.text[e.start : e.end].split())
        for e in doc.elements
        if e.kind not in FURNITURE_KINDS and e.kind != "list"
    )
    covered = sum(len(c.text.split()) for c in chunks)
    return {
        "chunks": len(chunks),
        "col_mix": col_mix,
        "sec_mix": sec_mix,
        "over": over,
        "tokens": sum(c.n_tokens for c in chunks),
        "covered": min(covered, content),
        "content": content,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--max-tokens", type=int, nargs="+", default=[512, 256])
    ap.add_argument("--no-model", action="store_true", help="skip S2 with the embedding model")
    args = ap.parse_args()
    docs = documents()
    variants: list[tuple[str, str, dict[str, Any]]] = [
        ("recursive", "recursive", {}),
        ("s2 lexical", "s2", {"semantic": "lexical"}),
    ]
    if not args.no_model:
        variants.append(("s2 model", "s2", {"semantic": "model"}))
    pages = sum(len(d.metadata.get("page_sizes", {})) for d in docs)
    print(f"{len(docs)} PDFs, {pages} pages")
    header = (
        f"{'max':>4} {'chunker':<12} {'chunks':>6} {'mean tok':>8} {'mix cols':>9} "
        f"{'mix sects':>9} {'cap ok':>7} {'coverage':>8} {'ms/doc':>7}"
    )
    print(header)
    print("-" * len(header))
    for cap in args.max_tokens:
        for label, name, extra in variants:
            chunker = load("chunkers", name)(ChunkerConfig(max_tokens=cap), extra)
            if extra.get("semantic") == "model":
                list(chunker.chunk(docs[0]))  # load the model outside the timing
            tot: dict[str, float] = {}
            t0 = time.perf_counter()
            results = [(d, list(chunker.chunk(d))) for d in docs]
            elapsed = time.perf_counter() - t0
            for d, chunks in results:
                for k, v in score(d, chunks, chunker.tokenizer, cap).items():
                    tot[k] = tot.get(k, 0) + v
            n = max(tot["chunks"], 1)
            print(
                f"{cap:>4} {label:<12} {int(tot['chunks']):>6} {tot['tokens'] / n:>8.0f} "
                f"{tot['col_mix'] / n:>9.1%} {tot['sec_mix'] / n:>9.1%} "
                f"{1 - tot['over'] / n:>7.1%} {tot['covered'] / max(tot['content'], 1):>8.1%} "
                f"{elapsed / len(docs) * 1000:>7.1f}"
            )


if __name__ == "__main__":
    main()
