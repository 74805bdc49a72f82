"""Options of the built-in parsers (see ``chunkwise.options``). Kept apart from the parsers so
the registry can list and build them without importing a parser."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from chunkwise.options import Options, option


def _check_pages(spec: Any) -> None:
    from chunkwise.parsers.pdf import parse_page_ranges

    parse_page_ranges(spec)


@dataclass(frozen=True)
class TextOptions(Options):
    plugin: ClassVar[str] = "text"

    detect_legal: bool = option(
        True,
        "read .txt files that look legal (decisions, statutes, contracts) with the legal parser",
    )


@dataclass(frozen=True)
class HtmlOptions(Options):
    plugin: ClassVar[str] = "html"

    mode: str = option(
        "article",
        "article (main content only) or full (every visible block)",
        choices=("article", "full"),
        flag="--html-mode",
    )


_OCR_CHOICES = ("auto", "off")


@dataclass(frozen=True)
class PdfOptions(Options):
    plugin: ClassVar[str] = "pdf"

    pages: str | None = option(
        None, "only these pages, e.g. 3-7 or 1,4,9- (1-based)", flag="--pages", check=_check_pages
    )
    tables: bool = option(True, "detect tables (rows and cells as elements)")
    ocr: str = option(
        "auto",
        "pages without a text layer: auto (OCR when the ocr extra is installed) or off",
        choices=_OCR_CHOICES,
    )
    dehyphenate: bool = option(True, "join words hyphenated across line ends")


@dataclass(frozen=True)
class ImageOptions(Options):
    """Images are read through the PDF parser, with these of its options."""

    plugin: ClassVar[str] = "image"

    ocr: str = option(
        "auto", "auto (OCR when the ocr extra is installed) or off", choices=_OCR_CHOICES
    )
    tables: bool = option(True, "detect tables in the OCR'd text")


@dataclass(frozen=True)
class XlsxOptions(Options):
    plugin: ClassVar[str] = "xlsx"

    hidden_sheets: bool = option(False, "read hidden sheets too (always listed in metadata)")


@dataclass(frozen=True)
class CodeOptions(Options):
    plugin: ClassVar[str] = "code"

    language: str | None = option(
        None,
        "language of files without a known extension or shebang (e.g. rust, py)",
        flag="--language",
    )
