"""Interleaved A/B of two builds of `chunk ingest` on one input, beside a peer in process.

Each round runs, for build A then B (B then A on odd rounds), the command on a 2 KB file and on
the input, and takes the difference (start-up cancels out, as in ``throughput.py``'s end-to-end
rows); then the peer chunks the same text in process, with fresh chunker objects (peers memoise
counts). Prints medians of wall and CPU (user + sys of the command and its workers) and each
build's ratio against the peer, each build's start-up (the 2 KB command's wall), and the load
average seen at each round. ``--busy`` keeps one core busy meanwhile (a second process spinning),
as ``throughput.py``'s one-core-busy rows do.

    .venv/bin/python benchmarks/ab_cli.py --a /work/main/.venv/bin/chunk --b .venv/bin/chunk \\
        --input /tmp/bench/big.txt --tiny /tmp/bench/tiny.txt --chunker sentence \\
        --peer semchunk --rounds 9 [-- --jobs 0]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(cmd: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds (user + sys of the finished children) of one command."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--a", required=True, help="build A's chunk executable (the reference)")
    ap.add_argument("--b", required=True, help="build B's chunk executable")
    ap.add_argument("--input", type=Path, required=True)
    ap.add_argument("--tiny", type=Path, required=True, help="a ~2 KB file: start-up")
    ap.add_argument("--chunker", default="sentence")
    ap.add_argument("--max-tokens", type=int, default=512)
    ap.add_argument("--peer", default="semchunk", help="a method of throughput.build_methods")
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--busy", action="store_true", help="another process keeps one core busy")
    ap.add_argument("--a-args", default="", help="ingest flags for A only (an A/B of flags)")
    ap.add_argument("--b-args", default="", help="ingest flags for B only (e.g. '--jobs 0')")
    args, rest = ap.parse_known_args()  # the rest (after --): more ingest flags
    extra = [a for a in rest if a != "--"]

    sys.path.insert(0, str(Path(__file__).parent))
    import throughput

    builds = {"A": args.a, "B": args.b}
    own = {"A": args.a_args.split(), "B": args.b_args.split()}
    # A folder: the peer chunks each of its files, as throughput.py's folder rows.
    paths = sorted(args.input.iterdir()) if args.input.is_dir() else [args.input]
    texts = [p.read_text(encoding="utf-8") for p in paths]
    with tempfile.TemporaryDirectory(prefix="chunkwise-ab-") as tmp:
        out = Path(tmp) / "out.jsonl"

        def cmd(name: str, path: Path) -> list[str]:
            return [
                builds[name], "ingest", str(path), "--chunker", args.chunker, "--max-tokens",
                str(args.max_tokens), "--tokenizer", "cl100k_base", "-q", "-o", str(out), *extra,
                *own[name],
            ]  # fmt: skip

        for name in builds:  # warm the file cache and the bytecode caches
            timed(cmd(name, args.input))
        walls: dict[str, list[float]] = {k: [] for k in builds}
        cpus: dict[str, list[float]] = {k: [] for k in builds}
        starts: dict[str, list[float]] = {k: [] for k in builds}
        peer_wall: list[float] = []
        peer_cpu: list[float] = []
        loads: list[float] = []
        with throughput.core_kept_busy(args.busy):
            for r in range(args.rounds):
                loads.append(os.getloadavg()[0])
                order = list(builds) if r % 2 == 0 else list(reversed(builds))
                for name in order:
                    w0, c0 = timed(cmd(name, args.tiny))
                    w1, c1 = timed(cmd(name, args.input))
                    starts[name].append(w0)
                    walls[name].append(w1 - w0)
                    cpus[name].append(c1 - c0)
                fn = throughput.build_methods(args.max_tokens)[args.peer]
                fn("Warm-up text. " * 20)
                c0, t0 = time.process_time(), time.perf_counter()
                for text in texts:
                    fn(text)
                peer_wall.append(time.perf_counter() - t0)
                peer_cpu.append(time.process_time() - c0)
    pw, pc = statistics.median(peer_wall), statistics.median(peer_cpu)
    busy = ", one core kept busy" if args.busy else ""
    print(
        f"{args.chunker} on {args.input.name} {' '.join(extra)}: {args.rounds} interleaved rounds"
        f"{busy}, 1-min load {min(loads):.2f}-{max(loads):.2f}"
    )
    print(f"  {args.peer} in process: wall {pw:.3f} s, CPU {pc:.3f} s")
    for name, exe in builds.items():
        exe = " ".join([exe, *own[name]])
        w, c = statistics.median(walls[name]), statistics.median(cpus[name])
        print(
            f"  {name} {exe}: net wall {w:.3f} s (min {min(walls[name]):.3f}), CPU {c:.3f} s; "
            f"{args.peer} / this: wall {pw / w:.2f}x, CPU {pc / c:.2f}x; "
            f"start-up {statistics.median(starts[name]):.3f} s"
        )


if __name__ == "__main__":
    main()
