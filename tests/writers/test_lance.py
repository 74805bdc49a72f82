"""LanceDB output: a full run's table holds the records JSONL gets; incremental runs (--state) leave
the table equal to a fresh full run after any edits; a killed run leaves the previous version or
the new one; settings that would mix models are refused."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

lancedb = pytest.importorskip("lancedb")

from chunkwise.writers.lance import TABLE, LanceWriter, table_settings  # noqa: E402

from chunkwise.chunking import ChunkerConfig  # noqa: E402
from chunkwise.errors import UsageError  # noqa: E402
from chunkwise.pipeline import IngestOptions, ingest  # noqa: E402
from chunkwise.records import SCHEMA_VERSION  # noqa: E402
from chunkwise.state import State  # noqa: E402
from tests.conftest import ROOT, run_cli  # noqa: E402

OPTIONS = IngestOptions(chunker="token", chunker_config=ChunkerConfig(max_tokens=6))


def run_lance(folder: Path, out: Path, state_path: Path | None = None) -> None:
    writer = LanceWriter(str(out))
    if state_path is None:
        ingest([str(folder)], OPTIONS, writer)
        writer.close()
        return
    with State(state_path) as state:
        ingest([str(folder)], OPTIONS, writer, state=state)
        writer.close()
        state.commit()


def table_rows(path: Path) -> list[dict[str, Any]]:
    table = lancedb.connect(str(path)).open_table(TABLE)
    rows = table.to_arrow().to_pylist()
    return sorted(rows, key=lambda r: (r["source"], r["id"]))


def test_full_run_holds_the_jsonl_records(tmp_path: Path) -> None:
    docs = ROOT / "sample_docs" / "markdown"
    out = tmp_path / "kb.lance"
    res = run_cli("ingest", str(docs), "-j0", "-f", "lance", "-o", str(out))
    assert res.returncode == 0, res.stderr
    jsonl = run_cli("ingest", str(docs), "-j0").records()
    rows = table_rows(out)
    for r in rows:
        r["metadata"] = json.loads(r["metadata"])
    assert rows == sorted(jsonl, key=lambda r: (r["source"], r["id"]))
    table = lancedb.connect(str(out)).open_table(TABLE)
    meta = table_settings(table.schema)
    assert meta["schema_version"] == SCHEMA_VERSION
    assert meta["tokenizer"] == "cl100k_base"
    assert meta["embedding_model"] == ""
    assert "text" in {ix.columns[0] for ix in table.list_indices()}
    # The full-text index answers.
    word = max(rows[0]["text"].split(), key=len).strip(".,:;()*`#")
    hit = table.search(word, query_type="fts").limit(3).to_arrow()
    assert hit.num_rows >= 1 and any(word in t for t in hit.column("text").to_pylist())


WORDS = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda".split()


@st.composite
def edits(draw: st.DrawFn) -> list[tuple[str, int, int]]:
    """A sequence of (action, file number, paragraph count) edits on a folder of five files."""
    steps = draw(st.integers(1, 4))
    return [
        (
            draw(st.sampled_from(["write", "write", "delete", "copy", "break"])),
            draw(st.integers(0, 4)),
            draw(st.integers(1, 5)),
        )
        for _ in range(steps)
    ]


def apply(folder: Path, edit: tuple[str, int, int], clock: list[int]) -> None:
    action, n, paragraphs = edit
    path = folder / f"f{n}.txt"
    clock[0] += 10**9  # a distinct mtime per edit, whatever the file system's resolution
    if action == "write":
        words = [WORDS[(n + i) % len(WORDS)] for i in range(paragraphs * 4)]
        path.write_text(" ".join(words) + f" {clock[0]}\n", encoding="utf-8")
    elif action == "delete":
        path.unlink(missing_ok=True)
        return
    elif action == "copy":
        src = folder / f"f{(n + 1) % 5}.txt"
        if not src.exists():
            return
        shutil.copyfile(src, path)  # identical bytes: same doc id under two sources
    else:
        path.write_bytes(b"\x00\x01binary\x00" * 20)  # becomes an error record
    os.utime(path, ns=(clock[0], clock[0]))


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sequence=edits())
def test_incremental_runs_equal_a_fresh_full_run(tmp_path: Path, sequence: Any) -> None:
    work = tmp_path / f"run{time.monotonic_ns()}"
    folder = work / "docs"
    folder.mkdir(parents=True)
    clock = [1_700_000_000 * 10**9]
    for n in range(3):
        apply(folder, ("write", n, n + 1), clock)
    kb, state = work / "kb.lance", work / "kb.state"
    run_lance(folder, kb, state)
    for i, edit in enumerate(sequence):
        apply(folder, edit, clock)
        run_lance(folder, kb, state)
        fresh = work / f"fresh{i}.lance"
        run_lance(folder, fresh)
        assert table_rows(kb) == table_rows(fresh), f"after {sequence[: i + 1]}"


def test_unchanged_rerun_adds_no_version(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("one two three four five six seven eight nine ten\n")
    kb, state = tmp_path / "kb.lance", tmp_path / "kb.state"
    run_lance(folder, kb, state)
    version = lancedb.connect(str(kb)).open_table(TABLE).version
    run_lance(folder, kb, state)
    assert lancedb.connect(str(kb)).open_table(TABLE).version == version


def test_incremental_run_with_other_settings_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("one two three four five six seven eight nine ten\n")
    kb, state = tmp_path / "kb.lance", tmp_path / "kb.state"
    run_lance(folder, kb, state)
    writer = LanceWriter(str(kb))
    with pytest.raises(UsageError, match="embeddings of no embeddings, this run makes m1"):
        writer.begin({"embedding_model": "m1", "embedding_dim": "8"}, incremental=True)
    # Through the CLI: another tokenizer is refused with a one-line usage error, table untouched.
    before = table_rows(kb)
    res = run_cli(
        "ingest", str(folder), "-j0", "-c", "token", "--max-tokens", "6", "--tokenizer", "chars",
        "-f", "lance", "-o", str(kb), "--state", str(state),
    )  # fmt: skip
    assert res.returncode == 2
    assert "other tokenizer" in res.stderr and "Traceback" not in res.stderr
    assert table_rows(kb) == before
    # Without --state the run rebuilds the table with the new settings.
    args = ["ingest", str(folder), "-j0", "--tokenizer", "chars", "-f", "lance", "-o", str(kb)]
    res = run_cli(*args)
    assert res.returncode == 0, res.stderr
    table = lancedb.connect(str(kb)).open_table(TABLE)
    assert table_settings(table.schema)["tokenizer"] == "chars"


def test_state_without_table_is_a_usage_error(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("one two three four five six seven eight nine ten\n")
    kb, state = tmp_path / "kb.lance", tmp_path / "kb.state"
    run_lance(folder, kb, state)
    shutil.rmtree(kb)
    (folder / "b.txt").write_text("eleven twelve\n")
    res = run_cli("ingest", str(folder), "-j0", "-f", "lance", "-o", str(kb), "--state", str(state))
    assert res.returncode == 2
    assert "delete the state file" in res.stderr


_KILL_RUN = """
import sys
from pathlib import Path
from chunkwise.writers import lance

lance.ROWS_PER_BATCH = 50  # stage in many batches, so a kill can land while staging
from chunkwise.cli.app import main
sys.argv = ["chunk", *sys.argv[1:]]
main()
"""


def _kill_when(cmd: list[str], ready: Any, limit: float = 60.0) -> bool:
    """Start ``cmd``, SIGKILL it as soon as ``ready()`` holds; False if it ended first."""
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + limit
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if ready():
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                return True
            time.sleep(0.002)
        return False
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_sigkill_leaves_the_previous_or_the_new_version(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    for n in range(40):
        (folder / f"f{n:02}.txt").write_text(" ".join(WORDS * (n % 7 + 1)) + f" v1 {n}\n")
    kb, state = tmp_path / "kb.lance", tmp_path / "kb.state"
    args = ["ingest", str(folder), "-j0", "-c", "token", "--max-tokens", "4", "-f", "lance"]
    assert run_cli(*args, "-o", str(kb), "--state", str(state)).returncode == 0
    old = table_rows(kb)
    for n in range(0, 40, 2):
        (folder / f"f{n:02}.txt").write_text(" ".join(WORDS * (n % 5 + 2)) + f" v2 {n}\n")
    for n in range(30, 40):
        (folder / f"f{n:02}.txt").unlink()
    fresh = tmp_path / "fresh.lance"
    writer = LanceWriter(str(fresh))
    opts = IngestOptions(chunker="token", chunker_config=ChunkerConfig(max_tokens=4))
    ingest([str(folder)], opts, writer)
    writer.close()
    new = table_rows(fresh)
    assert new != old
    cmd = [sys.executable, "-c", _KILL_RUN, *args, "-o", str(kb), "--state", str(state)]
    data = kb / f"{TABLE}.lance" / "data"
    files_before = set(data.iterdir())

    def staging() -> bool:
        return any(p.name.endswith(".arrow.part") for p in tmp_path.iterdir())

    def committing() -> bool:
        return bool(set(data.iterdir()) - files_before)

    # Killed while staging records, then while Lance writes the new data files of the commit.
    for ready in (staging, committing):
        killed = _kill_when(cmd, ready)
        rows = table_rows(kb)
        assert rows in (old, new), f"half-written table after a kill ({ready.__name__})"
        if ready is staging:
            assert killed and rows == old
    # A run after the kills finishes the job.
    assert run_cli(*args, "-o", str(kb), "--state", str(state)).returncode == 0
    assert table_rows(kb) == new
