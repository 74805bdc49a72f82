"""Throughput of the token and recursive chunkers against peers, same text, same size, same
tokenizer (cl100k_base), in one run.

Text: the court decisions of ../shared/corpus/legal/ plus the gold article bodies of
../shared/corpus/html/ (0.35 MB of real prose in 38 documents). That set is run as it is ("small
docs") and as 8 long documents, each the whole set in a different shuffled order joined by blank
lines, every paragraph numbered so that none repeats ("long docs", 2.8 MB): the corpus holds no
more real text than that, and repeated paragraphs would measure the peers' token-count caches
rather than chunking.

Peers: chonkie TokenChunker / RecursiveChunker, semchunk, langchain-text-splitters'
RecursiveCharacterTextSplitter (length in cl100k tokens). All get the same tiktoken Encoding object,
built offline by chunkwise (tiktoken's own loader would download the ranks).

Methods run interleaved, several rounds, and the median is reported with the ratio to ours, because
this machine is shared and noisy.

End to end (``--cli``, the default): what a user times is the command. ``chunk ingest`` runs as a
subprocess (default ``--jobs``, JSONL to a file) on (a) one 5 MB prose file and (b) a folder of
2,000 prose files of ~3.6 KB (also with ``--jobs 0``, no workers), and its time is the wall time
of the command minus the same command on a 2 KB file (start-up cancels out; both are printed).
The peers run in process on the same texts (no start-up, no file reading, no output), in the
same rounds. The prose is the non-legal text of the corpus (the article bodies of html/ and the
two retrieval/ documents), shuffled and paragraph-numbered as for the long documents; legal text
would send the files to the legal parser, a different workload. Then the recursive rows again
while another process keeps one core busy.

Start-up, first (``--startup-only`` for just this): ``chunk --help`` and ``chunk ingest`` of a 2 KB
file with the defaults, each the median wall and CPU time of whole processes over
``--startup-rounds`` interleaved rounds, beside ``python -c pass`` (the interpreter's floor).

    .venv/bin/python benchmarks/throughput.py [--rounds 3] [--max-tokens 512] [--no-cli]
        [--startup-only] [--startup-rounds 11] [--corpus ../shared/corpus]
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"


def load_texts() -> list[str]:
    texts: list[str] = []
    for name in ("CD_scotus_test.jsonl.gz", "CD_intellectual_property_test.jsonl.gz"):
        with gzip.open(CORPUS / "legal" / name, "rt", encoding="utf-8") as fh:
            texts.extend(json.loads(line)["text"] for line in fh)
    gold = json.loads((CORPUS / "html" / "ground-truth.json").read_text(encoding="utf-8"))
    texts.extend(v["articleBody"] for v in gold.values() if v.get("articleBody"))
    return texts


def long_docs(texts: list[str], copies: int = 8) -> list[str]:
    """Long documents from the corpus: each copy shuffles the documents and numbers every paragraph
    ("[copy.n] ..."), so no paragraph repeats and no peer's cache of token counts gets hits."""
    import random

    rng = random.Random(0)
    out = []
    for copy in range(copies):
        order = texts[:]
        rng.shuffle(order)
        paras = [p for t in order for p in t.split("\n\n") if p.strip()]
        out.append("\n\n".join(f"[{copy}.{i}] {p}" for i, p in enumerate(paras)))
    return out


def build_methods(max_tokens: int) -> dict[str, Callable[[str], int]]:
    from chunkwise.chunkers.recursive import RecursiveChunker
    from chunkwise.chunkers.sentence import SentenceChunker
    from chunkwise.chunkers.token import TokenChunker

    from chunkwise.chunking import ChunkerConfig
    from chunkwise.tokenizers import tiktoken_encoding
    from chunkwise.types import Document

    enc = tiktoken_encoding("cl100k_base")  # the same tiktoken.Encoding for every peer
    cfg = ChunkerConfig(max_tokens=max_tokens)
    ours_token = TokenChunker(cfg)
    ours_rec = RecursiveChunker(cfg)
    ours_sent = SentenceChunker(cfg)

    def doc(text: str) -> Document:
        return Document("bench", "0", text)

    methods: dict[str, Callable[[str], int]] = {
        "chunkwise token": lambda t: sum(1 for _ in ours_token.chunk(doc(t))),
        "chunkwise recursive": lambda t: sum(1 for _ in ours_rec.chunk(doc(t))),
        "chunkwise sentence": lambda t: sum(1 for _ in ours_sent.chunk(doc(t))),
    }
    try:
        from chonkie import RecursiveChunker as CRec
        from chonkie import TokenChunker as CTok

        c_tok = CTok(tokenizer=enc, chunk_size=max_tokens, chunk_overlap=0)
        c_rec = CRec(tokenizer=enc, chunk_size=max_tokens)
        methods["chonkie TokenChunker"] = lambda t: len(c_tok.chunk(t))
        methods["chonkie RecursiveChunker"] = lambda t: len(c_rec.chunk(t))
    except Exception as exc:  # a peer that cannot run here is reported, not fatal
        print(f"chonkie unavailable: {exc}", file=sys.stderr)
    try:
        import semchunk

        s_chunker = semchunk.chunkerify(enc, max_tokens)
        methods["semchunk"] = lambda t: len(s_chunker(t))
    except Exception as exc:
        print(f"semchunk unavailable: {exc}", file=sys.stderr)
    try:
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        lc = RecursiveCharacterTextSplitter(
            chunk_size=max_tokens,
            chunk_overlap=0,
            length_function=lambda s: len(enc.encode_ordinary(s)),
        )
        methods["langchain RecursiveCharacterTextSplitter"] = lambda t: len(lc.split_text(t))
    except Exception as exc:
        print(f"langchain-text-splitters unavailable: {exc}", file=sys.stderr)
    return methods


def startup_section(rounds: int) -> None:
    """Whole-process start-up: ``chunk --help`` and ``chunk ingest`` of a 2 KB file (defaults,
    JSONL to a file), beside ``python -c pass``, the interpreter's own floor, in the same
    interleaved rounds; median wall and CPU (user + sys, what a loaded machine does not
    inflate) per command."""
    import resource
    import tempfile

    exe = str(Path(sys.executable).with_name("chunk"))
    # Compiled modules, as any installed package has (this tree may run with
    # PYTHONDONTWRITEBYTECODE, and compiling on every start would cost ~0.1 s).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    dirs = [str(ROOT / d) for d in ("chunkwise", "cli", "parsers", "chunkers", "writers")]
    subprocess.run([sys.executable, "-m", "compileall", "-q", *dirs], env=env, check=True)
    with tempfile.TemporaryDirectory(prefix="chunkwise-startup-") as tmp:
        tiny = Path(tmp) / "tiny.txt"
        paras = [p for t in prose_texts() for p in t.split("\n\n") if p.strip()]
        tiny.write_text("\n\n".join(paras)[:2000] + "\n", encoding="utf-8")
        out = Path(tmp) / "out.jsonl"
        commands = {
            "python -c pass (floor)": [sys.executable, "-c", "pass"],
            "chunk --help": [exe, "--help"],
            "chunk ingest (2 KB file)": [exe, "ingest", str(tiny), "-q", "-o", str(out)],
        }
        walls: dict[str, list[float]] = {name: [] for name in commands}
        cpus: dict[str, list[float]] = {name: [] for name in commands}
        for round_ in range(rounds + 1):
            for name, cmd in commands.items():
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                t0 = time.perf_counter()
                subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL, capture_output=True)
                wall = time.perf_counter() - t0
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                if round_:  # the first round warms the OS file cache
                    walls[name].append(wall)
                    cpus[name].append(
                        after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
                    )
    load = os.getloadavg()[0]
    print(
        f"\nstart-up (whole process, median of {rounds} interleaved rounds, load average "
        f"{load:.1f} at the end)"
    )
    print(f"  {'command':<28} {'wall s':>8} {'CPU s':>8} {'target':>10}")
    targets = {"chunk --help": "< 0.2", "chunk ingest (2 KB file)": "<= 0.25"}
    for name in commands:
        wall, cpu = statistics.median(walls[name]), statistics.median(cpus[name])
        print(f"  {name:<28} {wall:>8.3f} {cpu:>8.3f} {targets.get(name, ''):>10}")


def prose_texts() -> list[str]:
    gold = json.loads((CORPUS / "html" / "ground-truth.json").read_text(encoding="utf-8"))
    texts = [v["articleBody"] for v in gold.values() if v.get("articleBody")]
    for name in ("chatlogs.md", "state_of_the_union.md"):
        texts.append((CORPUS / "retrieval" / name).read_text(encoding="utf-8"))
    return texts


def prose_inputs(folder: Path) -> tuple[Path, Path, Path, str, list[str]]:
    """Write the 2 KB file, the 5 MB file and the folder of 2,000 small files."""
    import random

    rng = random.Random(0)
    base = prose_texts()
    paras: list[str] = []
    copy = 0
    while sum(len(p) for p in paras) < 12_000_000:
        order = base[:]
        rng.shuffle(order)
        ps = [p for t in order for p in t.split("\n\n") if p.strip()]
        paras.extend(f"[{copy}.{i}] {p}" for i, p in enumerate(ps))
        copy += 1
    tiny = folder / "tiny.txt"
    tiny.write_text("\n\n".join(paras[:40])[:2000] + "\n", encoding="utf-8")
    big_paras: list[str] = []
    size = 0
    k = 0
    while size < 5_000_000:
        big_paras.append(paras[k])
        size += len(paras[k].encode("utf-8")) + 2
        k += 1
    big_text = "\n\n".join(big_paras) + "\n"
    big = folder / "big.txt"
    big.write_text(big_text, encoding="utf-8")
    # The small files come from the paragraphs the big file did not use.
    small_dir = folder / "small"
    small_dir.mkdir()
    smalls: list[str] = []
    buf: list[str] = []
    size = 0
    for para in paras[k:]:
        buf.append(para)
        size += len(para)
        if size >= 3_000:
            smalls.append("\n\n".join(buf) + "\n")
            (small_dir / f"f{len(smalls):04d}.txt").write_text(smalls[-1], encoding="utf-8")
            buf, size = [], 0
            if len(smalls) == 2000:
                break
    return tiny, big, small_dir, big_text, smalls


def chunk_command(path: Path, chunker: str, max_tokens: int, out: Path, *extra: str) -> list[str]:
    exe = Path(sys.executable).with_name("chunk")
    return [
        str(exe), "ingest", str(path), "--chunker", chunker, "--max-tokens", str(max_tokens),
        "--tokenizer", "cl100k_base", "-q", "-o", str(out), *extra,
    ]  # fmt: skip


def time_command(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL)
    return time.perf_counter() - t0


def cli_section(rounds: int, max_tokens: int) -> None:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="chunkwise-bench-") as tmp:
        folder = Path(tmp)
        tiny, big, small_dir, big_text, smalls = prose_inputs(folder)
        big_mb = len(big_text.encode("utf-8")) / 1e6
        small_mb = sum(len(t.encode("utf-8")) for t in smalls) / 1e6
        out = folder / "out.jsonl"
        # Warm the OS file cache and Python's bytecode cache before timing anything.
        for path in (tiny, big, small_dir):
            subprocess.run(chunk_command(path, "recursive", max_tokens, out), check=True)
        busy_rows = {
            "chunkwise recursive (CLI)",
            "chonkie RecursiveChunker (in process)",
        }
        for busy in (False, True):
            with core_kept_busy(busy):
                _cli_rounds(
                    rounds, max_tokens, tiny, big, small_dir, big_text, smalls, big_mb, small_mb,
                    out, busy, busy_rows,
                )  # fmt: skip


@contextlib.contextmanager
def core_kept_busy(busy: bool = True) -> Iterator[None]:
    """Another process spinning on one core meanwhile (when ``busy``): a shared machine."""
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
    try:
        yield
    finally:
        if hog is not None:
            hog.kill()
            hog.wait()


def _cli_rounds(
    rounds: int,
    max_tokens: int,
    tiny: Path,
    big: Path,
    small_dir: Path,
    big_text: str,
    smalls: list[str],
    big_mb: float,
    small_mb: float,
    out: Path,
    busy: bool,
    busy_rows: set[str],
) -> None:
    # (input label, row name) -> seconds per round; CLI rows keep (wall, start-up) pairs.
    times: dict[tuple[str, str], list[float]] = {}
    walls: dict[tuple[str, str], list[float]] = {}
    startups: dict[str, list[float]] = {}
    chunkers = ("recursive",) if busy else ("recursive", "token", "sentence")
    for _ in range(rounds):
        for chunker in chunkers:
            start = time_command(chunk_command(tiny, chunker, max_tokens, out))
            startups.setdefault(chunker, []).append(start)
            inputs = [("5 MB file", big)]
            if chunker == "recursive":
                inputs.append(("2,000 files", small_dir))
            for label, path in inputs:
                wall = time_command(chunk_command(path, chunker, max_tokens, out))
                key = (label, f"chunkwise {chunker} (CLI)")
                walls.setdefault(key, []).append(wall)
                times.setdefault(key, []).append(wall - start)
                if label == "2,000 files":
                    # The same folder without workers: what the pool adds or saves here.
                    cmd = chunk_command(path, chunker, max_tokens, out, "--jobs", "0")
                    wall = time_command(cmd)
                    key = (label, f"chunkwise {chunker} --jobs 0 (CLI)")
                    walls.setdefault(key, []).append(wall)
                    times.setdefault(key, []).append(wall - start)
        methods = build_methods(max_tokens)
        peers = {
            "chonkie RecursiveChunker": "chonkie RecursiveChunker (in process)",
            "chonkie TokenChunker": "chonkie TokenChunker (in process)",
            "semchunk": "semchunk (in process)",
            "langchain RecursiveCharacterTextSplitter": "langchain recursive (in process)",
        }
        for name, row in peers.items():
            if name not in methods or (busy and row not in busy_rows):
                continue
            fn = methods[name]
            fn("Warm-up text. " * 20)
            t0 = time.perf_counter()
            fn(big_text)
            times.setdefault(("5 MB file", row), []).append(time.perf_counter() - t0)
            if name == "chonkie RecursiveChunker":
                t0 = time.perf_counter()
                for text in smalls:
                    fn(text)
                times.setdefault(("2,000 files", row), []).append(time.perf_counter() - t0)
    load = "another process keeping one core busy" if busy else "no extra load"
    print(
        f"\nend to end ({load}): `chunk ingest` (default --jobs) vs peers in process, "
        f"max_tokens={max_tokens}, cl100k_base, median of {rounds} interleaved rounds"
    )
    starts = ", ".join(f"{c} {statistics.median(v):.3f} s" for c, v in startups.items())
    print(f"start-up (the command on a 2 KB file, whole process): {starts}")
    for label, mb in (("5 MB file", big_mb), ("2,000 files", small_mb)):
        rows = [(row, v) for (lab, row), v in times.items() if lab == label]
        if not rows:
            continue
        print(f"{label} ({mb:.2f} MB)")
        print(f"  {'method':<40} {'MB/s':>8} {'wall s':>8}")
        for row, v in rows:
            wall = walls.get((label, row))
            wall_s = f"{statistics.median(wall):>8.2f}" if wall else f"{'':>8}"
            print(f"  {row:<40} {mb / statistics.median(v):>8.2f} {wall_s}")
    print("speed ratios (peer time / chunkwise time; > 1 means chunkwise is faster):")
    pairs = [
        ("5 MB file", "recursive", "chonkie RecursiveChunker", "1.5"),
        ("2,000 files", "recursive", "chonkie RecursiveChunker", "1.5"),
        ("2,000 files", "recursive --jobs 0", "chonkie RecursiveChunker", "1.5"),
        ("5 MB file", "token", "chonkie TokenChunker", "1"),
        ("5 MB file", "sentence", "semchunk", "2"),
    ]
    for label, ours_name, peer, target in pairs:
        mine = times.get((label, f"chunkwise {ours_name} (CLI)"))
        theirs = times.get((label, f"{peer} (in process)"))
        if mine and theirs:
            ratio = statistics.median(theirs) / statistics.median(mine)
            print(f"  {ours_name} CLI vs {peer}, {label}: {ratio:.2f}x (target >= {target}x)")


def main() -> None:
    global CORPUS
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--max-tokens", type=int, default=512)
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    ap.add_argument("--no-cli", action="store_true", help="only the in-process section")
    ap.add_argument("--only-cli", action="store_true", help="only the end-to-end section")
    ap.add_argument("--startup-only", action="store_true", help="only the start-up rows")
    ap.add_argument("--startup-rounds", type=int, default=11)
    args = ap.parse_args()
    CORPUS = args.corpus

    startup_section(args.startup_rounds)
    if args.startup_only:
        return
    if not args.no_cli:
        cli_section(args.rounds, args.max_tokens)
    if args.only_cli:
        return
    small = load_texts()
    for label, texts in (("small docs", small), ("long docs", long_docs(small))):
        mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
        times: dict[str, list[float]] = {}
        counts: dict[str, int] = {}
        for _ in range(args.rounds):
            # Fresh chunker objects every round: semchunk and chonkie memoise token counts, and a
            # second pass over the same text would time their caches, not their chunking.
            methods = build_methods(args.max_tokens)
            for name, fn in methods.items():
                fn("Warm-up text. " * 20)  # lazy imports and first-call set-up, not timed
                t0 = time.perf_counter()
                counts[name] = sum(fn(t) for t in texts)
                times.setdefault(name, []).append(time.perf_counter() - t0)
        ours = statistics.median(times["chunkwise recursive"])
        print(
            f"\n{label}: {len(texts)} documents, {mb:.2f} MB, max_tokens={args.max_tokens}, "
            f"cl100k_base, median of {args.rounds} interleaved rounds"
        )
        print(f"{'method':<42} {'MB/s':>8} {'chunks':>8} {'time / chunkwise recursive':>27}")
        for name in times:
            med = statistics.median(times[name])
            print(f"{name:<42} {mb / med:>8.2f} {counts[name]:>8} {med / ours:>26.2f}x")


if __name__ == "__main__":
    main()
