"""PDF parsing speed: chunkwise's PdfParser against pymupdf4llm's page chunks, same files, same run.

    .venv/bin/python benchmarks/pdf_parse.py [--repeat 3] [FILES_OR_FOLDERS...]

Default input: every PDF of ../shared/corpus/pdf/ that opens (encrypted and empty files are left
out for every tool alike) plus sample_docs/pdf/three-column-journal.pdf. Each tool parses every
file ``--repeat`` times; the best round counts (the machine is shared). pymupdf4llm is run three
ways: its default (pymupdf-layout model, OCR allowed), with ``use_ocr=False``, and its legacy
``pymupdf_rag`` path (no layout model). Its progress messages on stdout are swallowed.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CORPUS = ROOT.parent / "shared" / "corpus" / "pdf"


def inputs(args: list[str]) -> list[Path]:
    import pymupdf

    paths: list[Path] = []
    for a in args or [str(CORPUS), str(ROOT / "sample_docs" / "pdf" / "three-column-journal.pdf")]:
        p = Path(a)
        paths.extend(sorted(p.glob("*.pdf")) if p.is_dir() else [p])
    ok = []
    for p in paths:
        try:
            doc = pymupdf.open(p)
        except Exception:
            continue
        if not doc.needs_pass and doc.page_count:
            ok.append(p)
        doc.close()
    return ok


def ours(ocr: str) -> Callable[[Path], int]:
    from chunkwise.parsers.pdf import PdfParser

    parser = PdfParser({"ocr": ocr})

    def run(p: Path) -> int:
        return len(parser.parse(p).elements)

    return run


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    """pymupdf4llm prints progress to stdout, also from its layout worker processes: silence
    file descriptor 1 itself (workers started in here inherit the silence)."""
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def peer(mode: str) -> Callable[[Path], int]:
    import pymupdf4llm

    def run(p: Path) -> int:
        with _quiet_stdout():
            if mode == "rag":
                from pymupdf4llm.helpers import pymupdf_rag

                out: Any = pymupdf_rag.to_markdown(str(p), page_chunks=True, show_progress=False)
            elif mode == "no-ocr":
                out = pymupdf4llm.to_markdown(
                    str(p), page_chunks=True, show_progress=False, use_ocr=False
                )
            else:
                out = pymupdf4llm.to_markdown(str(p), page_chunks=True, show_progress=False)
        return len(out)

    return run


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("paths", nargs="*")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    import pymupdf

    files = inputs(args.paths)
    pages = sum(pymupdf.open(p).page_count for p in files)
    tools: list[tuple[str, Callable[[Path], int], str]] = [
        ("chunkwise pdf", ours("auto"), "elements + page, bbox, kind, heading level/path, tables"),
        ("chunkwise pdf ocr=off", ours("off"), "same"),
        ("pymupdf4llm (layout)", peer("layout"), "Markdown per page, page_boxes"),
        ("pymupdf4llm use_ocr=False", peer("no-ocr"), "Markdown per page, page_boxes"),
        ("pymupdf4llm rag path", peer("rag"), "Markdown per page, no boxes"),
    ]
    for _, fn, _ in tools:  # warm-up: imports, model loads
        with contextlib.suppress(Exception):
            fn(files[0])
    results = []
    for name, fn, gives in tools:
        best = float("inf")
        failed = 0
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            failed = 0
            for p in files:
                try:
                    fn(p)
                except Exception:
                    failed += 1
            best = min(best, time.perf_counter() - t0)
        results.append((name, best, failed, gives))
    base = results[0][1]
    print(f"{len(files)} PDFs, {pages} pages, best of {args.repeat}")
    print(f"{'tool':<27} {'seconds':>8} {'pages/s':>8} {'vs ours':>8} {'failed':>6}  gives")
    for name, secs, failed, gives in results:
        ratio = secs / base
        print(f"{name:<27} {secs:>8.2f} {pages / secs:>8.1f} {ratio:>7.1f}x {failed:>6}  {gives}")


if __name__ == "__main__":
    main()
