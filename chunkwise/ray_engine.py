"""``chunk ingest --engine ray``: the same parse -> chunk -> embed -> write pipeline as Ray Data
stages, on a local Ray instance or an existing cluster.

What runs where:

- driver (the ``chunk`` process): walks the inputs (lazily, with the same rules as the local
  engine), filters them against ``--state``, writes stdout/file output in input order, emits
  error records and stages the state. It never parses or embeds.
- CPU tasks: ``Processor.process`` per document (read, parse, chunk; a bad document is an error
  ``Result``, as locally).
- actor pool: the embedder (late or naive), loaded once per actor; GPU actors when the cluster
  has GPUs (``gpus_per_actor`` each), CPU actors otherwise.
- with ``-o out_dir/``: tasks write one Parquet/JSONL part per block through the local writers
  (same schema) and send the driver only what the state and the error records need.

Documents travel between stages as pickled ``Result`` objects in a binary column, so every stage
reuses the local engine's code unchanged and the records are identical. ``ray`` is imported only
here and only when the engine runs: the CLI and the local engine work without it.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
import os
import pickle
import secrets
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chunkwise.errors import ChunkwiseError, DocumentError, ErrorRecord, MissingExtra, UsageError
from chunkwise.pipeline import IngestOptions, Processor, Result, Source

log = logging.getLogger("chunkwise")

# Documents per block of the input listing: small enough that a folder of a few hundred files
# spreads over every core, large enough that per-task overhead stays small next to parsing.
DOCS_PER_BLOCK = 16
PART_PREFIX = "part-"


def require_ray() -> Any:
    """The ``ray`` module, or a usage error naming the extra that provides it."""
    try:
        import ray
        import ray.data  # ray without its data extra cannot run the stages
    except ImportError as exc:
        missing = getattr(exc, "name", None) or "ray"
        raise MissingExtra("--engine ray", "ray", missing) from exc
    return ray


class RayJobError(ChunkwiseError):
    """The cluster failed the job (not one document): the run stops, its output is discarded."""


@dataclass(frozen=True)
class RayConfig:
    address: str | None = None  # None: start a local instance; "auto" or "ray://host:port"
    num_cpus: int | None = None  # local instance only (default: all cores)
    embed_actors: int | None = None  # None: one per GPU-slot, or one CPU actor
    gpus_per_actor: float = 1.0
    embed_batch_docs: int = 32
    docs_per_block: int = DOCS_PER_BLOCK
    progress: bool = True
    quiet: bool = False

    def __post_init__(self) -> None:
        if self.embed_actors is not None and self.embed_actors < 1:
            raise UsageError("--embed-actors must be at least 1")
        if self.gpus_per_actor < 0:
            raise UsageError("--gpus-per-actor must be >= 0")
        if self.docs_per_block < 1:
            raise UsageError("documents per block must be at least 1")


# -- output directory ----------------------------------------------------------------------------


def is_dir_output(output: str | None) -> bool:
    """``-o out/`` (trailing slash) or an existing folder: sharded output."""
    if not output or output == "-":
        return False
    return output.endswith(("/", os.sep)) or Path(output).is_dir()


class ShardWriter:
    """The driver's writer for ``-o out_dir/``: Ray tasks write the parts, so ``write`` has
    nothing to do; ``close`` publishes the run and ``abort`` removes its parts.

    Parts are named ``part-<run>-<first doc>.<ext>``. Without ``--state`` a run replaces the
    folder's earlier parts on success (like overwriting an output file); with it earlier parts
    stay, since this run holds only the changed files.
    """

    durable_writes = False  # the state is committed after close, when the run's parts are final

    def __init__(self, path: str, fmt: str, *, keep_previous: bool = False) -> None:
        if fmt not in ("parquet", "jsonl"):
            raise UsageError(f"--engine ray writes parquet or jsonl parts, not {fmt}")
        self.dir = Path(path)
        if self.dir.exists() and not self.dir.is_dir():
            raise UsageError(f"output {path} is not a folder")
        self.dir.mkdir(parents=True, exist_ok=True)
        self.fmt = fmt
        self.name = f"{fmt}-parts"
        self.keep_previous = keep_previous
        self.run_id = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)
        self.suffix = ".parquet" if fmt == "parquet" else ".jsonl"

    def write(self, records: Iterable[dict[str, Any]]) -> None:
        """Records were written by the Ray tasks; the driver only counts them."""

    def parts(self, run_id: str | None = None) -> list[Path]:
        prefix = f"{PART_PREFIX}{run_id}-" if run_id else PART_PREFIX
        return sorted(
            p for p in self.dir.iterdir() if p.name.startswith(prefix) and p.suffix == self.suffix
        )

    def close(self) -> None:
        if self.keep_previous:
            return
        mine = set(self.parts(self.run_id))
        for p in self.parts():
            if p not in mine:
                p.unlink(missing_ok=True)

    def abort(self) -> None:
        for p in self.parts(self.run_id):
            p.unlink(missing_ok=True)


def ray_setup(
    output: str | None,
    fmt: str,
    address: str | None,
    embed_actors: int | None,
    gpus_per_actor: float,
    embed: tuple[str, Any] | None,
    *,
    incremental: bool = False,
    progress: bool = True,
    quiet: bool = False,
) -> tuple[RayEngine, Any]:
    """The CLI's entry: the engine and the driver-side writer (parts for ``-o out_dir/``).

    Fails with a usage error naming the extra before any output when ray is not installed.
    """
    from chunkwise import registry

    require_ray()
    config = RayConfig(
        address=address,
        embed_actors=embed_actors,
        gpus_per_actor=gpus_per_actor,
        progress=progress,
        quiet=quiet,
    )
    shards: ShardWriter | None = None
    # A LanceDB output is a folder too, but one the driver's lance writer owns.
    if fmt != "lance" and is_dir_output(output):
        assert output is not None
        shards = ShardWriter(output, fmt, keep_previous=incremental)
        writer: Any = shards
    else:
        writer = registry.load("writers", fmt)(output)
    return RayEngine(config, embed=embed, shards=shards), writer


# -- stage functions (run in Ray workers) --------------------------------------------------------

_PROCESSORS: dict[bytes, Processor] = {}


def _processor(options_blob: bytes) -> Processor:
    """One Processor per worker process and options, so parsers, chunkers and tokenizers load
    once per worker, not once per block."""
    proc = _PROCESSORS.get(options_blob)
    if proc is None:
        _PROCESSORS.clear()
        proc = _PROCESSORS[options_blob] = Processor(pickle.loads(options_blob))
    return proc


def _table(orders: list[int], results: list[Result]) -> Any:
    import pyarrow as pa

    return pa.table(
        {
            "order": pa.array(orders, pa.int64()),
            "result": pa.array(
                [pickle.dumps(r, protocol=pickle.HIGHEST_PROTOCOL) for r in results],
                pa.large_binary(),
            ),
        }
    )


def _unpack(batch: Any) -> tuple[list[int], list[Any]]:
    orders = batch.column("order").to_pylist()
    blobs = batch.column(batch.column_names[1]).to_pylist()
    return orders, [pickle.loads(b) for b in blobs]


def parse_chunk_batch(batch: Any, options_blob: bytes) -> Any:
    """CPU stage: Sources -> Results (chunks or an error record), exactly as the local engine.

    With ``isolate`` (the CLI default; ``--jobs 0`` turns it off) documents run in a forked
    child with the local engine's per-document ``--timeout``: a document that hangs or crashes
    its parser becomes an error record instead of killing the Ray worker (Ray would retry the
    task, die on the same file again, and fail the whole job).
    """

    orders, sources = _unpack(batch)
    proc = _processor(options_blob)
    if not proc.options.isolate:
        return _table(orders, [proc.process(src) for src in sources])
    pool = _kept_pool(options_blob, proc.options)
    return _table(orders, list(pool.imap(sources)) if sources else [])


_POOLS: dict[bytes, Any] = {}


def _kept_pool(options_blob: bytes, options: IngestOptions) -> Any:
    """One child process per Ray worker, kept across blocks: parsers, chunkers and their
    imports (trafilatura, pymupdf, tree-sitter) load once, not once per block. A child that
    crashes or overruns ``--timeout`` is replaced by the pool."""
    pool = _POOLS.get(options_blob)
    if pool is None:
        from chunkwise.pipeline import _lost
        from chunkwise.workers import OrderedPool

        class KeptPool(OrderedPool[Source, Result]):
            def close(self) -> None:
                """``imap`` closes its workers when done; this pool keeps them for the next
                block (they die with the Ray worker: ``PR_SET_PDEATHSIG``, daemon)."""

        close_pools()
        pool = _POOLS[options_blob] = KeptPool(
            functools.partial(_processor_handler, options_blob),
            _lost,
            jobs=1,
            timeout=options.timeout,
            window=2,
            fatal=(UsageError,),
        )
    return pool


def close_pools() -> None:
    """Stop the kept child processes of this process (tests; Ray workers just exit)."""
    from chunkwise.workers import OrderedPool

    for pool in _POOLS.values():
        OrderedPool.close(pool)
    _POOLS.clear()


def _processor_handler(options_blob: bytes) -> Callable[[Source], Result]:
    return _processor(options_blob).process


class EmbedActor:
    """Actor stage: one loaded embedder per actor (a GPU each when the cluster has them)."""

    def __init__(self, method: str, config: Any) -> None:
        from chunkwise.embedders import build_embedder

        self.embedder = build_embedder(method, config)

    def __call__(self, batch: Any) -> Any:
        orders, results = _unpack(batch)
        todo = [r for r in results if r.doc is not None and r.error is None]
        if todo:
            try:
                embedded = self.embedder.embed([r.doc for r in todo], [r.chunks for r in todo])
                for r, chunks in zip(todo, embedded, strict=True):
                    r.chunks = chunks
            except DocumentError as exc:
                # As locally: an embedding failure is reported for every document of the batch.
                for r in todo:
                    r.error = ErrorRecord.from_exception(r.source, exc, "embed")
                    r.doc, r.chunks = None, []
        return _table(orders, results)


def write_part_batch(batch: Any, out_dir: str, fmt: str, run_id: str) -> Any:
    """Write stage for ``-o out_dir/``: one part per block through the local writers, then hand
    the driver light results (ids and counts, no texts or vectors)."""
    from chunkwise import registry
    from chunkwise.records import chunk_record

    orders, results = _unpack(batch)
    ok = [(o, r) for o, r in zip(orders, results, strict=True) if r.doc is not None]
    if ok:
        suffix = ".parquet" if fmt == "parquet" else ".jsonl"
        path = Path(out_dir) / f"{PART_PREFIX}{run_id}-{min(o for o, _ in ok):09d}{suffix}"
        writer = registry.load("writers", fmt)(str(path))
        try:
            for _, r in ok:
                writer.write(chunk_record(c, r.doc) for c in r.chunks)
            writer.close()
        except BaseException:
            writer.abort()
            raise
    light = []
    for r in results:
        if r.doc is not None:
            r.doc = dataclasses.replace(r.doc, text="", elements=())
            r.chunks = [dataclasses.replace(c, text="", embedding=None) for c in r.chunks]
        light.append(r)
    return _table(orders, light)


# -- driver ---------------------------------------------------------------------------------------


class RayEngine:
    """Callable in place of ``pipeline.process_all`` (``pipeline.ingest(..., engine=...)``)."""

    def __init__(
        self,
        config: RayConfig,
        *,
        embed: tuple[str, Any] | None = None,
        shards: ShardWriter | None = None,
    ) -> None:
        self.config = config
        self.embed = embed
        self.shards = shards
        self.started_here = False
        self.stats: dict[str, Any] = {}

    # Ray's own start-up lines and progress bars must never reach stdout (it carries records).
    def connect(self) -> Any:
        ray = require_ray()
        if not self.config.progress:
            # Without progress bars (quiet, or stderr not a terminal) Ray Data's per-run INFO
            # lines and its "progress bars disabled" hint are noise in cron logs.
            logging.getLogger("ray.data").setLevel(logging.WARNING)
            logging.getLogger("ray.data._internal.progress").setLevel(logging.ERROR)
        if self.config.quiet:
            logging.getLogger("ray").setLevel(logging.ERROR)
        if ray.is_initialized():
            return ray
        kwargs: dict[str, Any] = {
            "include_dashboard": False,
            "log_to_driver": False,
            "logging_level": logging.ERROR if self.config.quiet else logging.WARNING,
            "ignore_reinit_error": True,
        }
        if self.config.address:
            kwargs["address"] = self.config.address
        else:
            kwargs["num_cpus"] = self.config.num_cpus or os.cpu_count() or 1
        try:
            with _stdout_to_stderr():
                ray.init(**kwargs)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = self.config.address or "a local instance"
            raise UsageError(f"cannot start or reach Ray ({where}): {exc}") from exc
        self.started_here = True
        return ray

    def shutdown(self) -> None:
        if self.started_here:
            import ray

            with _stdout_to_stderr():
                ray.shutdown()
            self.started_here = False

    def actors(self, ray: Any) -> tuple[int, float]:
        """(actors, GPUs each): GPU actors sized to the cluster's GPUs, else CPU actors."""
        gpus = float(ray.cluster_resources().get("GPU", 0))
        per = self.config.gpus_per_actor if gpus > 0 else 0.0
        if self.config.embed_actors is not None:
            n = self.config.embed_actors
        elif per > 0:
            n = max(1, int(gpus // per))
        else:
            n = 1
        if per > 0 and n * per > gpus:
            raise UsageError(
                f"--embed-actors {n} x --gpus-per-actor {per:g} needs {n * per:g} GPUs; "
                f"the cluster has {gpus:g}"
            )
        return n, per

    def __call__(
        self,
        sources: Iterable[Source],
        options: IngestOptions,
        should_stop: Callable[[], bool] | None = None,
    ) -> Iterator[Result]:
        stop = should_stop or (lambda: False)
        # The walk (and --state filter) runs on the driver before Ray starts, so an input error
        # is reported without a cluster round trip.
        items = list(sources)
        if not items:
            return
        ray = self.connect()
        try:
            yield from self._run(ray, items, options, stop)
        except ray.exceptions.RayError as exc:
            # A lost cluster or a task Ray gave up on (bad documents never get here: they are
            # error records). One line, not a traceback; the run's output is discarded.
            msg = " ".join(str(exc).split())[:500]
            raise RayJobError(f"the Ray job failed: {type(exc).__name__}: {msg}") from exc
        finally:
            self.shutdown()

    def _run(
        self,
        ray: Any,
        items: list[Source],
        options: IngestOptions,
        stop: Callable[[], bool],
    ) -> Iterator[Result]:
        import pyarrow as pa

        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = self.config.progress
        # Records reach stdout in input order, as with the local engine; parts do not need it.
        ctx.execution_options.preserve_order = self.shards is None
        # One document at a time per task: Ray supplies the parallelism, not --jobs.
        options = dataclasses.replace(options, jobs=1)
        options_blob = pickle.dumps(options, protocol=pickle.HIGHEST_PROTOCOL)
        n_blocks = max(1, math.ceil(len(items) / self.config.docs_per_block))
        table = pa.table(
            {
                "order": pa.array(range(len(items)), pa.int64()),
                "source": pa.array(
                    [pickle.dumps(s, protocol=pickle.HIGHEST_PROTOCOL) for s in items],
                    pa.large_binary(),
                ),
            }
        )
        ds = ray.data.from_arrow(table).repartition(n_blocks)
        ds = ds.map_batches(
            parse_chunk_batch,
            fn_kwargs={"options_blob": options_blob},
            batch_size=None,
            batch_format="pyarrow",
            num_cpus=1,
        )
        actors = 0
        gpus = 0.0
        if self.embed is not None:
            actors, gpus = self.actors(ray)
            method, cfg = self.embed
            if gpus > 0 and cfg.device == "cpu":
                gpus = 0.0
            ds = ds.map_batches(
                EmbedActor,
                fn_constructor_args=(method, cfg),
                compute=ray.data.ActorPoolStrategy(size=actors),
                batch_size=self.config.embed_batch_docs,
                batch_format="pyarrow",
                num_gpus=gpus or None,
                num_cpus=1,
            )
        if self.shards is not None:
            ds = ds.map_batches(
                write_part_batch,
                fn_kwargs={
                    "out_dir": str(self.shards.dir),
                    "fmt": self.shards.fmt,
                    "run_id": self.shards.run_id,
                },
                batch_size=None,
                batch_format="pyarrow",
                num_cpus=1,
            )
        self.stats = {"documents": len(items), "blocks": n_blocks, "actors": actors, "gpus": gpus}
        log.info(
            "ray: %d documents in %d blocks, %d embedding actor(s) x %g GPU",
            len(items),
            n_blocks,
            actors,
            gpus,
        )
        for batch in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
            _, results = _unpack(batch)
            yield from results
            if stop():
                return


class _stdout_to_stderr:
    """Python-level prints during Ray start-up and shut-down go to stderr: stdout carries only
    records."""

    def __enter__(self) -> None:
        sys.stdout.flush()
        self._saved_py = sys.stdout
        sys.stdout = sys.stderr

    def __exit__(self, *exc: object) -> None:
        sys.stdout = self._saved_py
