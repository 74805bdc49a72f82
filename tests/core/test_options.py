"""Typed plugin options: coercion, validation, the registry's options classes, --opt, and the
options that no flag could reach before they were typed (one test each)."""

from __future__ import annotations

import json
from dataclasses import FrozenInstanceError, dataclass
from pathlib import Path
from typing import ClassVar

import pytest
from chunkwise.chunkers.options import CastOptions, S2Options, VisionOptions
from chunkwise.embedders import EmbedConfig
from chunkwise.parsers.options import PdfOptions, TextOptions

from chunkwise import registry
from chunkwise.chunking import ChunkerConfig
from chunkwise.errors import UsageError
from chunkwise.options import Options, OptionValues, option, parse_assignment, resolve_target
from chunkwise.pipeline import IngestOptions, options_hash

SAMPLES = Path(__file__).resolve().parents[2] / "sample_docs"
JOURNAL = SAMPLES / "pdf" / "three-column-journal.pdf"
TABLES_PDF = SAMPLES / "pdf" / "issue-33-lorem-ipsum.pdf"


@dataclass(frozen=True)
class Demo(Options):
    plugin: ClassVar[str] = "demo"

    size: int = option(10, "a size", min=1, max=100, flag="--size")
    ratio: float = option(0.5, "a ratio", min=0.0, max=1.0)
    mode: str = option("a", "a mode", choices=("a", "b"))
    on: bool = option(True, "a switch")
    name: str | None = option(None, "a name")
    jobs: int = option(1, "parallelism", min=1, affects_output=False)


def test_strings_are_coerced_to_the_field_types() -> None:
    d = Demo.from_values({"size": "7", "ratio": "1", "on": "off", "name": "none", "mode": "b"})
    assert (d.size, d.ratio, d.on, d.name, d.mode) == (7, 1.0, False, None, "b")
    assert isinstance(d.ratio, float)
    assert Demo(on="YES").on is True  # type: ignore[arg-type]
    assert Demo(name="x").name == "x"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"size": "0"}, r"--size \(demo.size\) must be between 1 and 100"),
        ({"size": "2.5"}, r"demo\.size\) must be a whole number"),
        ({"ratio": "heavy"}, "demo.ratio must be a number"),
        ({"ratio": "nan"}, "demo.ratio must be a finite number"),
        ({"mode": "c"}, "demo.mode must be one of: a, b"),
        ({"on": "maybe"}, "demo.on must be true or false"),
        ({"on": 1}, "demo.on must be true or false"),
        ({"size": None}, r"demo\.size\) needs a value"),
        ({"colour": "red"}, r"unknown option demo.colour; demo options: size, ratio"),
    ],
)
def test_bad_values_are_usage_errors(values: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        Demo.from_values(values)


def test_options_are_frozen_and_hash_only_changed_output_fields() -> None:
    d = Demo(jobs=4, size=10)
    with pytest.raises(FrozenInstanceError):
        d.size = 3  # type: ignore[misc]
    assert d.output_values() == {}  # jobs does not affect output; size is its default
    assert Demo(size=3, on=False).output_values() == {"size": 3, "on": False}
    assert Demo().merged({"size": "4"}).size == 4


def test_describe_gives_the_option_table() -> None:
    rows = {o.name: o for o in Demo.describe()}
    assert rows["size"].type == "int" and rows["size"].range == "1..100"
    assert rows["size"].flag == "--size" and rows["size"].help == "a size"
    assert rows["name"].type == "str | None" and rows["name"].default is None
    assert rows["mode"].range == "a | b"
    assert rows["jobs"].range == ">= 1" and not rows["jobs"].affects_output


def test_registry_names_each_builtins_options_class_without_importing_it() -> None:
    for kind in ("parsers", "chunkers", "embedders"):
        for name in registry.BUILTINS[kind]:
            declared = registry.options_class(kind, name)
            assert registry.load(kind, name).options_class is declared, (kind, name)


def test_options_modules_are_light() -> None:
    import subprocess
    import sys

    code = (
        "import sys; import chunkwise.chunkers.options, chunkwise.parsers.options, "
        "chunkwise.embedders.options; "
        "print(sorted(m for m in ('numpy', 'torch', 'pymupdf', 'tiktoken') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_assignments_and_targets() -> None:
    assert parse_assignment("pdf.tables=false") == ("pdf", "tables", "false")
    assert parse_assignment("chunkers.legal.x=a=b") == ("chunkers.legal", "x", "a=b")
    assert parse_assignment("vision.pages-per-batch=2") == ("vision", "pages_per_batch", "2")
    for bad in ("pdf", "pdf.tables", "=1", ".x=1"):
        with pytest.raises(UsageError, match=r"NAME\.KEY=VALUE"):
            parse_assignment(bad)
    assert resolve_target("pdf", "tables") == ("parsers", "pdf")
    assert resolve_target("s2", "window") == ("chunkers", "s2")
    assert resolve_target("chunker.legal", "x") == ("chunkers", "legal")
    with pytest.raises(UsageError, match="no plugin named 'nope'"):
        resolve_target("nope", "x")


def test_flags_reach_every_field_that_declares_them() -> None:
    values = OptionValues()
    values.set_flag("--embed-model", "my-model")
    values.set_flag("--device", "cpu")
    values.set_flag("--pages", None)  # not given
    chunkers = values.build("chunkers")
    assert chunkers["s2"] == S2Options(model="my-model", device="cpu")
    assert chunkers["auto"].as_dict()["model"] == "my-model"
    assert values.get("embedders", "late") == EmbedConfig(model="my-model", device="cpu")
    assert values.build("parsers") == {}
    values.assign("embed.window=64")
    values.assign("s2.model=other")  # --opt wins over the flag
    assert values.get("embedders", "naive").as_dict()["window"] == 64
    assert values.build("chunkers")["s2"].as_dict()["model"] == "other"


def test_plugins_take_instances_mappings_or_nothing() -> None:
    from chunkwise.chunkers.cast import CastChunker
    from chunkwise.parsers.pdf import PdfParser

    assert PdfParser().options == PdfOptions()
    assert PdfParser({"tables": "false"}).tables is False
    config = ChunkerConfig(options={"cast": CastOptions(max_chars=99)})
    assert CastChunker(config).max_chars == 99
    assert CastChunker(config, {"max_chars": 5}).max_chars == 5  # explicit options win
    with pytest.raises(UsageError, match=r"unknown option cast\.max_char"):
        CastChunker(None, {"max_char": 5})
    with pytest.raises(TypeError):
        CastChunker(None, VisionOptions())
    with pytest.raises(TypeError, match="Options instance"):
        IngestOptions(parser_options={"ocr": "off"})  # type: ignore[dict-item]


def test_options_hash_follows_output_fields_only() -> None:
    def h(parsers: dict[str, Options], chunkers: dict[str, Options]) -> str:
        cfg = ChunkerConfig(options=chunkers)
        return options_hash(IngestOptions(chunker_config=cfg, parser_options=parsers))

    base = h({}, {})
    assert h({"pdf": PdfOptions()}, {"vision": VisionOptions()}) == base  # defaults
    assert h({}, {"vision": VisionOptions(jobs=8, timeout=5)}) == base  # not output
    assert h({}, {"s2": S2Options(device="cpu")}) == base
    changed = {
        h({"pdf": PdfOptions(tables=False)}, {}),
        h({"pdf": PdfOptions(dehyphenate=False)}, {}),
        h({"text": TextOptions(detect_legal=False)}, {}),
        h({}, {"s2": S2Options(model="m")}),
        h({}, {"vision": VisionOptions(dpi=200)}),
    }
    assert len(changed) == 5 and base not in changed


# -- options no flag reached before they were typed ------------------------------------------------


def test_embed_model_reaches_s2_semantic_model(cli) -> None:
    args = ("ingest", str(JOURNAL), "-c", "s2", "--s2-semantic", "model", "-j0")
    res = cli(*args, "--embed-model", "no-such-model-here")
    # s2 now loads the model it was given (before: silently the default one).
    assert res.returncode == 2 and "no-such-model-here" in res.stderr


def test_device_reaches_s2_semantic_model(cli) -> None:
    args = ("ingest", str(JOURNAL), "-c", "s2", "--s2-semantic", "model", "-j0")
    res = cli(*args, "--device", "tpu")
    assert res.returncode == 2 and "--device must be auto, cpu or cuda, not 'tpu'" in res.stderr


def test_embed_model_and_device_reach_auto_vectors(cli) -> None:
    doc = SAMPLES / "markdown" / "semchunk-README.md"
    args = ("ingest", str(doc), "--auto-vectors", "model", "-j0")
    res = cli(*args, "--embed-model", "no-such-model-here")
    assert res.returncode == 2 and "no-such-model-here" in res.stderr
    res = cli(*args, "--device", "tpu")
    assert res.returncode == 2 and "not 'tpu'" in res.stderr


def _kinds(cli, path: Path, *opts: str) -> list[str]:
    res = cli("parse", str(path), "--no-text", *opts)
    assert res.returncode == 0, res.stderr
    return [e["kind"] for e in json.loads(res.stdout)["elements"]]


def test_pdf_tables_option(cli) -> None:
    assert "table" in _kinds(cli, TABLES_PDF)
    assert "table" not in _kinds(cli, TABLES_PDF, "--opt", "pdf.tables=false")


def test_pdf_dehyphenate_option(cli, tmp_path: Path) -> None:
    import pymupdf

    pdf = pymupdf.open()
    page = pdf.new_page()
    for i, line in enumerate(["The committee asked for more infor-", "mation about it."]):
        page.insert_text((72, 100 + 12 * i), line, fontsize=10)
    path = tmp_path / "hyphen.pdf"
    pdf.save(path)
    texts = []
    for opts in ((), ("--opt", "pdf.dehyphenate=false")):
        res = cli("ingest", str(path), "-j0", *opts)
        assert res.returncode == 0, res.stderr
        texts.append(" ".join(r["text"] for r in res.records()))
    assert "information" in texts[0] and "infor- mation" in texts[1]


@pytest.mark.slow
def test_pdf_ocr_option(cli, tmp_path: Path) -> None:
    pytest.importorskip("rapidocr_onnxruntime")
    import pymupdf

    src = pymupdf.open()
    src.new_page(width=300, height=120).insert_text((20, 60), "Scanned words here", fontsize=18)
    pix = src[0].get_pixmap(dpi=150)
    out = pymupdf.open()
    out.new_page(width=300, height=120).insert_image(pymupdf.Rect(0, 0, 300, 120), pixmap=pix)
    path = tmp_path / "scan.pdf"
    out.save(path)

    def meta(*opts: str) -> dict[str, object]:
        res = cli("parse", str(path), "--no-text", *opts)
        assert res.returncode == 0, res.stderr
        return dict(json.loads(res.stdout)["metadata"])

    assert meta().get("ocr_pages") == [1]
    off = meta("--opt", "pdf.ocr=off")
    assert off.get("skipped_pages") == [1] and not off.get("ocr_pages")


def test_text_detect_legal_option(cli) -> None:
    path = SAMPLES / "legal" / "model-statute.txt"
    parsers = []
    for opts in ((), ("--opt", "text.detect_legal=false")):
        res = cli("ingest", str(path), "-j0", "-c", "recursive", *opts)
        assert res.returncode == 0, res.stderr
        parsers.append({r["parser"] for r in res.records()})
    assert parsers == [{"legal"}, {"text"}]


def test_keep_furniture_goes_to_chunkers_not_parsers(cli) -> None:
    from chunkwise.parsers.text import TextParser

    # No parser reads it: handing it to one is an unknown option, not a silent no-op.
    with pytest.raises(UsageError, match=r"unknown option text\.keep_furniture"):
        TextParser({"keep_furniture": True})
    res = cli("ingest", str(SAMPLES / "text"), str(JOURNAL), "-j0", "--keep-furniture")
    assert res.returncode == 0, res.stderr
    assert any("Page 1" in r["text"] for r in res.records())


def test_opt_errors_exit_2(cli) -> None:
    doc = str(SAMPLES / "text" / "apache-license-2.0.txt")
    for opt, message in [
        ("pdf.colour=red", "unknown option pdf.colour"),
        ("s2.window=1", "s2.window must be at least 2"),
        ("nope.x=1", "no plugin named 'nope'"),
        ("vision.backend=cloud", "must be one of: layout, openai"),
    ]:
        res = cli("ingest", doc, "-j0", "--opt", opt)
        assert res.returncode == 2 and message in res.stderr and not res.stdout, opt


def test_plugins_name_prints_the_option_table(cli) -> None:
    res = cli("plugins", "pdf")
    assert res.returncode == 0
    lines = res.stdout.splitlines()
    assert lines[0].startswith("pdf (parser)")
    assert any(line.split()[:3] == ["tables", "bool", "True"] for line in lines)
    data = json.loads(cli("plugins", "s2", "--json").stdout)
    window = next(o for o in data["options"] if o["name"] == "window")
    assert window == {**window, "type": "int", "default": 150, "min": 2, "range": ">= 2"}
    both = json.loads(cli("plugins", "legal", "--json").stdout)
    assert [e["kind"] for e in both] == ["parsers", "chunkers"]
    assert cli("plugins", "nope").returncode == 2
