"""The auto chunker: candidates per format, fast path, choice by score, sampling, metadata."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from chunkwise.chunkers import auto as auto_mod
from chunkwise.chunkers.auto import AutoChunker, sample_windows, sub_document
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chunkwise import quality, registry
from chunkwise.chunking import ChunkerConfig
from chunkwise.types import Chunk, Document


def parse(path: Path) -> Document:
    name = registry.parser_for(str(path)) or "text"
    parser = registry.load("parsers", name)({})
    doc = parser.parse(path, source=str(path))
    return doc if doc.parser else dataclasses.replace(doc, parser=name)


def direct(name: str, doc: Document, config: ChunkerConfig | None = None) -> list[Chunk]:
    return list(registry.load("chunkers", name)(config or ChunkerConfig()).chunk(doc))


def spans(chunks: list[Chunk]) -> list[tuple[int, int, str, str]]:
    return [(c.start, c.end, c.text, c.chunker) for c in chunks]


def test_registered() -> None:
    assert registry.load("chunkers", "auto") is AutoChunker


def test_plain_text_fast_path(sample_docs: Path) -> None:
    doc = parse(sample_docs / "text" / "apache-license-2.0.txt")
    chunks = list(AutoChunker().chunk(doc))
    assert spans(chunks) == spans(direct("recursive", doc))
    for c in chunks:
        assert c.metadata["auto"] == {"chosen": "recursive", "scores": {}, "reason": "fast path"}


def test_large_structured_text_is_scored() -> None:
    para = "Alpha beta gamma delta. Epsilon zeta eta theta iota.\n\n"
    doc = Document("mem", "0" * 16, para * 400, parser="text")
    doc = dataclasses.replace(doc, elements=_paragraphs(doc.text))
    auto = AutoChunker()
    assert not auto.fast_path(doc, auto.candidates(doc))
    chunks = list(auto.chunk(doc))
    info = chunks[0].metadata["auto"]
    assert set(info["scores"]) == {"recursive", "sentence"}
    assert chunks[0].chunker == info["chosen"]


def _paragraphs(text: str) -> tuple:
    from chunkwise.parsing import paragraph_elements

    return tuple(paragraph_elements(text))


def test_code_single_candidate(sample_docs: Path) -> None:
    pytest.importorskip("tree_sitter")
    doc = parse(sample_docs / "code" / "lru_cache.go")
    auto = AutoChunker()
    assert auto.candidates(doc) == ["cast"]
    chunks = list(auto.chunk(doc))
    assert spans(chunks) == spans(direct("cast", doc))
    assert chunks[0].metadata["auto"]["reason"] == "fast path"


def test_markdown_picks_the_best_scoring_candidate(sample_docs: Path) -> None:
    doc = parse(sample_docs / "markdown" / "semchunk-README.md")
    auto = AutoChunker()
    chunks = list(auto.chunk(doc))
    info = chunks[0].metadata["auto"]
    assert set(info["scores"]) == {"section", "recursive", "sentence"}
    assert info["scores"][info["chosen"]] == max(info["scores"].values())
    # The scores are the combined intrinsic metrics of each candidate's whole output.
    for name, value in info["scores"].items():
        s = quality.score(doc, direct(name, doc), size=auto.size, max_tokens=512)
        assert value == pytest.approx(s.combined, abs=1e-4)
    # The output is the chosen chunker's own output, only the metadata is added.
    assert spans(chunks) == spans(direct(info["chosen"], doc))
    assert all(c.metadata["auto"] is info for c in chunks)
    # Deterministic.
    assert [c.metadata for c in AutoChunker().chunk(doc)] == [c.metadata for c in chunks]


def test_tie_goes_to_the_parser_default() -> None:
    # One short paragraph: every candidate returns the same single chunk.
    doc = parse_bytes_markdown("# Title\n\nOne short line.\n")
    chunks = list(AutoChunker().chunk(doc))
    info = chunks[0].metadata["auto"]
    assert len(set(info["scores"].values())) == 1
    assert info["chosen"] == "section"


def parse_bytes_markdown(text: str) -> Document:
    parser = registry.load("parsers", "markdown")({})
    doc = parser.parse(text.encode(), source="mem.md")
    return doc if doc.parser else dataclasses.replace(doc, parser="markdown")


class _Broken:
    name = "broken"

    def chunk(self, doc: Document) -> Iterator[Chunk]:
        raise RuntimeError("boom")


def test_failing_or_missing_candidate_is_skipped(
    monkeypatch: pytest.MonkeyPatch, sample_docs: Path
) -> None:
    monkeypatch.setitem(auto_mod.CANDIDATES, "markdown", ("section", "nonexistent", "broken"))
    auto = AutoChunker()
    auto._chunkers["broken"] = _Broken()
    doc = parse(sample_docs / "markdown" / "nupunkt-README.md")
    assert auto.candidates(doc) == ["section", "broken"]
    chunks = list(auto.chunk(doc))
    assert chunks[0].metadata["auto"]["chosen"] == "section"
    assert set(chunks[0].metadata["auto"]["scores"]) == {"section"}


def test_all_candidates_failing_raises_the_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(auto_mod.CANDIDATES, "markdown", ("broken", "broken2"))
    auto = AutoChunker()
    auto._chunkers["broken"] = auto._chunkers["broken2"] = _Broken()
    auto._defaults["markdown"] = "broken"
    doc = parse_bytes_markdown("# A\n\ntext\n")
    with pytest.raises(RuntimeError, match="boom"):
        list(auto.chunk(doc))


def test_large_document_is_sampled(monkeypatch: pytest.MonkeyPatch, sample_docs: Path) -> None:
    doc = parse(sample_docs / "markdown" / "nupunkt-README.md")
    monkeypatch.setattr(auto_mod, "FULL_SAMPLE_CHARS", 2000)
    monkeypatch.setattr(auto_mod, "WINDOW_CHARS", 3000)
    seen: list[int] = []
    real = quality.score

    def spy(d: Document, chunks: list[Chunk], **kw: object) -> quality.Scores:
        seen.append(len(d.text))
        return real(d, chunks, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(quality, "score", spy)
    chunks = list(AutoChunker().chunk(doc))
    assert seen and max(seen) < len(doc.text)  # scored on windows only
    assert len(seen) == 3 * auto_mod.SAMPLE_WINDOWS
    chosen = chunks[0].metadata["auto"]["chosen"]
    assert spans(chunks) == spans(direct(chosen, doc))


def test_sample_windows_cut_at_elements(sample_docs: Path) -> None:
    doc = parse(sample_docs / "markdown" / "nupunkt-README.md")
    wins = sample_windows(doc, 3, 3000)
    assert len(wins) == 3
    starts = {e.start for e in doc.elements}
    pos = 0
    for w in wins:
        a = doc.text.find(w.text, pos)
        assert a >= pos  # in order, not overlapping
        assert a in starts or a == 0
        pos = a + len(w.text)
        for e in w.elements:
            assert 0 <= e.start <= e.end <= len(w.text)


def test_sub_document_clips_elements() -> None:
    from chunkwise.types import Element

    doc = Document(
        "mem",
        "0" * 16,
        "abcdefghij",
        elements=(Element("paragraph", 0, 4), Element("table", 3, 8), Element("code", 8, 10)),
        parser="text",
    )
    sub = sub_document(doc, 2, 8)
    assert sub.text == "cdefgh"
    assert [(e.kind, e.start, e.end) for e in sub.elements] == [
        ("paragraph", 0, 2),
        ("table", 1, 6),
    ]


def test_bad_auto_vectors_option() -> None:
    from chunkwise.errors import UsageError

    with pytest.raises(UsageError):
        AutoChunker(ChunkerConfig(), {"vectors": "nope"})


WORDS = st.sampled_from(
    "the cat sat on a mat. It was warm! However the dog barked? This is fine".split()
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=st.lists(
        st.tuples(st.booleans(), st.lists(WORDS, min_size=1, max_size=60)), min_size=1, max_size=12
    ),
    max_tokens=st.integers(16, 200),
)
def test_auto_invariants(body: list[tuple[bool, list[str]]], max_tokens: int) -> None:
    text = "".join(
        (f"## {' '.join(ws[:3])}\n\n" if heading else "") + " ".join(ws) + "\n\n"
        for heading, ws in body
    )
    doc = parse_bytes_markdown(text)
    chunks = list(AutoChunker(ChunkerConfig(max_tokens=max_tokens)).chunk(doc))
    assert chunks
    for c in chunks:
        assert c.synthetic or c.text == doc.text[c.start : c.end]
        assert c.n_tokens <= max_tokens
        assert c.chunker == c.metadata["auto"]["chosen"]
    assert [c.index for c in chunks] == list(range(len(chunks)))


def _big_table_doc(rows: int) -> Document:
    lines = ["| id | name | city | amount |", "|---|---|---|---|"]
    lines += [f"| {i} | name{i} | city{i % 50} | {i * 3.5} |" for i in range(rows)]
    text = "# Data\n\nSome intro text.\n\n" + "\n".join(lines) + "\n\nAfter the table.\n"
    parser = registry.load("parsers", "markdown")({})
    doc = parser.parse(text.encode(), source="big.md")
    return doc if doc.parser else dataclasses.replace(doc, parser="markdown")


def test_table_integrity_metric() -> None:
    doc = _big_table_doc(300)
    cfg = ChunkerConfig(max_tokens=128)
    assert quality.table_integrity(doc, direct("section", doc, cfg)) == 1.0
    # recursive packs rows without the header: only the first piece has it.
    assert quality.table_integrity(doc, direct("recursive", doc, cfg)) < 0.2
    assert quality.table_integrity(doc, []) == 1.0


def test_auto_keeps_the_header_on_every_piece_of_a_10000_row_table() -> None:
    # Issue 22: auto picked recursive (0.987 vs 0.982) and 428 of 429 pieces lost the header.
    doc = _big_table_doc(10_000)
    chunks = list(AutoChunker(ChunkerConfig()).chunk(doc))
    assert chunks[0].metadata["auto"]["chosen"] == "section"
    table = next(e for e in doc.elements if e.kind == "table")
    pieces = [c for c in chunks if c.start < table.end and c.end > table.start]
    assert len(pieces) > 100
    assert all(c.text.count("| id | name | city | amount |") == 1 for c in pieces)
    # No row is cut: every piece ends at the end of a row.
    assert all(c.text.rstrip().endswith("|") for c in pieces)


def test_auto_judges_at_the_merged_size_and_cuts_pieces(sample_docs: Path) -> None:
    doc = parse(sample_docs / "markdown" / "semchunk-README.md")
    auto = AutoChunker(ChunkerConfig(max_tokens=32), {"choose_tokens": 160})
    assert auto.choose_config is not None and auto.choose_config.max_tokens == 160
    chunks = list(auto.chunk(doc))
    chosen = chunks[0].metadata["auto"]["chosen"]
    # The pieces are the winner's at 32 tokens, whatever size it was judged at.
    assert [c.text for c in chunks] == [c.text for c in direct(chosen, doc, ChunkerConfig(32))]
    judged = AutoChunker(ChunkerConfig(max_tokens=160)).choose(doc)
    assert chunks[0].metadata["auto"]["scores"] == judged[1]


def test_candidates_that_cut_alike_are_scored_once(
    sample_docs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two candidates giving the same chunks (a short document without headings) are scored
    once, and every candidate's score is the one scoring its own chunks gives."""
    text = "\n\n".join(f"Paragraph {i} says one thing. Then it says another." for i in range(60))
    docs = [
        Document("a.md", "0", text, parser="markdown"),
        parse(sample_docs / "markdown" / "semchunk-README.md"),
    ]
    calls: list[str] = []
    score = AutoChunker.score

    def counted(
        self: AutoChunker,
        doc: Document,
        chunks: list[Chunk],
        memo: quality.ScoreMemo | None = None,
    ) -> float:
        calls.append(doc.source)
        return score(self, doc, chunks, memo)

    monkeypatch.setattr(AutoChunker, "score", counted)
    for doc in docs:
        auto = AutoChunker()
        calls.clear()
        _, scores, _ = auto.choose(doc)
        outputs = {n: list(auto._judge(n).chunk(doc)) for n in scores}
        want = {n: round(round(score(auto, doc, c), 6), 4) for n, c in outputs.items()}
        assert scores == want
        distinct = {tuple(auto_mod._scored_fields(c) for c in cs) for cs in outputs.values()}
        assert len(calls) == len(distinct)
        # The short text: section and recursive cut it alike; the README: all three differ.
        assert len(distinct) == (2 if doc is docs[0] else 3)
