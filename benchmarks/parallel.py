"""Parallel and incremental runs at scale: documents/s and peak RSS for --jobs 0/1/2 on a generated
folder of mixed documents, against the stdlib ``ProcessPoolExecutor`` running the same per-document
work, and the time of a second ``--state`` run after 1% of the files changed.

    .venv/bin/python benchmarks/parallel.py                # 2,000 documents
    .venv/bin/python benchmarks/parallel.py --docs 10000   # the issue's scale

Every ``chunk`` run is a fresh process; peak RSS is that of the largest single process of the run
(the main process or one worker), from ``getrusage(RUSAGE_CHILDREN)`` in a wrapper process.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_docs"
PY = sys.executable

_WRAP = (
    "import json, resource, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)\n"
    "dt = time.perf_counter() - t\n"
    "ru = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "rss, cpu = ru.ru_maxrss, ru.ru_utime + ru.ru_stime\n"
    "print(json.dumps({'rc': p.returncode, 'seconds': dt, 'rss_kb': rss, 'cpu': cpu,"
    " 'stderr': p.stderr.decode()[-2000:]}))\n"
)


def generate(folder: Path, n: int, seed: int = 1) -> None:
    """n unique documents: text, Markdown, source code and HTML built from the samples."""
    rng = random.Random(seed)
    pools = {
        "txt": sorted((SAMPLES / "text").glob("*.txt")),
        "md": sorted((SAMPLES / "markdown").glob("*.md")),
        "code": sorted(
            p for p in (SAMPLES / "code").glob("*.*") if p.suffix in {".py", ".go", ".js", ".rs"}
        ),
        "html": sorted((SAMPLES / "html").glob("*.html")),
    }
    pools = {k: v for k, v in pools.items() if v}
    texts = {p: p.read_bytes() for files in pools.values() for p in files}
    kinds = sorted(pools)
    for i in range(n):
        kind = kinds[i % len(kinds)]
        src = rng.choice(pools[kind])
        body = texts[src]
        # Keep documents small and unique: a slice of the sample plus a numbered line.
        if kind in ("txt", "md"):
            start = rng.randrange(max(1, len(body) - 4000))
            cut = body[start : start + rng.randint(800, 4000)]
            data = f"Document {i}\n\n".encode() + cut.decode("utf-8", "ignore").encode()
        elif kind == "code":
            comment = b"# " if src.suffix == ".py" else b"// "
            data = comment + f"document {i}\n".encode() + body
        else:
            data = body.replace(b"<body", f"<!-- document {i} --><body".encode(), 1)
        sub = folder / f"part{i // 500:03d}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"doc{i:05d}-{src.stem}{src.suffix}").write_bytes(data)


def run_chunk(args: list[str]) -> dict[str, object]:
    cmd = [PY, "-c", _WRAP, PY, "-m", "chunkwise.cli.app", *args]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=True)
    return json.loads(out.stdout)


_POOL_SCRIPT = """
import sys, time, json, resource
from concurrent.futures import ProcessPoolExecutor
from chunkwise.pipeline import IngestOptions, Processor, iter_sources
from chunkwise.walk import WalkOptions
from chunkwise.records import chunk_record
from chunkwise.writers.jsonl import JsonlWriter

PROC = None
def init():
    global PROC
    PROC = Processor(IngestOptions())
def work(src):
    return PROC.process(src)
if __name__ == "__main__":
    folder, out, jobs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    t = time.perf_counter()
    w = JsonlWriter(out)
    with ProcessPoolExecutor(jobs, initializer=init) as ex:
        for r in ex.map(work, iter_sources([folder], WalkOptions()), chunksize=8):
            if r.doc is not None:
                w.write(chunk_record(c, r.doc) for c in r.chunks)
    w.close()
    print(json.dumps({"seconds": time.perf_counter() - t}))
"""


def run_stdlib_pool(folder: Path, out: Path, jobs: int) -> dict[str, object]:
    script = out.parent / "stdlib_pool.py"
    script.write_text(_POOL_SCRIPT)
    cmd = [PY, "-c", _WRAP, PY, str(script), str(folder), str(out), str(jobs)]
    res = json.loads(subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT).stdout)
    return res


def touch_one_percent(folder: Path, seed: int = 2) -> int:
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    rng = random.Random(seed)
    changed = rng.sample(files, max(1, len(files) // 100))
    for f in changed:
        if f.suffix in (".txt", ".md"):
            f.write_bytes(f.read_bytes() + b"\nA new closing line.\n")
        elif f.suffix == ".html":
            f.write_bytes(f.read_bytes().replace(b"<body", b"<!-- changed --><body", 1))
        else:
            f.write_bytes(b"\n" + f.read_bytes())
    return len(changed)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=2000)
    ap.add_argument("--keep", action="store_true", help="keep the generated folder")
    ap.add_argument("--incremental-only", action="store_true", help="skip the --jobs comparison")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="chunkwise-bench-"))
    folder = tmp / "docs"
    generate(folder, args.docs)
    n = sum(1 for p in folder.rglob("*") if p.is_file())
    out = tmp / "out.jsonl"
    print(
        f"{n} documents in {folder}; load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} CPUs\n"
    )
    if not args.incremental_only:
        compare_jobs(folder, tmp, out, n)
    incremental(folder, tmp, out, n)
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)


def compare_jobs(folder: Path, tmp: Path, out: Path, n: int) -> None:
    rows = []
    # Warm the page cache and imports so the first timed run is not penalised.
    run_chunk(["ingest", str(folder), "-o", str(out), "--jobs", "2", "-q"])
    for label, extra in (
        ("chunk --jobs 0 (in process)", ["--jobs", "0"]),
        ("chunk --jobs 1 (1 worker)", ["--jobs", "1"]),
        ("chunk --jobs 2", ["--jobs", "2"]),
    ):
        r = run_chunk(["ingest", str(folder), "-o", str(out), "-q", *extra])
        assert r["rc"] in (0, 1), r["stderr"]
        rows.append((label, float(r["seconds"]), float(r["cpu"]), int(r["rss_kb"])))
        if label.endswith("--jobs 2"):
            shutil.copy(out, tmp / "jobs2.jsonl")
        if "jobs 0" in label:
            shutil.copy(out, tmp / "jobs0.jsonl")
    same = (tmp / "jobs0.jsonl").read_bytes() == (tmp / "jobs2.jsonl").read_bytes()
    r = run_stdlib_pool(folder, tmp / "pool.jsonl", 2)
    label = "stdlib ProcessPoolExecutor, 2 (no timeouts)"
    rows.append((label, float(r["seconds"]), float(r["cpu"]), int(r["rss_kb"])))

    base = rows[0][1]
    print("| run | wall s | docs/s | speed-up vs --jobs 0 | CPU s | peak RSS MB |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, secs, cpu, rss in rows:
        print(
            f"| {label} | {secs:.1f} | {n / secs:.0f} | {base / secs:.2f}x | {cpu:.1f} "
            f"| {rss / 1024:.0f} |"
        )
    print(f"\n--jobs 2 output byte-identical to --jobs 0: {same}")


def incremental(folder: Path, tmp: Path, out: Path, n: int) -> None:
    """A first --state run, then 1% of the files change and a second run."""
    db = tmp / "state.db"
    first = run_chunk(["ingest", str(folder), "-o", str(out), "-q", "--state", str(db)])
    changed = touch_one_percent(folder)
    second = run_chunk(
        ["ingest", str(folder), "-o", str(out), "-q", "--state", str(db), "--emit-deletes"]
    )
    lines = out.read_text().splitlines()
    deletes = sum(1 for ln in lines if '"deleted":true' in ln)
    f_s, s_s = float(first["seconds"]), float(second["seconds"])  # type: ignore[arg-type]
    print("\n| incremental (--state, --jobs 2) | seconds | share of first run |")
    print("|---|---:|---:|")
    print(f"| first run, {n} documents | {f_s:.1f} | 100% |")
    print(
        f"| second run, {changed} changed ({deletes} delete records) | {s_s:.2f} | "
        f"{100 * s_s / f_s:.1f}% |"
    )


if __name__ == "__main__":
    main()
