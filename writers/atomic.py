"""Output files: regular files appear under their final name only when complete; devices, FIFOs
and symlinks are written through, never replaced.

Atomic replacement is right for a regular file (a killed run never leaves a half-written output)
and wrong for anything else: renaming a temporary file over ``/dev/null``, a FIFO or the symlink
``/dev/stdout`` would destroy it. A symlink is followed and its target replaced atomically; a
character device or FIFO is opened and written in place; a folder, block device or socket is
refused before any work (a usage error, exit 2).
"""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from chunkwise.errors import UsageError

# Temporary files created and not yet committed or discarded. A signal handler may raise
# KeyboardInterrupt between the creation of one and the moment its writer holds it (a run stopped
# by SIGTERM just as its first output is opened): ``discard_all`` then still finds it.
_LIVE: set[Path] = set()


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM wait (pending) until the block ends, so a temporary is never created
    without being recorded in ``_LIVE``. Only the main thread runs Python signal handlers."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(
        signal, "pthread_sigmask"
    ):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def discard_all() -> None:
    """Remove every temporary output neither committed nor discarded (a run that ends on an
    error or a signal calls it after its writers' ``abort``)."""
    for tmp in list(_LIVE):
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        _LIVE.discard(tmp)


def _umask() -> int:
    # os.umask can only be read by setting it; this runs once per output, before any thread.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def check_target(path: str | os.PathLike[str], what: str = "output") -> str:
    """How ``path`` will be written: "atomic" (regular file, or none yet) or "stream" (character
    device, FIFO). Raises ``UsageError`` for a folder, block device or socket."""
    try:
        st = os.stat(path)  # follows symlinks: a link is judged by what it points to
    except FileNotFoundError:
        return "atomic"
    except OSError as exc:
        raise UsageError(f"{what} {path}: {exc.strerror}") from exc
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        raise UsageError(f"{what} {path} is a folder; give a file name (e.g. {path}/chunks.jsonl)")
    if stat.S_ISREG(mode):
        return "atomic"
    if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
        return "stream"
    raise UsageError(f"{what} {path} is a block device or socket; refusing to write to it")


class AtomicFile:
    """Writes to a temporary file beside the final file; ``commit`` renames it into place,
    ``discard`` removes it, so a killed or failed run never leaves a half-written output.

    For a character device or FIFO, ``fh`` is the device itself and ``commit``/``discard`` only
    close it. A new file gets the mode ``open()`` would give it (0666 minus the umask); an existing
    file keeps its mode and, where permitted, its owner."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.tmp: Path | None = None
        if check_target(self.path) == "stream":
            self.fh: IO[bytes] = open(self.path, "wb")  # noqa: SIM115 - closed by commit/discard
            return
        # Replace what a symlink points to, not the link (`-o latest.jsonl -> runs/today.jsonl`).
        final = Path(os.path.realpath(self.path))
        self.final = final
        final.parent.mkdir(parents=True, exist_ok=True)
        with _signals_held():
            fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".part", dir=final.parent)
            self.tmp = Path(tmp)
            _LIVE.add(self.tmp)
        try:
            try:
                st = os.stat(final)
            except FileNotFoundError:
                os.fchmod(fd, 0o666 & ~_umask())
            else:
                os.fchmod(fd, stat.S_IMODE(st.st_mode))
                with contextlib.suppress(OSError):
                    os.fchown(fd, st.st_uid, st.st_gid)
            self.fh = os.fdopen(fd, "wb")
        except BaseException:
            # An OSError, or a signal's KeyboardInterrupt: no temporary is left behind.
            os.close(fd)
            self.tmp.unlink(missing_ok=True)
            _LIVE.discard(self.tmp)
            raise

    def commit(self) -> None:
        if self.tmp is None:
            self.fh.close()
            return
        try:
            self.fh.flush()
            os.fsync(self.fh.fileno())
            self.fh.close()
            os.replace(self.tmp, self.final)
        except BaseException:
            self.discard()
            raise
        _LIVE.discard(self.tmp)

    def discard(self) -> None:
        # Called on failure paths (a full disk among them): closing may fail again flushing the
        # buffer; the temporary file must go regardless, or it keeps the disk full.
        with contextlib.suppress(OSError, ValueError):
            self.fh.close()
        if self.tmp is not None:
            self.tmp.unlink(missing_ok=True)
            _LIVE.discard(self.tmp)
