"""Per-file CPU of reading and parsing small files, the step before tokenizing.

``Processor._steps`` up to its first pause (stat, parser lookup, read, decode, legal detection,
paragraphs, document) on every file of a folder, and four of its parts alone (on bytes and
texts read beforehand; ``markdown`` is the Markdown parser's block pass, for a folder of ``.md``
files). Process CPU, the best of 7 runs over all files, the garbage collector off
while timed. With ``--other PYTHON`` (another build's interpreter, which imports its own
chunkwise) each round measures this build, then the other, and the medians follow.

    .venv/bin/python benchmarks/parse_step.py /tmp/bench/small \\
        --other /work/main/.venv/bin/python --rounds 5
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path


def measure(folder: Path) -> dict[str, float]:
    from chunkwise.parsers.legal import looks_legal
    from chunkwise.parsers.markdown import parse_markdown

    from chunkwise.names import display
    from chunkwise.parsing import decode_text, paragraph_elements
    from chunkwise.pipeline import IngestOptions, Processor, Source

    files = sorted(p for p in folder.iterdir() if p.is_file())
    proc = Processor(IngestOptions(chunker="recursive"))
    sources = [Source(display(str(f)), path=f) for f in files]
    data = [f.read_bytes() for f in files]
    texts = [decode_text(d)[0] for d in data]

    def steps() -> None:
        for src in sources:
            next(proc._steps(src))

    parts: dict[str, Callable[[], object]] = {
        "steps": steps,
        "decode": lambda: [decode_text(d) for d in data],
        "paragraphs": lambda: [paragraph_elements(t) for t in texts],
        "looks_legal": lambda: [looks_legal(t) for t in texts],
        "markdown": lambda: [parse_markdown(t) for t in texts],
    }
    steps()  # parser and chunker instances, lazy imports
    out = {}
    for name, fn in parts.items():
        best = float("inf")
        for _ in range(7):
            gc.collect()
            gc.disable()
            t0 = time.process_time()
            fn()
            best = min(best, time.process_time() - t0)
            gc.enable()
        out[name] = best / len(files) * 1e6
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--other", help="another build's python")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(measure(args.folder)))
        return
    builds = {"this": sys.executable, **({"other": args.other} if args.other else {})}
    seen: dict[str, list[dict[str, float]]] = {k: [] for k in builds}
    for r in range(args.rounds):
        for label, python in builds.items():
            cmd = [python, __file__, str(args.folder), "--child"]
            res = json.loads(subprocess.run(cmd, check=True, capture_output=True).stdout)
            seen[label].append(res)
            print(f"round {r + 1} {label:5} " + " ".join(f"{k}={v:.1f}" for k, v in res.items()))
    for label, rows in seen.items():
        med = {k: statistics.median(row[k] for row in rows) for k in rows[0]}
        print(f"median {label:5} " + " ".join(f"{k}={v:.1f} us" for k, v in med.items()))
    print(f"load {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
