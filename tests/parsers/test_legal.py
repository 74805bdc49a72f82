"""Legal parser: structure, citations, the detector and the text parser's hand-off."""

from __future__ import annotations

from pathlib import Path

import pytest
from chunkwise.parsers.legal import LegalParser, citation_spans, legal_elements, looks_legal
from chunkwise.parsers.text import TextParser

from chunkwise.errors import ParseError
from tests.conftest import GOLDEN, assert_golden

LEGAL = (
    "bolling-v-sharpe.txt",
    "stern-electronics-v-kaufman.txt",
    "services-agreement.txt",
    "model-statute.txt",
)


def _structure(doc_text: str) -> list[dict[str, object]]:
    elements, _ = legal_elements(doc_text)
    return [
        {
            "kind": e.kind,
            "level": e.level,
            "attrs": dict(e.attrs),
            "text": doc_text[e.start : e.end][:120],
            "start": e.start,
            "end": e.end,
        }
        for e in elements
        if e.kind != "paragraph"
    ]


@pytest.mark.parametrize("name", LEGAL)
def test_golden_structure(sample_docs: Path, name: str, update_golden: bool) -> None:
    doc = LegalParser().parse(sample_docs / "legal" / name)
    assert doc.parser == "legal"
    for e in doc.elements:
        assert 0 <= e.start < e.end <= len(doc.text)
    data = {"metadata": dict(doc.metadata), "elements": _structure(doc.text)}
    assert_golden(GOLDEN / "legal" / f"{name}.json", data, update_golden)


def test_contract_structure(sample_docs: Path) -> None:
    doc = LegalParser().parse(sample_docs / "legal" / "services-agreement.txt")
    text = doc.text
    by_kind: dict[str, list[str]] = {}
    for e in doc.elements:
        by_kind.setdefault(e.kind, []).append(text[e.start : e.end])
    headings = [e.attrs["title"] for e in doc.elements if e.kind == "heading"]
    assert "ARTICLE IV" in headings and "Section 4.2" in headings
    clauses = [e.attrs["label"] for e in doc.elements if e.kind == "clause"]
    assert clauses == ["(a)", "(b)", "(i)", "(ii)", "(c)"]
    levels = {e.attrs["label"]: e.level for e in doc.elements if e.kind == "clause"}
    assert levels["(i)"] > levels["(b)"]
    terms = [e.attrs["term"] for e in doc.elements if e.kind == "definition"]
    assert terms == ["Confidential Information", "Services"]
    assert len(by_kind["recital"]) == 3 and by_kind["recital"][0].startswith("WHEREAS")
    assert by_kind["signature"][0].startswith("IN WITNESS WHEREOF")
    assert by_kind["signature"][0].endswith("Chief Executive Officer")
    assert doc.metadata["legal_type"] == "contract"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "See Brown v. Board of Education, 347 U.S. 483, 495 (1954).",
            [("case", "Brown v. Board of Education, 347 U.S. 483, 495 (1954)")],
        ),
        ("under 42 U.S.C. § 1983 and", [("statute", "42 U.S.C. § 1983")]),
        ("see 18 U.S.C. §§ 2510-2522, 3121.", [("statute", "18 U.S.C. §§ 2510-2522, 3121")]),
        ("29 C.F.R. § 1910.1200(b);", [("statute", "29 C.F.R. § 1910.1200(b)")]),
        (
            "Pub. L. No. 90-351, 82 Stat. 212",
            [("statute", "Pub. L. No. 90-351"), ("statute", "82 Stat. 212")],
        ),
        ("under Fed. R. Civ. P. 12(b)(6).", [("rule", "Fed. R. Civ. P. 12(b)(6)")]),
        (
            "Id. at 5. Smith, supra note 4, at 12.",
            [("id", "Id. at 5"), ("supra", "supra note 4, at 12")],
        ),
        (
            "396 F. Supp. 2d 747 (S.D. Tex. 2005)",
            [("case", "396 F. Supp. 2d 747 (S.D. Tex. 2005)")],
        ),
        ("In the year 1954 there were 48 states.", []),
    ],
)
def test_citations(text: str, expected: list[tuple[str, str]]) -> None:
    got = [(e.attrs["type"], text[e.start : e.end]) for e in citation_spans(text)]
    assert got == expected


def test_heading_labels_of_statutes_and_decisions() -> None:
    text = (
        "TITLE 18\n\n§ 3127. Definitions\n\nAs used in this chapter—\n\n"
        "(1) the terms have the meanings given.\n\nOPINION\n\nI.\n\nThe facts.\n\n"
        "A.\n\nMore facts.\n"
    )
    heads = [(e.attrs["title"], e.level) for e in legal_elements(text)[0] if e.kind == "heading"]
    assert heads == [("TITLE 18", 1), ("§ 3127", 4), ("OPINION", 3), ("I.", 4), ("A.", 5)]


def test_detector(sample_docs: Path) -> None:
    for name in LEGAL:
        assert looks_legal((sample_docs / "legal" / name).read_text(encoding="utf-8")), name
    for path in (sample_docs / "text").glob("*.txt"):
        assert not looks_legal(path.read_text(encoding="utf-8", errors="replace")), path
    assert not looks_legal("Meeting notes. We agreed to ship on Friday.")


def test_text_parser_hands_legal_text_over(sample_docs: Path) -> None:
    path = sample_docs / "legal" / "bolling-v-sharpe.txt"
    doc = TextParser().parse(path)
    assert doc.parser == "legal"
    assert any(e.kind == "citation" for e in doc.elements)
    assert doc.metadata["encoding"] == "utf-8"
    plain = TextParser({"detect_legal": False}).parse(path)
    assert plain.parser == "text"
    assert plain.text == doc.text and plain.doc_id == doc.doc_id


@pytest.mark.parametrize(
    ("name", "needle"), [("empty.txt", "empty"), ("binary-junk.txt", "binary")]
)
def test_broken_input_is_a_clear_parse_error(sample_docs: Path, name: str, needle: str) -> None:
    path = sample_docs / "broken" / name
    if not path.exists():
        pytest.skip(f"{name} not in sample_docs/broken")
    with pytest.raises(ParseError, match=needle):
        LegalParser().parse(path)


def test_cli_parse_and_sentences(cli, sample_docs: Path) -> None:
    path = sample_docs / "legal" / "services-agreement.txt"
    text = path.read_text(encoding="utf-8")
    res = cli("sentences", str(path))
    assert res.returncode == 0, res.stderr
    recs = res.records()
    assert recs[0] == {"start": 0, "end": 25, "text": "MASTER SERVICES AGREEMENT"}
    for r in recs:
        assert text[r["start"] : r["end"]] == r["text"]
    assert any(r["text"] == "Id. at 496." for r in recs)
    bad = cli("sentences", str(sample_docs / "broken" / "empty.txt"))
    assert bad.returncode == 3 and bad.stdout == "" and "empty" in bad.stderr
    parsed = cli("parse", "--format-hint", "legal", "--no-text", str(path))
    assert parsed.returncode == 0, parsed.stderr
    assert '"parser": "legal"' in parsed.stdout
