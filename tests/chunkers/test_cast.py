from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest
from chunkwise.chunkers.cast import CastChunker, nonspace_prefix
from chunkwise.chunkers.options import CastOptions
from chunkwise.parsers.code import CodeParser
from chunkwise.parsers.markdown import MarkdownParser
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chunkwise.chunking import ChunkerConfig
from chunkwise.types import Document
from tests.conftest import GOLDEN, SAMPLE_DOCS, assert_golden

CODE = SAMPLE_DOCS / "code"
SAMPLES = sorted(p for p in CODE.iterdir() if not p.name.startswith(("LICENSE", "README")))
# Real Python files from the standard library (and site-packages' sources under the same venv).
STDLIB = sorted(
    p
    for p in Path(os.__file__).parent.glob("*.py")
    if p.stat().st_size < 150_000 and not p.name.startswith("_")
)
REAL_FILES = SAMPLES + STDLIB[:: max(1, len(STDLIB) // 80)]
DEFINITION_KINDS = {
    "class",
    "function",
    "method",
    "struct",
    "interface",
    "enum",
    "trait",
    "impl",
    "type",
    "record",
    "namespace",
    "macro",
    "object",
    "extension",
}

_DOCS: dict[Path, Document] = {}


def parsed(path: Path) -> Document:
    if path not in _DOCS:
        _DOCS[path] = CodeParser().parse(path)
    return _DOCS[path]


def chars_chunker(max_chars: int) -> CastChunker:
    return CastChunker(ChunkerConfig(), {"max_chars": max_chars})


def nonspace(s: str) -> int:
    return sum(1 for c in s if not c.isspace())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(REAL_FILES), budget=st.integers(min_value=20, max_value=3000))
def test_lossless_within_budget_and_whole_definitions(path: Path, budget: int) -> None:
    doc = parsed(path)
    chunks = list(chars_chunker(budget).chunk(doc))
    assert "".join(c.text for c in chunks) == doc.text
    pos = 0
    for i, c in enumerate(chunks):
        assert c.index == i
        assert c.start == pos and c.text == doc.text[c.start : c.end]
        assert c.end > c.start
        assert nonspace(c.text) <= budget
        assert c.metadata["n_chars_nonspace"] == nonspace(c.text)
        pos = c.end
    # cAST's promise: a definition that fits the budget is never cut in two.
    ends = [c.end for c in chunks]
    for el in doc.elements:
        if el.kind in DEFINITION_KINDS and nonspace(doc.text[el.start : el.end]) <= budget:
            inside = [
                c for c in chunks if doc.text[max(c.start, el.start) : min(c.end, el.end)].strip()
            ]
            assert len(inside) == 1, (
                path.name,
                el.attrs.get("symbol"),
                ends,
            )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(SAMPLES), max_tokens=st.integers(min_value=8, max_value=600))
def test_token_budget_is_a_hard_cap(path: Path, max_tokens: int) -> None:
    doc = parsed(path)
    cfg = ChunkerConfig(max_tokens=max_tokens, options={"cast": CastOptions(budget="tokens")})
    chunks = list(CastChunker(cfg).chunk(doc))
    assert "".join(c.text for c in chunks) == doc.text
    tok = CastChunker(cfg).tokenizer
    for c in chunks:
        assert c.n_tokens == tok.count(c.text) <= max_tokens


@settings(max_examples=40, deadline=None)
@given(
    text=st.text(
        alphabet=st.sampled_from(list("def class():\n    x=1\"'#{}[]é😀\t")), max_size=600
    ),
    budget=st.integers(min_value=1, max_value=80),
)
def test_garbage_input_still_lossless(text: str, budget: int) -> None:
    doc = CodeParser().parse(text.encode("utf-8"), source="junk.py")
    chunks = list(chars_chunker(budget).chunk(doc))
    assert "".join(c.text for c in chunks) == doc.text
    assert all(nonspace(c.text) <= budget for c in chunks)


def test_deterministic() -> None:
    doc = parsed(CODE / "semver_range.js")
    a = [(c.start, c.end, dict(c.metadata)) for c in chars_chunker(500).chunk(doc)]
    b = [(c.start, c.end, dict(c.metadata)) for c in chars_chunker(500).chunk(doc)]
    assert a == b


def test_oversize_line_falls_back_to_characters() -> None:
    minified = "var a=" + "[" + ",".join(str(i) for i in range(3000)) + "];" + "\n"
    src = "function small() { return 1; }\n" + minified + "function tail() { return 2; }\n"
    doc = CodeParser().parse(src.encode(), source="min.js")
    chunks = list(chars_chunker(200).chunk(doc))
    assert "".join(c.text for c in chunks) == src
    assert all(nonspace(c.text) <= 200 for c in chunks)
    assert chunks[0].text.startswith("function small() { return 1; }")
    assert chunks[-1].text.endswith("function tail() { return 2; }\n")


def test_huge_string_literal_is_split_by_lines() -> None:
    body = "".join(f"line {i} of a long embedded document\n" for i in range(200))
    src = f'DATA = """\n{body}"""\n\n\ndef after():\n    return DATA\n'
    doc = CodeParser().parse(src.encode(), source="data.py")
    chunks = list(chars_chunker(300).chunk(doc))
    assert "".join(c.text for c in chunks) == src
    # Splits fall at line ends inside the literal, and the function after it stays whole.
    for c in chunks[:-1]:
        assert c.text.endswith("\n")
    assert chunks[-1].text.strip().startswith("def after():")


def test_signature_stays_with_its_body() -> None:
    stmts = "".join(f"    value_{i} = compute_something({i}, factor=2)\n" for i in range(60))
    src = f"import os\n\n\ndef big(argument_one, argument_two):\n{stmts}"
    doc = CodeParser().parse(src.encode(), source="big.py")
    chunks = list(chars_chunker(400).chunk(doc))
    assert chunks[0].text == "import os\n\n\n"
    assert chunks[1].text.startswith("def big(argument_one, argument_two):\n    value_0")
    assert all(c.metadata["scope"] == "def big" for c in chunks[1:])
    assert chunks[1].metadata["symbols"] == ["big"]
    assert chunks[2].metadata["symbols"] == []


def test_doc_comment_travels_with_the_definition() -> None:
    doc = parsed(CODE / "RateLimiter.java")
    chunks = list(chars_chunker(700).chunk(doc))
    (holder,) = [c for c in chunks if "public Decision tryAcquire" in c.text]
    assert "/** Tries to take one token for {@code clientId}. */" in holder.text


def test_metadata_and_context() -> None:
    doc = parsed(CODE / "markupsafe_init.py")
    chunks = list(chars_chunker(600).chunk(doc))
    lines = doc.text.split("\n")
    for c in chunks:
        m = c.metadata
        assert m["language"] == "python"
        assert c.kind == "code"
        first = doc.text[c.start : c.end].lstrip()
        assert lines[m["line_start"] - 1].strip() == first.split("\n")[0].strip()
        assert m["context"] == " > ".join([doc.source, *c.headings])
        assert m["scope"] == " > ".join(c.headings)
    (striptags,) = [c for c in chunks if "Markup.striptags" in c.metadata["symbols"]]
    assert striptags.headings == ("class Markup", "def striptags")
    assert striptags.metadata["context"].endswith(
        "markupsafe_init.py > class Markup > def striptags"
    )


def test_files_with_syntax_errors_still_chunk() -> None:
    src = "def ok():\n    return 1\n\ndef broken(:\n    pass\n\nclass Fine:\n    x = [1, 2\n"
    doc = CodeParser().parse(src.encode(), source="bad.py")
    chunks = list(chars_chunker(15).chunk(doc))
    assert "".join(c.text for c in chunks) == src
    assert all(nonspace(c.text) <= 15 for c in chunks)


def test_non_code_documents_chunk_by_lines() -> None:
    md = b"# Title\n\n" + b"Some words in a paragraph that goes on.\n" * 40
    doc = MarkdownParser().parse(md, source="x.md")
    chunks = list(chars_chunker(100).chunk(doc))
    assert "".join(c.text for c in chunks).encode() == md
    assert all(nonspace(c.text) <= 100 for c in chunks)


def test_empty_document_has_no_chunks() -> None:
    doc = CodeParser().parse(b"", source="__init__.py")
    assert list(chars_chunker(100).chunk(doc)) == []


def test_budget_options(caplog: pytest.LogCaptureFixture) -> None:
    assert CastChunker().max_chars == 1500 and CastChunker().max_tokens is None
    both = CastChunker(ChunkerConfig(max_tokens=50), {"max_chars": 100, "budget": "both"})
    assert (both.max_chars, both.max_tokens) == (100, 50)
    with caplog.at_level(logging.WARNING, logger="chunkwise"):
        CastChunker(ChunkerConfig(overlap=10))
    assert "ignores --overlap" in caplog.text
    from chunkwise.errors import UsageError

    with pytest.raises(UsageError):
        CastChunker(ChunkerConfig(), {"max_chars": 0})


def test_nonspace_prefix_matches_str_isspace() -> None:
    text = "a b\u3000c\u00a0d\te\u2028f😀 g\n"
    prefix = nonspace_prefix(text)
    for i in range(len(text) + 1):
        assert prefix[i] == nonspace(text[:i])


@pytest.mark.parametrize("name", ["markupsafe_init.py", "RateLimiter.java", "tokenizer.rs"])
def test_golden_chunks(name: str, update_golden: bool) -> None:
    doc = parsed(CODE / name)
    out = [
        {
            "lines": [c.metadata["line_start"], c.metadata["line_end"]],
            "scope": c.metadata["scope"],
            "symbols": c.metadata["symbols"],
            "n_chars_nonspace": c.metadata["n_chars_nonspace"],
        }
        for c in chars_chunker(600).chunk(doc)
    ]
    assert_golden(GOLDEN / "code" / f"cast_{name}.json", out, update_golden)


def test_cli_ingest_repository(tmp_path: Path, cli) -> None:
    repo = tmp_path / "repo"
    (repo / "src").mkdir(parents=True)
    (repo / "node_modules" / "dep").mkdir(parents=True)
    (repo / "generated").mkdir()
    for p in SAMPLES:
        (repo / "src" / p.name).write_bytes(p.read_bytes())
    (repo / ".gitignore").write_text("generated/\n")
    (repo / "generated" / "out.py").write_text("X = 1\n")
    (repo / "node_modules" / "dep" / "index.js").write_text("module.exports = 1\n")
    (repo / "src" / "compiled.py").write_bytes(b"\x00\x01binary\x00" * 20)
    (repo / "src" / "__init__.py").write_bytes(b"")
    script = repo / "release"
    script.write_bytes((CODE / "deploy").read_bytes())
    res = cli("ingest", str(repo), str(script), "--max-chars", "400", "-j", "0")
    assert res.returncode == 1, res.stderr
    records = res.records()
    sources = {Path(r["source"]).name for r in records}
    assert {"out.py", "index.js", "compiled.py"}.isdisjoint(sources)
    assert {p.name for p in SAMPLES if p.name != "deploy"} <= sources
    assert "release" in sources
    errors = [json.loads(line) for line in res.stderr.splitlines() if line.startswith("{")]
    # An empty __init__.py is counted as skipped-empty in the summary line, not an error.
    by_name = {Path(e["source"]).name: e for e in errors}
    assert set(by_name) == {"compiled.py"}
    assert "binary" in by_name["compiled.py"]["message"]
    assert "1 empty" in res.stderr.splitlines()[-1]
    code = [r for r in records if r["parser"] == "code"]
    assert all(r["chunker"] == "cast" and r["kind"] == "code" for r in code)
    assert all(nonspace(r["text"]) <= 400 for r in code)
    by_file: dict[str, list[dict]] = {}
    for r in code:
        by_file.setdefault(r["source"], []).append(r)
    for source, rows in by_file.items():
        assert "".join(r["text"] for r in rows) == Path(source).read_text(encoding="utf-8")


def test_cli_token_budget(cli) -> None:
    res = cli("ingest", str(CODE / "semver_range.js"), "--max-tokens", "120", "-j", "0")
    assert res.returncode == 0, res.stderr
    rows = res.records()
    assert all(r["n_tokens"] <= 120 for r in rows)
    assert max(r["n_tokens"] for r in rows) > 80


@pytest.mark.slow
def test_many_installed_sources() -> None:
    """Every language found among installed packages' sources: lossless, within budget, every
    definition that fits in one chunk."""
    import sysconfig

    purelib = Path(sysconfig.get_paths()["purelib"])
    by_ext: dict[str, list[Path]] = {}
    for ext in (".py", ".c", ".h", ".cpp", ".cc", ".hpp", ".js"):
        found = sorted(p for p in purelib.glob(f"*/**/*{ext}") if p.stat().st_size < 100_000)
        by_ext[ext] = found[:: max(1, len(found) // 40)][:40]
    chunker = chars_chunker(700)
    n = 0
    for files in by_ext.values():
        for path in files:
            try:
                doc = CodeParser().parse(path)
            except Exception:  # binary or undecodable files are the parser's business
                continue
            chunks = list(chunker.chunk(doc))
            assert "".join(c.text for c in chunks) == doc.text, path
            assert all(nonspace(c.text) <= 700 for c in chunks), path
            for el in doc.elements:
                if el.kind in DEFINITION_KINDS and nonspace(doc.text[el.start : el.end]) <= 700:
                    hits = [
                        c
                        for c in chunks
                        if doc.text[max(c.start, el.start) : min(c.end, el.end)].strip()
                    ]
                    assert len(hits) == 1, (path, el.attrs.get("symbol"))
            n += 1
    assert n > 100


def test_cli_char_budget_is_not_capped_by_the_default_token_cap(cli) -> None:
    # Without --max-tokens the budget is characters only: 3000 non-whitespace characters of code
    # is well over the 512 tokens --max-tokens would default to.
    res = cli("ingest", str(CODE / "markupsafe_init.py"), "--max-chars", "3000", "-j", "0")
    assert res.returncode == 0, res.stderr
    rows = res.records()
    assert max(r["n_tokens"] for r in rows) > 512
    assert all(r["metadata"]["n_chars_nonspace"] <= 3000 for r in rows)
