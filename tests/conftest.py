"""Shared fixtures: paths to the sample documents and the shared corpus, and a CLI runner."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from chunkwise.writers import BaseWriter

# Every answer tokie gives in the tests (and in the commands they run) is checked against
# rs-bpe's: the whole suite's documents test the guard of chunkwise.tokie_bpe.
os.environ.setdefault("CHUNKWISE_TOKIE_CHECK", "1")

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DOCS = ROOT / "sample_docs"
CORPUS = ROOT.parent / "shared" / "corpus"
GOLDEN = Path(__file__).resolve().parent / "golden"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden", action="store_true", help="Rewrite golden files from current output."
    )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture(scope="session")
def sample_docs() -> Path:
    return SAMPLE_DOCS


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip("shared corpus not present on this machine")
    return CORPUS


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str

    def records(self) -> list[dict]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]


def run_cli(
    *args: str, input: bytes | None = None, cwd: Path | None = None, timeout: float = 300
) -> CliResult:
    """Run the installed `chunk` entry point in a subprocess (real exit codes and streams)."""
    env = dict(os.environ)
    env.setdefault("HF_HUB_OFFLINE", "1")
    proc = subprocess.run(
        [sys.executable, "-m", "chunkwise.cli.app", *args],
        input=input,
        capture_output=True,
        cwd=cwd or ROOT,
        env=env,
        timeout=timeout,
    )
    return CliResult(proc.returncode, proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8"))


@pytest.fixture
def cli():
    return run_cli


def assert_golden(path: Path, data: object, update: bool) -> None:
    """Compare ``data`` with the JSON golden file at ``path`` (rewrite it with --update-golden)."""
    text = json.dumps(data, indent=1, ensure_ascii=False, sort_keys=True) + "\n"
    if update or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        if not update:
            pytest.fail(f"golden file {path} was missing and has been written; re-run")
    assert json.loads(path.read_text(encoding="utf-8")) == json.loads(text), (
        f"output differs from {path}; run pytest --update-golden if the change is intended"
    )


def load_benchmark(name: str) -> Any:
    """A module of benchmarks/ (not a package; a 'benchmarks' distribution may shadow it)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        f"_bench_{name}", ROOT / "benchmarks" / f"{name}.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class MemoryWriter(BaseWriter):
    """An in-memory output for pipeline tests: ``records`` keeps what was written, ``closed`` says
    whether the run closed it, ``durable_writes`` whether records count as written at once."""

    name = "memory"

    def __init__(self, durable_writes: bool = False) -> None:
        self.durable_writes = durable_writes
        self.records: list[dict[str, Any]] = []
        self.closed = False

    def write(self, records: Iterable[dict[str, Any]]) -> None:
        self.records.extend(records)

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.records.clear()
