"""The one block renderer (chunkwise.blocks.render) as the HTML parser and the formats that embed
HTML (e-books, mail bodies) use it: the differences are the parameters."""

from __future__ import annotations

from chunkwise.parsers.html import HtmlParser

from chunkwise.blocks import Block, from_html_blocks, html_blocks, render

HEAD_ROWS = "".join(f"<tr><th>h{i}</th><th>g{i}</th></tr>" for i in range(6))
PAGE = f"""<html><body>
<h1>Title</h1>
<blockquote><p>Quoted</p><ul><li>one<ul><li>inner</li></ul></li></ul></blockquote>
<table>{HEAD_ROWS}<tr><td>1</td><td>2</td></tr></table>
</body></html>"""


def _header_rows(elements: list) -> int:
    return sum(1 for e in elements if e.kind == "table_row" and e.attrs["header"])


def test_html_page_keeps_quote_indentation_and_every_header_row() -> None:
    doc = HtmlParser({"mode": "full"}).parse(PAGE.encode(), source="p.html")
    assert "- one\n  - inner" in doc.text  # not cleaned again: the nested item stays indented
    assert _header_rows(list(doc.elements)) == 6


def test_embedded_html_cleans_and_caps_header_rows() -> None:
    text, elements = render(html_blocks(PAGE))
    assert "- one\n- inner" in text  # an e-book chapter or mail body is cleaned like office text
    assert _header_rows(elements) == 5


def test_header_detection_without_th() -> None:
    rows = [(["Name", "Count"], False), (["a", "1"], False), (["b", "2"], False)]
    (table,) = from_html_blocks([_HBlock("table", rows=rows)])
    assert table.n_head == 1  # words over a column of numbers
    _, elements = render([table, Block("paragraph", "  spaced   out  ")])
    assert elements[0].attrs["header"] == ["Name", "Count"]
    assert elements[-1].kind == "paragraph"


class _HBlock:
    def __init__(self, kind: str, rows: list) -> None:
        self.kind = kind
        self.rows = rows
