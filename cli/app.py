"""The ``chunk`` command: argument parsing and terminal output only.

Heavy modules (pyarrow, parsers, chunkers, torch) are imported inside the commands, never at
start-up, so ``chunk --help`` stays instant. Plain click (not Typer: its pydantic-based argument
coercion cost ~0.1 s per run); help panels come from chunkwise.cli.panels.
"""

from __future__ import annotations

import io
import json
import logging
import os
import sys
from collections.abc import Sequence
from enum import Enum
from pathlib import Path
from typing import Any

import click
from chunkwise.cli.panels import Command, Group, argument, option
from click.core import ParameterSource
from click.exceptions import Exit

from chunkwise import __version__
from chunkwise.command import EarlySignals, ErrorSink, IngestCommand, silence_stdout
from chunkwise.errors import (
    EXIT_ABORTED,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_USAGE,
    ChunkwiseError,
    UsageError,
)

# Every option shows its default in --help, as the CLI always did.
_SETTINGS = {"show_default": True}

log = logging.getLogger("chunkwise")


class OutputFormat(str, Enum):
    jsonl = "jsonl"
    parquet = "parquet"
    lance = "lance"


def _opt(panel: str | None = None) -> Any:
    return option(
        "--opt",
        multiple=True,
        metavar="NAME.KEY=VALUE",
        panel=panel,
        help="Set any parser, chunker or embedder option, e.g. pdf.tables=false or "
        "s2.semantic=model (repeatable; 'chunk plugins NAME' lists them; 'embed' is the "
        "embedder).",
    )


# Files (and stdin) over this many bytes are not read but an error record (ingest, parse).
DEFAULT_MAX_FILE_SIZE = 200 * 1024 * 1024


def _max_file_size(panel: str | None = None) -> Any:
    return option(
        "--max-file-size",
        type=click.IntRange(min=1),
        default=DEFAULT_MAX_FILE_SIZE,
        panel=panel,
        help="Files (and stdin) larger than this many bytes: error records.",
    )


def _version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        click.echo(f"chunkwise {__version__}")
        raise Exit()


@click.group(name="chunk", cls=Group, no_args_is_help=True, context_settings=_SETTINGS)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_version,
    help="Print the version.",
)
def app() -> None:
    """Turn folders of documents into retrieval-ready chunks (JSONL or Parquet)."""


def _setup_logging(quiet: bool, verbose: bool) -> None:
    level = logging.ERROR if quiet else logging.DEBUG if verbose else logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("chunk: %(levelname)s: %(message)s"))
    root = logging.getLogger("chunkwise")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


# ``chunk ingest --help`` groups its options in these panels, in this order (issue 18).
INPUT, OUTPUT, CHUNKING, FORMATS, EMBEDDING, ENGINE = (
    "Input",
    "Output and state",
    "Chunking",
    "Per format and chunker",
    "Embedding",
    "Engine",
)
_INGEST_PANELS = (INPUT, OUTPUT, CHUNKING, FORMATS, EMBEDDING, ENGINE)


@app.command(cls=Command, panels=_INGEST_PANELS, context_settings=_SETTINGS)
@argument(
    "paths",
    nargs=-1,
    required=True,
    callback=lambda ctx, param, value: list(value),
    help="Files, folders (walked recursively), or '-' for stdin.",
)
@option(
    "--chunker", "-c", default="auto", panel=CHUNKING, help="Chunker name, or auto (per format)."
)
@option(
    "--max-tokens",
    type=click.IntRange(min=1),
    panel=CHUNKING,
    help="Hard cap on chunk size, in tokens (default 512).",
)
@option(
    "--max-chars",
    type=click.IntRange(min=1),
    panel=FORMATS,
    help="cast: chunk budget in non-whitespace characters (default 1500 unless --max-tokens is "
    "given).",
)
@option(
    "--language",
    panel=FORMATS,
    help="Source language for code without a known extension (e.g. rust, py).",
)
@option(
    "--overlap",
    type=click.IntRange(min=0),
    default=0,
    panel=CHUNKING,
    help="Tokens shared by neighbouring chunks.",
)
@option(
    "--min-tokens",
    type=click.IntRange(min=0),
    default=0,
    panel=CHUNKING,
    help="Sections smaller than this merge with a neighbour.",
)
@option(
    "--tokenizer",
    panel=CHUNKING,
    help="cl100k_base (default), o200k_base, chars, all-MiniLM-L6-v2, or a local tokenizer.json "
    "/ model folder.",
)
@option(
    "--format",
    "-f",
    "output_format",
    type=click.Choice([f.value for f in OutputFormat]),
    callback=lambda ctx, param, value: OutputFormat(value) if value else None,
    panel=OUTPUT,
    help="Output format (default: from -o's extension, jsonl).",
)
@option("--output", "-o", panel=OUTPUT, help="Output file (default: stdout for jsonl).")
@option(
    "--errors",
    type=click.Path(path_type=Path),
    panel=OUTPUT,
    help="Also write error records (JSONL) here.",
)
@option(
    "--jobs",
    "-j",
    type=click.IntRange(min=0),
    panel=ENGINE,
    help="Worker processes (default: number of cores; 0 = in this process, no --timeout).",
)
@option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=120.0,
    panel=ENGINE,
    help="Seconds per document before it is stopped and reported (0 = no limit).",
)
@option(
    "--state",
    type=click.Path(path_type=Path),
    panel=OUTPUT,
    help="SQLite state file: skip files unchanged since the last run (cron).",
)
@option(
    "--emit-deletes",
    is_flag=True,
    panel=OUTPUT,
    help="With --state: write {deleted: true, doc_id, source} records for files gone or "
    "re-chunked since the last run.",
)
@option(
    "--wait-lock",
    type=float,
    default=0.0,
    panel=OUTPUT,
    help="Seconds to wait if another run holds the --state file (default 0).",
)
@option(
    "--follow-symlinks/--no-follow-symlinks",
    default=False,
    panel=INPUT,
    help="Follow symlinks (files and folders) that lead out of the input folder.",
)
@option("--glob", multiple=True, panel=INPUT, help="Only files matching this pattern (repeatable).")
@option(
    "--exclude",
    multiple=True,
    panel=INPUT,
    help=".gitignore-style pattern to skip (repeatable).",
)
@option("--gitignore/--no-gitignore", default=True, panel=INPUT, help="Honour .gitignore files.")
@option(
    "--default-excludes/--no-default-excludes",
    default=True,
    panel=INPUT,
    help="Skip .git, node_modules, __pycache__, .venv, dist, build.",
)
@option(
    "--format-hint",
    panel=INPUT,
    help="Parser name or extension for stdin or unknown files (e.g. markdown).",
)
@option(
    "--keep-furniture/--no-keep-furniture",
    default=False,
    panel=FORMATS,
    help="Keep page headers/footers in chunks.",
)
@option("--pages", panel=FORMATS, help="PDF: only these pages, e.g. 3-7 or 1,4,9- (1-based).")
@option(
    "--spatial-weight",
    type=float,
    panel=FORMATS,
    help="S2: weight of layout vs meaning in the element graph, 0-1 (0.5).",
)
@option(
    "--s2-semantic",
    type=click.Choice(["lexical", "model", "auto"]),
    panel=FORMATS,
    help="S2 similarity: lexical (TF-IDF, default), model (embed extra), auto (model when "
    "installed).",
)
@option(
    "--html-mode",
    type=click.Choice(["article", "full"]),
    default="article",
    panel=FORMATS,
    help="HTML: article (main content only) or full (every visible block).",
)
@option(
    "--auto-vectors",
    type=click.Choice(["lexical", "model", "auto"]),
    default="lexical",
    panel=FORMATS,
    help="Auto chunker similarity: lexical (fast, default), model, auto.",
)
@option(
    "--pages-per-batch",
    type=int,
    default=4,
    panel=FORMATS,
    help="Vision chunker: pages the page reader sees together.",
)
@option(
    "--vision-backend",
    type=click.Choice(["layout", "openai"]),
    default="layout",
    panel=FORMATS,
    help="Vision chunker page reader: layout (offline model) or openai.",
)
@option(
    "--vision-endpoint",
    panel=FORMATS,
    help="Vision openai: chat-completions URL (key: CHUNK_VISION_API_KEY).",
)
@option("--vision-model", panel=FORMATS, help="Vision openai: model name sent to the endpoint.")
@_max_file_size(INPUT)
@option(
    "--max-memory",
    panel=ENGINE,
    help="Memory a worker may allocate for one document (e.g. 2G); over it the document is an "
    "error record.",
)
@option("--strict", is_flag=True, panel=INPUT, help="Empty files are failures, not skipped-empty.")
@option(
    "--embed/--no-embed", default=False, panel=EMBEDDING, help="Add embedding + embedding_model."
)
@option(
    "--embed-model",
    panel=EMBEDDING,
    help="Local model folder or installed model (default all-MiniLM-L6-v2).",
)
@option(
    "--late/--naive",
    default=True,
    panel=EMBEDDING,
    help="Late chunking (default) or per-chunk text.",
)
@option(
    "--embed-context/--no-embed-context",
    default=False,
    panel=EMBEDDING,
    help="--naive: prefix each chunk with its heading path / context.",
)
@option(
    "--late-window",
    type=int,
    panel=EMBEDDING,
    help="Late: tokens per window (default: model max length).",
)
@option(
    "--late-overlap",
    type=int,
    panel=EMBEDDING,
    help="Late: tokens shared by windows (default: window/4).",
)
@option("--device", default="auto", panel=EMBEDDING, help="auto (CUDA when present), cpu or cuda.")
@option(
    "--batch-size",
    type=int,
    default=32,
    panel=EMBEDDING,
    help="Windows or chunks per forward pass.",
)
@option(
    "--engine",
    type=click.Choice(["local", "ray"]),
    default="local",
    panel=ENGINE,
    help="local (this machine, default) or ray (Ray Data; the ray extra).",
)
@option(
    "--ray-address",
    panel=ENGINE,
    help="Ray: attach to a cluster (auto, host:port or ray://host:port).",
)
@option(
    "--embed-actors",
    type=int,
    panel=ENGINE,
    help="Ray: embedding actors (default: one per GPU slot, else one).",
)
@option(
    "--gpus-per-actor",
    type=float,
    default=1.0,
    panel=ENGINE,
    help="Ray: GPUs per embedding actor when the cluster has GPUs.",
)
@_opt(CHUNKING)
@option("--quiet", "-q", is_flag=True, help="No logs or progress.")
@option("--verbose", "-v", is_flag=True, help="Debug logs.")
def ingest(
    paths: list[str],
    chunker: str,
    max_tokens: int | None,
    max_chars: int | None,
    language: str | None,
    overlap: int,
    min_tokens: int,
    tokenizer: str | None,
    output_format: OutputFormat | None,
    output: str | None,
    errors: Path | None,
    jobs: int | None,
    timeout: float,
    state: Path | None,
    emit_deletes: bool,
    wait_lock: float,
    follow_symlinks: bool,
    glob: tuple[str, ...],
    exclude: tuple[str, ...],
    gitignore: bool,
    default_excludes: bool,
    format_hint: str | None,
    keep_furniture: bool,
    pages: str | None,
    spatial_weight: float | None,
    s2_semantic: str | None,
    html_mode: str,
    auto_vectors: str,
    pages_per_batch: int,
    vision_backend: str,
    vision_endpoint: str | None,
    vision_model: str | None,
    max_file_size: int,
    max_memory: str | None,
    strict: bool,
    embed: bool,
    embed_model: str | None,
    late: bool,
    embed_context: bool,
    late_window: int | None,
    late_overlap: int | None,
    device: str,
    batch_size: int,
    engine: str,
    ray_address: str | None,
    embed_actors: int | None,
    gpus_per_actor: float,
    opt: tuple[str, ...],
    quiet: bool,
    verbose: bool,
) -> None:
    """Parse, chunk and write every document under PATHS."""
    _setup_logging(quiet, verbose)
    from chunkwise.pipeline import check_paths
    from chunkwise.plan import IngestArgs, build_plan, embedder_and_sizing

    # A signal from here on removes the output's temporary file (EarlySignals).
    early = EarlySignals()
    with early:
        try:
            check_paths(paths)
            output_format = output_format or _format_for(output)
            memory_cap = _memory_option(max_memory, jobs)
            from chunkwise import registry

            args = IngestArgs(
                chunker=chunker, max_tokens=max_tokens, overlap=overlap, min_tokens=min_tokens,
                tokenizer=tokenizer, keep_furniture=keep_furniture, format_hint=format_hint,
                max_chars=max_chars, language=language, pages=pages, html_mode=html_mode,
                spatial_weight=spatial_weight, s2_semantic=s2_semantic, auto_vectors=auto_vectors,
                pages_per_batch=pages_per_batch, vision_backend=vision_backend,
                vision_endpoint=vision_endpoint, vision_model=vision_model, opt=opt or (),
                glob=glob or (), exclude=exclude or (), gitignore=gitignore,
                default_excludes=default_excludes, follow_symlinks=follow_symlinks,
                max_file_size=max_file_size, max_memory=memory_cap, strict=strict, jobs=jobs,
                timeout=timeout, embed=embed, late=late, embed_model=embed_model, device=device,
                batch_size=batch_size, late_window=late_window, late_overlap=late_overlap,
                embed_context=embed_context,
            )  # fmt: skip
            args = _only_given(args)
            embedder, plan = embedder_and_sizing(build_plan(args), tokenizer)
            options = plan.options
            run_engine = None
            if engine == "ray":
                from chunkwise.ray_engine import ray_setup

                run_engine, writer = ray_setup(
                    output, output_format.value, ray_address, embed_actors, gpus_per_actor,
                    (plan.embed_method, plan.embed_config) if embed else None,
                    incremental=state is not None, progress=not quiet and sys.stderr.isatty(),
                    quiet=quiet,
                )  # fmt: skip
            else:
                writer = registry.load("writers", output_format.value)(output)
        except ChunkwiseError as exc:
            _usage_error(exc)
        code = IngestCommand(
            paths, options, writer, errors=errors, quiet=quiet, embedder=embedder, output=output,
            state_path=state, emit_deletes=emit_deletes, wait_lock=wait_lock, engine=run_engine,
        ).run()  # fmt: skip
    raise Exit(code if early.code is None else early.code)


def _given(name: str) -> bool:
    """Whether the user gave the flag of parameter ``name`` (not its default)."""
    source = click.get_current_context().get_parameter_source(name)
    return source is not None and source is not ParameterSource.DEFAULT


def _only_given(args: Any) -> Any:
    """Plugin flags left at their default become None ("not given"): the plugin's own default
    (the same value; a test checks it) applies, and no plugin's options are looked up for them."""
    import dataclasses

    from chunkwise.plan import PLUGIN_FLAGS

    return dataclasses.replace(args, **{k: None for k in PLUGIN_FLAGS if not _given(k)})


def _format_for(output: str | None) -> OutputFormat:
    """-f absent: the output file's extension decides (``x.parquet`` is Parquet), else JSONL."""
    if output and Path(output).suffix.lower() == ".parquet":
        return OutputFormat.parquet
    return OutputFormat.jsonl


def _memory_option(value: str | None, jobs: int | None) -> int | None:
    if value is None:
        return None
    from chunkwise.report import parse_size

    try:
        size = parse_size(value)
    except ValueError:
        raise UsageError(f"--max-memory: {value!r} is not a size like 2G or 512M") from None
    if jobs == 0:
        raise UsageError("--max-memory needs worker processes; it cannot be used with --jobs 0")
    return size


def _usage_error(exc: BaseException) -> None:
    sys.stderr.write(f"chunk: error: {exc}\n")
    raise Exit(EXIT_USAGE)


def _parse_one(
    file: str,
    format_hint: str | None,
    flags: dict[str, Any],
    opts: Sequence[str] = (),
    max_file_size: int = DEFAULT_MAX_FILE_SIZE,
) -> Any:
    """Parse one file (or '-') for a subcommand; a bad document is one error line and exit 3."""
    from chunkwise.errors import DocumentError, ErrorRecord
    from chunkwise.pipeline import IngestOptions, Processor, Source, check_paths, read_stdin

    try:
        check_paths([file])
        # The same bound as ingest's: stdin is read up to the limit, a larger file not at all.
        src = (
            read_stdin(sys.stdin.buffer, max_file_size)
            if file == "-"
            else Source(file, path=Path(file), explicit=True)
        )
        # format_hint also reaches the code parser: an extension names the language.
        from chunkwise.plan import option_values

        values = option_values({**flags, "opt": opts, "format_hint": format_hint})
        proc = Processor(
            IngestOptions(
                format_hint=format_hint,
                parser_options=values.build("parsers"),
                max_file_size=max_file_size,
            )
        )
        proc.check_readable(src, os.stat(src.path) if src.path is not None else None)
        parser = proc.parser(proc.parser_name(src))
        return parser.parse(src.data if src.data is not None else src.path, source=src.name)
    except DocumentError as exc:
        # Named as ingest names it, so that both give the same record for the same input.
        rec = ErrorRecord.from_exception("<stdin>" if file == "-" else file, exc)
        sys.stderr.write(json.dumps(rec.to_dict(), ensure_ascii=False) + "\n")
        raise Exit(EXIT_ABORTED) from None
    except ChunkwiseError as exc:
        _usage_error(exc)
        raise  # _usage_error exits; this keeps type checkers honest


@app.command(cls=Command, context_settings=_SETTINGS)
@argument("file", help="A document, or '-' for stdin.")
@option("--format-hint", help="Parser name or extension.")
@option("--text/--no-text", default=True, help="Include the full text.")
@option(
    "--html-mode",
    type=click.Choice(["article", "full"]),
    default="article",
    help="HTML: article (main content only) or full (every visible block).",
)
@option("--pages", help="PDF: only these pages, e.g. 3-7 or 1,4,9- (1-based).")
@_opt()
@_max_file_size()
def parse(
    file: str,
    format_hint: str | None,
    text: bool,
    html_mode: str,
    pages: str | None,
    opt: tuple[str, ...],
    max_file_size: int,
) -> None:
    """Print the parsed Document (elements with offsets, pages, boxes) as JSON."""
    _setup_logging(False, False)
    flags = {"html_mode": html_mode, "pages": pages}
    given = {k: v for k, v in flags.items() if _given(k)}
    doc = _parse_one(file, format_hint, given, opt, max_file_size)
    try:
        sys.stdout.write(
            json.dumps(doc.to_dict(with_text=text), ensure_ascii=False, indent=2) + "\n"
        )
        sys.stdout.flush()
    except BrokenPipeError:
        silence_stdout()


@app.command(cls=Command, context_settings=_SETTINGS)
@argument("file", help="A document, or '-' for stdin.")
@option("--format-hint", help="Parser name or extension (default: by extension).")
@_max_file_size()
def sentences(file: str, format_hint: str | None, max_file_size: int) -> None:
    """Print the legal sentence spans of FILE as JSONL: start, end, text."""
    _setup_logging(False, False)
    from chunkwise.chunkers.legal import sentence_records

    doc = _parse_one(file, format_hint, {}, max_file_size=max_file_size)
    try:
        for rec in sentence_records(doc):
            sys.stdout.write(json.dumps(rec, ensure_ascii=False) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        silence_stdout()


@app.command(cls=Command, context_settings=_SETTINGS)
@option(
    "--embed-model",
    help="Local model folder or installed model (default all-MiniLM-L6-v2).",
)
@option("--device", default="auto", help="auto (CUDA when present), cpu or cuda.")
@option("--batch-size", type=int, default=32, help="Texts per forward pass.")
@option(
    "--input-format",
    default="auto",
    help="auto (JSONL if the first line is a JSON object), text or jsonl.",
)
@option("--quiet", "-q", is_flag=True, help="No logs.")
def embed(
    embed_model: str | None, device: str, batch_size: int, input_format: str, quiet: bool
) -> None:
    """Embed lines of text (or JSONL with a 'text' field) from stdin, like the chunks were."""
    _setup_logging(quiet, False)
    from chunkwise.embedders import EmbedConfig
    from chunkwise.embedders.backend import SentenceTransformerBackend
    from chunkwise.embedders.queries import embed_stream

    try:
        cfg = EmbedConfig(embed_model, device, batch_size)
        backend = SentenceTransformerBackend(cfg.model, cfg.device, cfg.batch_size)
        backend.load()
        lines = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace")
        summary = embed_stream(
            backend, lines, sys.stdout, fmt=input_format, on_error=ErrorSink(None, quiet)
        )
    except BrokenPipeError:
        silence_stdout()
        raise Exit(EXIT_OK) from None
    except ChunkwiseError as exc:
        _usage_error(exc)
    if summary.truncated:
        log.warning(
            "%d texts were longer than %d tokens and were cut off by the model",
            summary.truncated,
            backend.max_content_tokens,
        )
    if summary.embedded == 0:
        log.warning("no text on stdin to embed")
    raise Exit(summary.exit_code)


@app.command(cls=Command, context_settings=_SETTINGS)
@argument("index", help="A LanceDB folder (-f lance) or a Parquet file.")
@argument("query", help="The question, or '-' for one query per line.")
@option("-k", "--k", type=int, default=5, help="Chunks to return per query.")
@option("--hybrid", is_flag=True, help="Fuse vector and full-text ranks (RRF).")
@option("--where", help="SQL filter, e.g. \"source LIKE 'contracts/%'\".")
@option("--quiet", "-q", is_flag=True, help="No logs.")
def search(index: str, query: str, k: int, hybrid: bool, where: str | None, quiet: bool) -> None:
    """Top-k chunks for QUERY as JSONL (score, source, pages, bboxes, headings, start/end)."""
    _setup_logging(quiet, False)
    from chunkwise.search import run

    try:
        stdin = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8") if query == "-" else None
        run(index, query, sys.stdout, k=k, hybrid=hybrid, where=where, stdin=stdin)
    except BrokenPipeError:
        silence_stdout()
        raise Exit(EXIT_OK) from None
    except ChunkwiseError as exc:
        _usage_error(exc)


@app.command("eval", cls=Command, context_settings=_SETTINGS)
@argument(
    "paths",
    nargs=-1,
    required=False,
    help="Documents or folders to chunk and score (omit with --chunks).",
)
@option(
    "--chunker",
    "-c",
    help="Comma-separated chunkers compared side by side, e.g. auto,s2 (default: auto and every "
    "chunker it chose between).",
)
@option(
    "--chunks",
    type=click.Path(path_type=Path),
    multiple=True,
    help="Score a JSONL/Parquet output of ingest (repeatable).",
)
@option(
    "--questions",
    type=click.Path(path_type=Path),
    help="CSV or JSONL of question, references, corpus_id: retrieval recall/precision/IoU "
    "(docs/retrieval.md).",
)
@option("--k", type=int, default=5, help="Chunks retrieved per question.")
@option("--min-size", type=int, default=100, help="Size compliance: fewest tokens.")
@option("--max-size", type=int, default=1100, help="Size compliance: most tokens.")
@option("--max-tokens", help="Chunk cap(s), comma-separated with --questions.")
@option("--overlap", help="Overlap(s), comma-separated with --questions.")
@option("--embedding", default="late", help="--questions: late, naive or late,naive chunk vectors.")
@option("--naive", is_flag=True, help="Same as --embedding naive.")
@option(
    "--tokenizer",
    help="Tokenizer for chunk sizes (cl100k_base; the model's with --questions).",
)
@option(
    "--vectors",
    type=click.Choice(["auto", "lexical", "model"]),
    default="auto",
    help="Similarity: model (embed extra), lexical (TF-IDF), auto.",
)
@option("--embed-model", help="Local model folder or installed model (all-MiniLM-L6-v2).")
@option("--device", default="auto", help="auto, cpu or cuda.")
@option("--batch-size", type=int, default=32, help="Windows or chunks per forward pass.")
@option("--format-hint", help="Parser name or extension for unknown files.")
@option("--per-doc", is_flag=True, help="Also show one row per document.")
@option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@option("--quiet", "-q", is_flag=True, help="No logs or error records.")
def eval_(
    paths: tuple[str, ...],
    chunker: str | None,
    chunks: tuple[Path, ...],
    questions: Path | None,
    k: int,
    min_size: int,
    max_size: int,
    max_tokens: str | None,
    overlap: str | None,
    embedding: str,
    naive: bool,
    tokenizer: str | None,
    vectors: str,
    embed_model: str | None,
    device: str,
    batch_size: int,
    format_hint: str | None,
    per_doc: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Score chunkings: size, cohesion, separation, block integrity, references, boundaries;
    with --questions, retrieval recall/precision/IoU (Chroma's protocol)."""
    _setup_logging(quiet, False)
    from chunkwise import evaluate as ev
    from chunkwise.chunking import ChunkerConfig
    from chunkwise.pipeline import IngestOptions, check_paths
    from chunkwise.quality import SizeRange
    from chunkwise.tokenizers import DEFAULT_TOKENIZER

    sink = ErrorSink(None, quiet)
    failed = 0

    def on_error(rec: Any) -> None:
        nonlocal failed
        failed += 1
        sink(rec)

    try:
        if not paths and not chunks:
            raise UsageError("give documents to chunk, or --chunks FILE with ingest output")
        if min_size < 0 or max_size < max(1, min_size):
            raise UsageError("--min-size must be >= 0 and --max-size at least --min-size")
        if k < 1:
            raise UsageError("--k must be at least 1")
        caps = _int_list(max_tokens, "--max-tokens")
        overlaps = _int_list(overlap, "--overlap")
        if questions is None and (len(caps) > 1 or len(overlaps) > 1):
            raise UsageError("several --max-tokens / --overlap values need --questions")
        names = [n.strip() for n in (chunker or "").split(",") if n.strip()]
        if chunker is not None and not names:
            raise UsageError("--chunker needs at least one name")
        # Read and check the questions first: a bad line stops everything before any work.
        qs = ev.retrieval.read_questions(questions) if questions is not None else None
        options = IngestOptions(
            chunker_config=ChunkerConfig(
                max_tokens=caps[0] if caps and caps[0] is not None else ChunkerConfig.max_tokens,
                overlap=overlaps[0] if overlaps and overlaps[0] is not None else 0,
                tokenizer=tokenizer or DEFAULT_TOKENIZER,
            ),
            format_hint=format_hint,
        )
        docs: list[Any] = []
        if paths:
            check_paths(paths)
            docs = ev.parse_documents(paths, options, on_error)
            names = list(dict.fromkeys(names)) or ev.auto_candidates(docs, options)
        file_runs: list[Any] = []
        for path in chunks or []:
            records = ev.read_records(path)
            name = ev.run_name(records, path)
            if name in names or any(r.name == name for r in file_runs):
                name = f"{name} ({path.name})"
            file_runs.append(ev.run_from_records(records, name))
        if qs is not None:
            report = _eval_retrieval(
                ev, qs, questions, docs, file_runs, names, caps, overlaps,
                ["naive"] if naive else [e.strip() for e in embedding.split(",") if e.strip()],
                options, k, tokenizer, embed_model, device, batch_size, on_error,
            )  # fmt: skip
        else:
            settings = ev.EvalSettings(
                size=SizeRange(min_size, max_size),
                vectors=vectors,
                embed_model=embed_model,
                device=device,
                k=k,
                max_tokens=options.chunker_config.max_tokens,
                tokenizer=tokenizer or DEFAULT_TOKENIZER,
            )
            runs = ev.run_chunkers(docs, names, options, on_error) if docs else []
            runs.extend(file_runs)
            if not any(r.docs for r in runs):
                sys.stderr.write("chunk: error: no document could be chunked and scored\n")
                raise Exit(EXIT_ABORTED)
            report = ev.evaluate(runs, settings)
    except ChunkwiseError as exc:
        _usage_error(exc)
    try:
        if as_json:
            sys.stdout.write(json.dumps(report, ensure_ascii=False, indent=2) + "\n")
        elif qs is not None:
            _print_retrieval(report, per_doc)
        else:
            _print_eval(report, per_doc)
        sys.stdout.flush()
    except BrokenPipeError:
        silence_stdout()
        raise Exit(EXIT_OK) from None
    raise Exit(EXIT_PARTIAL if failed else EXIT_OK)


def _int_list(value: str | None, flag: str) -> list[int | None]:
    if value is None:
        return [None]
    try:
        out: list[int | None] = [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise UsageError(f"{flag} takes integers separated by commas, not {value!r}") from None
    return out or [None]


def _eval_retrieval(
    ev: Any, qs: Any, qpath: Any, docs: list[Any], file_runs: list[Any], names: list[str],
    caps: list[int | None], overlaps: list[int | None], embeddings: list[str], options: Any,
    k: int, tokenizer: str | None, embed_model: str | None, device: str, batch_size: int,
    on_error: Any,
) -> dict[str, Any]:  # fmt: skip
    from chunkwise.embedders import EmbedConfig

    for run in file_runs:  # documents only known from --chunks files join the collection
        known = {d.doc_id for d in docs}
        docs.extend(d for d, _ in run.docs if d.doc_id not in known)
    if not docs:
        sys.stderr.write("chunk: error: no document could be chunked and scored\n")
        raise Exit(EXIT_ABORTED)
    qdocs = ev.retrieval.match_documents(qs, docs, qpath)
    configs = ev.configurations(names, caps, overlaps, embeddings) if names else []
    runner = ev.RetrievalRunner(
        options,
        EmbedConfig(embed_model, device, batch_size),
        k=k,
        tokenizer=tokenizer,
        on_error=on_error,
    )
    return dict(runner.evaluate(docs, qs, qdocs, configs, file_runs))


def _print_retrieval(report: dict[str, Any], per_doc: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(soft_wrap=False, width=None if sys.stdout.isatty() else 200)
    st = report["settings"]
    rows = report["configurations"]
    table = Table(
        title=f"retrieval: {st['questions']} questions, top {st['k']}, {st['embed_model']}"
    )
    table.add_column("configuration")
    for col in ("chunks", "tokens", "recall", "precision", "IoU", "seconds"):
        table.add_column(col, justify="right")
    best = {key: max((r[key] for r in rows), default=0.0) for key in ("recall", "iou")}
    for r in rows:
        cells = [r["name"], str(r["chunks"]), f"{r['mean_tokens']:.0f}"]
        for key in ("recall", "precision", "iou"):
            cell = f"{r[key]:.1f}"
            cells.append(
                f"[bold]{cell}[/bold]" if best.get(key) == r[key] and len(rows) > 1 else cell
            )
        cells.append(f"{r['seconds']:.1f}")
        table.add_row(*cells)
    console.print(table)
    if per_doc:
        docs = Table(title="per document")
        for col in ("document", "configuration", "questions", "recall", "precision", "IoU"):
            docs.add_column(
                col, justify="left" if col in ("document", "configuration") else "right"
            )
        for r in rows:
            for src, v in r.get("by_document", {}).items():
                docs.add_row(
                    Path(src).name, r["name"], str(v["questions"]),
                    f"{v['recall']:.1f}", f"{v['precision']:.1f}", f"{v['iou']:.1f}",
                )  # fmt: skip
        console.print(docs)


_EVAL_COLUMNS = (
    ("size_compliance", "size"),
    ("cohesion", "cohes."),
    ("separation", "separ."),
    ("block_integrity", "blocks"),
    ("reference_completeness", "refs"),
    ("boundary_clarity", "bound."),
    ("combined", "score"),
    ("stickiness", "sticky↓"),
)


def _print_eval(report: dict[str, Any], per_doc: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    # Piped output is read by people too (or diffed): do not cut columns to 80 characters.
    console = Console(soft_wrap=False, width=None if sys.stdout.isatty() else 200)
    runs = report["runs"]
    retrieval_keys = sorted(
        {key for e in runs.values() for key in e["summary"] if "@" in key},
        key=lambda s: ("recall", "precision", "iou").index(s.split("@")[0]),
    )
    table = Table(title=f"chunk quality ({report['vectors']} similarity)")
    table.add_column("chunker")
    for col in ("docs", "chunks", "tokens"):
        table.add_column(col, justify="right")
    for _, label in _EVAL_COLUMNS:
        table.add_column(label, justify="right")
    for key in retrieval_keys:
        table.add_column(key, justify="right")
    best = max((e["summary"].get("combined", 0.0) for e in runs.values()), default=0.0)
    for name, entry in runs.items():
        s = entry["summary"]
        cells = [name, str(s["documents"]), str(s["chunks"]), f"{s.get('mean_tokens', 0):.0f}"]
        for key, _ in _EVAL_COLUMNS:
            v = s.get(key)
            cell = "" if v is None else f"{v:.3f}"
            if key == "combined" and v is not None and v >= best and len(runs) > 1:
                cell = f"[bold]{cell}[/bold]"
            cells.append(cell)
        cells.extend(f"{s[key]:.3f}" if key in s else "" for key in retrieval_keys)
        table.add_row(*cells)
    console.print(table)
    for name, entry in runs.items():
        if entry["summary"].get("chosen"):
            picks = ", ".join(f"{c} {n}" for c, n in entry["summary"]["chosen"].items())
            console.print(f"{name} chose: {picks}")
    cmp = report.get("comparison", {})
    if "auto_at_least_best" in cmp:
        a = cmp["auto_at_least_best"]
        console.print(
            f"auto at least as good as the best other chunker on {a['count']}/{a['documents']} "
            "documents"
        )
    if per_doc:
        docs = Table(title="per document")
        docs.add_column("document")
        docs.add_column("chunker")
        docs.add_column("chunks", justify="right")
        for _, label in _EVAL_COLUMNS:
            docs.add_column(label, justify="right")
        from chunkwise.evaluate import iter_flat_rows

        for row in sorted(iter_flat_rows(report), key=lambda r: (r["source"], r["run"])):
            label = row["run"] + (f" → {row['chosen']}" if row.get("chosen") else "")
            cells = [Path(row["source"]).name, label, str(row["chunks"])]
            cells.extend(f"{row[key]:.3f}" if key in row else "" for key, _ in _EVAL_COLUMNS)
            docs.add_row(*cells)
        console.print(docs)


@app.command(cls=Command, context_settings=_SETTINGS)
@argument("name", required=False, help="A plugin: print its options (kind.name if ambiguous).")
@option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def plugins(name: str | None, as_json: bool) -> None:
    """List registered parsers, chunkers, writers, embedders and tokenizers, or one plugin's
    options (set them with --opt NAME.KEY=VALUE)."""
    from chunkwise import registry
    from chunkwise.tokenizers import available_tokenizers

    if name is not None:
        try:
            _print_plugin(name, as_json)
        except ChunkwiseError as exc:
            _usage_error(exc)
        return

    data: dict[str, Any] = {}
    for kind in registry.KINDS:
        data[kind] = [
            {
                "name": s.name,
                "target": s.target,
                "extensions": list(s.extensions),
                "description": s.description,
                "origin": s.origin,
            }
            for s in registry.specs(kind).values()
        ]
    data["tokenizers"] = available_tokenizers()
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    for kind in registry.KINDS:
        click.echo(f"{kind}:")
        if not data[kind]:
            click.echo("  (none)")
        for s in data[kind]:
            ext = f"  [{' '.join(s['extensions'])}]" if s["extensions"] else ""
            origin = "" if s["origin"] == "builtin" else f"  (from {s['origin']})"
            click.echo(f"  {s['name']:<12} {s['description']}{ext}{origin}")
    click.echo("tokenizers:")
    for t in data["tokenizers"]:
        click.echo(f"  {t}")


def _print_plugin(name: str, as_json: bool) -> None:
    from chunkwise import registry

    kind_part, dot, bare = name.rpartition(".")
    kinds = [kind_part.rstrip("s") + "s"] if dot else list(registry.KINDS)
    found = [
        (k, registry.specs(k)[bare])
        for k in kinds
        if k in registry.KINDS and bare in registry.specs(k)
    ]
    if not found:
        raise UsageError(f"no plugin named {name!r}; 'chunk plugins' lists them")
    entries: list[dict[str, Any]] = []
    for kind, spec in found:
        cls = registry.options_class(kind, bare) if kind != "writers" else None
        options = [o.to_dict() for o in cls.describe()] if cls is not None else []
        entries.append(
            {"kind": kind, "name": bare, "description": spec.description, "options": options}
        )
    if as_json:
        click.echo(json.dumps(entries if len(entries) > 1 else entries[0], indent=2, default=str))
        return
    for e in entries:
        click.echo(f"{e['name']} ({e['kind'][:-1]}): {e['description']}")
        if not e["options"]:
            click.echo("  no options")
            continue
        rows = [("option", "type", "default", "range", "output", "help")]
        for o in e["options"]:
            flag = f" ({o['flag']})" if o["flag"] else ""
            out = "yes" if o["affects_output"] else "no"
            rows.append(
                (o["name"], o["type"], str(o["default"]), o["range"], out, o["help"] + flag)
            )
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        for r in rows:
            cells = [c.ljust(w) for c, w in zip(r[:5], widths, strict=True)]
            click.echo("  " + "  ".join([*cells, r[5]]))
    if any(e["options"] for e in entries):
        click.echo(f"set with --opt {entries[0]['name']}.KEY=VALUE")


def main() -> None:
    # Documents already spread over the cores (worker processes); numpy's OpenBLAS starting a
    # thread per core on top oversubscribes them: S2's eigh of a 400-node window took 1.0 s
    # instead of 0.05 s on a busy 2-core machine. Set before numpy is imported; a user's value
    # wins.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    try:
        app(prog_name="chunk")
    except BrokenPipeError:
        silence_stdout()
        sys.exit(EXIT_OK)
    except UsageError as exc:
        sys.stderr.write(f"chunk: error: {exc}\n")
        sys.exit(EXIT_USAGE)
    finally:
        # The command is over and the process exits: the interpreter's last garbage collections
        # would walk every object of ~300 modules to find next to nothing (~15 ms, 10% of a
        # one-file run). Outputs are closed by then; atexit handlers and finalizers still run.
        import gc

        gc.freeze()


if __name__ == "__main__":
    main()
