from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from chunkwise.parsers.pdf import (
    PdfParser,
    _join_lines,
    extract_page,
    open_pdf,
    page_tables,
    parse_page_ranges,
    reading_order,
    select_pages,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from chunkwise.errors import ParseError, UsageError
from chunkwise.types import Document
from tests.conftest import GOLDEN, SAMPLE_DOCS, assert_golden

PDF = SAMPLE_DOCS / "pdf"
BROKEN = SAMPLE_DOCS / "broken"
JOURNAL = PDF / "three-column-journal.pdf"


@pytest.fixture(scope="module")
def journal() -> Document:
    # A relative source keeps the golden file independent of where the repository lives.
    return PdfParser().parse(JOURNAL, source="sample_docs/pdf/three-column-journal.pdf")


def _texts(doc: Document, kind: str | None = None) -> list[str]:
    return [doc.text[e.start : e.end] for e in doc.elements if kind is None or e.kind == kind]


def _check_invariants(doc: Document) -> None:
    sizes = doc.metadata["page_sizes"]
    for e in doc.elements:
        assert 0 <= e.start <= e.end <= len(doc.text)
        assert e.page is not None and e.page >= 1
        assert e.bbox is not None
        w, h = sizes[str(e.page)]
        x0, y0, x1, y1 = e.bbox
        assert -1 <= x0 <= x1 <= w + 1 and -1 <= y0 <= y1 <= h + 1, (e, w, h)
        if e.kind != "figure":
            assert doc.text[e.start : e.end].strip()
            assert doc.text[e.start : e.end] == doc.text[e.start : e.end].strip()
        assert "headings" in e.attrs


# -- layout on a known page -------------------------------------------------------------------


def test_three_columns_read_column_by_column(journal: Document) -> None:
    text = journal.text
    marks = [
        "Field Notes on Rivers",
        "1. Rivers and Sediment",
        "A river carries sediment",
        "Dams trap most",
        "Hydrologists measure",
        "2. Honey Bees and Foraging",
        "A honey bee colony",
        "Foragers prefer nectar",
        "Beekeepers inspect",
        "3. Bridges and Loads",
        "A beam bridge",
        "Suspension bridges",
        "Inspectors walk",
        "4. Bread and Fermentation",
        "Yeast ferments",
        "Sourdough relies",
    ]
    positions = [text.index(m) for m in marks]
    assert positions == sorted(positions)
    cols = {journal.text[e.start : e.start + 12]: e.attrs.get("column") for e in journal.elements}
    assert cols["A river carr"] == "0"
    assert cols["A honey bee "] == "1"
    assert cols["A beam bridg"] == "2"
    _check_invariants(journal)


def test_paragraph_runs_on_across_columns_and_pages(journal: Document) -> None:
    # Column 1 ends mid-sentence, column 2 goes on in lower case: one sentence in the text.
    assert "when most of the annual load passes in a few days." in journal.text
    # The last paragraph of page 1 goes on at the top of page 2, and the running header and
    # page-number footer are not put inside it.
    assert "the superstructure and the substructure on a scale from good to critical." in (
        journal.text
    )
    cont = [e for e in journal.elements if e.attrs.get("continues")]
    assert {e.page for e in cont} == {1, 2}


def test_headings_levels_and_paths(journal: Document) -> None:
    heads = [
        (e.level, journal.text[e.start : e.end]) for e in journal.elements if e.kind == "heading"
    ]
    assert heads == [
        (1, "Field Notes on Rivers, Bees, Bridges and Bread"),
        (2, "1. Rivers and Sediment"),
        (2, "2. Honey Bees and Foraging"),
        (2, "3. Bridges and Loads"),
        (2, "4. Bread and Fermentation"),
    ]
    yeast = next(e for e in journal.elements if journal.text[e.start :].startswith("Yeast"))
    assert yeast.attrs["headings"] == [
        "Field Notes on Rivers, Bees, Bridges and Bread",
        "4. Bread and Fermentation",
    ]
    for e in journal.elements:
        if e.kind == "heading":
            assert e.attrs["title"] == journal.text[e.start : e.end]
    assert journal.metadata["title"] == "Field Notes on Rivers, Bees, Bridges and Bread"


def test_running_header_and_page_numbers_are_furniture(journal: Document) -> None:
    furniture = [
        (e.kind, e.page, journal.text[e.start : e.end])
        for e in journal.elements
        if e.kind in ("header", "footer")
    ]
    assert sorted(furniture) == [
        ("footer", 1, "Page 1"),
        ("footer", 2, "Page 2"),
        ("header", 1, "Journal of Everyday Systems - Volume 3"),
        ("header", 2, "Journal of Everyday Systems - Volume 3"),
    ]


def test_list_items_and_list(journal: Document) -> None:
    items = _texts(journal, "list_item")
    assert items == [
        "- Weigh the flour, water and salt before mixing the dough.",
        "- Fold the dough every half hour during the bulk fermentation.",
        "- Bake with steam for the first twenty minutes for a crisp crust.",
    ]
    (lst,) = [e for e in journal.elements if e.kind == "list"]
    assert journal.text[lst.start : lst.end].startswith(items[0])
    assert journal.text[lst.start : lst.end].endswith(items[-1])
    assert lst.attrs["n_items"] == 3


def test_golden_three_column_journal(journal: Document, update_golden: bool) -> None:
    assert_golden(GOLDEN / "pdf" / "three-column-journal.json", journal.to_dict(), update_golden)


def test_golden_lorem_ipsum_tables(update_golden: bool) -> None:
    name = "issue-33-lorem-ipsum.pdf"
    doc = PdfParser().parse(PDF / name, source=f"sample_docs/pdf/{name}")
    _check_invariants(doc)
    assert_golden(GOLDEN / "pdf" / "issue-33-lorem-ipsum.json", doc.to_dict(), update_golden)


# -- tables, rotation, layout frames ----------------------------------------------------------


def test_ruled_table_rows_in_attrs_and_markdown_text() -> None:
    doc = PdfParser().parse(PDF / "issue-33-lorem-ipsum.pdf")
    tables = [e for e in doc.elements if e.kind == "table"]
    assert [t.page for t in tables] == [1, 2]
    first = tables[0]
    rows = [first.attrs["header"], *first.attrs["rows"]]
    assert first.attrs["n_rows"] == len(first.attrs["rows"]) >= 10
    lines = doc.text[first.start : first.end].split("\n")
    assert lines[1].startswith("|---|")
    assert len(lines) == len(rows) + 1
    assert lines[0] == "| " + " | ".join(rows[0]) + " |"
    # Text inside the table is not repeated as paragraphs.
    assert doc.text.count(rows[1][0]) == 1 or all(
        e.kind == "table" for e in doc.elements if rows[1][0] in doc.text[e.start : e.end]
    )


def test_page_tables_is_reusable_on_a_page() -> None:
    pdf = open_pdf((PDF / "issue-33-lorem-ipsum.pdf").read_bytes())
    tabs = page_tables(pdf[0])
    assert len(tabs) == 1 and tabs[0].kind == "table" and tabs[0].attrs["rows"]
    layout = extract_page(pdf[1])
    assert layout.number == 2 and layout.blocks[0].kind == "table"


def test_ruled_frame_around_columns_is_not_a_table() -> None:
    doc = PdfParser().parse(PDF / "la-precinct-bulletin-2014-p1.pdf")
    assert doc.metadata["n_tables"] == 0
    _check_invariants(doc)
    # Four ruled columns of a bulletin are read one after the other, each race with its rows.
    text = doc.text
    assert (
        text.index("GOVERNOR VOTER NOMINATED NEEL KASHKARI REP 247")
        < text.index("AJ-SUPREME CT-G. LIU")
        < text.index("AJ 2D APP DV8-L. RUBIN")
        < text.index("STATE MEASURE 48")
    )


def test_rotated_page_boxes_are_in_displayed_coordinates() -> None:
    doc = PdfParser().parse(PDF / "senate-expenditures.pdf")
    assert doc.metadata["rotated_pages"] == [1]
    assert doc.metadata["page_sizes"]["1"] == [792.0, 612.0]
    _check_invariants(doc)
    # Displayed landscape: the header row is near the top and reads left to right.
    first = doc.elements[0]
    assert doc.text[first.start : first.end].startswith("DOCUMENT NO.")
    assert first.bbox is not None and first.bbox[1] < 150


# -- reading order, pure geometry -------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    n_cols=st.integers(1, 4),
    heights=st.lists(st.lists(st.integers(8, 90), min_size=1, max_size=6), min_size=4, max_size=4),
    title=st.booleans(),
)
def test_reading_order_is_column_major(n_cols: int, heights: list[list[int]], title: bool) -> None:
    boxes = []
    expected = []
    if title:
        boxes.append((40.0, 20.0, 560.0, 50.0))
        expected.append(0)
    width = (520 - 15 * (n_cols - 1)) / n_cols
    for c in range(n_cols):
        x0 = 40 + c * (width + 15)
        y = 70.0
        for h in heights[c]:
            expected.append(len(boxes))
            boxes.append((x0, y, x0 + width, y + h))
            y += h + 6
    order, labels = reading_order(boxes)
    assert sorted(order) == list(range(len(boxes)))
    assert order == expected
    if n_cols > 1:
        assert {labels[i] for i in range(len(boxes))} >= {str(c) for c in range(n_cols)}


def test_reading_order_full_width_figure_between_two_column_parts() -> None:
    left, right = (50.0, 290.0), (310.0, 550.0)
    boxes = [
        (left[0], 60.0, left[1], 120.0),  # 0 left, above the figure
        (left[0], 126.0, left[1], 200.0),  # 1
        (right[0], 60.0, right[1], 150.0),  # 2 right, above (breaks not aligned with the left)
        (right[0], 156.0, right[1], 200.0),  # 3
        (50.0, 220.0, 550.0, 400.0),  # 4 full-width figure
        (left[0], 420.0, left[1], 600.0),  # 5 left, below
        (right[0], 420.0, right[1], 500.0),  # 6 right, below
        (right[0], 506.0, right[1], 600.0),  # 7
    ]
    order, labels = reading_order(boxes)
    assert order == [0, 1, 2, 3, 4, 5, 6, 7]
    assert labels[4] == "" and labels[0] == labels[5] == "0" and labels[2] == labels[7] == "1"


def test_reading_order_narrow_fields_stay_in_their_rows() -> None:
    # Name, party and votes of a result table: three narrow "columns" read row by row.
    boxes = [(30.0, 10.0 + 12 * r, 140.0, 20.0 + 12 * r) for r in range(3)]
    boxes += [(150.0, 10.0 + 12 * r, 170.0, 20.0 + 12 * r) for r in range(3)]
    order, _ = reading_order(boxes)
    assert order == [0, 3, 1, 4, 2, 5]


def test_page_number_patterns() -> None:
    from chunkwise.parsers.pdf import _PAGE_NUMBER

    for t in ("7", "- 7 -", "Page 7 of 9", "PAGE 1", "vii", "XII", "page 3/10", "(4)"):
        assert _PAGE_NUMBER.match(t), t
    for t in ("MD", "mix", "Mix", "Chapter 1", "12 apples"):
        assert not _PAGE_NUMBER.match(t), t


# -- text repairs -----------------------------------------------------------------------------


def test_dehyphenation_only_before_lower_case() -> None:
    assert _join_lines(["an infor-", "mation system"]) == "an information system"
    assert _join_lines(["the north-", "East wing"]) == "the north- East wing"
    assert _join_lines(["pages 3-", "7"]) == "pages 3- 7"
    assert _join_lines(["an infor-", "mation"], dehyphenate=False) == "an infor- mation"


def test_dehyphenation_in_a_real_pdf(tmp_path: Path) -> None:
    import pymupdf

    doc = pymupdf.open()
    page = doc.new_page()
    for i, line in enumerate(["The committee asked for more infor-", "mation about the budget."]):
        page.insert_text((72, 100 + 12 * i), line, fontsize=10)
    path = tmp_path / "hyphen.pdf"
    doc.save(path)
    parsed = PdfParser().parse(path)
    assert parsed.text == "The committee asked for more information about the budget."
    assert PdfParser({"dehyphenate": False}).parse(path).text == (
        "The committee asked for more infor- mation about the budget."
    )


def test_ligatures_are_expanded(tmp_path: Path) -> None:
    import pymupdf

    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((72, 100), "The \ufb01nal o\ufb03ce", fontsize=11, fontname="tiro")
    path = tmp_path / "lig.pdf"
    doc.save(path)
    text = PdfParser().parse(path).text
    assert "final" in text or "\ufb01nal" not in text


# -- pages ------------------------------------------------------------------------------------


def test_page_ranges() -> None:
    assert parse_page_ranges("3-7") == [(3, 7)]
    assert parse_page_ranges("1,4,9-") == [(1, 1), (4, 4), (9, None)]
    assert parse_page_ranges("-3") == [(1, 3)]
    assert parse_page_ranges(None) is None
    assert select_pages(parse_page_ranges("2-4,9-"), 10) == [2, 3, 4, 9, 10]
    assert select_pages(parse_page_ranges("3-7"), 2) == []
    for bad in ("x", "3-1", "0", "1,,2", "2-x"):
        with pytest.raises(UsageError):
            parse_page_ranges(bad)


@given(st.lists(st.tuples(st.integers(1, 30), st.integers(0, 5)), min_size=1, max_size=5))
def test_select_pages_within_document(ranges: list[tuple[int, int]]) -> None:
    spec = ",".join(f"{a}-{a + d}" for a, d in ranges)
    got = select_pages(parse_page_ranges(spec), 12)
    assert got == sorted(set(got))
    assert all(1 <= p <= 12 for p in got)
    want = {p for a, d in ranges for p in range(a, a + d + 1) if p <= 12}
    assert set(got) == want


def test_pages_option_limits_pages() -> None:
    doc = PdfParser({"pages": "2"}).parse(JOURNAL)
    assert {e.page for e in doc.elements} == {2}
    assert doc.metadata["selected_pages"] == [2]
    assert doc.text.startswith("Journal of Everyday Systems")
    with pytest.raises(ParseError, match="selects no page"):
        PdfParser({"pages": "3-7"}).parse(JOURNAL)


# -- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("empty.pdf", "empty file"),
        ("encrypted.pdf", "encrypted PDF"),
        ("truncated.pdf", "damaged PDF"),
        ("not-a-pdf.pdf", "not a PDF"),
    ],
)
def test_broken_pdfs_raise_one_clear_error(name: str, message: str) -> None:
    with pytest.raises(ParseError, match=message) as info:
        PdfParser().parse(BROKEN / name)
    assert "\n" not in str(info.value)


def test_garbage_after_header_is_damaged() -> None:
    with pytest.raises(ParseError, match="damaged PDF"):
        PdfParser().parse(b"%PDF-1.7\n" + bytes(range(256)) * 8)


def test_broken_pdfs_become_error_records_and_the_batch_goes_on(cli, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("empty.pdf", "encrypted.pdf", "truncated.pdf", "not-a-pdf.pdf"):
        (folder / name).write_bytes((BROKEN / name).read_bytes())
    (folder / "good.pdf").write_bytes(JOURNAL.read_bytes())
    errors = tmp_path / "errors.jsonl"
    res = cli(
        "ingest", str(folder), "--chunker", "recursive", "--errors", str(errors), "--jobs", "0"
    )
    assert res.returncode == 1, res.stderr
    records = res.records()
    assert records and {r["source"] for r in records} == {str(folder / "good.pdf")}
    assert all(r["parser"] == "pdf" and r["pages"] for r in records)
    errs = [json.loads(line) for line in errors.read_text().splitlines()]
    # empty.pdf (0 bytes) is skipped-empty, counted in the summary line, not an error record.
    assert sorted(Path(e["source"]).name for e in errs) == [
        "encrypted.pdf",
        "not-a-pdf.pdf",
        "truncated.pdf",
    ]
    assert "1 empty" in res.stderr.splitlines()[-1]
    assert all(e["stage"] == "parse" and e["error"] == "ParseError" for e in errs)


def test_cli_parse_with_pages(cli) -> None:
    res = cli("parse", str(JOURNAL), "--pages", "2", "--no-text")
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert {e["page"] for e in data["elements"]} == {2}
    bad = cli("parse", str(JOURNAL), "--pages", "2-x")
    assert bad.returncode == 2 and "--pages" in bad.stderr and not bad.stdout


def test_damaged_but_repairable_corpus_file_parses(corpus: Path) -> None:
    # MuPDF rebuilds this file's broken cross-reference table; its few text-layer words come out.
    doc = PdfParser().parse(corpus / "pdf" / "malformed-from-issue-932.pdf")
    assert "2021" in doc.text


def test_whole_corpus_parses_or_fails_clearly(corpus: Path) -> None:
    ok = 0
    for path in sorted((corpus / "pdf").glob("*.pdf")):
        try:
            doc = PdfParser().parse(path)
        except ParseError as exc:
            assert path.name in {"empty.pdf", "password-example.pdf"}, (path, exc)
            continue
        _check_invariants(doc)
        ok += 1
    assert ok >= 12


# -- pages without a text layer ---------------------------------------------------------------


def _scanned_pdf(tmp_path: Path) -> Path:
    """A page whose only content is a picture of text (what a scanner produces)."""
    import pymupdf

    src = pymupdf.open()
    page = src.new_page(width=400, height=200)
    page.insert_text((30, 80), "Scanned invoice number 4711", fontsize=20)
    pix = page.get_pixmap(dpi=150)
    out = pymupdf.open()
    scanned = out.new_page(width=400, height=200)
    scanned.insert_image(scanned.rect, pixmap=pix)
    text_page = out.new_page(width=400, height=200)
    text_page.insert_text((30, 80), "A page with a text layer.", fontsize=12)
    path = tmp_path / "scanned.pdf"
    out.save(path)
    return path


def test_page_without_text_layer_is_skipped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = _scanned_pdf(tmp_path)
    with caplog.at_level(logging.WARNING, logger="chunkwise"):
        doc = PdfParser({"ocr": "off"}).parse(path)
    assert doc.metadata["skipped_pages"] == [1]
    assert "ocr" in " ".join(doc.metadata["warnings"])
    assert any("'ocr' extra" in r.getMessage() for r in caplog.records)
    assert doc.text == "A page with a text layer."


@pytest.mark.slow
def test_page_without_text_layer_is_read_by_ocr(tmp_path: Path) -> None:
    pytest.importorskip("rapidocr_onnxruntime")
    doc = PdfParser().parse(_scanned_pdf(tmp_path))
    assert doc.metadata["ocr_pages"] == [1]
    assert "skipped_pages" not in doc.metadata
    ocr = [e for e in doc.elements if e.page == 1]
    assert ocr and all(e.attrs.get("ocr") for e in ocr)
    assert "4711" in doc.text and "invoice" in doc.text.lower()
    _check_invariants(doc)
