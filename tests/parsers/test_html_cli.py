"""The HTML parser through the `chunk` command: defaults, options, stdin, broken files."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from chunkwise.chunkers.section import SectionChunker
from chunkwise.parsers.html import HtmlParser

from chunkwise.chunking import ChunkerConfig
from tests.conftest import run_cli

BROKEN = ("binary.html", "truncated.html.gz")
# Empty files are skipped and counted, not errors (issue 22); --strict makes them errors.
EMPTY = "empty.html"


def test_broken_html_files_become_error_records_and_others_survive(
    sample_docs: Path, tmp_path: Path
) -> None:
    errors = tmp_path / "errors.jsonl"
    good = sorted((sample_docs / "html").glob("*.htm*"))
    broken = [sample_docs / "broken" / name for name in (*BROKEN, EMPTY)]
    res = run_cli("ingest", *map(str, good + broken), "-c", "section", "--errors", str(errors))
    assert res.returncode == 1, res.stderr
    recs = res.records()
    sources = {r["source"] for r in recs}
    assert sources == {str(p) for p in good}
    assert {r["chunker"] for r in recs} == {"section"} and {r["parser"] for r in recs} == {"html"}
    errs = [json.loads(line) for line in errors.read_text().splitlines()]
    by_name = {Path(e["source"]).name: e for e in errs}
    assert set(by_name) == set(BROKEN)
    assert by_name["binary.html"]["message"].startswith("binary file")
    assert "1 skipped (1 empty)" in res.stderr
    assert "gzip" in by_name["truncated.html.gz"]["message"]
    for e in errs:
        assert e["stage"] == "parse" and e["error"] == "ParseError"
    stderr_records = [json.loads(x) for x in res.stderr.splitlines() if x.startswith("{")]
    assert stderr_records == errs
    # Same chunks as a run over the good files alone: nothing lost to the broken ones.
    alone = run_cli("ingest", *map(str, good), "-c", "section")
    assert alone.returncode == 0
    assert alone.records() == recs


def test_parse_shows_elements_and_metadata(sample_docs: Path) -> None:
    page = sample_docs / "html" / "autoracing-nascar-table.html.gz"
    res = run_cli("parse", str(page), "--no-text")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["parser"] == "html"
    assert doc["metadata"]["title"] == "Classificação NASCAR"
    assert doc["metadata"]["html_mode"] == "article"
    kinds = {e["kind"] for e in doc["elements"]}
    assert {"heading", "paragraph", "table", "table_row"} <= kinds
    full = json.loads(run_cli("parse", str(page), "--html-mode", "full", "--no-text").stdout)
    assert full["metadata"]["html_mode"] == "full"
    assert full["n_chars"] > doc["n_chars"]


def test_html_mode_option_and_stdin(sample_docs: Path) -> None:
    page = sample_docs / "html" / "paradigm-senate.html"
    article = [c.text for c in SectionChunker(ChunkerConfig()).chunk(HtmlParser().parse(page))]
    full = run_cli("ingest", str(page), "-c", "section", "--html-mode", "full")
    assert full.returncode == 0, full.stderr
    assert "Privacy" not in " ".join(article)
    assert "Privacy" in " ".join(r["text"] for r in full.records())
    # stdin: gzip bytes are recognised and read as HTML, in article mode by default.
    piped = run_cli("ingest", "-", "-c", "section", input=gzip.compress(page.read_bytes()))
    assert piped.returncode == 0, piped.stderr
    assert [r["text"] for r in piped.records()] == article
    bad = run_cli("ingest", str(page), "--html-mode", "everything")
    assert bad.returncode == 2 and bad.stdout == ""


def test_min_tokens_merges_small_sections(tmp_path: Path) -> None:
    page = tmp_path / "doc.html"
    body = "".join(
        f"<h2>Topic {i}</h2><p>Short note number {i} about the topic.</p>" for i in range(6)
    )
    page.write_text(f"<html><body><h1>Notes</h1>{body}</body></html>", encoding="utf-8")
    doc = HtmlParser({"mode": "full"}).parse(page)
    per_section = list(SectionChunker(ChunkerConfig()).chunk(doc))
    assert len(per_section) == 6 and per_section[1].headings == ("Notes", "Topic 1")
    args = ("ingest", str(page), "-c", "section", "--html-mode", "full", "--min-tokens", "30")
    merged = run_cli(*args).records()
    assert 1 < len(merged) < len(per_section)
    assert all(r["n_tokens"] <= 512 for r in merged)
    assert merged[0]["headings"] == ["Notes"]
