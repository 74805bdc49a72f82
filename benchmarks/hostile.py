"""Time and peak memory of `chunk ingest` on pathological inputs (issue 21).

    .venv/bin/python benchmarks/hostile.py                      # this tree's chunk
    .venv/bin/python benchmarks/hostile.py --chunk /work/main/.venv/bin/chunk   # a peer
    .venv/bin/python benchmarks/hostile.py --scale 0.25 --only section_headings

Each file is generated (deterministically) in a temporary folder and run alone with
`chunk ingest FILE -j 0 --timeout 0 -o /dev/null`; the peak resident memory of the child
(GNU time's %M) and the wall time are printed, with `--limit` seconds as the cut-off (reported as
"> limit"). `--scale` shrinks every file for quick runs. The same builders feed tests/fuzz.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import os
import random
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def base64_markdown(scale: float = 1.0) -> tuple[str, bytes]:
    """Markdown with an inline base64 image, as many editors export it (a 3 MB unbroken token)."""
    rng = random.Random(1)
    blob = base64.b64encode(rng.randbytes(int(2_300_000 * scale))).decode()
    text = "# Notes\n\nSome text before the picture.\n\n"
    text += f"![diagram](data:image/png;base64,{blob})\n\n## After\n\nAnd some after.\n"
    return "image.md", text.encode()


def section_headings(scale: float = 1.0) -> tuple[str, bytes]:
    """20,000 Markdown headings in about 467 KB."""
    n = int(20_000 * scale)
    lines = [f"## Heading {i}\n\nline {i}\n" for i in range(n)]
    return "headings.md", "".join(lines).encode()


def empty_headings(scale: float = 1.0) -> tuple[str, bytes]:
    """20,000 Markdown headings with nothing under them: all merge into one group."""
    return "empty-headings.md", "".join(
        f"## Heading {i}\n\n" for i in range(int(20_000 * scale))
    ).encode()


def section_large(scale: float = 1.0) -> tuple[str, bytes]:
    """3.9 MB of Markdown in 400 sections."""
    rng = random.Random(2)
    words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu".split()
    out = []
    for i in range(int(400 * scale)):
        out.append(f"# Section {i}\n\n")
        for _ in range(40):
            out.append(" ".join(rng.choice(words) for _ in range(40)) + ".\n\n")
    return "sections.md", "".join(out).encode()


def html_gzip(scale: float = 1.0) -> tuple[str, bytes]:
    """A small .html.gz that expands to about 200 MB of repetitive HTML."""
    row = b"<p>lorem ipsum dolor sit amet, consectetur adipiscing elit</p>\n"
    body = row * int(200_000_000 * scale / len(row))
    return "bomb.html.gz", gzip.compress(b"<html><body>" + body + b"</body></html>", 9)


def html_article(scale: float = 1.0) -> tuple[str, bytes]:
    """A 1.9 MB HTML page, read in article mode (under the 2 MB cut): paragraphs of numbers and
    ids (words found once) with headings between them. The small-page check recounted the
    article's remaining words after every block: quadratic, ~10 s per MB."""
    out = [b"<html><head><title>Readings</title></head><body>"]
    size, i = 0, 0
    while size < 1_900_000 * scale:
        row = b"<p>entry %d token%dx value %d and w%d</p>\n" % (i, i, i * 7, i * 13)
        if i % 10 == 0:
            row = b"<h2>Part %d</h2>\n" % i + row
        out.append(row)
        size += len(row)
        i += 1
    out.append(b"</body></html>")
    return "readings.html", b"".join(out)


def long_line_text(scale: float = 1.0) -> tuple[str, bytes]:
    """A 50 MB text file that is one line of words."""
    rng = random.Random(3)
    words = [bytes(rng.choice(b"abcdefghij") for _ in range(rng.randint(2, 9))) for _ in range(500)]
    out = bytearray()
    target = int(50_000_000 * scale)
    while len(out) < target:
        out += rng.choice(words) + b" "
    return "oneline.txt", bytes(out)


def minified_js(scale: float = 1.0) -> tuple[str, bytes]:
    """A 5.7 MB minified JavaScript file on one line."""
    piece = b"function a%d(b,c){return b.map(function(d){return d*c+%d})};var x%d=[1,2,3];"
    out = bytearray()
    i = 0
    target = int(5_700_000 * scale)
    while len(out) < target:
        out += piece % (i, i, i)
        i += 1
    return "app.min.js", bytes(out)


BUILDERS: dict[str, Callable[[float], tuple[str, bytes]]] = {
    "base64_markdown": base64_markdown,
    "section_headings": section_headings,
    "empty_headings": empty_headings,
    "section_large": section_large,
    "html_gzip": html_gzip,
    "html_article": html_article,
    "long_line_text": long_line_text,
    "minified_js": minified_js,
}
# The chunker each case is about (auto runs every candidate; section is the quadratic one).
CHUNKERS = {
    "section_headings": "section",
    "empty_headings": "section",
    "section_large": "section",
    "html_article": "section",
}
# A peer on the same file, in the same run: what a user would otherwise run on it.
PEERS = {
    "html_article": (
        "trafilatura.extract",
        "import sys, trafilatura; trafilatura.extract(open(sys.argv[1], encoding='utf-8').read(),"
        " include_tables=True, favor_precision=True)",
    ),
}


def run_one(
    chunk: str, path: Path, chunker: str, limit: float
) -> tuple[float | None, float, float]:
    """(wall seconds or None when over the limit, CPU seconds, peak RSS in MB) of one ingest in a
    child process, measured by GNU time (``%e %U %S %M``) around the command. CPU time is the
    figure to compare on a loaded machine: the wall time grows with the load, the work does not."""
    cmd = [chunk, "ingest", str(path), "-c", chunker, "-j", "0", "-o", os.devnull, "-q"]
    return timed(cmd, limit)


def timed(cmd: list[str], limit: float) -> tuple[float | None, float, float]:
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        timed = ["/usr/bin/time", "-f", "%e %U %S %M", "-o", report.name, *cmd]
        try:
            subprocess.run(
                timed, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=limit
            )
        except subprocess.TimeoutExpired:
            return None, 0.0, 0.0
        secs, user, system, kb = report.read().split()[-4:]
    return float(secs), float(user) + float(system), int(kb) / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chunk", default=str(Path(sys.executable).with_name("chunk")))
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--limit", type=float, default=180.0, help="seconds before a run is cut off")
    ap.add_argument("--only", action="append", choices=sorted(BUILDERS))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print(
            f"{'case':<18} {'chunker':<9} {'size MB':>8} {'wall s':>9} {'CPU s':>7} {'peak MB':>8}"
        )
        for name in args.only or BUILDERS:
            fname, data = BUILDERS[name](args.scale)
            path = Path(tmp) / fname
            path.write_bytes(data)
            chunker = CHUNKERS.get(name, "auto")
            secs, cpu, peak = run_one(args.chunk, path, chunker, args.limit)
            shown = (
                f"{secs:9.2f} {cpu:7.2f}" if secs is not None else f">{args.limit:8.0f} {'-':>7}"
            )
            print(f"{name:<18} {chunker:<9} {len(data) / 1e6:8.2f} {shown} {peak:8.0f}", flush=True)
            if name in PEERS:
                label, code = PEERS[name]
                secs, cpu, peak = timed([sys.executable, "-c", code, str(path)], args.limit)
                shown = f"{secs:9.2f} {cpu:7.2f}" if secs is not None else f">{args.limit:8.0f}"
                print(f"  peer: {label:<20} {shown} {peak:8.0f}", flush=True)
            path.unlink()


if __name__ == "__main__":
    main()
