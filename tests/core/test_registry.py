from __future__ import annotations

import pytest

from chunkwise import registry
from chunkwise.errors import UsageError


def test_builtins_load_and_have_names() -> None:
    for kind in ("parsers", "chunkers", "writers"):
        for name in registry.names(kind):
            cls = registry.load(kind, name)
            assert getattr(cls, "name", name) == name


def test_parser_for_extensions_and_hints() -> None:
    assert registry.parser_for("a/b/README.md") == "markdown"
    assert registry.parser_for("notes.TXT") == "text"
    assert registry.parser_for("image.png") == "image"
    assert registry.parser_for("archive.7z") is None
    assert registry.parser_for("x.unknown", "markdown") == "markdown"
    assert registry.parser_for("x", ".md") == "markdown"
    with pytest.raises(UsageError, match="format-hint"):
        registry.parser_for("x", "nonsense")


def test_unknown_component_is_a_usage_error_listing_choices() -> None:
    with pytest.raises(UsageError, match="recursive"):
        registry.load("chunkers", "nope")


def test_sniffing_stdin_bytes() -> None:
    assert registry.parser_for_bytes(b"just text") == "text"
    assert registry.parser_for_bytes(b"# md", "markdown") == "markdown"
