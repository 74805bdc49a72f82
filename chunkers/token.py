"""Fixed windows of ``max_tokens`` tokens with ``overlap`` tokens shared between neighbours."""

from __future__ import annotations

from collections.abc import Iterator

from chunkwise.chunking import BaseChunker, content_spans
from chunkwise.packing import Packer
from chunkwise.types import Chunk, Document


class TokenChunker(BaseChunker):
    name = "token"

    def chunk(self, doc: Document) -> Iterator[Chunk]:
        size = self.config.max_tokens
        overlap = self.config.overlap
        text = doc.text
        packer = Packer(text, self.tokenizer, size, levels=[])
        index = packer.index
        windows: list[tuple[int, int]] = []
        for region_a, region_b in content_spans(doc, self.config.keep_furniture):
            i = index.first_token(region_a)
            n = index.first_token(region_b)
            while i < n:
                j = min(i + size, n)
                a = index.start(i)
                b = index.start(j) if j < n else min(index.end(n - 1), region_b)
                windows.append((a, b))
                if j >= n:
                    break
                i = j - overlap if j - overlap > i else j
        # Windows are exact token runs of the whole text, not trimmed: a window that starts at
        # " word" re-encodes to the same tokens, while a trimmed "word" may not. A window that
        # still re-encodes over the cap (split multi-byte characters) is cut again by finish().
        windows = [(a, b) for a, b in windows if text[a:b].strip()]
        spans, counts = packer.finish(windows)
        if len(spans) > 1:
            # A re-cut overlapping window can end after its successor starts: keep reading order.
            order = sorted(range(len(spans)), key=lambda k: spans[k])
            spans = [spans[k] for k in order]
            counts = [counts[k] for k in order]
        yield from self.build(doc, spans, counts)
