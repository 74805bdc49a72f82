"""LangChain: ``ChunkwiseLoader`` (files and folders -> chunk ``Document``s, lazily) and
``ChunkwiseTextSplitter`` (``split_documents`` with chunkwise's chunkers).

Both take the CLI's options by their long names (``chunker="recursive"``, ``max_tokens=256``,
``glob=["*.md"]``...). A document that fails becomes an error record, as in ``chunk ingest``: it is
passed to ``on_error`` (default: logged as a one-line warning) and the load goes on.

    from chunkwise.integrations.langchain import ChunkwiseLoader
    docs = ChunkwiseLoader("docs/", max_tokens=256).lazy_load()
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from chunkwise.integrations._ingest import build_options, chunk_text, iter_records
from langchain_core.document_loaders import BaseLoader
from langchain_core.documents import Document
from langchain_text_splitters import TextSplitter

from chunkwise.errors import ErrorRecord

log = logging.getLogger("chunkwise")

__all__ = ["ChunkwiseLoader", "ChunkwiseTextSplitter"]


def _log_error(rec: ErrorRecord) -> None:
    log.warning("%s", json.dumps(rec.to_dict(), ensure_ascii=False))


class ChunkwiseLoader(BaseLoader):
    """One ``Document`` per chunk: ``page_content`` is the chunk text, ``metadata`` the other
    record fields (source, doc_id, index, start/end, pages, bboxes, headings, n_tokens, ...),
    ``id`` the record id. Files are read one at a time, so a large folder streams."""

    def __init__(
        self,
        paths: str | Sequence[str],
        *,
        on_error: Callable[[ErrorRecord], None] | None = None,
        **options: Any,
    ) -> None:
        self.paths = [paths] if isinstance(paths, str) else list(paths)
        self.on_error = on_error or _log_error
        build_options(**options)  # a misspelt option fails here, not at the first file
        self.options = options

    def lazy_load(self) -> Iterator[Document]:
        for rec in iter_records(self.paths, **self.options):
            if isinstance(rec, ErrorRecord):
                self.on_error(rec)
                continue
            meta = {k: v for k, v in rec.items() if k not in ("text", "embedding")}
            yield Document(page_content=rec["text"], metadata=meta, id=rec["id"])


class ChunkwiseTextSplitter(TextSplitter):
    """A ``TextSplitter`` whose chunks come from a chunkwise chunker (default ``recursive``,
    sized in ``max_tokens`` of ``tokenizer``). ``format_hint`` says how to read the text
    (``text``, ``markdown``, ``code``, ``legal``...). ``create_documents``/``split_documents``
    add exact ``start_index`` (with ``add_start_index``) and the chunk's ``headings``."""

    def __init__(
        self,
        chunker: str = "recursive",
        max_tokens: int = 512,
        overlap: int = 0,
        *,
        format_hint: str = "text",
        add_start_index: bool = False,
        **options: Any,
    ) -> None:
        super().__init__(
            chunk_size=max_tokens,
            chunk_overlap=overlap,
            add_start_index=add_start_index,
            strip_whitespace=False,
        )
        self.options = dict(
            options,
            chunker=chunker,
            max_tokens=max_tokens,
            overlap=overlap,
            format_hint=format_hint,
        )
        build_options(**self.options)

    def split_text(self, text: str) -> list[str]:
        if not text.strip():
            return []
        _, chunks = chunk_text(text, **self.options)
        return [c.text for c in chunks]

    def create_documents(
        self, texts: list[str], metadatas: list[dict[Any, Any]] | None = None
    ) -> list[Document]:
        docs = []
        for i, text in enumerate(texts):
            if not text.strip():
                continue
            _, chunks = chunk_text(text, **self.options)
            for c in chunks:
                meta = copy.deepcopy(metadatas[i]) if metadatas else {}
                if self._add_start_index:
                    meta["start_index"] = c.start
                if c.headings:
                    meta["headings"] = list(c.headings)
                docs.append(Document(page_content=c.text, metadata=meta))
        return docs

    def split_documents(self, documents: Iterable[Document]) -> list[Document]:
        docs = list(documents)
        return self.create_documents(
            [d.page_content for d in docs], [dict(d.metadata) for d in docs]
        )
