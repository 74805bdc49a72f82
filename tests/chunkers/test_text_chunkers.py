"""Invariants users rely on, for the token, recursive and sentence chunkers."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest
from chunkwise.chunkers.recursive import RecursiveChunker
from chunkwise.chunkers.sentence import SentenceChunker, sentence_starts
from chunkwise.chunkers.token import TokenChunker
from chunkwise.parsers.markdown import MarkdownParser
from chunkwise.parsers.text import TextParser
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chunkwise.chunking import ChunkerConfig
from chunkwise.parsing import paragraph_elements
from chunkwise.tokenizers import bpe_backends, get_tokenizer
from chunkwise.types import Document
from tests.core.test_bpe_backends import bpe_backend, reference

CHUNKERS = {"token": TokenChunker, "recursive": RecursiveChunker, "sentence": SentenceChunker}

WORDS = st.sampled_from(
    [
        "the",
        "court",
        "held",
        "Mr.",
        "Dr.",
        "e.g.",
        "3.5",
        "naïve",
        "日本語",
        "🎉",
        "x" * 40,
        "end.",
        "Why?",
        "Yes!",
        "—",
        "U.S.",
        "(a)",
        "#",
        "##",
        "-",
        "|",
        "```",
    ]
)
SEPS = st.sampled_from([" ", " ", " ", "\n", "\n\n", "\r\n", "\t", "  ", ". ", "\n# Heading\n"])
TEXTS = st.lists(st.tuples(WORDS, SEPS), max_size=120).map(lambda ps: "".join(a + b for a, b in ps))


def _doc(text: str, markdown: bool = False) -> Document:
    parser = MarkdownParser() if markdown else TextParser()
    return parser.parse_bytes(text.encode("utf-8"), "t") if text else Document("t", "0", text)


def _check(doc: Document, chunker_name: str, max_tokens: int, overlap: int, tokenizer: str) -> None:
    cfg = ChunkerConfig(max_tokens=max_tokens, overlap=overlap, tokenizer=tokenizer)
    chunks = list(CHUNKERS[chunker_name](cfg).chunk(doc))
    tok = get_tokenizer(tokenizer)
    # cl100k/o200k counts are checked against tiktoken itself, whichever backend chunked.
    count = (
        (lambda t: len(reference(tokenizer).encode_ordinary(t)))  # type: ignore[attr-defined]
        if tokenizer in ("cl100k_base", "o200k_base")
        else tok.count
    )
    covered = [False] * len(doc.text)
    for i, c in enumerate(chunks):
        assert c.index == i
        assert c.text == doc.text[c.start : c.end], "offsets must round-trip"
        assert c.text.strip(), "no empty chunks"
        if chunker_name != "token":  # token windows are exact token runs, leading space included
            assert c.text == c.text.strip()
        assert c.n_tokens == count(c.text), "n_tokens is exact"
        assert c.n_tokens <= max_tokens, f"chunk over the cap: {c.n_tokens} > {max_tokens}"
        for k in range(c.start, c.end):
            covered[k] = True
    gaps = [doc.text[k] for k, cov in enumerate(covered) if not cov]
    assert all(ch.isspace() for ch in gaps), "every non-whitespace character is in a chunk"
    starts = [c.start for c in chunks]
    assert starts == sorted(starts)
    again = list(CHUNKERS[chunker_name](cfg).chunk(doc))
    assert again == chunks, "deterministic"


@pytest.mark.parametrize("backend", bpe_backends())
@pytest.mark.parametrize("name", sorted(CHUNKERS))
@settings(max_examples=70, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXTS, max_tokens=st.integers(4, 60), markdown=st.booleans())
def test_invariants_cl100k(
    name: str, backend: str, text: str, max_tokens: int, markdown: bool
) -> None:
    with bpe_backend(backend):
        _check(_doc(text, markdown), name, max_tokens, 0, "cl100k_base")


@pytest.mark.parametrize("name", sorted(CHUNKERS))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXTS, max_tokens=st.integers(8, 40), data=st.data())
def test_invariants_with_overlap(
    name: str, text: str, max_tokens: int, data: st.DataObject
) -> None:
    overlap = data.draw(st.integers(0, max_tokens - 1))
    _check(_doc(text), name, max_tokens, overlap, "cl100k_base")


@pytest.mark.parametrize("backend", bpe_backends())
@pytest.mark.parametrize("name", sorted(CHUNKERS))
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=400), max_tokens=st.integers(4, 30))
def test_invariants_arbitrary_unicode(name: str, backend: str, text: str, max_tokens: int) -> None:
    doc = Document("t", "0", text, elements=tuple(paragraph_elements(text)))
    with bpe_backend(backend):
        _check(doc, name, max_tokens, 0, "cl100k_base")


@pytest.mark.parametrize("tokenizer", ["o200k_base", "all-MiniLM-L6-v2", "chars"])
@pytest.mark.parametrize("name", sorted(CHUNKERS))
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXTS, max_tokens=st.integers(4, 50))
def test_invariants_other_tokenizers(name: str, tokenizer: str, text: str, max_tokens: int) -> None:
    _check(_doc(text), name, max_tokens, 0, tokenizer)


@pytest.mark.parametrize("name", sorted(CHUNKERS))
def test_real_documents(name: str, sample_docs: Path) -> None:
    for path in sorted((sample_docs / "markdown").glob("*.md")) + sorted(
        (sample_docs / "text").glob("*.txt")
    ):
        parser = MarkdownParser() if path.suffix == ".md" else TextParser()
        doc = parser.parse(path)
        _check(doc, name, 128, 16 if name == "token" else 0, "cl100k_base")


def test_token_windows_overlap_by_the_requested_tokens() -> None:
    text = " ".join(f"w{i}" for i in range(300))
    doc = _doc(text)
    cfg = ChunkerConfig(max_tokens=50, overlap=10)
    chunks = list(TokenChunker(cfg).chunk(doc))
    assert len(chunks) > 3
    for a, b in itertools.pairwise(chunks):
        shared = doc.text[b.start : a.end]
        assert b.start < a.end
        assert 8 <= get_tokenizer("cl100k_base").count(shared) <= 11


def test_recursive_prefers_paragraph_and_heading_boundaries() -> None:
    paras = [f"Sentence number {i} is here. " * 6 for i in range(12)]
    text = "# Intro\n\n" + "\n\n".join(paras[:6]) + "\n\n# Second\n\n" + "\n\n".join(paras[6:])
    doc = _doc(text, markdown=True)
    chunks = list(RecursiveChunker(ChunkerConfig(max_tokens=200)).chunk(doc))
    for c in chunks:
        # Every chunk starts at a paragraph or heading start: no paragraph was cut in two.
        assert c.start == 0 or doc.text[c.start - 2 : c.start] == "\n\n"
    second = [c for c in chunks if "# Second" in c.text]
    assert second and second[0].text.startswith("# Second")
    assert second[0].headings == ("Second",)
    assert chunks[0].headings == ("Intro",)


def test_recursive_overlap_starts_on_a_word() -> None:
    text = " ".join(f"word{i}" for i in range(400))
    doc = _doc(text)
    chunks = list(RecursiveChunker(ChunkerConfig(max_tokens=60, overlap=15)).chunk(doc))
    for a, b in itertools.pairwise(chunks):
        assert b.start < a.end
        assert doc.text[b.start - 1] == " "


def test_markdown_table_chunk_reports_kind() -> None:
    text = "# T\n\nIntro.\n\n| a | b |\n|---|---|\n" + "| 1 | 2 |\n" * 30
    doc = _doc(text, markdown=True)
    chunks = list(RecursiveChunker(ChunkerConfig(max_tokens=60)).chunk(doc))
    assert any(c.kind == "table" for c in chunks)


def test_sentence_splitter_cases() -> None:
    text = (
        "Dr. Smith went to Washington. He met J. R. R. Tolkien at 3.5 p.m. sharp! "
        '"Was it raining?" she asked. It was, e.g. heavily. The U.S. Senate agreed.\n\n'
        "New paragraph without end\nNext line"
    )
    starts = sentence_starts(text)
    pieces = [text[a:b].strip() for a, b in zip([0, *starts], [*starts, len(text)], strict=True)]
    assert pieces == [
        "Dr. Smith went to Washington.",
        "He met J. R. R. Tolkien at 3.5 p.m. sharp!",
        '"Was it raining?" she asked.',
        "It was, e.g. heavily.",
        "The U.S. Senate agreed.",
        "New paragraph without end\nNext line",
    ]


def test_sentence_chunks_never_cut_a_sentence() -> None:
    sents = [f"This is sentence {i} with some words in it." for i in range(80)]
    text = " ".join(sents)
    doc = _doc(text)
    chunks = list(SentenceChunker(ChunkerConfig(max_tokens=64)).chunk(doc))
    for c in chunks:
        assert re.fullmatch(r"(This is sentence \d+ with some words in it\. ?)+", c.text)


def test_huge_whitespace_run_does_not_crash_the_tokenizer() -> None:
    # tiktoken's regex overflows its stack on whitespace runs of about a megabyte (a Rust panic).
    text = "start " + " " * 1_200_000 + " end\n\nmore text here."
    doc = Document("t", "0", text)
    chunks = list(RecursiveChunker(ChunkerConfig(max_tokens=64)).chunk(doc))
    assert [c.text for c in chunks] == ["start", "end\n\nmore text here."]
    assert all(c.n_tokens == get_tokenizer("cl100k_base").count(c.text) for c in chunks)


def _sentence_starts_before(text: str, start: int = 0, end: int | None = None) -> list[int]:
    """sentence_starts as it was before it looked at 16 characters for the word before a period
    (a regex search over 40): the reference the faster one must agree with."""
    from chunkwise.chunkers.sentence import _CANDIDATE, ABBREVIATIONS

    from chunkwise.spans import PARAGRAPH

    word_before = re.compile(r"([\w.]+)$")
    end = len(text) if end is None else end
    cuts: set[int] = set()
    for m in PARAGRAPH.finditer(text, start, end):
        if start < m.end() < end:
            cuts.add(m.end())
    for m in _CANDIDATE.finditer(text, start, end):
        pos = m.end()
        if not start < pos < end:
            continue
        if m.group(1) == ".":
            w = word_before.search(text, max(start, m.start() - 40), m.start())
            word = w.group(1).lower() if w else ""
            if word.rstrip(".") in ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
                continue
        if text[pos : pos + 1].islower():
            continue
        cuts.add(pos)
    return sorted(cuts)


_SBD_ATOMS = st.sampled_from(
    [
        "Dr", "dr", "U.S", "e.g", "approx", "x", "J", "word", "Ünïcode", "a" * 20, "ab.cd" * 4,
        "12", ".", ". ", "...", "!", "?", "…", '."', ".”", ")", " ", "  ", "\n", "\n\n", "\t",
        "She", "she", "“The", "(A", "¿Que",
    ]
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(_SBD_ATOMS, max_size=60).map("".join), st.data())
def test_sentence_starts_agree_with_the_previous_splitter(text: str, data: st.DataObject) -> None:
    a = data.draw(st.integers(0, len(text)))
    b = data.draw(st.integers(a, len(text)))
    assert sentence_starts(text, a, b) == _sentence_starts_before(text, a, b)
    assert sentence_starts(text) == _sentence_starts_before(text)


@pytest.mark.parametrize(
    "text",
    [
        "Dr\n. Smith came.",  # the word before a period on the line above counts ($ before \n)
        "It was x\n. Then it rained.",
        "See e.g. The book. " + "a" * 30 + ". Next one.",
        "A very long word like incomprehensibilities. Next.",
        # Cases the scans decide differently from a plain candidate search (sentence_starts):
        "Mr. Smith. The U.S. Senate, Approx. Ten. The U.\u212a. One. Ph.D. Two. x.Mr. Three.",
        "Item _. Item 3. Item é. Item \u0130. Item Ж. Item b. Item \u212a. Done.",
        "Wait?. Yes!. No.! So... Then…. Next.. é. Last. éclair. ßo? Ünï. “Quote.” (Paren.) A.",
        "It ended. “Again.” ‘And.’ «Then.» ¿Que. ¡Si. \x00. x\u2028. Fin.",
    ],
)
def test_sentence_starts_agree_on_edge_cases(text: str) -> None:
    assert sentence_starts(text) == _sentence_starts_before(text)
    for a in range(len(text)):
        assert sentence_starts(text, a) == _sentence_starts_before(text, a)


# What the regex scans of sentence_starts decide without Python or hand to the rule
# (_is_start): abbreviations in any case (the Kelvin sign lower-cases to k), one-letter words
# ASCII or not (İ lower-cases to two characters), a period after a newline or at the start of the
# slice, runs of marks that start with any of them, non-ASCII lower-case letters next. Texts are
# runs of (gap, word, marks, closers, spaces) so that most words end a candidate.
_SCAN_WORDS = st.sampled_from(
    [
        "Mr", "mr", "MRS", "u.S", "U.\u212a", "\u212a", "ph.D", "Approx", "approx", "thurs",
        "THUR", "p", "P", "x", "é", "É", "Ж", "\u0130", "\u0130nc", "\u0131nc", "ſt", "_", "3",
        "3.5", "q.v", "word", "Ünïcode", "a" * 6, "a" * 7, "x" * 16, "e.g" * 6, "Dr\n", "x\n",
        "", "She", "she", "éclair", "ßo", "“The", "(A", "¿Que", "\x00", "K",
    ]
)  # fmt: skip
_SCAN_PIECE = st.tuples(
    st.sampled_from(["", "", " ", "(", "\n", "x", ".", "\u2028"]),
    _SCAN_WORDS,
    st.sampled_from([".", ".", ".", "..", "?.", "!", "?", "…", "….", ".!", "?!", ""]),
    st.sampled_from(["", "", '"', "”", ")", "’»", "]"]),
    st.sampled_from([" ", " ", "\n", "\n\n", " \n \n", "  ", "\t", ""]),
).map("".join)
_SCAN_CHARS = "..!?… \n\"'”’»)]“‘«([¿¡aAkKmMrRpPxé\u212a\u0130_3\x00"


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(
        st.lists(_SCAN_PIECE, max_size=8).map("".join),
        st.lists(_SCAN_PIECE, max_size=8).map("".join),
        st.text(alphabet=_SCAN_CHARS, max_size=60),
    ),
    st.data(),
)
def test_sentence_scans_agree_with_the_rule(text: str, data: st.DataObject) -> None:
    a = data.draw(st.integers(0, len(text)))
    b = data.draw(st.integers(a, len(text)))
    assert sentence_starts(text, a, b) == _sentence_starts_before(text, a, b)
    assert sentence_starts(text) == _sentence_starts_before(text)


def test_sentence_scans_know_every_letter_that_lower_cases_to_ascii() -> None:
    import string
    import sys

    from chunkwise.chunkers.sentence import _LOWERS_TO

    found: dict[str, str] = {}
    for c in map(chr, range(sys.maxunicode + 1)):
        low = c.lower()
        if c not in string.ascii_letters + "." and low in string.ascii_lowercase + ".":
            found[low] = found.get(low, "") + c
    assert found == _LOWERS_TO
