"""PDF speed and right-to-left quality, chunkwise beside plain pymupdf and pymupdf4llm, same run.

    .venv/bin/python benchmarks/pdf_parse.py [--repeat 3] [--skip-4llm] [--unseen] [--corpus DIR]
        [PDF...]

**Speed** (pages/s, best of ``--repeat`` rounds; the machine is shared, so compare rows of one
run, not runs). Two sets: *dev*, every PDF of ../shared/corpus/pdf/ and sample_docs/pdf/ that
opens (encrypted and empty files are left out for every tool alike), which the parser was tuned
on; *held-out*, text PDFs it was not tuned on: the manuals Debian ships as PDF on this machine
(/usr/share/doc/*/*.pdf, pdfTeX), or the paths given; with ``--unseen``, a third set typeset by
benchmarks/unseen_pdfs.py from Debian's HTML manuals (MuPDF Story). Rows:

- ``pymupdf get_text``: plain text extraction, in process (the floor: no layout at all).
- ``chunkwise PdfParser``: the parser in process (layout, headings, tables, reading order).
- ``chunk ingest -j 0`` / ``chunk ingest``: the whole command as a user runs it (default chunker,
  default worker count), a new process per round, output to /dev/null; ``net`` subtracts the same
  command on a 2 KB text file (start-up: interpreter, CLI, tokenizer). Also pages per CPU second
  of all the command's processes (steadier than the wall clock when other jobs share the cores).
- ``pymupdf4llm``: its default (layout model, OCR allowed), ``use_ocr=False``, and its legacy
  ``pymupdf_rag`` path (no layout model); progress messages are swallowed.

**Right to left**: coverage and order of the known text (tests/parsers/rtl_samples.py) in the
Arabic, Persian and Hebrew PDFs of sample_docs/pdf/rtl/, chunkwise's parser beside plain pymupdf
(``get_text()``) and pymupdf4llm's Markdown. Coverage is the share of the known words found;
order is their longest common subsequence over the words found.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CORPUS = ROOT.parent / "shared" / "corpus" / "pdf"
SAMPLES = ROOT / "sample_docs" / "pdf"
RTL = SAMPLES / "rtl"


def readable(paths: list[Path]) -> list[Path]:
    import pymupdf

    ok = []
    for p in paths:
        try:
            doc = pymupdf.open(p)
        except Exception:
            continue
        if not doc.needs_pass and doc.page_count:
            ok.append(p)
        doc.close()
    return ok


def expand(args: list[str]) -> list[Path]:
    out: list[Path] = []
    for a in args:
        p = Path(a)
        out.extend(sorted(p.glob("*.pdf")) if p.is_dir() else [p])
    return out


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    """pymupdf4llm prints progress to stdout, also from its layout worker processes: silence
    file descriptor 1 itself (workers started in here inherit the silence)."""
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def plain(p: Path) -> str:
    import pymupdf

    with pymupdf.open(p) as doc:
        return "\n".join(page.get_text() for page in doc)


def ours(p: Path) -> str:
    from chunkwise.parsers.pdf import PdfParser

    return PdfParser().parse(p).text


def peer(mode: str) -> Callable[[Path], str]:
    def run(p: Path) -> str:
        import pymupdf4llm

        with _quiet_stdout():
            if mode == "rag":
                from pymupdf4llm.helpers import pymupdf_rag

                out: Any = pymupdf_rag.to_markdown(str(p), show_progress=False)
            elif mode == "no-ocr":
                out = pymupdf4llm.to_markdown(str(p), show_progress=False, use_ocr=False)
            else:
                out = pymupdf4llm.to_markdown(str(p), show_progress=False)
        return str(out)

    return run


def best_of(repeat: int, fn: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


CPU: dict[str, float] = {}


def cli(folder: Path, jobs: int | None) -> None:
    """One ``chunk ingest`` run; its CPU seconds (all its processes) are kept, lowest first, in
    CPU: on a shared machine they vary less than the wall clock."""
    cmd = [str(ROOT / ".venv" / "bin" / "chunk"), "ingest", str(folder)]
    if jobs is not None:
        cmd += ["-j", str(jobs)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    key = f"{folder}:{jobs}"
    CPU[key] = min(CPU.get(key, float("inf")), cpu)


def compile_package() -> None:
    """Write the package's bytecode first, as an installed package has it: under
    PYTHONDONTWRITEBYTECODE every ``chunk`` process would otherwise compile ~40 modules
    (~0.1 s) again, a cost no installed user pays."""
    dirs = [str(ROOT / d) for d in ("chunkwise", "cli", "parsers", "chunkers", "writers")]
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", *dirs], check=False, stdout=subprocess.DEVNULL
    )


def speed(name: str, files: list[Path], repeat: int, with_4llm: bool) -> None:
    import pymupdf

    pages = sum(pymupdf.open(p).page_count for p in files)
    tmp = Path(tempfile.mkdtemp(prefix="pdfbench-"))
    try:
        folder = tmp / "pdfs"
        folder.mkdir()
        for i, p in enumerate(files):
            shutil.copy(p, folder / f"{i:03d}-{p.name}")
        small = tmp / "small" / "two-kb.txt"
        small.parent.mkdir()
        small.write_text("A short note about rivers and bread. " * 55, encoding="utf-8")
        ours(files[0])  # imports once, as a long run would have them
        rows: list[tuple[str, float, str]] = [
            ("pymupdf get_text", best_of(repeat, lambda: [plain(p) for p in files]), ""),
            ("chunkwise PdfParser", best_of(repeat, lambda: [ours(p) for p in files]), ""),
        ]
        start = {j: best_of(repeat, lambda j=j: cli(small.parent, j)) for j in (0, None)}
        for j in (0, None):
            secs = best_of(repeat, lambda j=j: cli(folder, j))
            label = "chunk ingest -j 0" if j == 0 else "chunk ingest"
            cpu, cpu0 = CPU[f"{folder}:{j}"], CPU[f"{small.parent}:{j}"]
            note = (
                f"net {pages / max(secs - start[j], 1e-9):6.1f}; per CPU second "
                f"{pages / cpu:6.1f}, net of start-up {pages / max(cpu - cpu0, 1e-9):6.1f}"
            )
            rows.append((label, secs, note))
        if with_4llm:
            for mode, label in (
                ("layout", "pymupdf4llm (layout)"),
                ("no-ocr", "pymupdf4llm use_ocr=False"),
                ("rag", "pymupdf4llm rag path"),
            ):
                fn = peer(mode)
                with contextlib.suppress(Exception):
                    fn(files[0])  # model load
                rows.append((label, best_of(repeat, lambda fn=fn: [fn(p) for p in files]), ""))
        load = " ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"\n{name}: {len(files)} PDFs, {pages} pages, best of {repeat}; load {load}")
        print(f"start-up (2 KB text file): -j 0 {start[0]:.2f} s, default jobs {start[None]:.2f} s")
        print(f"{'tool':<27} {'seconds':>8} {'pages/s':>8}  pages/s without start-up")
        for label, secs, note in rows:
            print(f"{label:<27} {secs:>8.2f} {pages / secs:>8.1f}  {note}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def rtl(with_4llm: bool) -> None:
    from tests.parsers.rtl_samples import coverage_order

    truth = json.loads((RTL / "rtl-truth.json").read_text(encoding="utf-8"))
    tools: list[tuple[str, Callable[[Path], str]]] = [("chunkwise", ours), ("pymupdf", plain)]
    if with_4llm:
        tools.append(("pymupdf4llm", peer("no-ocr")))
    scores: dict[tuple[str, str], list[tuple[float, float]]] = {}
    print("\nright to left: coverage / order of the known text")
    print(f"{'file':<24} " + " ".join(f"{t:>13}" for t, _ in tools))
    for name in sorted(truth):
        script = name.split("-")[0]
        cells = []
        for tool, fn in tools:
            c, o = coverage_order(truth[name], fn(RTL / name))
            scores.setdefault((script, tool), []).append((c, o))
            cells.append(f"{c:.3f}/{o:.3f}")
        print(f"{name:<24} " + " ".join(f"{x:>13}" for x in cells))
    print("per script (mean)")
    for script in sorted({s for s, _ in scores}):
        cells = []
        for tool, _ in tools:
            vals = scores[(script, tool)]
            c = sum(v[0] for v in vals) / len(vals)
            o = sum(v[1] for v in vals) / len(vals)
            cells.append(f"{c:.3f}/{o:.3f}")
        print(f"{script:<24} " + " ".join(f"{x:>13}" for x in cells))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("paths", nargs="*", help="held-out PDFs or folders (default: Debian's manuals)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--skip-4llm", action="store_true", help="leave pymupdf4llm out of the speed rows (slow)"
    )
    ap.add_argument("--corpus", default=str(CORPUS), help="the shared corpus's pdf/ folder")
    ap.add_argument(
        "--unseen",
        action="store_true",
        help="also time the PDFs benchmarks/unseen_pdfs.py typesets from Debian's HTML manuals",
    )
    args = ap.parse_args()
    with_4llm = not args.skip_4llm
    compile_package()
    dev = readable(expand([args.corpus, str(SAMPLES)]))
    debian = sorted(Path("/usr/share/doc").glob("*/*.pdf"))
    held = readable(expand(args.paths) if args.paths else debian)
    speed("dev (corpus + sample_docs)", dev, args.repeat, with_4llm)
    if held:
        speed("held-out text PDFs", held, args.repeat, with_4llm)
    if args.unseen:
        from unseen_pdfs import build

        with tempfile.TemporaryDirectory(prefix="unseen-pdfs-") as tmp:
            made = readable(build(Path(tmp)))
            if made:
                speed("unseen (MuPDF Story from Debian HTML)", made, args.repeat, with_4llm)
    # Six one-page files: pymupdf4llm (use_ocr=False) is cheap enough here even with --skip-4llm.
    rtl(True)


if __name__ == "__main__":
    main()
