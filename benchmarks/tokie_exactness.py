"""Where tokie's cl100k/o200k counts equal tiktoken's, and how much faster they are.

Three checks, each against tiktoken (the reference every backend is tested against):

1. **Safe texts.** Generated texts made of the characters ``chunkwise.tokie_bpe.SAFE`` admits
   (drawn from its own character classes, one script at a time), mixed with contractions,
   numbers, newline and space runs and long pieces, kept when ``TokieCounts.safe`` admits them:
   tokie's raw ids and counts must equal tiktoken's.
2. **Any text.** Random Unicode (every category, control characters, odd whitespace, astral
   planes): the guarded count (``TokieCounts.count``) must equal tiktoken's, and the share of
   texts where raw tokie differs is printed (what the guard is for).
3. **Files.** Every text-like file under ``--corpus`` and ``--folder``: guarded counts, and raw
   counts where the whole text is safe.

Then the speed of counting a folder's files: rs-bpe against tokie (with the guard), per file.

    .venv/bin/python benchmarks/tokie_exactness.py --cases 200000 --corpus ../shared/corpus \\
        --folder /tmp/bench/small
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chunkwise import tokie_bpe
from chunkwise.tokenizers import get_tokenizer, tiktoken_encoding

WORDS = [
    *("the", "The", "THE", "don't", "DON'T", "I'm", "we'll", "they've", "you're", "it'S"),
    *("'s", "'ll", "'d", "'M", "'Re", "'vE", "1234567", "3.14", "12,345", "http://x.y/z"),
    *("foo_bar", "camelCase", "\n\n", "  ", "   ", "\n", "    x", "...", "!!!", "\n/usr"),
    *(". \n", "x\n", "a'b", "'t's", "’s", "“Hi”", "—", "–", "…", "naïve", "Éclair", "ÉCOLE"),
    *("über", "ß", "’T", "1st", "x2", "$100", "(a)", "[1]", "{x}", "<b>", "a/b", " .", ". "),
]


def gen_safe(rnd: random.Random, blocks: list[list[str]], safe: Callable[[str], bool]) -> str:
    """A text of ASCII and the admitted characters of one or two 128-code-point blocks (one
    script at a time, so every script's characters meet ASCII punctuation, digits and space)."""
    ascii_part = [chr(i) for i in range(32, 127)]
    while True:
        picked = [c for b in rnd.sample(blocks, min(len(blocks), rnd.choice([1, 1, 2]))) for c in b]
        alphabet = rnd.choice([picked, picked + ascii_part, picked + list(" \n\n'.,sA")])
        parts = []
        for _ in range(rnd.choice([1, 2, 3, 5, 10, 30, 100])):
            if rnd.random() < 0.02:
                # A long piece, up to the 1,500-character runs SAFE admits.
                unit = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(1, 3)))
                parts.append(unit * (rnd.randint(50, 1499) // len(unit)))
            elif rnd.random() < 0.35:
                parts.append(rnd.choice(WORDS))
            else:
                parts.append("".join(rnd.choice(alphabet) for _ in range(rnd.randint(1, 8))))
        text = rnd.choice(["", " "]).join(parts)
        if safe(text):
            return text


def gen_any(rnd: random.Random) -> str:
    if rnd.random() < 0.01:
        # A long run (tokie encodes pieces over 10,000 bytes differently).
        unit = rnd.choice(["-", "\n", " ", "ab", "é", "가", "!?", "x ", "\n/", "\n//", "/\n\n"])
        return rnd.choice(["x", "!", "a."]) + unit * rnd.randint(1000, 12000)
    out = []
    for _ in range(rnd.randint(1, 60)):
        r = rnd.random()
        if r < 0.3:
            out.append(rnd.choice(WORDS))
        elif r < 0.5:
            out.append(chr(rnd.randint(0, 0x7F)))
        elif r < 0.8:
            out.append(chr(rnd.randint(0x80, 0x3000)))
        else:
            c = rnd.randint(0x3000, 0x2FFFF)
            out.append(chr(c) if not 0xD800 <= c < 0xE000 else "x")
    return "".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=20000, help="generated texts per check")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--corpus", type=Path, action="append", default=[])
    ap.add_argument("--folder", type=Path, help="a folder of small files to time counts on")
    ap.add_argument("--encodings", default="cl100k_base,o200k_base")
    args = ap.parse_args()
    failed = 0
    for name in args.encodings.split(","):
        ref = tiktoken_encoding(name)
        rs = get_tokenizer(name)._tok  # rs-bpe
        exact = rs.count
        counts = tokie_bpe.load(name, exact, rs.encode)
        if counts is None:
            print(f"{name}: tokie unavailable")
            return 2
        raw_tok = counts.tok
        chars = tokie_bpe.admitted(name)
        by_block: dict[int, list[str]] = {}
        for c in chars:
            by_block.setdefault(ord(c) >> 7, []).append(c)
        blocks = list(by_block.values())
        rnd = random.Random(args.seed)
        bad = 0
        t0 = time.perf_counter()
        for _ in range(args.cases):
            text = gen_safe(rnd, blocks, counts.safe)
            want = ref.encode_ordinary(text)
            got = list(raw_tok.encode(text, add_special_tokens=False).ids)
            if got != want or counts.tok.count_tokens(text) != len(want):
                bad += 1
                if bad <= 5:
                    print(f"  {name} safe text differs: {text[:200]!r}")
        print(
            f"{name}: safe texts {args.cases}, {len(chars)} characters admitted: "
            f"{bad} differ ({time.perf_counter() - t0:.0f} s)"
        )
        failed += bad
        bad = raw_bad = unsafe = 0
        for _ in range(args.cases):
            text = gen_any(rnd)
            n = len(ref.encode_ordinary(text))
            unsafe += not counts.safe(text)
            raw_bad += counts.tok.count_tokens(text) != n
            if counts.count(text) != n or len(counts.encode(text)) != n:
                bad += 1
                if bad <= 5:
                    print(f"  {name} guarded count differs: {text[:200]!r}")
        print(
            f"{name}: random Unicode {args.cases}: guarded {bad} differ; raw tokie "
            f"{raw_bad} differ; {unsafe} not safe (counted by rs-bpe)"
        )
        failed += bad
        files = [p for root in args.corpus for p in sorted(root.rglob("*")) if p.is_file()]
        if args.folder:
            files += sorted(p for p in args.folder.iterdir() if p.is_file())
        bad = checked = safe_chars = total = 0
        for p in files:
            if p.suffix.lower() not in (".txt", ".md", ".html", ".htm", ".json", ".py", ".xml"):
                continue
            text = p.read_text(encoding="utf-8", errors="replace")
            n = len(ref.encode_ordinary(text))
            checked += 1
            total += len(text)
            ok = counts.count(text) == n
            if counts.safe(text):
                safe_chars += len(text)
                ok = ok and counts.tok.count_tokens(text) == n
            if not ok:
                bad += 1
                print(f"  {name} file differs: {p}")
        if checked:
            print(
                f"{name}: {checked} files, {bad} differ; {safe_chars / max(total, 1):.1%} of "
                "their characters in wholly safe files"
            )
        failed += bad
        if args.folder:
            texts = [
                p.read_text(encoding="utf-8", errors="replace")
                for p in sorted(args.folder.iterdir())
                if p.is_file()
            ]
            timed_counts = (
                ("rs-bpe", exact),
                ("tokie, guarded", counts.count),
                ("tokie, unchecked", counts.tok.count_tokens),  # timing only: the guard's cost
                ("ids: rs-bpe", rs.encode),
                ("ids: tokie, guarded", counts.encode),
            )
            for label, fn in timed_counts:
                best = min(_timed(fn, texts) for _ in range(5))
                print(f"{name}: {label:15s} {best / len(texts) * 1e6:7.1f} us a file")
    print("all equal" if not failed else f"{failed} differences")
    return 1 if failed else 0


def _timed(fn: object, texts: list[str]) -> float:
    t0 = time.process_time()
    for t in texts:
        fn(t)  # type: ignore[operator]
    return time.process_time() - t0


if __name__ == "__main__":
    sys.exit(main())
