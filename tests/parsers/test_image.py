"""Images are documents: OCR through the PDF parser, one-line errors without the ocr extra."""

from __future__ import annotations

from pathlib import Path

import pytest
from chunkwise.parsers.image import ImageParser, image_type

from chunkwise import registry
from chunkwise.errors import ParseError
from chunkwise.types import doc_id_for
from tests.conftest import run_cli


def _scan(tmp_path: Path, name: str = "invoice.png", fmt: str = "png") -> Path:
    """A picture of text, as a scanner or a screenshot makes it."""
    import pymupdf

    src = pymupdf.open()
    page = src.new_page(width=400, height=200)
    page.insert_text((30, 80), "Scanned invoice number 4711", fontsize=20)
    path = tmp_path / name
    path.write_bytes(page.get_pixmap(dpi=150).tobytes(fmt))
    return path


def test_image_without_the_ocr_extra_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match=r"no text layer: install the 'ocr' extra") as info:
        ImageParser({"ocr": "off"}).parse(_scan(tmp_path))
    assert "\n" not in str(info.value)


def test_renamed_non_image_is_an_error_not_a_crash(tmp_path: Path) -> None:
    fake = tmp_path / "fake.png"
    fake.write_text("this is text, not a picture")
    with pytest.raises(ParseError, match="not an image"):
        ImageParser().parse(fake)
    truncated = tmp_path / "cut.png"
    truncated.write_bytes(_scan(tmp_path).read_bytes()[:60])
    with pytest.raises(ParseError):
        ImageParser().parse(truncated)


def test_image_types_are_sniffed_by_magic_bytes(tmp_path: Path) -> None:
    assert image_type(_scan(tmp_path).read_bytes()) == "png"
    assert image_type(_scan(tmp_path, "a.jpg", "jpg").read_bytes()) == "jpeg"
    assert image_type(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "webp"
    assert image_type(b"%PDF-1.7") is None
    assert registry.parser_for("scan.TIFF") == "image"
    assert registry.parser_for_bytes(_scan(tmp_path).read_bytes()) == "image"


def test_image_is_read_by_ocr_with_page_and_boxes(tmp_path: Path) -> None:
    pytest.importorskip("rapidocr_onnxruntime")
    path = _scan(tmp_path)
    doc = ImageParser().parse(path)
    assert "4711" in doc.text and "invoice" in doc.text.lower()
    assert doc.parser == "image" and doc.metadata["mime"] == "image/png"
    assert doc.doc_id == doc_id_for(path.read_bytes())
    assert doc.metadata["ocr_pages"] == [1]
    assert all(e.page == 1 and e.bbox is not None for e in doc.elements)


def test_images_in_a_folder_and_on_stdin_become_chunks(tmp_path: Path) -> None:
    pytest.importorskip("rapidocr_onnxruntime")
    folder = tmp_path / "scans"
    folder.mkdir()
    path = _scan(folder)
    res = run_cli("ingest", str(folder))
    assert res.returncode == 0, res.stderr
    (rec,) = res.records()
    assert rec["parser"] == "image" and "4711" in rec["text"] and rec["pages"] == [1]
    piped = run_cli("ingest", "-", input=path.read_bytes())
    assert piped.returncode == 0, piped.stderr
    assert "4711" in piped.stdout


def test_vision_chunker_reads_an_image(tmp_path: Path) -> None:
    pytest.importorskip("rapidocr_onnxruntime")
    res = run_cli("ingest", str(_scan(tmp_path)), "--chunker", "vision")
    assert res.returncode == 0, res.stderr
    (rec,) = res.records()
    assert rec["chunker"] == "vision" and "4711" in rec["text"]
