"""Start-up stays light: what ``chunk --help`` and the everyday one-file ingest import, the
``ingest --help`` panels, and the short cuts that keep a small run from paying for a big one."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chunkwise import registry
from chunkwise.pipeline import IngestOptions, Source, _small_plain_files
from tests.conftest import ROOT

# Never needed to print help or to chunk one small text file: each costs 20-500 ms to import.
HEAVY = (
    "torch",
    "transformers",
    "sentence_transformers",
    "onnxruntime",
    "pydantic",
    "typer",
    "rich",
    "pyarrow",
    "pymupdf",
    "fitz",
    "trafilatura",
    "tree_sitter",
    "importlib.metadata",  # the entry-point scan of every installed package
)


# Runs ``chunk`` and reports, at exit, every module the main process imported (``-X importtime``
# misses some of the modules the editable install's finder loads).
_REPORT = """
import atexit, sys
atexit.register(lambda: sys.stderr.write("MODULES " + " ".join(sorted(sys.modules)) + "\\n"))
from chunkwise.cli.app import main
sys.argv = ["chunk", *sys.argv[1:]]
main()
"""


def imported(*args: str, cwd: Path = ROOT) -> set[str]:
    """Every module the ``chunk`` process imported."""
    proc = subprocess.run(
        [sys.executable, "-c", _REPORT, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = [line for line in proc.stderr.splitlines() if line.startswith("MODULES ")]
    return set(report[-1].split()[1:])


def heavy_in(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in names))


def test_help_imports_nothing_heavy() -> None:
    for args in (["--help"], ["ingest", "--help"], ["--version"]):
        modules = imported(*args)
        assert "click" in modules  # the parsing really was observed
        assert heavy_in(modules, (*HEAVY, "numpy", "multiprocessing", "sqlite3")) == [], args


def test_one_small_text_file_imports_nothing_heavy_and_starts_no_worker(tmp_path: Path) -> None:
    doc = tmp_path / "small.txt"
    doc.write_text("A short note.\n\nIt has two paragraphs, about two kilobytes less.\n")
    out = tmp_path / "out.jsonl"
    modules = imported("ingest", str(doc), "-q", "-o", str(out))
    assert out.read_text().count("\n") == 1
    # numpy stays: token offsets are arrays (chunkwise.tokenizers, chunkwise.packing).
    assert heavy_in(modules, (*HEAVY, "multiprocessing", "sqlite3")) == []
    assert "chunkwise.parsers.text" in modules  # parsed here, not in a worker


def test_small_plain_files_alone_run_in_process(tmp_path: Path) -> None:
    opts = IngestOptions(jobs=2, isolate=True)
    small = tmp_path / "a.md"
    small.write_text("# Title\n\nText.\n")
    big = tmp_path / "b.txt"
    big.write_text("word " * 20_000)
    pdf = tmp_path / "c.pdf"
    pdf.write_bytes(b"%PDF-1.4\n")
    fifo = tmp_path / "d.txt"
    os.mkfifo(fifo)

    def src(p: Path) -> Source:
        return Source(str(p), path=p, explicit=True)

    assert _small_plain_files([src(small)], opts)
    assert not _small_plain_files([src(big)], opts)  # more than 64 KB: a worker guards it
    assert not _small_plain_files([src(small), src(pdf)], opts)  # a C library parses it
    assert not _small_plain_files([src(fifo)], opts)  # reading could block
    assert not _small_plain_files([src(small)], dataclasses.replace(opts, max_memory=2**30))
    assert not _small_plain_files([Source("<stdin>", data=b"text")], opts)


def test_built_in_formats_are_found_without_scanning_installed_packages(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class FooParser:
        extensions = (".foo", ".txt")  # .txt is claimed by a built-in, which wins

    class EntryPoint:
        def load(self) -> Any:
            return FooParser

    scans: list[int] = []

    def fake_scan() -> dict[str, dict[str, tuple[registry.Spec, Any]]]:
        scans.append(1)
        found: dict[str, dict[str, tuple[registry.Spec, Any]]] = {k: {} for k in registry.KINDS}
        found["parsers"]["foo"] = (registry.Spec("foo", "x:FooParser", origin="foo"), EntryPoint())
        return found

    monkeypatch.setattr(registry, "_entry_point_specs", fake_scan)
    registry.extension_map.cache_clear()
    try:
        assert registry.parser_for("notes.txt") == "text"
        assert registry.parser_for("notes.md", "markdown") == "markdown"
        assert registry.options_class("parsers", "markdown").option_names() == []
        assert scans == []
        assert registry.parser_for("data.foo") == "foo"
        assert registry.parser_for("data.foo.txt") == "text"
        assert registry.has("parsers", "foo") and scans
    finally:
        registry.extension_map.cache_clear()


def _help_sections(text: str) -> dict[str, list[str]]:
    """Section title -> the long flags listed under it, in order."""
    sections: dict[str, list[str]] = {}
    current: list[str] = []
    for line in text.splitlines():
        if line and not line.startswith(" ") and line.endswith(":"):
            current = sections.setdefault(line[:-1], [])
        elif line.startswith("  -"):
            first_column = line.strip().split("  ")[0]
            current.extend(
                w.rstrip(",") for w in first_column.split() if w.startswith("--") and w != "/"
            )
    return sections


PANELS = {
    "Input": [
        "--follow-symlinks",
        "--no-follow-symlinks",
        "--glob",
        "--exclude",
        "--gitignore",
        "--no-gitignore",
        "--default-excludes",
        "--no-default-excludes",
        "--format-hint",
        "--max-file-size",
        "--strict",
    ],
    "Output and state": [
        "--format",
        "--output",
        "--errors",
        "--state",
        "--emit-deletes",
        "--wait-lock",
    ],
    "Chunking": ["--chunker", "--max-tokens", "--overlap", "--min-tokens", "--tokenizer", "--opt"],
    "Per format and chunker": [
        "--max-chars",
        "--language",
        "--keep-furniture",
        "--no-keep-furniture",
        "--pages",
        "--spatial-weight",
        "--s2-semantic",
        "--html-mode",
        "--auto-vectors",
        "--pages-per-batch",
        "--vision-backend",
        "--vision-endpoint",
        "--vision-model",
    ],
    "Embedding": [
        "--embed",
        "--no-embed",
        "--embed-model",
        "--late",
        "--naive",
        "--embed-context",
        "--no-embed-context",
        "--late-window",
        "--late-overlap",
        "--device",
        "--batch-size",
    ],
    "Engine": [
        "--jobs",
        "--timeout",
        "--max-memory",
        "--engine",
        "--ray-address",
        "--embed-actors",
        "--gpus-per-actor",
    ],
    "Options": ["--quiet", "--verbose", "--help"],
}


def test_ingest_help_groups_every_flag_in_its_panel() -> None:
    from chunkwise.cli.app import ingest

    proc = subprocess.run(
        [sys.executable, "-m", "chunkwise.cli.app", "ingest", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "100"},
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    sections = _help_sections(proc.stdout)
    assert proc.stdout.startswith("Usage: chunk ingest [OPTIONS] PATHS...\n")
    assert list(sections) == ["Arguments", *PANELS]
    assert "PATHS..." in proc.stdout.split("Arguments:")[1].split("Input:")[0]
    for title, flags in PANELS.items():
        assert sections[title] == flags, title
    # Every long flag of the command is listed once, in exactly one panel.
    declared = sorted(
        o for p in ingest.params for o in (*p.opts, *p.secondary_opts) if o.startswith("--")
    )
    assert sorted(f for flags in PANELS.values() for f in flags) == sorted([*declared, "--help"])


def test_cli_defaults_of_plugin_flags_are_the_plugins_defaults() -> None:
    """``chunk ingest`` hands a plugin flag left at its default on as "not given"; that is only
    the same run if the help's default is each plugin's default."""
    from chunkwise.cli.app import ingest

    from chunkwise.plan import PLUGIN_FLAGS

    params = {p.name: p for p in ingest.params}
    checked = 0
    for name, flag in PLUGIN_FLAGS.items():
        default = params[name].default
        if not isinstance(default, (str, int, float)):  # no default (None, click's UNSET)
            continue
        for kind in ("parsers", "chunkers", "embedders"):
            for plugin in registry.BUILTINS[kind]:
                for info in registry.options_class(kind, plugin).describe():
                    if info.flag == flag:
                        assert info.default == default, (flag, kind, plugin)
                        checked += 1
    assert checked >= 6
