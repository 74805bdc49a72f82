"""The one-line account of a run that ``chunk ingest`` prints on stderr at the end.

Printed whether or not stderr is a terminal (cron logs need the counts too); ``--quiet`` drops it.
"""

from __future__ import annotations

from typing import Any


def summary_line(summary: Any, *, seconds: float, incremental: bool = False) -> str:
    """E.g. ``chunk: 139 documents chunked, 2 failed, 195 skipped (190 unsupported format,
    5 empty), 1520 chunks written in 12.3 s``."""
    chunked = summary.documents - summary.failed
    parts = [f"{chunked} documents chunked", f"{summary.failed} failed"]
    ignored = sum(summary.ignored.values())
    skipped = f"{ignored} skipped"
    if ignored:
        by_reason = sorted(summary.ignored.items(), key=lambda kv: (-kv[1], kv[0]))
        skipped += " (" + ", ".join(f"{n} {reason}" for reason, n in by_reason) + ")"
    parts.append(skipped)
    if incremental:
        parts.append(f"{summary.skipped} unchanged")
        if summary.deleted:
            parts.append(f"{summary.deleted} deletes")
    parts.append(f"{summary.chunks} chunks written in {seconds:.1f} s")
    return "chunk: " + ", ".join(parts)


def parse_size(text: str) -> int:
    """``512M``, ``2G``, ``1.5GiB`` or a number of bytes -> bytes (ValueError if malformed)."""
    units = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
    s = text.strip().lower().removesuffix("ib").removesuffix("b")
    unit = s[-1:] if s[-1:] in units and s[-1:] else ""
    number = float(s[: len(s) - len(unit)])
    value = int(number * units[unit])
    if value <= 0:
        raise ValueError(text)
    return value
