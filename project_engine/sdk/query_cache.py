"""The client's own cache of query results: a repeat within ``ttl`` seconds skips Kafka.

Workers keep an exact result cache (an entry serves only while every partition it read is
unchanged), but using it still costs a Kafka round trip. This cache answers a repeated
query in the client itself, at the price of staleness: an entry may be up to ``ttl``
seconds older than writes made by other clients. The client's own writes clear it
(:meth:`QueryCache.clear` when ``add_graph`` starts and when it returns), so a query after
``add_graph(..., wait=True)`` never answers from before those writes.

Only read-only query types are cached. Entries hold the result msgpack-encoded and every
hit decodes a fresh copy, so a caller changing a returned result never changes what later
hits return. Results msgpack cannot encode, and queries that do not canonicalise (values
JSON cannot represent), are simply not cached. Least recently used entries go first once
``size`` entries are held.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

import msgpack

__all__ = ["CACHEABLE_TYPES", "QueryCache"]

#: Query types that read the graph and change nothing.
CACHEABLE_TYPES = frozenset(
    {"node", "neighbors", "khop", "shortest_path", "subgraph", "top_degree", "stats"}
)
# Fields that name one request rather than what is asked.
_VOLATILE = frozenset({"query_id", "reply_to", "timeout_ms"})


class QueryCache:
    """Results by canonical query, each kept for ``ttl`` seconds; ``size`` entries at most."""

    def __init__(
        self, ttl: float, size: int = 1024, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if ttl < 0:
            raise ValueError(f"cache ttl must be >= 0 seconds, got {ttl}")
        if size < 1:
            raise ValueError(f"cache size must be at least 1, got {size}")
        self.ttl = ttl
        self.size = size
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        # Bumped by every clear: a result asked for before a clear is not stored after it.
        self.generation = 0

    @property
    def enabled(self) -> bool:
        return self.ttl > 0

    def __len__(self) -> int:
        return len(self._entries)

    def key(self, query: Mapping[str, Any]) -> str | None:
        """The canonical form of a cacheable query; ``None`` when it must not be cached."""
        if not self.enabled or query.get("type") not in CACHEABLE_TYPES:
            return None
        asked = {k: v for k, v in query.items() if k not in _VOLATILE}
        try:
            return json.dumps(asked, sort_keys=True, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError):
            return None

    def get(self, key: str) -> tuple[bool, Any]:
        """``(True, result)`` for a live entry (a fresh copy), else ``(False, None)``."""
        entry = self._entries.get(key)
        if entry is None:
            return False, None
        stored_at, packed = entry
        if self._clock() - stored_at >= self.ttl:
            del self._entries[key]
            return False, None
        self._entries.move_to_end(key)
        return True, msgpack.unpackb(packed, raw=False, strict_map_key=False)

    def put(self, key: str, result: Any, generation: int) -> None:
        """Keep ``result`` unless the cache was cleared since ``generation`` was read (the
        answer may predate the client's writes)."""
        if generation != self.generation:
            return
        try:
            packed = msgpack.packb(result, use_bin_type=True)
        except (TypeError, ValueError, OverflowError):
            return
        self._entries[key] = (self._clock(), packed)
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()
        self.generation += 1
