"""The vision chunker (layout backend) and the PDF parser read the same words from the same pages:
they share one line assembly (parsers/pdf_text.py) and one table-cell reader
(``parsers.pdf.cell_texts``). Before, the layout reader glued words ("WehavechosenthePub
TabNetdataset", "Laboreipsumsitest.") and cut table words ("Hand", "gun").

Every readable PDF of the corpus and of sample_docs/pdf is checked: no vision word that the parser
does not have (a glued or cut word would be one), and the parser's words are found in the vision
chunks. OCR is off so both read the same text layer. Exceptions, by design: transcript line
numbers (numbers of one or two digits), which the parser drops as margin marks."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from chunkwise.chunkers.options import VisionOptions
from chunkwise.chunkers.vision import VisionChunker
from chunkwise.parsers.pdf import PdfParser

from chunkwise.chunking import ChunkerConfig
from chunkwise.errors import ParseError
from tests.conftest import CORPUS, SAMPLE_DOCS

_WORD = re.compile(r"\w+")
PDFS = sorted(
    {p.name: p for d in (CORPUS / "pdf", SAMPLE_DOCS / "pdf") for p in d.glob("*.pdf")}.values()
)
# Broken on purpose (encrypted; 0 bytes): the parser refuses them, so there is nothing to compare.
UNREADABLE = {"password-example.pdf", "empty.pdf"}


def _words(text: str) -> list[str]:
    return [w.casefold() for w in _WORD.findall(text)]


@pytest.mark.slow
@pytest.mark.parametrize("path", PDFS, ids=[p.name for p in PDFS])
def test_vision_chunks_have_the_parsers_words(path: Path) -> None:
    if path.name in UNREADABLE:
        with pytest.raises(ParseError):
            PdfParser().parse(path)
        return
    doc = PdfParser().parse(path)
    config = ChunkerConfig(
        max_tokens=512, keep_furniture=True, options={"vision": VisionOptions(ocr=False)}
    )
    chunks = list(VisionChunker(config).chunk(doc))
    parsed = Counter(_words(doc.text))
    seen = Counter(w for c in chunks for w in _words(c.text))
    extra = sorted(w for w in seen if w not in parsed and not re.fullmatch(r"\d{1,2}", w))
    assert extra == [], f"words the parser does not have (glued or cut?): {extra[:20]}"
    missing = parsed - seen
    assert sum(missing.values()) <= 0.01 * sum(parsed.values()), missing.most_common(20)


def _picture_page(path: Path) -> None:
    """A page whose labelled chart (text drawn over an image) the layout model calls a picture."""
    import numpy as np
    import pymupdf

    doc = pymupdf.open()
    page = doc.new_page(width=595, height=842)
    page.insert_text((60, 80), "Quarterly figures", fontsize=16)
    body = "The chart below shows the figures of each region for the last quarter. " * 3
    page.insert_textbox(pymupdf.Rect(60, 100, 535, 200), body, fontsize=10)
    y, x = np.mgrid[0:300, 0:475]
    rgb = np.stack([x * 255 // 475, y * 255 // 300, np.full_like(x, 128)], axis=-1)
    pix = pymupdf.Pixmap(pymupdf.csRGB, 475, 300, rgb.astype(np.uint8).tobytes(), False)
    page.insert_image(pymupdf.Rect(60, 220, 535, 520), pixmap=pix)
    for i, label in enumerate(["North 120", "South 95", "East 143", "West 77"]):
        page.insert_text((90 + i * 110, 300 + i * 40), label, fontsize=9, color=(1, 1, 1))
    page.insert_text((60, 540), "Figure 1. Units by region.", fontsize=9)
    doc.save(path)


def test_text_of_a_region_called_picture_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "chart.pdf"
    _picture_page(path)
    doc = PdfParser().parse(path)
    chunks = list(VisionChunker(ChunkerConfig(max_tokens=512)).chunk(doc))
    text = "\n".join(c.text for c in chunks)
    for label in ("North 120", "South 95", "East 143", "West 77"):
        assert label in text
    assert Counter(_words(doc.text)) - Counter(_words(text)) == Counter()
