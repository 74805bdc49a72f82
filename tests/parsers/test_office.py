"""Office, e-book and e-mail parsers: structure kept, offsets exact, bad input one clear error."""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import pytest
from chunkwise.chunkers.section import SectionChunker
from chunkwise.parsers.docx import DocxParser, format_number
from chunkwise.parsers.epub import EpubParser
from chunkwise.parsers.mail import EmlParser, MsgParser
from chunkwise.parsers.odf import OdfParser
from chunkwise.parsers.pptx import PptxParser
from chunkwise.parsers.sheet import CsvParser, XlsxParser, sniff_dialect

from chunkwise import archive, registry
from chunkwise.chunking import ChunkerConfig
from chunkwise.errors import ParseError
from chunkwise.types import Document
from tests.conftest import CORPUS, GOLDEN, SAMPLE_DOCS, assert_golden
from tests.parsers import office_samples as samples

OFFICE = SAMPLE_DOCS / "office"
# CHUNKWISE_CORPUS: the shared corpus where it does not sit beside the checkout.
CORPUS_OFFICE = Path(os.environ.get("CHUNKWISE_CORPUS", str(CORPUS))) / "office"
CORPUS_FILES = (
    sorted(p for p in CORPUS_OFFICE.iterdir() if not p.name.startswith("LICENSE"))
    if CORPUS_OFFICE.is_dir()
    else []
)


def parse(path: Path) -> Document:
    name = registry.parser_for(str(path))
    assert name is not None, path
    return registry.load("parsers", name)().parse(path)


def check_offsets(doc: Document) -> None:
    for el in doc.elements:
        assert 0 <= el.start <= el.end <= len(doc.text)
        if el.kind == "heading":
            assert doc.text[el.start : el.end] == el.attrs["title"]
    for el in doc.elements:
        if el.kind in ("paragraph", "heading", "table", "list", "note", "figure"):
            span = doc.text[el.start : el.end]
            assert span == span.strip() and span


def kinds(doc: Document, kind: str) -> list[str]:
    return [doc.text[e.start : e.end] for e in doc.elements if e.kind == kind]


def test_sample_files_are_current() -> None:
    # sample_docs/office is written by office_samples.py; the builders and the files agree.
    for name, build in samples.BUILDERS.items():
        if name.endswith(".eml"):  # MIME boundaries are random: compare the parsed text
            assert EmlParser().parse(OFFICE / name).text == EmlParser().parse(build()).text
        elif name.endswith((".csv", ".msg")):
            assert (OFFICE / name).read_bytes() == build(), name
        else:  # zips carry timestamps: compare what is inside
            with zipfile.ZipFile(OFFICE / name) as a, zipfile.ZipFile(io.BytesIO(build())) as b:
                assert {n: a.read(n) for n in a.namelist()} == {n: b.read(n) for n in b.namelist()}


@pytest.mark.skipif(not CORPUS_FILES, reason="shared corpus not present")
@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.name)
def test_every_corpus_office_file_parses(path: Path) -> None:
    doc = parse(path)
    check_offsets(doc)
    assert doc.metadata.get("mime")
    if path.suffix == ".pptx":
        pages = {e.page for e in doc.elements}
        assert None not in pages and pages == set(range(1, doc.metadata["n_slides"] + 1))


def _summary(doc: Document) -> dict:
    return {
        "metadata": dict(doc.metadata),
        "elements": [
            {
                "kind": e.kind,
                "level": e.level,
                "page": e.page,
                "text": doc.text[e.start : e.end][:120],
                **({"attrs": dict(e.attrs)} if e.kind not in ("table", "table_row") else {}),
            }
            for e in doc.elements
            if e.kind not in ("list_item", "table_row")
        ],
    }


GOLDEN_FILES = [OFFICE / n for n in samples.BUILDERS] + [
    p for p in CORPUS_FILES if p.name in ("tbl-cell-access.docx", "comments-rich-para.docx")
]


@pytest.mark.parametrize("path", GOLDEN_FILES, ids=lambda p: p.name)
def test_golden(path: Path, update_golden: bool) -> None:
    doc = parse(path)
    check_offsets(doc)
    assert_golden(GOLDEN / "office" / f"{path.name}.json", _summary(doc), update_golden)


# -- DOCX ----------------------------------------------------------------------------------------


def test_docx_structure() -> None:
    doc = DocxParser().parse(OFFICE / "report.docx")
    heads = [(e.level, e.attrs["title"]) for e in doc.elements if e.kind == "heading"]
    # Numbered headings keep their numbers; heading 2 is numbered under heading 1.
    assert heads == [
        (1, "Annual Report"),
        (1, "1. Introduction"),
        (2, "1.1 Scope"),
        (1, "2. Results"),
    ]
    lists = kinds(doc, "list")
    assert lists[0] == "- First point\n  - A nested point\n- Second point"
    assert lists[1] == "a) Step one\nb) Step two"
    (table,) = [e for e in doc.elements if e.kind == "table"]
    assert table.attrs["header"] == ["Region", "Q1", "Q2"]
    # A vertical merge repeats its value; a column span keeps later columns aligned.
    assert table.attrs["rows"] == [["North", "10 | 11", ""], ["North", "12", "13"]]
    text = doc.text
    assert "our website" in text and "hidden words" not in text
    assert "Content control text" in text and text.count("Text box words") == 1
    assert kinds(doc, "figure") == ["Bar chart of revenue by region"]
    assert kinds(doc, "footnote") == ["[^1] Figures are unaudited."]
    assert "[^1]." in text
    assert kinds(doc, "page_header") == ["ACME Corp — Confidential"]
    para = next(
        e for e in doc.elements if e.kind == "paragraph" and "website" in text[e.start : e.end]
    )
    assert para.attrs["links"] == [{"text": "our website", "url": "https://example.com/report"}]
    (comment,) = doc.metadata["comments"]
    assert comment["anchor"] == "Revenue grew strongly." and comment["author"] == "Dana"
    assert doc.metadata["title"] == "Annual Report 2024"


def test_docx_furniture_is_left_out_of_chunks_unless_asked() -> None:
    doc = DocxParser().parse(OFFICE / "report.docx")
    plain = " ".join(c.text for c in SectionChunker(ChunkerConfig(max_tokens=64)).chunk(doc))
    kept = " ".join(
        c.text for c in SectionChunker(ChunkerConfig(max_tokens=64, keep_furniture=True)).chunk(doc)
    )
    assert "Confidential" not in plain and "Confidential" in kept
    assert "Figures are unaudited" in plain


@pytest.mark.parametrize(
    ("n", "fmt", "out"),
    [
        (1, "decimal", "1"),
        (28, "lowerLetter", "bb"),
        (14, "upperRoman", "XIV"),
        (3, "decimalZero", "03"),
    ],
)
def test_number_formats(n: int, fmt: str, out: str) -> None:
    assert format_number(n, fmt) == out


# -- PPTX ----------------------------------------------------------------------------------------


def test_pptx_slides_are_pages_in_reading_order_with_notes() -> None:
    doc = PptxParser().parse(OFFICE / "roadmap.pptx")
    slide1 = [
        doc.text[e.start : e.end] for e in doc.elements if e.page == 1 and e.kind != "list_item"
    ]
    assert slide1[0] == "Roadmap 2025"
    # The bottom text box was written first but reads last; the group reads as one unit.
    order = [s.split("\n")[0] for s in slide1]
    assert order.index("- Ship the parser") < order.index("Grouped label A")
    assert order.index("Grouped label A") < order.index("Footnote box at the bottom")
    (note,) = [e for e in doc.elements if e.kind == "note"]
    assert note.page == 1 and note.attrs["notes"] is True
    assert doc.text[note.start : note.end] == "Mention the benchmark first.\nThen the demo."
    heads = [e for e in doc.elements if e.kind == "heading"]
    assert [h.attrs.get("generated", False) for h in heads] == [False, True]
    assert kinds(doc, "figure") == ["Throughput by format", "Team photo"]
    (table,) = [e for e in doc.elements if e.kind == "table"]
    assert table.page == 2 and table.attrs["header"] == ["Metric", "Value"]
    assert [e.kind for e in doc.elements if "confidential" in doc.text[e.start : e.end]] == [
        "page_footer"
    ]
    chunks = list(SectionChunker(ChunkerConfig(max_tokens=40)).chunk(doc))
    assert all(c.pages and len(c.pages) == 1 for c in chunks)  # no chunk spans two slides


# -- XLSX / CSV ----------------------------------------------------------------------------------


def test_xlsx_sheets_values_and_hidden_sheets() -> None:
    doc = XlsxParser().parse(OFFICE / "sales.xlsx")
    assert [e.attrs["title"] for e in doc.elements if e.kind == "heading"] == ["Sales", "About"]
    assert "secret plans" not in doc.text and doc.metadata["hidden_sheets"] == ["Hidden"]
    table = next(e for e in doc.elements if e.kind == "table")
    assert table.attrs["header"] == ["Region", "Month", "Amount", "Total"]
    rows = table.attrs["rows"]
    assert rows[0] == ["South", "2024-01-03", "21", "42"]  # date format, number, cached formula
    assert rows[-2] == ["Merged note", "TRUE", "xy", ""]  # inline string, boolean, string formula
    assert rows[-1][0] == "Merged note"  # a merge across rows repeats its value
    doc = XlsxParser({"hidden_sheets": True}).parse(OFFICE / "sales.xlsx")
    assert "secret plans" in doc.text


def test_big_sheet_is_split_by_rows_with_the_header_repeated() -> None:
    doc = XlsxParser().parse(samples.make_xlsx(n_rows=400))
    chunks = list(SectionChunker(ChunkerConfig(max_tokens=120)).chunk(doc))
    tables = [c for c in chunks if c.kind == "table" and c.headings == ("Sales",)]
    assert len(tables) > 5
    for c in tables[1:]:
        assert c.synthetic and c.text.startswith("| Region | Month | Amount | Total |\n| --- |")
        assert c.n_tokens <= 120 and c.headings == ("Sales",)


def test_xlsx_rows_are_streamed(monkeypatch: pytest.MonkeyPatch) -> None:
    # The sheet part is read as a stream under the inflated-size budget, never whole.
    reads: list[str] = []
    real = archive.SafeZip.read

    def spy(self: archive.SafeZip, name: str) -> bytes:
        reads.append(name)
        return real(self, name)

    monkeypatch.setattr(archive.SafeZip, "read", spy)
    XlsxParser().parse(samples.make_xlsx(n_rows=50))
    assert not any("worksheets/" in n for n in reads)


@pytest.mark.parametrize(
    ("data", "delimiter"),
    [
        (b"a,b,c\n1,2,3\n4,5,6\n", "comma"),
        (b"a;b;c\n1;2;3\n4;5;6\n", "semicolon"),
        (b"a\tb\tc\n1\t2\t3\n", "tab"),
        (b"a|b|c\n1|2|3\n4|5|6\n", "pipe"),
        (b'name,quote\n"Doe, J","a ""b"", c"\n"X","y"\n', "comma"),
        # Both delimiters are consistent; the one giving more fields wins.
        (b"id;city;note\n1;Paris;near, the river\n2;Rome;old, very old\n", "semicolon"),
    ],
)
def test_csv_dialects(data: bytes, delimiter: str) -> None:
    doc = CsvParser().parse(data, source="x.csv")
    assert doc.metadata["delimiter"] == delimiter
    table = next(e for e in doc.elements if e.kind == "table")
    assert len(table.attrs["header"]) in (2, 3)


def test_csv_quoted_separators_and_newlines() -> None:
    doc = CsvParser().parse(OFFICE / "people.csv")
    table = next(e for e in doc.elements if e.kind == "table")
    assert table.attrs["rows"][0] == ["1", "Smith; John", "Paris", 'said "hi"']
    assert table.attrs["rows"][2] == ["3", "Ng", "Oslo", "two lines"]
    assert sniff_dialect("x\ty\n1\t2\n", ".tsv").delimiter == "\t"


# -- EPUB, e-mail, OpenDocument -----------------------------------------------------------------


def test_epub_spine_order_and_toc_headings() -> None:
    doc = EpubParser().parse(OFFICE / "tiny-book.epub")
    heads = [e for e in doc.elements if e.kind == "heading"]
    assert [h.attrs["title"] for h in heads] == ["Chapter One", "TOC title 2"]
    assert heads[1].attrs["generated"] is True
    assert doc.metadata["title"] == "A Tiny Book" and doc.metadata["author"] == "Jo Writer"
    assert any(e.kind == "table" for e in doc.elements)


def test_eml_headers_body_and_attachments() -> None:
    doc = EmlParser().parse(OFFICE / "quarterly.eml")
    meta = doc.metadata
    assert meta["from"] == "Alice Example <alice@example.com>"
    assert meta["to"] == ["Bob <bob@example.com>", "carol@example.com"]
    assert meta["subject"] == "Quarterly numbers" and meta["date"].startswith("2024-12-03T10:00")
    assert meta["body"] == "plain" and kinds(doc, "quote") == ["> Can you send them?"]
    assert [a.name for a in doc.attachments] == ["numbers.csv", "alice.vcf"]


def test_eml_html_only_body_goes_through_the_html_reader() -> None:
    data = (
        b"From: a@example.com\r\nTo: b@example.com\r\nSubject: Hi\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/html; charset=utf-8\r\n\r\n"
        b"<html><body><h2>Agenda</h2><ul><li>one</li><li>two</li></ul></body></html>\r\n"
    )
    doc = EmlParser().parse(data, source="m.eml")
    assert doc.metadata["body"] == "html"
    assert kinds(doc, "list") == ["- one\n- two"]
    assert [e.attrs["title"] for e in doc.elements if e.kind == "heading"] == ["Hi", "Agenda"]


def test_msg_headers_body_and_attachments() -> None:
    doc = MsgParser().parse(OFFICE / "supplies.msg")
    meta = doc.metadata
    assert meta["from"] == "Sam Sender <sam@example.com>" and meta["to"] == [
        "Office Manager",
        "Ana Lee",
    ]
    assert meta["date"] == "2024-12-03T10:00:00+00:00" and meta["subject"] == "Supplies order"
    assert [e.attrs["title"] for e in doc.elements if e.kind == "heading"] == ["Supplies order"]
    assert "Please order the supplies listed." in doc.text
    assert [(a.name, a.data) for a in doc.attachments] == [("notes.csv", b"item,qty\npens,4\n")]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (samples.make_msg()[:700], "damaged Outlook .msg"),
        (samples.cfb_bytes({"Workbook": b"x" * 10}), "not an Outlook message"),
        (b"From: x\n\nnot ole", "not an Outlook .msg"),
    ],
)
def test_bad_msg_is_one_clear_error(data: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        MsgParser().parse(data, source="bad.msg")


def test_odt_and_odp() -> None:
    odt = OdfParser().parse(OFFICE / "minutes.odt")
    assert [(e.level, e.attrs["title"]) for e in odt.elements if e.kind == "heading"] == [
        (1, "Minutes"),
        (2, "Decisions"),
    ]
    assert kinds(odt, "list") == ["- Adopt the plan\n  - starting in May\n- Review in June"]
    table = next(e for e in odt.elements if e.kind == "table")
    assert table.attrs["rows"] == [["Ann", "Budget"], ["Ann", "Hiring"]]
    assert kinds(odt, "footnote") == ["[^1] Cy joined late."]
    assert kinds(odt, "page_footer") == ["Board minutes — internal"]
    ods = OdfParser().parse(OFFICE / "budget.ods")
    assert ods.metadata["sheets"] == ["Budget", "Notes"]
    table = next(e for e in ods.elements if e.kind == "table")
    assert table.attrs["header"] == ["Item", "Cost"] and table.attrs["n_rows"] == 2
    odp = OdfParser().parse(OFFICE / "kickoff.odp")
    assert [(e.kind, e.page) for e in odp.elements if e.kind in ("heading", "note")] == [
        ("heading", 1),
        ("note", 1),
        ("heading", 2),
    ]


# -- bad input -----------------------------------------------------------------------------------


def _ole(streams: list[str]) -> bytes:
    return archive.OLE_MAGIC + b"\x00" * 504 + b"".join(s.encode("utf-16-le") for s in streams)


BAD = {
    "truncated.docx": lambda: samples.make_docx()[:1500],
    "corrupt.pptx": lambda: samples.make_pptx()[:40] + b"\x00" * 200 + samples.make_pptx()[240:],
    "password.docx": lambda: _ole(["EncryptionInfo", "EncryptedPackage"]),
    "legacy.xlsx": lambda: _ole(["Workbook"]),
    "webpage.xlsx": lambda: b"<html><body><table><tr><td>1</td></tr></table></body></html>",
    "other.docx": lambda: samples.zip_bytes({"hello.txt": "not a word file"}),
    "empty.epub": lambda: b"",
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_containers_are_one_clear_error(name: str) -> None:
    pname = registry.parser_for(name)
    assert pname is not None
    with pytest.raises(ParseError) as err:
        registry.load("parsers", pname)().parse(BAD[name](), source=name)
    msg = str(err.value)
    assert "\n" not in msg and len(msg) < 200
    expected = {
        "truncated.docx": "corrupt or truncated",
        "corrupt.pptx": "corrupt",
        "password.docx": "password-protected",
        "legacy.xlsx": "legacy Excel",
        "webpage.xlsx": "HTML",
        "other.docx": "not a Word document",
        "empty.epub": "empty",
    }[name]
    assert expected in msg


def test_zip_bomb_by_ratio() -> None:
    bomb = samples.zip_bytes(
        {
            "_rels/.rels": samples.rels(("rId1", "officeDocument", "word/document.xml")),
            "word/document.xml": b"<w:document>" + b" " * (8 << 20) + b"</w:document>",
        }
    )
    assert len(bomb) < 100_000
    with pytest.raises(ParseError, match="zip bomb"):
        DocxParser().parse(bomb, source="bomb.docx")


def test_zip_bomb_by_total_inflated_size(monkeypatch: pytest.MonkeyPatch) -> None:
    # Members each under the limit, together over it: caught while reading, by actual bytes.
    monkeypatch.setattr(archive, "MAX_INFLATED", 600_000)
    rnd = os.urandom(250_000).hex()[:250_000]  # incompressible enough to pass the ratio check
    data = samples.zip_bytes(
        {
            "_rels/.rels": samples.rels(("rId1", "officeDocument", "xl/workbook.xml")),
            "xl/workbook.xml": '<workbook xmlns:r="x"><sheets><sheet name="a" r:id="rId1"/>'
            '<sheet name="b" r:id="rId2"/><sheet name="c" r:id="rId3"/></sheets></workbook>',
            "xl/_rels/workbook.xml.rels": samples.rels(
                ("rId1", "worksheet", "a.xml"),
                ("rId2", "worksheet", "b.xml"),
                ("rId3", "worksheet", "c.xml"),
            ),
            **{
                f"xl/{n}.xml": f'<worksheet><sheetData><row r="1"><c t="inlineStr"><is><t>{rnd}'
                "</t></is></c></row></sheetData></worksheet>"
                for n in "abc"
            },
        }
    )
    with pytest.raises(ParseError, match="zip bomb"):
        XlsxParser().parse(data, source="big.xlsx")


def test_entity_expansion_is_not_performed() -> None:
    lol = (
        '<?xml version="1.0"?><!DOCTYPE w [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
        '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        "<w:body><w:p><w:r><w:t>x &b; y</w:t></w:r></w:p></w:body></w:document>"
    )
    data = samples.zip_bytes(
        {
            "_rels/.rels": samples.rels(("rId1", "officeDocument", "word/document.xml")),
            "word/document.xml": lol,
        }
    )
    doc = DocxParser().parse(data, source="lol.docx")
    assert "aaaa" not in doc.text


def test_cli_batch_goes_on_past_bad_files(tmp_path: Path, cli) -> None:
    for name, build in BAD.items():
        (tmp_path / name).write_bytes(build())
    (tmp_path / "good.docx").write_bytes(samples.make_docx())
    (tmp_path / "mail.eml").write_bytes(samples.make_eml(with_attachment=BAD["truncated.docx"]()))
    res = cli("ingest", str(tmp_path), "-j", "1")
    assert res.returncode == 1, res.stderr
    sources = {r["source"] for r in res.records()}
    assert str(tmp_path / "good.docx") in sources
    # The e-mail and its readable attachment are documents of their own, the broken one an
    # error record; the vCard (no parser) is only listed in the message's metadata.
    assert str(tmp_path / "mail.eml") in sources
    assert str(tmp_path / "mail.eml") + "#numbers.csv" in sources
    errors = [json.loads(ln) for ln in res.stderr.splitlines() if ln.startswith("{")]
    failed = {e["source"] for e in errors}
    # An empty file is skipped and counted by the pipeline, not an error record.
    expected = {str(tmp_path / n) for n in BAD if not n.startswith("empty")}
    expected.add(str(tmp_path / "mail.eml#report.docx"))
    assert failed == expected
    assert all(e["stage"] == "parse" and e["message"] for e in errors)


def test_registry_routes_every_new_extension() -> None:
    expected = {
        "a.docx": "docx",
        "a.docm": "docx",
        "a.pptx": "pptx",
        "a.xlsx": "xlsx",
        "a.xlsm": "xlsx",
        "a.csv": "csv",
        "a.tsv": "csv",
        "a.epub": "epub",
        "a.eml": "eml",
        "a.odt": "odf",
        "a.odp": "odf",
        "a.ods": "odf",
        "a.msg": "msg",
    }
    assert {k: registry.parser_for(k) for k in expected} == expected
