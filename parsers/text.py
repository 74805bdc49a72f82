"""Plain text: the decoded file verbatim, paragraphs as elements."""

from __future__ import annotations

import functools
from types import ModuleType

from chunkwise.parsers.options import TextOptions

from chunkwise.parsing import BaseParser, decode_text, paragraph_elements
from chunkwise.types import Document


class TextParser(BaseParser):
    name = "text"
    default_chunker = "recursive"
    options_class = TextOptions
    options: TextOptions

    @classmethod
    def preload(cls) -> None:
        # The legal detector's module (~6 ms to import: its regexes) runs on every text file.
        _legal()

    def parse_bytes(self, data: bytes, source: str) -> Document:
        text, encoding = decode_text(data)
        meta = {
            "encoding": encoding,
            "mime": "text/plain",
            "n_lines": text.count("\n") + (1 if text and not text.endswith("\n") else 0),
        }
        if self.options.detect_legal:
            # Legal .txt files (decisions, statutes, contracts) get the legal structure pass; the
            # detector reads only the head of the file.
            legal = _legal()
            if legal.looks_legal(text):
                return legal.LegalParser().from_text(data, source, text, meta)
        return self.document(data, source, text, paragraph_elements(text), meta)


@functools.cache
def _legal() -> ModuleType:
    """The legal parser's module, imported on first use (an import statement costs ~0.6 us a
    file even when the module is loaded)."""
    from chunkwise.parsers import legal

    return legal
