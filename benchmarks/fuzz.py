"""The long fuzz run: many more mutated folders than CI, with each format's own chunker.

    .venv/bin/python benchmarks/fuzz.py                    # 200 examples, --chunker auto
    .venv/bin/python benchmarks/fuzz.py --examples 1000 --chunker recursive

Every example is a folder holding one mutated real file per registered parser (plus a few more)
next to a control file, run through the whole pipeline; see tests/fuzz/test_fuzz.py. Prints the
pytest result and the time taken; a failure prints hypothesis' shrunk example to reproduce.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=200)
    ap.add_argument("--chunker", default="auto")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per document")
    args = ap.parse_args()
    env = {
        **os.environ,
        "CHUNKWISE_FUZZ_EXAMPLES": str(args.examples),
        "CHUNKWISE_FUZZ_CHUNKER": args.chunker,
        "CHUNKWISE_FUZZ_TIMEOUT": str(args.timeout),
    }
    cmd = [sys.executable, "-m", "pytest", "tests/fuzz", "-q", "-p", "no:faulthandler", "-x"]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env)
    elapsed = time.perf_counter() - start
    print(
        f"\nfuzz: {args.examples} examples, chunker {args.chunker}: "
        f"{'passed' if proc.returncode == 0 else 'FAILED'} in {elapsed:.0f} s"
    )
    sys.exit(proc.returncode)


if __name__ == "__main__":
    main()
