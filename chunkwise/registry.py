"""Names -> components. Built-ins are ``"module:Class"`` strings imported only when used, so
listing plugins or printing help imports nothing heavy; third parties register through the entry
point groups ``chunkwise.parsers``, ``chunkwise.chunkers``, ``chunkwise.writers`` and
``chunkwise.embedders``."""

from __future__ import annotations

import functools
import importlib
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chunkwise.errors import UsageError

if TYPE_CHECKING:
    from chunkwise.options import Options

KINDS = ("parsers", "chunkers", "writers", "embedders")


@dataclass(frozen=True)
class Spec:
    name: str
    target: str
    extensions: tuple[str, ...] = ()
    description: str = ""
    origin: str = "builtin"
    # "module:Class" of the plugin's options (a light module), so options can be listed and
    # built without importing the plugin; empty: the plugin class's ``options_class``.
    options: str = ""


BUILTINS: dict[str, dict[str, Spec]] = {
    "parsers": {
        "text": Spec(
            "text",
            "chunkwise.parsers.text:TextParser",
            (".txt", ".text", ".log", ".rst"),
            "plain text",
            options="chunkwise.parsers.options:TextOptions",
        ),
        "markdown": Spec(
            "markdown",
            "chunkwise.parsers.markdown:MarkdownParser",
            (".md", ".markdown", ".mdown", ".mkd", ".mdx"),
            "Markdown",
        ),
        "pdf": Spec(
            "pdf",
            "chunkwise.parsers.pdf:PdfParser",
            (".pdf",),
            "PDF with layout: reading order, headings, lists, tables, furniture, pages/bboxes",
            options="chunkwise.parsers.options:PdfOptions",
        ),
        "code": Spec(
            "code",
            "chunkwise.parsers.code:CodeParser",
            # Kept equal to chunkwise.parsers.code.EXTENSIONS (a test checks it).
            tuple(
                ".py .pyi .pyw .js .mjs .cjs .jsx .ts .mts .cts .tsx .go .rs .java .c .h .cpp "
                ".cc .cxx .c++ .hpp .hh .hxx .h++ .ipp .inl .cs .csx .rb .rake .gemspec .ru .php "
                ".phtml .php8 .kt .kts .scala .sc .swift .sh .bash .ksh .bats .lua".split()
            ),
            "source code (tree-sitter): Python, JS, TS/TSX, Go, Rust, Java, C, C++, C#, Ruby, "
            "PHP, Kotlin, Scala, Swift, Bash, Lua",
            options="chunkwise.parsers.options:CodeOptions",
        ),
        "html": Spec(
            "html",
            "chunkwise.parsers.html:HtmlParser",
            (".html", ".htm", ".xhtml", ".html.gz", ".htm.gz"),
            "HTML pages: main content (or every block) with headings, lists, tables",
            options="chunkwise.parsers.options:HtmlOptions",
        ),
        "image": Spec(
            "image",
            "chunkwise.parsers.image:ImageParser",
            (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp", ".gif"),
            "images: OCR (the ocr extra) through the PDF parser; the vision chunker renders them",
            options="chunkwise.parsers.options:ImageOptions",
        ),
        "docx": Spec(
            "docx",
            "chunkwise.parsers.docx:DocxParser",
            (".docx", ".docm", ".dotx", ".dotm"),
            "Word: headings, numbered lists, tables, notes, text boxes, headers/footers",
        ),
        "pptx": Spec(
            "pptx",
            "chunkwise.parsers.pptx:PptxParser",
            (".pptx", ".pptm", ".potx", ".potm", ".ppsx", ".ppsm"),
            "PowerPoint: a page per slide, titles, bullets, tables, charts, speaker notes",
        ),
        "xlsx": Spec(
            "xlsx",
            "chunkwise.parsers.sheet:XlsxParser",
            (".xlsx", ".xlsm", ".xltx", ".xltm"),
            "Excel: a section per sheet, rows as table rows (cached formula values)",
            options="chunkwise.parsers.options:XlsxOptions",
        ),
        "csv": Spec(
            "csv",
            "chunkwise.parsers.sheet:CsvParser",
            (".csv", ".tsv", ".tab"),
            "CSV/TSV (dialect sniffed): rows as table rows, header repeated when split",
        ),
        "epub": Spec(
            "epub",
            "chunkwise.parsers.epub:EpubParser",
            (".epub",),
            "EPUB e-books: chapters in spine order through the HTML reader",
        ),
        "eml": Spec(
            "eml",
            "chunkwise.parsers.mail:EmlParser",
            (".eml",),
            "e-mail (RFC 5322/MIME): headers in metadata, body, attachments as documents",
        ),
        "msg": Spec(
            "msg",
            "chunkwise.parsers.mail:MsgParser",
            (".msg",),
            "Outlook .msg: headers in metadata, body, attachments as documents",
        ),
        "odf": Spec(
            "odf",
            "chunkwise.parsers.odf:OdfParser",
            (".odt", ".ott", ".odp", ".otp", ".ods", ".ots"),
            "OpenDocument text, presentations and spreadsheets: headings, lists, tables, notes",
        ),
        "legal": Spec(
            "legal",
            "chunkwise.parsers.legal:LegalParser",
            (),
            "legal text (.txt via --format-hint legal or auto-detected): sections, clauses, "
            "definitions, citations",
        ),
    },
    "chunkers": {
        "token": Spec(
            "token",
            "chunkwise.chunkers.token:TokenChunker",
            description="fixed token windows with overlap",
        ),
        "recursive": Spec(
            "recursive",
            "chunkwise.chunkers.recursive:RecursiveChunker",
            description="separator hierarchy merged up to --max-tokens",
        ),
        "sentence": Spec(
            "sentence",
            "chunkwise.chunkers.sentence:SentenceChunker",
            description="sentences grouped up to --max-tokens",
        ),
        "s2": Spec(
            "s2",
            "chunkwise.chunkers.s2:S2Chunker",
            description="spectral clustering of layout elements (space + meaning), capped",
            options="chunkwise.chunkers.options:S2Options",
        ),
        "cast": Spec(
            "cast",
            "chunkwise.chunkers.cast:CastChunker",
            description="code: syntax-tree split-then-merge (cAST), lossless, --max-chars budget",
            options="chunkwise.chunkers.options:CastOptions",
        ),
        "vision": Spec(
            "vision",
            "chunkwise.chunkers.vision:VisionChunker",
            description="page images read in batches (layout model or OpenAI-compatible "
            "endpoint), tables merged across pages",
            options="chunkwise.chunkers.options:VisionOptions",
        ),
        "section": Spec(
            "section",
            "chunkwise.chunkers.section:SectionChunker",
            description="heading-aware: chunks stay inside sections, tables split by rows",
        ),
        "legal": Spec(
            "legal",
            "chunkwise.chunkers.legal:LegalChunker",
            description="legal sentences (citations kept whole) grouped up to --max-tokens, "
            "breaking at sections/clauses first",
        ),
        "auto": Spec(
            "auto",
            "chunkwise.chunkers.auto:AutoChunker",
            description="per document, the best-scoring chunker for its format (chunk eval "
            "metrics on a sample); fast path for plain text and code",
            options="chunkwise.chunkers.options:AutoOptions",
        ),
    },
    "writers": {
        "jsonl": Spec("jsonl", "chunkwise.writers.jsonl:JsonlWriter", description="JSON Lines"),
        "parquet": Spec(
            "parquet",
            "chunkwise.writers.parquet:ParquetWriter",
            description="Apache Parquet (atomic)",
        ),
        "lance": Spec(
            "lance",
            "chunkwise.writers.lance:LanceWriter",
            description="LanceDB table, kept in sync with --state (lance extra)",
        ),
    },
    "embedders": {
        "late": Spec(
            "late",
            "chunkwise.embedders.late:LateChunkingEmbedder",
            description="late chunking: whole document embedded in windows, pooled per chunk",
            options="chunkwise.embedders.options:EmbedConfig",
        ),
        "naive": Spec(
            "naive",
            "chunkwise.embedders.naive:NaiveEmbedder",
            description="each chunk's text embedded on its own (baseline)",
            options="chunkwise.embedders.options:EmbedConfig",
        ),
    },
}


def _load_target(target: str) -> Any:
    module, _, attr = target.partition(":")
    mod = importlib.import_module(module)
    return getattr(mod, attr)


@functools.lru_cache(maxsize=1)
def _entry_point_specs() -> dict[str, dict[str, tuple[Spec, Any]]]:
    from importlib.metadata import entry_points

    out: dict[str, dict[str, tuple[Spec, Any]]] = {k: {} for k in KINDS}
    # One scan of every installed distribution's metadata, not one per kind (each scan reads
    # every entry_points.txt: ~40 ms with 200 packages installed).
    found = entry_points()
    for kind in KINDS:
        for ep in found.select(group=f"chunkwise.{kind}"):
            if ep.name in BUILTINS[kind]:
                continue  # built-ins win; a plugin cannot silently replace them
            out[kind][ep.name] = (
                Spec(ep.name, ep.value, origin=ep.dist.name if ep.dist else "entry point"),
                ep,
            )
    return out


def specs(kind: str) -> dict[str, Spec]:
    if kind not in KINDS:
        raise ValueError(kind)
    merged = dict(BUILTINS[kind])
    for name, (spec, _) in _entry_point_specs()[kind].items():
        merged[name] = spec
    return merged


def names(kind: str) -> list[str]:
    return sorted(specs(kind))


def load(kind: str, name: str) -> Any:
    """The class registered as ``name`` for ``kind``."""
    if name in BUILTINS.get(kind, {}):
        target = BUILTINS[kind][name].target
        try:
            return _load_target(target)
        except ImportError as exc:
            raise UsageError(f"{kind[:-1]} {name!r} cannot be imported: {exc}") from exc
    eps = _entry_point_specs().get(kind, {})
    if name in eps:
        return eps[name][1].load()
    singular = kind[:-1]
    raise UsageError(f"unknown {singular} {name!r}; choose from: {', '.join(names(kind))}")


def _spec(kind: str, name: str) -> Spec | None:
    # Built-ins first: the entry-point scan (importlib.metadata, ~40 ms) only for other names.
    return BUILTINS.get(kind, {}).get(name) or specs(kind).get(name)


def has(kind: str, name: str) -> bool:
    return _spec(kind, name) is not None


def options_class(kind: str, name: str) -> type[Options]:
    """The options dataclass of plugin ``name``; for built-ins without importing the plugin."""
    from chunkwise.options import Options

    spec = _spec(kind, name)
    if spec is not None and spec.options:
        cls = _load_target(spec.options)
    elif spec is not None and spec.origin == "builtin" and spec.target.startswith("chunkwise."):
        # A built-in that names no options class has none (a test checks each plugin's own).
        cls = Options
    else:
        cls = getattr(load(kind, name), "options_class", Options)
    if not (isinstance(cls, type) and issubclass(cls, Options)):
        raise UsageError(f"{kind[:-1]} {name!r} declares options that are not an Options class")
    return cls


@functools.lru_cache(maxsize=4)
def extension_map(plugins: bool = True) -> dict[str, str]:
    """File extension (lower case, with dot) -> parser name; ``plugins=False``: the built-ins
    only, without the scan of installed packages for entry points."""
    out: dict[str, str] = {}
    for kind_specs in (BUILTINS["parsers"],):
        for name, spec in kind_specs.items():
            for ext in spec.extensions:
                out.setdefault(ext, name)
    if not plugins:
        return out
    for name, (_, ep) in _entry_point_specs()["parsers"].items():
        try:
            cls = ep.load()
        except Exception:  # a broken plugin must not break the built-ins
            continue
        for ext in getattr(cls, "extensions", ()):
            out.setdefault(ext.lower(), name)
    return out


def _parser_for_extension(ext: str) -> str | None:
    # Built-ins win, so plugins are looked up (a scan of installed packages, ~40 ms) only for
    # an extension no built-in parser claims.
    return extension_map(plugins=False).get(ext) or extension_map().get(ext)


def _suffixes(path: str) -> list[str]:
    name = os.path.basename(path).lower()
    dot = name.find(".")
    if dot < 0:
        return []
    if name.find(".", dot + 1) < 0:  # one suffix: most names, asked once or twice per file
        return [name[dot:]]
    parts = name.split(".")
    # Longest compound suffix first: ".html.gz" before ".gz".
    return ["." + ".".join(parts[i:]) for i in range(1, len(parts))]


def parser_for(path: str, hint: str | None = None) -> str | None:
    """Parser name for ``path``; ``hint`` (a parser name or an extension) wins."""
    if hint:
        if has("parsers", hint):
            return hint
        ext = hint.lower() if hint.startswith(".") else "." + hint.lower()
        name = _parser_for_extension(ext)
        if name is not None:
            return name
        raise UsageError(
            f"unknown --format-hint {hint!r}; use a parser name ({', '.join(names('parsers'))}) "
            "or a file extension"
        )
    for suffix in _suffixes(path):
        name = _parser_for_extension(suffix)
        if name is not None:
            return name
    return None


def parser_for_bytes(data: bytes, hint: str | None = None) -> str:
    """Parser name for anonymous bytes (stdin): the hint, else a sniff of the first bytes."""
    if hint:
        name = parser_for("", hint)
        assert name is not None
        return name
    head = data[:1024].lstrip().lower()
    if head.startswith(b"%pdf-") and has("parsers", "pdf"):
        return "pdf"
    looks_html = head.startswith((b"<!doctype html", b"<html", b"<?xml"))
    if looks_html and b"<html" in data[:4096].lower() and has("parsers", "html"):
        return "html"
    if data[:2] == b"\x1f\x8b" and has("parsers", "html"):
        return "html"
    if has("parsers", "image"):
        from chunkwise.parsers.image import image_type

        if image_type(data):
            return "image"
    return "text"
