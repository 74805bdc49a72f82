"""LlamaIndex: ``ChunkwiseReader`` (files and folders -> ``Document``s, or straight to
``TextNode``s with layout) and ``ChunkwiseNodeParser`` (any ``Document`` -> ``TextNode``s cut by a
chunkwise chunker).

Nodes carry ``start_char_idx``/``end_char_idx`` (exact offsets into the document text), SOURCE /
PREVIOUS / NEXT relationships, and the record fields as metadata. Layout and bookkeeping fields
(pages, bboxes, offsets, ids, token counts) are excluded from the text LlamaIndex embeds and from
what it shows the LLM where they are noise; the heading path stays in both (it is context).
Options are the CLI's long names; failed documents become error records passed to ``on_error``
(default: a logged warning), as in ``chunk ingest``.

    from chunkwise.integrations.llamaindex import ChunkwiseReader
    nodes = ChunkwiseReader(max_tokens=256).lazy_load_nodes("docs/")
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from chunkwise.integrations._ingest import build_options, chunk_text, iter_results
from llama_index.core.node_parser import NodeParser
from llama_index.core.readers.base import BaseReader
from llama_index.core.schema import (
    BaseNode,
    Document,
    MetadataMode,
    NodeRelationship,
    RelatedNodeInfo,
    TextNode,
)
from pydantic import Field

from chunkwise.errors import ErrorRecord
from chunkwise.records import FIELDS, chunk_record
from chunkwise.types import Chunk

log = logging.getLogger("chunkwise")

__all__ = ["ChunkwiseNodeParser", "ChunkwiseReader"]

# Kept out of the embedded text: layout and bookkeeping, not meaning.
EMBED_EXCLUDED = [
    f for f in FIELDS if f not in ("text", "headings", "embedding", "embedding_model")
]
# The LLM sees source, pages and headings (for citing), not boxes or ids.
LLM_EXCLUDED = [k for k in EMBED_EXCLUDED if k not in ("source", "pages")]


def _log_error(rec: ErrorRecord) -> None:
    log.warning("%s", json.dumps(rec.to_dict(), ensure_ascii=False))


def _nodes(chunks: Sequence[Chunk], metas: Sequence[dict[str, Any]], source: RelatedNodeInfo,
           ids: Sequence[str]) -> list[TextNode]:  # fmt: skip
    nodes = [
        TextNode(
            id_=node_id,
            text=c.text,
            start_char_idx=c.start,
            end_char_idx=c.end,
            metadata=meta,
            excluded_embed_metadata_keys=[k for k in EMBED_EXCLUDED if k in meta],
            excluded_llm_metadata_keys=[k for k in LLM_EXCLUDED if k in meta],
            relationships={NodeRelationship.SOURCE: source},
        )
        for c, meta, node_id in zip(chunks, metas, ids, strict=True)
    ]
    for prev, node in itertools.pairwise(nodes):
        prev.relationships[NodeRelationship.NEXT] = node.as_related_node_info()
        node.relationships[NodeRelationship.PREVIOUS] = prev.as_related_node_info()
    return nodes


def _record_meta(rec: dict[str, Any]) -> dict[str, Any]:
    meta = {k: v for k, v in rec.items() if k not in ("text", "embedding", "embedding_model")}
    # LlamaIndex stores flat metadata; nested values travel as JSON text.
    meta["bboxes"] = json.dumps(meta["bboxes"]) if meta.get("bboxes") is not None else None
    meta["metadata"] = json.dumps(meta.get("metadata") or {}, ensure_ascii=False)
    return meta


class ChunkwiseReader(BaseReader):
    def __init__(
        self, *, on_error: Callable[[ErrorRecord], None] | None = None, **options: Any
    ) -> None:
        self.on_error = on_error or _log_error
        self.options = build_options(**options)

    def _results(self, paths: str | Sequence[str]) -> Iterator[Any]:
        for doc, chunks, error in iter_results(paths, self.options):
            if error is not None:
                self.on_error(error)
                continue
            yield doc, chunks

    def lazy_load_data(self, paths: str | Sequence[str], **_: Any) -> Iterable[Document]:
        """One ``Document`` per input document (its parsed text; id = chunkwise doc id)."""
        for doc, _chunks in self._results(paths):
            meta = {"source": doc.source, "doc_id": doc.doc_id, "parser": doc.parser}
            meta.update({k: v for k, v in doc.metadata.items() if isinstance(v, (str, int, float))})
            yield Document(id_=doc.doc_id, text=doc.text, metadata=meta)

    def lazy_load_nodes(self, paths: str | Sequence[str]) -> Iterator[TextNode]:
        """The pipeline's chunks as nodes, with pages, boxes and headings from the layout."""
        for doc, chunks in self._results(paths):
            source = RelatedNodeInfo(node_id=doc.doc_id, metadata={"source": doc.source})
            metas = [_record_meta(chunk_record(c, doc)) for c in chunks]
            yield from _nodes(chunks, metas, source, [m["id"] for m in metas])


class ChunkwiseNodeParser(NodeParser):
    """Splits any LlamaIndex ``Document`` with a chunkwise chunker (default ``recursive``);
    ``format_hint`` says how to read the text (``text``, ``markdown``, ``code``, ``legal``)."""

    options: dict[str, Any] = Field(default_factory=dict, description="chunkwise options")

    def __init__(self, **options: Any) -> None:
        options.setdefault("chunker", "recursive")
        options.setdefault("format_hint", "text")
        build_options(**options)
        super().__init__(options=options)  # type: ignore[call-arg]

    def _parse_nodes(
        self, nodes: Sequence[BaseNode], show_progress: bool = False, **kwargs: Any
    ) -> list[BaseNode]:
        out: list[BaseNode] = []
        for parent in nodes:
            text = parent.get_content(metadata_mode=MetadataMode.NONE)
            if not text.strip():
                continue
            _, chunks = chunk_text(text, **self.options)
            metas = [
                {"headings": list(c.headings), "n_tokens": c.n_tokens, "chunker": c.chunker}
                for c in chunks
            ]
            ids = [f"{parent.node_id}:{c.index}" for c in chunks]
            out.extend(_nodes(chunks, metas, parent.as_related_node_info(), ids))
        return out

    def _postprocess_parsed_nodes(
        self, nodes: list[BaseNode], parent_doc_map: dict[str, Document]
    ) -> list[BaseNode]:
        # The base class re-finds each node's text in its document (first match); the chunker's
        # offsets are exact, so they are put back.
        spans = {
            n.node_id: (n.start_char_idx, n.end_char_idx) for n in nodes if isinstance(n, TextNode)
        }
        nodes = super()._postprocess_parsed_nodes(nodes, parent_doc_map)
        for n in nodes:
            if isinstance(n, TextNode) and n.node_id in spans:
                n.start_char_idx, n.end_char_idx = spans[n.node_id]
        return nodes
