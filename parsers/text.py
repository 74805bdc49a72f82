"""Plain text: the decoded file verbatim, paragraphs as elements."""

from __future__ import annotations

from chunkwise.parsers.options import TextOptions

from chunkwise.parsing import BaseParser, decode_text, paragraph_elements
from chunkwise.types import Document


class TextParser(BaseParser):
    name = "text"
    default_chunker = "recursive"
    options_class = TextOptions
    options: TextOptions

    def parse_bytes(self, data: bytes, source: str) -> Document:
        text, encoding = decode_text(data)
        elements = paragraph_elements(text)
        meta = {
            "encoding": encoding,
            "mime": "text/plain",
            "n_lines": text.count("\n") + (1 if text and not text.endswith("\n") else 0),
        }
        if self.options.detect_legal:
            # Legal .txt files (decisions, statutes, contracts) get the legal structure pass; the
            # detector reads only the head of the file.
            from chunkwise.parsers.legal import LegalParser, looks_legal

            if looks_legal(text):
                return LegalParser().from_text(data, source, text, meta)
        return self.document(data, source, text, elements, meta)
