"""The ingest plan: CLI-style arguments -> validated IngestOptions, without the CLI or a
subprocess."""

from __future__ import annotations

import pytest
from chunkwise.chunkers.options import AutoOptions, CastOptions, S2Options, VisionOptions
from chunkwise.embedders import EmbedConfig
from chunkwise.parsers.options import CodeOptions, HtmlOptions, PdfOptions

from chunkwise.errors import UsageError
from chunkwise.pipeline import options_hash
from chunkwise.plan import PLUGIN_FLAGS, IngestArgs, build_plan


def test_defaults_give_no_plugin_options() -> None:
    plan = build_plan(IngestArgs(jobs=0))
    opts = plan.options
    assert opts.chunker == "auto" and opts.parser_options == {}
    assert opts.chunker_config.options == {} and opts.chunker_config.max_tokens == 512
    assert opts.jobs == 1 and not opts.isolate and opts.timeout == 120.0
    assert plan.embed_method == "late" and plan.embed_config == EmbedConfig()


def test_flags_map_onto_plugin_fields() -> None:
    plan = build_plan(
        IngestArgs(pages="2-3", html_mode="full", spatial_weight=0.25, pages_per_batch=2, jobs=3)
    )
    p, c = plan.options.parser_options, plan.options.chunker_config.options
    assert p["pdf"] == PdfOptions(pages="2-3") and p["html"] == HtmlOptions(mode="full")
    assert c["s2"] == S2Options(spatial_weight=0.25)
    assert c["vision"] == VisionOptions(pages_per_batch=2, jobs=3)
    assert plan.options.jobs == 3 and plan.options.isolate


def test_every_dedicated_flag_is_declared_by_some_option() -> None:
    from chunkwise import registry

    declared = {
        info.flag
        for kind in ("parsers", "chunkers", "embedders")
        for name in registry.BUILTINS[kind]
        for info in registry.options_class(kind, name).describe()
    }
    assert set(PLUGIN_FLAGS.values()) | {"--jobs"} <= declared


@pytest.mark.parametrize(
    ("max_tokens", "max_chars", "budget", "chars"),
    [(None, None, "chars", 1500), (None, 900, "chars", 900), (300, None, "tokens", 1500),
     (300, 900, "both", 900)],
)  # fmt: skip
def test_cast_budget_follows_which_caps_were_given(
    max_tokens: int | None, max_chars: int | None, budget: str, chars: int
) -> None:
    cfg = build_plan(IngestArgs(max_tokens=max_tokens, max_chars=max_chars)).options.chunker_config
    cast = CastOptions.coerce(cfg.options.get("cast"))
    assert (cast.budget, cast.max_chars) == (budget, chars)


def test_format_hint_names_the_code_language_unless_language_is_given() -> None:
    parsers = build_plan(IngestArgs(format_hint="rs")).options.parser_options
    assert parsers["code"] == CodeOptions(language="rs")
    parsers = build_plan(IngestArgs(format_hint="rs", language="go")).options.parser_options
    assert parsers["code"] == CodeOptions(language="go")
    assert "code" not in build_plan(IngestArgs(format_hint="markdown")).options.parser_options


def test_keep_furniture_is_a_chunker_setting_only() -> None:
    opts = build_plan(IngestArgs(keep_furniture=True)).options
    assert opts.chunker_config.keep_furniture and opts.parser_options == {}


def test_embedding_flags_reach_s2_auto_and_the_embedder() -> None:
    plan = build_plan(IngestArgs(embed_model="m", device="cpu", late=False, late_window=64))
    c = plan.options.chunker_config.options
    assert c["s2"] == S2Options(model="m", device="cpu")
    assert c["auto"] == AutoOptions(model="m", device="cpu")
    assert plan.embed_method == "naive"
    assert plan.embed_config == EmbedConfig(model="m", device="cpu", window=64)


def test_opt_wins_and_reaches_options_without_a_flag() -> None:
    args = IngestArgs(
        html_mode="full", opt=("html.mode=article", "pdf.tables=no", "embed.context=1")
    )
    plan = build_plan(args)
    assert plan.options.parser_options["html"] == HtmlOptions(mode="article")
    assert plan.options.parser_options["pdf"] == PdfOptions(tables=False)
    assert plan.embed_config == EmbedConfig(context=True)


def test_only_output_options_change_the_state_hash() -> None:
    base = options_hash(build_plan(IngestArgs()).options)
    assert options_hash(build_plan(IngestArgs(jobs=7, device="cpu")).options) == base
    assert options_hash(build_plan(IngestArgs(opt=("vision.timeout=3",))).options) == base
    assert options_hash(build_plan(IngestArgs(pages="1")).options) != base
    assert options_hash(build_plan(IngestArgs(opt=("text.detect_legal=false",))).options) != base


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"chunker": "nope"}, "unknown chunker 'nope'"),
        ({"format_hint": "zzz"}, "unknown --format-hint"),
        ({"pages": "x-y"}, "--pages"),
        ({"html_mode": "all"}, "must be one of: article, full"),
        ({"overlap": 600}, "--overlap"),
        ({"opt": ("s2.window=1",)}, "must be at least 2"),
        ({"pages_per_batch": 0}, "--pages-per-batch"),
    ],
)
def test_bad_arguments_are_usage_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("-", r"\-")):
        build_plan(IngestArgs(**kwargs))  # type: ignore[arg-type]


def test_library_keywords() -> None:
    args = IngestArgs.from_kwargs(semantic="model", glob="*.md", max_tokens=100)
    assert args.s2_semantic == "model" and args.glob == ("*.md",)
    with pytest.raises(UsageError, match=r"unknown option.*max_token\b"):
        IngestArgs.from_kwargs(max_token=100)
