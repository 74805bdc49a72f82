"""Zip containers (DOCX, PPTX, XLSX, EPUB, ODF) read defensively.

Office files are zips, and a zip is the easiest way to hand a parser something hostile: a
truncated download, a password-protected file (an OLE container, not a zip at all), a web page
saved under an ``.xlsx`` name, or a zip bomb whose members inflate to gigabytes. ``open_zip``
turns each of these into one clear ``ParseError``; ``SafeZip`` reads members with their
*actual* inflated size counted as it goes (a member header may lie about its size), so no member
and no document can inflate past the limit.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from typing import IO, Any

from chunkwise.errors import ParseError

# Inflated bytes one document may read from its container, all members together.
MAX_INFLATED = 512 * 1024 * 1024
# A member whose declared inflated size is this many times its compressed size is a bomb
# (real XML compresses 5-20x; runs of one repeated byte compress ~1000x).
MAX_RATIO = 200
# Ratios are only checked above this size: tiny members legitimately compress oddly.
RATIO_MIN_SIZE = 1024 * 1024

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_UTF16 = "utf-16-le"


def _ole_reason(data: bytes, what: str) -> str:
    """Why an OLE compound file is not readable as ``what``."""
    if "EncryptionInfo".encode(_UTF16) in data or "EncryptedPackage".encode(_UTF16) in data:
        return (
            f"password-protected {what} (encrypted OLE container, not a zip); remove the password"
        )
    legacy = {
        "WordDocument": "legacy Word 97-2003 .doc",
        "Workbook": "legacy Excel 97-2003 .xls",
        "PowerPoint Document": "legacy PowerPoint 97-2003 .ppt",
        "__substg1.0_": "Outlook .msg message",
    }
    for stream, name in legacy.items():
        if stream.encode(_UTF16) in data:
            return f"{name} file (OLE container), not a {what}; save it in the newer format"
    return f"OLE compound file (not a zip), not a {what}"


def _not_zip_reason(data: bytes, what: str) -> str:
    head = data[:1024].lstrip().lower()
    if not data:
        return "empty file (0 bytes)"
    if data.startswith(OLE_MAGIC):
        return _ole_reason(data, what)
    if head.startswith((b"<!doctype html", b"<html", b"<?xml", b"<table", b"<head", b"<meta")):
        kind = "an XML file" if head.startswith(b"<?xml") and b"<html" not in head else "HTML"
        return f"not a {what}: the file is {kind} (a web page or export saved under this name?)"
    if head.startswith(b"%pdf-"):
        return f"not a {what}: the file is a PDF"
    return f"not a {what}: not a zip container"


class SafeZip:
    """A zip whose members are read under an inflated-size budget."""

    def __init__(self, zf: zipfile.ZipFile, what: str, limit: int) -> None:
        self.zf = zf
        self.what = what
        self.limit = limit
        self.used = 0
        self._names = {info.filename for info in zf.infolist()}
        self._lower = {n.lower(): n for n in self._names}

    def names(self) -> list[str]:
        return [i.filename for i in self.zf.infolist()]

    def find(self, name: str) -> str | None:
        """The member called ``name`` (zips written on Windows vary the case)."""
        name = name.lstrip("/")
        if name in self._names:
            return name
        return self._lower.get(name.lower())

    def has(self, name: str) -> bool:
        return self.find(name) is not None

    def open(self, name: str) -> io.BufferedReader:
        """A stream of the member, counting inflated bytes against the budget."""
        real = self.find(name)
        if real is None:
            raise ParseError(f"damaged {self.what}: part {name!r} is missing")
        info = self.zf.getinfo(real)
        if info.flag_bits & 0x1:
            raise ParseError(f"encrypted zip member {name!r}: password-protected {self.what}")
        if info.file_size > self.limit - self.used:
            raise ParseError(
                f"zip bomb? part {name!r} inflates to {info.file_size} bytes, over the "
                f"{self.limit}-byte limit for one document"
            )
        if info.file_size >= RATIO_MIN_SIZE and info.file_size > MAX_RATIO * max(
            info.compress_size, 1
        ):
            raise ParseError(
                f"zip bomb? part {name!r} inflates {info.file_size // max(info.compress_size, 1)}"
                f"x ({info.compress_size} -> {info.file_size} bytes)"
            )
        try:
            raw = self.zf.open(real)
        except (zipfile.BadZipFile, NotImplementedError, OSError, EOFError, ValueError) as exc:
            raise ParseError(f"corrupt {self.what}: cannot read part {name!r}: {exc}") from exc
        return io.BufferedReader(_Counted(raw, self, name), 1 << 16)

    def read(self, name: str) -> bytes:
        with self.open(name) as fh:
            return fh.read()

    def read_optional(self, name: str | None) -> bytes | None:
        if name is None or not self.has(name):
            return None
        return self.read(name)

    def close(self) -> None:
        self.zf.close()


class _Counted(io.RawIOBase):
    """A member stream that fails once more bytes come out than the budget allows."""

    def __init__(self, raw: IO[bytes], owner: SafeZip, name: str) -> None:
        self.raw = raw
        self.owner = owner
        self.name = name

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        try:
            data = self.raw.read(len(b))
        except ParseError:
            raise
        except Exception as exc:  # zlib.error, BadZipFile (CRC), EOFError: damage in the zip
            raise ParseError(
                f"corrupt {self.owner.what}: part {self.name!r} cannot be inflated ({exc})"
            ) from exc
        n = len(data)
        self.owner.used += n
        if self.owner.used > self.owner.limit:
            raise ParseError(
                f"zip bomb? inflated content passes the {self.owner.limit}-byte limit for one "
                f"document while reading {self.name!r}"
            )
        b[:n] = data
        return n

    def close(self) -> None:
        self.raw.close()
        super().close()


def open_zip(data: bytes, what: str, *, limit: int | None = None) -> SafeZip:
    """``data`` as a zip container of a ``what`` ("Word document"), or a ParseError that says
    what the bytes are instead. ``limit``: inflated bytes allowed (default MAX_INFLATED)."""
    if limit is None:
        limit = MAX_INFLATED
    if not data.startswith(_ZIP_MAGICS):
        raise ParseError(_not_zip_reason(data, what))
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise ParseError(f"corrupt or truncated {what} (bad zip: {exc})") from exc
    except (OSError, ValueError, EOFError, NotImplementedError) as exc:
        # NotImplementedError: a damaged header claiming a zip version or method we lack.
        raise ParseError(f"corrupt or truncated {what} ({exc})") from exc
    declared = sum(i.file_size for i in zf.infolist())
    if declared > limit * 4:
        # A container may hold media we never read, so the declared total only fails when it is
        # far out of reach; what is actually inflated is counted as it is read.
        zf.close()
        raise ParseError(
            f"zip bomb? members declare {declared} inflated bytes (limit {limit} per document)"
        )
    return SafeZip(zf, what, limit)


def iter_members(zf: SafeZip, prefix: str, suffix: str) -> Iterator[str]:
    for name in zf.names():
        if name.startswith(prefix) and name.endswith(suffix):
            yield name


def parse_xml(zf: SafeZip, name: str) -> Any:
    """A member parsed as XML: no entity expansion, no network, a clear error when broken."""
    from lxml import etree

    with zf.open(name) as fh:
        try:
            return etree.parse(fh, xml_parser()).getroot()
        except (etree.XMLSyntaxError, OSError) as exc:
            # lxml reports bytes invalid in the declared encoding as an OSError.
            reason = str(exc).split(": ", 1)[-1] if isinstance(exc, OSError) else str(exc)
            raise ParseError(
                f"damaged {zf.what}: part {name!r} is not well-formed XML ({reason})"
            ) from exc


def xml_parser() -> Any:
    from lxml import etree

    # resolve_entities=False: an entity-expansion bomb ("billion laughs") stays unexpanded.
    return etree.XMLParser(
        resolve_entities=False, no_network=True, remove_comments=True, remove_pis=True
    )


def optional_xml(zf: SafeZip, name: str | None) -> Any | None:
    """The root of a member the document can do without (properties, styles): None when it is
    absent or damaged, so that a bonus part never loses the document."""
    if name is None or not zf.has(name):
        return None
    try:
        return parse_xml(zf, name)
    except ParseError:
        return None
