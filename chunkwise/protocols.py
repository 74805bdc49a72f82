"""The contracts between the pipeline and its plugins. Built-ins implement them through
``chunkwise.parsing.BaseParser``, ``chunkwise.chunking.BaseChunker``,
``chunkwise.writers.BaseWriter`` and the embedders in ``chunkwise.embedders``; a third-party
plugin implements every member (the optional hooks have no-op defaults in the base classes), so
the pipeline calls them without probing.

Types only: importing this module imports nothing heavy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

if TYPE_CHECKING:
    from chunkwise.chunking import ChunkerConfig
    from chunkwise.options import Options
    from chunkwise.types import Chunk, Document

Progress = Callable[[int, int], None]
# A document's records -> the bytes a writer takes in ``write_encoded``.
Encoder = Callable[[Iterable[dict[str, Any]]], list[bytes]]


class Parser(Protocol):
    """Bytes or a file -> one :class:`~chunkwise.types.Document` (text and layout elements)."""

    name: ClassVar[str]
    extensions: ClassVar[tuple[str, ...]]
    # What ``auto`` starts from for this format.
    default_chunker: ClassVar[str]
    options_class: ClassVar[type[Options]]
    options: Options

    def parse(self, src: str | Path | bytes, *, source: str | None = None) -> Document: ...


class Chunker(Protocol):
    """A Document -> chunks with exact offsets and token counts, none over the cap."""

    name: ClassVar[str]
    # Chunks may carry rewritten text (``Chunk.synthetic``).
    synthetic: ClassVar[bool]
    options_class: ClassVar[type[Options]]
    config: ChunkerConfig
    options: Options

    def chunk(self, doc: Document) -> Iterator[Chunk]: ...

    def attach_source(self, doc: Document, data: bytes) -> None:
        """Hook for input without a path (stdin): a chunker that goes back to the source (vision
        renders pages) keeps the bytes. No-op by default."""


class Writer(Protocol):
    """Records out. Nothing is published before ``close``; ``abort`` leaves no trace."""

    name: ClassVar[str]
    # True when ``write`` hands records to the reader at once (JSONL on a stream), so the state
    # may be committed as documents are written; else only after ``close``.
    durable_writes: bool
    # Optional (read with a default of None): a pure function turning a document's records into
    # what ``write_encoded`` takes, so workers can send finished output instead of chunks.
    encoder: Encoder | None

    def begin(self, settings: Mapping[str, str], *, incremental: bool) -> None:
        """Hook: the run's settings (model, chunker) before the first record. No-op by default."""

    def write(self, records: Iterable[dict[str, Any]]) -> None: ...

    def write_encoded(self, blocks: list[bytes]) -> None:
        """Hook: one document's output made by ``encoder`` (only called when it is not None)."""

    def delete(self, records: Iterable[dict[str, Any]]) -> None:
        """Hook: retire a file's previous chunks (``--state``), for writers that keep a table.
        No-op by default: stream outputs carry delete records instead (``--emit-deletes``)."""

    def close(self) -> None: ...

    def abort(self) -> None: ...


class Embedder(Protocol):
    """Adds ``embedding`` and ``embedding_model`` to chunks, a batch of documents at a time."""

    name: ClassVar[str]
    options_class: ClassVar[type[Options]]
    config: Options
    model_name: str
    on_progress: Progress | None

    def load(self) -> Embedder:
        """Load the model now (usage errors surface before any document is read)."""

    def chunk_limit(self) -> int | None:
        """Most tokens of the model's tokenizer a chunk may have to be embedded whole; None when
        the embedder sees past any limit (late chunking's windows)."""

    def embed(self, docs: list[Document], chunks: list[list[Chunk]]) -> list[list[Chunk]]: ...
