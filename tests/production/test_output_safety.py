"""Outputs under hostile use (issue 21): devices, FIFOs, symlinks, folders, full disks, modes."""

from __future__ import annotations

import contextlib
import json
import os
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.txt").write_text("Alpha text.\n\nMore alpha.\n")
    (folder / "b.md").write_text("# B\n\nBeta text.\n")
    return folder


def parts(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.endswith(".part")]


def test_output_to_a_character_device_writes_through(tmp_path: Path, docs: Path) -> None:
    dev = tmp_path / "null"
    try:
        os.mknod(dev, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        with dev.open("wb") as fh:
            fh.write(b"probe")
    except OSError:
        pytest.skip("cannot create or open a device node here (not root, or nodev mount)")
    res = run_cli("ingest", str(docs), "-o", str(dev))
    assert res.returncode == 0, res.stderr
    assert stat.S_ISCHR(dev.lstat().st_mode), "the device was replaced by a regular file"
    assert not parts(tmp_path)


def test_output_to_a_fifo_writes_through(tmp_path: Path, docs: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []

    def read() -> None:
        with fifo.open("rb") as fh:
            got.append(fh.read())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    res = run_cli("ingest", str(docs), "-o", str(fifo), timeout=60)
    reader.join(timeout=30)
    assert res.returncode == 0, res.stderr
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert {json.loads(x)["source"] for x in got[0].splitlines()} == {
        str(docs / "a.txt"),
        str(docs / "b.md"),
    }


def test_output_through_a_symlink_replaces_the_target_and_keeps_the_link(
    tmp_path: Path, docs: Path
) -> None:
    target = tmp_path / "real" / "out.jsonl"
    target.parent.mkdir()
    target.write_text("old\n")
    link = tmp_path / "link.jsonl"
    link.symlink_to(target)
    res = run_cli("ingest", str(docs), "-o", str(link))
    assert res.returncode == 0, res.stderr
    assert link.is_symlink() and link.resolve() == target
    assert len(target.read_text().splitlines()) >= 2 and "old" not in target.read_text()
    assert not parts(tmp_path)


def test_output_through_a_symlink_to_stdout_reaches_the_pipe(tmp_path: Path, docs: Path) -> None:
    # The real /dev/stdout is a symlink to /proc/self/fd/1: the same shape, made privately.
    link = tmp_path / "stdout"
    link.symlink_to("/proc/self/fd/1")
    proc = subprocess.run(
        [sys.executable, "-m", "chunkwise.cli.app", "ingest", str(docs), "-o", str(link)],
        capture_output=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert len(proc.stdout.decode().splitlines()) >= 2
    assert link.is_symlink() and os.readlink(link) == "/proc/self/fd/1"
    assert not parts(tmp_path)


def test_output_naming_a_folder_is_a_usage_error_before_any_work(
    tmp_path: Path, docs: Path
) -> None:
    out = tmp_path / "outdir"
    out.mkdir()
    res = run_cli("ingest", str(docs), "-o", str(out))
    assert res.returncode == 2, res.stderr
    assert "folder" in res.stderr and "Traceback" not in res.stderr
    assert not list(out.iterdir()) and not parts(tmp_path)


def test_errors_file_in_a_missing_folder_is_created(tmp_path: Path, docs: Path) -> None:
    (docs / "bad.txt").write_bytes(b"\x00\x01binary")
    errors = tmp_path / "logs" / "deep" / "errors.jsonl"
    res = run_cli("ingest", str(docs), "-o", str(tmp_path / "o.jsonl"), "--errors", str(errors))
    assert res.returncode == 1, res.stderr
    assert "Traceback" not in res.stderr
    assert json.loads(errors.read_text())["source"] == str(docs / "bad.txt")


def test_errors_file_naming_a_folder_is_refused(tmp_path: Path, docs: Path) -> None:
    res = run_cli("ingest", str(docs), "--errors", str(tmp_path))
    assert res.returncode == 2 and "folder" in res.stderr, res.stderr


def test_errors_file_inside_an_input_folder_is_refused(docs: Path) -> None:
    res = run_cli("ingest", str(docs), "--errors", str(docs / "errors.txt"))
    assert res.returncode == 2, res.stderr
    assert "inside input folder" in res.stderr


def test_output_and_errors_must_differ(tmp_path: Path, docs: Path) -> None:
    same = tmp_path / "same.jsonl"
    res = run_cli("ingest", str(docs), "-o", str(same), "--errors", str(same))
    assert res.returncode == 2, res.stderr
    assert not same.exists()


def test_new_outputs_follow_the_umask_and_existing_ones_keep_their_mode(
    tmp_path: Path, docs: Path
) -> None:
    old = os.umask(0o022)
    try:
        new = tmp_path / "new.jsonl"
        assert run_cli("ingest", str(docs), "-o", str(new)).returncode == 0
        assert stat.S_IMODE(new.stat().st_mode) == 0o644
        (docs / "bad.txt").write_bytes(b"\x00\x01 binary")
        errors, state = tmp_path / "errors.jsonl", tmp_path / "state.db"
        args = ["-o", str(tmp_path / "o2.jsonl"), "--errors", str(errors), "--state", str(state)]
        assert run_cli("ingest", str(docs), *args).returncode == 1
        (docs / "bad.txt").unlink()
        assert stat.S_IMODE(errors.stat().st_mode) == 0o644
        assert stat.S_IMODE(state.stat().st_mode) == 0o644
        pq_out = tmp_path / "new.parquet"
        assert run_cli("ingest", str(docs), "-o", str(pq_out), "-f", "parquet").returncode == 0
        assert stat.S_IMODE(pq_out.stat().st_mode) == 0o644
        existing = tmp_path / "existing.jsonl"
        existing.write_text("")
        existing.chmod(0o640)
        assert run_cli("ingest", str(docs), "-o", str(existing)).returncode == 0
        assert stat.S_IMODE(existing.stat().st_mode) == 0o640
        assert existing.read_text()
    finally:
        os.umask(old)


def test_a_rejected_state_file_leaves_no_lock(tmp_path: Path, docs: Path) -> None:
    db = tmp_path / "state.db"
    db.write_bytes(b"this is not sqlite at all" * 100)
    res = run_cli("ingest", str(docs), "--state", str(db), "-o", str(tmp_path / "o.jsonl"))
    assert res.returncode == 2, res.stderr
    assert not (tmp_path / "state.db.lock").exists()
    assert not (tmp_path / "o.jsonl").exists() and not parts(tmp_path)


@contextlib.contextmanager
def tiny_filesystem(path: Path, size: str) -> Iterator[Path]:
    path.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_a_full_disk_is_one_line_a_distinct_exit_code_and_no_temporary(
    tmp_path: Path, fmt: str
) -> None:
    docs = tmp_path / "in"
    docs.mkdir()
    for i in range(40):
        # Random-looking words, so Parquet's compression cannot fit them in the tiny disk.
        words = " ".join(f"w{(i * 7919 + j * 104729) % 1000003:x}" for j in range(3000))
        (docs / f"d{i}.txt").write_text(words + "\n")
    with tiny_filesystem(tmp_path / "disk", "64k") as disk:
        out = disk / f"out.{fmt}"
        res = run_cli("ingest", str(docs), "-o", str(out), "-f", fmt, "-j", "0")
        assert res.returncode == 74, res.stderr
        lines = [ln for ln in res.stderr.splitlines() if ln.startswith("chunk:")]
        assert any("No space left" in ln for ln in lines), res.stderr
        assert "Traceback" not in res.stderr
        assert list(disk.iterdir()) == [], "a temporary or partial output was left behind"


def test_an_interrupt_while_the_temporary_is_created_leaves_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A signal's KeyboardInterrupt inside ``AtomicFile`` (here: when its file object is made)
    removes the temporary it had created; one that lands after the constructor returned, before a
    writer holds the object, is removed by ``discard_all`` (what ``chunk`` calls when it
    aborts)."""
    from chunkwise.writers import atomic

    def interrupted(*args: object, **kwargs: object) -> object:
        raise KeyboardInterrupt

    with monkeypatch.context() as mp:
        mp.setattr(atomic.os, "fdopen", interrupted)
        with pytest.raises(KeyboardInterrupt):
            atomic.AtomicFile(tmp_path / "out.jsonl")
    assert list(tmp_path.iterdir()) == [] and not atomic._LIVE

    orphan = atomic.AtomicFile(tmp_path / "out.jsonl")  # never handed to a writer
    kept = atomic.AtomicFile(tmp_path / "kept.jsonl")
    kept.fh.write(b"x\n")
    kept.commit()
    assert orphan.tmp is not None and orphan.tmp.exists()
    orphan.fh.close()
    atomic.discard_all()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.jsonl"] and not atomic._LIVE


def test_sigterm_before_the_run_starts_leaves_no_temporary(tmp_path: Path, docs: Path) -> None:
    """A SIGTERM just after the JSONL writer made its temporary file, before the run installs its
    own handlers: exit 143 and nothing left in the output folder (the default action ended the
    process there, with the temporary left behind)."""
    out = tmp_path / "out" / "chunks.jsonl"
    out.parent.mkdir()
    script = (
        "import os, signal, sys\n"
        "from chunkwise.writers import jsonl\n"
        "init = jsonl.JsonlWriter.__init__\n"
        "def slow(self, *a, **k):\n"
        "    init(self, *a, **k)\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "jsonl.JsonlWriter.__init__ = slow\n"
        "from chunkwise.cli.app import main\n"
        f"sys.argv = ['chunk', 'ingest', {str(docs)!r}, '-o', {str(out)!r}, '-q']\n"
        "main()\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, timeout=120, cwd=ROOT
    )
    assert proc.returncode == 143, proc.stderr.decode()
    assert list(out.parent.iterdir()) == [], "a temporary output was left behind"
