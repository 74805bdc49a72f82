"""S2: spectral clustering of layout elements on a graph that joins space and meaning.

After "S2 Chunking: A Hybrid Framework for Document Segmentation Through Integrated Spatial and
Semantic Analysis" (Verma, 2025). Nodes are the document's layout elements (paragraphs, headings,
list items, tables, captions...). The weight of an edge is

    w(i, j) = a * spatial(i, j) + (1 - a) * semantic(i, j)

- ``spatial``: for two boxes on one page, closeness of the boxes with distances normalised by the
  page size, strongly discounted when the boxes do not share a column (no overlap of their x
  ranges), so side-by-side columns stay apart; neighbours in reading order keep a link across a
  page break. Elements without boxes (HTML, Markdown) use structure distance instead: how many
  elements apart they are in reading order.
- ``semantic``: cosine similarity of the element texts: TF-IDF of words (the default; no extra
  needed), or the sentence-transformers model of the ``embed`` extra (``semantic="model"``, or
  ``"auto"``: the model when the extra is installed, else TF-IDF).
- Edges between different sections (a heading starts a section) are multiplied by
  ``section_penalty``: a chunk should not straddle a heading.

The normalised Laplacian's smallest eigenvectors embed the nodes; k-means (deterministic
farthest-point start) clusters them, with k from the largest eigengap, at least enough clusters to
fit the token cap. Chunks must be exact, contiguous spans of the text, so each cluster is cut into
its runs in reading order, and runs are also cut where reading moves to another column or page
between two elements (a paragraph continued in the next column is one element: its node has all
its places). Runs below ``min_tokens`` (default: an eighth of the cap) join the neighbour they are
most similar to (a heading always joins what follows it); neighbouring runs of one section and
column are joined while they fit; runs over ``--max-tokens`` are split at element boundaries,
then sentences, then words (the shared ``Packer``), so the cap always holds.

Options: ``chunkwise.chunkers.options.S2Options`` (``chunk plugins s2`` prints them).
"""

from __future__ import annotations

import importlib.util
import itertools
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from chunkwise.chunkers.options import S2Options

from chunkwise.chunking import BaseChunker, content_spans
from chunkwise.kinds import FURNITURE_KINDS
from chunkwise.packing import Packer, add_overlap, positions_level, regex_level
from chunkwise.parsing import paragraph_elements
from chunkwise.spans import LINE, SENTENCE_END, WHITESPACE, trim
from chunkwise.types import Chunk, Document, Element

_WORD = re.compile(r"[^\W_]{2,}")
# Gaussian-like falloff of spatial closeness, in units of the page size.
_SPATIAL_SCALE = 0.06
# Closeness kept by two boxes that share no column (x ranges apart), relative to a shared one.
_CROSS_COLUMN = 0.15
# Link kept between reading-order neighbours on different pages (a paragraph running on).
_PAGE_LINK = 0.5


@dataclass
class _Node:
    start: int
    end: int
    kind: str
    page: int | None
    bbox: tuple[float, float, float, float] | None
    section: int
    heading: bool
    # Where the element goes on after a column or page break (a paragraph's continuation).
    more: list[tuple[int | None, tuple[float, float, float, float] | None]] = field(
        default_factory=list
    )

    def places(self) -> list[tuple[int | None, tuple[float, float, float, float] | None]]:
        return [(self.page, self.bbox), *self.more]

    def last(self) -> _Node:
        if not self.more:
            return self
        page, bbox = self.more[-1]
        return _Node(self.start, self.end, self.kind, page, bbox, self.section, self.heading)


class S2Chunker(BaseChunker):
    name = "s2"
    options_class = S2Options
    options: S2Options

    def configure(self) -> None:
        opts = self.options
        self.spatial_weight = opts.spatial_weight
        self.section_penalty = opts.section_penalty
        self.window = opts.window
        semantic = opts.semantic
        if semantic == "auto":
            semantic = "model" if importlib.util.find_spec("sentence_transformers") else "lexical"
        self.semantic = semantic
        self.embed_model = opts.model
        self.device = opts.device
        self.min_tokens = self.config.min_tokens or max(1, self.config.max_tokens // 8)
        self.fill = opts.fill

    # -- public -------------------------------------------------------------------------------
    def chunk(self, doc: Document) -> Iterator[Chunk]:
        text = doc.text
        if not text.strip():
            return
        nodes = self._nodes(doc)
        if not nodes:
            return
        packer = Packer(
            text,
            self.tokenizer,
            self.config.max_tokens,
            [
                positions_level([n.start for n in nodes]),
                regex_level(SENTENCE_END, text),
                regex_level(LINE, text),
                regex_level(WHITESPACE, text),
            ],
        )
        runs = self.segment(doc, nodes, packer)
        # A run spans from its first node to the next run's first node, so text between elements
        # (separators, anything no element covers) belongs to a chunk; furniture is cut out.
        bounds = [nodes[r[0]].start for r in runs] + [len(text)]
        bounds[0] = 0
        allowed = content_spans(doc, self.config.keep_furniture)
        spans: list[tuple[int, int]] = []
        for a, b in itertools.pairwise(bounds):
            for ca, cb in allowed:
                s, e = max(a, ca), min(b, cb)
                if s < e:
                    s, e = trim(text, s, e)
                    if s < e:
                        spans.append((s, e))
        out_spans, counts = packer.pack(spans)
        if self.config.overlap:
            out_spans, counts = add_overlap(
                text,
                out_spans,
                counts,
                self.tokenizer,
                packer.index,
                self.config.overlap,
                self.config.max_tokens,
            )
        yield from self.build(doc, out_spans, counts)

    # -- nodes --------------------------------------------------------------------------------
    def _nodes(self, doc: Document) -> list[_Node]:
        text = doc.text
        keep = self.config.keep_furniture
        els = [
            e
            for e in doc.elements
            if e.end > e.start
            and text[e.start : e.end].strip()
            and (keep or e.kind not in FURNITURE_KINDS)
        ]
        els.sort(key=lambda e: (e.start, -e.end))
        leaves: list[Element] = []
        for i, e in enumerate(els):
            # A container (a list around its items) is represented by its parts.
            if i + 1 < len(els) and els[i + 1].start < e.end and els[i + 1].end <= e.end:
                continue
            if leaves and e.start < leaves[-1].end:
                continue  # overlapping leaves: keep the first
            leaves.append(e)
        if not leaves:
            leaves = paragraph_elements(text)
        nodes: list[_Node] = []
        section = 0
        for idx, e in enumerate(leaves):
            if nodes and e.attrs and e.attrs.get("continues"):
                # The rest of a paragraph cut by a column or page end: one node, one sentence flow.
                nodes[-1].end = e.end
                nodes[-1].more.append((e.page, e.bbox))
                continue
            heading = e.kind == "heading"
            if heading:
                section = idx + 1
            nodes.append(_Node(e.start, e.end, e.kind, e.page, e.bbox, section, heading))
        return nodes

    # -- segmentation -------------------------------------------------------------------------
    def segment(self, doc: Document, nodes: Sequence[_Node], packer: Packer) -> list[list[int]]:
        """Runs of node indices (contiguous in reading order), one per chunk before capping."""
        sem = self._semantic_vectors(doc, nodes)
        sizes = _page_sizes(doc, nodes)
        counts = packer.index.counts([n.start for n in nodes] + [nodes[-1].end])
        runs: list[list[int]] = []
        for win in _windows(nodes, self.window):
            w = self.affinity(nodes, win, sem, sizes)
            tokens = sum(counts[i] for i in win)
            labels = spectral_labels(w, tokens, self.config.max_tokens)
            win_runs: list[list[int]] = []
            for pos, i in enumerate(win):
                if win_runs and labels[pos] == labels[pos - 1]:
                    win_runs[-1].append(i)
                else:
                    win_runs.append([i])
            if self.spatial_weight > 0:
                win_runs = _split_at_columns(win_runs, nodes)
            win_runs = self._merge_small(win_runs, win, w, nodes, counts)
            if self.fill:
                win_runs = self._fill(win_runs, nodes, counts)
            runs.extend(win_runs)
        return runs

    def affinity(
        self,
        nodes: Sequence[_Node],
        win: Sequence[int],
        sem: np.ndarray,
        sizes: Mapping[int, tuple[float, float]],
    ) -> np.ndarray:
        n = len(win)
        sp = np.zeros((n, n), dtype=np.float64)
        for a, b in _close_pairs(nodes, win):
            sp[a, b] = sp[b, a] = _spatial(nodes[win[a]], nodes[win[b]], b - a, sizes)
        for a in range(n - 1):
            na, nb = nodes[win[a]], nodes[win[a + 1]]
            link = 1.0 if na.heading else _PAGE_LINK if na.last().page != nb.page else 0.0
            sp[a, a + 1] = sp[a + 1, a] = max(sp[a, a + 1], link)
        v = sem[list(win)]
        se = np.clip(v @ v.T, 0.0, 1.0)
        w = self.spatial_weight * sp + (1.0 - self.spatial_weight) * se
        sec = np.array([nodes[i].section for i in win])
        w = np.where(sec[:, None] == sec[None, :], w, w * self.section_penalty)
        np.fill_diagonal(w, 0.0)
        return w

    def _fill(
        self, runs: list[list[int]], nodes: Sequence[_Node], counts: Sequence[int]
    ) -> list[list[int]]:
        """Join neighbouring runs of one section and one column while they fit the cap: the
        spectral cut between them marks a change of topic too weak to be worth a small chunk."""
        cap = self.config.max_tokens
        out: list[list[int]] = []
        size = 0
        for run in runs:
            n = sum(counts[i] for i in run)
            if out:
                last, first = nodes[out[-1][-1]].last(), nodes[run[0]]
                same = (
                    last.section == first.section
                    and last.page == first.page
                    and _same_column(last, first)
                )
                if same and size + n <= cap:
                    out[-1] = out[-1] + run
                    size += n
                    continue
            out.append(list(run))
            size = n
        return out

    def _merge_small(
        self,
        runs: list[list[int]],
        win: Sequence[int],
        w: np.ndarray,
        nodes: Sequence[_Node],
        counts: Sequence[int],
    ) -> list[list[int]]:
        pos = {i: p for p, i in enumerate(win)}

        def size(run: list[int]) -> int:
            return sum(counts[i] for i in run)

        def sim(r1: list[int], r2: list[int]) -> float:
            return float(w[np.ix_([pos[i] for i in r1], [pos[i] for i in r2])].mean())

        cap = self.config.max_tokens
        changed = True
        while changed and len(runs) > 1:
            changed = False
            for k, run in enumerate(runs):
                if size(run) >= self.min_tokens and not nodes[run[-1]].heading:
                    continue
                options: list[tuple[float, int]] = []
                if nodes[run[-1]].heading:
                    # A heading belongs with what it introduces.
                    if k + 1 < len(runs) and size(run) + size(runs[k + 1]) <= cap:
                        options.append((math.inf, k + 1))
                else:
                    for j in (k - 1, k + 1):
                        if 0 <= j < len(runs) and size(run) + size(runs[j]) <= cap:
                            options.append((sim(run, runs[j]), j))
                if not options:
                    continue
                _, j = max(options)
                lo, hi = min(k, j), max(k, j)
                runs[lo] = runs[lo] + runs[hi]
                del runs[hi]
                changed = True
                break
        return runs

    # -- semantics ----------------------------------------------------------------------------
    def _semantic_vectors(self, doc: Document, nodes: Sequence[_Node]) -> np.ndarray:
        texts = [doc.text[n.start : n.end] for n in nodes]
        if self.semantic == "model":
            from chunkwise.models import load_sentence_model

            model = load_sentence_model(self.embed_model, self.device)
            vecs = model.encode(
                texts,
                batch_size=32,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            return np.asarray(vecs, dtype=np.float64)
        return lexical_vectors(texts)


def lexical_vectors(texts: Sequence[str]) -> np.ndarray:
    """L2-normalised TF-IDF rows (sublinear tf) over the words of ``texts``."""
    docs = [[w.lower() for w in _WORD.findall(t)] for t in texts]
    vocab: dict[str, int] = {}
    for words in docs:
        for word in words:
            vocab.setdefault(word, len(vocab))
    rows = [r for r, words in enumerate(docs) for _ in words]
    cols = [vocab[word] for words in docs for word in words]
    x = np.zeros((len(texts), max(1, len(vocab))), dtype=np.float64)
    # Word counts are small integers: adding them in one call gives the very same floats.
    np.add.at(x, (np.asarray(rows, dtype=np.intp), np.asarray(cols, dtype=np.intp)), 1.0)
    df = (x > 0).sum(axis=0)
    idf = np.log((1.0 + len(texts)) / (1.0 + df)) + 1.0
    x = np.where(x > 0, 1.0 + np.log(np.maximum(x, 1.0)), 0.0) * idf
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


def _page_sizes(doc: Document, nodes: Sequence[_Node]) -> dict[int, tuple[float, float]]:
    sizes: dict[int, tuple[float, float]] = {}
    raw = doc.metadata.get("page_sizes") if doc.metadata else None
    if isinstance(raw, Mapping):
        for k, v in raw.items():
            try:
                sizes[int(k)] = (float(v[0]), float(v[1]))
            except (TypeError, ValueError, IndexError):
                continue
    for n in nodes:
        if n.page is not None and n.bbox is not None and n.page not in sizes:
            boxes = [m.bbox for m in nodes if m.page == n.page and m.bbox is not None]
            sizes[n.page] = (
                max(max(b[2] for b in boxes), 1.0),
                max(max(b[3] for b in boxes), 1.0),
            )
    return sizes


def _close_pairs(nodes: Sequence[_Node], win: Sequence[int]) -> Iterator[tuple[int, int]]:
    """Window positions ``(a, b)``, ``a < b``, whose spatial closeness may be non-zero. When
    every place of every node has a page and a box, boxes on different pages are 0 apart by
    definition, so only pairs sharing a page are visited (a 150-node window over ten pages: a
    tenth of the pairs). Otherwise structure distance links every pair: all of them."""
    n = len(win)
    by_page: dict[int, list[int]] = {}
    for pos, i in enumerate(win):
        node = nodes[i]
        pages: set[int] = set()
        for page, bbox in node.places():
            if page is None or bbox is None:
                for a in range(n):
                    for b in range(a + 1, n):
                        yield a, b
                return
            pages.add(page)
        for page in pages:
            by_page.setdefault(page, []).append(pos)
    pairs: set[tuple[int, int]] = set()
    for members in by_page.values():
        for k, a in enumerate(members):
            for b in members[k + 1 :]:
                pairs.add((a, b))
    yield from sorted(pairs)


def _spatial(a: _Node, b: _Node, hops: int, sizes: Mapping[int, tuple[float, float]]) -> float:
    """Closeness of two elements: box geometry on one page, structure distance without boxes.
    An element continued in another column or page is as close as its closest part."""
    if not a.more and not b.more:
        return _spatial_one(a, b, hops, sizes)
    return max(
        _spatial_one(
            _Node(a.start, a.end, a.kind, pa, ba, a.section, a.heading),
            _Node(b.start, b.end, b.kind, pb, bb, b.section, b.heading),
            hops,
            sizes,
        )
        for pa, ba in a.places()
        for pb, bb in b.places()
    )


def _spatial_one(a: _Node, b: _Node, hops: int, sizes: Mapping[int, tuple[float, float]]) -> float:
    if a.bbox is None or b.bbox is None or a.page is None:
        # Structure distance: adjacent elements 1, falling off with every element in between.
        return math.exp(-(hops - 1) / 1.5)
    if a.page != b.page:
        return 0.0
    width, height = sizes.get(a.page, (612.0, 792.0))
    ax0, ay0, ax1, ay1 = a.bbox
    bx0, by0, bx1, by1 = b.bbox
    gx = max(0.0, max(ax0, bx0) - min(ax1, bx1)) / width
    gy = max(0.0, max(ay0, by0) - min(ay1, by1)) / height
    overlap = min(ax1, bx1) - max(ax0, bx0)
    shared = max(0.0, overlap) / max(min(ax1 - ax0, bx1 - bx0), 1.0)
    column = _CROSS_COLUMN + (1.0 - _CROSS_COLUMN) * min(shared, 1.0)
    dist = math.hypot(gx, gy)
    return column * math.exp(-((dist / _SPATIAL_SCALE) ** 2) / 2.0)


def _split_at_columns(runs: list[list[int]], nodes: Sequence[_Node]) -> list[list[int]]:
    """Cut runs where reading moves to another column or page between two elements (a paragraph
    that itself runs on stays whole): one chunk, one column, unless it is too small alone."""
    out: list[list[int]] = []
    for run in runs:
        cur = [run[0]]
        for i in run[1:]:
            prev = nodes[cur[-1]].last()
            node = nodes[i]
            if (
                prev.bbox is not None
                and node.bbox is not None
                and (prev.page != node.page or not _same_column(prev, node))
            ):
                out.append(cur)
                cur = [i]
            else:
                cur.append(i)
        out.append(cur)
    return out


def _same_column(a: _Node, b: _Node) -> bool:
    if a.bbox is None or b.bbox is None:
        return True
    overlap = min(a.bbox[2], b.bbox[2]) - max(a.bbox[0], b.bbox[0])
    return overlap > 0.5 * min(a.bbox[2] - a.bbox[0], b.bbox[2] - b.bbox[0])


def _windows(nodes: Sequence[_Node], size: int) -> list[list[int]]:
    """Consecutive node groups of at most ``size`` nodes, cut at page or section starts when
    possible: the eigendecomposition costs O(n^3), and far-apart elements never share a chunk."""
    n = len(nodes)
    out: list[list[int]] = []
    start = 0
    while start < n:
        end = min(n, start + size)
        if end < n:
            best = None
            for j in range(end, start + max(1, size // 2), -1):
                if nodes[j].page != nodes[j - 1].page or nodes[j].heading:
                    best = j
                    break
            end = best or end
        out.append(list(range(start, end)))
        start = end
    return out


def spectral_labels(w: np.ndarray, tokens: int, max_tokens: int) -> list[int]:
    """Cluster labels for the nodes of affinity matrix ``w`` (normalised spectral clustering)."""
    n = w.shape[0]
    if n <= 2:
        return [0] * n if tokens <= max_tokens else list(range(n))
    deg = w.sum(axis=1)
    inv = 1.0 / np.sqrt(np.where(deg > 1e-12, deg, 1e-12))
    lap = np.eye(n) - inv[:, None] * w * inv[None, :]
    vals, vecs = np.linalg.eigh(lap)
    k_min = min(n, max(1, math.ceil(tokens / max_tokens)))
    k_max = min(n - 1, max(k_min + 1, n // 2))
    k = choose_k(vals, k_min, k_max)
    if k <= 1:
        return [0] * n
    emb = vecs[:, :k]
    norms = np.linalg.norm(emb, axis=1, keepdims=True)
    emb = emb / np.where(norms > 1e-12, norms, 1.0)
    return kmeans(emb, k)


def choose_k(vals: np.ndarray, k_min: int, k_max: int) -> int:
    """The number of clusters with the largest eigengap in [k_min, k_max]."""
    if k_max <= k_min:
        return k_min
    gaps = [(float(vals[k] - vals[k - 1]), k) for k in range(max(k_min, 1), k_max + 1)]
    return max(gaps, key=lambda g: (g[0], -g[1]))[1]


def kmeans(x: np.ndarray, k: int, iters: int = 50) -> list[int]:
    """Lloyd's k-means from a deterministic farthest-point start (same input, same labels)."""
    n = x.shape[0]
    centers = [0]
    dist = np.sum((x - x[0]) ** 2, axis=1)
    for _ in range(1, k):
        nxt = int(np.argmax(dist))
        centers.append(nxt)
        dist = np.minimum(dist, np.sum((x - x[nxt]) ** 2, axis=1))
    c = x[centers].copy()
    labels = np.zeros(n, dtype=np.int64)
    for it in range(iters):
        d = ((x[:, None, :] - c[None, :, :]) ** 2).sum(axis=2)
        new = np.argmin(d, axis=1)
        if it and np.array_equal(new, labels):
            break
        labels = new
        for j in range(k):
            members = x[labels == j]
            if len(members):
                c[j] = members.mean(axis=0)
    return [int(v) for v in labels]
