"""numpy is imported on first use: a small text's run never pays for it, and every use still
gets the real module."""

from __future__ import annotations

import subprocess
import sys
import threading
import types
from pathlib import Path

from chunkwise.lazy import lazy_module


def test_the_stand_in_imports_on_first_use_and_steps_aside() -> None:
    namespace: dict[str, object] = {}
    namespace["j"] = stand_in = lazy_module("json.tool", namespace, "j")
    if isinstance(stand_in, types.ModuleType):  # already imported by something else
        assert namespace["j"] is sys.modules["json.tool"]
        return
    assert "json.tool" not in sys.modules
    assert callable(stand_in.main)
    assert namespace["j"] is sys.modules["json.tool"]


def test_an_imported_module_is_returned_as_is() -> None:
    assert lazy_module("sys", {}, "sys") is sys


def test_threads_racing_for_the_first_use_all_get_the_module() -> None:
    namespace: dict[str, object] = {}
    name = "xml.dom.minidom"
    sys.modules.pop(name, None)
    stand_in = lazy_module(name, namespace, "m")
    got: list[object] = []
    threads = [threading.Thread(target=lambda: got.append(stand_in.parseString)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 8 and all(g is sys.modules[name].parseString for g in got)
    assert namespace["m"] is sys.modules[name]


def test_a_small_text_is_chunked_without_importing_numpy(tmp_path: Path) -> None:
    doc = tmp_path / "a.txt"
    # Paragraphs of prose, a few chunks: the shape of most files in a folder.
    doc.write_text("".join(f"Paragraph {i} says a few things. " * 6 + "\n\n" for i in range(30)))
    code = (
        "import sys\n"
        "from chunkwise.cli.app import main\n"
        f"sys.argv = ['chunk', 'ingest', {str(doc)!r}, '-q', '-o', {str(tmp_path / 'o.jsonl')!r},"
        " '--chunker', 'recursive', '--tokenizer', 'cl100k_base', '--max-tokens', '128']\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "print('numpy' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"
    assert len((tmp_path / "o.jsonl").read_text().splitlines()) > 3
