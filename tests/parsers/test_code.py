from __future__ import annotations

import logging
from pathlib import Path

import pytest
from chunkwise.parsers.code import (
    EXTENSIONS,
    LANGUAGES,
    CodeParser,
    language_for,
    language_from_shebang,
    shebang_parser,
)

from chunkwise import registry
from chunkwise.errors import ParseError
from tests.conftest import GOLDEN, SAMPLE_DOCS, assert_golden

CODE = SAMPLE_DOCS / "code"
SAMPLES = sorted(p for p in CODE.iterdir() if not p.name.startswith(("LICENSE", "README")))


def _summary(doc) -> dict:
    elements = []
    for el in doc.elements:
        if el.kind == "comment":
            continue
        a = el.attrs
        elements.append(
            {
                "kind": el.kind,
                "lines": [a.get("line_start"), a.get("line_end")],
                "path": a.get("path"),
                "scope": a.get("scope"),
                "symbol": a.get("symbol"),
                "head": doc.text[el.start : el.end][:40],
            }
        )
    return {
        "metadata": dict(doc.metadata),
        "n_comments": sum(1 for e in doc.elements if e.kind == "comment"),
        "elements": elements,
    }


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_golden_elements(path: Path, update_golden: bool) -> None:
    doc = CodeParser().parse(path)
    assert doc.text == path.read_bytes().decode("utf-8")
    for el in doc.elements:
        assert 0 <= el.start <= el.end <= len(doc.text)
    assert_golden(GOLDEN / "code" / f"{path.name}.json", _summary(doc), update_golden)


def test_every_language_has_a_sample() -> None:
    langs = {CodeParser().parse(p).metadata["language"] for p in SAMPLES}
    assert langs == set(LANGUAGES)


def test_registry_extensions_match_the_parser() -> None:
    spec = registry.BUILTINS["parsers"]["code"]
    assert spec.extensions == EXTENSIONS
    assert registry.parser_for("src/lib.rs") == "code"
    assert registry.parser_for("a/b/App.TSX") == "code"
    assert registry.load("parsers", "code").default_chunker == "cast"


def test_definitions_have_scope_paths() -> None:
    doc = CodeParser().parse(CODE / "markupsafe_init.py")
    by_symbol = {e.attrs["symbol"]: e for e in doc.elements if "symbol" in e.attrs}
    m = by_symbol["Markup.striptags"]
    assert m.kind == "method"
    assert m.attrs["path"] == "module > class Markup > def striptags"
    assert doc.text[m.start : m.end].startswith("def striptags(self, /) -> str:")
    # Decorators belong to the definition.
    assert doc.text[by_symbol["Markup.escape"].start :].startswith("@classmethod")
    doc = CodeParser().parse(CODE / "lru_cache.go")
    by_symbol = {e.attrs["symbol"]: e for e in doc.elements if "symbol" in e.attrs}
    assert by_symbol["Cache.Add"].kind == "method"
    assert doc.text[by_symbol["Cache"].start :].startswith("type Cache[")


def test_non_ascii_offsets_are_characters() -> None:
    src = '# é ü 😀 — ascii after\ns = "ünïcödé 😀"\n\n\ndef after_emoji(x):\n    return "🎉" + x\n'
    doc = CodeParser().parse(src.encode(), source="m.py")
    (fn,) = [e for e in doc.elements if e.kind == "function"]
    assert doc.text[fn.start : fn.end] == 'def after_emoji(x):\n    return "🎉" + x'
    assert fn.attrs["line_start"] == 5


@pytest.mark.parametrize(
    ("head", "language"),
    [
        (b"#!/usr/bin/env python3\n", "python"),
        (b"#!/usr/bin/python3.11 -u\n", "python"),
        (b"#! /usr/bin/env -S node --harmony\n", "javascript"),
        (b"#!/usr/local/bin/node\r\n", "javascript"),
        (b"#!/bin/sh\n", "bash"),
        (b"#!/usr/bin/env perl\n", None),
        (b"print('no shebang')\n", None),
    ],
)
def test_shebang(head: bytes, language: str | None) -> None:
    assert language_from_shebang(head) == language


def test_language_resolution_order() -> None:
    assert language_for("x.py", b"") == "python"
    assert language_for("x", b"#!/usr/bin/env node\n") == "javascript"
    assert language_for("<stdin>", b"fn main() {}", {"format_hint": "rs"}) == "rust"
    assert language_for("x.txt", b"", {"language": "C++"}) == "cpp"
    # --language is for files whose extension says nothing; a .py stays Python in a mixed repo.
    assert language_for("x.py", b"", {"language": "rust"}) == "python"
    assert language_for("x", b"#!/usr/bin/env node\n", {"language": "rust"}) == "javascript"
    assert language_for("x.h", b"#pragma once\nnamespace a {\n}\n") == "cpp"
    assert language_for("x.h", b"int f(void);\n") == "c"
    with pytest.raises(ParseError, match="cannot tell the source language"):
        language_for("<stdin>", b"x = 1")
    with pytest.raises(ParseError, match="unknown source language 'cobol'"):
        language_for("x.py", b"", {"language": "cobol"})


def test_shebang_parser_for_explicit_files(tmp_path: Path) -> None:
    script = tmp_path / "deploy"
    script.write_bytes(b"#!/usr/bin/env python3\nprint(1)\n")
    other = tmp_path / "notes"
    other.write_bytes(b"just text\n")
    assert shebang_parser(script) == "code"
    assert shebang_parser(other) is None
    assert shebang_parser(tmp_path / "missing") is None


def test_binary_file_with_code_extension_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="binary file"):
        CodeParser().parse(b"\x7fELF\x02\x01\x01\x00\x00\x00" * 50, source="lib.py")


def test_empty_module_is_an_empty_document() -> None:
    doc = CodeParser().parse(b"", source="pkg/__init__.py")
    assert doc.text == ""
    assert [e.kind for e in doc.elements] == ["module"]


def test_syntax_errors_are_reported_and_warned(caplog: pytest.LogCaptureFixture) -> None:
    src = b"def ok():\n    return 1\n\ndef broken(:\n    pass\n\nclass Fine:\n    x = 1\n"
    with caplog.at_level(logging.WARNING, logger="chunkwise"):
        doc = CodeParser().parse(src, source="bad.py")
    assert doc.metadata["syntax_errors"] >= 1
    assert doc.metadata["error_lines"][0] == 4
    assert "bad.py" in caplog.text and "syntax error" in caplog.text
    names = {e.attrs.get("name") for e in doc.elements}
    assert {"ok", "Fine"} <= names


def test_imports_and_comments_become_blocks() -> None:
    src = b"import os\nimport sys\n\nfrom a import b\n# one\n# two\n\n# three\nx = 1\n"
    doc = CodeParser().parse(src, source="m.py")
    imports = [doc.text[e.start : e.end] for e in doc.elements if e.kind == "import"]
    comments = [doc.text[e.start : e.end] for e in doc.elements if e.kind == "comment"]
    assert imports == ["import os\nimport sys\n\nfrom a import b"]
    assert comments == ["# one\n# two", "# three"]


def test_broken_sample_is_an_error_record_and_others_survive(cli, tmp_path: Path) -> None:
    broken = SAMPLE_DOCS / "broken" / "compiled-module.py"
    good = CODE / "lru_cache.go"
    res = cli("ingest", str(broken), str(good), "-j", "0")
    assert res.returncode == 1
    (err,) = [line for line in res.stderr.splitlines() if line.startswith("{")]
    assert '"source": "' + str(broken) in err and "binary file" in err
    rows = res.records()
    assert rows and {r["source"] for r in rows} == {str(good)}
    assert "".join(r["text"] for r in rows) == good.read_text(encoding="utf-8")


def test_any_number_of_decorators_belong_to_the_definition() -> None:
    src = b"@a\n@b\n@c(1)\n@d\ndef f():\n    pass\n"
    doc = CodeParser().parse(src, source="x.py")
    (fn,) = [e for e in doc.elements if e.kind == "function"]
    assert (fn.start, fn.attrs["line_start"]) == (0, 1)


def test_cli_parse_stdin_with_extension_hint(cli) -> None:
    res = cli(
        "parse", "-", "--format-hint", "rs", "--no-text", input=(CODE / "tokenizer.rs").read_bytes()
    )
    assert res.returncode == 0, res.stderr
    import json

    doc = json.loads(res.stdout)
    assert doc["parser"] == "code" and doc["metadata"]["language"] == "rust"
    assert any(e["attrs"].get("symbol") == "Lexer.next" for e in doc["elements"])
