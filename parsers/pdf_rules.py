"""Can a page's vector graphics hold a ruled table at all? A cheap, conservative test run before
pymupdf's ``find_tables`` (30-250 ms per page, most of it building a character list of the whole
page, whether or not the page has a table).

``find_tables(use_layout=False)`` with its default "lines" strategy builds cells only from edges
of the vector graphics: axis-parallel lines, the sides of rectangles and quads, and the sides of
the boxes around clusters of touching paths. Edges are snapped together when their positions are
within 3 pt, joined when collinear with gaps of at most 3 pt, and dropped when shorter than 3 pt.
A table with at least 2 rows and 2 columns (the only tables the parser keeps) has corners on at
least 3 distinct horizontal and 3 distinct vertical edges. ``may_hold_table`` builds a superset of
those edges (it snaps and joins at least as generously and never drops an edge pymupdf keeps) and
answers False only when fewer than 3 remain in one direction, so a page it rejects is a page on
which ``find_tables`` finds no table we would keep. The typical text page it rejects: underscores
drawn as short strokes, a rule under a running header, booktabs-style horizontal rules.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

# pymupdf's defaults (snap, join, intersection tolerance and edge_min_length are all 3 pt).
TOLERANCE = 3.0
MIN_LENGTH = 3.0
# Beyond this many paths the clustering below costs more than it saves: let find_tables decide.
MAX_PATHS = 3000

Edge = tuple[float, float, float]  # position across, start along, end along
Box = tuple[float, float, float, float]


def may_hold_table(drawings: Sequence[dict[str, Any]]) -> bool:
    """False only when ``drawings`` (``page.get_cdrawings()``) cannot make a table of at least
    2 rows and 2 columns under pymupdf's line strategy."""
    if len(drawings) > MAX_PATHS:
        return True
    horizontal: list[Edge] = []
    vertical: list[Edge] = []

    def segment(x0: float, y0: float, x1: float, y1: float) -> None:
        # pymupdf's make_line + line_to_edge: a segment parallel to an axis within the tolerance
        # is horizontal only when its two ends have the very same y; any other is vertical at
        # its smaller x.
        if abs(x1 - x0) > TOLERANCE and abs(y1 - y0) > TOLERANCE:
            return
        if y0 == y1:
            horizontal.append((y0, min(x0, x1), max(x0, x1)))
        else:
            vertical.append((min(x0, x1), min(y0, y1), max(y0, y1)))

    def box(x0: float, y0: float, x1: float, y1: float) -> None:
        x0, x1 = min(x0, x1), max(x0, x1)
        y0, y1 = min(y0, y1), max(y0, y1)
        w, h = x1 - x0, y1 - y0
        # A thin rectangle stands for one line along its middle (pymupdf's _is_line_like).
        if w <= MIN_LENGTH and w < h:
            segment((x0 + x1) / 2, y0, (x0 + x1) / 2, y1)
        elif h <= MIN_LENGTH and h < w:
            segment(x0, (y0 + y1) / 2, x1, (y0 + y1) / 2)
        else:
            segment(x0, y0, x0, y1)
            segment(x0, y1, x1, y1)
            segment(x1, y1, x1, y0)
            segment(x1, y0, x0, y0)

    rects: list[Box] = []
    for path in drawings:
        items = path.get("items") or ()
        for item in items:
            op = item[0]
            if op == "l":
                (ax, ay), (bx, by) = item[1], item[2]
                segment(ax, ay, bx, by)
            elif op == "re":
                box(*item[1][:4])
            elif op == "qu":
                ul, ur, ll, lr = item[1]
                for (ax, ay), (bx, by) in ((ul, ll), (ll, lr), (lr, ur), (ur, ul)):
                    segment(ax, ay, bx, by)
        if path.get("closePath") and items and items[0][0] == "l" and items[-1][0] == "l":
            (ax, ay), (bx, by) = items[-1][2], items[0][1]
            segment(ax, ay, bx, by)
        r = path.get("rect")
        if r is not None:
            rects.append((float(r[0]), float(r[1]), float(r[2]), float(r[3])))
    # pymupdf also draws the box around each cluster of touching paths (with text inside). Its
    # clusters lie inside the ones grown here, so every side of one of its boxes sits at a side
    # of a member rectangle and spans at most the grown cluster: those edges are added.
    for (cx0, cy0, cx1, cy1), members in _clusters(rects):
        for x0, y0, x1, y1 in members:
            for x in (x0, x1):
                vertical.append((x, cy0, cy1))
            for y in (y0, y1):
                horizontal.append((y, cx0, cx1))
    return _lines(horizontal) >= 3 and _lines(vertical) >= 3


def _clusters(rects: list[Box]) -> Iterator[tuple[Box, list[Box]]]:
    """Groups of rectangles that touch within the tolerance, grown until stable, with the box
    around each. pymupdf's ``clean_graphics`` joins a rectangle to a box only when a corner
    coordinate lies within the tolerance of it, which implies the overlap tested here, so each
    of its clusters lies inside one of these."""
    t = TOLERANCE
    todo = sorted(set(rects), key=lambda r: (r[3], r[0]))
    while todo:
        first = todo.pop(0)
        members = [first]
        x0, y0, x1, y1 = first
        grown = True
        while grown:
            grown = False
            rest = []
            for r in todo:
                if r[0] <= x1 + t and r[2] >= x0 - t and r[1] <= y1 + t and r[3] >= y0 - t:
                    x0, y0, x1, y1 = min(x0, r[0]), min(y0, r[1]), max(x1, r[2]), max(y1, r[3])
                    members.append(r)
                    grown = True
                else:
                    rest.append(r)
            todo = rest
        yield (x0, y0, x1, y1), members


def _lines(edges: list[Edge]) -> int:
    """An upper bound of the number of distinct lines pymupdf keeps from a subset of ``edges``.

    pymupdf snaps positions by chain clustering (neighbours within the tolerance share a line),
    joins collinear edges with gaps up to the tolerance and drops joined edges shorter than
    MIN_LENGTH. Chained here over the superset, a group holds whole pymupdf groups; a group
    ``w`` wide holds at most ``1 + w // TOLERANCE`` of them, since theirs are more than the
    tolerance apart; a group none of whose joined edges is long enough holds none that is.
    """
    if not edges:
        return 0
    edges.sort()
    count = 0
    group: list[Edge] = [edges[0]]
    for e in edges[1:]:
        if e[0] - group[-1][0] <= TOLERANCE:
            group.append(e)
        else:
            count += _capacity(group)
            group = [e]
    return count + _capacity(group)


def _capacity(group: list[Edge]) -> int:
    spans = sorted((a, b) for _, a, b in group)
    longest = 0.0
    start, end = spans[0]
    for a, b in spans[1:]:
        if a <= end + TOLERANCE:
            end = max(end, b)
        else:
            longest = max(longest, end - start)
            start, end = a, b
    longest = max(longest, end - start)
    if longest < MIN_LENGTH:
        return 0
    return 1 + int((group[-1][0] - group[0][0]) // TOLERANCE)
