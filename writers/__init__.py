"""Output writers (JSONL, Parquet, LanceDB). ``BaseWriter`` gives the optional hooks of
``chunkwise.protocols.Writer`` their no-op defaults."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any


class BaseWriter:
    name: str = ""
    # Records reach the reader as they are written (a stream), not when ``close`` publishes them.
    durable_writes: bool = False
    # A pure function from a document's records to the bytes ``write_encoded`` takes, for writers
    # whose output can be encoded away from them (in a worker process); None: records only.
    encoder: Callable[[Iterable[dict[str, Any]]], list[bytes]] | None = None

    def begin(self, settings: Mapping[str, str], *, incremental: bool) -> None:
        """The run's settings, before the first record (a table records them)."""

    def write(self, records: Iterable[dict[str, Any]]) -> None:
        raise NotImplementedError

    def write_encoded(self, blocks: list[bytes]) -> None:
        """One document's output, as ``encoder`` made it from its records."""
        raise NotImplementedError

    def delete(self, records: Iterable[dict[str, Any]]) -> None:
        """Retire a file's previous chunks; only writers that keep a table act on it."""

    def close(self) -> None:
        raise NotImplementedError

    def abort(self) -> None:
        raise NotImplementedError
