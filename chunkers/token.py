"""Fixed windows of ``max_tokens`` tokens with ``overlap`` tokens shared between neighbours."""

from __future__ import annotations

from collections.abc import Iterator

from chunkwise.chunking import BaseChunker, content_spans
from chunkwise.packing import trim
from chunkwise.types import Chunk, Document


class TokenChunker(BaseChunker):
    name = "token"

    def chunk(self, doc: Document) -> Iterator[Chunk]:
        tok = self.tokenizer
        size = self.config.max_tokens
        text = doc.text
        spans: list[tuple[int, int]] = []
        counts: list[int] = []
        for region_a, region_b in content_spans(doc, self.config.keep_furniture):
            region = text[region_a:region_b]
            starts, ends = tok.offsets(region)
            n = len(starts)
            i = 0
            while i < n:
                j = min(i + size, n)
                while True:
                    a = region_a + int(starts[i])
                    b = region_a + (int(starts[j]) if j < n else int(ends[n - 1]))
                    a, b = trim(text, a, b)
                    c = tok.count(text[a:b]) if a < b else 0
                    # Re-encoding a window can merge differently at its edges than the whole
                    # text did; drop tokens until the window really fits.
                    if c <= size or j - i <= 1:
                        break
                    j -= 1
                if a < b:
                    spans.append((a, b))
                    counts.append(c)
                if j >= n:
                    break
                nxt = j - self.config.overlap
                i = nxt if nxt > i else j
        yield from self.build(doc, spans, counts)
