"""`chunk eval` and `chunk ingest --chunker auto` end to end."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from chunkwise import quality

METRIC_KEYS = (*quality.METRICS, "combined")


def _report(res) -> dict:  # type: ignore[no-untyped-def]
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


@pytest.fixture(scope="module")
def md_report(sample_docs: Path) -> dict:
    from tests.conftest import run_cli

    res = run_cli(
        "eval",
        str(sample_docs / "markdown"),
        "-c",
        "auto,section,recursive",
        "--vectors",
        "lexical",
        "--json",
    )
    return _report(res)


def test_eval_side_by_side(md_report: dict) -> None:
    runs = md_report["runs"]
    assert list(runs) == ["auto", "section", "recursive"]
    for entry in runs.values():
        assert entry["summary"]["documents"] == 2
        for row in entry["documents"]:
            for key in METRIC_KEYS:
                assert 0.0 <= row[key] <= 1.0
    assert md_report["vectors"] == "lexical"
    assert md_report["settings"]["min_size"] == 100 and md_report["settings"]["max_size"] == 1100
    # auto picks one of the fixed chunkers per document and matches its score there.
    for row in runs["auto"]["documents"]:
        chosen = row["chosen"]
        other = next(r for r in runs[chosen]["documents"] if r["source"] == row["source"])
        assert row["combined"] == other["combined"]
    cmp = md_report["comparison"]["auto_at_least_best"]
    assert cmp == {"documents": 2, "count": 2}


def test_eval_table_output(cli, sample_docs: Path) -> None:  # type: ignore[no-untyped-def]
    res = cli("eval", str(sample_docs / "html"), "-c", "recursive,sentence", "--vectors", "lexical")
    assert res.returncode == 0, res.stderr
    assert "chunk quality" in res.stdout and "recursive" in res.stdout and "sentence" in res.stdout
    assert "cohes." in res.stdout


def test_eval_reads_ingest_output(cli, sample_docs: Path, tmp_path: Path, md_report: dict) -> None:  # type: ignore[no-untyped-def]
    folder = str(sample_docs / "markdown")
    out = tmp_path / "run.jsonl"
    res = cli("ingest", folder, "-c", "recursive", "-o", str(out), "--jobs", "0")
    assert res.returncode == 0, res.stderr
    pq = tmp_path / "run.parquet"
    res = cli("ingest", folder, "-c", "recursive", "-f", "parquet", "-o", str(pq), "--jobs", "0")
    assert res.returncode == 0, res.stderr
    read = _report(
        cli("eval", "--chunks", str(out), "--chunks", str(pq), "--vectors", "lexical", "--json")
    )
    assert list(read["runs"]) == ["recursive", "recursive (run.parquet)"]
    # Re-parsed from their sources, the documents score exactly as when chunked here.
    for name in read["runs"]:
        assert read["runs"][name]["documents"] == md_report["runs"]["recursive"]["documents"]


def test_eval_rebuilds_missing_documents(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    doc = tmp_path / "note.txt"
    doc.write_text("First point here. " * 80 + "\n\n" + "Second point there. " * 80, "utf-8")
    out = tmp_path / "run.jsonl"
    assert (
        cli("ingest", str(doc), "-c", "recursive", "--max-tokens", "200", "-o", str(out)).returncode
        == 0
    )
    doc.unlink()
    rep = _report(cli("eval", "--chunks", str(out), "--vectors", "lexical", "--json"))
    row = rep["runs"]["recursive"]["documents"][0]
    assert row["chunks"] >= 2 and 0 <= row["combined"] <= 1


def test_eval_usage_errors(cli, sample_docs: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli("eval").returncode == 2
    res = cli("eval", str(sample_docs / "text"), "-c", "nonexistent")
    assert res.returncode == 2 and "nonexistent" in res.stderr and res.stdout == ""
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n", "utf-8")
    res = cli("eval", "--chunks", str(bad))
    assert res.returncode == 2 and "not a JSON line" in res.stderr
    q = tmp_path / "q.jsonl"
    q.write_text('{"question": "x"}\n', "utf-8")
    res = cli("eval", str(sample_docs / "text"), "--questions", str(q))
    assert res.returncode == 2 and "q.jsonl:1" in res.stderr and "corpus_id" in res.stderr


def test_eval_broken_file_is_a_record_not_a_stop(cli, sample_docs: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    shutil.copy(sample_docs / "text" / "apache-license-2.0.txt", tmp_path)
    shutil.copy(sample_docs / "broken" / "binary-junk.txt", tmp_path)
    res = cli("eval", str(tmp_path), "-c", "recursive", "--vectors", "lexical", "--json")
    assert res.returncode == 1
    err = [json.loads(line) for line in res.stderr.splitlines() if line.startswith("{")]
    assert [e["source"].endswith("binary-junk.txt") for e in err] == [True]
    rep = json.loads(res.stdout)
    assert [Path(r["source"]).name for r in rep["runs"]["recursive"]["documents"]] == [
        "apache-license-2.0.txt"
    ]


def test_ingest_auto_records_the_choice(cli, sample_docs: Path) -> None:  # type: ignore[no-untyped-def]
    res = cli("ingest", str(sample_docs / "markdown"), str(sample_docs / "text"), "--jobs", "0")
    assert res.returncode == 0, res.stderr
    recs = res.records()
    assert recs
    by_source: dict[str, set[str]] = {}
    for r in recs:
        auto = r["metadata"]["auto"]
        assert r["chunker"] == auto["chosen"]
        by_source.setdefault(r["source"], set()).add(auto["chosen"])
        if r["parser"] == "text":
            assert auto["reason"] == "fast path" and auto["chosen"] == "recursive"
        else:
            assert set(auto["scores"]) == {"section", "recursive", "sentence"}
    assert all(len(v) == 1 for v in by_source.values())  # one choice per document


def test_eval_reads_auto_output(cli, sample_docs: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "auto.jsonl"
    res = cli("ingest", str(sample_docs / "markdown"), "-o", str(out), "--jobs", "0")
    assert res.returncode == 0, res.stderr
    rep = _report(cli("eval", "--chunks", str(out), "--vectors", "lexical", "--json"))
    assert list(rep["runs"]) == ["auto"]
    rows = rep["runs"]["auto"]["documents"]
    chosen = {json.loads(line)["metadata"]["auto"]["chosen"] for line in out.open()}
    assert {r["chosen"] for r in rows} == chosen
    assert sum(rep["runs"]["auto"]["summary"]["chosen"].values()) == len(rows) == 2


def test_eval_without_chunker_compares_auto_with_its_candidates(cli, sample_docs: Path) -> None:  # type: ignore[no-untyped-def]
    md = sample_docs / "markdown" / "semchunk-README.md"
    rep = _report(cli("eval", str(md), "--vectors", "lexical", "--json"))
    # Markdown: auto chooses between section, recursive and sentence; all four are scored.
    assert list(rep["runs"]) == ["auto", "section", "recursive", "sentence"]
    assert rep["comparison"]["auto_at_least_best"]["documents"] == 1


def _tiny_corpus(tmp_path: Path) -> tuple[Path, Path, str]:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    volcano = (
        "Volcanoes erupt molten lava from magma chambers deep underground.\n\n"
        "Ash clouds from large eruptions can ground flights for days."
    )
    (corpus / "volcano.txt").write_text(volcano, "utf-8")
    (corpus / "tax.txt").write_text("Tax returns are filed every April with the revenue.", "utf-8")
    ref = volcano.index("Ash clouds")
    rows = [
        ["question", "references", "corpus_id"],
        [
            "What can ground flights?",
            json.dumps([{"start_index": ref, "end_index": len(volcano)}]),
            "volcano",
        ],
    ]
    q = tmp_path / "q.csv"
    with q.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    return corpus, q, volcano


@pytest.mark.embed
def test_eval_retrieval_end_to_end_with_the_model(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    corpus, q, volcano = _tiny_corpus(tmp_path)
    args = ["eval", str(corpus), "--questions", str(q), "-c", "recursive", "--json"]
    rep = _report(cli(*args, "--max-tokens", "16,64", "--embedding", "late,naive"))
    rows = rep["configurations"]
    assert [r["name"] for r in rows] == [
        "recursive 16 late",
        "recursive 16 naive",
        "recursive 64 late",
        "recursive 64 naive",
    ]
    assert rep["settings"]["questions"] == 1 and rep["settings"]["k"] == 5
    for r in rows:
        assert r["chunks"] >= 2 and r["seconds"] >= 0 and r["mean_tokens"] > 0
    # At 64 tokens each document is one chunk, both retrieved within the top 5: the reference
    # is covered whole and precision is its share of all retrieved characters.
    big = rows[2]
    assert big["chunks"] == 2 and big["recall"] == 100.0
    total = len(volcano) + len("Tax returns are filed every April with the revenue.")
    ref = len(volcano) - volcano.index("Ash clouds")
    assert big["precision"] == pytest.approx(100 * ref / total, abs=0.01)
    assert big["iou"] == pytest.approx(100 * ref / total, abs=0.01)
    assert big["by_document"][str(corpus / "volcano.txt")]["questions"] == 1
    # The default configuration (plain `chunk ingest --embed`) runs too.
    rep = _report(cli("eval", str(corpus), "--questions", str(q), "-c", "auto", "--json"))
    assert rep["configurations"][0]["name"] == "auto late"


def test_eval_questions_are_checked_before_any_work(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    corpus, _, _ = _tiny_corpus(tmp_path)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        json.dumps({"question": "a?", "corpus_id": "volcano", "start": 0, "end": 5}) + "\n"
        + json.dumps({"question": "b?", "corpus_id": "lava", "start": 0, "end": 5}) + "\n",
        "utf-8",
    )  # fmt: skip
    res = cli("eval", str(corpus), "--questions", str(bad))
    assert res.returncode == 2 and res.stdout == ""
    assert "bad.jsonl:2: unknown corpus 'lava'" in res.stderr
    bad.write_text(
        json.dumps({"question": "a?", "source": "volcano.txt", "start": 0, "end": 10_000}) + "\n",
        "utf-8",
    )
    res = cli("eval", str(corpus), "--questions", str(bad))
    assert res.returncode == 2 and "bad.jsonl:1: reference 0-10000 is outside" in res.stderr
    res = cli("eval", str(corpus), "--max-tokens", "64,128")
    assert res.returncode == 2 and "need --questions" in res.stderr
