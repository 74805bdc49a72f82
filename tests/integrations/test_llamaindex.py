"""LlamaIndex: reader nodes carry the pipeline's offsets, pages and relationships; the node parser
keeps exact offsets (even for repeated text) and keeps layout out of the embedded text."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("llama_index.core")

from chunkwise.integrations.llamaindex import ChunkwiseNodeParser, ChunkwiseReader
from llama_index.core.schema import Document, MetadataMode, NodeRelationship

from chunkwise.errors import ErrorRecord
from tests.conftest import ROOT, run_cli

PDF = ROOT / "sample_docs" / "pdf" / "issue-33-lorem-ipsum.pdf"


def test_reader_nodes_match_the_cli_records() -> None:
    nodes = list(ChunkwiseReader(max_tokens=120).lazy_load_nodes(str(PDF)))
    records = run_cli("ingest", str(PDF), "-j0", "--max-tokens", "120").records()
    assert len(nodes) == len(records) > 1
    for i, (node, rec) in enumerate(zip(nodes, records, strict=True)):
        assert node.node_id == rec["id"]
        assert node.text == rec["text"]
        assert (node.start_char_idx, node.end_char_idx) == (rec["start"], rec["end"])
        assert node.metadata["pages"] == rec["pages"]
        assert node.relationships[NodeRelationship.SOURCE].node_id == rec["doc_id"]
        if i:
            assert node.relationships[NodeRelationship.PREVIOUS].node_id == records[i - 1]["id"]
        if i < len(nodes) - 1:
            assert node.relationships[NodeRelationship.NEXT].node_id == records[i + 1]["id"]
        embed_text = node.get_content(metadata_mode=MetadataMode.EMBED)
        assert "bboxes" not in embed_text and "pages" not in embed_text
        assert "pages" in node.get_content(metadata_mode=MetadataMode.LLM)


def test_reader_documents_and_errors(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# Title\n\nSome text.\n")
    (tmp_path / "b.pdf").write_bytes(b"not a pdf at all")
    errors: list[ErrorRecord] = []
    docs = list(ChunkwiseReader(on_error=errors.append).lazy_load_data(str(tmp_path)))
    assert [d.text for d in docs] == ["# Title\n\nSome text.\n"]
    assert docs[0].metadata["source"].endswith("a.md") and len(docs[0].doc_id) == 16
    assert len(errors) == 1 and errors[0].source.endswith("b.pdf")


def test_node_parser_keeps_exact_offsets() -> None:
    para = "The same paragraph appears twice in this document, word for word."
    text = f"{para}\n\n{para}\n\n{para[:30]}\n"
    doc = Document(text=text, id_="doc-1", metadata={"origin": "test"})
    nodes = ChunkwiseNodeParser(max_tokens=16).get_nodes_from_documents([doc])
    assert [n.text for n in nodes[:2]] == [para, para]
    assert [n.start_char_idx for n in nodes[:2]] == [0, len(para) + 2]
    for node in nodes:
        assert text[node.start_char_idx : node.end_char_idx] == node.text
        assert node.relationships[NodeRelationship.SOURCE].node_id == "doc-1"
        assert node.metadata["origin"] == "test"  # the document's metadata is inherited
    assert nodes[1].relationships[NodeRelationship.PREVIOUS].node_id == nodes[0].node_id
    assert nodes[0].relationships[NodeRelationship.NEXT].node_id == nodes[1].node_id


def test_node_parser_headings_stay_in_the_embedded_text() -> None:
    text = "# Setup\n\nInstall the package.\n\n# Usage\n\nRun the command on a folder.\n"
    nodes = ChunkwiseNodeParser(max_tokens=12, format_hint="markdown").get_nodes_from_documents(
        [Document(text=text, id_="d")]
    )
    usage = [n for n in nodes if "Run the command" in n.text]
    assert usage and usage[0].metadata["headings"] == ["Usage"]
    assert "Usage" in usage[0].get_content(metadata_mode=MetadataMode.EMBED)
    assert "n_tokens" not in usage[0].get_content(metadata_mode=MetadataMode.EMBED)
