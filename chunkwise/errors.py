"""Error types and the one-line error record every failed document becomes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chunkwise.names import display

# Exit codes of the commands (docs/design.md, Exit codes).
EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, EXIT_ABORTED = 0, 1, 2, 3
# sysexits EX_TEMPFAIL: another run holds the --state file; cron wrappers read it as "try later".
EXIT_LOCKED = 75
# sysexits EX_IOERR: the output could not be written (disk full, quota, I/O error); nothing kept.
EXIT_OUTPUT = 74


class ChunkwiseError(Exception):
    """Base class for errors the tool reports to users."""


class UsageError(ChunkwiseError):
    """Bad options or arguments: exit code 2."""


class DocumentError(ChunkwiseError):
    """A single document could not be processed; the batch goes on.

    `stage` is one of read, parse, chunk, embed, write.
    """

    stage = "parse"

    def __init__(self, message: str, *, stage: str | None = None) -> None:
        super().__init__(message)
        if stage is not None:
            self.stage = stage


class ParseError(DocumentError):
    stage = "parse"


class UnsupportedFormat(DocumentError):
    stage = "read"


class ChunkError(DocumentError):
    stage = "chunk"


class EmbedError(DocumentError):
    stage = "embed"


class MissingExtra(UsageError):
    """A component needs an optional dependency group that is not installed."""

    def __init__(self, what: str, extra: str, module: str) -> None:
        super().__init__(
            f"{what} needs the '{extra}' extra (missing module '{module}'): "
            f"pip install 'chunkwise[{extra}]'"
        )
        self.extra = extra


@dataclass(frozen=True, slots=True)
class ErrorRecord:
    source: str
    stage: str
    error: str
    message: str
    # The source's exact bytes (hex) when its name is not valid UTF-8 (chunkwise.names).
    source_bytes_hex: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {
            "source": self.source,
            "stage": self.stage,
            "error": self.error,
            "message": self.message,
        }
        if self.source_bytes_hex is not None:
            out["source_bytes_hex"] = self.source_bytes_hex
        return out

    @classmethod
    def from_exception(
        cls, source: str, exc: BaseException, stage: str | None = None
    ) -> ErrorRecord:
        st = stage or getattr(exc, "stage", None) or "parse"
        msg = display(" ".join(str(exc).split()) or exc.__class__.__name__)
        return cls(source=display(source), stage=st, error=exc.__class__.__name__, message=msg)
