"""Large JavaScript/C/C++ files are parsed window by window (issue 21: a 5.7 MB minified file held a
390 MB syntax tree). The windows must give what the whole tree gives, and memory must stay a
small multiple of the file."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from chunkwise.chunkers.cast import CastChunker
from chunkwise.parsers import code

from chunkwise.chunking import ChunkerConfig
from tests.conftest import ROOT, SAMPLE_DOCS, load_benchmark

hostile = load_benchmark("hostile")

JS = """// utilities
import {a} from "./a";
/** Adds. */
function add(x, y) { return x + y; }
class Box { constructor(v) { this.v = v; } get() { return this.v; } }
const twice = (f) => (x) => f(f(x));
var mul = function (x, y) { return x * y; };
export function outer() {
  function inner() { return 1; }
  return inner() + [1, 2, 3].map(function (d) { return d * 2; }).length;
}
if (add(1, 2) > 2) { console.log("big"); } else { console.log(`small ${add(0, 1)}`); }
/* block */ let re = /a+b/g; label: for (;;) { break label; }
"""


def _run(data: bytes, source: str, segment: bool, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(code, "SEGMENT_BYTES", 0 if segment else 1 << 40)
    code._LAST.clear()
    doc = code.CodeParser().parse_bytes(data, source)
    chunks = [
        [
            (c.start, c.end, c.n_tokens, json.dumps(c.metadata, sort_keys=True, default=str))
            for c in CastChunker(ChunkerConfig(), {"max_chars": max_chars}).chunk(doc)
        ]
        for max_chars in (1500, 120)
    ]
    windows = code._LAST[0].windows if code._LAST and code._LAST[0].segmented else None
    return [e.to_dict() for e in doc.elements], dict(doc.metadata), chunks, windows


@pytest.mark.parametrize("window", [64, 512])
@pytest.mark.parametrize(
    ("source", "data"),
    [
        ("app.js", (JS * 6).encode()),
        ("app.min.js", hostile.minified_js(0.003)[1]),
        ("app.c", (SAMPLE_DOCS / "code" / "markupsafe_speedups.c").read_bytes()),
        ("broken.js", (JS * 3 + "function bad( {\n" + JS * 3).encode()),
        *(
            (p.name, p.read_bytes())
            for p in sorted((SAMPLE_DOCS / "code").iterdir())
            if p.suffix in (".js", ".cpp", ".c")
        ),
    ],
)
def test_windows_give_the_whole_tree_output(
    source: str, data: bytes, window: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(code, "WINDOW_BYTES", window)
    whole = _run(data, source, False, monkeypatch)
    parts = _run(data, source, True, monkeypatch)
    assert whole[3] is None
    assert parts[:3] == whole[:3]
    if source in ("app.js", "app.min.js"):
        assert parts[3] is not None and len(parts[3]) > 3  # really parsed in windows
    if source == "broken.js":
        assert parts[3] is None and parts[1]["syntax_errors"] > 0  # fell back to the whole tree


def test_python_is_parsed_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    """A window ending after a method leaves a valid (shorter) class: not windowed."""
    monkeypatch.setattr(code, "SEGMENT_BYTES", 0)
    code._LAST.clear()
    code.CodeParser().parse_bytes(b"class A:\n    def f(self):\n        pass\n" * 50, "a.py")
    assert not code._LAST[0].segmented


def test_minified_js_memory_is_bounded(tmp_path: Path) -> None:
    """Parser + cast on a 1.1 MB one-line minified file, in a fresh process: peak memory grows by
    well under 50 bytes per byte of source (the whole tree alone took ~70; the growth was ~105
    MB per MB before windows, ~30 after) and it runs in about a second."""
    script = textwrap.dedent(
        """
        import resource, sys, time
        sys.path.insert(0, sys.argv[1])
        from hostile import minified_js
        from chunkwise.chunkers.cast import CastChunker
        from chunkwise.chunking import ChunkerConfig
        from chunkwise.parsers.code import CodeParser
        chunker = CastChunker(ChunkerConfig(), {})
        # Warm up: imports, grammar, tokenizer, numpy.
        list(chunker.chunk(CodeParser().parse_bytes(minified_js(0.001)[1], "warm.min.js")))
        data = minified_js(0.2)[1]
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        t = time.process_time()
        doc = CodeParser().parse_bytes(data, "app.min.js")
        text = "".join(c.text for c in chunker.chunk(doc))
        assert text == doc.text
        grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - base
        print(len(data), grown, time.process_time() - t)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(ROOT / "benchmarks")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    size, grown, cpu = int(out[0]), int(out[1]), float(out[2])
    assert size > 1_000_000
    assert grown < 50 * size, f"peak grew {grown / size:.0f} bytes per byte of source"
    assert cpu < 10
