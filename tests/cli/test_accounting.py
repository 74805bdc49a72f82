"""Nothing silent (issue 22): every file is counted, error records always reach stderr, empty files
are skipped-empty, bad option values exit 2, and the output format follows -o's extension."""

from __future__ import annotations

import json
import re
import signal
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.production.test_production_cli import slow_folder, start_slow, wait_for_marker

__all__ = ["slow_folder"]  # a fixture, used by name


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "mod.py").write_text("def f():\n    return 1\n")
    (root / "notes.md").write_text("# Notes\n\nSome notes.\n")
    (root / "bad.txt").write_bytes(b"\x00\x01\x02\x03 binary junk")
    (root / "data.xyz").write_bytes(b"\x89XYZ\r\n\x1a\n" + bytes(64))
    (root / "blob.qqq").write_bytes(b"QQQ" + bytes(64))
    return root


def summary_line(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.startswith("chunk: ") and " chunked" in ln]
    assert len(lines) == 1, stderr
    return lines[0]


def test_every_run_ends_with_a_summary_line_on_stderr(folder: Path) -> None:
    res = run_cli("ingest", str(folder))  # stderr is a pipe here, as under cron
    assert res.returncode == 1, res.stderr
    line = summary_line(res.stderr)
    assert re.search(r"\b2 documents chunked\b", line), line
    assert re.search(r"\b1 failed\b", line), line
    assert re.search(r"\b3 skipped \(2 unsupported format, 1 empty\)", line), line
    n_chunks = len(res.records())
    assert re.search(rf"\b{n_chunks} chunks written\b", line), line
    assert re.search(r"in \d+(\.\d+)? s\b", line), line


def test_empty_files_are_counted_unchanged_once_the_state_knows_them(
    folder: Path, tmp_path: Path
) -> None:
    pkg, state = folder / "pkg", tmp_path / "state.db"
    first = run_cli("ingest", str(pkg), "--state", str(state), "--emit-deletes")
    assert first.returncode == 0, first.stderr
    line = summary_line(first.stderr)
    assert "1 documents chunked" in line and "1 skipped (1 empty)" in line, line
    assert "0 unchanged" in line, line
    second = run_cli("ingest", str(pkg), "--state", str(state), "--emit-deletes")
    assert second.returncode == 0 and not second.stdout, second.stderr
    line = summary_line(second.stderr)
    assert "0 documents chunked" in line and "0 skipped" in line and "2 unchanged" in line, line
    (pkg / "__init__.py").unlink()
    third = run_cli("ingest", str(pkg), "--state", str(state), "--emit-deletes")
    assert third.returncode == 0, third.stderr
    assert [json.loads(ln)["reason"] for ln in third.stdout.splitlines()] == ["removed"]
    line = summary_line(third.stderr)
    assert "1 unchanged" in line and "1 deletes" in line, line


def test_verbose_lists_skipped_files(folder: Path) -> None:
    res = run_cli("ingest", str(folder), "-v")
    for name in ("data.xyz", "blob.qqq", "__init__.py"):
        assert any(name in ln and "skipped" in ln for ln in res.stderr.splitlines()), name


def test_quiet_keeps_error_records_and_drops_the_summary(folder: Path) -> None:
    res = run_cli("ingest", str(folder), "-q")
    assert res.returncode == 1
    errors = [json.loads(ln) for ln in res.stderr.splitlines()]
    assert [Path(e["source"]).name for e in errors] == ["bad.txt"]


def test_empty_files_are_skipped_and_strict_makes_them_failures(folder: Path) -> None:
    empty_only = folder / "pkg" / "__init__.py"
    res = run_cli("ingest", str(empty_only))
    assert res.returncode == 0, res.stderr
    assert "1 empty" in summary_line(res.stderr)
    res = run_cli("ingest", str(empty_only), "--strict")
    assert res.returncode == 3, res.stderr
    err = json.loads(res.stderr.splitlines()[0])
    assert err["message"].startswith("empty file")
    res = run_cli("ingest", str(folder / "pkg"), "--strict")
    assert res.returncode == 1


def test_an_explicit_file_of_no_known_format_says_unsupported(tmp_path: Path) -> None:
    f = tmp_path / "thing.xyz"
    f.write_bytes(b"PK\x03\x04\x00\x00binary zip-like content\x00\x00")
    res = run_cli("ingest", str(f))
    assert res.returncode == 3
    err = json.loads(res.stderr.splitlines()[0])
    assert err["message"] == "unsupported format (.xyz)"


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--max-chars", "0"),
        ("--max-chars", "-5"),
        ("--max-file-size", "0"),
        ("--max-file-size", "-1"),
        ("--jobs", "-1"),
        ("--timeout", "-1"),
        ("--max-tokens", "0"),
    ],
)
def test_out_of_range_values_exit_2_naming_the_range(folder: Path, option: str, value: str) -> None:
    res = run_cli("ingest", str(folder), option, value)
    assert res.returncode == 2, res.stderr
    assert option in res.stderr, res.stderr
    assert re.search(r">= ?\d|greater than or equal to \d", res.stderr), res.stderr
    assert res.stdout == ""


def test_output_format_follows_the_output_extension(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "chunks.parquet"
    res = run_cli("ingest", str(folder / "notes.md"), "-o", str(out))
    assert res.returncode == 0, res.stderr
    assert out.read_bytes()[:4] == b"PAR1"
    res = run_cli(
        "ingest", str(folder / "notes.md"), "-o", str(tmp_path / "x.parquet"), "-f", "jsonl"
    )
    assert json.loads((tmp_path / "x.parquet").read_text().splitlines()[0])["source"]


@pytest.mark.slow
def test_interrupting_stdout_output_says_what_was_written(
    tmp_path: Path, slow_folder: Path
) -> None:
    proc = start_slow(tmp_path, "ingest", str(slow_folder), "--jobs", "1", delay=0.2)
    wait_for_marker(tmp_path, 3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err.decode()
    written = len({json.loads(x)["source"] for x in out.decode().splitlines()})
    message = err.decode()
    assert "discarded" not in message
    assert f"{written} documents" in message and "stdout" in message, message
