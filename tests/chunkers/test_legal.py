"""Legal chunker: cap, offsets, sentences and citations never cut, section paths, citations."""

from __future__ import annotations

import bisect
import itertools
import json
from pathlib import Path

import pytest
from chunkwise.chunkers.legal import LegalChunker
from chunkwise.chunkers.legal_sbd import sentence_spans
from chunkwise.parsers.legal import LegalParser
from chunkwise.parsers.text import TextParser
from hypothesis import given, settings
from hypothesis import strategies as st

from chunkwise.chunking import ChunkerConfig
from chunkwise.packing import TokenIndex
from chunkwise.tokenizers import get_tokenizer

LEGAL = (
    "bolling-v-sharpe.txt",
    "stern-electronics-v-kaufman.txt",
    "services-agreement.txt",
    "model-statute.txt",
)


def _chunks(doc, max_tokens: int, overlap: int = 0):
    return list(LegalChunker(ChunkerConfig(max_tokens=max_tokens, overlap=overlap)).chunk(doc))


@pytest.fixture(scope="module")
def docs(sample_docs: Path):
    return {name: LegalParser().parse(sample_docs / "legal" / name) for name in LEGAL}


@settings(max_examples=12, deadline=None)
@given(name=st.sampled_from(LEGAL), max_tokens=st.integers(min_value=24, max_value=600))
def test_invariants(docs, name: str, max_tokens: int) -> None:
    doc = docs[name]
    chunks = _chunks(doc, max_tokens)
    tok = get_tokenizer("cl100k_base")
    index = TokenIndex(doc.text, tok)
    sents = sentence_spans(doc.text)
    sent_starts = [a for a, _ in sents]
    cites = [(e.start, e.end) for e in doc.elements if e.kind == "citation"]
    last = 0
    for i, c in enumerate(chunks):
        assert c.index == i
        assert c.text == doc.text[c.start : c.end]
        assert c.n_tokens == tok.count(c.text) <= max_tokens
        assert c.start >= last
        last = c.end
        # Boundaries fall on sentence starts unless one sentence alone exceeds the cap.
        j = bisect.bisect_right(sent_starts, c.start) - 1
        if sent_starts[j] != c.start:
            # The plan counts the tokens of the whole text that start inside a span, the final
            # check counts the sentence alone; either over the cap allows a cut inside it.
            s, e = sents[j]
            assert max(index.count(s, e), tok.count(doc.text[s:e])) > max_tokens
        else:
            # ...and never inside a citation.
            assert not any(a < c.start < b for a, b in cites)
    # Every sentence's text is covered by some chunk.
    covered = "".join(c.text for c in chunks)
    assert "".join(doc.text.split()) == "".join(covered.split())


def test_section_paths_and_clause_labels(docs) -> None:
    chunks = _chunks(docs["services-agreement.txt"], 40)
    paths = {c.headings for c in chunks}
    # Roman items nest under their lettered clause.
    assert ("ARTICLE IV", "Section 4.2", "(b)", "(ii)") in paths
    assert ("ARTICLE I", "Section 1.1") in paths
    clause = next(c for c in chunks if c.text.startswith("(b)"))
    assert clause.headings == ("ARTICLE IV", "Section 4.2", "(b)")
    assert clause.metadata["section"] == "(b)"
    # A bare heading ("ARTICLE I DEFINITIONS") rides along with the start of its first section.
    article = next(c for c in chunks if c.text.startswith("ARTICLE I\n"))
    assert "Section 1.1" in article.text
    signature = next(c for c in chunks if c.text.startswith("IN WITNESS WHEREOF"))
    assert signature.headings == ("signature block",)


def test_no_chunk_ends_inside_a_started_section(docs) -> None:
    """A heading inside a chunk means its section starts there and ends there too (or runs on
    only because it is the chunk's own section)."""
    doc = docs["services-agreement.txt"]
    heads = sorted(e.start for e in doc.elements if e.kind in ("heading", "signature"))
    heading_text = {(e.start, e.end) for e in doc.elements if e.kind == "heading"}

    def bare_headings(a: int, b: int) -> bool:
        rest = doc.text[a:b]
        for s, e in heading_text:
            if a <= s and e <= b:
                rest = rest.replace(doc.text[s:e], "")
        return not rest.strip()

    for max_tokens in (30, 45, 80, 200):
        chunks = _chunks(doc, max_tokens)
        for c, nxt in itertools.pairwise(chunks):
            inner = [h for h in heads if c.start < h < c.end]
            if inner and not bare_headings(c.start, inner[-1]):
                # The section opened last inside c must not continue into the next chunk.
                following = [h for h in heads if h > inner[-1]]
                assert following and following[0] <= nxt.start


def test_breaks_prefer_section_boundaries(docs) -> None:
    doc = docs["services-agreement.txt"]
    heading_starts = {e.start for e in doc.elements if e.kind == "heading"}
    chunks = _chunks(doc, 120)
    # With room for whole sections, every chunk after the first starts at a heading.
    assert all(c.start in heading_starts for c in chunks[1:])


def test_citations_in_metadata(docs) -> None:
    doc = docs["services-agreement.txt"]
    chunks = _chunks(doc, 80)
    found = [cite for c in chunks for cite in c.metadata["citations"]]
    assert [(x["type"], x["text"]) for x in found] == [
        ("statute", "18 U.S.C. § 1839(3)"),
        ("case", "Brown v. Board of Education, 347 U.S. 483, 495\n(1954)"),
        ("rule", "Fed. R. Civ. P. 12(b)(6)"),
        ("id", "Id. at 496"),
    ]
    for c in chunks:
        for x in c.metadata["citations"]:
            assert c.start <= x["start"] < x["end"] <= c.end
            assert doc.text[x["start"] : x["end"]] == x["text"]


def test_citation_never_cut_even_when_split_is_tempting() -> None:
    # A wrong sentence start inside the citation would let a tiny cap cut it; the chunker drops
    # sentence starts that fall inside citation spans.
    text = "Held. See Brown v. Board of Education, 347 U.S. 483, 495 (1954). Affirmed."
    doc = LegalParser().parse(text.encode())
    chunks = _chunks(doc, 30)
    cite = next(e for e in doc.elements if e.kind == "citation")
    assert any(c.start <= cite.start and cite.end <= c.end for c in chunks)


def test_structure_pass_runs_on_documents_of_other_parsers(sample_docs: Path) -> None:
    doc = TextParser({"detect_legal": False}).parse(
        sample_docs / "legal" / "services-agreement.txt"
    )
    assert doc.parser == "text"
    chunks = _chunks(doc, 40)
    assert any(c.headings[:2] == ("ARTICLE IV", "Section 4.2") for c in chunks)
    assert any(c.metadata["citations"] for c in chunks)


def test_overlap_keeps_cap_and_offsets(docs) -> None:
    doc = docs["bolling-v-sharpe.txt"]
    chunks = _chunks(doc, 120, overlap=20)
    assert all(c.n_tokens <= 120 and c.text == doc.text[c.start : c.end] for c in chunks)
    assert any(b.start < a.end for a, b in itertools.pairwise(chunks))


def test_cli_ingest_with_a_broken_file(cli, sample_docs: Path, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    for name in LEGAL:
        (folder / name).write_bytes((sample_docs / "legal" / name).read_bytes())
    (folder / "zz-broken.txt").write_bytes(
        (sample_docs / "broken" / "binary-junk.txt").read_bytes()
    )
    res = cli(
        "ingest", str(folder), "--format-hint", "legal", "--chunker", "legal", "--max-tokens", "200"
    )
    assert res.returncode == 1, res.stderr
    recs = res.records()
    assert {Path(r["source"]).name for r in recs} == set(LEGAL)
    assert all(r["chunker"] == "legal" and r["parser"] == "legal" for r in recs)
    assert all(r["n_tokens"] <= 200 for r in recs)
    errors = [json.loads(line) for line in res.stderr.splitlines() if line.startswith("{")]
    assert len(errors) == 1 and errors[0]["source"].endswith("zz-broken.txt")
    assert "binary" in errors[0]["message"]


def test_auto_detected_legal_text_gets_legal_structure(cli, sample_docs: Path) -> None:
    res = cli("ingest", str(sample_docs / "legal" / "services-agreement.txt"), "--max-tokens", "60")
    assert res.returncode == 0, res.stderr
    recs = res.records()
    assert recs and all(r["parser"] == "legal" for r in recs)
    assert any(r["headings"][:1] == ["ARTICLE IV"] for r in recs)


def test_statute_paths_nest_titles_sections_and_clauses(docs) -> None:
    chunks = _chunks(docs["model-statute.txt"], 60)
    paths = [c.headings for c in chunks]
    assert ("TITLE 7", "CHAPTER 2", "§ 7-201", "(b)", "(1)") in paths
    assert ("TITLE 7", "CHAPTER 2", "§ 7-202", "(b)") in paths
    assert docs["model-statute.txt"].metadata["legal_type"] == "statute"
    # The wrapped citation stays whole inside one chunk.
    smith = next(
        x for c in chunks for x in c.metadata["citations"] if x["text"].startswith("Smith")
    )
    assert smith["text"] == "Smith v. Maryland, 442 U.S. 735, 743\n(1979)"


def test_min_tokens_merges_small_chunks_within_the_cap(docs) -> None:
    doc = docs["model-statute.txt"]
    plain = _chunks(doc, 80)
    merged = list(LegalChunker(ChunkerConfig(max_tokens=80, min_tokens=30)).chunk(doc))
    assert len(merged) < len(plain)
    assert sum(c.n_tokens < 30 for c in merged) < sum(c.n_tokens < 30 for c in plain)
    assert all(c.n_tokens <= 80 and c.text == doc.text[c.start : c.end] for c in merged)


def test_pdf_document_gets_legal_sentences_and_its_own_headings(sample_docs: Path) -> None:
    pytest.importorskip("pymupdf")
    from chunkwise.registry import load

    path = sample_docs / "pdf" / "three-column-journal.pdf"
    if not path.exists():
        pytest.skip("PDF sample not present")
    doc = load("parsers", "pdf")().parse(path)
    chunks = _chunks(doc, 200)
    assert chunks and all(c.text == doc.text[c.start : c.end] for c in chunks)
    assert all(c.n_tokens <= 200 and c.pages for c in chunks)
    if any(e.kind == "heading" for e in doc.elements):
        assert any(c.headings for c in chunks)
