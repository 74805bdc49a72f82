from __future__ import annotations

from pathlib import Path

from chunkwise.parsers.markdown import MarkdownParser, parse_markdown
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import GOLDEN, assert_golden

DOC = """---
title: "Front matter title"
---
# Top

Intro paragraph
continues here.

Setext Heading
--------------

- item one
- item two
  continued
- item three

1. first
2. second

```python
def f():
    return 1
```

| a | b |
|---|:-:|
| 1 | 2 |
| 3 | 4 |

> quoted
> text

    indented code

## Second *level* ##
Last words.
"""


def _kinds(text: str) -> list[tuple[str, str]]:
    els, _ = parse_markdown(text)
    return [(e.kind, text[e.start : e.end]) for e in els if e.kind != "list_item"]


def test_block_structure() -> None:
    els, meta = parse_markdown(DOC)
    assert meta["title"] == "Front matter title"
    kinds = [e.kind for e in els if e.kind != "list_item"]
    assert kinds == [
        "front_matter",
        "heading",
        "paragraph",
        "heading",
        "list",
        "list",
        "code",
        "table",
        "quote",
        "code",
        "heading",
        "paragraph",
    ]
    headings = [e for e in els if e.kind == "heading"]
    assert [(h.level, h.attrs["title"]) for h in headings] == [
        (1, "Top"),
        (2, "Setext Heading"),
        (2, "Second *level*"),
    ]
    code = next(e for e in els if e.kind == "code")
    assert code.attrs["language"] == "python"
    assert (
        DOC[code.start : code.end].startswith("```python") and DOC[code.end - 3 : code.end] == "```"
    )
    table = next(e for e in els if e.kind == "table")
    assert table.attrs["header"] == ["a", "b"]
    assert table.attrs["rows"] == [["1", "2"], ["3", "4"]]
    items = [DOC[e.start : e.end] for e in els if e.kind == "list_item"]
    assert items[:3] == ["- item one", "- item two\n  continued", "- item three"]
    assert items[3:] == ["1. first", "2. second"]


def test_offsets_point_into_the_file_with_crlf() -> None:
    text = "# Title\r\n\r\nBody line.\r\n"
    els, _ = parse_markdown(text)
    assert [text[e.start : e.end] for e in els] == ["# Title", "Body line."]


def test_unclosed_fence_runs_to_the_end() -> None:
    text = "Para\n\n```\ncode\nmore"
    els, _ = parse_markdown(text)
    assert els[-1].kind == "code" and text[els[-1].start : els[-1].end] == "```\ncode\nmore"


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "# H",
                "## H2",
                "text line",
                "",
                "- item",
                "1. item",
                "```",
                "| a | b |",
                "|---|---|",
                "> q",
                "    code",
                "===",
                "---",
                "  indented",
                "<div>",
                "\r",
            ]
        ),
        max_size=40,
    )
)
def test_any_line_soup_parses_into_valid_elements(lines: list[str]) -> None:
    text = "\n".join(lines)
    els, _ = parse_markdown(text)
    for e in els:
        assert 0 <= e.start < e.end <= len(text), e
        assert text[e.start : e.end].strip(), e


def test_golden_sample_readme(sample_docs: Path, update_golden: bool) -> None:
    path = sample_docs / "markdown" / "nupunkt-README.md"
    doc = MarkdownParser().parse(path, source="nupunkt-README.md")
    assert doc.text == path.read_text(encoding="utf-8")
    summary = {
        "metadata": dict(doc.metadata),
        "elements": [
            {
                "kind": e.kind,
                "level": e.level,
                "start": e.start,
                "end": e.end,
                "head": doc.text[e.start : e.end][:40],
                "attrs": {k: v for k, v in e.attrs.items() if k != "rows"},
            }
            for e in doc.elements
        ],
    }
    assert_golden(GOLDEN / "markdown" / "nupunkt-README.json", summary, update_golden)
