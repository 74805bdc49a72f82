"""Retrieval evaluation as in Chroma's chunking evaluation (Smith & Troynikov, 2024).

Every chunk of every document goes into one collection; each question is embedded with the same
model and the top ``k`` chunks by cosine are retrieved. Scores are counted in characters against
the question's gold excerpts (``references``), exactly as Chroma's ``BaseEvaluation`` does:

- covered = union over retrieved chunks of the same document of (chunk ∩ reference);
- recall = covered / sum of reference lengths;
- precision = covered / sum of the lengths of all retrieved chunks (any document; overlapping
  chunks count their shared characters twice, so redundancy costs precision);
- IoU = covered / (sum of retrieved lengths + reference characters left uncovered).

This module holds the one implementation of these metrics, the questions-file reader with its
validation, and the scoring of one configuration from chunk and question vectors. Nothing heavy
is imported here: embedding happens in :mod:`chunkwise.evaluate`.
"""

from __future__ import annotations

import contextlib
import csv
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from chunkwise.errors import UsageError
from chunkwise.types import Document

Span = tuple[int, int]


@dataclass(frozen=True)
class Question:
    """One question with its gold excerpts, as read from line ``line`` of its file."""

    question: str
    corpus: str
    references: tuple[Span, ...]
    line: int = 0


@dataclass(frozen=True)
class Scores:
    recall: float
    precision: float
    iou: float


# -- the metric ----------------------------------------------------------------------------------


def union(spans: Sequence[Span]) -> list[Span]:
    """Sorted, merged spans (touching spans merge: they cover consecutive characters)."""
    out: list[Span] = []
    for a, b in sorted(s for s in spans if s[1] > s[0]):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _length(spans: Sequence[Span]) -> int:
    return sum(b - a for a, b in spans)


def _subtract(spans: Sequence[Span], cut: Sequence[Span]) -> list[Span]:
    out: list[Span] = []
    for a, b in spans:
        pieces = [(a, b)]
        for c, d in cut:
            nxt: list[Span] = []
            for x, y in pieces:
                if d <= x or c >= y:
                    nxt.append((x, y))
                    continue
                if c > x:
                    nxt.append((x, c))
                if d < y:
                    nxt.append((d, y))
            pieces = nxt
        out.extend(pieces)
    return out


def char_scores(
    retrieved: Sequence[tuple[Any, int, int]], corpus: Any, references: Sequence[Span]
) -> Scores:
    """Character recall, precision and IoU of ``retrieved`` (``(corpus, start, end)`` per chunk,
    in rank order) against the ``references`` of one question about ``corpus``."""
    hits: list[Span] = []
    for key, a, b in retrieved:
        if key != corpus:
            continue
        for ra, rb in references:
            lo, hi = max(a, ra), min(b, rb)
            if hi > lo:
                hits.append((lo, hi))
    covered = _length(union(hits))
    gold = _length(references)
    unused = _length(_subtract(references, union(hits)))
    retrieved_len = sum(b - a for _, a, b in retrieved)
    recall = covered / gold if gold else 0.0
    precision = covered / retrieved_len if retrieved_len else 0.0
    denom = retrieved_len + unused
    return Scores(recall, precision, covered / denom if denom else 0.0)


def top_k(sims: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest values of each row, best first (ties: lower index first)."""
    k = min(k, sims.shape[1])
    return np.argsort(-sims, axis=1, kind="stable")[:, :k]


def score_retrieval(
    chunk_spans: Sequence[tuple[int, int, int]],
    chunk_vectors: np.ndarray,
    question_vectors: np.ndarray,
    questions: Sequence[Question],
    question_docs: Sequence[int],
    k: int = 5,
) -> dict[str, Any]:
    """Mean recall/precision/IoU ×100 over ``questions``, overall and per document.

    ``chunk_spans``: ``(document index, start, end)`` of every chunk of the collection, rows of
    ``chunk_vectors`` in the same order; ``question_docs``: the document index of each question.
    Vectors are L2-normalised here, so the dot product is the cosine."""
    if not len(chunk_spans) or not questions:
        return {"questions": len(questions), "recall": 0.0, "precision": 0.0, "iou": 0.0}
    cm = _normalise(np.asarray(chunk_vectors, dtype=np.float32))
    qm = _normalise(np.asarray(question_vectors, dtype=np.float32))
    order = top_k(qm @ cm.T, k)
    per: list[tuple[int, Scores]] = []
    for qi, (q, d) in enumerate(zip(questions, question_docs, strict=True)):
        got = [chunk_spans[int(i)] for i in order[qi]]
        per.append((d, char_scores(got, d, q.references)))
    out = _means([s for _, s in per])
    by_doc: dict[int, list[Scores]] = {}
    for d, s in per:
        by_doc.setdefault(d, []).append(s)
    out["by_document"] = {d: _means(v) for d, v in sorted(by_doc.items())}
    return out


def _means(scores: Sequence[Scores]) -> dict[str, Any]:
    n = len(scores)
    return {
        "questions": n,
        "recall": round(100 * sum(s.recall for s in scores) / n, 2) if n else 0.0,
        "precision": round(100 * sum(s.precision for s in scores) / n, 2) if n else 0.0,
        "iou": round(100 * sum(s.iou for s in scores) / n, 2) if n else 0.0,
    }


def _normalise(m: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return m / np.where(norms == 0, 1.0, norms)


# -- the questions file --------------------------------------------------------------------------


def read_questions(path: Path) -> list[Question]:
    """Questions from a CSV (header row) or JSONL file; a malformed line is a usage error naming
    ``path:line``. Fields: ``question``; ``references`` (a list, or in CSV a JSON list, of
    ``{start_index, end_index}`` or ``{start, end}``) or ``start``/``end`` on the line itself;
    ``corpus_id`` or ``source`` naming the document."""
    if not path.is_file():
        raise UsageError(f"no such questions file: {path}")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not UTF-8 text ({exc.reason})") from exc
    rows = _csv_rows(text, path) if _is_csv(path, text) else jsonl_rows(text, path)
    out = [_question(rec, path, line) for line, rec in rows]
    if not out:
        raise UsageError(f"{path}: no questions")
    return out


def _is_csv(path: Path, text: str) -> bool:
    if path.suffix.lower() in (".csv", ".tsv"):
        return True
    if path.suffix.lower() in (".jsonl", ".json", ".ndjson"):
        return False
    return not text.lstrip().startswith("{")


def jsonl_rows(text: str, path: Path) -> Iterator[tuple[int, Mapping[str, Any]]]:
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{path}:{n}: not a JSON line: {exc.msg}") from exc
        if not isinstance(rec, dict):
            raise UsageError(f"{path}:{n}: expected a JSON object")
        yield n, rec


def _csv_rows(text: str, path: Path) -> Iterator[tuple[int, Mapping[str, Any]]]:
    reader = csv.DictReader(text.splitlines(keepends=True))
    if not reader.fieldnames or "question" not in reader.fieldnames:
        raise UsageError(f"{path}:1: the CSV header needs a 'question' column")
    start = 2
    for rec in reader:
        # A quoted field may span lines: name the line the record starts on.
        line, start = start, reader.line_num + 1
        if rec.get(None):
            raise UsageError(f"{path}:{line}: more fields than the header has")
        refs = rec.get("references")
        out: dict[str, Any] = {k: v for k, v in rec.items() if v not in (None, "")}
        if refs:
            try:
                out["references"] = json.loads(refs)
            except json.JSONDecodeError as exc:
                raise UsageError(
                    f"{path}:{line}: references is not a JSON list: {exc.msg}"
                ) from exc
        yield line, out


def _question(rec: Mapping[str, Any], path: Path, line: int) -> Question:
    where = f"{path}:{line}"
    q = rec.get("question")
    if not isinstance(q, str) or not q.strip():
        raise UsageError(f"{where}: needs a non-empty 'question'")
    corpus = rec.get("corpus_id", rec.get("source"))
    if not isinstance(corpus, str) or not corpus:
        raise UsageError(f"{where}: needs 'corpus_id' or 'source' naming the document")
    raw = rec.get("references")
    if raw is None and ("start" in rec or "start_index" in rec):
        raw = [rec]
    if not isinstance(raw, list) or not raw:
        raise UsageError(f"{where}: needs 'references' (a list of start_index/end_index spans)")
    refs: list[Span] = []
    for r in raw:
        try:
            a = int(r["start_index"] if "start_index" in r else r["start"])
            b = int(r["end_index"] if "end_index" in r else r["end"])
        except (KeyError, TypeError, ValueError) as exc:
            raise UsageError(
                f"{where}: a reference needs integer start_index/end_index (or start/end)"
            ) from exc
        if a < 0 or b <= a:
            raise UsageError(f"{where}: reference {a}-{b} is empty or negative")
        refs.append((a, b))
    return Question(q.strip(), corpus, tuple(refs), line)


def match_documents(
    questions: Sequence[Question], docs: Sequence[Document], path: Path | str
) -> list[int]:
    """The index in ``docs`` of each question's document, found by exact source, resolved path,
    file name or file stem (unique match); an unknown corpus or a reference past the end of its
    document is a usage error naming the question's line."""
    by_key: dict[str, set[int]] = {}
    for i, d in enumerate(docs):
        p = Path(d.source)
        keys = {d.source, p.name, p.stem}
        with contextlib.suppress(OSError):
            keys.add(str(p.resolve()))
        for key in keys:
            by_key.setdefault(key, set()).add(i)
    out: list[int] = []
    for q in questions:
        where = f"{path}:{q.line}"
        found = by_key.get(q.corpus)
        if not found:
            try:
                found = by_key.get(str(Path(q.corpus).resolve()))
            except OSError:
                found = None
        if not found:
            raise UsageError(f"{where}: unknown corpus {q.corpus!r} (no such document was chunked)")
        if len(found) > 1:
            raise UsageError(f"{where}: corpus {q.corpus!r} names several documents; use its path")
        i = next(iter(found))
        size = len(docs[i].text)
        for a, b in q.references:
            if b > size:
                raise UsageError(
                    f"{where}: reference {a}-{b} is outside {q.corpus!r} ({size} characters)"
                )
        out.append(i)
    return out
