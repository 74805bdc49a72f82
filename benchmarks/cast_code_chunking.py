"""Code chunking side by side: chunkwise's cast vs astchunk (the cAST authors' library),
langchain's language-aware RecursiveCharacterTextSplitter and chonkie's CodeChunker, at the same
budget, on real source files installed on this machine.

    .venv/bin/python benchmarks/cast_code_chunking.py [--budget 1500] [--max-files 2500]

Budget: non-whitespace characters for every chunker (cast and astchunk count them natively;
langchain gets a non-whitespace length function). Metrics, per language and overall:

- split-fit: share of definitions (functions, methods, classes... found by tree-sitter) that fit the
  budget but whose code is spread over more than one chunk (cAST's target is 0%);
- parse-ok: share of chunks that parse alone without a syntax error (tree-sitter, same grammar);
- in-budget: share of chunks within the budget;
- located: share of chunks found verbatim in the file (offsets recoverable);
- coverage: share of the file's non-whitespace characters inside some located chunk;
- complete: share of files whose chunks, whitespace aside, are exactly the file (nothing dropped,
  duplicated or rewritten);
- files/s, including parsing (tree-sitter, elements) and, for "chunkwise cast", the exact
  cl100k_base count every output record carries; "cast, no n_tokens" is the same chunking with
  that count left out, as the peers do.

chonkie's CodeChunker needs tree-sitter-language-pack 1.x, which downloads grammars at run time:
it is tried and reported as not runnable when that fails (no network here).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import sysconfig
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from chunkwise.chunkers.cast import CastChunker, nonspace_prefix  # noqa: E402
from chunkwise.parsers.code import LANGUAGES, CodeParser  # noqa: E402

from chunkwise.chunking import ChunkerConfig  # noqa: E402

DEFINITIONS = {
    "class",
    "function",
    "method",
    "struct",
    "interface",
    "enum",
    "trait",
    "impl",
    "record",
    "namespace",
}
LANGCHAIN = {
    "python": "PYTHON",
    "javascript": "JS",
    "typescript": "TS",
    "tsx": "TS",
    "go": "GO",
    "rust": "RUST",
    "java": "JAVA",
    "c": "C",
    "cpp": "CPP",
}
ASTCHUNK = {"python": "python", "java": "java", "typescript": "typescript", "tsx": "typescript"}


_WS = re.compile(r"\s+")


def nonspace(s: str) -> int:
    return len(s) - sum(s.count(c) for c in " \t\n\r\f\v")


def collect_files(max_files: int) -> list[Path]:
    """Real source files: stdlib and site-packages Python, C/C++ headers and sources shipped in
    wheels, npm's JavaScript, and the samples in sample_docs/code for the other languages."""
    purelib = Path(sysconfig.get_paths()["purelib"])
    stdlib = Path(os.__file__).parent
    exts = {".py": [], ".c": [], ".h": [], ".cc": [], ".cpp": [], ".hpp": [], ".js": []}
    roots = [stdlib, purelib, Path("/usr/lib/node_modules/npm")]
    for root in roots:
        if not root.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = (
                sorted(
                    d
                    for d in dirnames
                    if d not in ("__pycache__", "test", "tests", "site-packages")
                )
                if Path(dirpath) == stdlib
                else sorted(dirnames)
            )
            for name in sorted(filenames):
                ext = os.path.splitext(name)[1]
                if ext in exts:
                    p = Path(dirpath) / name
                    try:
                        size = p.stat().st_size
                    except OSError:
                        continue
                    if 200 < size < 300_000:
                        exts[ext].append(p)
    quota = {
        ".py": 0.6,
        ".js": 0.1,
        ".c": 0.08,
        ".h": 0.08,
        ".cc": 0.05,
        ".cpp": 0.05,
        ".hpp": 0.04,
    }
    out: list[Path] = []
    for ext, files in exts.items():
        n = max(1, int(max_files * quota[ext]))
        step = max(1, len(files) // n)
        out.extend(files[::step][:n])
    out.extend(
        p
        for p in sorted((ROOT / "sample_docs" / "code").iterdir())
        if not p.name.startswith(("LICENSE", "README"))
    )
    return out


@dataclass
class Stats:
    files: int = 0
    seconds: float = 0.0
    chunks: int = 0
    parse_ok: int = 0
    in_budget: int = 0
    located: int = 0
    fit_defs: int = 0
    split_defs: int = 0
    complete: int = 0
    nonspace_total: int = 0
    nonspace_covered: int = 0
    sizes: list[int] = field(default_factory=list)

    def add(self, other: Stats) -> None:
        for k in (
            "files",
            "seconds",
            "chunks",
            "parse_ok",
            "in_budget",
            "located",
            "fit_defs",
            "split_defs",
            "nonspace_total",
            "nonspace_covered",
            "complete",
        ):
            setattr(self, k, getattr(self, k) + getattr(other, k))
        self.sizes.extend(other.sizes)


def locate(text: str, pieces: list[str], line_hints: list[tuple[int, int]] | None = None):
    """Spans of chunk texts in ``text``: verbatim search from the previous chunk, else by lines."""
    spans: list[tuple[int, int] | None] = []
    pos = 0
    line_starts = None
    for i, piece in enumerate(pieces):
        key = piece.strip()
        if not key:
            spans.append(None)
            continue
        at = text.find(key, pos)
        if at < 0:
            at = text.find(key)
        if at >= 0:
            spans.append((at, at + len(key)))
            pos = at + 1
            continue
        if line_hints is not None:
            if line_starts is None:
                line_starts = [0] + [j + 1 for j, c in enumerate(text) if c == "\n"]
            a, b = line_hints[i]
            if 0 <= a < len(line_starts):
                end = line_starts[b + 1] if b + 1 < len(line_starts) else len(text)
                spans.append((line_starts[a], end))
                continue
        spans.append(None)
    return spans


def measure(
    name: str,
    chunk_fn: Callable[[Path, str, str], tuple[list[str], list[tuple[int, int] | None]]],
    files: list[tuple[Path, str, str]],
    budget: int,
    defs_by_file: dict[Path, list[tuple[int, int]]],
) -> dict[str, Stats]:
    per_lang: dict[str, Stats] = defaultdict(Stats)
    for path, text, lang in files:
        st = per_lang[lang]
        t0 = time.perf_counter()
        try:
            pieces, spans = chunk_fn(path, text, lang)
        except Exception as exc:  # a peer failing on one file is a result, not a crash
            print(f"  {name}: {path.name}: {type(exc).__name__}: {exc}"[:200], file=sys.stderr)
            continue
        st.seconds += time.perf_counter() - t0
        st.files += 1
        st.chunks += len(pieces)
        parser = _ts_parser(lang)
        covered = np.zeros(len(text), dtype=bool)
        for piece, span in zip(pieces, spans, strict=True):
            size = nonspace(piece)
            st.sizes.append(size)
            st.in_budget += size <= budget
            st.parse_ok += not parser.parse(
                piece.encode("utf-8", "surrogatepass")
            ).root_node.has_error
            if span is not None:
                st.located += 1
                covered[span[0] : span[1]] = True
        st.nonspace_total += nonspace(text)
        # Every non-whitespace character of the file, in order, and nothing else.
        st.complete += _WS.sub("", "".join(pieces)) == _WS.sub("", text)
        is_code = np.diff(nonspace_prefix(text)).astype(bool)
        st.nonspace_covered += int(np.count_nonzero(covered & is_code))
        located = [s for s in spans if s is not None]
        for a, b in defs_by_file[path]:
            st.fit_defs += 1
            hits = sum(
                1 for s, e in located if s < b and a < e and text[max(s, a) : min(e, b)].strip()
            )
            st.split_defs += hits != 1
    return per_lang


_PARSERS: dict[str, object] = {}


def _ts_parser(lang: str):
    if lang not in _PARSERS:
        import tree_sitter
        from chunkwise.parsers.code import get_language

        _PARSERS[lang] = tree_sitter.Parser(get_language(lang))
    return _PARSERS[lang]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--budget", type=int, default=1500)
    ap.add_argument("--max-files", type=int, default=2500)
    args = ap.parse_args()
    budget = args.budget

    paths = collect_files(args.max_files)
    parser = CodeParser()
    files: list[tuple[Path, str, str]] = []
    defs_by_file: dict[Path, list[tuple[int, int]]] = {}
    for p in paths:
        try:
            doc = parser.parse(p)
        except Exception:
            continue
        if not doc.text.strip():
            continue
        lang = doc.metadata["language"]
        files.append((p, doc.text, lang))
        defs_by_file[p] = [
            (e.start, e.end)
            for e in doc.elements
            if e.kind in DEFINITIONS and nonspace(doc.text[e.start : e.end]) <= budget
        ]
    print(f"{len(files)} files, budget {budget} non-whitespace characters", file=sys.stderr)

    cast = CastChunker(ChunkerConfig(), {"max_chars": budget})
    # The same chunks without exact cl100k counts for each record's n_tokens (peers count none).
    cast_nocount = CastChunker(ChunkerConfig(tokenizer="chars"), {"max_chars": budget})

    def cast_runner(chunker: CastChunker) -> Callable:
        def run_cast(path: Path, text: str, lang: str):
            doc = parser.parse(text.encode("utf-8"), source=str(path))
            chunks = list(chunker.chunk(doc))
            return [c.text for c in chunks], [(c.start, c.end) for c in chunks]

        return run_cast

    from langchain_text_splitters import Language, RecursiveCharacterTextSplitter

    splitters = {
        lang: RecursiveCharacterTextSplitter.from_language(
            getattr(Language, lc), chunk_size=budget, chunk_overlap=0, length_function=nonspace
        )
        for lang, lc in LANGCHAIN.items()
    }

    def run_langchain(path: Path, text: str, lang: str):
        pieces = splitters[lang].split_text(text)
        return pieces, locate(text, pieces)

    peers: list[tuple[str, Callable, set[str]]] = [
        ("chunkwise cast", cast_runner(cast), set(LANGUAGES)),
        ("cast, no n_tokens", cast_runner(cast_nocount), set(LANGUAGES)),
        ("langchain recursive", run_langchain, set(LANGCHAIN)),
    ]
    try:
        from astchunk import ASTChunkBuilder

        builders = {
            lang: ASTChunkBuilder(max_chunk_size=budget, language=al, metadata_template="default")
            for lang, al in ASTCHUNK.items()
        }

        def run_astchunk(path: Path, text: str, lang: str):
            chunks = builders[lang].chunkify(text)
            pieces = [c["content"] for c in chunks]
            hints = [(c["metadata"]["start_line_no"], c["metadata"]["end_line_no"]) for c in chunks]
            return pieces, locate(text, pieces, hints)

        peers.append(("astchunk", run_astchunk, set(ASTCHUNK)))
    except ImportError as exc:
        print(f"astchunk not installed ({exc}); pip install astchunk==0.1.0", file=sys.stderr)
    try:
        from chonkie import CodeChunker

        chonkie = CodeChunker(language="python", chunk_size=budget)

        def run_chonkie(path: Path, text: str, lang: str):
            chunks = chonkie.chunk(text)
            return [c.text for c in chunks], [(c.start_index, c.end_index) for c in chunks]

        peers.append(("chonkie code", run_chonkie, {"python"}))
    except Exception as exc:
        print(
            f"chonkie CodeChunker not runnable here: {type(exc).__name__}: {exc} "
            "(it needs tree-sitter-language-pack 1.x, which downloads grammars at run time)",
            file=sys.stderr,
        )

    results: dict[str, dict[str, Stats]] = {}
    for name, fn, langs in peers:
        subset = [f for f in files if f[2] in langs]
        print(f"running {name} on {len(subset)} files...", file=sys.stderr)
        results[name] = measure(name, fn, subset, budget, defs_by_file)

    langs = sorted({f[2] for f in files})
    header = (
        f"{'chunker':<20} {'lang':<10} {'files':>5} {'chunks':>6} {'split-fit':>9} "
        f"{'parse-ok':>8} {'in-budget':>9} {'located':>8} {'coverage':>8} {'complete':>8} "
        f"{'mean':>5} {'files/s':>8}"
    )
    print(header)
    print("-" * len(header))

    def row(name: str, lang: str, st: Stats) -> str:
        pct = lambda a, b, d=1: f"{100 * a / b:.{d}f}%" if b else "-"  # noqa: E731
        mean = sum(st.sizes) / len(st.sizes) if st.sizes else 0
        fps = st.files / st.seconds if st.seconds else 0
        return (
            f"{name:<20} {lang:<10} {st.files:>5} {st.chunks:>6} "
            f"{pct(st.split_defs, st.fit_defs):>9} {pct(st.parse_ok, st.chunks):>8} "
            f"{pct(st.in_budget, st.chunks):>9} {pct(st.located, st.chunks):>8} "
            f"{pct(st.nonspace_covered, st.nonspace_total, 2):>8} "
            f"{pct(st.complete, st.files):>8} {mean:>5.0f} {fps:>8.1f}"
        )

    for lang in langs:
        for name in results:
            if lang in results[name]:
                print(row(name, lang, results[name][lang]))
    print("-" * len(header))
    # Overall rows on each peer's own languages, and on the languages all of them support.
    common = set.intersection(*(set(r) for r in results.values())) if results else set()
    for scope, wanted in (("all", None), ("common", common)):
        for name, per in results.items():
            total = Stats()
            for lang, st in per.items():
                if wanted is None or lang in wanted:
                    total.add(st)
            print(row(name, scope, total))


if __name__ == "__main__":
    main()
