"""Incremental-run state for cron: which files were chunked, from which bytes, with which options.

One SQLite file (stdlib ``sqlite3``) holds a row per file: absolute path, size and mtime (a cheap
first check), sha256 of the content, a hash of the options that shaped the output, the doc id and
the chunk ids written for it. Rows are staged in a transaction that the caller commits only once
the output holding those documents is durable, so a run killed half way redoes the unfinished files
and never marks an unwritten file as done.

A second run on the same state file is kept out by an exclusive ``flock`` on ``<state>.lock``: the
kernel drops it when the holder dies, so a crashed run never leaves a stale lock behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from chunkwise.errors import ChunkwiseError, UsageError
from chunkwise.names import display

if TYPE_CHECKING:
    import sqlite3

SCHEMA = "1"
_MAGIC = "chunkwise.state"

# Lock descriptors held by this process; forked workers close their copies at once so a lock never
# outlives the run that took it.
_LOCK_FDS: set[int] = set()


def _close_locks_in_child() -> None:
    for fd in list(_LOCK_FDS):
        with contextlib.suppress(OSError):
            os.close(fd)
    _LOCK_FDS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_locks_in_child)


class StateLocked(ChunkwiseError):
    """Another run holds the state file."""


@dataclass(frozen=True)
class FileState:
    path: str  # absolute path: the key
    source: str  # the path as the run named it, for records
    size: int
    mtime_ns: int
    content_hash: str
    options_hash: str
    doc_id: str
    chunk_ids: tuple[str, ...] = ()


def state_key(path: str | os.PathLike[str]) -> str:
    """Absolute path without resolving symlinks: a link and its target are different inputs.

    Names that are not UTF-8 are keyed by their ``\\xNN`` form (chunkwise.names), which SQLite
    can store."""
    return display(os.path.abspath(os.fspath(path)))


class State:
    """Open with ``State(path, wait=seconds)``; use as a context manager or call ``close``."""

    def __init__(self, path: str | os.PathLike[str], *, wait: float = 0.0) -> None:
        self.path = Path(path)
        self._lock_fd: int | None = None
        self._last_commit = time.monotonic()
        self._staged = 0
        self._acquire(wait)
        try:
            self._db = self._open()
        except BaseException:
            # A rejected file (not a state file, unreadable) must not leave our new lock beside it.
            if self._lock_created is not None:
                self._lock_created.unlink(missing_ok=True)
            self._release()
            raise

    # -- locking ---------------------------------------------------------------------------------

    def _acquire(self, wait: float) -> None:
        import fcntl

        lock_path = Path(str(self.path) + ".lock")
        try:
            lock_path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
                self._lock_created: Path | None = lock_path
            except FileExistsError:
                fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
                self._lock_created = None
        except OSError as exc:
            raise UsageError(f"cannot create lock file {lock_path}: {exc.strerror}") from exc
        deadline = time.monotonic() + max(0.0, wait)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _read_pid(fd)
                    os.close(fd)
                    who = f" (pid {holder})" if holder else ""
                    hint = (
                        f"waited {wait:g} s"
                        if wait > 0
                        else "use --wait-lock SECONDS to wait for it"
                    )
                    raise StateLocked(
                        f"state file {self.path} is in use by another chunk run{who}; {hint}"
                    ) from None
                time.sleep(0.1)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._lock_fd = fd
        _LOCK_FDS.add(fd)

    def _release(self) -> None:
        if self._lock_fd is not None:
            _LOCK_FDS.discard(self._lock_fd)
            with contextlib.suppress(OSError):
                os.close(self._lock_fd)
            self._lock_fd = None

    # -- database --------------------------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        import sqlite3  # here: only runs with --state open a database

        try:
            db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        except sqlite3.DatabaseError as exc:
            raise UsageError(f"{self.path} is not a chunkwise state file: {exc}") from exc
        if tables and "meta" not in tables:
            db.close()
            raise UsageError(f"{self.path} is an SQLite file but not a chunkwise state file")
        if "meta" in tables:
            row = db.execute("SELECT value FROM meta WHERE key = 'magic'").fetchone()
            if not row or row[0] != _MAGIC:
                db.close()
                raise UsageError(f"{self.path} is not a chunkwise state file")
            version = db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
            if not version or version[0] != SCHEMA:
                db.close()
                raise UsageError(
                    f"state file {self.path} has schema {version[0] if version else '?'}, "
                    f"this chunkwise uses {SCHEMA}; start a new state file"
                )
        # WAL keeps a crash mid-commit harmless and commits cheap (no full fsync per transaction).
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA temp_store=MEMORY")
        db.execute("BEGIN IMMEDIATE")
        db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        db.execute(
            "CREATE TABLE IF NOT EXISTS files ("
            " path TEXT PRIMARY KEY, source TEXT NOT NULL, size INTEGER NOT NULL,"
            " mtime_ns INTEGER NOT NULL, content_hash TEXT NOT NULL, options_hash TEXT NOT NULL,"
            " doc_id TEXT NOT NULL, chunk_ids TEXT NOT NULL, updated REAL NOT NULL)"
        )
        db.execute("CREATE INDEX IF NOT EXISTS files_doc_id ON files (doc_id)")
        db.execute(
            "INSERT OR IGNORE INTO meta VALUES ('magic', ?), ('schema', ?)", (_MAGIC, SCHEMA)
        )
        db.execute("COMMIT")
        db.execute("CREATE TEMP TABLE seen (path TEXT PRIMARY KEY)")
        return db

    def _begin(self) -> None:
        if not self._db.in_transaction:
            self._db.execute("BEGIN IMMEDIATE")

    def get(self, path: str) -> FileState | None:
        row = self._db.execute(
            "SELECT path, source, size, mtime_ns, content_hash, options_hash, doc_id, chunk_ids "
            "FROM files WHERE path = ?",
            (path,),
        ).fetchone()
        return _row(row) if row else None

    def mark_seen(self, path: str) -> None:
        self._db.execute("INSERT OR IGNORE INTO temp.seen VALUES (?)", (path,))

    def record(self, fs: FileState) -> None:
        """Stage a file as done; durable only after ``commit``."""
        self._begin()
        self._db.execute(
            "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                fs.path,
                fs.source,
                fs.size,
                fs.mtime_ns,
                fs.content_hash,
                fs.options_hash,
                fs.doc_id,
                json.dumps(list(fs.chunk_ids)),
                time.time(),
            ),
        )
        self._staged += 1

    def touch(self, path: str, size: int, mtime_ns: int) -> None:
        """Same content under a new mtime: remember the new stat so the next run skips the read."""
        self._begin()
        self._db.execute(
            "UPDATE files SET size = ?, mtime_ns = ? WHERE path = ?", (size, mtime_ns, path)
        )
        self._staged += 1

    def forget(self, path: str) -> None:
        self._begin()
        self._db.execute("DELETE FROM files WHERE path = ?", (path,))
        self._staged += 1

    def unseen(self, folders: Sequence[str], files: Sequence[str]) -> Iterator[FileState]:
        """Rows under these folders (or equal to these files) not seen in this run: gone files."""
        cols = "path, source, size, mtime_ns, content_hash, options_hash, doc_id, chunk_ids"
        rows: list[FileState] = []
        for folder in folders:
            prefix = folder.rstrip(os.sep) + os.sep
            # Every path under the folder sorts between "<folder>/" and "<folder>0" ('0' follows
            # '/'), so the primary-key index answers the range without a scan.
            upper = prefix[:-1] + chr(ord(os.sep) + 1)
            cur = self._db.execute(
                f"SELECT {cols} FROM files WHERE path >= ? AND path < ? "
                "AND path NOT IN (SELECT path FROM temp.seen) ORDER BY path",
                (prefix, upper),
            )
            rows.extend(_row(r) for r in cur)
        for f in files:
            cur = self._db.execute(
                f"SELECT {cols} FROM files WHERE path = ? "
                "AND path NOT IN (SELECT path FROM temp.seen)",
                (f,),
            )
            rows.extend(_row(r) for r in cur)
        seen: set[str] = set()
        for fs in rows:
            if fs.path not in seen:
                seen.add(fs.path)
                yield fs

    def checkpoint(self, *, every: float = 1.0, docs: int = 500) -> None:
        """Commit if enough time or work has passed (for output that is durable per write)."""
        if self._staged and (self._staged >= docs or time.monotonic() - self._last_commit >= every):
            self.commit()

    def commit(self) -> None:
        if self._db.in_transaction:
            self._db.execute("COMMIT")
        self._staged = 0
        self._last_commit = time.monotonic()

    def rollback(self) -> None:
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")
        self._staged = 0

    def count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM files").fetchone()[0])

    def close(self) -> None:
        """Discard anything not committed and release the lock."""
        try:
            if getattr(self, "_db", None) is not None:
                self.rollback()
                self._db.close()
        finally:
            self._release()

    def __enter__(self) -> State:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _row(r: Sequence[object]) -> FileState:
    return FileState(
        path=str(r[0]),
        source=str(r[1]),
        size=int(r[2]),  # type: ignore[call-overload]
        mtime_ns=int(r[3]),  # type: ignore[call-overload]
        content_hash=str(r[4]),
        options_hash=str(r[5]),
        doc_id=str(r[6]),
        chunk_ids=tuple(json.loads(str(r[7]))),
    )


def _read_pid(fd: int) -> str:
    try:
        return os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return ""
