"""Test graph workloads in wire form, and the reference graph they must produce."""

from __future__ import annotations

import random
import zlib
from collections.abc import Iterable
from typing import Any

from schemas.limits import Limits
from schemas.ops import Op
from schemas.validation import parse_ops
from tests.support.reference import ReferenceGraph

__all__ = ["conflict_free_edges", "hub_edges", "reference_of", "to_ops"]

Wire = dict[str, Any]


def _w(src: str, dst: str) -> int:
    return zlib.crc32(f"{src}>{dst}".encode()) % 1000


def conflict_free_edges(nodes: int, edges: int, seed: int, prefix: str) -> list[Wire]:
    """Random edge upserts whose props depend only on the endpoints: any order, same graph."""
    rng = random.Random(seed)
    out: list[Wire] = []
    for _ in range(edges):
        s, d = f"{prefix}{rng.randrange(nodes)}", f"{prefix}{rng.randrange(nodes)}"
        out.append({"op": "upsert_edge", "src": s, "dst": d, "type": "E", "props": {"w": _w(s, d)}})
    return out


def hub_edges(hub: str, count: int, prefix: str) -> list[Wire]:
    return [
        {"op": "upsert_edge", "src": hub, "dst": f"{prefix}{i}", "type": "H", "props": {}}
        for i in range(count)
    ]


def to_ops(wire: Iterable[Wire]) -> list[Op]:
    chunk = parse_ops(list(wire), Limits(max_items_per_chunk=10_000_000))
    assert not isinstance(chunk, Exception) and hasattr(chunk, "items"), chunk
    return list(chunk.items)


def reference_of(*batches: Iterable[Wire]) -> ReferenceGraph:
    ref = ReferenceGraph()
    for batch in batches:
        ref.apply(to_ops(batch))
    return ref
