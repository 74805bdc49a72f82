"""Checks on every output of a run (chunks, error records, state), made before any work.

A mistake here (a folder named as the output, the error log inside an input folder, the same file
for two outputs) used to surface after the whole run, as a traceback and a leftover temporary.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from chunkwise.errors import UsageError
from chunkwise.pipeline import STDIN, check_output
from chunkwise.writers.atomic import check_target


def _same(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def check_outputs(
    paths: Sequence[str],
    output: str | None,
    errors: str | os.PathLike[str] | None = None,
    state: str | os.PathLike[str] | None = None,
    *,
    folder: bool = False,
) -> None:
    """Raise ``UsageError`` for an output that cannot be written or would clobber another one.
    ``folder``: the output is a folder the writer manages (a LanceDB table), not a file."""
    if output and output != STDIN:
        if not folder:
            check_target(output)
        check_output(paths, output)
    if errors is not None:
        check_target(errors, "--errors file")
        check_output(paths, os.fspath(errors), "--errors")
        if output and output != STDIN and _same(output, errors):
            raise UsageError("--errors and --output must be different files")
        if state is not None and _same(state, errors):
            raise UsageError("--errors and --state must be different files")
    if state is not None:
        check_target(state, "--state file")


def open_errors_file(path: str | os.PathLike[str]) -> Path:
    """The folder of an --errors file is created like -o's is."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    return p
