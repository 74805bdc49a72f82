"""Scale-out: documents/s of ``chunk ingest`` with the local engine and with ``--engine ray`` on
this machine, in the same run, on the same generated folder (and the same output checked).

    .venv/bin/python benchmarks/scale.py                       # 2,000 documents, 200 embedded
    .venv/bin/python benchmarks/scale.py --docs 10000 --embed-docs 500

Rows:
- local --jobs 0 / --jobs N: the local engine in one process / N worker processes;
- ray (own instance): ``chunk`` starts a local Ray instance itself (start-up included);
- ray (attached): ``chunk --ray-address`` joins an instance this script started beforehand,
  which is how a cluster is used (the cluster is already up); "warm" is the second such run;
  ``--jobs 0`` runs documents in the Ray task itself, without the forked child that isolates
  crashes and enforces ``--timeout``;
- the --embed rows: late-chunking embeddings (all-MiniLM-L6-v2, CPU) on a subset.

Every ``chunk`` run is a fresh process writing JSONL to a file; the last column compares it with
the local engine's: byte-identical, or the same records with embeddings within a tolerance.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
sys.path.insert(0, str(Path(__file__).resolve().parent))

from parallel import generate  # noqa: E402  (the same mixed folder as benchmarks/parallel.py)


def run_chunk(args: list[str], out: Path) -> float:
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    t = time.perf_counter()
    with out.open("wb") as fh:
        proc = subprocess.run(
            [PY, "-m", "chunkwise.cli.app", "ingest", *args, "-q"],
            stdout=fh,
            stderr=subprocess.PIPE,
            cwd=ROOT,
            env=env,
        )
    dt = time.perf_counter() - t
    if proc.returncode not in (0, 1):
        sys.stderr.write(proc.stderr.decode()[-3000:])
        raise SystemExit(f"chunk {' '.join(args)} exited {proc.returncode}")
    return dt


def compare(ref: Path, out: Path) -> str:
    """ "identical" (bytes), or the largest embedding difference when only vectors differ (a
    different batch composition and thread count change float sums in the last bits)."""
    if ref.read_bytes() == out.read_bytes():
        return "identical"
    import numpy as np

    a = [json.loads(line) for line in ref.read_text().splitlines()]
    b = [json.loads(line) for line in out.read_text().splitlines()]
    strip = lambda r: {k: v for k, v in r.items() if k != "embedding"}  # noqa: E731
    if len(a) != len(b) or any(strip(x) != strip(y) for x, y in zip(a, b, strict=True)):
        return "DIFFERENT records"
    va = np.array([r["embedding"] for r in a], dtype=np.float64)
    vb = np.array([r["embedding"] for r in b], dtype=np.float64)
    return f"same records, vectors within {np.abs(va - vb).max():.1e}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--docs", type=int, default=2000)
    ap.add_argument("--embed-docs", type=int, default=200, help="0 skips the --embed rows")
    ap.add_argument("--cpus", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()

    import ray

    work = Path(tempfile.mkdtemp(prefix="chunk-scale-"))
    try:
        folder = work / "docs"
        generate(folder, args.docs)
        sub = work / "embed"
        if args.embed_docs:
            generate(sub, args.embed_docs, seed=3)
        rows: list[tuple[str, int, float, str]] = []
        refs: dict[str, Path] = {}

        def measure(label: str, paths: Path, extra: list[str], key: str) -> None:
            out = work / f"out-{len(rows)}.jsonl"
            dt = run_chunk([str(paths), *extra], out)
            same = compare(refs[key], out) if key in refs else "reference"
            refs.setdefault(key, out)
            n = args.docs if paths == folder else args.embed_docs
            rows.append((label, n, dt, same))
            print(f"  {label}: {dt:.1f} s ({same})", file=sys.stderr)

        jobs = str(args.cpus)
        measure(f"local --jobs {jobs}", folder, ["--jobs", jobs], "chunk")
        measure("local --jobs 0", folder, ["--jobs", "0"], "chunk")
        measure("ray (own instance)", folder, ["--engine", "ray"], "chunk")
        t = time.perf_counter()
        ctx = ray.init(
            num_cpus=args.cpus, include_dashboard=False, log_to_driver=False, logging_level="ERROR"
        )
        startup = time.perf_counter() - t
        addr = ctx.address_info["gcs_address"]
        try:
            measure("ray (attached)", folder, ["--engine", "ray", "--ray-address", addr], "chunk")
            measure(
                "ray (attached, warm)", folder, ["--engine", "ray", "--ray-address", addr], "chunk"
            )
            measure(
                "ray (attached, --jobs 0: no crash isolation)",
                folder,
                ["--engine", "ray", "--ray-address", addr, "--jobs", "0"],
                "chunk",
            )
            if args.embed_docs:
                emb = ["--embed", "--device", "cpu"]
                measure(f"local --embed --jobs {jobs}", sub, [*emb, "--jobs", jobs], "embed")
                measure(
                    "ray --embed (attached, 1 CPU actor)",
                    sub,
                    [*emb, "--engine", "ray", "--ray-address", addr],
                    "embed",
                )
        finally:
            ray.shutdown()

        ref = {k: v for k, v in ((r[0], r[2]) for r in rows)}
        print(f"\nchunk ingest, {args.cpus} CPUs, no GPU; Ray start-up alone: {startup:.1f} s\n")
        print(f"| run | docs | seconds | docs/s | vs local --jobs {jobs} | same output |")
        print("|---|---:|---:|---:|---:|---|")
        for label, n, dt, same in rows:
            local_key = (
                f"local --embed --jobs {jobs}" if "embed" in label else f"local --jobs {jobs}"
            )
            ratio = ref[local_key] / dt
            print(f"| {label} | {n} | {dt:.1f} | {n / dt:.1f} | {ratio:.2f}x | {same} |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
