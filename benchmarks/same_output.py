"""Byte-identical output across --jobs values (and against another build of chunk).

Runs ``chunk ingest PATH ... -o OUT.jsonl`` with ``--jobs 0``, ``1``, ``2`` and the default, and
with ``--reference CHUNK`` the same command of another build (e.g. main's
``/work/main/.venv/bin/chunk``) at its default jobs, then compares the output files byte for byte.
Error records (stderr) are compared as sets of lines; the summary line is left out (it holds the
time).

    .venv/bin/python benchmarks/same_output.py ../shared/corpus [--reference PATH/TO/chunk]
        [--chunker recursive] [-- extra ingest flags]
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
from pathlib import Path


def run(chunk: str, path: str, jobs: str | None, extra: list[str], out: Path) -> tuple[str, set]:
    cmd = [chunk, "ingest", path, *extra, "-o", str(out)]
    if jobs is not None:
        cmd += ["--jobs", jobs]
    res = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if res.returncode not in (0, 1):
        sys.exit(f"{' '.join(cmd)}: exit {res.returncode}\n{res.stderr}")
    errors = {ln for ln in res.stderr.splitlines() if ln.startswith("{")}
    return hashlib.sha256(out.read_bytes()).hexdigest(), errors


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("path")
    ap.add_argument("--reference", help="another build's chunk executable")
    ap.add_argument("--chunker", default="recursive")
    args, rest = ap.parse_known_args()  # the rest (after --): more ingest flags
    args.extra = [a for a in rest if a != "--"]
    ours = str(Path(sys.executable).with_name("chunk"))
    extra = ["--chunker", args.chunker, "-q", *args.extra]
    runs: dict[str, tuple[str, set]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for jobs in ("0", "1", "2", None):
            label = f"--jobs {jobs}" if jobs is not None else "default jobs"
            runs[label] = run(ours, args.path, jobs, extra, Path(tmp) / "out.jsonl")
        if args.reference:
            runs["reference"] = run(args.reference, args.path, None, extra, Path(tmp) / "r.jsonl")
    first_hash, first_errors = next(iter(runs.values()))
    same = True
    for label, (digest, errors) in runs.items():
        ok = digest == first_hash and errors == first_errors
        same &= ok
        print(f"{label:14} {digest[:16]} {len(errors)} error records {'' if ok else 'DIFFERS'}")
    print("identical" if same else "OUTPUTS DIFFER")
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
