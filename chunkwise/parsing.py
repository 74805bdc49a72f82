"""What every parser shares: reading the input, and turning bytes into text honestly.

Text formats keep the decoded file verbatim as ``Document.text`` (no newline normalisation), so
chunk offsets are character offsets into the file's text.
"""

from __future__ import annotations

import codecs
import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from chunkwise.errors import ParseError
from chunkwise.options import Options
from chunkwise.spans import trim
from chunkwise.types import Document, Element, doc_id_for, plain_elements

# (byte-order mark, codec that consumes it, name reported); UTF-32 LE first: its BOM starts with
# UTF-16 LE's.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32", "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32", "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8-sig", "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16", "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16", "utf-16-be"),
)
# The first bytes of every byte-order mark above.
_BOM_LEADS = frozenset(bom[0] for bom, _, _ in _BOMS)
# Control bytes that never appear in text files (tab, LF, FF, CR, ESC are allowed); NUL is one.
_CONTROL = bytes(b for b in range(32) if b not in (9, 10, 12, 13, 27)) + b"\x7f"
_CONTROL_TABLE = bytes.maketrans(_CONTROL, b"\x00" * len(_CONTROL))
_UTF8_MULTIBYTE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)


def read_file(path: str | Path) -> bytes:
    """The file's bytes, read to the end. Not ``open(path, "rb").read()``: its buffered reader
    makes five system calls more (two fstat, two lseek, an ioctl: 9 against 4 for a small file),
    and each costs a microsecond or two."""
    fd = os.open(path, _READ_FLAGS)
    try:
        parts = [os.read(fd, _FIRST_READ)]
        if len(parts[0]) == _FIRST_READ:
            st = os.fstat(fd)
            if stat.S_ISREG(st.st_mode):
                # A large file: again from the start, in one read of its size (one byte over: it
                # may have grown), so that its bytes are not copied a second time to join them.
                os.lseek(fd, 0, os.SEEK_SET)
                parts = [os.read(fd, st.st_size + 1)]
        while parts[-1]:
            parts.append(os.read(fd, _FIRST_READ))
    finally:
        os.close(fd)
    return parts[0] if len(parts) <= 2 else b"".join(parts)


# Small files in one read. os.read allocates the size asked for before it reads: this much stays
# on the heap (a megabyte would be mapped and unmapped).
_FIRST_READ = 1 << 16
# Windows opens in text mode (CRLF translated) unless told otherwise.
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_BINARY", 0)


class BaseParser:
    """Base for built-in parsers. Subclasses implement ``parse_bytes``."""

    name: ClassVar[str] = ""
    extensions: ClassVar[tuple[str, ...]] = ()
    default_chunker: ClassVar[str] = "recursive"
    # The parser's options dataclass (chunkwise.options); the base class has no fields.
    options_class: ClassVar[type[Options]] = Options

    def __init__(self, options: Options | Mapping[str, Any] | None = None) -> None:
        self.options = self.options_class.coerce(options, self.name)

    @classmethod
    def preload(cls) -> None:
        """Hook: import the heavy libraries parsing needs now. Called before worker processes
        fork, so every worker inherits them instead of importing its own copy."""

    def parse(self, src: str | Path | bytes, *, source: str | None = None) -> Document:
        if isinstance(src, bytes):
            data = src
            source = source or "<bytes>"
        else:
            source = source or str(src)
            try:
                data = read_file(src)
            except OSError as exc:
                raise ParseError(f"cannot read file: {exc.strerror or exc}", stage="read") from exc
        return self.parse_bytes(data, source)

    def parse_bytes(self, data: bytes, source: str) -> Document:
        raise NotImplementedError

    def document(
        self,
        data: bytes,
        source: str,
        text: str,
        elements: list[Element] | tuple[Element, ...],
        metadata: Mapping[str, Any],
    ) -> Document:
        return Document(
            source=source,
            doc_id=doc_id_for(data),
            text=text,
            elements=tuple(elements),
            metadata=dict(metadata),
            parser=self.name,
        )


def _looks_utf16(sample: bytes) -> str | None:
    """UTF-16 without a BOM: mostly-ASCII text has a NUL in every other byte."""
    if len(sample) < 4:
        return None
    even = sample[0::2]
    odd = sample[1::2]
    if odd.count(0) > 0.7 * len(odd) and even.count(0) < 0.1 * len(even):
        return "utf-16-le"
    if even.count(0) > 0.7 * len(even) and odd.count(0) < 0.1 * len(odd):
        return "utf-16-be"
    return None


def decode_text(data: bytes, *, allow_empty: bool = False) -> tuple[str, str]:
    """Decode file bytes into text; returns (text, encoding).

    Raises ParseError with a one-line reason for empty, binary and corrupt input.
    """
    if not data:
        if allow_empty:
            return "", "utf-8"
        raise ParseError("empty file (0 bytes)")
    if data[0] in _BOM_LEADS:
        for bom, codec, enc in _BOMS:
            if data.startswith(bom):
                try:
                    return data.decode(codec), enc
                except UnicodeDecodeError as exc:
                    raise ParseError(
                        f"invalid {enc} text after its byte-order mark: {exc.reason} "
                        f"at byte {exc.start}"
                    ) from exc
    sample = data[:65536]
    # One pass for both checks: most text has neither a NUL nor another control byte.
    zeroed = sample.translate(_CONTROL_TABLE)
    if 0 in zeroed:
        if b"\x00" in sample:
            enc16 = _looks_utf16(sample)
            if enc16:
                try:
                    return data.decode(enc16), enc16
                except UnicodeDecodeError:
                    pass
            raise ParseError("binary file (contains NUL bytes), not text")
        controls = zeroed.count(0)
        if controls > max(8, len(sample) // 100):
            raise ParseError(
                f"binary file ({controls} control bytes in the first {len(sample)}), not text"
            )
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        utf8_error = exc
    if _mostly_utf8(data):
        # Valid UTF-8 sequences mixed with invalid bytes: a damaged or concatenated file, where any
        # guess would silently corrupt characters.
        raise ParseError(
            f"invalid UTF-8 at byte {utf8_error.start} ({utf8_error.reason}) in a file that is "
            "otherwise UTF-8"
        )
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None or best.encoding is None:
        raise ParseError("not valid UTF-8 and no other text encoding fits; binary file?")
    enc = best.encoding
    if enc in _LATIN_FAMILY and _decodes(data, "cp1252"):
        # Among single-byte Latin code pages the detector's pick is close to a coin toss on short
        # text; Windows-1252 is by far the most common, as browsers assume too.
        enc = "cp1252"
    try:
        return data.decode(enc), enc
    except (UnicodeDecodeError, LookupError) as exc:
        raise ParseError(f"cannot decode as {enc}: {exc}") from exc


_LATIN_FAMILY = frozenset(
    {
        "cp1250",
        "cp1252",
        "cp1254",
        "cp1257",
        "latin_1",
        "iso8859_2",
        "iso8859_9",
        "iso8859_15",
        "iso8859_13",
        "iso8859_4",
        "iso8859_3",
        "iso8859_10",
        "iso8859_14",
        "iso8859_16",
        "mac_roman",
        "mac_latin2",
        "cp850",
        "cp437",
    }
)


_ESCAPED = re.compile("[\udc80-\udcff]")


def _mostly_utf8(data: bytes) -> bool:
    """True when valid UTF-8 sequences outnumber the invalid bytes (a damaged UTF-8 file).

    Legacy double-byte encodings (Big5, GBK, Shift-JIS, EUC-KR) contain byte pairs that happen to
    be valid UTF-8, but only a few among many invalid bytes, so a mere match proves nothing.
    """
    valid = len(_UTF8_MULTIBYTE.findall(data))
    if not valid:
        return False
    invalid = len(_ESCAPED.findall(data.decode("utf-8", "surrogateescape")))
    return 2 * valid >= invalid


def _decodes(data: bytes, enc: str) -> bool:
    try:
        data.decode(enc)
    except UnicodeDecodeError:
        return False
    return True


_BLANK_SPLIT = re.compile(r"\n[ \t]*(?:\r?\n[ \t]*)+")


def paragraph_elements(text: str, start: int = 0, end: int | None = None) -> list[Element]:
    """Blank-line separated paragraphs of text[start:end], whitespace trimmed."""
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    pos = start
    for m in _BLANK_SPLIT.finditer(text, start, end):
        b, after = m.span()
        # Most paragraphs have nothing to trim (the separator took the blank lines): one look at
        # each end instead of the trim loop.
        if pos < b and not (text[pos].isspace() or text[b - 1].isspace()):
            spans.append((pos, b))
        else:
            _append_trimmed(spans, text, pos, b)
        pos = after
    _append_trimmed(spans, text, pos, end)
    return plain_elements("paragraph", spans)


def _append_trimmed(spans: list[tuple[int, int]], text: str, a: int, b: int) -> None:
    a, b = trim(text, a, b)
    if a < b:
        spans.append((a, b))
