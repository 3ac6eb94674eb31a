"""The benchmark's input: seeded edge upserts in wire form, and their chunks as the SDK sends them.

Every measurement of one run uses the same ops. :func:`encode_chunks` splits them with the
SDK's own chunking and encoding code (``<client_id>-<seq>`` ids, msgpack maps), so the
transport and pure-core measurements see byte for byte the messages the engine run sends
with the same ``client_id``.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from project_engine.sdk.chunking import ChunkIds, iter_chunks
from project_engine.sdk.wire import encode_value

__all__ = [
    "EDGE_TYPE",
    "EncodedChunk",
    "GraphCounts",
    "Op",
    "encode_chunks",
    "expected_counts",
    "hub_edge_ops",
    "total_bytes",
    "total_items",
    "uniform_edge_ops",
]

Op = dict[str, Any]
EDGE_TYPE = "E"
CONTENT_TYPE = b"application/msgpack"


@dataclass(frozen=True, slots=True)
class EncodedChunk:
    """One input-topic message: the chunk id, its msgpack bytes and how many ops it holds."""

    chunk_id: str
    value: bytes
    items: int


@dataclass(frozen=True, slots=True)
class GraphCounts:
    """What a ``stats`` query must answer after the ops were applied to an empty graph."""

    nodes: int
    edges: int

    def as_stats(self) -> dict[str, int]:
        return {"nodes": self.nodes, "edges": self.edges}


def _edge(src: str, dst: str, weight: int) -> Op:
    return {"op": "upsert_edge", "src": src, "dst": dst, "type": EDGE_TYPE, "props": {"w": weight}}


def uniform_edge_ops(nodes: int, edges: int, seed: int, prefix: str = "n") -> list[Op]:
    """``edges`` edge upserts whose endpoints are drawn uniformly from ``nodes`` node ids.

    Each edge carries a small prop ``{"w": <0..999>}``. The same arguments give the same
    list in every process and on every platform (``random.Random`` with an integer seed).
    """
    if nodes < 1 or edges < 0:
        raise ValueError(f"need nodes >= 1 and edges >= 0, got {nodes} and {edges}")
    rng = random.Random(seed)
    draw = rng.randrange
    ids = [f"{prefix}{i}" for i in range(nodes)]
    return [_edge(ids[draw(nodes)], ids[draw(nodes)], draw(1000)) for _ in range(edges)]


def hub_edge_ops(hub: str, start: int, stop: int, prefix: str = "leaf") -> list[Op]:
    """Edges ``hub -> <prefix><i>`` for ``start <= i < stop``: each one new to the hub."""
    if not 0 <= start <= stop:
        raise ValueError(f"need 0 <= start <= stop, got {start} and {stop}")
    return [_edge(hub, f"{prefix}{i}", i % 1000) for i in range(start, stop)]


def encode_chunks(ops: Iterable[Op], chunk_size: int, client_id: str) -> list[EncodedChunk]:
    """The messages ``add_graph(ops, chunk_size=...)`` of a fresh engine with ``client_id``
    publishes, encoded exactly as it encodes them (msgpack)."""
    ids = ChunkIds(client_id)
    return [
        EncodedChunk(chunk.chunk_id, encode_value(chunk.to_wire(), "msgpack"), len(chunk.items))
        for chunk in iter_chunks(ops, chunk_size, ids)
    ]


def expected_counts(ops: Sequence[Op]) -> GraphCounts:
    """Distinct nodes and distinct edges ``(src, type, dst)`` that upserting ``ops`` creates."""
    edges: set[tuple[str, str, str]] = set()
    nodes: set[str] = set()
    for op in ops:
        if op["op"] != "upsert_edge":
            raise ValueError(f"only edge upserts are counted here, got {op['op']!r}")
        src, dst = op["src"], op["dst"]
        edges.add((src, op.get("type") or "", dst))
        nodes.add(src)
        nodes.add(dst)
    return GraphCounts(nodes=len(nodes), edges=len(edges))


def total_items(chunks: Sequence[EncodedChunk]) -> int:
    return sum(c.items for c in chunks)


def total_bytes(chunks: Sequence[EncodedChunk]) -> int:
    return sum(len(c.value) for c in chunks)
