"""Chroma's character-level retrieval metric, the questions-file reader and its errors, and the
scoring of one configuration from (stub) vectors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from chunkwise import retrieval
from chunkwise.errors import UsageError
from chunkwise.evaluate import RetrievalConfig, configurations
from chunkwise.retrieval import Question, char_scores, match_documents, read_questions
from chunkwise.types import Document

# -- the metric on hand-made spans ---------------------------------------------------------------


def test_chunk_covering_half_a_reference() -> None:
    s = char_scores([("a", 0, 20)], "a", [(10, 30)])
    assert s.recall == 0.5
    assert s.precision == 0.5  # 10 of the chunk's 20 characters are gold
    assert s.iou == pytest.approx(10 / 30)  # retrieved 20 + uncovered gold 10


def test_overlapping_chunks_pay_twice_in_precision_not_in_recall() -> None:
    s = char_scores([("a", 0, 20), ("a", 10, 30)], "a", [(10, 20)])
    assert s.recall == 1.0
    assert s.precision == pytest.approx(10 / 40)
    assert s.iou == pytest.approx(10 / 40)


def test_reference_split_over_two_chunks() -> None:
    s = char_scores([("a", 0, 20), ("a", 20, 40)], "a", [(15, 25)])
    assert s.recall == 1.0
    assert s.precision == pytest.approx(10 / 40)
    # Only one of the two chunks retrieved: half the reference is left over.
    s = char_scores([("a", 20, 40)], "a", [(15, 25)])
    assert s.recall == 0.5 and s.iou == pytest.approx(5 / (20 + 5))


def test_other_documents_and_missed_references() -> None:
    # A chunk of another corpus at the same offsets hits nothing but is counted as retrieved.
    s = char_scores([("a", 0, 10), ("b", 0, 10)], "a", [(0, 10), (50, 60)])
    assert s.recall == 0.5
    assert s.precision == 0.5
    assert s.iou == pytest.approx(10 / (20 + 10))
    assert char_scores([], "a", [(0, 10)]) == retrieval.Scores(0.0, 0.0, 0.0)


spans = st.tuples(st.integers(0, 200), st.integers(1, 60)).map(lambda t: (t[0], t[0] + t[1]))


@given(st.lists(spans, min_size=1, max_size=6), st.lists(spans, min_size=1, max_size=3))
def test_metric_bounds_and_identities(
    chunks: list[tuple[int, int]], refs: list[tuple[int, int]]
) -> None:
    # Chroma sums reference lengths without merging them, so the bounds hold for disjoint ones.
    refs = retrieval.union(refs)
    s = char_scores([("a", a, b) for a, b in chunks], "a", refs)
    assert 0 <= s.iou <= min(s.recall, s.precision) + 1e-12
    assert s.recall <= 1.0 + 1e-12 and s.precision <= 1.0 + 1e-12
    # Retrieving exactly the (disjoint) references is perfect.
    merged = retrieval.union(refs)
    perfect = char_scores([("a", a, b) for a, b in merged], "a", merged)
    assert perfect == retrieval.Scores(1.0, 1.0, 1.0)


# -- the questions file --------------------------------------------------------------------------


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, "utf-8")
    return p


def test_read_chroma_csv_and_jsonl_forms(tmp_path: Path) -> None:
    refs = json.dumps([{"content": "x", "start_index": 3, "end_index": 9}])
    csv_text = (
        "question,references,corpus_id\n"
        f'"What, with a comma\nand a newline?","{refs.replace(chr(34), chr(34) * 2)}",doc\n'
        f'Second?,"{refs.replace(chr(34), chr(34) * 2)}",other\n'
    )
    qs = read_questions(_write(tmp_path, "q.csv", csv_text))
    assert [q.corpus for q in qs] == ["doc", "other"]
    assert qs[0].references == ((3, 9),) and qs[0].question.startswith("What, with")
    # The second record starts on line 4: the first one's quoted field spans two lines.
    assert [q.line for q in qs] == [2, 4]
    lines = [
        {"question": "a?", "source": "d.md", "start": 1, "end": 4},
        {"question": "b?", "corpus_id": "d", "references": [{"start": 0, "end": 2}]},
        {"question": "c?", "source": "d.md", "references": [{"start_index": 5, "end_index": 7}]},
    ]
    qs = read_questions(_write(tmp_path, "q.jsonl", "\n".join(map(json.dumps, lines)) + "\n\n"))
    assert [q.references for q in qs] == [((1, 4),), ((0, 2),), ((5, 7),)]
    assert [q.line for q in qs] == [1, 2, 3]


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("q.jsonl", '{"question": "a?", "source": "d", "start": 1, "end": 4}\nnope\n', "q.jsonl:2"),
        ("q.jsonl", '{"question": "a?", "start": 1, "end": 4}\n', "corpus_id"),
        ("q.jsonl", '{"question": "", "source": "d", "start": 1, "end": 4}\n', "question"),
        ("q.jsonl", '{"question": "a?", "source": "d", "start": 5, "end": 4}\n', "empty"),
        (
            "q.jsonl",
            '{"question": "a?", "source": "d", "references": [{"start": "x"}]}\n',
            "integer",
        ),
        ("q.jsonl", '{"question": "a?", "source": "d"}\n', "references"),
        ("q.jsonl", "[1, 2]\n", "JSON object"),
        ("q.csv", "question,references,corpus_id\na?,[oops,d\n", "q.csv:2: references"),
        ("q.csv", "text,corpus_id\na,d\n", "q.csv:1"),
        ("q.csv", "question,references,corpus_id\n", "no questions"),
    ],
)
def test_malformed_lines_name_the_line(tmp_path: Path, name: str, text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        read_questions(_write(tmp_path, name, text))


def test_match_documents_by_stem_name_or_path_and_errors(tmp_path: Path) -> None:
    docs = [
        Document(source=str(tmp_path / "a.md"), doc_id="1", text="x" * 50),
        Document(source=str(tmp_path / "sub" / "b.txt"), doc_id="2", text="y" * 10),
    ]
    qs = [
        Question("q", "a", ((0, 5),), 1),
        Question("q", "b.txt", ((0, 10),), 2),
        Question("q", str(tmp_path / "a.md"), ((40, 50),), 3),
    ]
    assert match_documents(qs, docs, "q.csv") == [0, 1, 0]
    with pytest.raises(UsageError, match=r"q.csv:7: unknown corpus 'c'"):
        match_documents([Question("q", "c", ((0, 1),), 7)], docs, "q.csv")
    with pytest.raises(UsageError, match=r"q.csv:9: reference 5-11 is outside 'b'"):
        match_documents([Question("q", "b", ((5, 11),), 9)], docs, "q.csv")


# -- scoring a configuration -----------------------------------------------------------------------


def test_score_retrieval_with_stub_vectors() -> None:
    # Three chunks in two documents; question 0 points at chunk 1, question 1 at chunk 2.
    spans = [(0, 0, 10), (0, 10, 20), (1, 0, 10)]
    cvecs = np.eye(3, dtype=np.float32)
    qvecs = np.array([[0.1, 1.0, 0.0], [0.0, 0.2, 1.0]], dtype=np.float32)
    qs = [Question("q0", "a", ((10, 20),)), Question("q1", "b", ((0, 5),))]
    res = retrieval.score_retrieval(spans, cvecs, qvecs, qs, [0, 1], k=1)
    assert res["recall"] == 100.0
    assert res["precision"] == pytest.approx((100 + 50) / 2)
    assert res["by_document"][1]["iou"] == 50.0
    # With k=2 each question also gets a wrong chunk: recall stays, precision halves.
    res2 = retrieval.score_retrieval(spans, cvecs, qvecs, qs, [0, 1], k=2)
    assert res2["recall"] == 100.0 and res2["precision"] == pytest.approx(res["precision"] / 2)


def test_configurations_cross_product() -> None:
    cfgs = configurations(["auto", "recursive"], [128, 256], [0, 128], ["late", "naive"])
    # 128/128 is left out: overlap must stay below the cap.
    assert len(cfgs) == 2 * (1 + 2) * 2
    assert RetrievalConfig("recursive", 256, 128, "naive") in cfgs
    assert cfgs[0].name == "auto 128 late"
    with pytest.raises(UsageError):
        configurations(["auto"], [None], [None], ["lazy"])
