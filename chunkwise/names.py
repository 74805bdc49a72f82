"""File names that are not valid UTF-8, made printable and reversible.

POSIX file names are bytes. Python decodes them with surrogate escapes (``b"b\\xffname"`` becomes
``"b\\udcffname"``), which no UTF-8 writer, JSON line or SQLite text column accepts. Every name
that reaches a record goes through ``display``: an undecodable byte is written as the four
characters ``\\xff`` (so ``source`` is valid UTF-8 and readable), and ``raw_hex`` gives the exact
bytes (hex) for the records that need them to find the file again (``source_bytes_hex``).
Valid UTF-8 names are unchanged and get no ``source_bytes_hex``.
"""

from __future__ import annotations

import os


def is_clean(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def display(name: str) -> str:
    """``name`` as valid UTF-8 text: undecodable bytes written as ``\\xNN``."""
    if is_clean(name):
        return name
    try:
        raw = name.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that is not an escaped byte
        return name.encode("utf-8", "backslashreplace").decode("utf-8")
    return raw.decode("utf-8", "backslashreplace")


def raw_hex(name: str | os.PathLike[str]) -> str | None:
    """The file name's bytes in hex when it is not valid UTF-8, else None."""
    text = os.fspath(name)
    if is_clean(text):
        return None
    return os.fsencode(text).hex()
