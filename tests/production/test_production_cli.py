"""`chunk ingest` as cron and systemd see it: signals, exit codes, locks, state and Parquet."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from chunkwise.state import State
from tests.conftest import ROOT, run_cli

# A parser that is slow on purpose and leaves a trace, so a test can signal a run mid-way.
SLOW_PLUGIN = textwrap.dedent(
    """
    import os, time
    from chunkwise import registry
    from chunkwise.parsers.text import TextParser

    class SlowParser(TextParser):
        name = "slow"

        def parse_bytes(self, data, source):
            with open(os.environ["SLOW_MARKER"], "a") as fh:
                fh.write(source + "\\n")
            time.sleep(float(os.environ.get("SLOW_DELAY", "0.05")))
            return super().parse_bytes(data, source)

    registry.BUILTINS["parsers"]["slow"] = registry.Spec(
        "slow", "slowplugin:SlowParser", (".slow",), "test"
    )
    """
)


@pytest.fixture
def slow_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    for i in range(60):
        (folder / f"doc{i:03d}.slow").write_text(f"Document {i}.\n\nSome text for document {i}.\n")
    (tmp_path / "plugin").mkdir()
    (tmp_path / "plugin" / "slowplugin.py").write_text(SLOW_PLUGIN)
    return folder


def start_slow(tmp_path: Path, *args: str, delay: float = 0.05) -> subprocess.Popen[bytes]:
    code = (
        f"import sys; sys.path.insert(0, {str(tmp_path / 'plugin')!r}); import slowplugin; "
        "from chunkwise.cli.app import main; sys.argv = ['chunk', *sys.argv[1:]]; main()"
    )
    env = {
        **__import__("os").environ,
        "SLOW_MARKER": str(tmp_path / "marker"),
        "SLOW_DELAY": str(delay),
    }
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def wait_for_marker(tmp_path: Path, lines: int, timeout: float = 60) -> None:
    marker = tmp_path / "marker"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if marker.exists() and len(marker.read_text().splitlines()) >= lines:
            return
        time.sleep(0.02)
    raise AssertionError("the run never started parsing")


@pytest.mark.parametrize(
    "sig", [signal.SIGTERM, pytest.param(signal.SIGINT, marks=pytest.mark.slow)]
)
def test_signal_with_state_closes_parquet_and_the_next_run_finishes(
    tmp_path: Path, slow_folder: Path, sig: signal.Signals
) -> None:
    out, db = tmp_path / "out.parquet", tmp_path / "state.db"
    args = ["ingest", str(slow_folder), "-f", "parquet", "-o", str(out), "--state", str(db)]
    proc = start_slow(tmp_path, *args, "--jobs", "2", delay=0.1)
    wait_for_marker(tmp_path, 10)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + sig, err.decode()
    assert "Traceback" not in err.decode()
    # A valid Parquet file holding exactly the documents the state marks as done.
    first = pq.read_table(out).to_pylist()
    done = {r["source"] for r in first}
    # Usually a few documents are done; under heavy load it may be none, never all 60.
    assert len(done) < 60
    with State(db) as st:
        assert st.count() == len(done)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]
    # The next run picks up exactly the rest.
    out2 = tmp_path / "out2.parquet"
    args2 = ["ingest", str(slow_folder), "-f", "parquet", "-o", str(out2), "--state", str(db)]
    proc = start_slow(tmp_path, *args2, delay=0)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()
    rest = {r["source"] for r in pq.read_table(out2).to_pylist()}
    assert rest.isdisjoint(done) and len(rest | done) == 60


@pytest.mark.slow
def test_sigint_without_state_discards_the_partial_file(tmp_path: Path, slow_folder: Path) -> None:
    out = tmp_path / "out.jsonl"
    proc = start_slow(tmp_path, "ingest", str(slow_folder), "-o", str(out), "--jobs", "1")
    wait_for_marker(tmp_path, 3)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err.decode()
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


@pytest.mark.slow
def test_sigterm_on_stdout_keeps_whole_records_and_commits_them(
    tmp_path: Path, slow_folder: Path
) -> None:
    db = tmp_path / "state.db"
    proc = start_slow(tmp_path, "ingest", str(slow_folder), "--state", str(db), "--jobs", "2")
    wait_for_marker(tmp_path, 5)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err.decode()
    recs = [json.loads(line) for line in out.decode().splitlines()]
    with State(db) as st:
        assert st.count() == len({r["source"] for r in recs})


def test_a_second_run_on_a_locked_state_exits_75(tmp_path: Path, sample_docs: Path) -> None:
    db = tmp_path / "state.db"
    with State(db):
        res = run_cli("ingest", str(sample_docs / "text"), "--state", str(db))
    assert res.returncode == 75
    assert res.stdout == ""
    assert "is in use by another chunk run" in res.stderr and "--wait-lock" in res.stderr


@pytest.mark.slow
def test_incremental_cli_round_trip(tmp_path: Path, sample_docs: Path) -> None:
    docs = tmp_path / "docs"
    shutil.copytree(sample_docs / "markdown", docs)
    db = tmp_path / "state.db"
    first = run_cli("ingest", str(docs), "--state", str(db), "--emit-deletes")
    assert first.returncode == 0 and first.records()
    second = run_cli("ingest", str(docs), "--state", str(db), "--emit-deletes")
    assert second.returncode == 0 and second.stdout == "", second.stderr
    # Only the summary line: nothing chunked, every document unchanged.
    assert second.stderr.startswith("chunk: 0 documents chunked, 0 failed")
    assert second.stderr.count("\n") == 1 and " unchanged" in second.stderr
    gone = next(docs.glob("*.md"))
    gone.unlink()
    third = run_cli("ingest", str(docs), "--state", str(db), "--emit-deletes", "-q")
    assert third.returncode == 0
    (rec,) = third.records()
    assert rec["deleted"] is True and rec["source"] == str(gone) and rec["reason"] == "removed"


@pytest.mark.slow
def test_parquet_deletes_go_to_a_sidecar_jsonl(tmp_path: Path, sample_docs: Path) -> None:
    docs = tmp_path / "docs"
    shutil.copytree(sample_docs / "markdown", docs)
    db, out = tmp_path / "state.db", tmp_path / "out.parquet"
    args = ["ingest", str(docs), "--state", str(db), "--emit-deletes", "-f", "parquet"]
    assert run_cli(*args, "-o", str(out)).returncode == 0
    next(docs.glob("*.md")).unlink()
    out2 = tmp_path / "out2.parquet"
    res = run_cli(*args, "-o", str(out2))
    assert res.returncode == 0, res.stderr
    assert pq.read_table(out2).num_rows == 0
    deletes = (tmp_path / "out2.parquet.deletes.jsonl").read_text().splitlines()
    assert [json.loads(d)["reason"] for d in deletes] == ["removed"]


def test_usage_errors(tmp_path: Path, sample_docs: Path) -> None:
    res = run_cli("ingest", str(sample_docs / "text"), "--emit-deletes")
    assert res.returncode == 2 and "--emit-deletes needs --state" in res.stderr
    doc = tmp_path / "a.txt"
    doc.write_text("hello\n")
    res = run_cli("ingest", str(doc), "-o", str(doc))
    assert res.returncode == 2 and "is also an input" in res.stderr
    assert doc.read_text() == "hello\n"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


@pytest.mark.slow
def test_jobs_zero_runs_in_process_with_the_same_output(sample_docs: Path) -> None:
    a = run_cli("ingest", str(sample_docs / "markdown"), "--jobs", "0")
    b = run_cli("ingest", str(sample_docs / "markdown"))
    assert a.returncode == b.returncode == 0 and a.stdout == b.stdout


@pytest.mark.slow
def test_sigterm_while_waiting_for_the_lock_leaves_no_temporary_file(
    tmp_path: Path, sample_docs: Path
) -> None:
    db, out = tmp_path / "state.db", tmp_path / "out.jsonl"
    with State(db):
        proc = subprocess.Popen(
            [sys.executable, "-m", "chunkwise.cli.app", "ingest", str(sample_docs / "text"),
             "--state", str(db), "--wait-lock", "60", "-o", str(out)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(
            p.name.endswith(".part") for p in tmp_path.iterdir()
        ):
            time.sleep(0.05)
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    assert proc.returncode == 143
    left = [p.name for p in tmp_path.iterdir()]
    assert "out.jsonl" not in left and not [n for n in left if n.endswith(".part")], left
