"""``chunk eval``: the metrics of :mod:`chunkwise.quality` over whole runs.

A *run* is one chunking of a set of documents: either produced here (parse each document once,
chunk it with every named chunker) or read back from our JSONL/Parquet output (documents are
re-parsed from their ``source`` when it is still there and unchanged, else rebuilt from the chunk
texts, without elements). Each run gets per-document metrics and their means; with questions
(JSONL ``question``, ``source``, ``start``, ``end``) also token-level recall/precision/IoU at k.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from chunkwise import quality
from chunkwise.errors import DocumentError, ErrorRecord, UsageError
from chunkwise.options import Options
from chunkwise.types import Chunk, Document, PageBox

log = logging.getLogger("chunkwise")


@dataclass
class EvalSettings:
    size: quality.SizeRange = field(default_factory=quality.SizeRange)
    vectors: str = "auto"
    embed_model: str | None = None
    device: str = "auto"
    k: int = 5
    max_tokens: int | None = None
    tokenizer: str = "cl100k_base"
    stickiness: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "min_size": self.size.lo,
            "max_size": self.size.hi,
            "vectors": self.vectors,
            "embed_model": self.embed_model,
            "k": self.k,
            "max_tokens": self.max_tokens,
            "tokenizer": self.tokenizer,
        }


@dataclass
class Run:
    """One chunking of a set of documents."""

    name: str
    docs: list[tuple[Document, list[Chunk]]] = field(default_factory=list)
    embedding_model: str | None = None


# -- producing runs ------------------------------------------------------------------------------


def run_chunkers(
    paths: Sequence[str],
    chunkers: Sequence[str],
    options: Any,
    on_error: Callable[[ErrorRecord], None] | None = None,
) -> list[Run]:
    """Parse every document under ``paths`` once and chunk it with each of ``chunkers``.
    ``options`` is an :class:`chunkwise.pipeline.IngestOptions` (its ``chunker`` is ignored)."""
    from chunkwise.pipeline import Processor, iter_sources

    proc = Processor(options)
    for name in chunkers:
        proc.chunker(name)  # unknown or unimportable names are usage errors, before any work
    runs = [Run(name) for name in chunkers]
    for src in iter_sources(paths, options.walk, follow_symlinks=options.follow_symlinks):
        stage = "parse"
        try:
            parser = proc.parser(proc.parser_name(src))
            doc = parser.parse(src.data if src.data is not None else src.path, source=src.name)
            if not doc.parser:
                doc = dataclasses.replace(doc, parser=parser.name)
        except (DocumentError, OSError) as exc:
            if on_error:
                on_error(ErrorRecord.from_exception(src.name, exc, stage))
            continue
        for run in runs:
            try:
                chunks = list(proc.chunker(run.name).chunk(doc))
            except UsageError:
                raise
            except Exception as exc:  # one chunker failing on one document is a record, not a stop
                if on_error:
                    on_error(ErrorRecord.from_exception(src.name, exc, "chunk"))
                continue
            run.docs.append((doc, chunks))
    return runs


# -- reading runs --------------------------------------------------------------------------------


def read_records(path: Path) -> list[dict[str, Any]]:
    """Chunk records of a JSONL or Parquet file written by ``chunk ingest``."""
    if not path.is_file():
        raise UsageError(f"no such chunks file: {path}")
    if path.suffix.lower() == ".parquet":
        try:
            import pyarrow.parquet as pq

            rows: list[dict[str, Any]] = pq.read_table(path).to_pylist()
        except Exception as exc:
            raise UsageError(f"cannot read {path} as Parquet: {exc}") from exc
        for r in rows:
            if isinstance(r.get("metadata"), str):
                r["metadata"] = json.loads(r["metadata"] or "{}")
        return rows
    rows = []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise UsageError(f"{path}:{n}: not a JSON line: {exc.msg}") from exc
            if not isinstance(rec, dict):
                raise UsageError(f"{path}:{n}: expected a JSON object")
            if rec.get("deleted"):
                continue  # --emit-deletes records carry no chunk
            rows.append(rec)
    return rows


_REQUIRED = ("doc_id", "source", "index", "text", "start", "end", "n_tokens")


def run_from_records(
    records: Sequence[Mapping[str, Any]],
    name: str,
    parser_options: Mapping[str, Options] | None = None,
) -> Run:
    """Group records by document and rebuild each document (see module docstring);
    ``parser_options`` by parser name, for re-parsing."""
    by_doc: dict[str, list[Mapping[str, Any]]] = {}
    for n, r in enumerate(records, 1):
        missing = [k for k in _REQUIRED if k not in r]
        if missing:
            raise UsageError(f"chunk record {n} lacks {', '.join(missing)}: not our output?")
        by_doc.setdefault(str(r["doc_id"]), []).append(r)
    run = Run(name)
    models = {r.get("embedding_model") for r in records if r.get("embedding_model")}
    run.embedding_model = next(iter(models)) if len(models) == 1 else None
    for doc_id, recs in by_doc.items():
        recs = sorted(recs, key=lambda r: int(r["index"]))
        doc = _reparse(recs[0], doc_id, parser_options or {}) or _rebuild(recs, doc_id)
        chunks = [_chunk_from_record(r, doc) for r in recs]
        run.docs.append((doc, chunks))
    return run


def _reparse(
    rec: Mapping[str, Any], doc_id: str, parser_options: Mapping[str, Options]
) -> Document | None:
    from chunkwise import registry

    src = str(rec["source"])
    path = Path(src)
    if not path.is_file() or not rec.get("parser"):
        return None
    try:
        name = str(rec["parser"])
        doc = registry.load("parsers", name)(parser_options.get(name)).parse(path, source=src)
    except Exception as exc:
        log.debug("eval: cannot re-parse %s: %s", src, exc)
        return None
    if doc.doc_id != doc_id:
        log.warning("%s changed since it was chunked; scoring it without its layout", src)
        return None
    if not doc.parser:
        doc = dataclasses.replace(doc, parser=str(rec["parser"]))
    return doc


def _rebuild(recs: Sequence[Mapping[str, Any]], doc_id: str) -> Document:
    """The document text as far as the chunks cover it (gaps become spaces)."""
    end = max(int(r["end"]) for r in recs)
    buf = [" "] * end
    for r in recs:
        text = str(r["text"])
        a, b = int(r["start"]), int(r["end"])
        if len(text) == b - a:
            buf[a:b] = list(text)
    return Document(
        source=str(recs[0]["source"]),
        doc_id=doc_id,
        text="".join(buf),
        parser=str(recs[0].get("parser") or ""),
    )


def _chunk_from_record(r: Mapping[str, Any], doc: Document) -> Chunk:
    a, b = int(r["start"]), int(r["end"])
    text = str(r["text"])
    boxes = r.get("bboxes")
    return Chunk(
        doc_id=str(r["doc_id"]),
        index=int(r["index"]),
        start=a,
        end=b,
        text=text,
        n_tokens=int(r["n_tokens"]),
        tokenizer=str(r.get("tokenizer") or "cl100k_base"),
        chunker=str(r.get("chunker") or ""),
        pages=tuple(r["pages"]) if r.get("pages") else None,
        bboxes=tuple(PageBox(**bb) for bb in boxes) if boxes else None,
        headings=tuple(r.get("headings") or ()),
        kind=str(r.get("kind") or "text"),
        continues=r.get("continues"),
        metadata=dict(r.get("metadata") or {}),
        synthetic=doc.text[a:b] != text,
        embedding=tuple(r["embedding"]) if r.get("embedding") is not None else None,
        embedding_model=r.get("embedding_model"),
    )


def run_name(records: Sequence[Mapping[str, Any]], path: Path) -> str:
    """``auto`` for auto output, the chunker's name when the file holds one, else the file name."""
    if records and all("auto" in (r.get("metadata") or {}) for r in records):
        return "auto"
    names = {r.get("chunker") for r in records}
    if len(names) == 1 and None not in names:
        return str(next(iter(names)))
    return path.name


# -- questions -----------------------------------------------------------------------------------


def read_questions(path: Path) -> list[quality.Question]:
    if not path.is_file():
        raise UsageError(f"no such questions file: {path}")
    out: list[quality.Question] = []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                q = quality.Question(
                    str(rec["question"]), str(rec["source"]), int(rec["start"]), int(rec["end"])
                )
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                raise UsageError(
                    f"{path}:{n}: a question line needs question, source, start, end ({exc})"
                ) from exc
            if q.end <= q.start:
                raise UsageError(f"{path}:{n}: end must be after start")
            out.append(q)
    if not out:
        raise UsageError(f"{path}: no questions")
    return out


def _match_source(source: str, docs: Sequence[Document]) -> Document | None:
    for d in docs:
        if d.source == source:
            return d
    want = Path(source).resolve()
    for d in docs:
        if Path(d.source).resolve() == want:
            return d
    named = [d for d in docs if Path(d.source).name == Path(source).name]
    return named[0] if len(named) == 1 else None


def retrieval(
    run: Run, questions: Sequence[quality.Question], settings: EvalSettings
) -> dict[str, Any]:
    """Mean token-level recall/precision/IoU at k over the questions whose source is in the run.

    Every chunk of the run competes for every question (as in Chroma's evaluation): chunks from
    other documents add their tokens to the retrieved total and nothing to the hits."""
    from chunkwise.tokenizers import get_tokenizer

    docs = [d for d, _ in run.docs]
    chunks = [(di, c) for di, (_, cs) in enumerate(run.docs) for c in cs]
    usable = [(q, _match_source(q.source, docs)) for q in questions]
    usable_q = [(q, d) for q, d in usable if d is not None]
    skipped = len(questions) - len(usable_q)
    if not chunks or not usable_q:
        return {"questions": 0, "skipped": skipped}
    tok = get_tokenizer(settings.tokenizer)
    offsets = [_offsets(tok, d.text) for d in docs]
    model = run.embedding_model or settings.embed_model
    stored = all(c.embedding is not None for _, c in chunks)
    vec = quality.get_vectorizer("model" if stored else settings.vectors, model, settings.device)
    qtexts = [q.question for q, _ in usable_q]
    if stored:
        cm = quality.normalise(np.asarray([c.embedding for _, c in chunks], dtype=np.float32))
        qm = vec.vectors(qtexts)
    elif isinstance(vec, quality.LexicalVectorizer):
        # One IDF over chunks and questions together, so both live in the same space.
        m = vec.vectors([c.text for _, c in chunks] + qtexts)
        cm, qm = m[: len(chunks)], m[len(chunks) :]
    else:
        cm = vec.vectors([c.text for _, c in chunks])
        qm = vec.vectors(qtexts)
    sims = qm @ cm.T
    k = max(1, settings.k)
    doc_index = {id(d): i for i, d in enumerate(docs)}
    sums = {"recall": 0.0, "precision": 0.0, "iou": 0.0}
    for qi, (q, d) in enumerate(usable_q):
        order = np.argsort(-sims[qi], kind="stable")[:k]
        target = doc_index[id(d)]
        spans: list[tuple[int, int]] = []
        foreign = 0
        for ci in order:
            di, c = chunks[int(ci)]
            if di == target:
                spans.append((c.start, c.end))
            else:
                foreign += len(quality.token_positions(c.start, c.end, offsets[di]))
        s = quality.retrieval_scores(spans, (q.start, q.end), offsets[target], extra_tokens=foreign)
        for key in sums:
            sums[key] += s[key]
    n = len(usable_q)
    out: dict[str, Any] = {f"{key}@{k}": round(v / n, 4) for key, v in sums.items()}
    out["questions"] = n
    out["skipped"] = skipped
    out["vectors"] = vec.name if not stored else f"stored ({model})"
    return out


def _offsets(tok: Any, text: str) -> quality.Offsets:
    starts, ends = tok.offsets(text)
    return np.asarray(starts), np.asarray(ends)


# -- the report ----------------------------------------------------------------------------------


def evaluate(
    runs: Sequence[Run],
    settings: EvalSettings,
    questions: Sequence[quality.Question] | None = None,
) -> dict[str, Any]:
    """Per-document metrics and their means for every run, plus how auto compares."""
    vectorizer = quality.get_vectorizer(settings.vectors, settings.embed_model, settings.device)
    report: dict[str, Any] = {"settings": settings.to_dict(), "vectors": vectorizer.name}
    report["runs"] = {}
    for run in runs:
        rows: list[dict[str, Any]] = []
        for doc, chunks in run.docs:
            if not chunks:
                continue
            s = quality.score(
                doc,
                chunks,
                size=settings.size,
                vectorizer=vectorizer,
                max_tokens=settings.max_tokens,
                stickiness=settings.stickiness,
            )
            row: dict[str, Any] = {"source": doc.source, "parser": doc.parser}
            row.update(s.to_dict())
            auto = chunks[0].metadata.get("auto") if chunks[0].metadata else None
            if isinstance(auto, Mapping):
                row["chosen"] = auto.get("chosen")
            rows.append(row)
        entry: dict[str, Any] = {"summary": summarise(rows), "documents": rows}
        if questions:
            entry["summary"].update(retrieval(run, questions, settings))
        report["runs"][run.name] = entry
    report["comparison"] = compare(report["runs"])
    return report


_MEAN_KEYS = (*quality.METRICS, "combined", "stickiness", "mean_tokens")


def summarise(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"documents": len(rows), "chunks": sum(int(r["chunks"]) for r in rows)}
    for key in _MEAN_KEYS:
        vals = [float(r[key]) for r in rows if key in r]
        if vals:
            out[key] = round(float(np.mean(vals)), 4)
    chosen = [r["chosen"] for r in rows if r.get("chosen")]
    if chosen:
        counts: dict[str, int] = {}
        for c in chosen:
            counts[c] = counts.get(c, 0) + 1
        out["chosen"] = dict(sorted(counts.items()))
    return out


def compare(runs: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Per document, which run scores best on the combined score; with an ``auto`` run and at
    least one other, on how many documents auto is at least as good as the best other run."""
    by_source: dict[str, dict[str, float]] = {}
    for name, entry in runs.items():
        for row in entry["documents"]:
            by_source.setdefault(row["source"], {})[name] = float(row["combined"])
    wins: dict[str, int] = {}
    for scores in by_source.values():
        best = max(scores.values())
        for name, v in scores.items():
            if math.isclose(v, best, abs_tol=1e-4):
                wins[name] = wins.get(name, 0) + 1
    out: dict[str, Any] = {"documents": len(by_source), "best_on": dict(sorted(wins.items()))}
    if "auto" in runs and len(runs) > 1:
        judged = ok = 0
        for scores in by_source.values():
            others = [v for n, v in scores.items() if n != "auto"]
            if "auto" not in scores or not others:
                continue
            judged += 1
            ok += scores["auto"] >= max(others) - 1e-4
        out["auto_at_least_best"] = {"documents": judged, "count": ok}
    return out


def iter_flat_rows(report: Mapping[str, Any]) -> Iterable[dict[str, Any]]:
    """One row per (run, document), for tables."""
    for name, entry in report["runs"].items():
        for row in entry["documents"]:
            yield {"run": name, **row}
