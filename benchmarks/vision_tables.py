"""Vision chunker benchmark: cross-page tables kept whole, and layout-backend speed on the CPU.

Builds PDFs whose ruled tables run over two to four pages (known rows, some with the header repeated
on each page, some without, different widths), parses them with the PDF parser, and chunks the
same Document with the vision chunker (layout backend), the S2 chunker and the recursive chunker,
all in this run. Per cross-page table it reports:

- rows intact: share of table rows found whole (all cells, in order) inside a single chunk;
- header on every piece: share of the chunks holding rows of the table that also hold its header;
- kept whole: share of tables with every row intact and the header on every piece (the table can
  be read back as one logical table from its chunks).

Text is compared on letters and digits only, so "ALD-001 | 10,000" and "ALD 001 - 10000 ," match
(each chunker is judged on what it kept, not on the parser's punctuation).

Speed: pages/s of the layout page reader (render + ONNX layout analysis + stitching) on the CPU,
on the generated PDFs and on the multi-page PDFs of ../shared/corpus/pdf/, next to the time the
peers take to chunk the same parsed documents.

Run: .venv/bin/python benchmarks/vision_tables.py [--max-tokens 512] [--corpus ../shared/corpus/pdf]
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WORDS = (
    "alder birch cedar dogwood elm fir ginkgo hazel ivy juniper kapok larch maple nutmeg oak pine "
    "quince rowan spruce teak"
).split()


@dataclass
class TableSpec:
    name: str
    header: list[str]
    rows: list[list[str]]
    repeat_header: bool
    font: float = 10
    page_height: float = 792


def make_specs() -> list[TableSpec]:
    specs = []
    variants = [
        ("inventory", ["Item", "Site", "Qty", "Unit price", "Total"], 70, True, 10, 792),
        ("ledger", ["Date", "Account", "Memo", "Debit", "Credit", "Balance"], 95, False, 9, 792),
        ("staff", ["Name", "Team", "Room"], 60, True, 11, 612),
        ("survey", ["Question", "Yes", "No", "Unsure"], 120, False, 10, 792),
        ("prices", ["Code", "Product", "EUR", "USD", "GBP", "JPY", "CHF"], 80, True, 8, 842),
        ("schedule", ["Week", "Topic", "Reading", "Due"], 55, False, 12, 792),
    ]
    for k, (name, header, n, repeat, font, height) in enumerate(variants):
        rows = []
        for i in range(n):
            row = []
            for j, _ in enumerate(header):
                w = WORDS[(i * 7 + j * 3 + k) % len(WORDS)]
                if j == 0:
                    row.append(f"{w.title()} {i + 1}")
                elif j % 2:
                    row.append(f"{((i + 3) * (j + 11) * 37 + k) % 9973:,}")
                else:
                    row.append(f"{w} {WORDS[(i + j) % len(WORDS)]}")
            rows.append(row)
        specs.append(TableSpec(name, header, rows, repeat, font, height))
    return specs


def build_pdf(spec: TableSpec, path: Path) -> None:
    import pymupdf

    doc = pymupdf.open()
    width, height = 612, spec.page_height
    left, right = 54, 558
    ncol = len(spec.header)
    xs = [left + (right - left) * j / ncol for j in range(ncol + 1)]
    row_h = spec.font * 1.8

    def new_page() -> tuple[Any, float]:
        page = doc.new_page(width=width, height=height)
        page.insert_text((left, 36), f"{spec.name.title()} register", fontsize=8)
        page.insert_text((width / 2, height - 30), f"{doc.page_count}", fontsize=8)
        return page, 70.0

    def row(page: Any, y: float, cells: list[str], bold: bool) -> float:
        for j, c in enumerate(cells):
            page.insert_text(
                (xs[j] + 3, y + spec.font * 1.3), c, fontsize=spec.font,
                fontname="hebo" if bold else "helv",
            )  # fmt: skip
        shape = page.new_shape()
        shape.draw_rect(pymupdf.Rect(left, y, right, y + row_h))
        for x in xs[1:-1]:
            shape.draw_line((x, y), (x, y + row_h))
        shape.finish(width=0.5)
        shape.commit()
        return y + row_h

    page, y = new_page()
    page.insert_text((left, y), f"{spec.name.title()} report", fontsize=18, fontname="hebo")
    y += 16
    rect = pymupdf.Rect(left, y, right, y + 60)
    page.insert_textbox(
        rect,
        f"This section lists the {spec.name} records of the year. The table continues over the "
        "following pages and ends with a short note.",
        fontsize=11,
    )
    y += 50
    y = row(page, y, spec.header, True)
    for r in spec.rows:
        if y + row_h > height - 60:
            page, y = new_page()
            if spec.repeat_header:
                y = row(page, y, spec.header, True)
        y = row(page, y, r, False)
    page.insert_text((left, y + 24), "Figures are provisional.", fontsize=11)
    doc.save(path, garbage=4, deflate=True)
    doc.close()


def squeeze(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", text.lower())


def table_scores(spec: TableSpec, chunks: list[Any]) -> tuple[float, float, bool]:
    texts = [squeeze(c.text) for c in chunks]
    header = squeeze("".join(spec.header))
    keys = [squeeze("".join(r)) for r in spec.rows]
    intact = [any(k in t for t in texts) for k in keys]
    # Chunks holding rows of this table: any row's first cell and a later cell.
    firsts = [squeeze(r[0]) for r in spec.rows]
    holders = [t for t in texts if any(f and f in t for f in firsts[1:])]
    with_header = sum(header in t for t in holders)
    rows_ok = sum(intact) / len(keys)
    header_ok = with_header / len(holders) if holders else 0.0
    return rows_ok, header_ok, rows_ok == 1.0 and header_ok == 1.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--max-tokens", type=int, default=512)
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus" / "pdf")
    ap.add_argument("--pages-per-batch", type=int, default=4)
    args = ap.parse_args()

    from chunkwise.chunkers.recursive import RecursiveChunker
    from chunkwise.chunkers.s2 import S2Chunker
    from chunkwise.chunkers.vision import VisionChunker
    from chunkwise.parsers.pdf import PdfParser

    from chunkwise.chunking import ChunkerConfig

    cfg = ChunkerConfig(max_tokens=args.max_tokens)
    chunkers = {
        "vision": VisionChunker(cfg, {"pages_per_batch": args.pages_per_batch}),
        "s2": S2Chunker(cfg, {"semantic": "lexical"}),
        "recursive": RecursiveChunker(ChunkerConfig(max_tokens=args.max_tokens)),
    }
    parser = PdfParser()
    # Warm-up: load the layout model and tokenizer outside the timings.
    with tempfile.TemporaryDirectory() as tmp:
        warm = Path(tmp) / "warm.pdf"
        build_pdf(TableSpec("warm", ["A", "B"], [["a", "1"]] * 3, True), warm)
        list(chunkers["vision"].chunk(parser.parse(warm)))
        for c in chunkers.values():
            list(c.chunk(parser.parse(warm)))

    scores: dict[str, list[tuple[float, float, bool]]] = {n: [] for n in chunkers}
    seconds: dict[str, float] = dict.fromkeys(chunkers, 0.0)
    pages = 0
    with tempfile.TemporaryDirectory() as tmp:
        for spec in make_specs():
            path = Path(tmp) / f"{spec.name}.pdf"
            build_pdf(spec, path)
            doc = parser.parse(path)
            pages += int(doc.metadata.get("pages", 0))
            for name, ch in chunkers.items():
                t = time.perf_counter()
                out = list(ch.chunk(doc))
                seconds[name] += time.perf_counter() - t
                scores[name].append(table_scores(spec, out))
    n_tables = len(make_specs())
    print(f"\nCross-page tables: {n_tables} generated tables over {pages} pages, "
          f"--max-tokens {args.max_tokens}\n")  # fmt: skip
    print("| chunker | tables kept whole | rows intact | header on every piece | s/page |")
    print("|---|---|---|---|---|")
    for name in chunkers:
        sc = scores[name]
        whole = sum(s[2] for s in sc) / n_tables
        rows = sum(s[0] for s in sc) / n_tables
        head = sum(s[1] for s in sc) / n_tables
        print(
            f"| {name} | {whole:.0%} ({sum(s[2] for s in sc)}/{n_tables}) | {rows:.1%} | "
            f"{head:.1%} | {seconds[name] / pages:.3f} |"
        )

    # Layout backend speed on real PDFs (multi-page ones, and every page of the rest).
    real = sorted(p for p in args.corpus.glob("*.pdf") if p.stat().st_size > 0)
    t_layout = t_parse = cpu_layout = 0.0
    real_pages = 0
    peers = {"s2": 0.0, "recursive": 0.0}
    for p in real:
        try:
            t = time.perf_counter()
            doc = parser.parse(p)
            t_parse += time.perf_counter() - t
        except Exception:  # broken samples of the corpus (encrypted, empty)
            continue
        t, c = time.perf_counter(), time.process_time()
        list(chunkers["vision"].chunk(doc))
        t_layout += time.perf_counter() - t
        cpu_layout += time.process_time() - c
        for name in peers:
            t = time.perf_counter()
            list(chunkers[name].chunk(doc))
            peers[name] += time.perf_counter() - t
        real_pages += int(doc.metadata.get("pages", 0))
    if real_pages:
        print(f"\nLayout backend on the CPU, {real_pages} pages of {args.corpus}:\n")
        print("| step | seconds | pages/s |")
        print("|---|---|---|")
        print(f"| pdf parse (shared by all) | {t_parse:.2f} | {real_pages / t_parse:.2f} |")
        print(f"| vision chunk (layout) | {t_layout:.2f} | {real_pages / t_layout:.2f} |")
        # CPU seconds of all threads (ONNX Runtime runs several): the cost on an idle machine.
        print(
            f"| vision chunk (layout), CPU time | {cpu_layout:.2f} | "
            f"{real_pages / cpu_layout:.2f} |"
        )
        for name, sec in peers.items():
            print(f"| {name} chunk | {sec:.2f} | {real_pages / max(sec, 1e-9):.1f} |")


if __name__ == "__main__":
    main()
