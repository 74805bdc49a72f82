"""``chunk eval``: the metrics of :mod:`chunkwise.quality` over whole runs.

A *run* is one chunking of a set of documents: either produced here (parse each document once,
chunk it with every named chunker) or read back from our JSONL/Parquet output (documents are
re-parsed from their ``source`` when it is still there and unchanged, else rebuilt from the chunk
texts, without elements). Each run gets per-document metrics and their means. With questions,
:class:`RetrievalRunner` scores configurations (chunker x size x overlap x late/naive) for
retrieval instead, with the metrics of :mod:`chunkwise.retrieval`.
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

from chunkwise import quality, retrieval
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


def parse_documents(
    paths: Sequence[str], options: Any, on_error: Callable[[ErrorRecord], None] | None = None
) -> list[Document]:
    """Every document under ``paths``, parsed once (failures go to ``on_error``)."""
    from chunkwise.pipeline import Processor, iter_sources

    proc = Processor(options)
    docs: list[Document] = []
    for src in iter_sources(paths, options.walk, follow_symlinks=options.follow_symlinks):
        try:
            parser = proc.parser(proc.parser_name(src))
            doc = parser.parse(src.data if src.data is not None else src.path, source=src.name)
            if not doc.parser:
                doc = dataclasses.replace(doc, parser=parser.name)
        except (DocumentError, OSError) as exc:
            if on_error:
                on_error(ErrorRecord.from_exception(src.name, exc, "parse"))
            continue
        docs.append(doc)
    return docs


def auto_candidates(docs: Sequence[Document], options: Any) -> list[str]:
    """``auto`` followed by every chunker auto chose between on ``docs``, in order of first use:
    what ``chunk eval`` compares when no ``-c`` is given."""
    from chunkwise.chunkers.auto import AutoChunker

    auto = AutoChunker(options.chunker_config)
    names = ["auto"]
    for doc in docs:
        for n in auto.candidates(doc):
            if n not in names:
                names.append(n)
    return names


def chunk_documents(
    docs: Sequence[Document],
    chunker: Any,
    on_error: Callable[[ErrorRecord], None] | None = None,
) -> list[tuple[Document, list[Chunk]]]:
    """``chunker``'s chunks of each document (a document it fails on becomes an error record)."""
    out: list[tuple[Document, list[Chunk]]] = []
    for doc in docs:
        try:
            chunks = list(chunker.chunk(doc))
        except UsageError:
            raise
        except Exception as exc:  # one chunker failing on one document is a record, not a stop
            if on_error:
                on_error(ErrorRecord.from_exception(doc.source, exc, "chunk"))
            continue
        out.append((doc, chunks))
    return out


def run_chunkers(
    docs: Sequence[Document],
    chunkers: Sequence[str],
    options: Any,
    on_error: Callable[[ErrorRecord], None] | None = None,
) -> list[Run]:
    """Chunk every document with each of ``chunkers``. ``options`` is an
    :class:`chunkwise.pipeline.IngestOptions` (its ``chunker`` is ignored)."""
    from chunkwise.pipeline import Processor

    proc = Processor(options)
    for name in chunkers:
        proc.chunker(name)  # unknown or unimportable names are usage errors, before any work
    return [Run(n, chunk_documents(docs, proc.chunker(n), on_error)) for n in chunkers]


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
    from chunkwise.retrieval import jsonl_rows

    rows = []
    for _, rec in jsonl_rows(path.read_text(encoding="utf-8"), path):
        if rec.get("deleted"):
            continue  # --emit-deletes records carry no chunk
        rows.append(dict(rec))
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


# -- the report ----------------------------------------------------------------------------------


def evaluate(runs: Sequence[Run], settings: EvalSettings) -> dict[str, Any]:
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


# -- retrieval (Chroma's protocol, see chunkwise.retrieval) ---------------------------------------

EMBEDDINGS = ("late", "naive")


@dataclass(frozen=True)
class RetrievalConfig:
    """One configuration scored for retrieval; ``None`` sizes mean ``chunk ingest --embed``'s."""

    chunker: str
    max_tokens: int | None = None
    overlap: int | None = None
    embedding: str = "late"

    @property
    def name(self) -> str:
        size = "" if self.max_tokens is None else f" {self.max_tokens}"
        if self.overlap:
            size += f"/{self.overlap}"
        return f"{self.chunker}{size} {self.embedding}"


def configurations(
    chunkers: Sequence[str],
    max_tokens: Sequence[int | None],
    overlaps: Sequence[int | None],
    embeddings: Sequence[str],
) -> list[RetrievalConfig]:
    """The cross product, in the order given; sizes whose overlap is not below the cap are left
    out (with a warning) rather than failing the whole comparison."""
    out: list[RetrievalConfig] = []
    for e in embeddings:
        if e not in EMBEDDINGS:
            raise UsageError(f"embedding must be late or naive, not {e!r}")
    for c in chunkers:
        for m in max_tokens:
            for o in overlaps:
                if m is not None and o is not None and o >= m:
                    log.warning("skipping %s --max-tokens %d --overlap %d: overlap >= cap", c, m, o)
                    continue
                for e in embeddings:
                    cfg = RetrievalConfig(c, m, o, e)
                    if cfg not in out:
                        out.append(cfg)
    if not out:
        raise UsageError("no configuration left to evaluate")
    return out


class RetrievalRunner:
    """Chunks, embeds and scores configurations against one set of questions, with one model for
    chunks and questions (Chroma's protocol). ``options`` is the base
    :class:`chunkwise.pipeline.IngestOptions`; ``tokenizer`` None sizes chunks in the model's
    tokenizer, as ``chunk ingest --embed`` does."""

    def __init__(
        self,
        options: Any,
        embed_config: Any,
        *,
        k: int = 5,
        tokenizer: str | None = None,
        on_error: Callable[[ErrorRecord], None] | None = None,
    ) -> None:
        self.options = options
        self.embed_config = embed_config
        self.k = k
        self.tokenizer = tokenizer
        self.on_error = on_error
        self._embedders: dict[tuple[str, int | None], Any] = {}

    def embedder(self, kind: str, merge: int | None = None) -> Any:
        if (kind, merge) not in self._embedders:
            from chunkwise.embedders import build_embedder

            cfg = dataclasses.replace(self.embed_config, merge=merge)
            self._embedders[(kind, merge)] = build_embedder(kind, cfg)
        return self._embedders[(kind, merge)]

    @property
    def model_name(self) -> str:
        return str(self.embedder("late").model_name)

    def question_vectors(self, questions: Sequence[retrieval.Question]) -> np.ndarray:
        return np.asarray(self.embedder("late").backend.encode([q.question for q in questions]))

    def sizing(self, cfg: RetrievalConfig) -> tuple[Any, int | None]:
        """The chunker config for ``cfg`` and the late merge cap, as ``chunk ingest --embed``
        would use them."""
        from chunkwise.embedders import chunk_sizing, embed_chunk_defaults

        max_tokens, overlap, merge = embed_chunk_defaults(
            cfg.embedding, cfg.max_tokens, cfg.overlap
        )
        tokenizer, max_tokens = chunk_sizing(
            self.embedder(cfg.embedding),
            self.embed_config.model,
            self.tokenizer,
            max_tokens,
            explicit=cfg.max_tokens is not None,
        )
        from chunkwise.chunkers.options import AutoOptions, CastOptions, cast_budget

        options = dict(self.options.chunker_config.options)
        cast = CastOptions.coerce(options.get("cast"))
        if cfg.max_tokens is not None and cast.budget == "chars":
            chars_given = cast.max_chars != CastOptions().max_chars
            options["cast"] = cast.merged({"budget": cast_budget(chars_given, True)})
        if merge:
            auto = AutoOptions.coerce(options.get("auto"))
            options["auto"] = auto.merged({"choose_tokens": merge})
        config = dataclasses.replace(
            self.options.chunker_config,
            max_tokens=max_tokens,
            overlap=min(overlap, max_tokens - 1),
            tokenizer=tokenizer,
            options=options,
        )
        return config, merge

    def chunk(self, docs: Sequence[Document], cfg: RetrievalConfig) -> Run:
        from chunkwise import registry

        config, _ = self.sizing(cfg)
        chunker = registry.load("chunkers", cfg.chunker)(config)
        return Run(cfg.name, chunk_documents(docs, chunker, self.on_error))

    def embed(self, run: Run, cfg: RetrievalConfig) -> tuple[Run, np.ndarray]:
        """``run`` as embedded for ``cfg`` (late merging may change its chunks) and its vectors."""
        _, merge = self.sizing(cfg)
        if not merge:
            return run, self.vectors(run, cfg.embedding)
        emb = self.embedder(cfg.embedding, merge)
        done = emb.embed([d for d, _ in run.docs], [cs for _, cs in run.docs])
        merged = Run(run.name, [(d, cs) for (d, _), cs in zip(run.docs, done, strict=True)])
        return merged, np.asarray([c.embedding for cs in done for c in cs], dtype=np.float32)

    def vectors(self, run: Run, embedding: str) -> np.ndarray:
        """One vector per chunk of ``run``, in document order: stored ones when every chunk has
        one (``--chunks`` output of ``ingest --embed``), else from ``embedding``."""
        flat = [c for _, cs in run.docs for c in cs]
        if flat and all(c.embedding is not None for c in flat):
            return np.asarray([c.embedding for c in flat], dtype=np.float32)
        emb = self.embedder(embedding)
        done = emb.embed([d for d, _ in run.docs], [cs for _, cs in run.docs])
        return np.asarray([c.embedding for cs in done for c in cs], dtype=np.float32)

    def score(
        self,
        run: Run,
        vectors: np.ndarray,
        docs: Sequence[Document],
        questions: Sequence[retrieval.Question],
        question_docs: Sequence[int],
        qvecs: np.ndarray,
    ) -> dict[str, Any]:
        index = {d.doc_id: i for i, d in enumerate(docs)}
        spans = [(index[d.doc_id], c.start, c.end) for d, cs in run.docs for c in cs]
        res = retrieval.score_retrieval(spans, vectors, qvecs, questions, question_docs, self.k)
        flat = [c for _, cs in run.docs for c in cs]
        res["chunks"] = len(flat)
        res["mean_tokens"] = round(float(np.mean([c.n_tokens for c in flat])), 1) if flat else 0.0
        res["by_document"] = {docs[i].source: v for i, v in res.get("by_document", {}).items()}
        return res

    def evaluate(
        self,
        docs: Sequence[Document],
        questions: Sequence[retrieval.Question],
        question_docs: Sequence[int],
        configs: Sequence[RetrievalConfig],
        extra_runs: Sequence[Run] = (),
    ) -> dict[str, Any]:
        """The report: one row per configuration (and per ``extra_runs`` run, read from files)."""
        import time

        qvecs = self.question_vectors(questions)
        rows: list[dict[str, Any]] = []
        for cfg in configs:
            t0 = time.perf_counter()
            run, vecs = self.embed(self.chunk(docs, cfg), cfg)
            seconds = time.perf_counter() - t0
            row = {"name": cfg.name, **dataclasses.asdict(cfg)}
            row.update(self.score(run, vecs, docs, questions, question_docs, qvecs))
            row["seconds"] = round(seconds, 2)
            rows.append(row)
        for run in extra_runs:
            t0 = time.perf_counter()
            vecs = self.vectors(run, "naive")
            row = {"name": run.name, "chunker": run.name, "embedding": "stored/naive"}
            row.update(self.score(run, vecs, docs, questions, question_docs, qvecs))
            row["seconds"] = round(time.perf_counter() - t0, 2)
            rows.append(row)
        return {
            "settings": {"k": self.k, "embed_model": self.model_name, "questions": len(questions)},
            "configurations": rows,
        }
