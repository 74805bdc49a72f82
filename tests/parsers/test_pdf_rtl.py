"""Right-to-left PDFs, bidi lines and the shared line assembly (parsers/pdf_text.py).

The PDFs in sample_docs/pdf/rtl/ come with their known text (tests/parsers/rtl_samples.py builds
them); the line-level cases use pieces laid out by hand so each rule is seen on its own."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pymupdf
import pytest
from chunkwise.parsers.pdf import PdfParser, reading_order
from chunkwise.parsers.pdf_text import GAP_EM, Piece, clean, join_lines, line_text
from hypothesis import given
from hypothesis import strategies as st

from tests.parsers.rtl_samples import OUT, coverage_order, visual

TRUTH: dict[str, str] = json.loads((OUT / "rtl-truth.json").read_text(encoding="utf-8"))


def _chars(visual_line: str, size: float = 10.0) -> list[Piece]:
    """One piece per character, laid out left to right as given (visual order)."""
    w = size * 0.5
    return [Piece(c, (i * w, 0.0, (i + 1) * w, size), size) for i, c in enumerate(visual_line)]


def _words(visual_words: list[str], gap_em: float = 0.3, size: float = 10.0) -> list[Piece]:
    """One piece per word, laid out left to right with a gap and no space characters."""
    out, x = [], 0.0
    for w in visual_words:
        width = len(w) * size * 0.5
        out.append(Piece(w, (x, 0.0, x + width, size), size))
        x += width + gap_em * size
    return out


# -- the PDFs ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(TRUTH))
def test_rtl_pdfs_read_in_logical_order(name: str) -> None:
    path = OUT / name
    doc = PdfParser().parse(path)
    coverage, order = coverage_order(TRUTH[name], doc.text)
    plain = "\n".join(p.get_text() for p in pymupdf.open(path))
    p_cov, p_order = coverage_order(TRUTH[name], plain)
    assert coverage >= 0.97 and order >= 0.95, (name, coverage, order, doc.text)
    assert coverage >= p_cov and order >= p_order
    # No word twice, none lost: the same multiset of words.
    assert sorted(doc.text.split()) == sorted(clean(TRUTH[name]).split()) or coverage == 1.0


def test_two_column_rtl_page_reads_the_right_column_first() -> None:
    doc = PdfParser().parse(OUT / "hebrew-two-column.pdf")
    paras = [doc.text[e.start : e.end] for e in doc.elements if e.kind == "paragraph"]
    assert paras[0].startswith("ירושלים היא עיר עתיקה")
    assert paras[-1].startswith("תל אביב נוסדה בשנת 1909")
    right = next(e for e in doc.elements if e.kind == "paragraph")
    assert right.bbox is not None and right.bbox[0] > 300


def test_visual_order_pdf_is_reversed_back() -> None:
    doc = PdfParser().parse(OUT / "hebrew-visual.pdf")
    assert "ירושלים היא עיר עתיקה בת 3000 שנה" in doc.text
    assert "לפי נתוני OECD האחרונים" in doc.text
    doc = PdfParser().parse(OUT / "arabic-visual.pdf")
    assert "حسب بيانات UN Habitat لعام 2023" in doc.text


def test_reading_order_rtl_reads_columns_from_the_right() -> None:
    boxes = [(40.0, 40.0, 280.0, 100.0), (315.0, 40.0, 555.0, 100.0), (315.0, 110.0, 555.0, 200.0)]
    assert reading_order(boxes)[0] == [0, 1, 2]
    assert reading_order(boxes, rtl=True)[0] == [1, 2, 0]


# -- lines ------------------------------------------------------------------------------------


def test_rtl_line_with_numbers_and_latin_words() -> None:
    logical = "ויבלגו 21 מיליון לפי UN Habitat בשנת 2023"
    assert line_text(_chars(visual(logical))) == logical
    # Decimal point and percent sign stay with their digits.
    assert line_text(_chars("ךותב 12.5% הלע")) == "עלה 12.5% בתוך"
    assert line_text(_chars("ךותב 1,000 הלע")) == "עלה 1,000 בתוך"


def test_ltr_line_with_a_hebrew_name_stays_left_to_right() -> None:
    assert line_text(_chars("Hello םלוע world")) == "Hello עולם world"
    assert line_text(_chars("Total: 1,000 items")) == "Total: 1,000 items"


def test_logical_order_pieces_are_kept_in_place() -> None:
    # A producer that stores logical order gives pieces right to left: same text either way.
    pieces = _words(["2023", "UN", "מיליון", "מספר"])
    assert line_text(pieces) == "מספר מיליון UN 2023"
    assert line_text(list(reversed(pieces))) == "מספר מיליון UN 2023"


def test_spaces_come_from_gaps_between_pieces() -> None:
    # pymupdf4llm drops mupdf's whitespace spans: "WehavechosenthePub" came from this.
    words = ["We", "have", "chosen", "the", "PubTabNet", "dataset"]
    assert line_text(_words(words)) == "We have chosen the PubTabNet dataset"
    # Kerning and a change of font inside a word are no space.
    assert line_text(_words(["Pub", "TabNet"], gap_em=0.02)) == "PubTabNet"
    assert line_text(_words(["a", "b"], gap_em=GAP_EM + 0.01)) == "a b"


def test_arabic_presentation_forms_become_letters() -> None:
    assert clean("ﺍﻟﻘﺎﻫﺮﺓ") == "القاهرة"
    assert clean("ﻻ") == "لا"


def test_join_lines_dehyphenates_only_before_lower_case() -> None:
    assert join_lines(["an infor-", "mation", "", "system"]) == "an information system"
    assert join_lines(["pages 3-", "7"]) == "pages 3- 7"


_hebrew_word = st.text(alphabet="אבגדהוזחטיכלמנסעפצקרשת", min_size=1, max_size=6)
_latin_word = st.text(alphabet="abcdefghijklmnop", min_size=1, max_size=6)
_number = st.integers(0, 99999).map(str)


@given(st.lists(st.one_of(_hebrew_word, _hebrew_word, _latin_word, _number), max_size=8))
def test_visual_rtl_lines_round_trip(words: list[str]) -> None:
    """A right-to-left line of Hebrew words, Latin words and numbers, laid out as the bidi
    algorithm lays it out, reads back with no word lost or doubled, and in logical order
    unless the picture is ambiguous or the line is mostly Latin."""
    words = ["שלום", *words]
    logical = " ".join(words)
    text = line_text(_chars(visual(logical)), rtl=True)
    assert sorted(text.split()) == sorted(words)
    # A number after right-to-left text followed by a Latin word ("שלום 5 a") looks exactly like
    # the Latin word followed by the number ("שלום a 5"); the reader takes the second reading.
    ambiguous = any(
        a.isdigit() and b.isascii() and b.isalpha() and not _after_latin(words, i)
        for i, (a, b) in enumerate(itertools.pairwise(words))
    )
    # A line with twice as many Latin letters as Hebrew ones is read left to right (the base
    # direction is the line's own when it is that clear).
    hebrew = sum(len(w) for w in words if not w.isascii())
    latin = sum(len(w) for w in words if w.isascii() and w.isalpha())
    if not ambiguous and latin < 2 * hebrew:
        assert text == logical


def _after_latin(words: list[str], i: int) -> bool:
    """Whether the number at ``i`` continues a Latin word's island (only numbers between)."""
    j = i - 1
    while j >= 0 and words[j].isdigit():
        j -= 1
    return j >= 0 and words[j].isascii() and words[j].isalpha()


# -- overprinted text -------------------------------------------------------------------------


def test_overprinted_text_is_read_once(corpus: Path) -> None:
    # The cover page draws each line four times, shifted by a fraction of a point (fake bold).
    doc = PdfParser().parse(corpus / "pdf" / "issue-842-example.pdf")
    assert doc.text.count("安徽安利合成革股份有限公司") == 1
    assert doc.text.count("ANHUI ANLI ARTIFICIAL LEATHER CO.,LTD.") == 1
    assert "2011 年年度报告" in doc.text


def test_overprint_copies_dropped_but_equal_neighbours_kept(tmp_path: Path) -> None:
    doc = pymupdf.open()
    page = doc.new_page(width=300, height=200)
    line = "Tall bells ring.... 1100 Mill Hill"
    for dx in (0.0, 0.3, 0.6):  # fake bold: three copies a fraction of a point apart
        page.insert_text((20 + dx, 50), line, fontsize=6)
    page.insert_text((20, 80), "A plain line under it.", fontsize=6)
    doc.save(tmp_path / "bold.pdf")
    text = PdfParser().parse(tmp_path / "bold.pdf").text
    assert text.split() == [*line.split(), *"A plain line under it.".split()]
