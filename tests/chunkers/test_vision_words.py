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
from chunkwise.chunkers.vision import VisionChunker
from chunkwise.parsers.pdf import PdfParser

from chunkwise.chunking import ChunkerConfig
from chunkwise.errors import ParseError
from tests.conftest import CORPUS, SAMPLE_DOCS

_WORD = re.compile(r"\w+")
PDFS = sorted(
    {p.name: p for d in (CORPUS / "pdf", SAMPLE_DOCS / "pdf") for p in d.glob("*.pdf")}.values()
)


def _words(text: str) -> list[str]:
    return [w.casefold() for w in _WORD.findall(text)]


@pytest.mark.slow
@pytest.mark.parametrize("path", PDFS, ids=[p.name for p in PDFS])
def test_vision_chunks_have_the_parsers_words(path: Path) -> None:
    try:
        doc = PdfParser().parse(path)
    except ParseError:
        pytest.skip("not a readable PDF (the parser's error is tested elsewhere)")
    config = ChunkerConfig(max_tokens=512, keep_furniture=True, extra={"vision_ocr": False})
    chunks = list(VisionChunker(config).chunk(doc))
    parsed = Counter(_words(doc.text))
    seen = Counter(w for c in chunks for w in _words(c.text))
    extra = sorted(w for w in seen if w not in parsed and not re.fullmatch(r"\d{1,2}", w))
    assert extra == [], f"words the parser does not have (glued or cut?): {extra[:20]}"
    missing = parsed - seen
    assert sum(missing.values()) <= 0.01 * sum(parsed.values()), missing.most_common(20)
