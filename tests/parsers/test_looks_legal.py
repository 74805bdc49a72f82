"""The legal detector's literal prefilter never changes its answer, and keeps it cheap."""

from __future__ import annotations

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


# Literals overlapping each other and the signals' edges, in every order.
_EDGES = [*legal._SIGNAL_LITERALS, "WITNESS.", "WHEREAS.", "US.", "Id. at", "v. S", "U.S.C.", "x",
          "S", "U", "F", "v", "I", "d", ".", " ", "\n", "Ct.", "C.F.R.", "2d", "1.2"]  # fmt: skip


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.sampled_from(_EDGES), max_size=60))
def test_literal_scan_bounds_the_signal_matches(parts: list[str]) -> None:
    text = "".join(parts)
    assert len(legal._LITERALS_SCAN.findall(text)) >= len(legal._SIGNALS.findall(text)), text


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
