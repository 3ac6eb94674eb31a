"""A bounded cache of query results that is never stale.

Each graph partition has a version that grows with every applied part that changed it. A
result is stored with the versions of the partitions it read; a lookup returns it only if
every one of those partitions is still at the recorded version, so any write that could
change the answer makes the entry a miss.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["ResultCache", "cache_key"]


def cache_key(qtype: str, args: Mapping[str, Any]) -> str:
    """A canonical key for a query: its type and arguments, independent of key order."""
    return json.dumps([qtype, args], sort_keys=True, separators=(",", ":"), default=str)


class ResultCache:
    """LRU of ``key -> (result, {partition: version})`` validated at lookup."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[str, tuple[Any, dict[int, int]]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str, current: Callable[[int], int | None]) -> tuple[bool, Any]:
        """``(True, result)`` when cached and every read partition is unchanged.

        ``current(p)`` gives partition ``p``'s version now, or ``None`` when unknown here
        (a partition held by another worker): unknown counts as changed.
        """
        entry = self._entries.get(key) if self.size > 0 else None
        if entry is not None:
            result, versions = entry
            if all(current(p) == v for p, v in versions.items()):
                self._entries.move_to_end(key)
                self.hits += 1
                return True, result
            del self._entries[key]
        self.misses += 1
        return False, None

    def put(self, key: str, result: Any, versions: Mapping[int, int]) -> None:
        if self.size <= 0:
            return
        self._entries[key] = (result, dict(versions))
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)
