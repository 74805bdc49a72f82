"""``--engine``: the local engine needs no Ray; ``--engine ray`` without it is a usage error."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# Runs the CLI with ``ray`` unimportable, as on a machine without the extra, and reports whether
# anything imported it.
BLOCKED = """
import sys
sys.modules["ray"] = None
from chunkwise.cli.app import main
sys.argv = ["chunk", *sys.argv[1:]]
try:
    main()
finally:
    sys.stderr.write("ray imported: %s\\n" % any(
        m == "ray" or m.startswith("ray.") for m, v in sys.modules.items() if v is not None))
"""


def run_blocked(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    return subprocess.run(
        [sys.executable, "-c", BLOCKED, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_engine_ray_without_ray_names_the_extra(sample_docs: Path) -> None:
    res = run_blocked("ingest", str(sample_docs / "text"), "--engine", "ray")
    assert res.returncode == 2
    assert res.stdout == ""
    assert "--engine ray needs the 'ray' extra" in res.stderr
    assert "pip install 'chunkwise[ray]'" in res.stderr


def test_local_engine_works_and_never_imports_ray(sample_docs: Path) -> None:
    res = run_blocked("ingest", str(sample_docs / "text"))
    assert res.returncode == 0, res.stderr
    assert res.stdout.count("\n") > 0
    assert "ray imported: False" in res.stderr


def test_unknown_engine_is_a_usage_error(sample_docs: Path) -> None:
    res = run_blocked("ingest", str(sample_docs / "text"), "--engine", "spark")
    assert res.returncode == 2 and res.stdout == ""
