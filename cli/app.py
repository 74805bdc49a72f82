"""The ``chunk`` command: argument parsing and terminal output only.

Heavy modules (pyarrow, parsers, chunkers, torch) are imported inside the commands, never at
start-up, so ``chunk --help`` stays instant.
"""

from __future__ import annotations

import io
import json
import logging
import os
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from chunkwise import __version__
from chunkwise.command import ErrorSink, IngestCommand, silence_stdout
from chunkwise.errors import (
    EXIT_ABORTED,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_USAGE,
    ChunkwiseError,
    UsageError,
)

app = typer.Typer(
    name="chunk",
    help="Turn folders of documents into retrieval-ready chunks (JSONL or Parquet).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

log = logging.getLogger("chunkwise")


class OutputFormat(str, Enum):
    jsonl = "jsonl"
    parquet = "parquet"
    lance = "lance"


_OPT = typer.Option(
    "--opt",
    metavar="NAME.KEY=VALUE",
    help="Set any parser, chunker or embedder option, e.g. pdf.tables=false or "
    "s2.semantic=model (repeatable; 'chunk plugins NAME' lists them; 'embed' is the embedder).",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"chunkwise {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Turn folders of documents into retrieval-ready chunks (JSONL or Parquet)."""


def _setup_logging(quiet: bool, verbose: bool) -> None:
    level = logging.ERROR if quiet else logging.DEBUG if verbose else logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("chunk: %(levelname)s: %(message)s"))
    root = logging.getLogger("chunkwise")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


@app.command()
def ingest(
    paths: Annotated[
        list[str], typer.Argument(help="Files, folders (walked recursively), or '-' for stdin.")
    ],
    chunker: Annotated[
        str, typer.Option("--chunker", "-c", help="Chunker name, or auto (per format).")
    ] = "auto",
    max_tokens: Annotated[
        int | None, typer.Option(min=1, help="Hard cap on chunk size, in tokens (default 512).")
    ] = None,
    max_chars: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="cast: chunk budget in non-whitespace characters (default 1500 unless "
            "--max-tokens is given).",
        ),
    ] = None,
    language: Annotated[
        str | None,
        typer.Option(help="Source language for code without a known extension (e.g. rust, py)."),
    ] = None,
    overlap: Annotated[int, typer.Option(min=0, help="Tokens shared by neighbouring chunks.")] = 0,
    min_tokens: Annotated[
        int, typer.Option(min=0, help="Sections smaller than this merge with a neighbour.")
    ] = 0,
    tokenizer: Annotated[
        str | None,
        typer.Option(
            help="cl100k_base (default), o200k_base, chars, all-MiniLM-L6-v2, "
            "or a local tokenizer.json / model folder."
        ),
    ] = None,
    output_format: Annotated[
        OutputFormat | None,
        typer.Option("--format", "-f", help="Output format (default: from -o's extension, jsonl)."),
    ] = None,
    output: Annotated[
        str | None, typer.Option("--output", "-o", help="Output file (default: stdout for jsonl).")
    ] = None,
    errors: Annotated[
        Path | None, typer.Option("--errors", help="Also write error records (JSONL) here.")
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            "-j",
            min=0,
            help="Worker processes (default: number of cores; 0 = in this process, no --timeout).",
        ),
    ] = None,
    timeout: Annotated[
        float,
        typer.Option(
            min=0, help="Seconds per document before its worker is killed (0 = no limit)."
        ),
    ] = 120.0,
    state: Annotated[
        Path | None,
        typer.Option(
            "--state", help="SQLite state file: skip files unchanged since the last run (cron)."
        ),
    ] = None,
    emit_deletes: Annotated[
        bool,
        typer.Option(
            "--emit-deletes",
            help="With --state: write {deleted: true, doc_id, source} records for files gone or "
            "re-chunked since the last run.",
        ),
    ] = False,
    wait_lock: Annotated[
        float,
        typer.Option(help="Seconds to wait if another run holds the --state file (default 0)."),
    ] = 0.0,
    follow_symlinks: Annotated[
        bool,
        typer.Option(help="Follow symlinks (files and folders) that lead out of the input folder."),
    ] = False,
    glob: Annotated[
        list[str] | None,
        typer.Option("--glob", help="Only files matching this pattern (repeatable)."),
    ] = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option("--exclude", help=".gitignore-style pattern to skip (repeatable)."),
    ] = None,
    gitignore: Annotated[
        bool, typer.Option("--gitignore/--no-gitignore", help="Honour .gitignore files.")
    ] = True,
    default_excludes: Annotated[
        bool,
        typer.Option(
            "--default-excludes/--no-default-excludes",
            help="Skip .git, node_modules, __pycache__, .venv, dist, build.",
        ),
    ] = True,
    format_hint: Annotated[
        str | None,
        typer.Option(help="Parser name or extension for stdin or unknown files (e.g. markdown)."),
    ] = None,
    keep_furniture: Annotated[
        bool, typer.Option(help="Keep page headers/footers in chunks.")
    ] = False,
    pages: Annotated[
        str | None, typer.Option(help="PDF: only these pages, e.g. 3-7 or 1,4,9- (1-based).")
    ] = None,
    spatial_weight: Annotated[
        float | None,
        typer.Option(help="S2: weight of layout vs meaning in the element graph, 0-1 (0.5)."),
    ] = None,
    s2_semantic: Annotated[
        Literal["lexical", "model", "auto"] | None,
        typer.Option(
            help="S2 similarity: lexical (TF-IDF, default), model (embed extra), auto (model "
            "when installed)."
        ),
    ] = None,
    html_mode: Annotated[
        Literal["article", "full"],
        typer.Option(help="HTML: article (main content only) or full (every visible block)."),
    ] = "article",
    auto_vectors: Annotated[
        Literal["lexical", "model", "auto"],
        typer.Option(help="Auto chunker similarity: lexical (fast, default), model, auto."),
    ] = "lexical",
    pages_per_batch: Annotated[
        int, typer.Option(help="Vision chunker: pages the page reader sees together.")
    ] = 4,
    vision_backend: Annotated[
        Literal["layout", "openai"],
        typer.Option(help="Vision chunker page reader: layout (offline model) or openai."),
    ] = "layout",
    vision_endpoint: Annotated[
        str | None,
        typer.Option(help="Vision openai: chat-completions URL (key: CHUNK_VISION_API_KEY)."),
    ] = None,
    vision_model: Annotated[
        str | None, typer.Option(help="Vision openai: model name sent to the endpoint.")
    ] = None,
    max_file_size: Annotated[
        int,
        typer.Option(min=1, help="Files (and stdin) larger than this many bytes: error records."),
    ] = 200 * 1024 * 1024,
    max_memory: Annotated[
        str | None,
        typer.Option(
            help="Memory a worker may allocate for one document (e.g. 2G); over it the document "
            "is an error record."
        ),
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Empty files are failures, not skipped-empty.")
    ] = False,
    embed: Annotated[
        bool, typer.Option("--embed/--no-embed", help="Add embedding + embedding_model.")
    ] = False,
    embed_model: Annotated[
        str | None,
        typer.Option(help="Local model folder or installed model (default all-MiniLM-L6-v2)."),
    ] = None,
    late: Annotated[
        bool, typer.Option("--late/--naive", help="Late chunking (default) or per-chunk text.")
    ] = True,
    embed_context: Annotated[
        bool, typer.Option(help="--naive: prefix each chunk with its heading path / context.")
    ] = False,
    late_window: Annotated[
        int | None, typer.Option(help="Late: tokens per window (default: model max length).")
    ] = None,
    late_overlap: Annotated[
        int | None, typer.Option(help="Late: tokens shared by windows (default: window/4).")
    ] = None,
    device: Annotated[str, typer.Option(help="auto (CUDA when present), cpu or cuda.")] = "auto",
    batch_size: Annotated[int, typer.Option(help="Windows or chunks per forward pass.")] = 32,
    engine: Annotated[
        Literal["local", "ray"],
        typer.Option(help="local (this machine, default) or ray (Ray Data; the ray extra)."),
    ] = "local",
    ray_address: Annotated[
        str | None,
        typer.Option(help="Ray: attach to a cluster (auto, host:port or ray://host:port)."),
    ] = None,
    embed_actors: Annotated[
        int | None,
        typer.Option(help="Ray: embedding actors (default: one per GPU slot, else one)."),
    ] = None,
    gpus_per_actor: Annotated[
        float, typer.Option(help="Ray: GPUs per embedding actor when the cluster has GPUs.")
    ] = 1.0,
    opt: Annotated[list[str] | None, _OPT] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No logs or progress.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logs.")] = False,
) -> None:
    """Parse, chunk and write every document under PATHS."""
    _setup_logging(quiet, verbose)
    from chunkwise.pipeline import check_paths
    from chunkwise.plan import IngestArgs, build_plan, embedder_and_sizing

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
    raise typer.Exit(code)


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
    raise typer.Exit(EXIT_USAGE)


def _parse_one(
    file: str, format_hint: str | None, flags: dict[str, Any], opts: list[str] | None = None
) -> Any:
    """Parse one file (or '-') for a subcommand; a bad document is one error line and exit 3."""
    from chunkwise.errors import DocumentError, ErrorRecord
    from chunkwise.pipeline import IngestOptions, Processor, Source, check_paths

    try:
        check_paths([file])
        src = (
            Source("<stdin>", data=sys.stdin.buffer.read(), explicit=True)
            if file == "-"
            else Source(file, path=Path(file), explicit=True)
        )
        # format_hint also reaches the code parser: an extension names the language.
        from chunkwise.plan import option_values

        values = option_values({**flags, "opt": opts, "format_hint": format_hint})
        proc = Processor(
            IngestOptions(format_hint=format_hint, parser_options=values.build("parsers"))
        )
        parser = proc.parser(proc.parser_name(src))
        return parser.parse(src.data if src.data is not None else src.path, source=src.name)
    except DocumentError as exc:
        rec = ErrorRecord.from_exception(file, exc)
        sys.stderr.write(json.dumps(rec.to_dict(), ensure_ascii=False) + "\n")
        raise typer.Exit(EXIT_ABORTED) from None
    except ChunkwiseError as exc:
        _usage_error(exc)
        raise  # _usage_error exits; this keeps type checkers honest


@app.command()
def parse(
    file: Annotated[str, typer.Argument(help="A document, or '-' for stdin.")],
    format_hint: Annotated[str | None, typer.Option(help="Parser name or extension.")] = None,
    text: Annotated[bool, typer.Option("--text/--no-text", help="Include the full text.")] = True,
    html_mode: Annotated[
        Literal["article", "full"],
        typer.Option(help="HTML: article (main content only) or full (every visible block)."),
    ] = "article",
    pages: Annotated[
        str | None, typer.Option(help="PDF: only these pages, e.g. 3-7 or 1,4,9- (1-based).")
    ] = None,
    opt: Annotated[list[str] | None, _OPT] = None,
) -> None:
    """Print the parsed Document (elements with offsets, pages, boxes) as JSON."""
    _setup_logging(False, False)
    doc = _parse_one(file, format_hint, {"html_mode": html_mode, "pages": pages}, opt)
    try:
        sys.stdout.write(
            json.dumps(doc.to_dict(with_text=text), ensure_ascii=False, indent=2) + "\n"
        )
        sys.stdout.flush()
    except BrokenPipeError:
        silence_stdout()


@app.command()
def sentences(
    file: Annotated[str, typer.Argument(help="A document, or '-' for stdin.")],
    format_hint: Annotated[
        str | None, typer.Option(help="Parser name or extension (default: by extension).")
    ] = None,
) -> None:
    """Print the legal sentence spans of FILE as JSONL: start, end, text."""
    _setup_logging(False, False)
    from chunkwise.chunkers.legal import sentence_records

    doc = _parse_one(file, format_hint, {})
    try:
        for rec in sentence_records(doc):
            sys.stdout.write(json.dumps(rec, ensure_ascii=False) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        silence_stdout()


@app.command()
def embed(
    embed_model: Annotated[
        str | None,
        typer.Option(help="Local model folder or installed model (default all-MiniLM-L6-v2)."),
    ] = None,
    device: Annotated[str, typer.Option(help="auto (CUDA when present), cpu or cuda.")] = "auto",
    batch_size: Annotated[int, typer.Option(help="Texts per forward pass.")] = 32,
    input_format: Annotated[
        str, typer.Option(help="auto (JSONL if the first line is a JSON object), text or jsonl.")
    ] = "auto",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No logs.")] = False,
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
        raise typer.Exit(EXIT_OK) from None
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
    raise typer.Exit(summary.exit_code)


@app.command()
def search(
    index: Annotated[str, typer.Argument(help="A LanceDB folder (-f lance) or a Parquet file.")],
    query: Annotated[str, typer.Argument(help="The question, or '-' for one query per line.")],
    k: Annotated[int, typer.Option("-k", "--k", help="Chunks to return per query.")] = 5,
    hybrid: Annotated[
        bool, typer.Option("--hybrid", help="Fuse vector and full-text ranks (RRF).")
    ] = False,
    where: Annotated[
        str | None, typer.Option(help="SQL filter, e.g. \"source LIKE 'contracts/%'\".")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No logs.")] = False,
) -> None:
    """Top-k chunks for QUERY as JSONL (score, source, pages, bboxes, headings, start/end)."""
    _setup_logging(quiet, False)
    from chunkwise.search import run

    try:
        stdin = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8") if query == "-" else None
        run(index, query, sys.stdout, k=k, hybrid=hybrid, where=where, stdin=stdin)
    except BrokenPipeError:
        silence_stdout()
        raise typer.Exit(EXIT_OK) from None
    except ChunkwiseError as exc:
        _usage_error(exc)


@app.command("eval")
def eval_(
    paths: Annotated[
        list[str] | None,
        typer.Argument(help="Documents or folders to chunk and score (omit with --chunks)."),
    ] = None,
    chunker: Annotated[
        str | None,
        typer.Option(
            "--chunker",
            "-c",
            help="Comma-separated chunkers compared side by side, e.g. auto,s2 (default: auto "
            "and every chunker it chose between).",
        ),
    ] = None,
    chunks: Annotated[
        list[Path] | None,
        typer.Option("--chunks", help="Score a JSONL/Parquet output of ingest (repeatable)."),
    ] = None,
    questions: Annotated[
        Path | None,
        typer.Option(
            help="CSV or JSONL of question, references, corpus_id: retrieval recall/precision/IoU "
            "(docs/retrieval.md)."
        ),
    ] = None,
    k: Annotated[int, typer.Option("--k", help="Chunks retrieved per question.")] = 5,
    min_size: Annotated[int, typer.Option(help="Size compliance: fewest tokens.")] = 100,
    max_size: Annotated[int, typer.Option(help="Size compliance: most tokens.")] = 1100,
    max_tokens: Annotated[
        str | None, typer.Option(help="Chunk cap(s), comma-separated with --questions.")
    ] = None,
    overlap: Annotated[
        str | None, typer.Option(help="Overlap(s), comma-separated with --questions.")
    ] = None,
    embedding: Annotated[
        str, typer.Option(help="--questions: late, naive or late,naive chunk vectors.")
    ] = "late",
    naive: Annotated[bool, typer.Option("--naive", help="Same as --embedding naive.")] = False,
    tokenizer: Annotated[
        str | None,
        typer.Option(help="Tokenizer for chunk sizes (cl100k_base; the model's with --questions)."),
    ] = None,
    vectors: Annotated[
        Literal["auto", "lexical", "model"],
        typer.Option(help="Similarity: model (embed extra), lexical (TF-IDF), auto."),
    ] = "auto",
    embed_model: Annotated[
        str | None, typer.Option(help="Local model folder or installed model (all-MiniLM-L6-v2).")
    ] = None,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    batch_size: Annotated[int, typer.Option(help="Windows or chunks per forward pass.")] = 32,
    format_hint: Annotated[
        str | None, typer.Option(help="Parser name or extension for unknown files.")
    ] = None,
    per_doc: Annotated[
        bool, typer.Option("--per-doc", help="Also show one row per document.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No logs or error records.")] = False,
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
                raise typer.Exit(EXIT_ABORTED)
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
        raise typer.Exit(EXIT_OK) from None
    raise typer.Exit(EXIT_PARTIAL if failed else EXIT_OK)


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
        raise typer.Exit(EXIT_ABORTED)
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


@app.command()
def plugins(
    name: Annotated[
        str | None, typer.Argument(help="A plugin: print its options (kind.name if ambiguous).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
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
        typer.echo(json.dumps(data, indent=2))
        return
    for kind in registry.KINDS:
        typer.echo(f"{kind}:")
        if not data[kind]:
            typer.echo("  (none)")
        for s in data[kind]:
            ext = f"  [{' '.join(s['extensions'])}]" if s["extensions"] else ""
            origin = "" if s["origin"] == "builtin" else f"  (from {s['origin']})"
            typer.echo(f"  {s['name']:<12} {s['description']}{ext}{origin}")
    typer.echo("tokenizers:")
    for t in data["tokenizers"]:
        typer.echo(f"  {t}")


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
        typer.echo(json.dumps(entries if len(entries) > 1 else entries[0], indent=2, default=str))
        return
    for e in entries:
        typer.echo(f"{e['name']} ({e['kind'][:-1]}): {e['description']}")
        if not e["options"]:
            typer.echo("  no options")
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
            typer.echo("  " + "  ".join([*cells, r[5]]))
    if any(e["options"] for e in entries):
        typer.echo(f"set with --opt {entries[0]['name']}.KEY=VALUE")


def main() -> None:
    # Documents already spread over the cores (worker processes); numpy's OpenBLAS starting a
    # thread per core on top oversubscribes them: S2's eigh of a 400-node window took 1.0 s
    # instead of 0.05 s on a busy 2-core machine. Set before numpy is imported; a user's value
    # wins.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    try:
        app()
    except BrokenPipeError:
        silence_stdout()
        sys.exit(EXIT_OK)
    except UsageError as exc:
        sys.stderr.write(f"chunk: error: {exc}\n")
        sys.exit(EXIT_USAGE)


if __name__ == "__main__":
    main()
