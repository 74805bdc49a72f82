"""cAST: structural chunking of source code over its syntax tree.

After "cAST: Enhancing Code Retrieval-Augmented Generation with Structural Chunking via Abstract
Syntax Tree" (Zhang et al., 2025). A node whose text fits the budget becomes (part of) a chunk; a
node that does not is replaced by its children; adjacent pieces are merged greedily up to the
budget. Two refinements over the paper's recursion:

- pieces still pending when a node is split carry into that node's first chunk, so a class header
  (``class Foo(Base):`` and its docstring) travels with the first methods instead of becoming a
  tiny chunk of its own; after a split node's last piece the chunk is closed, so the tail of one
  class does not run into the next definition;
- leading comments (doc comments, Rust attributes) stay with the definition they precede.

A leaf still over budget (a huge string literal, minified code) is split into lines, and a line
still over budget into character (or token) runs: code is never dropped. Cuts between siblings are
moved back to the start of the sibling's line when only indentation precedes it, and every gap
between nodes belongs to a chunk, so the chunks of a file concatenated in order are the file.

Budget: non-whitespace characters (``max_chars``, default 1500, as in the paper: it does not
depend on indentation style or a tokenizer), or tokens of the configured tokenizer when
``--max-tokens`` is given explicitly; both when both are given. Sizes of spans are prefix-sum
look-ups, so planning never calls the tokenizer; in token mode every final chunk is then counted
exactly and split again in the rare case BPE merges at its edges push it over the cap.
"""

from __future__ import annotations

import bisect
import itertools
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
from chunkwise.chunkers.options import CastOptions

from chunkwise.chunking import BaseChunker
from chunkwise.packing import TokenIndex
from chunkwise.spans import split_over, trim
from chunkwise.types import Chunk, Document, Element

log = logging.getLogger("chunkwise")

_FLUSH = (-1, -1)
# Unicode whitespace as str.isspace() sees it.
# Lookup table: is code point c (below 0x3001, above which nothing is whitespace) a space?
_IS_SPACE = np.array([chr(c).isspace() for c in range(0x3002)], dtype=bool)
# Definition kinds whose elements give chunks their scope path and symbols.
_NOT_DEFINITIONS = frozenset({"module", "import", "comment", "docstring"})
# Siblings that belong to the node after them.
_ATTACHED = frozenset({"attribute_item", "decorator", "annotation", "attribute_list"})


def nonspace_prefix(text: str) -> np.ndarray:
    """prefix[i] = number of non-whitespace characters in text[:i].

    int32 when the counts fit (4 bytes a character instead of 8), built a block at a time so a
    large file never holds its UTF-32 copy whole."""
    dtype = np.int32 if len(text) < 2**31 - 1 else np.int64
    prefix = np.zeros(len(text) + 1, dtype=dtype)
    block = 1 << 20
    for i in range(0, len(text), block):
        part = text[i : i + block]
        if part.isascii():
            codes: np.ndarray = np.frombuffer(part.encode("ascii"), dtype=np.uint8)
        else:
            codes = np.minimum(np.frombuffer(part.encode("utf-32-le"), dtype=np.uint32), 0x3001)
        nonspace = ~_IS_SPACE[codes]
        seg = prefix[i + 1 : i + 1 + len(part)]
        np.cumsum(nonspace, out=seg, dtype=dtype)
        np.add(seg, prefix[i], out=seg)
    return prefix


class Budget:
    """Span sizes by prefix sums, against a character and/or a token limit."""

    def __init__(
        self,
        text: str,
        max_chars: int | None,
        max_tokens: int | None,
        tokenizer: Any,
    ) -> None:
        self.text = text
        self.max_chars = max_chars
        self.max_tokens = max_tokens
        self.prefix = nonspace_prefix(text)
        self.index = TokenIndex(text, tokenizer) if max_tokens is not None else None

    def chars(self, a: int, b: int) -> int:
        return int(self.prefix[b] - self.prefix[a])

    def fits(self, a: int, b: int) -> bool:
        if self.max_chars is not None and self.prefix[b] - self.prefix[a] > self.max_chars:
            return False
        return not (
            self.index is not None
            and self.max_tokens is not None
            and self.index.count(a, b) > self.max_tokens
        )

    def hard_cuts(self, a: int, b: int) -> list[int]:
        """Cut positions that make every run of [a, b) fit: by characters, then tokens."""
        bounds = [a, b]
        if self.max_chars is not None:
            bounds = [a]
            pos = a
            while self.prefix[b] - self.prefix[pos] > self.max_chars:
                target = self.prefix[pos] + self.max_chars
                nxt = int(np.searchsorted(self.prefix, target, "right")) - 1
                nxt = max(nxt, pos + 1)
                bounds.append(nxt)
                pos = nxt
            bounds.append(b)
        if self.index is not None and self.max_tokens is not None:
            out = [a]
            for s, e in itertools.pairwise(bounds):
                if self.index.count(s, e) > self.max_tokens:
                    out.extend(self.index.token_cuts(s, e, self.max_tokens))
                out.append(e)
            bounds = out
        return [c for c in bounds[1:-1] if a < c < b]


class CastChunker(BaseChunker):
    name = "cast"
    options_class = CastOptions
    options: CastOptions

    def configure(self) -> None:
        budget = self.options.budget
        self.max_chars: int | None = self.options.max_chars if budget != "tokens" else None
        self.max_tokens: int | None = self.config.max_tokens if budget != "chars" else None
        if self.config.overlap:
            log.warning("the cast chunker is lossless and ignores --overlap")

    # -- planning ----------------------------------------------------------------------------
    def plan(self, doc: Document) -> list[tuple[int, int]]:
        """Contiguous spans covering the whole text, each within budget."""
        return self._plan(doc)[0]

    def _plan(self, doc: Document) -> tuple[list[tuple[int, int]], np.ndarray]:
        text = doc.text
        if not text:
            return [], np.zeros(1, dtype=np.int64)
        budget = Budget(
            text,
            self.max_chars,
            self.max_tokens,
            self.tokenizer if self.max_tokens is not None else None,
        )
        language = doc.metadata.get("language") if doc.metadata else None
        from chunkwise.parsers.code import LANGUAGES, parse_tree

        if language in LANGUAGES:
            parsed = parse_tree(text, str(language))
            events = _tree_events(parsed, budget)
        else:
            events = _line_events(text, 0, len(text), budget)
        return _merge(events, budget), budget.prefix

    def chunk(self, doc: Document) -> Iterator[Chunk]:
        spans, prefix = self._plan(doc)
        if not spans:
            return
        text = doc.text
        tok = self.tokenizer
        # One encode per chunk: a batch call starts a thread pool, which costs more than it saves
        # on the few kilobytes of one source file.
        counts = [tok.count(text[a:b]) for a, b in spans]
        if self.max_tokens is not None:
            spans, counts = self._enforce_tokens(text, spans, counts)
        yield from self._build(doc, spans, counts, prefix)

    def _enforce_tokens(
        self, text: str, spans: Sequence[tuple[int, int]], counts: Sequence[int]
    ) -> tuple[list[tuple[int, int]], list[int]]:
        cap = self.max_tokens
        assert cap is not None
        return split_over(
            spans, counts, cap, lambda a, b: _exact_split(text, a, b, self.tokenizer, cap)
        )

    # -- metadata ----------------------------------------------------------------------------
    def _build(
        self,
        doc: Document,
        spans: Sequence[tuple[int, int]],
        counts: Sequence[int],
        prefix: np.ndarray,
    ) -> Iterator[Chunk]:
        text = doc.text
        language = doc.metadata.get("language") if doc.metadata else None
        defs = sorted(
            (e for e in doc.elements if e.kind not in _NOT_DEFINITIONS and "scope" in e.attrs),
            key=lambda e: (e.start, -e.end),
        )
        def_starts = [e.start for e in defs]
        sweep = _ScopeSweep(defs)
        builder = self.builder(doc)
        # Line numbers counted forward from chunk to chunk: one pass over the text in all.
        line, pos = 1, 0
        for (a, b), n in zip(spans, counts, strict=True):
            ta, tb = trim(text, a, b)
            if ta == tb:  # all blank: its lines start where the span does
                ta = tb = a
            line += text.count("\n", pos, ta)
            line_start = line
            line_end = line + text.count("\n", ta, max(ta, tb - 1))
            pos = ta
            scope = sweep.scope(ta, tb)
            lo = bisect.bisect_left(def_starts, ta)
            hi = bisect.bisect_left(def_starts, tb)
            symbols = [str(e.attrs.get("symbol", e.attrs.get("name", ""))) for e in defs[lo:hi]]
            meta: dict[str, Any] = {
                "language": language,
                "line_start": line_start,
                "line_end": line_end,
                "scope": " > ".join(scope),
                "symbols": symbols,
                "context": " > ".join([doc.source, *scope]),
                "n_chars_nonspace": int(prefix[b] - prefix[a]),
            }
            yield builder.chunk(a, b, n, kind="code", headings=scope, metadata=meta)


class _ScopeSweep:
    """``_scope`` for spans in document order, in time linear in definitions plus spans times
    nesting depth: scanning every earlier definition per chunk was quadratic (10 s of a 1.7 MB
    minified file's 17 s)."""

    def __init__(self, defs: Sequence[Element]) -> None:
        self.defs = defs
        self.starts = [e.start for e in defs]
        self.next = 0  # first definition not yet taken in
        self.active: list[Element] = []  # taken in, in sorted order, not yet known to end early
        self.last = (-1, -1)

    def scope(self, a: int, b: int) -> list[str]:
        if (a, b) < self.last or b < self.last[1]:
            return _scope(self.defs, self.starts, a, b)  # out of order: the plain scan
        self.last = (a, b)
        while self.next < len(self.defs) and self.defs[self.next].start <= a:
            self.active.append(self.defs[self.next])
            self.next += 1
        # A definition ending before b cannot contain this span or any later one.
        self.active = [e for e in self.active if e.end >= b]
        best: list[str] = []
        for e in self.active:
            scope = e.attrs.get("scope") or []
            if len(scope) >= len(best):
                best = list(scope)
        return best


def _scope(defs: Sequence[Element], starts: Sequence[int], a: int, b: int) -> list[str]:
    """Scope path of the innermost definition that contains [a, b)."""
    best: list[str] = []
    for e in defs[: bisect.bisect_right(starts, a)]:
        if e.start <= a and e.end >= b:
            scope = e.attrs.get("scope") or []
            if len(scope) >= len(best):
                best = list(scope)
    return best


# -- the tree walk -------------------------------------------------------------------------------


def _tree_events(parsed: Any, budget: Budget) -> list[tuple[int, int]]:
    """Pieces (each within budget, contiguous, covering the text) and flush markers.

    Opening a node over budget closes the chunk being built when the node is a statement of a
    container (module, class body, block...): what came before it does not share its chunk. The
    header pieces of a definition (``def f(x):``, ``class Foo {``, a doc comment) are instead glued
    to the first piece of its body, so a signature never ends a chunk on its own. After an opened
    node's last piece the chunk is closed.
    """
    from chunkwise.parsers.code import LANGUAGES

    text = parsed.text
    spec = LANGUAGES[parsed.language]
    attach = frozenset(spec.comments) | _ATTACHED
    events: list[tuple[int, int]] = []
    # Header pieces held back to be glued to the next piece.
    held: list[tuple[int, int]] = []

    # Index in ``events`` of the last header glued to its body's first piece.
    glued = [-1]

    def emit(a: int, b: int) -> None:
        if held:
            if budget.fits(held[0][0], b):
                events.append((held[0][0], b))
                glued[0] = len(events) - 1
            else:
                events.extend(held)
                events.append((a, b))
            held.clear()
        else:
            events.append((a, b))

    # Frames: (regions of an opened node's children, start of that node's region).
    root = (0, len(text), None if parsed.segmented else parsed.root, _ROOT)
    stack: list[tuple[Iterator[tuple[int, int, Any, str]], int]] = [(iter([root]), 0)]
    while stack:
        regions, parent_start = stack[-1]
        item = next(regions, None)
        if item is None:
            stack.pop()
            if held:
                events.extend(held)
                held.clear()
            events.append(_FLUSH)
            continue
        a, b, node, role = item
        if a >= b:
            continue
        if budget.fits(a, b):
            emit(a, b)
            continue
        if role in (_BODY, _LAST) and not held:
            # Hold back the parent's header pieces (emitted since its start, none of them split).
            k = len(events)
            while k > 0 and events[k - 1] != _FLUSH and events[k - 1][1] > parent_start:
                k -= 1
            held.extend(events[k:])
            del events[k:]
        elif role != _HEADER and not held and glued[0] != len(events) - 1:
            # (Unless all the chunk holds so far is a header and its opening brace: the
            # statement's first pieces then join them.)
            events.append(_FLUSH)
        kids: Iterator[tuple[int, int, Any, str]] | list[tuple[int, int, Any, str]]
        if role == _ROOT and parsed.segmented:
            # A large file: its statements stream in window by window, never one whole tree.
            stream = _iter_regions(parsed, parsed.top_level(), a, b, attach, False, _stmt)
            head = next(stream, None)
            kids = [] if head is None else itertools.chain([head], stream)
        else:
            kids = _child_regions(parsed, node, a, b, attach, container=role in (_BODY, _ROOT))
        if not kids:
            # A leaf: its lines merge on with what follows in its parent (a closing quote).
            for s, e in _line_events(text, a, b, budget):
                emit(s, e)
            continue
        stack.append((iter(kids), a))
    return events


_BODY_FIELDS = frozenset({"body", "consequence"})
_HEADER, _BODY, _AFTER, _STMT, _ROOT = "header", "body", "after", "stmt", "root"
# The last child of a node without a body field: glued to what precedes it like a body, but its
# children are not statements (a decorated definition, a string's closing quote).
_LAST = "last"


def _child_regions(
    parsed: Any, node: Any, a: int, b: int, attach: frozenset[str], container: bool
) -> list[tuple[int, int, Any, str]]:
    """Split [a, b) (the region of ``node``) at its children, each child's region starting at
    the beginning of its line when only indentation precedes it.

    Each region has a role: children of a container (the root, or a node that is its parent's
    body) are statements; in other nodes the children before the body (the ``body`` field, else
    the last child) are its header, then the body, then what follows (``else`` clauses).
    """
    children = node.children
    if not children:
        return []
    grouped = isinstance(node, _Group)
    body_index = -1
    if not grouped:
        for i in range(len(children)):
            if node.field_name_for_child(i) in _BODY_FIELDS:
                body_index = i
                break
    if grouped:
        container = False
    last_role = _BODY
    if body_index < 0:
        body_index = len(children) - 1
        last_role = _LAST

    def role(i: int) -> str:
        if container and node.type != "ERROR":
            return _STMT
        return _HEADER if i < body_index else last_role if i == body_index else _AFTER

    return list(_iter_regions(parsed, iter(children), a, b, attach, grouped, role))


def _stmt(i: int) -> str:
    return _STMT


def _iter_regions(
    parsed: Any,
    children: Iterator[Any],
    a: int,
    b: int,
    attach: frozenset[str],
    grouped: bool,
    role: Callable[[int], str],
) -> Iterator[tuple[int, int, Any, str]]:
    """The regions of :func:`_child_regions`, each yielded once the next child fixes its end
    (``children`` may be a stream of a large file's top-level nodes)."""
    text = parsed.text
    ch = parsed.chars
    first = next(children, None)
    if first is None:
        return
    node, node_role, start = first, role(0), a
    prev = first
    last = a
    for i, kid in enumerate(children, start=1):
        pos = ch(kid.start_byte)
        # (A group being split must split: it is a comment and the node after it.)
        if prev.type in attach and not grouped and _adjacent(parsed.data, prev, kid):
            # A comment or attribute right above belongs to what follows it.
            node = _Group(node, kid)
            node_role = _STMT if node_role == _STMT else role(i)
            prev = kid
            continue
        line_start = text.rfind("\n", last, pos) + 1
        if line_start > last and not text[line_start:pos].strip():
            pos = line_start
        if last < pos < b:
            yield start, pos, node, node_role
            node, node_role, start = kid, role(i), pos
            last = pos
        else:
            node = _Group(node, kid)
            if role(i) in (_BODY, _LAST):
                node_role = role(i)
        prev = kid
    yield start, b, node, node_role


def _adjacent(data: bytes, first: Any, second: Any) -> bool:
    """``second`` starts on the line right after ``first`` ends (or on the same line)."""
    if first.type.endswith("comment") and first.end_point[0] == second.start_point[0]:
        # A trailing comment (`x = 1  # note`) belongs to the line before it, not after.
        return False
    gap = data[first.end_byte : second.start_byte]
    return not gap.strip() and gap.count(b"\n") <= 1


class _Group:
    """Several adjacent sibling nodes treated as one region (a comment and its definition)."""

    def __init__(self, first: Any, second: Any) -> None:
        firsts: list[Any] = first.members if isinstance(first, _Group) else [first]
        self.members: list[Any] = [*firsts, second]
        self.type = second.type
        self.is_extra = False
        self.start_byte = self.members[0].start_byte
        self.end_byte = second.end_byte

    @property
    def children(self) -> list[Any]:
        return self.members

    @property
    def end_point(self) -> Any:
        return self.members[-1].end_point

    @property
    def start_point(self) -> Any:
        return self.members[0].start_point


def _line_events(text: str, a: int, b: int, budget: Budget) -> list[tuple[int, int]]:
    """Lines of [a, b), and character/token runs of lines still over budget."""
    out: list[tuple[int, int]] = []
    pos = a
    while pos < b:
        nl = text.find("\n", pos, b)
        end = b if nl < 0 else nl + 1
        if budget.fits(pos, end):
            out.append((pos, end))
        else:
            bounds = [pos, *budget.hard_cuts(pos, end), end]
            out.extend(itertools.pairwise(bounds))
        pos = end
    return out


def _merge(events: Sequence[tuple[int, int]], budget: Budget) -> list[tuple[int, int]]:
    """Greedy merge of adjacent pieces within budget; flush markers close the current chunk."""
    out: list[tuple[int, int]] = []
    cur_a = cur_b = -1
    for a, b in events:
        if a < 0:
            if cur_a >= 0:
                out.append((cur_a, cur_b))
                cur_a = -1
            continue
        if cur_a < 0:
            cur_a, cur_b = a, b
        elif budget.fits(cur_a, b):
            cur_b = b
        else:
            out.append((cur_a, cur_b))
            cur_a, cur_b = a, b
    if cur_a >= 0:
        out.append((cur_a, cur_b))
    return out


def _exact_split(
    text: str, a: int, b: int, tokenizer: Any, max_tokens: int
) -> list[tuple[int, int, int]]:
    """Split [a, b) until exact token counts fit: at the line break nearest the middle, else the
    whitespace nearest the middle, else the middle token boundary."""
    n = tokenizer.count(text[a:b])
    if n <= max_tokens or b - a <= 1:
        return [(a, b, n)]
    mid = (a + b) // 2
    cut = _nearest(text, a, b, mid, "\n")
    if cut is None:
        cut = next(
            (
                p
                for d in range(0, (b - a) // 2)
                for p in (mid - d, mid + d)
                if a < p < b and text[p - 1].isspace() != text[p].isspace()
            ),
            None,
        )
    if cut is None:
        starts, _ = tokenizer.offsets(text[a:b])
        k = len(starts) // 2
        cut = a + int(starts[k]) if 0 < k < len(starts) else mid
    if not a < cut < b:
        cut = mid
    return _exact_split(text, a, cut, tokenizer, max_tokens) + _exact_split(
        text, cut, b, tokenizer, max_tokens
    )


def _nearest(text: str, a: int, b: int, mid: int, sep: str) -> int | None:
    left = text.rfind(sep, a, mid)
    right = text.find(sep, mid, b - 1)
    cands = [p + 1 for p in (left, right) if p >= 0 and a < p + 1 < b]
    if not cands:
        return None
    return min(cands, key=lambda p: abs(p - mid))
