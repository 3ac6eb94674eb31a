"""What the SDK reports back: the outcome of one ``add_graph`` call and engine counters."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

__all__ = ["AddGraphSummary", "EngineMetrics"]


@dataclass
class AddGraphSummary:
    """The outcome of one ``add_graph`` call.

    ``chunks`` and ``items`` count everything taken from the input; ``failed`` lists the
    chunks that were not delivered or were rejected by a worker, with the reason, and
    ``failed_items`` counts the ops in them.
    """

    chunks: int = 0
    items: int = 0
    failed: list[tuple[str, BaseException]] = field(default_factory=list)
    failed_items: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def items_per_second(self) -> float:
        return self.items / self.seconds if self.seconds > 0 else 0.0

    def __str__(self) -> str:
        return (
            f"{self.items} items in {self.chunks} chunks in {self.seconds:.2f} s, "
            f"{len(self.failed)} chunks failed"
        )


@dataclass
class EngineMetrics:
    """Counters of one engine; ``send_latency`` keeps the latest delivery times (seconds)."""

    chunks_sent: int = 0
    items_sent: int = 0
    send_retries: int = 0
    in_flight: int = 0
    queries_sent: int = 0
    cache_hits: int = 0
    cache_misses: int = 0
    client_cache_hits: int = 0  # answered by the client's own cache, without Kafka
    send_latency: deque[float] = field(default_factory=lambda: deque(maxlen=1024))
