"""Hostile input through the whole pipeline (walk -> worker pool -> parse -> chunk -> write).

Real files from ``sample_docs/`` and the shared corpus are mutated at the byte level (truncation,
bit flips, splices, NUL bytes, mixed encodings, giant lines, deep nesting, wrong extensions,
corrupted or re-compressed gzip) and run, a folder at a time, next to a known-good control file.
Every mutated file must end as chunks or as exactly one error record, the run must finish, and the
control file's output must be complete and unchanged. Seeds are picked per registered parser, so
the suite grows with every parser added to the registry.

Default run: a small fixed number of examples (CI, well under a minute on an idle machine).
Longer run: ``CHUNKWISE_FUZZ_EXAMPLES=300 CHUNKWISE_FUZZ_CHUNKER=auto pytest tests/fuzz`` or
``python benchmarks/fuzz.py``.
"""

from __future__ import annotations

import codecs
import gzip
import io
import os
import random
import shutil
import zipfile
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from chunkwise.parsers.options import PdfOptions
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chunkwise import registry
from chunkwise.chunking import ChunkerConfig
from chunkwise.errors import ErrorRecord
from chunkwise.names import display
from chunkwise.pipeline import IngestOptions, Result, Summary, ingest
from tests.conftest import MemoryWriter, load_benchmark

ROOT = Path(__file__).resolve().parents[2]
hostile = load_benchmark("hostile")
SAMPLE_DOCS = ROOT / "sample_docs"
CORPUS = ROOT.parent / "shared" / "corpus"

EXAMPLES = int(os.environ.get("CHUNKWISE_FUZZ_EXAMPLES", "5"))
LONG = "CHUNKWISE_FUZZ_EXAMPLES" in os.environ
# Parsers are the attack surface; the default run chunks with the fast recursive chunker so PDF
# layout analysis is exercised without the slower per-format chunkers (the long run uses auto).
CHUNKER = os.environ.get("CHUNKWISE_FUZZ_CHUNKER", "recursive")
TIMEOUT = float(os.environ.get("CHUNKWISE_FUZZ_TIMEOUT", "60"))
MAX_SEED_BYTES = 120_000
SEEDS_PER_PARSER = 3
MAX_TOKENS = 256


# -- seeds ---------------------------------------------------------------------------------------


def _parser_extensions() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {name: [] for name in registry.specs("parsers")}
    for ext, name in registry.extension_map().items():
        out.setdefault(name, []).append(ext)
    return out


def _candidate_files() -> Iterable[Path]:
    for root in (SAMPLE_DOCS, CORPUS / "pdf", CORPUS / "html"):
        if not root.is_dir():
            continue
        for f in sorted(root.rglob("*")):
            if "broken" in f.parts or f.name.upper().startswith("LICENSE"):
                continue
            if f.is_file() and not f.is_symlink() and 0 < f.stat().st_size <= MAX_SEED_BYTES:
                yield f


def collect_seeds() -> dict[str, list[Path]]:
    """Parser name -> a few real files it claims (smallest first)."""
    seeds: dict[str, list[Path]] = {name: [] for name in _parser_extensions()}
    for f in _candidate_files():
        name = registry.parser_for(str(f))
        if name is not None:
            seeds.setdefault(name, []).append(f)
    return {
        name: sorted(files, key=lambda p: p.stat().st_size)[:SEEDS_PER_PARSER]
        for name, files in seeds.items()
    }


SEEDS = collect_seeds()
EXTENSIONS = _parser_extensions()
PARSERS = sorted(name for name, exts in EXTENSIONS.items() if exts)
FALLBACK_SEED = b"# A heading\n\nSome plain text, a list:\n\n- one\n- two\n\nThe end.\n"


def seed_bytes(parser: str, index: int) -> tuple[bytes, str]:
    """(content, file name) of a seed for ``parser``; a generic text seed when it has none."""
    files = SEEDS.get(parser) or []
    if files:
        f = files[index % len(files)]
        return f.read_bytes(), f.name
    return FALLBACK_SEED, "synthetic" + EXTENSIONS[parser][0]


# -- byte-level mutations ------------------------------------------------------------------------


def truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(len(data) + 1)]


def bit_flips(data: bytes, rng: random.Random) -> bytes:
    if not data:
        return data
    b = bytearray(data)
    for _ in range(rng.randint(1, 64)):
        i = rng.randrange(len(b))
        b[i] ^= 1 << rng.randrange(8)
    return bytes(b)


def splice(data: bytes, rng: random.Random) -> bytes:
    n = len(data)
    i, j = sorted(rng.randrange(n + 1) for _ in range(2))
    op = rng.choice(["delete", "duplicate", "random"])
    if op == "delete":
        return data[:i] + data[j:]
    if op == "duplicate":
        return data[:j] + data[i:j] * rng.randint(2, 20) + data[j:]
    junk = bytes(rng.randrange(256) for _ in range(rng.randint(1, 4096)))
    return data[:i] + junk + data[i:]


def nul_bytes(data: bytes, rng: random.Random) -> bytes:
    out = data
    for _ in range(rng.randint(1, 8)):
        i = rng.randrange(len(out) + 1)
        out = out[:i] + b"\x00" * rng.randint(1, 512) + out[i:]
    return out


_FOREIGN = (
    "café naïve".encode("latin-1"),
    "naïve façade".encode("utf-16"),
    "日本語のテキスト".encode("shift_jis"),
    "Привет".encode("koi8-r"),
    codecs.BOM_UTF8,
    codecs.BOM_UTF16_BE,
    b"\xff\xfe\xfd",
    b"\xed\xa0\x80",  # a UTF-16 surrogate encoded as UTF-8 (invalid)
    b"\xc0\xaf",  # overlong encoding
)


def mixed_encoding(data: bytes, rng: random.Random) -> bytes:
    out = data
    for _ in range(rng.randint(1, 6)):
        i = rng.randrange(len(out) + 1)
        out = out[:i] + rng.choice(_FOREIGN) + out[i:]
    return out


def giant_line(data: bytes, rng: random.Random) -> bytes:
    unit = rng.choice([b"A", b"word", b"1234567890", b"\xe2\x80\x94", b"<b>", b"-", b"\t"])
    size = rng.randint(50_000, 300_000 if LONG else 150_000)
    i = rng.randrange(len(data) + 1)
    return data[:i] + unit * (size // len(unit)) + data[i:]


_NESTING = (
    (b"<div>", b"</div>"),
    (b"<table><tr><td>", b"</td></tr></table>"),
    (b"<ul><li>", b"</li></ul>"),
    (b"> ", b""),
    (b"- ", b""),
    (b"[", b"]"),
    (b"{", b"}"),
    (b"(", b")"),
    (b"<<", b">>"),  # PDF dictionaries
    (b"```\n", b""),
)


def deep_nesting(data: bytes, rng: random.Random) -> bytes:
    open_, close = rng.choice(_NESTING)
    depth = rng.randint(1_000, 30_000 if LONG else 10_000)
    i = rng.randrange(len(data) + 1)
    return data[:i] + open_ * depth + b"x" + close * depth + data[i:]


MUTATIONS: dict[str, Callable[[bytes, random.Random], bytes]] = {
    f.__name__: f
    for f in (truncate, bit_flips, splice, nul_bytes, mixed_encoding, giant_line, deep_nesting)
}


def mutate_zip_member(data: bytes, mutations: list[str], rng: random.Random) -> bytes:
    """Office files, e-books: mutate one member's bytes and zip again, so the XML reader (not
    the zip reader) sees the damage."""
    src = zipfile.ZipFile(io.BytesIO(data))
    names = src.namelist()
    target = rng.choice([n for n in names if n.endswith((".xml", ".xhtml", ".rels"))] or names)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for n in names:
            member = src.read(n)
            if n == target:
                for m in mutations:
                    member = MUTATIONS[m](member, rng)
            dst.writestr(n, member)
    return out.getvalue()


def mutate(data: bytes, name: str, mutations: list[str], seed: int, inner: bool) -> bytes:
    rng = random.Random(seed)
    if inner and data[:4] == b"PK\x03\x04":
        try:
            return mutate_zip_member(data, mutations, rng)
        except zipfile.BadZipFile:
            pass
    gz = name.endswith(".gz") and data[:2] == b"\x1f\x8b"
    if gz and inner:
        # Mutate the HTML inside and compress it again, so the parser (not gzip) sees the damage.
        data = gzip.decompress(data)
    for m in mutations:
        data = MUTATIONS[m](data, rng)
    if gz and inner:
        data = gzip.compress(data, compresslevel=1, mtime=0)
    return data


# -- running a folder ----------------------------------------------------------------------------


def run_folder(
    folder: Path, jobs: int = 2
) -> tuple[Summary, list[dict[str, Any]], list[ErrorRecord], list[Result]]:
    writer = MemoryWriter()
    errors: list[ErrorRecord] = []
    results: list[Result] = []
    options = IngestOptions(
        chunker=CHUNKER,
        chunker_config=ChunkerConfig(max_tokens=MAX_TOKENS),
        jobs=jobs,
        isolate=True,
        timeout=TIMEOUT,
        parser_options={"pdf": PdfOptions(ocr="off")},
        # Every input must end as chunks or one error record: empty files (truncation makes
        # them) are failures here rather than skipped-empty.
        strict=True,
    )
    summary = ingest(
        [str(folder)], options, writer, on_error=errors.append, on_result=results.append
    )
    return summary, writer.records, errors, results


CONTROL_NAME = "zz-control.md"


def control_bytes() -> bytes:
    files = sorted((SAMPLE_DOCS / "markdown").glob("*.md"))
    return files[0].read_bytes() if files else FALLBACK_SEED * 20


_REFERENCE: dict[str, list[dict[str, Any]]] = {}


def control_reference(tmp: Path) -> list[dict[str, Any]]:
    if "records" not in _REFERENCE:
        folder = tmp / "reference"
        folder.mkdir()
        (folder / CONTROL_NAME).write_bytes(control_bytes())
        _, records, errors, _ = run_folder(folder, jobs=1)
        assert not errors and records
        # ids hash the source path, which differs between folders.
        _REFERENCE["records"] = [{**r, "source": CONTROL_NAME, "id": None} for r in records]
    return _REFERENCE["records"]


def check_run(folder: Path, expected_files: list[Path], tmp: Path) -> Summary:
    reference = control_reference(tmp)
    summary, records, errors, results = run_folder(folder)
    by_source: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        by_source.setdefault(r["source"], []).append(r)
    errors_by_source: dict[str, list[ErrorRecord]] = {}
    for e in errors:
        errors_by_source.setdefault(e.source, []).append(e)
    for f in expected_files:
        got_chunks = by_source.get(display(str(f)), [])
        got_errors = errors_by_source.get(display(str(f)), [])
        # A message with no body text of its own may end as its attachments' output alone.
        only_attachments = (
            not got_chunks and not got_errors and any(r.source.startswith(f"{f}#") for r in results)
        )
        assert (
            (got_chunks and not got_errors)
            or (not got_chunks and len(got_errors) == 1)
            or only_attachments
        ), f"{f.name}: {len(got_chunks)} chunks and {len(got_errors)} error records"
        for e in got_errors:
            assert e.message and "\n" not in e.message and e.stage
    # Chunk invariants on whatever the mutated documents produced.
    for res in results:
        if res.doc is None:
            continue
        for c in res.chunks:
            if not c.synthetic:
                assert c.text == res.doc.text[c.start : c.end], f"{res.source}: offsets"
            assert c.text, f"{res.source}: empty chunk"
    control = [
        {**r, "source": CONTROL_NAME, "id": None}
        for r in by_source.get(str(folder / CONTROL_NAME), [])
    ]
    assert control == reference, "the control file's output changed next to hostile files"
    # An e-mail's attachments are documents of their own (``mail.eml#name``).
    n_attachments = sum(1 for r in results if "#" in Path(r.source).name)
    assert summary.documents == len(expected_files) + 1 + n_attachments
    return summary


# -- the property --------------------------------------------------------------------------------


def case(parsers: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    return st.tuples(
        parsers,  # whose seed
        st.integers(0, SEEDS_PER_PARSER - 1),
        st.lists(st.sampled_from(sorted(MUTATIONS)), min_size=1, max_size=2),
        st.integers(0, 2**32 - 1),
        # Written under another parser's extension (about one case in four).
        st.one_of(st.none(), st.none(), st.none(), st.sampled_from(PARSERS)),
        st.booleans(),  # gzip and zip seeds: mutate the inside rather than the container
    )


# Every example holds one mutated file per registered parser, plus a few drawn at random.
folders = st.tuples(
    st.tuples(*(case(st.just(p)) for p in PARSERS)),
    st.lists(case(st.sampled_from(PARSERS)), max_size=3),
).map(lambda t: [*t[0], *t[1]])


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not LONG,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(cases=folders)
def test_mutated_files_end_as_chunks_or_one_error(
    cases: list[tuple[str, int, list[str], int, str | None, bool]], tmp_path_factory: Any
) -> None:
    tmp = tmp_path_factory.mktemp("fuzz")
    folder = tmp / "docs"
    folder.mkdir()
    files: list[Path] = []
    for n, (parser, idx, mutations, seed, ext_parser, inner) in enumerate(cases):
        data, name = seed_bytes(parser, idx)
        data = mutate(data, name, mutations, seed, inner)
        if ext_parser is not None:
            name = Path(name).name.split(".")[0] + EXTENSIONS[ext_parser][0]
        path = folder / f"{n:02d}-{'-'.join(mutations)}-{name}"
        path.write_bytes(data)
        files.append(path)
    (folder / CONTROL_NAME).write_bytes(control_bytes())
    check_run(folder, files, tmp)
    shutil.rmtree(tmp, ignore_errors=True)


def test_every_registered_parser_is_fuzzed() -> None:
    # A parser registered without extensions cannot be reached by the walk; every other one has
    # at least a synthetic seed, so the fuzz suite covers it the day it is registered.
    assert PARSERS, "no parsers registered"
    for name in PARSERS:
        data, fname = seed_bytes(name, 0)
        assert data and registry.parser_for(fname) is not None


# -- hand-made hostile files ---------------------------------------------------------------------


def gzip_bomb(size: int) -> bytes:
    """A small .gz that inflates to ``size`` bytes of HTML-ish filler."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = b"<p>" + b"\x00" * (1 << 20) + b"</p>"
    parts = [comp.compress(b"<html><body>")]
    for _ in range(size // len(block) + 1):
        parts.append(comp.compress(block))
    parts.append(comp.flush())
    return b"".join(parts)


def hostile_files(folder: Path) -> list[Path]:
    # The gzip bomb has its own test below.
    files: dict[str, bytes] = {
        "not-gzip.html.gz": b"<html><body><p>plain html with a .gz name</p></body></html>",
        "deep-divs.html": b"<html><body>" + b"<div>" * 50_000 + b"deep" + b"</div>" * 50_000,
        "deep-quotes.md": b"> " * 20_000 + b"quoted\n",
        "deep-lists.md": b"".join(b"  " * i + b"- item\n" for i in range(2_000)),
        "spaces.txt": b" " * 1_000_000 + b"x",  # a Rust tokenizer panics on this
        "giant-line.txt": b"word" * 75_000,
        "nul.md": b"\x00" * 5_000,
        "utf16-no-bom.txt": "plain text in UTF-16 without a byte-order mark\n".encode("utf-16-le"),
        "mixed.txt": "café ".encode() + "café ".encode("latin-1") + b"end\n",
        "pdf-named.md": (CORPUS / "pdf" / "test-punkt.pdf").read_bytes()
        if (CORPUS / "pdf" / "test-punkt.pdf").exists()
        else b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n",
        "html-named.pdf": b"<html><body><p>not a pdf</p></body></html>",
        "gzip-named.txt": gzip.compress(b"hello " * 1000),
        "png-named.html": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20,
        "nested.pdf": b"%PDF-1.4\n1 0 obj\n" + b"[" * 100_000 + b"]" * 100_000 + b"\nendobj\n%%EOF",
        # Issue 21's pathological files, scaled down (benchmarks/hostile.py has them full size).
        "base64-image.md": hostile.base64_markdown(0.05)[1],
        "many-headings.md": hostile.section_headings(0.05)[1],
        "one-line.txt": hostile.long_line_text(0.004)[1],
        "app.min.js": hostile.minified_js(0.02)[1],
    }
    for ext_list in EXTENSIONS.values():
        for ext in ext_list[:1]:
            files[f"empty{ext}"] = b""
    paths = []
    for name, data in files.items():
        p = folder / name
        p.write_bytes(data)
        paths.append(p)
    # A name that is not UTF-8 (its records carry source_bytes_hex), and a deep tree.
    raw = os.fsencode(folder) + b"/byte\xffname.txt"
    with open(raw, "wb") as fh:
        fh.write(b"A file whose name is not UTF-8.\n")
    paths.append(Path(os.fsdecode(raw)))
    deep = folder.joinpath(*["d"] * 300)
    deep.mkdir(parents=True)
    (deep / "deep.txt").write_text("Found at the bottom of a deep tree.\n")
    paths.append(deep / "deep.txt")
    # Not documents, must not break the walk: links that loop or dangle, a FIFO.
    (folder / "loop.txt").symlink_to(folder / "loop.txt")
    (folder / "dangling.md").symlink_to(folder / "missing.md")
    (folder / "dirloop").symlink_to(folder, target_is_directory=True)
    os.mkfifo(folder / "fifo.txt")
    if os.geteuid() != 0:  # root reads anything
        locked = folder / "unreadable.txt"
        locked.write_text("secret\n")
        locked.chmod(0)
        paths.append(locked)
    return paths


def test_hand_made_hostile_files(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    files = hostile_files(folder)
    (folder / CONTROL_NAME).write_bytes(control_bytes())
    summary = check_run(folder, files, tmp_path)
    assert summary.failed >= len([f for f in files if f.name.startswith("empty")])


class Endless:
    """stdin that never ends (``chunk ingest - < /dev/zero``)."""

    def __init__(self) -> None:
        self.served = 0

    def read(self, n: int = -1) -> bytes:
        assert n > 0, "stdin must be read in bounded blocks"
        self.served += n
        return b"\0" * n


def test_endless_stdin_stops_at_the_limit() -> None:
    stream = Endless()
    errors: list[ErrorRecord] = []
    options = IngestOptions(chunker=CHUNKER, max_file_size=3_000_000)
    summary = ingest(["-"], options, MemoryWriter(), on_error=errors.append, stdin=stream)
    assert stream.served <= 3_000_001
    assert [e.source for e in errors] == ["<stdin>"] and "--max-file-size" in errors[0].message
    assert summary.exit_code == 3


def test_gzip_bomb_is_a_clear_error(tmp_path: Path) -> None:
    if "html" not in registry.specs("parsers"):
        pytest.skip("no html parser registered")
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "bomb.html.gz").write_bytes(gzip_bomb(300 * 1024 * 1024))
    _, records, errors, _ = run_folder(folder)
    assert records == []
    (err,) = errors
    assert "larger than" in err.message or "too large" in err.message, err.message


# Each of issue 21's pathological files at a size that keeps the suite fast, under the chunker
# it hurt (benchmarks/hostile.py runs them full size): super-linear costs show as the time limit.
PATHOLOGICAL_SCALES = {
    "base64_markdown": 0.05,
    "section_headings": 0.25,
    "empty_headings": 0.5,
    "section_large": 0.1,
    "html_gzip": 0.002,
    "html_article": 0.05,
    "long_line_text": 0.002,
    "minified_js": 0.02,
}


@pytest.mark.parametrize("case", sorted(PATHOLOGICAL_SCALES))
def test_pathological_files_under_the_chunker_they_hurt(tmp_path: Path, case: str) -> None:
    assert set(PATHOLOGICAL_SCALES) == set(hostile.BUILDERS), "a new case needs a scale here"
    name, data = hostile.BUILDERS[case](PATHOLOGICAL_SCALES[case])
    path = tmp_path / name
    path.write_bytes(data)
    chunker = hostile.CHUNKERS.get(case, "auto")
    writer, errors = MemoryWriter(), []
    options = IngestOptions(chunker=chunker, jobs=1, isolate=True, timeout=20)
    ingest([str(path)], options, writer, on_error=errors.append)
    assert (writer.records and not errors) or len(errors) == 1, (case, errors)
    for e in errors:
        assert e.error != "WorkerTimeout", f"{case}: {e.message}"
    for r in writer.records:
        assert r["synthetic"] or r["text"] == data_text(path)[r["start"] : r["end"]]


def data_text(path: Path, _cache: dict[Path, str] = {}) -> str:  # noqa: B006 - a memo
    """The parsed text of ``path`` (chunk offsets refer to it)."""
    if path not in _cache:
        from chunkwise.pipeline import Processor, Source

        proc = Processor(IngestOptions(chunker="recursive"))
        doc = proc.parser(proc.parser_name(Source(str(path), path=path))).parse(path)
        _cache[path] = doc.text
    return _cache[path]


class _Stdin:
    def __init__(self, stream: Any) -> None:
        self.buffer = stream


def test_endless_stdin_to_parse_stops_at_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    import click
    from chunkwise.cli.app import _parse_one

    stream = Endless()
    monkeypatch.setattr("sys.stdin", _Stdin(stream))
    with pytest.raises(click.exceptions.Exit) as exit_info:
        _parse_one("-", None, {}, max_file_size=2_000_000)
    assert exit_info.value.exit_code == 3
    assert stream.served <= 2_000_001
