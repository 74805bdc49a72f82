"""Workers send a document's finished JSONL bytes when the main process only writes them
(``chunkwise.run.Ingest`` sets ``IngestOptions.encoder``): the output, the counts, what
``on_result`` hears and the ``--state`` rows are those of the object path (``--jobs 0``), an
e-mail's attachments and a broken one included, over a first run and a re-run with deletes."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from chunkwise.writers.jsonl import JsonlWriter

from chunkwise import pipeline
from chunkwise.chunking import ChunkerConfig
from chunkwise.command import Progress
from chunkwise.errors import ErrorRecord
from chunkwise.pipeline import IngestOptions, Result
from chunkwise.run import Ingest
from chunkwise.state import State, state_key
from tests.conftest import MemoryWriter
from tests.parsers import office_samples as samples


def _folder(root: Path) -> Path:
    folder = root / "in"
    folder.mkdir()
    (folder / "a.txt").write_text("Alpha words go here. " * 120)
    (folder / "b.md").write_text("# Title\n\nSome words under it.\n")
    (folder / "c.txt").write_text("Gamma.\n")
    (folder / "empty.txt").write_text("")
    # Not plain text: the run goes to the workers. Its truncated .docx is an error record.
    (folder / "mail.eml").write_bytes(samples.make_eml(with_attachment=b"PK\x03\x04 broken"))
    return folder


def _run(folder: Path, out: Path, jobs: int, state_path: Path, writer: Any = None) -> Any:
    results: list[Result] = []
    errors: list[ErrorRecord] = []
    progress = Progress(enabled=False)  # the CLI's counter, fed as `chunk ingest` feeds it

    def on_result(r: Result) -> None:
        results.append(r)
        progress.update(r)

    writer = writer if writer is not None else JsonlWriter(str(out))
    options = IngestOptions(chunker="recursive", chunker_config=ChunkerConfig(48), jobs=jobs)
    with State(state_path) as state:
        summary = Ingest(
            [str(folder)],
            options,
            writer,
            on_error=errors.append,
            on_result=on_result,
            state=state,
            emit_deletes=True,
        ).run()
        writer.close()
        state.commit()
    with State(state_path) as state:
        rows = list(state.unseen([state_key(folder)], []))
    heard = [(r.source, r.n_chunks, r.error is not None) for r in results]
    assert (progress.docs, progress.chunks, progress.failed) == (
        summary.documents,
        summary.chunks,
        summary.failed,
    )
    return summary, errors, heard, rows, results


# With a limit of 100 characters, a.txt (over it) travels as objects beside encoded results.
@pytest.mark.parametrize("limit", [None, 100])
def test_workers_encoded_output_is_the_object_paths_output_state_and_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: int | None
) -> None:
    if limit is not None:
        monkeypatch.setattr(pipeline, "_ENCODE_MAX_CHARS", limit)  # forked workers inherit it
    folder = _folder(tmp_path)
    runs: dict[int, list[Any]] = {0: [], 2: []}
    for step in range(2):
        if step == 1:  # changed, removed and new files: delete records and state updates
            (folder / "a.txt").write_text("Alpha words changed. " * 90)
            (folder / "c.txt").unlink()
            (folder / "d.txt").write_text("Delta.\n")
            # Changed too, so that this run also goes to the workers.
            (folder / "mail.eml").write_bytes(samples.make_eml(with_attachment=b"PK\x03\x04"))
        for jobs in (0, 2):
            out = tmp_path / f"out-{jobs}-{step}.jsonl"
            summary, errors, heard, rows, results = _run(folder, out, jobs, tmp_path / f"{jobs}.db")
            encoded = [r for r in results if r.encoded is not None]
            if jobs == 0:  # in process: no worker, nothing encoded
                assert not encoded
            else:
                assert encoded and all(r.doc is None and not r.chunks for r in encoded)
                as_objects = {Path(r.source).name for r in results if r.doc is not None}
                assert as_objects == (set() if limit is None else {"a.txt"})
            assert (
                summary.chunks
                == sum(n for _, n, _ in heard)
                == sum(1 for line in out.read_bytes().splitlines() if b'"deleted"' not in line)
            )
            runs[jobs].append((out.read_bytes(), summary, errors, heard, rows))
    for step in range(2):
        (out0, *rest0), (out2, *rest2) = runs[0][step], runs[2][step]
        assert out2 == out0
        assert rest2 == rest0
    first, second = runs[2]
    summary, errors = first[1], first[2]
    assert (summary.documents, summary.failed) == (6, 1)  # mail.eml: the broken attachment
    assert [e.source.rsplit("#", 1)[-1] for e in errors] == ["report.docx"]
    assert summary.ignored == {"empty": 1}
    mail = next(fs for fs in first[4] if fs.path.endswith("mail.eml"))
    heard = {source: n for source, n, _ in first[3]}
    # The e-mail's row retires its attachments with it: their chunk ids are in it.
    assert (
        len(mail.chunk_ids)
        == sum(n for s, n in heard.items() if "mail.eml" in s)
        > heard[next(s for s in heard if s.endswith("mail.eml"))]
    )
    # a.txt and mail.eml changed, c.txt gone.
    assert b'"deleted":true' in second[0] and second[1].deleted == 3


def test_writers_without_an_encoder_get_records(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    writer = MemoryWriter()
    _, _, heard, _, results = _run(folder, tmp_path / "x", 2, tmp_path / "s.db", writer=writer)
    assert all(r.encoded is None for r in results)
    assert len(writer.records) == sum(n for _, n, _ in heard)


def test_an_embedder_or_another_engine_keeps_the_chunks(tmp_path: Path) -> None:
    writer = JsonlWriter(str(tmp_path / "o.jsonl"))
    plain = Ingest(["x"], IngestOptions(jobs=2), writer)
    assert plain.options.encoder is JsonlWriter.encoder and not plain.options.encoded_ids
    embedding = Ingest(["x"], IngestOptions(jobs=2), writer, embedder=object())  # type: ignore[arg-type]
    assert embedding.options.encoder is None
    other = Ingest(["x"], IngestOptions(jobs=2), writer, engine=lambda *a, **k: iter(()))
    assert other.options.encoder is None
    # A caller's options cannot force it on a writer that has none.
    forced = dataclasses.replace(IngestOptions(), encoder=JsonlWriter.encoder)
    assert Ingest(["x"], forced, MemoryWriter()).options.encoder is None
    writer.abort()
