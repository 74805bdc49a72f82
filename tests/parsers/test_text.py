from __future__ import annotations

from pathlib import Path

import pytest
from chunkwise.parsers.text import TextParser

from chunkwise.errors import ParseError
from chunkwise.types import doc_id_for


def test_cp1252_sample_decodes_verbatim(sample_docs: Path) -> None:
    path = sample_docs / "text" / "meeting-notes-cp1252.txt"
    doc = TextParser().parse(path)
    assert "réunion" in doc.text and "€" in doc.text
    assert "\r\n" in doc.text  # verbatim: offsets are offsets into the file's text
    assert doc.doc_id == doc_id_for(path.read_bytes())
    assert doc.metadata["encoding"].replace("_", "").lower() in {"cp1252", "windows1252"}
    for el in doc.elements:
        assert doc.text[el.start : el.end].strip() == doc.text[el.start : el.end]


def test_bytes_input_and_source_name() -> None:
    doc = TextParser().parse(b"one\n\ntwo\n", source="<stdin>")
    assert doc.source == "<stdin>" and doc.parser == "text"
    assert [doc.text[e.start : e.end] for e in doc.elements] == ["one", "two"]


@pytest.mark.parametrize("name", ["binary-junk.txt", "invalid-utf8.txt", "empty.txt"])
def test_broken_samples_raise_clear_errors(sample_docs: Path, name: str) -> None:
    with pytest.raises(ParseError) as info:
        TextParser().parse(sample_docs / "broken" / name)
    assert str(info.value) and "\n" not in str(info.value)


def test_missing_file_is_a_read_error(tmp_path: Path) -> None:
    with pytest.raises(ParseError) as info:
        TextParser().parse(tmp_path / "nope.txt")
    assert info.value.stage == "read"
