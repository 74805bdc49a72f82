"""Builds sample_docs/pdf/vision-cross-page-table.pdf: a small report whose table runs over three
pages (header repeated on page 2, not repeated on page 3), a paragraph cut by a page break, and a
numbered procedure. Run ``python tests/chunkers/vision_samples.py`` to rebuild it."""

from __future__ import annotations

import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[2] / "sample_docs" / "pdf" / "vision-cross-page-table.pdf"

REGIONS = [
    "Alder", "Birch", "Cedar", "Dogwood", "Elm", "Fir", "Ginkgo", "Hazel", "Ivy", "Juniper",
    "Kapok", "Larch", "Maple", "Nutmeg", "Oak", "Pine", "Quince", "Rowan", "Spruce", "Teak",
]  # fmt: skip
HEADER = ["Region", "Site", "Units sold", "Revenue (USD)", "Growth"]

PARA_1 = (
    "This report summarises the sales of the northern cooperative for the third quarter. "
    "Figures are taken from the audited ledgers of every site and rounded to whole units. "
    "The table below lists every site; it is long and runs over several pages."
)
PARA_BROKEN = (
    "The growth figures compare each site with the same quarter of the previous year and are "
    "not adjusted for the two sites that changed their opening hours during the summer, which "
    "explains most of the variation between neighbouring sites in the western region and the "
    "unusually strong result of the harbour branch, whose new loading bay opened in July and "
    "doubled the volume it could ship on market days while the inland sites kept their "
    "previous schedule for the whole of the quarter under review. Sites that reported late are "
    "included with their provisional figures, which the regional offices have confirmed by "
    "letter; the final figures will be published with the annual accounts in the spring and "
    "may differ from this report by a few units for the smallest sites of the eastern region."
)
STEPS = [
    "1. Export the ledger of each site as CSV from the accounting system.",
    "2. Check that the totals of every file match the monthly statements.",
    "3. Merge the files with the consolidation script and keep its log.",
    "4. Send the merged file and the log to the auditor before the 15th.",
]


def rows() -> list[list[str]]:
    out = []
    for i in range(90):
        region = REGIONS[i % len(REGIONS)]
        out.append(
            [
                region,
                f"{region[:3].upper()}-{i + 1:03d}",
                f"{(i * 37) % 900 + 100}",
                f"{((i * 7919) % 90000 + 10000):,}",
                f"{((i * 13) % 21) - 10:+d}%",
            ]
        )
    return out


def build(path: Path = OUT) -> Path:
    import pymupdf

    doc = pymupdf.open()
    width, height = 612, 792
    left, right = 72, 540
    col_x = [72, 160, 260, 360, 460, 540]
    row_h = 18

    def new_page(number: int) -> tuple[pymupdf.Page, float]:
        page = doc.new_page(width=width, height=height)
        page.insert_text((left, 40), "Northern Cooperative - Q3 Sales Report", fontsize=8)
        page.insert_text((width / 2 - 10, height - 30), f"Page {number}", fontsize=8)
        return page, 80

    def text_box(page: pymupdf.Page, y: float, text: str, size: float = 11) -> float:
        rect = pymupdf.Rect(left, y, right, height - 60)
        rest = page.insert_textbox(rect, text, fontsize=size, fontname="helv")
        used = rect.height - rest if rest >= 0 else rect.height
        return y + used + 10

    def table_row(page: pymupdf.Page, y: float, cells: list[str], bold: bool) -> float:
        font = "hebo" if bold else "helv"
        for j, cell in enumerate(cells):
            page.insert_text((col_x[j] + 4, y + 13), cell, fontsize=10, fontname=font)
        # One rectangle per row keeps the file small (one path instead of seven lines).
        shape = page.new_shape()
        shape.draw_rect(pymupdf.Rect(left, y, right, y + row_h))
        for x in col_x[1:-1]:
            shape.draw_line((x, y), (x, y + row_h))
        shape.finish(width=0.5)
        shape.commit()
        return y + row_h

    number = 1
    page, y = new_page(number)
    page.insert_text((left, y), "Quarterly Sales Report", fontsize=20, fontname="hebo")
    y += 30
    page.insert_text((left, y), "1. Sales by site", fontsize=15, fontname="hebo")
    y += 12
    y = text_box(page, y, PARA_1)
    data = rows()
    y = table_row(page, y, HEADER, True)
    i = 0
    repeat_header = True
    while i < len(data):
        if y + row_h > height - 70:
            number += 1
            page, y = new_page(number)
            if repeat_header:
                y = table_row(page, y, HEADER, True)
            # Only the first page break repeats the header; the second tests the other case.
            repeat_header = False
        y = table_row(page, y, data[i], False)
        i += 1
    y += 24
    page.insert_text((left, y), "2. Notes", fontsize=15, fontname="hebo")
    y += 12
    # Fill the page so the paragraph is cut by the page break.
    words = PARA_BROKEN.split()
    lines: list[str] = []
    cur = ""
    for w in words:
        if len(cur) + len(w) + 1 > 88:
            lines.append(cur)
            cur = w
        else:
            cur = f"{cur} {w}".strip()
    lines.append(cur)
    for k, line in enumerate(lines):
        if y + 14 > height - 70:
            number += 1
            page, y = new_page(number)
        page.insert_text((left, y + 11), line, fontsize=11, fontname="helv")
        y += 14
        del k
    y += 20
    page.insert_text((left, y), "3. Procedure for the next quarter", fontsize=15, fontname="hebo")
    y += 12
    for step in STEPS:
        y = text_box(page, y, step)
    doc.set_metadata({"title": "Quarterly Sales Report", "producer": "chunkwise tests"})
    path.parent.mkdir(parents=True, exist_ok=True)
    doc.save(path, garbage=4, deflate=True)
    doc.close()
    return path


if __name__ == "__main__":
    print(build(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT))
