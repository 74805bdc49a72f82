from __future__ import annotations

from pathlib import Path

import pytest
from chunkwise.parsers.markdown import MarkdownParser, parse_markdown
from hypothesis import given, settings
from hypothesis import strategies as st

from chunkwise import registry
from chunkwise.chunking import ChunkerConfig
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


FRONT = """---
title: "Harbour report"
date: 2024-05-01
tags: [ports, trade]
draft: false
---

## Cargo

Cargo volumes rose by five percent this year.

## Outlook

Exports to Asia drive the growth.
"""


@pytest.mark.parametrize("chunker", ["recursive", "sentence", "section", "token", "auto"])
def test_front_matter_is_metadata_not_chunk_text(chunker: str) -> None:
    doc = MarkdownParser().parse(FRONT.encode(), source="r.md")
    assert doc.metadata["front_matter"] == {
        "title": "Harbour report",
        "date": "2024-05-01",
        "tags": ["ports", "trade"],
        "draft": False,
    }
    chunks = list(registry.load("chunkers", chunker)(ChunkerConfig(max_tokens=16)).chunk(doc))
    assert chunks
    body_start = FRONT.index("## Cargo")
    for c in chunks:
        assert c.start >= body_start and "draft" not in c.text and "---" not in c.text
        # No level-1 heading of its own: the title heads every chunk's path.
        assert c.headings[0] == "Harbour report"


def test_front_matter_title_yields_to_a_real_top_heading() -> None:
    els, meta = parse_markdown("---\ntitle: Meta title\n---\n\n# Real title\n\nText.\n")
    assert meta["title"] == "Meta title"
    assert [e.attrs["title"] for e in els if e.kind == "heading"] == ["Real title"]


def test_front_matter_that_is_not_yaml_mapping_is_kept_out_of_metadata() -> None:
    _, meta = parse_markdown("---\n: : [unclosed\n---\n\nText.\n")
    assert "front_matter" not in meta


# Lines built from the pieces block syntax is made of, so that generated documents open every
# kind of block, indented or not, and prose lines that open none.
_MD_PIECES = st.sampled_from(
    [
        "", " ", "  ", "   ", "    ", "\t", " \t", "#", "## ", "```", "~~~", ">", "- ", "* ",
        "+ ", "1. ", "2) ", "---", "***", "___", "===", "<div>", "<!--", "|", "| a | b |",
        "|---|---|", ":-:", "Word", "word", "text.", "É", "x|y", "_", "=", "-", "\\", "0",
    ]
)  # fmt: skip
_MD_LINES = st.lists(st.lists(_MD_PIECES, max_size=4).map("".join), max_size=30)


@settings(max_examples=400, deadline=None)
@given(lines=_MD_LINES, crlf=st.booleans())
def test_plain_lines_skip_the_block_patterns_without_changing_anything(
    lines: list[str], crlf: bool
) -> None:
    """The readers skip their regexes on lines no block pattern can match (``_plain``): the
    elements and metadata are those of trying every pattern on every line."""
    from chunkwise.parsers import markdown

    text = ("\r\n" if crlf else "\n").join(lines)
    fast = parse_markdown(text)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(markdown, "_plain", lambda line: False)
        full = parse_markdown(text)
    assert fast == full
    for line in lines:
        if markdown._plain(line):
            assert not any(
                p.match(line)
                for p in (
                    markdown._ATX, markdown._FENCE, markdown._QUOTE, markdown._RULE,
                    markdown._LIST_ITEM, markdown._HTML_BLOCK, markdown._SETEXT,
                )
            ) and not line.startswith(("    ", "\t"))  # fmt: skip
