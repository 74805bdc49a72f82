"""The offline layout page reader on real pages (pymupdf's ONNX layout model), end to end."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

import pytest
from chunkwise.chunkers.options import VisionOptions
from chunkwise.chunkers.vision import VisionChunker
from chunkwise.chunkers.vision_layout import join_lines, split_merged_row

from chunkwise.chunking import ChunkerConfig
from chunkwise.types import Chunk, Document

SAMPLE = "pdf/vision-cross-page-table.pdf"
HEADER_LINE = "| Region | Site | Units sold | Revenue (USD) | Growth |"


def parse(path: Path) -> Document:
    from chunkwise.parsers.pdf import PdfParser

    return PdfParser().parse(path)


@pytest.fixture(scope="module")
def sample(sample_docs: Path) -> tuple[Document, list[Chunk]]:
    doc = parse(sample_docs / SAMPLE)
    cfg = ChunkerConfig(max_tokens=400, options={"vision": VisionOptions(pages_per_batch=2)})
    return doc, list(VisionChunker(cfg).chunk(doc))


def test_cross_page_table_is_one_logical_table(sample: tuple[Document, list[Chunk]]) -> None:
    _, chunks = sample
    tables = [c for c in chunks if c.kind == "table"]
    assert len(tables) >= 3
    # One logical table: every piece reports the same three pages and the rows run on.
    assert all(c.metadata["table_pages"] == [1, 2, 3] for c in tables)
    ranges = [c.metadata["table_rows"] for c in tables]
    assert ranges[0][0] == 0 and ranges[-1][1] == 90
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
    # Every piece starts with the header row, and the header is not repeated inside.
    for c in tables:
        lines = c.text.splitlines()
        assert lines[0] == HEADER_LINE
        assert c.text.count("| Region |") == 1
        assert all(
            re.fullmatch(r"\| \w+ \| [A-Z]{3}-\d{3} \| \d+ \| [\d,]+ \| [+-]\d+% \|", ln)
            for ln in lines[2:]
        ), c.text
    sites = [ln.split(" | ")[1] for c in tables for ln in c.text.splitlines()[2:]]
    assert sites == [f"{s[:3].upper()}-{i + 1:03d}" for i, s in enumerate(_regions(90))]
    # The first piece starts the table; the others continue it, across the page breaks.
    assert [c.continues for c in tables] == ["false"] + ["true"] * (len(tables) - 1)
    assert any(c.pages == (1, 2) for c in tables) or any(c.pages == (2, 3) for c in tables)
    assert all(c.headings == ("Quarterly Sales Report", "1. Sales by site") for c in tables)
    assert all(c.n_tokens <= 400 for c in chunks)


def _regions(n: int) -> list[str]:
    from tests.chunkers.vision_samples import REGIONS

    return [REGIONS[i % len(REGIONS)] for i in range(n)]


def test_paragraph_across_page_break_and_procedure(sample: tuple[Document, list[Chunk]]) -> None:
    _, chunks = sample
    notes = next(c for c in chunks if c.headings[-1:] == ("2. Notes",))
    assert notes.pages == (3, 4)
    # Heading levels stay consistent across batches (pages 3-4 are the second batch).
    assert notes.headings == ("Quarterly Sales Report", "2. Notes")
    assert notes.continues == "false"
    assert "in the spring and may differ from this report" in notes.text  # joined across pages
    assert notes.metadata["cross_page"] is True
    steps = next(c for c in chunks if c.kind == "list")
    assert steps.text.splitlines()[-4:] == [
        "1. Export the ledger of each site as CSV from the accounting system.",
        "2. Check that the totals of every file match the monthly statements.",
        "3. Merge the files with the consolidation script and keep its log.",
        "4. Send the merged file and the log to the auditor before the 15th.",
    ]
    # Page furniture (running header, page numbers) is left out.
    assert not any("Northern Cooperative" in c.text or "Page 2" in c.text for c in chunks)


def test_spans_cover_the_source(sample: tuple[Document, list[Chunk]]) -> None:
    doc, chunks = sample
    assert [c.index for c in chunks] == list(range(len(chunks)))
    for c in chunks:
        assert 0 <= c.start < c.end <= len(doc.text)
        src = re.sub(r"[^a-z0-9]", "", doc.text[c.start : c.end].lower())
        lines = c.text.splitlines()
        if c.kind == "table" and c.metadata.get("header_rows"):
            lines = lines[1 + c.metadata["header_rows"] :]  # the header is repeated text
        first = re.sub(r"[^a-z0-9]", "", "".join(lines).lower())[:12]
        assert first in src, (c.index, c.text[:60], doc.text[c.start : c.end][:60])
    starts = [c.start for c in chunks]
    assert starts == sorted(starts)


def test_golden(sample: tuple[Document, list[Chunk]], update_golden: bool) -> None:
    from tests.conftest import GOLDEN, assert_golden

    _, chunks = sample
    data = [
        {
            "kind": c.kind,
            "continues": c.continues,
            "pages": list(c.pages or ()),
            "headings": list(c.headings),
            "n_tokens": c.n_tokens,
            "text": c.text,
            "metadata": c.metadata,
        }
        for c in chunks
    ]
    assert_golden(GOLDEN / "vision" / "cross-page-table.json", data, update_golden)


def test_corpus_pdf_headings_and_tables(corpus: Path) -> None:
    doc = parse(corpus / "pdf" / "issue-33-lorem-ipsum.pdf")
    chunks = list(VisionChunker(ChunkerConfig(max_tokens=256)).chunk(doc))
    kinds = {c.kind for c in chunks}
    assert "table" in kinds and "text" in kinds
    assert all(c.n_tokens <= 256 for c in chunks)
    assert any(len(c.headings) >= 1 for c in chunks)
    for c in chunks:
        if c.kind == "table":
            lines = c.text.splitlines()
            assert lines[0].startswith("| ") and set(lines[1]) <= {"|", "-"}


def test_line_joining_and_merged_rows() -> None:
    assert join_lines(["The exam-", "ple shows", "", "  two  lines"]) == (
        "The example shows two lines"
    )
    assert split_merged_row(["Dogwood\nElm", "DOG-064\nELM-065", "631\n668"]) == [
        ["Dogwood", "DOG-064", "631"],
        ["Elm", "ELM-065", "668"],
    ]
    wrapped = ["Obligation\nservice date", "Amount", ""]
    assert split_merged_row(wrapped) == [wrapped]


@pytest.mark.slow
def test_cli_folder_with_a_non_pdf(tmp_path: Path, sample_docs: Path, cli: Any) -> None:
    """A document the vision chunker cannot render is an error record; the PDF's chunks are
    still written, and nothing but records reaches stdout."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.pdf").write_bytes((sample_docs / SAMPLE).read_bytes())
    (folder / "b.md").write_text("# Title\n\nSome text.\n")
    res = cli("ingest", str(folder), "--chunker", "vision", "-j", "0", "--max-tokens", "400")
    assert res.returncode == 1, res.stderr
    records = res.records()
    assert records and {r["source"] for r in records} == {str(folder / "a.pdf")}
    assert all(r["chunker"] == "vision" and r["continues"] in ("false", "true") for r in records)
    errors = [json.loads(ln) for ln in res.stderr.splitlines() if ln.startswith("{")]
    assert len(errors) == 1 and errors[0]["source"].endswith("b.md")
    assert "renders PDF and image documents" in errors[0]["message"]


@pytest.mark.slow
def test_scanned_page_is_read_by_ocr(tmp_path: Path, sample_docs: Path) -> None:
    """A page without a text layer: the layout reader OCRs the rendered page (RapidOCR, models
    from the wheel) and the text still comes out, with an empty span (the parser saw nothing)."""
    pytest.importorskip("rapidocr_onnxruntime")
    import pymupdf

    from chunkwise.types import doc_id_for

    src = pymupdf.open(sample_docs / SAMPLE)
    pix = src[3].get_pixmap(dpi=150)
    scan = pymupdf.open()
    page = scan.new_page(width=src[3].rect.width, height=src[3].rect.height)
    page.insert_image(page.rect, stream=pix.tobytes("png"))
    path = tmp_path / "scan.pdf"
    scan.save(path)
    data = path.read_bytes()
    doc = Document(str(path), doc_id_for(data), "", (), {}, "pdf")
    chunks = list(VisionChunker(ChunkerConfig()).chunk(doc))
    text = " ".join(c.text for c in chunks)
    assert "Procedure for the next quarter" in text
    assert "Send the merged file and the log to the auditor" in text
    assert all(c.start == c.end == 0 for c in chunks)
