"""From arguments to a run: what ``chunk ingest``, the Python API and the framework loaders all
call to turn options (the CLI's long names: ``max_tokens=256``, ``html_mode="full"``,
``opt=["pdf.tables=false"]``) into validated :class:`~chunkwise.pipeline.IngestOptions`.

No CLI framework here, so the mapping from flags to plugin options is unit-tested without a
subprocess; importing it is cheap (the registry and option classes, nothing heavy).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from chunkwise.errors import UsageError
from chunkwise.options import Options, OptionValues

if TYPE_CHECKING:
    from chunkwise.pipeline import IngestOptions

DEFAULT_TIMEOUT = 120.0
DEFAULT_MAX_FILE_SIZE = 200 * 1024 * 1024

# Arguments that are dedicated flags of plugin options: argument name -> the flag the option
# classes declare (chunkwise.options.option(flag=...)).
PLUGIN_FLAGS = {
    "pages": "--pages",
    "html_mode": "--html-mode",
    "language": "--language",
    "max_chars": "--max-chars",
    "spatial_weight": "--spatial-weight",
    "s2_semantic": "--s2-semantic",
    "auto_vectors": "--auto-vectors",
    "pages_per_batch": "--pages-per-batch",
    "vision_backend": "--vision-backend",
    "vision_endpoint": "--vision-endpoint",
    "vision_model": "--vision-model",
    "embed_model": "--embed-model",
    "device": "--device",
    "batch_size": "--batch-size",
    "late_window": "--late-window",
    "late_overlap": "--late-overlap",
    "embed_context": "--embed-context",
}


@dataclass(frozen=True)
class IngestArgs:
    """Everything that shapes how documents are found, parsed, chunked and embedded, by the
    CLI's names. ``None`` means "not given" (the plugin's default applies)."""

    chunker: str = "auto"
    max_tokens: int | None = None
    overlap: int = 0
    min_tokens: int = 0
    tokenizer: str | None = None
    keep_furniture: bool = False
    format_hint: str | None = None
    # Plugin options with a dedicated flag (PLUGIN_FLAGS); any other through ``opt``.
    max_chars: int | None = None
    language: str | None = None
    pages: str | None = None
    html_mode: str | None = None
    spatial_weight: float | None = None
    s2_semantic: str | None = None
    auto_vectors: str | None = None
    pages_per_batch: int | None = None
    vision_backend: str | None = None
    vision_endpoint: str | None = None
    vision_model: str | None = None
    # ``NAME.KEY=VALUE`` assignments, applied after the flags (they win).
    opt: Sequence[str] = ()
    # Finding files.
    glob: Sequence[str] = ()
    exclude: Sequence[str] = ()
    gitignore: bool = True
    default_excludes: bool = True
    follow_symlinks: bool = False
    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    # Address-space cap (bytes) of each worker process; None: no cap.
    max_memory: int | None = None
    # Empty files are error records instead of skipped-empty.
    strict: bool = False
    # Workers: None = one per core, 0 = in this process (no timeout, no isolation).
    jobs: int | None = None
    timeout: float = DEFAULT_TIMEOUT
    # Embedding.
    embed: bool = False
    late: bool = True
    embed_model: str | None = None
    device: str | None = None
    batch_size: int | None = None
    late_window: int | None = None
    late_overlap: int | None = None
    embed_context: bool | None = None

    @classmethod
    def from_kwargs(cls, **kwargs: Any) -> IngestArgs:
        """For library callers: unknown names are a usage error listing the known ones.
        ``semantic`` is accepted for ``s2_semantic``; a single string for ``glob``/``exclude``/
        ``opt``."""
        if "semantic" in kwargs:
            kwargs["s2_semantic"] = kwargs.pop("semantic")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(kwargs) - known)
        if unknown:
            raise UsageError(
                f"unknown option(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        for key in ("glob", "exclude", "opt"):
            if isinstance(kwargs.get(key), str):
                kwargs[key] = (kwargs[key],)
        return cls(**kwargs)

    @property
    def embed_method(self) -> str:
        return "late" if self.late else "naive"


@dataclass(frozen=True)
class Plan:
    """A run's validated options: what the pipeline takes, and the embedder's settings."""

    options: IngestOptions
    embed_config: Options  # the embedder's options (EmbedConfig for late and naive)
    embed_method: str
    embed: bool = False
    values: OptionValues = field(default_factory=OptionValues, repr=False, compare=False)
    max_tokens_given: bool = True  # False when --max-tokens took its default


def option_values(args: IngestArgs | Mapping[str, Any]) -> OptionValues:
    """Plugin option values from dedicated flags (each reaches every field declaring it), then
    ``opt`` assignments, which win."""
    get = args.get if isinstance(args, Mapping) else lambda k: getattr(args, k, None)
    values = OptionValues()
    for name, flag in PLUGIN_FLAGS.items():
        values.set_flag(flag, get(name))
    jobs = get("jobs")
    if jobs is not None and jobs > 1:
        values.set_flag("--jobs", jobs)
    language, hint = get("language"), get("format_hint")
    if language is None and hint and hint != "code":
        from chunkwise.parsers.code import resolve_language

        if resolve_language(hint):
            # An extension given as --format-hint names the language of stdin or a bare file.
            values.set("parsers", "code", "language", hint)
    if get("max_tokens") is not None:
        from chunkwise.chunkers.options import cast_budget

        values.set("chunkers", "cast", "budget", cast_budget(get("max_chars") is not None, True))
    for text in get("opt") or ():
        values.assign(text)
    return values


def build_plan(args: IngestArgs) -> Plan:
    """Validated options for a run (usage errors for anything wrong, before any work). The
    embedder is not loaded here; see :func:`embedder_and_sizing`."""
    from chunkwise import registry
    from chunkwise.chunking import ChunkerConfig
    from chunkwise.pipeline import IngestOptions, default_jobs
    from chunkwise.tokenizers import DEFAULT_TOKENIZER
    from chunkwise.walk import WalkOptions

    if args.chunker != "auto":
        registry.load("chunkers", args.chunker)
    if args.format_hint:
        registry.parser_for("", args.format_hint)
    values = option_values(args)
    max_tokens = ChunkerConfig.max_tokens if args.max_tokens is None else args.max_tokens
    overlap = args.overlap
    if args.embed:
        from chunkwise.embedders import embed_chunk_defaults

        max_tokens, overlap, merge = embed_chunk_defaults(
            args.embed_method, args.max_tokens, args.overlap
        )
        if merge:
            # Late chunking merges the chunker's small pieces up to ``merge`` tokens; auto judges
            # its candidates at that size.
            values.set("chunkers", "auto", "choose_tokens", merge)
            values.set("embedders", args.embed_method, "merge", merge)
    options = IngestOptions(
        chunker=args.chunker,
        chunker_config=ChunkerConfig(
            max_tokens=max_tokens,
            overlap=overlap,
            tokenizer=args.tokenizer or DEFAULT_TOKENIZER,
            min_tokens=args.min_tokens,
            keep_furniture=args.keep_furniture,
            options=values.build("chunkers"),
        ),
        parser_options=values.build("parsers"),
        format_hint=args.format_hint,
        walk=WalkOptions(
            include=tuple(args.glob),
            exclude=tuple(args.exclude),
            gitignore=args.gitignore,
            default_excludes=args.default_excludes,
        ),
        jobs=max(1, default_jobs() if args.jobs is None else args.jobs),
        max_file_size=args.max_file_size,
        max_memory=args.max_memory,
        strict=args.strict,
        timeout=args.timeout if args.timeout > 0 else None,
        isolate=args.jobs != 0,
        follow_symlinks=args.follow_symlinks,
    )
    embed_config = values.get("embedders", args.embed_method)
    return Plan(
        options,
        embed_config,
        args.embed_method,
        args.embed,
        values,
        max_tokens_given=args.max_tokens is not None,
    )


def embedder_and_sizing(plan: Plan, tokenizer: str | None) -> tuple[Any, Plan]:
    """Load the embedder (when ``plan.embed``) and size chunks for it: without ``--tokenizer``
    chunks are counted in the model's tokenizer and capped at what it takes in one pass.
    ``tokenizer`` is the one asked for (``--tokenizer``), if any. Checks the tokenizer."""
    from chunkwise.tokenizers import get_tokenizer

    embedder = None
    if plan.embed:
        from chunkwise.embedders import build_embedder, chunk_sizing

        embedder = build_embedder(plan.embed_method, plan.embed_config)
        cfg = plan.options.chunker_config
        tokenizer, max_tokens = chunk_sizing(
            embedder,
            getattr(plan.embed_config, "model", None),
            tokenizer,
            cfg.max_tokens,
            explicit=plan.max_tokens_given,
        )
        cfg = dataclasses.replace(cfg, tokenizer=tokenizer, max_tokens=max_tokens)
        plan = dataclasses.replace(
            plan, options=dataclasses.replace(plan.options, chunker_config=cfg)
        )
    get_tokenizer(plan.options.chunker_config.tokenizer)
    return embedder, plan
