"""Builds sample_docs/pdf/three-column-journal.pdf, a two-page journal article set in three columns
with a full-width title, section headings, a paragraph running
from page 1 to page 2, a running header and a page-number footer, and a bulleted list, so reading
order, de-hyphenation, furniture and S2's column handling are tested on a known layout. The corpus
has no multi-column article. Rebuild with ``python tests/parsers/test_pdf_samples.py``; the test
below checks that the committed file is what this script writes."""

from __future__ import annotations

import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[2] / "sample_docs" / "pdf" / "three-column-journal.pdf"

TITLE = "Field Notes on Rivers, Bees, Bridges and Bread"
RUNNING_HEADER = "Journal of Everyday Systems - Volume 3"

SECTIONS: list[tuple[str, list[str]]] = [
    (
        "1. Rivers and Sediment",
        [
            "A river carries sediment from its upper basin to the sea. Fast water in the steep "
            "upper reaches lifts sand and gravel, while the slow lower course drops them on "
            "gravel bars and in the wide meanders of the floodplain. Every flood reshapes the "
            "bed and moves the channel a little further across the valley floor.",
            "Dams trap most of the sediment that reaches them, so the river below a reservoir "
            "is hungry: it erodes its own banks and bed to regain its load. Deltas downstream "
            "then shrink because the silt that once built them settles behind the dam wall.",
            "Hydrologists measure discharge with current meters and acoustic profilers at "
            "gauging stations, and sediment with depth-integrated samplers lowered from "
            "bridges during floods, when most of the annual load passes in a few days.",
        ],
    ),
    (
        "2. Honey Bees and Foraging",
        [
            "A honey bee colony sends foragers to flowers up to several kilometres from the "
            "hive. A returning forager performs a waggle dance on the comb whose angle gives "
            "the direction of the flowers relative to the sun and whose duration gives their "
            "distance, so her sisters can find the same nectar source.",
            "Foragers prefer nectar with a high sugar content and recruit more nestmates to "
            "rich patches. When the flow stops, the colony shifts workers from foraging to "
            "guarding and to caring for the brood, and the queen lays fewer eggs.",
            "Beekeepers inspect the frames every week in spring, look for queen cells, add "
            "supers when the brood box is full, and treat the colony against varroa mites "
            "after the last honey harvest of the summer season.",
        ],
    ),
    (
        "3. Bridges and Loads",
        [
            "A beam bridge carries its load by bending: the top of the beam is squeezed and "
            "the bottom is stretched. Arch bridges turn the load into compression that flows "
            "along the curve into the abutments, which is why stone, strong in compression "
            "but weak in tension, served arch builders so well for centuries.",
            "Suspension bridges hang the deck from cables draped over tall towers and "
            "anchored in massive blocks at each end. Engineers check them for wind-induced "
            "oscillation, fatigue of the hangers and corrosion of the main cable wires.",
            "Inspectors walk every span at regular intervals, record cracks, spalling "
            "concrete and loose bearings, and rate the condition of the deck, the "
            "superstructure and the substructure on a scale from good to critical.",
        ],
    ),
    (
        "4. Bread and Fermentation",
        [
            "Yeast ferments the sugars in dough into carbon dioxide and ethanol. The gas is "
            "trapped by the gluten network that kneading develops, and the dough rises. A "
            "long cool fermentation gives the enzymes time to release more flavour from the "
            "flour before the loaf goes into the oven.",
            "Sourdough relies on a culture of wild yeasts and lactic acid bacteria kept "
            "alive by regular feeding with flour and water. The acids it produces slow "
            "staling and give the crumb its tang.",
            "- Weigh the flour, water and salt before mixing the dough.",
            "- Fold the dough every half hour during the bulk fermentation.",
            "- Bake with steam for the first twenty minutes for a crisp crust.",
        ],
    ),
]

PAGE_W, PAGE_H = 612.0, 792.0
MARGIN, GUTTER, TOP, BOTTOM = 50.0, 18.0, 110.0, 470.0
BODY, LEADING = 9.5, 12.5


def _wrap(text: str, width: float, fontsize: float, font: str) -> list[str]:
    import pymupdf

    lines: list[str] = []
    cur = ""
    for word in text.split():
        cand = f"{cur} {word}" if cur else word
        if pymupdf.get_text_length(cand, fontname=font, fontsize=fontsize) <= width:
            cur = cand
            continue
        lines.append(cur)
        cur = word
    if cur:
        lines.append(cur)
    return lines


def build(
    sections: list[tuple[str, list[str]]] | None = None,
    title: str = TITLE,
    columns: int = 3,
    bottom: float = BOTTOM,
) -> bytes:
    """The sample PDF; the benchmarks build longer articles with other text and column counts."""
    import pymupdf

    doc = pymupdf.open()
    col_w = (PAGE_W - 2 * MARGIN - (columns - 1) * GUTTER) / columns
    page_no = 0
    page = None
    col = 0
    y = TOP

    def new_page() -> None:
        nonlocal page, page_no, col, y
        page = doc.new_page(width=PAGE_W, height=PAGE_H)
        page_no += 1
        page.insert_text((MARGIN, 40), RUNNING_HEADER, fontname="helv", fontsize=8)
        page.insert_text((PAGE_W / 2 - 12, 765), f"Page {page_no}", fontname="helv", fontsize=8)
        col, y = 0, TOP if page_no > 1 else 150

    new_page()
    assert page is not None
    page.insert_text((MARGIN, 95), title, fontname="hebo", fontsize=18)
    page.insert_text((MARGIN, 118), "A. Writer and B. Editor", fontname="helv", fontsize=BODY)

    def advance(height: float) -> None:
        nonlocal col, y
        if y + height > bottom:
            col += 1
            y = TOP if page_no > 1 else 150
            if col >= columns:
                new_page()

    def put_line(text: str, font: str, size: float) -> None:
        nonlocal y
        advance(LEADING)
        assert page is not None
        x = MARGIN + col * (col_w + GUTTER)
        page.insert_text((x, y), text, fontname=font, fontsize=size)
        y += LEADING if size <= BODY else size * 1.4

    for heading, paras in SECTIONS if sections is None else sections:
        advance(3 * LEADING)
        y += 6
        put_line(heading, "hebo", 12)
        for para in paras:
            for line in _wrap(para, col_w, BODY, "helv"):
                put_line(line, "helv", BODY)
            y += 7
    out: bytes = doc.tobytes(deflate=True, garbage=4, no_new_id=True)
    return out


def test_committed_sample_is_current() -> None:
    import pymupdf

    fresh = pymupdf.open(stream=build(), filetype="pdf")
    saved = pymupdf.open(OUT)
    assert fresh.page_count == saved.page_count
    for a, b in zip(fresh, saved, strict=True):
        assert a.get_text() == b.get_text()


if __name__ == "__main__":
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_bytes(build())
    sys.stdout.write(f"wrote {OUT}\n")
