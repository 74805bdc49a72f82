"""A second set of unseen text PDFs, typeset from HTML manuals Debian ships (for pdf_parse.py).

    .venv/bin/python benchmarks/unseen_pdfs.py OUT_DIR

The machine holds only two real PDFs outside the corpus (the held-out manuals); these are typeset
by MuPDF's Story engine (HTML -> PDF, US Letter, 54 pt margins) from HTML the parser was never
tuned on: Debian's Python policy (19 pages) and Underscore.js's manual (47 pages). Producer and
layout differ from pdfTeX's, so a speed figure holds on more than one kind of file.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

SOURCES = {
    "python-policy.pdf": "/usr/share/doc/python3/python-policy.html",
    "underscore.pdf": "/usr/share/doc/libjs-underscore/index.html",
}


def build(out: Path) -> list[Path]:
    import pymupdf

    out.mkdir(parents=True, exist_ok=True)
    made = []
    for name, src in SOURCES.items():
        if not Path(src).is_file():
            continue
        html = Path(src).read_text(encoding="utf-8", errors="replace")
        html = re.sub(r"(?is)<(script|style)\b.*?</\1>", "", html)
        story = pymupdf.Story(html=html)
        writer = pymupdf.DocumentWriter(str(out / name))
        page = pymupdf.paper_rect("letter")
        body = pymupdf.Rect(page.x0 + 54, page.y0 + 54, page.x1 - 54, page.y1 - 54)
        more = 1
        while more:
            dev = writer.begin_page(page)
            more, _ = story.place(body)
            story.draw(dev)
            writer.end_page()
        writer.close()
        made.append(out / name)
    return made


if __name__ == "__main__":
    for p in build(Path(sys.argv[1] if len(sys.argv) > 1 else "unseen-pdfs")):
        print(p)
