"""The legal detector's prefilter never changes its answer, and keeps it cheap."""

from __future__ import annotations

import re
import time
from pathlib import Path

from chunkwise.parsers import legal
from chunkwise.parsers.legal import looks_legal
from hypothesis import given, settings
from hypothesis import strategies as st


def _reference(text: str, sample: int = 40_000) -> bool:
    """The detector without its prefilter: the regex alone decides."""
    head = text[:sample]
    if len(head) < 200:
        return False
    hits = [m.group() for m in legal._SIGNALS.finditer(head)]
    kinds = {h.split()[0].rstrip(".") if " " in h else h for h in hits}
    density = len(hits) / (len(head) / 1000)
    return len(kinds) >= 3 and len(hits) >= 5 and density >= 0.5


# Pieces that match (or nearly match) the signals, mixed with prose, so generated texts land on
# both sides of every threshold.
_FRAGMENTS = [
    "Smith v. Jones",
    "v. jones",
    "42 U.S.C. § 1983",
    "U. S. C.",
    "§ 12",
    "F. Supp. 2d",
    "F.3d",
    "S. Ct.",
    "S.Ct.",
    "29 C.F.R.",
    "Id. at 5",
    "Id.",
    "WHEREAS",
    "ARTICLE IV",
    "Section 2.1",
    "Plaintiffs",
    "Defendant",
    "Appellee",
    "Petitioner",
    "Respondents",
    "hereinafter",
    "hereby",
    "pursuant to",
    "IN WITNESS WHEREOF",
    "Court of Appeals",
    "Supreme Court",
    "jurisdiction",
    "there where nowhere",
    "The weather was fine and the meeting went on. ",
    "Revenue rose 5 per cent. ",
    "\n\n",
    " ",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_FRAGMENTS), min_size=0, max_size=120), st.integers(0, 400))
def test_prefilter_agrees_with_the_regex(parts: list[str], pad: int) -> None:
    text = " ".join(parts) + "x" * pad
    spans = [m.span() for m in legal._SIGNALS.finditer(text)]
    assert [m.span() for m in legal._SIGNALS_SCAN.finditer(text)] == spans
    assert looks_legal(text) == _reference(text)
    assert looks_legal(text, sample=300) == _reference(text, sample=300)


def _pivots(text: str) -> set[int]:
    out = {i for i, c in enumerate(text) if c == "§"}
    for pattern in legal._PIVOTS:
        out.update(m.start() for m in re.finditer(pattern, text))
    return out


def _check_every_signal_holds_a_pivot(text: str) -> None:
    pivots = _pivots(text)
    for m in legal._SIGNALS.finditer(text):
        assert any(m.start() <= p < m.end() for p in pivots), (text, m)
    # Hence the bound looks_legal uses: one pivot per match at least.
    n = text.count("§") + sum(len(findall(text)) for findall in legal._PIVOT_SCANS)
    assert n >= len(legal._SIGNALS.findall(text)), text


# Pieces of the signals and of their contexts, overlapping each other and the signals' edges.
_EDGES = ["WITNESS.", "WHEREAS.", "US.", "Id. at", "v. S", "U.S.C.", "U. S. C.", "S. Ct.", "x", "S",
          "U", "F", "v", "I", "d", "C", "t", "at", "ARTIC", "LE", "WHERE", "AS", "IN", "OF",
          "Section", "Court", "Supreme", "of Appeals", "Plaintiff", "Defendant", "Appell", "ant",
          "ee", "Petitioner", "Respondent", "s", "here", "by", "inafter", "pursuant", "to",
          "jurisdiction", "§", ".", " ", "\n", "\xa0", "\u2003", "Ct.", "C.F.R.", "2d", "1.2",
          "Supp.", "Appeals", "C.F.", "R.", "S.C.", "U.S. C."]  # fmt: skip


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.sampled_from(_EDGES), max_size=60))
def test_every_signal_holds_a_pivot(parts: list[str]) -> None:
    _check_every_signal_holds_a_pivot("".join(parts))


_SIGNAL_TEXT = st.from_regex(legal._SIGNALS, fullmatch=True)


@settings(max_examples=500, deadline=None)
@given(st.lists(_SIGNAL_TEXT | st.sampled_from(_EDGES) | st.text(max_size=3), max_size=30))
def test_every_generated_signal_holds_a_pivot(parts: list[str]) -> None:
    """Every form each alternative allows (any Unicode space or digit), next to anything."""
    _check_every_signal_holds_a_pivot("".join(parts))


def test_prefilter_agrees_on_documents(sample_docs: Path) -> None:
    paths = [p for p in sample_docs.rglob("*") if p.suffix in (".txt", ".md", ".html")]
    assert paths
    for path in paths:
        text = path.read_text(encoding="utf-8", errors="replace")
        assert looks_legal(text) == _reference(text), path


def test_plain_prose_costs_microseconds() -> None:
    prose = (
        "The council met on Tuesday to discuss the new library. Members asked where the money "
        "would come from, and the treasurer said there was enough in the reserve. "
    ) * 25  # about 4 KB, like a small text file
    assert not looks_legal(prose)
    t0 = time.perf_counter()
    for _ in range(200):
        looks_legal(prose)
    per_call = (time.perf_counter() - t0) / 200
    t0 = time.perf_counter()
    for _ in range(20):
        _reference(prose)
    per_regex = (time.perf_counter() - t0) / 20
    # Measured ~20 us vs ~1 ms; the margin keeps a loaded machine from failing it.
    assert per_call < per_regex / 5
