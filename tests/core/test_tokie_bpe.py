"""tokie's counts and ids: exact wherever the guard admits a text, rs-bpe's everywhere else and
whenever tokie cannot be used; the model built once per machine and rebuilt when damaged."""

from __future__ import annotations

import functools
import os
import re
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chunkwise import tokie_bpe
from chunkwise.tokenizers import TokieTokenizer, get_tokenizer
from tests.core.test_bpe_backends import ENCODINGS, bpe_backend, reference


@functools.lru_cache(maxsize=2)
def _counts(name: str) -> tokie_bpe.TokieCounts:
    with bpe_backend("rs-bpe"):
        exact = get_tokenizer(name)
    counts = tokie_bpe.load(name, exact.count, exact.encode)
    assert counts is not None
    return counts


_STRUCTURE = st.sampled_from(
    [
        *(" ", "  ", "\n", "\n\n", "'s", "'LL", "'t", "don't", "I'm", "’s", "“x”", "—", "…"),
        *("123", "1234567", "3.14", "a/b", "\n/usr", ". \n", "x\n", "\n    x", "(a)", "$5"),
    ]
)


@functools.lru_cache(maxsize=2)
def _safe_text(name: str) -> st.SearchStrategy[str]:
    chars = st.sampled_from(tokie_bpe.admitted(name))
    ascii_chars = st.characters(min_codepoint=32, max_codepoint=126)
    piece = st.one_of(_STRUCTURE, chars, ascii_chars, st.text(chars, min_size=1, max_size=6))
    # Spaces between two newlines are the one safe-alphabet sequence SAFE turns away.
    return st.lists(piece, max_size=60).map(lambda p: re.sub(r"\n +(?=\n)", "\n", "".join(p)))


@pytest.mark.parametrize("name", ENCODINGS)
@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_safe_texts_get_tiktokens_tokens(name: str, data: st.DataObject) -> None:
    text = data.draw(_safe_text(name))
    assert _counts(name).safe(text)
    want = reference(name).encode_ordinary(text)  # type: ignore[attr-defined]
    counts = _counts(name)
    assert list(counts.tok.encode(text, add_special_tokens=False).ids) == want
    assert counts.raw(text) == len(want)


@pytest.mark.parametrize("name", ENCODINGS)
@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=120))
def test_guarded_count_and_ids_are_exact_on_any_text(name: str, text: str) -> None:
    want = reference(name).encode_ordinary(text)  # type: ignore[attr-defined]
    assert _counts(name).count(text) == len(want)
    assert _counts(name).encode(text) == want


# Where tokie 0.1.4 and tiktoken disagree (found by benchmarks/tokie_exactness.py).
_DIVERGENT = ["\n \n", "a\n   \nb", "\t(v", "\x0b-J", " \u2177", "\u2177862", " \u2000\x0b"]
_DIVERGENT_O200K = ["’É", "<?\u05bc*hlsst"]
# Pieces of over 10,000 bytes: safe characters, too long a run.
_LONG = ["-" * 10_000, "\n" * 10_000, "x " + "ab" * 5001, " " * 10_001 + "x", "가" * 3335]
# o200k: a punctuation piece runs on over any mix of newlines and slashes.
_LONG += ["!" + "\n//" * 3400, "!" + "\n\n/" * 3400]


@pytest.mark.parametrize("name", ENCODINGS)
def test_known_divergences_are_guarded(name: str) -> None:
    texts = _DIVERGENT + (_DIVERGENT_O200K if name == "o200k_base" else [])
    counts = _counts(name)
    for text in texts:
        assert tokie_bpe.SAFE[name].fullmatch(text) is None, text
        want_ids = reference(name).encode_ordinary(text)  # type: ignore[attr-defined]
        assert counts.count(text) == len(want_ids)
        assert counts.encode(text) == want_ids
    for text in _LONG:
        assert tokie_bpe.SAFE[name].fullmatch(text), "safe characters"
        want = len(reference(name).encode_ordinary(text))  # type: ignore[attr-defined]
        assert counts.count(text) == want
        assert counts.within(text) == want
        assert len(counts.encode(text)) == want
    # The reason for the guards: tokie's own answer differs.
    unchecked = counts.tok.count_tokens
    assert unchecked(texts[0]) != counts.count(texts[0])
    assert any(unchecked(t) != counts.count(t) for t in _LONG)


def test_check_mode_catches_an_answer_the_guard_should_have_stopped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CHUNKWISE_TOKIE_CHECK", "1")
    rs = get_tokenizer("cl100k_base")._tok
    counts = tokie_bpe.load("cl100k_base", rs.count, rs.encode)
    assert counts is not None
    assert counts.within("plain words\n\n") == rs.count("plain words\n\n")
    # ``within`` trusts its caller to have checked the characters: here nobody did.
    with pytest.raises(tokie_bpe.TokieMismatch):
        counts.within("a\n \nb")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("a \n€/"), st.integers(1, 1600)), max_size=6))
def test_short_runs_admit_only_texts_without_a_long_run(runs: list[tuple[str, int]]) -> None:
    text = "".join(c * n for c, n in runs)
    longest = max((len(m.group()) for m in re.finditer(r"\S+|\s+", text)), default=0)
    assert (tokie_bpe._SHORT_RUNS.fullmatch(text) is not None) == (longest < tokie_bpe.LONG_RUN)
    longest = max((len(m.group()) for m in re.finditer(r"[^\s/]+|[\s/]+", text)), default=0)
    slash_ok = tokie_bpe._SHORT_SLASH_RUNS.fullmatch(text) is not None
    assert slash_ok == (longest < tokie_bpe.LONG_RUN)


def test_merges_are_the_last_merge_of_each_token() -> None:
    ranks = {b"a": 0, b"b": 1, b"c": 2, b"bc": 3, b"ab": 4, b"abc": 5}
    # "abc" forms from a+bc (bc ranks before ab), not ab+c.
    assert tokie_bpe.derive_merges(ranks) == [(b"b", b"c"), (b"a", b"b"), (b"a", b"bc")]
    with pytest.raises(ValueError, match="cannot be formed"):
        tokie_bpe.derive_merges({b"a": 0, b"b": 1, b"c": 2, b"abc": 3})
    # Listing every split instead gave tokie "e" "um" "a" for "euma".
    assert _counts("cl100k_base").raw("euma") == 2


def test_model_is_built_once_and_rebuilt_when_damaged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHUNKWISE_CACHE_DIR", str(tmp_path))
    rs = get_tokenizer("cl100k_base")._tok
    assert tokie_bpe.load("cl100k_base", rs.count, rs.encode) is not None
    (model,) = (tmp_path / "tokie").glob("cl100k_base-*.tkz")
    assert not [p for p in (tmp_path / "tokie").iterdir() if p != model], "temporaries left"

    def no_build(*args: object) -> None:
        raise AssertionError("rebuilt a good model")

    with monkeypatch.context() as m:
        m.setattr(tokie_bpe, "_build", no_build)
        assert tokie_bpe.load("cl100k_base", rs.count, rs.encode) is not None
    model.write_bytes(b"TOKI" + b"\0" * 64)
    counts = tokie_bpe.load("cl100k_base", rs.count, rs.encode)
    assert counts is not None and counts.raw("hello world") == 2
    assert model.stat().st_size > 1_000_000


def test_unusable_cache_means_exact_counts_without_tokie(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setenv("CHUNKWISE_CACHE_DIR", str(blocker))
    tok = TokieTokenizer("cl100k_base")
    tok.warm()
    assert tok._fast is None
    text = "Plain text, counted by rs-bpe.\n\nAnother paragraph."
    assert tok.count(text) == len(reference("cl100k_base").encode_ordinary(text))  # type: ignore[attr-defined]


def test_model_loads_only_once_enough_text_was_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(TokieTokenizer, "LOAD_AFTER_CHARS", 10_000)
    tok = TokieTokenizer("cl100k_base")
    para = "A sentence of prose, counted in atoms.\n" * 50  # ~2 KB
    bounds, prefix = tok.atom_counts(para) or ([], [])
    assert not tok._tried and tok._fast is None
    for _ in range(5):
        again = tok.atom_counts(para)
    assert tok._fast is not None
    assert again == (bounds, prefix)
    assert prefix[-1] == len(reference("cl100k_base").encode_ordinary(para))  # type: ignore[attr-defined]


def test_chunks_are_the_same_with_and_without_tokie(sample_docs: Path) -> None:
    from chunkwise.chunkers.recursive import RecursiveChunker
    from chunkwise.chunkers.sentence import SentenceChunker
    from chunkwise.chunkers.token import TokenChunker

    from chunkwise.chunking import ChunkerConfig
    from chunkwise.parsing import paragraph_elements
    from chunkwise.types import Document

    texts = [
        p.read_text(encoding="utf-8", errors="replace")
        for p in sorted(sample_docs.rglob("*"))
        if p.suffix in (".txt", ".md")
    ]
    texts.append(
        "Résumé — “naïve” café.\n\nПривет, мир! Καλημέρα.\n\n한국어 텍스트와 日本語。\n" * 40
    )
    results = {}
    for backend in ("rs-bpe", "tokie"):
        out = []
        with bpe_backend(backend):
            for cls in (RecursiveChunker, SentenceChunker, TokenChunker):
                chunker = cls(ChunkerConfig(max_tokens=64))
                for k, text in enumerate(texts):
                    doc = Document(f"d{k}", "0", text, elements=tuple(paragraph_elements(text)))
                    out.append([(c.start, c.end, c.n_tokens) for c in chunker.chunk(doc)])
        results[backend] = out
    assert results["tokie"] == results["rs-bpe"]


def test_pool_loads_tokie_before_forking_only_for_runs_with_the_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chunkwise import pipeline, tokenizers

    warmed: list[str] = []

    class Recorder:
        def warm(self) -> None:
            warmed.append("warm")

    monkeypatch.setattr(tokenizers, "get_tokenizer", lambda name=None: Recorder())
    small = tmp_path / "small.txt"
    small.write_text("A short note.\n" * 100)
    big = tmp_path / "big.txt"
    big.write_text("A longer text.\n" * 80_000)  # 1.2 MB
    options = pipeline.IngestOptions(chunker="recursive")

    def head(*paths: Path) -> list[pipeline.Source]:
        return [pipeline.Source(p.name, path=p) for p in paths]

    pipeline._preload_before_fork(options, head(small, small))
    assert warmed == []
    pipeline._preload_before_fork(options, head(small, big))
    assert warmed == ["warm"]
    pipeline._preload_before_fork(options, head(*[small] * (pipeline._IN_PROCESS_MAX_FILES + 1)))
    assert warmed == ["warm", "warm"]


def test_building_a_model_removes_models_unused_for_a_month(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHUNKWISE_CACHE_DIR", str(tmp_path))
    folder = tmp_path / "tokie"
    folder.mkdir()
    month = (tokie_bpe.STALE_DAYS + 1) * 86400
    stale, recent = folder / "cl100k_base-0000.tkz", folder / "o200k_base-1111.tkz"
    for path, age in ((stale, month), (recent, month - 2 * 86400)):
        path.write_bytes(b"an old model")
        os.utime(path, (time.time() - age, time.time() - age))
    rs = get_tokenizer("cl100k_base")._tok
    assert tokie_bpe.load("cl100k_base", rs.count, rs.encode) is not None
    (model,) = folder.glob("cl100k_base-*.tkz")
    assert sorted(folder.iterdir()) == sorted([model, recent])
    # Loading a model touches it: in use, it is never the stale one.
    os.utime(model, (time.time() - month, time.time() - month))
    assert tokie_bpe.load("cl100k_base", rs.count, rs.encode) is not None
    assert model.stat().st_mtime > time.time() - 3600
