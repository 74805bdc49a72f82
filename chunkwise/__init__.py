"""chunkwise: turn folders of documents into retrieval-ready chunks.

    import chunkwise
    chunks = chunkwise.chunk_text(text, chunker="section", format_hint="markdown", max_tokens=256)
    doc = chunkwise.parse("report.pdf", pages="1-3")
    for rec in chunkwise.ingest("docs/", max_tokens=300, opt=["pdf.tables=false"]):
        ...

Options are the CLI's long names (see ``chunkwise.api``); importing this package is light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["__version__", "chunk_text", "ingest", "parse"]

if TYPE_CHECKING:
    from chunkwise.api import chunk_text, ingest, parse


def __getattr__(name: str) -> Any:
    # The API module imports the pipeline lazily; keep `chunk --help` from paying for it.
    if name in ("chunk_text", "ingest", "parse"):
        from chunkwise import api

        return getattr(api, name)
    raise AttributeError(f"module 'chunkwise' has no attribute {name!r}")
