"""Images (PNG, JPEG, TIFF, WebP, BMP, GIF): each image (each frame of a multi-page TIFF) is a page.

The image is wrapped in a PDF page by MuPDF and read by the PDF parser, so an image gets exactly
what a scanned PDF gets: OCR with the ``ocr`` extra (elements with bounding boxes in points, reading
order, headings), and the ``vision`` chunker renders it like any page. Without the ``ocr`` extra an
image has no text to chunk: that is a one-line error naming the extra, not a silent empty document.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from chunkwise.errors import ParseError
from chunkwise.parsing import BaseParser
from chunkwise.types import Document, doc_id_for

# Magic bytes -> MuPDF file type; the extension alone would let a renamed file through.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"BM", "bmp"),
)

EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp", ".gif")


def image_type(data: bytes) -> str | None:
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


class ImageParser(BaseParser):
    name = "image"
    extensions = EXTENSIONS
    default_chunker = "section"

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(options)

    def parse_bytes(self, data: bytes, source: str) -> Document:
        kind = image_type(data)
        if kind is None:
            raise ParseError("not an image (unknown or damaged image header)")
        pdf_bytes = _as_pdf(data, kind)
        from chunkwise.parsers.pdf import PdfParser

        opts = {k: v for k, v in self.options.items() if k in ("ocr", "pages", "tables")}
        doc = PdfParser(opts).parse_bytes(pdf_bytes, source)
        if not doc.text.strip():
            if doc.metadata.get("skipped_pages"):
                raise ParseError(
                    "image has no text layer: install the 'ocr' extra (pip install "
                    "'chunkwise[ocr]') to read it, or use --chunker vision --vision-backend openai"
                )
            raise ParseError("no text found in the image")
        meta = dict(doc.metadata)
        meta["mime"] = f"image/{kind}"
        # The id is the image's, not the wrapper PDF's: the vision chunker re-reads the file and
        # checks it is the one that was parsed.
        return dataclasses.replace(doc, doc_id=doc_id_for(data), metadata=meta, parser=self.name)


def _as_pdf(data: bytes, kind: str) -> bytes:
    import pymupdf

    try:
        img = pymupdf.open(stream=data, filetype=kind)
    except Exception as exc:
        raise ParseError(f"damaged {kind} image: {exc}") from exc
    try:
        if img.page_count == 0:
            raise ParseError(f"damaged {kind} image: no frames")
        return bytes(img.convert_to_pdf())
    except ParseError:
        raise
    except Exception as exc:
        raise ParseError(f"damaged {kind} image: {exc}") from exc
    finally:
        img.close()
