"""How many small items to take at once: enough that per-batch costs (a round trip to a worker,
or switching between tokenizing and the rest of the work) are paid rarely, few enough that a
batch stays short (results flow, memory stays bounded)."""

from __future__ import annotations


class BatchSizer:
    """``size``: batches of about ``seconds`` of work, from a running mean of the time items
    took so far; one item while nothing is known, at most ``most``."""

    def __init__(self, most: int, seconds: float = 0.05) -> None:
        self.most = max(1, most)
        self.seconds = seconds
        self.per_item: float | None = None
        self.size = 1

    def observe(self, seconds: float, items: int = 1) -> None:
        """``items`` took ``seconds`` in all: the mean moves as if they came one by one."""
        prev, mean = self.per_item, seconds / items
        keep = 0.8**items
        self.per_item = per_item = mean if prev is None else keep * prev + (1 - keep) * mean
        self.size = max(1, min(self.most, int(self.seconds / max(per_item, 1e-6))))
