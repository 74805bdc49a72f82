"""The PDF parser's shortcuts must not change what it finds: the ruled-table prefilter rejects only
pages on which pymupdf finds no table, and pymupdf is imported without its layout model (which
the vision chunker can still load later in the same process)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pymupdf
from chunkwise.parsers.pdf_rules import may_hold_table
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import ROOT

# Positions on a coarse grid with a jitter around the 3 pt snap/join tolerances.
_pos = st.builds(
    lambda k, j: 20.0 + 25.0 * k + j, st.integers(0, 8), st.sampled_from([0, 1, 2.9, 3.1, 4])
)
_line = st.tuples(st.just("l"), _pos, _pos, _pos, _pos)
_rect = st.tuples(st.just("re"), _pos, _pos, _pos, _pos)
_thin = st.tuples(st.sampled_from(["hbar", "vbar"]), _pos, _pos, _pos, st.just(0.0))
_shapes = st.lists(st.one_of(_line, _line, _rect, _thin), min_size=4, max_size=9)


def _page(shapes: list[tuple[str, float, float, float, float]]) -> pymupdf.Page:
    doc = pymupdf.open()
    page = doc.new_page(width=260, height=260)
    for k in range(9):
        for j in range(9):
            page.insert_text((24 + 25 * j, 36 + 25 * k), "ab", fontsize=6)
    for kind, a, b, c, d in shapes:
        if kind == "l":
            # Mostly axis-parallel: snap one coordinate pair together.
            if (a + b) % 2:
                d = b
            else:
                c = a
            if (a, b) != (c, d):
                page.draw_line((a, b), (c, d))
        elif kind == "re":
            r = pymupdf.Rect(min(a, c), min(b, d), max(a, c), max(b, d))
            if not r.is_empty:
                page.draw_rect(r)
        elif kind == "hbar":
            page.draw_rect(pymupdf.Rect(min(a, c), b, max(a, c) + 1, b + 1.5), fill=(0, 0, 0))
        else:
            page.draw_rect(pymupdf.Rect(b, min(a, c), b + 1.5, max(a, c) + 1), fill=(0, 0, 0))
    return page


def _kept_tables(page: pymupdf.Page) -> list[tuple[int, int]]:
    found = page.find_tables(use_layout=False)
    return [
        (t.row_count, t.col_count) for t in found.tables if t.row_count >= 2 and t.col_count >= 2
    ]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_shapes)
def test_prefilter_rejects_only_pages_without_tables(shapes) -> None:
    page = _page(shapes)
    if not may_hold_table(page.get_cdrawings()):
        assert _kept_tables(page) == []


def test_prefilter_keeps_a_ruled_grid_and_rejects_strokes() -> None:
    grid = [("l", 20.0, y, 220.0, y) for y in (20.0, 45.0, 70.0)]
    grid += [("l", x, 20.0, x, 70.0) for x in (20.0, 120.0, 220.0)]
    page = _page(grid)
    assert _kept_tables(page)
    assert may_hold_table(page.get_cdrawings())
    # Underscores drawn as short strokes and a rule under a header, as pdfTeX manuals have them.
    strokes = [("l", x, 100.0, x + 4, 100.0) for x in (20.0, 60.0, 120.0)]
    strokes += [("l", 20.0, 30.0, 240.0, 30.0), ("l", 20.0, 230.0, 240.0, 230.0)]
    page = _page(strokes)
    assert not may_hold_table(page.get_cdrawings())


def test_pymupdf_is_imported_without_the_layout_model_which_still_loads_later() -> None:
    code = textwrap.dedent(
        """
        import sys
        from chunkwise.parsers.pdf import pymupdf_module
        m = pymupdf_module()
        assert "pymupdf.layout" not in sys.modules and "pymupdf4llm" not in sys.modules
        assert m._get_layout is None
        import pymupdf4llm
        assert callable(m._get_layout), "layout model not activated by a later pymupdf4llm import"
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_inline_image_is_still_a_figure() -> None:
    from chunkwise.parsers.pdf import extract_page

    doc = pymupdf.open()
    page = doc.new_page(width=300, height=300)
    page.insert_text((20, 30), "A page with an inline image below.", fontsize=10)
    page.clean_contents()
    xref = page.get_contents()[0]
    inline = b"\nq 120 0 0 120 60 80 cm BI /W 2 /H 2 /CS /G /BPC 8 ID \x00\xff\xff\x00 EI Q\n"
    doc.update_stream(xref, doc.xref_stream(xref) + inline)
    assert not page.get_images() and not page.get_xobjects()
    figures = [b for b in extract_page(page).blocks if b.kind == "figure"]
    assert len(figures) == 1
    assert [round(v) for v in figures[0].bbox] == [60, 100, 180, 220]
