"""Core data model shared by every parser, chunker, embedder and writer.

Frozen, slotted dataclasses: cheap to build in the hot path, safe to pass between stages.
"""

from __future__ import annotations

import hashlib
import operator
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

BBox = tuple[float, float, float, float]


def doc_id_for(data: bytes) -> str:
    """Stable document id: first 16 hex digits of the sha256 of the source bytes."""
    return hashlib.sha256(data).hexdigest()[:16]


_T = TypeVar("_T")


def _pickled_positionally(cls: type[_T]) -> type[_T]:
    """Pickle instances as ``cls(*fields)``: workers send every document's chunks to the main
    process, and the default for slotted dataclasses (``__getstate__``/``__setstate__`` looping
    over ``dataclasses.fields()`` per object) cost more than the chunks' text."""
    values = operator.attrgetter(*cls.__match_args__)  # type: ignore[attr-defined]

    def __reduce__(self: _T) -> tuple[type[_T], tuple[Any, ...]]:
        return (cls, values(self))

    cls.__reduce__ = __reduce__  # type: ignore[assignment,method-assign]
    return cls


@_pickled_positionally
@dataclass(frozen=True, slots=True)
class Element:
    """One layout/structure unit of a document, addressed by offsets into `Document.text`."""

    kind: str
    start: int
    end: int
    page: int | None = None
    bbox: BBox | None = None
    level: int | None = None
    attrs: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "start": self.start,
            "end": self.end,
            "page": self.page,
            "bbox": list(self.bbox) if self.bbox is not None else None,
            "level": self.level,
            "attrs": dict(self.attrs),
        }


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file carried inside a document (an e-mail's attachment): the pipeline parses and chunks
    it as a document of its own, named ``<container source>#<name>``."""

    name: str
    data: bytes
    content_type: str = ""


@_pickled_positionally
@dataclass(frozen=True, slots=True)
class Document:
    """A parsed document: canonical text plus elements in reading order."""

    source: str
    doc_id: str
    text: str
    elements: tuple[Element, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)
    parser: str = ""
    # Files inside this one, parsed by the pipeline as documents of their own (not serialised).
    attachments: tuple[Attachment, ...] = ()

    def to_dict(self, *, with_text: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "source": self.source,
            "doc_id": self.doc_id,
            "parser": self.parser,
            "metadata": dict(self.metadata),
            "n_chars": len(self.text),
        }
        if with_text:
            out["text"] = self.text
        elements = []
        for el in self.elements:
            d = el.to_dict()
            d["text"] = self.text[el.start : el.end]
            elements.append(d)
        out["elements"] = elements
        return out


@_pickled_positionally
@dataclass(frozen=True, slots=True)
class PageBox:
    page: int
    x0: float
    y0: float
    x1: float
    y1: float

    def to_dict(self) -> dict[str, Any]:
        return {"page": self.page, "x0": self.x0, "y0": self.y0, "x1": self.x1, "y1": self.y1}


@_pickled_positionally
@dataclass(frozen=True, slots=True)
class Chunk:
    """One retrieval unit.

    Invariant: ``text == document.text[start:end]`` unless ``synthetic`` is set (chunkers that
    rewrite text, e.g. table rows with repeated headers), in which case start/end still cover the
    source span.
    """

    doc_id: str
    index: int
    start: int
    end: int
    text: str
    n_tokens: int
    tokenizer: str
    chunker: str
    pages: tuple[int, ...] | None = None
    bboxes: tuple[PageBox, ...] | None = None
    headings: tuple[str, ...] = ()
    kind: str = "text"
    continues: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    synthetic: bool = False
    embedding: tuple[float, ...] | None = None
    embedding_model: str | None = None

    @property
    def id(self) -> str:
        return f"{self.doc_id}:{self.index}"


# -- what a worker sends back ----------------------------------------------------------------------

_new_object = object.__new__
_CHUNK_FIELDS = Chunk.__match_args__
_N_FIELDS = len(_CHUNK_FIELDS)
_chunk_values = operator.attrgetter(*_CHUNK_FIELDS)
_values_but_text = operator.attrgetter(*(f for f in _CHUNK_FIELDS if f != "text"))
# Each field's slot setter, in field order. Setting the slots directly skips the frozen
# dataclass __init__ (one object.__setattr__ call per field, ~2.4 us a chunk; this ~1.6 us),
# which Chunk can afford because it has no __post_init__ and every field is an __init__ field.
_CHUNK_SLOTS = tuple(Chunk.__dict__[name].__set__ for name in _CHUNK_FIELDS)
_SLOTS_BUT_TEXT = tuple(Chunk.__dict__[name].__set__ for name in _CHUNK_FIELDS if name != "text")
_set_text = Chunk.__dict__["text"].__set__
assert not hasattr(Chunk, "__post_init__") and len(_CHUNK_FIELDS) == len(Chunk.__slots__)


class _ElementSlots:
    """Element's memory layout without its frozen ``__setattr__``: filled by plain attribute
    stores (which the interpreter specialises for slots), then given its class. Half the cost of
    setting each slot through its descriptor, a quarter of the dataclass's __init__."""

    __slots__ = Element.__slots__
    kind: str
    start: int
    end: int
    page: int | None
    bbox: BBox | None
    level: int | None
    attrs: Mapping[str, Any]


assert not hasattr(Element, "__post_init__")
assert Element.__slots__ == Element.__match_args__ == tuple(_ElementSlots.__annotations__)


def plain_elements(kind: str, spans: Iterable[tuple[int, int]]) -> list[Element]:
    """``Element(kind, start, end)`` for each span (no page, box, level or attributes), built as
    above, for parsers that make one per paragraph (~35,000 in a 5 MB text)."""
    out = []
    for start, end in spans:
        e = _new_object(_ElementSlots)
        e.kind = kind
        e.start = start
        e.end = end
        e.page = None
        e.bbox = None
        e.level = None
        e.attrs = {}
        e.__class__ = Element  # type: ignore[assignment]
        out.append(e)
    return out  # type: ignore[return-value]


class _DocumentChunks(list[Chunk]):
    """One document's chunks, pickled without the text each chunk shares with the document: a
    chunk whose text is ``text[start:end]`` travels as its span, and is sliced out of the
    document's text (pickled once, with the document) on the other side. Unpickles as a plain
    list of chunks equal to the ones sent."""

    __slots__ = ("text",)

    def __init__(self, chunks: list[Chunk], text: str) -> None:
        super().__init__(chunks)
        self.text = text

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        text = self.text
        n = len(text)
        starts_with = text.startswith
        rows = []
        for c in self:
            if type(c) is not Chunk:
                return (list, (list(self),))  # a plugin's Chunk subclass travels as it did
            t, start, end = c.text, c.start, c.end
            if (
                type(t) is str
                and type(start) is int
                and type(end) is int
                and 0 <= start <= end <= n
                and end - start == len(t)
                and starts_with(t, start)
            ):
                rows.append(_values_but_text(c))  # one field short: the text is the span's
            else:
                rows.append(_chunk_values(c))
        return (_chunks_from, (text, rows))


def _chunks_from(text: str, rows: list[tuple[Any, ...]]) -> list[Chunk]:
    out = []
    for row in rows:
        chunk = _new_object(Chunk)
        if len(row) < _N_FIELDS:
            _set_text(chunk, text[row[2] : row[3]])
            slots = _SLOTS_BUT_TEXT
        else:
            slots = _CHUNK_SLOTS
        for put, value in zip(slots, row):  # noqa: B905 - rows are whole; strict costs
            put(chunk, value)
        out.append(chunk)
    return out


def shared_text_chunks(chunks: list[Chunk], text: str) -> list[Chunk]:
    """``chunks`` (of the document whose text is ``text``), pickled at about half the size: a
    worker sends most of a document's text twice otherwise, once in the document and once in
    its chunks."""
    return _DocumentChunks(chunks, text)
