from __future__ import annotations

import gzip
import logging
from pathlib import Path

import pytest
from chunkwise.parsers.html import HtmlParser, decode_html
from hypothesis import given, settings
from hypothesis import strategies as st

from chunkwise import registry
from chunkwise.errors import ParseError, UsageError
from chunkwise.types import Document
from tests.conftest import GOLDEN, assert_golden

PAGE = """<!DOCTYPE html>
<html lang="en-GB">
<head>
  <meta charset="utf-8">
  <title>Guide to Widgets | Example Site</title>
  <meta name="author" content="Ada Lovelace">
  <meta property="og:site_name" content="Example Site">
  <meta name="description" content="How widgets work.">
  <meta property="article:published_time" content="2021-03-04T10:00:00Z">
  <link rel="canonical" href="https://example.org/widgets">
  <style>p { color: red }</style>
  <script>var tracking = "do not index me";</script>
</head>
<body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/about">About</a></li></ul></nav>
<h1>Guide to <em>Widgets</em></h1>
<p>Widgets are small   things
that do one job.<br>They fit in a pocket.</p>
<h2>Kinds</h2>
<ul>
  <li>Round widgets
    <ol><li>small</li><li>large</li></ol>
  </li>
  <li>Square <b>widgets</b></li>
</ul>
<h3>Sizes</h3>
<table>
  <thead><tr><th>Name</th><th>Size | cm</th></tr></thead>
  <tbody>
    <tr><td>Alpha</td><td>3</td></tr>
    <tr><td>Beta</td><td>5</td></tr>
  </tbody>
</table>
<h2>Code</h2>
<pre><code class="language-python">def widget():
    return 42
</code></pre>
<blockquote><p>Widgets are the future.</p></blockquote>
<div hidden>secret hidden text</div>
<div style="display: none">also hidden</div>
<footer>Copyright 2021</footer>
</body>
</html>
"""


def _kinds(doc: Document) -> list[tuple[str, str]]:
    return [(e.kind, doc.text[e.start : e.end]) for e in doc.elements]


def _full(html: str | bytes) -> Document:
    data = html.encode("utf-8") if isinstance(html, str) else html
    return HtmlParser({"html_mode": "full"}).parse(data, source="page.html")


# -- structure ------------------------------------------------------------------------------------


def test_full_mode_keeps_every_block_with_structure() -> None:
    doc = _full(PAGE)
    kinds = [(k, t) for k, t in _kinds(doc) if k not in ("list_item", "table_row")]
    assert kinds == [
        ("list", "- Home\n- About"),
        ("heading", "Guide to Widgets"),
        ("paragraph", "Widgets are small things that do one job.\nThey fit in a pocket."),
        ("heading", "Kinds"),
        ("list", "- Round widgets\n  1. small\n  2. large\n- Square widgets"),
        ("heading", "Sizes"),
        ("table", "| Name | Size \\| cm |\n| --- | --- |\n| Alpha | 3 |\n| Beta | 5 |"),
        ("heading", "Code"),
        ("code", "def widget():\n    return 42"),
        ("quote", "Widgets are the future."),
        ("paragraph", "Copyright 2021"),
    ]
    # Blocks are separated by one blank line and nothing else is in the text.
    blocks = [t for k, t in kinds]
    assert doc.text == "\n\n".join(blocks)
    for hidden in ("secret hidden text", "also hidden", "tracking", "color: red"):
        assert hidden not in doc.text


def test_element_attributes() -> None:
    doc = _full(PAGE)
    heads = [(e.level, e.attrs["title"]) for e in doc.elements if e.kind == "heading"]
    assert heads == [(1, "Guide to Widgets"), (2, "Kinds"), (3, "Sizes"), (2, "Code")]
    table = next(e for e in doc.elements if e.kind == "table")
    assert table.attrs["header"] == ["Name", "Size | cm"]
    assert table.attrs["rows"] == [["Alpha", "3"], ["Beta", "5"]]
    assert table.attrs["n_rows"] == 2 and table.attrs["n_cols"] == 2
    rows = [e for e in doc.elements if e.kind == "table_row"]
    assert [doc.text[r.start : r.end] for r in rows] == [
        "| Name | Size \\| cm |",
        "| Alpha | 3 |",
        "| Beta | 5 |",
    ]
    assert [r.attrs["header"] for r in rows] == [True, False, False]
    code = next(e for e in doc.elements if e.kind == "code")
    assert code.attrs["language"] == "python"
    items = [e for e in doc.elements if e.kind == "list_item"]
    assert ("small", 1) in [
        (doc.text[i.start : i.end].split(". ")[-1], i.attrs["depth"]) for i in items
    ]
    lists = [e for e in doc.elements if e.kind == "list"]
    assert lists[1].attrs == {"ordered": False, "n_items": 4}


def test_metadata() -> None:
    doc = _full(PAGE)
    m = doc.metadata
    assert m["title"].startswith("Guide to Widgets")
    assert m["author"] == "Ada Lovelace"
    assert m["date"] == "2021-03-04"
    assert m["url"] == "https://example.org/widgets"
    assert m["canonical"] == "https://example.org/widgets"
    assert m["language"] == "en-GB"
    assert m["site_name"] == "Example Site"
    assert m["description"] == "How widgets work."
    assert m["mime"] == "text/html" and m["html_mode"] == "full" and m["encoding"] == "utf-8"
    assert m["n_headings"] == 4
    assert doc.parser == "html"


ARTICLE = (
    "<html><head><title>A long read</title></head><body>"
    "<nav><ul>"
    + "".join(f"<li><a href='/s{i}'>Section {i}</a></li>" for i in range(20))
    + "</ul></nav>"
    "<article><h1>A long read</h1>"
    + "".join(
        f"<h2>Part {i}</h2><p>This is paragraph number {i} of the article, with enough words in it "
        f"to look like prose that a reader came for, and not like navigation or a footer.</p>"
        for i in range(1, 6)
    )
    + "<table><tr><th>Year</th><th>Value</th></tr><tr><td>2019</td><td>10</td></tr>"
    "<tr><td>2020</td><td>12</td></tr></table>"
    "</article><footer><p>Subscribe to our newsletter! Terms. Privacy. Cookies.</p></footer>"
    "</body></html>"
)


def test_article_mode_drops_boilerplate_keeps_structure() -> None:
    doc = HtmlParser().parse(ARTICLE.encode(), source="a.html")
    assert doc.metadata["html_mode"] == "article"
    assert "Section 7" not in doc.text and "newsletter" not in doc.text
    heads = [(e.level, e.attrs["title"]) for e in doc.elements if e.kind == "heading"]
    assert (2, "Part 3") in heads
    table = next(e for e in doc.elements if e.kind == "table")
    assert doc.text[table.start : table.end] == (
        "| Year | Value |\n| --- | --- |\n| 2019 | 10 |\n| 2020 | 12 |"
    )
    assert "paragraph number 5 of the article" in doc.text


def test_article_mode_falls_back_to_full_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    # A reference page whose real text sits in an <aside>, which article heuristics drop.
    body = "".join(
        f"<p>api.function_{i}(a, b) takes two arguments and returns their sum, or raises an "
        "error when the inputs are not numbers.</p>"
        for i in range(8)
    )
    page = f"<html><body><main><p>See the reference.</p></main><aside>{body}</aside></body></html>"
    with caplog.at_level(logging.WARNING, logger="chunkwise"):
        doc = HtmlParser().parse(page.encode(), source="index.html")
    assert doc.metadata["html_mode"] == "full"
    assert "using --html-mode full" in doc.metadata["warning"]
    assert "api.function_7(a, b)" in doc.text and "See the reference." in doc.text
    assert any("index.html" in r.getMessage() and "full" in r.getMessage() for r in caplog.records)


def test_bad_mode_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="html-mode"):
        HtmlParser({"html_mode": "everything"}).parse(b"<p>x</p>")


def test_layout_table_is_read_as_blocks() -> None:
    doc = _full(
        "<table><tr><td><h2>Menu</h2><p>First cell paragraph.</p></td></tr>"
        "<tr><td><p>Second cell paragraph.</p></td></tr></table>"
    )
    assert [k for k, _ in _kinds(doc)] == ["heading", "paragraph", "paragraph"]


def test_header_written_with_td_over_numbers() -> None:
    doc = _full(
        "<table><tr><td><b>Driver</b></td><td><b>Points</b></td></tr>"
        "<tr><td>Kyle</td><td>5040</td></tr><tr><td>Martin</td><td>5035</td></tr></table>"
    )
    table = next(e for e in doc.elements if e.kind == "table")
    assert table.attrs["header"] == ["Driver", "Points"]


# -- bytes, encodings, gzip ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "encoding", "expected"),
    [
        (
            b'<html><head><meta charset="windows-1252"></head><body><p>\x93Caf\xe9\x94 \x80 5</p>',
            "cp1252",
            "\u201cCaf\u00e9\u201d \u20ac 5",
        ),
        (
            # iso-8859-1 labels mean windows-1252 to browsers, and pages depend on it.
            b'<meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-1">'
            b"<p>\x93quoted\x94 na\xefve</p>",
            "cp1252",
            "\u201cquoted\u201d na\u00efve",
        ),
        (
            '<meta charset="shift_jis"><p>日本語のテキスト</p>'.encode("shift_jis"),
            "shift_jis",
            "日本語のテキスト",
        ),
        (
            '<meta charset="euc-kr"><p>한국어 문장입니다</p>'.encode("euc-kr"),
            "euc_kr",
            "한국어 문장입니다",
        ),
        # A wrong label loses to bytes that are valid UTF-8.
        ('<meta charset="iso-8859-1"><p>naïve café</p>'.encode(), "utf-8", "naïve café"),
        ("\ufeff<p>with a BOM: é</p>".encode(), "utf-8-sig", "with a BOM: é"),
        ("<p>utf-16 text: ü</p>".encode("utf-16"), "utf-16-le", "utf-16 text: ü"),
        (
            b'<?xml version="1.0" encoding="utf-8"?><html xmlns="http://www.w3.org/1999/xhtml">'
            b"<body><p>xhtml page</p></body></html>",
            "utf-8",
            "xhtml page",
        ),
    ],
)
def test_encodings(data: bytes, encoding: str, expected: str) -> None:
    doc = _full(data)
    assert doc.text == expected
    assert doc.metadata["encoding"].replace("-", "_") == encoding.replace("-", "_")


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("Le garçon a mangé une crème brûlée à côté de l'église.", "cp1252"),
        ("Die Größe der Übung ist schön, aber die Straße ist lang.", "cp1252"),
        ("Привет, как дела? Это простой текст на русском языке.", "cp1251"),
        ("Αυτό είναι ένα απλό κείμενο στα ελληνικά για δοκιμή.", "cp1253"),
    ],
)
def test_undeclared_legacy_encoding_is_detected(text: str, encoding: str) -> None:
    page = f"<html><body><p>{' '.join([text] * 5)}</p></body></html>"
    doc = _full(page.encode(encoding))
    assert text in doc.text


def test_gzip_input_matches_plain(sample_docs: Path) -> None:
    page = sample_docs / "html" / "sciencealert-europa.html"
    plain = HtmlParser().parse(page)
    packed = HtmlParser().parse(gzip.compress(page.read_bytes()), source="x.html.gz")
    assert packed.text == plain.text
    assert packed.elements == plain.elements
    assert packed.metadata["compression"] == "gzip"
    assert "compression" not in plain.metadata


def test_registry_maps_html_names_and_sniffs_bytes() -> None:
    for name in ("a.html", "a.HTM", "a.xhtml", "a.html.gz", "b/c.htm.gz"):
        assert registry.parser_for(name) == "html"
    assert registry.parser_for_bytes(b"<!DOCTYPE html><html><body>x</body></html>") == "html"
    assert registry.parser_for_bytes(gzip.compress(b"<html></html>")) == "html"
    assert registry.load("parsers", "html").default_chunker == "section"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty file"),
        (b"  \n\t  ", "empty file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "binary file"),
        (bytes(range(256)) * 8, "binary file"),
        (gzip.compress(b"<html>" + b"x" * 5000)[:30], "gzip"),
        (b"\x1f\x8b\x08\x00garbage-not-deflate", "gzip"),
        (gzip.compress(b""), "empty file"),
        (b"just some words without any markup", "not HTML"),
        (b"<html><head><script>var a = 1;</script></head><body></body></html>", "no visible text"),
    ],
)
def test_bad_input_is_a_clear_parse_error(data: bytes, message: str) -> None:
    for mode in ("article", "full"):
        with pytest.raises(ParseError, match=message) as exc:
            HtmlParser({"html_mode": mode}).parse(data, source="bad.html")
        assert "\n" not in str(exc.value)


def test_decode_html_prefers_bom_then_utf8_then_label() -> None:
    assert decode_html(b"<p>plain ascii</p>") == ("<p>plain ascii</p>", "utf-8")
    text, enc = decode_html(b'<meta charset="koi8-r"><p>\xf0\xd2\xc9\xd7\xc5\xd4</p>')
    assert enc == "koi8-r" and "Привет" in text


# -- golden outputs of real pages ----------------------------------------------------------------

SAMPLES = [
    ("sciencealert-europa.html", "article"),
    ("entermedia-ko.html", "article"),
    ("paradigm-senate.html", "article"),
    ("autoracing-nascar-table.html.gz", "article"),
    ("paradigm-senate.html", "full"),
]


@pytest.mark.parametrize(("name", "mode"), SAMPLES)
def test_golden(sample_docs: Path, update_golden: bool, name: str, mode: str) -> None:
    doc = HtmlParser({"html_mode": mode}).parse(sample_docs / "html" / name, source=name)
    data = doc.to_dict()
    # Trafilatura fills in today's date for pages without one; that is not page content.
    data["metadata"].pop("filedate", None)
    stem = name.split(".")[0]
    assert_golden(GOLDEN / "html" / f"{stem}.{mode}.json", data, update_golden)


def test_sample_structure(sample_docs: Path) -> None:
    doc = HtmlParser().parse(sample_docs / "html" / "autoracing-nascar-table.html.gz")
    table = next(e for e in doc.elements if e.kind == "table")
    assert table.attrs["header"][:3] == ["Pos.", "Piloto", "Pontos"]
    assert table.attrs["n_rows"] == 40
    assert doc.metadata["title"] == "Classificação NASCAR"
    ko = HtmlParser().parse(sample_docs / "html" / "entermedia-ko.html")
    assert ko.metadata["language"] == "ko"
    assert "엘제이" in ko.text


# -- invariants -----------------------------------------------------------------------------------

WORD = st.text(alphabet="abcdefghij klmnopqrstuvwxyzéü<>&|", min_size=1, max_size=12)
BLOCK = st.one_of(
    st.tuples(st.just("h"), st.integers(1, 6), WORD),
    st.tuples(st.just("p"), st.just(0), st.lists(WORD, min_size=1, max_size=6).map(" ".join)),
    st.tuples(st.just("li"), st.just(0), WORD),
    st.tuples(st.just("pre"), st.just(0), WORD),
)


def _escape(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@settings(max_examples=60, deadline=None)
@given(st.lists(BLOCK, min_size=1, max_size=12))
def test_offsets_and_blocks_roundtrip(blocks: list[tuple[str, int, str]]) -> None:
    html = []
    for kind, level, text in blocks:
        if kind == "h":
            html.append(f"<h{level}>{_escape(text)}</h{level}>")
        elif kind == "li":
            html.append(f"<ul><li>{_escape(text)}</li></ul>")
        else:
            html.append(f"<{kind}>{_escape(text)}</{kind}>")
    visible = [t for _, _, t in blocks if t.strip()]
    if not visible:
        return
    doc = _full("<html><body>" + "".join(html) + "</body></html>")
    for el in doc.elements:
        assert 0 <= el.start < el.end <= len(doc.text)
        piece = doc.text[el.start : el.end]
        # Code keeps its indentation; every other block is trimmed.
        assert piece == (piece.rstrip() if el.kind == "code" else piece.strip())
        if el.kind == "heading":
            assert piece == el.attrs["title"] and 1 <= (el.level or 0) <= 6
    tops = [e for e in doc.elements if e.kind not in ("list_item", "table_row")]
    assert doc.text == "\n\n".join(doc.text[e.start : e.end] for e in tops)
    for kind, level, text in blocks:
        words = " ".join(text.split())
        if words and kind != "pre":
            assert words in doc.text
        if kind == "h" and words:
            assert any(e.kind == "heading" and e.level == level for e in doc.elements)


def test_markup_nested_too_deep_is_reported() -> None:
    deep = "<div>" * 3000 + "<p>deep text</p>" + "</div>" * 3000
    with pytest.raises(ParseError, match="nested deeper than 256 levels"):
        HtmlParser().parse(f"<html><body>{deep}</body></html>".encode())
    doc = _full(f"<html><body><p>shallow text</p>{deep}</body></html>")
    assert doc.text == "shallow text"
    assert "nested deeper than 256 levels" in doc.metadata["warning"]


def test_table_caption_and_colspan() -> None:
    doc = _full(
        "<table><caption>Prices <b>2024</b></caption>"
        "<tr><th colspan='2'>Item</th><th>Cost</th></tr>"
        "<tr><td>apple</td><td>red</td><td>3</td></tr></table>"
    )
    assert _kinds(doc)[:2] == [
        ("caption", "Prices 2024"),
        ("table", "| Item |  | Cost |\n| --- | --- | --- |\n| apple | red | 3 |"),
    ]


def test_stray_nul_bytes_are_dropped_with_a_warning() -> None:
    page = (
        b"<html><body><p>before\x00 after</p>" + b"<p>more text here</p>" * 100 + b"</body></html>"
    )
    doc = _full(page)
    assert doc.text.startswith("before after")
    assert doc.metadata["warning"] == "removed 1 NUL byte"


def test_list_nested_inside_wrappers_in_an_item() -> None:
    doc = _full(
        "<ul><li><a href='#'>Sections</a><nav><div><ul><li>Tech</li><li>Health</li></ul>"
        "</div></nav></li><li>About</li></ul>"
    )
    assert doc.text == "- Sections\n  - Tech\n  - Health\n- About"
