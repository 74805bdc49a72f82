"""The overprint check's short cuts (texts met once, grid rows narrowed by the tolerance) decide
exactly as the plain nine-cell search over every text they replace."""

from __future__ import annotations

from collections.abc import Sequence

from chunkwise.parsers.pdf import _Overprint
from hypothesis import given, settings
from hypothesis import strategies as st


class Plain:
    """The check as it was: every text, all nine neighbouring grid cells."""

    def __init__(self) -> None:
        self.boxes: dict[tuple[str, int, int], list[Sequence[float]]] = {}

    def repeated(self, text: str, bbox: Sequence[float], both: bool = False) -> bool:
        key = text.strip()
        if not key:
            return False
        gx, gy = int(bbox[0] // 4), int(bbox[1] // 4)
        t = min(_Overprint.TOLERANCE, 0.5 * (bbox[2] - bbox[0]))
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                if _Overprint._near(self.boxes.get((key, gx + dx, gy + dy), ()), bbox, t, both):
                    return True
        self.boxes.setdefault((key, gx, gy), []).append(bbox)
        return False


# Boxes on a coarse lattice (grid-cell edges included), and copies of earlier boxes shifted by
# about the tolerance, so copies, near misses and copies across a cell edge all occur.
COORD = st.builds(lambda k, d: k * 2.0 + d, st.integers(0, 12), st.sampled_from([0, 0.5, 3.99]))
SHIFT = st.sampled_from([-1.6, -1.5, -0.75, -0.02, 0.0, 0.02, 0.75, 1.5, 1.6])
NEW = st.tuples(
    st.sampled_from(["a", "the", "ll", " x ", "  "]),
    COORD,
    COORD,
    st.sampled_from([0.5, 2.0, 3.0, 8.0]),
    st.sampled_from([1.0, 10.0]),
)
COPY = st.tuples(st.integers(0, 100), SHIFT, SHIFT, SHIFT, SHIFT)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(NEW, COPY), max_size=40), st.booleans())
def test_shortcuts_decide_as_the_nine_cell_search(items: list, both: bool) -> None:
    fast, plain = _Overprint(), Plain()
    spans: list[tuple[str, tuple[float, float, float, float]]] = []
    for item in items:
        if isinstance(item[0], str):
            text, x, y, w, h = item
            box = (x, y, x + w, y + h)
        elif spans:
            text, (x0, y0, x1, y1) = spans[item[0] % len(spans)]
            box = (x0 + item[1], y0 + item[2], x1 + item[3], y1 + item[4])
        else:
            continue
        spans.append((text, box))
        assert fast.repeated(text, box, both) == plain.repeated(text, box, both)
