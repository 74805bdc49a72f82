"""How many small items to take at once: enough that per-batch costs (a round trip to a worker,
or switching between tokenizing and the rest of the work) are paid rarely, few enough that a
batch stays short (results flow, memory stays bounded)."""

from __future__ import annotations


class BatchSizer:
    """Batch sizes of about ``seconds`` of work, from a running mean of the time items took so
    far: one item while nothing is known, at most ``most``."""

    def __init__(self, most: int, seconds: float = 0.05) -> None:
        self.most = max(1, most)
        self.seconds = seconds
        self.per_item: float | None = None

    def size(self) -> int:
        if self.most == 1 or self.per_item is None:
            return 1
        return max(1, min(self.most, int(self.seconds / max(self.per_item, 1e-6))))

    def observe(self, seconds: float) -> None:
        """One more item took ``seconds``."""
        if self.most > 1:
            prev = self.per_item
            self.per_item = seconds if prev is None else 0.8 * prev + 0.2 * seconds
