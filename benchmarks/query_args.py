"""The query types the query benchmark measures, and their seeded random arguments.

Node ids are those of :func:`benchmarks.data.uniform_edge_ops` (``n0`` .. ``n<nodes-1>``), so
every sampled id exists in a graph built from it (with ten edges per node on average, a
node missing from the graph is next to impossible). Arguments are drawn from a
``random.Random`` seeded with the run's seed and the kind's key, so one seed gives the same
queries in every run, in any order of kinds, whatever else the run does.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "KINDS",
    "LOAD_MIX",
    "Query",
    "QueryKind",
    "interleave",
    "kind",
    "sample_queries",
]

Query = dict[str, Any]
Draw = Callable[[random.Random, int], Query]


@dataclass(frozen=True)
class QueryKind:
    """One row of the benchmark: a query type with fixed options and how to draw arguments."""

    key: str
    label: str
    draw: Draw

    def sample(self, count: int, nodes: int, seed: int) -> list[Query]:
        return sample_queries(self, count, nodes, seed)


def _node_id(rng: random.Random, nodes: int) -> str:
    return f"n{rng.randrange(nodes)}"


def _pair(rng: random.Random, nodes: int) -> tuple[str, str]:
    """Two distinct node ids (the same id twice when there is only one node)."""
    src = rng.randrange(nodes)
    dst = rng.randrange(nodes - 1) if nodes > 1 else src
    if nodes > 1 and dst >= src:
        dst += 1
    return f"n{src}", f"n{dst}"


def _node(rng: random.Random, nodes: int) -> Query:
    return {"type": "node", "id": _node_id(rng, nodes)}


def _neighbors(direction: str) -> Draw:
    def draw(rng: random.Random, nodes: int) -> Query:
        return {"type": "neighbors", "id": _node_id(rng, nodes), "direction": direction}

    return draw


def _khop(rng: random.Random, nodes: int) -> Query:
    return {"type": "khop", "id": _node_id(rng, nodes), "depth": 2, "direction": "out"}


def _shortest_path(rng: random.Random, nodes: int) -> Query:
    src, dst = _pair(rng, nodes)
    return {"type": "shortest_path", "src": src, "dst": dst, "max_depth": 6, "direction": "out"}


def _top_degree(rng: random.Random, nodes: int) -> Query:
    return {"type": "top_degree", "k": 10, "direction": "out"}


def _stats(rng: random.Random, nodes: int) -> Query:
    return {"type": "stats"}


KINDS: tuple[QueryKind, ...] = (
    QueryKind("node", "node", _node),
    QueryKind("neighbors_out", "neighbors out", _neighbors("out")),
    QueryKind("neighbors_both", "neighbors both", _neighbors("both")),
    QueryKind("khop2", "khop depth 2 (out)", _khop),
    QueryKind("shortest_path", "shortest_path (max_depth 6)", _shortest_path),
    QueryKind("top_degree", "top_degree k=10", _top_degree),
    QueryKind("stats", "stats", _stats),
)

#: The kinds of the load measurements (queries per second, queries during an ingest).
LOAD_MIX = ("node", "neighbors_out")


def kind(key: str) -> QueryKind:
    """The kind with ``key``; ``KeyError`` names the known keys when there is none."""
    for k in KINDS:
        if k.key == key:
            return k
    raise KeyError(f"unknown query kind {key!r}; known: {', '.join(k.key for k in KINDS)}")


def sample_queries(k: QueryKind, count: int, nodes: int, seed: int) -> list[Query]:
    """``count`` queries of kind ``k`` over ``nodes`` node ids, the same for the same seed."""
    if count < 0 or nodes < 1:
        raise ValueError(f"need count >= 0 and nodes >= 1, got {count} and {nodes}")
    rng = random.Random(f"{seed}:{k.key}")  # a str seed is hashed the same in every process
    return [k.draw(rng, nodes) for _ in range(count)]


def interleave(lists: Iterable[Sequence[Query]]) -> list[Query]:
    """Round-robin over ``lists`` (``[a0, b0, a1, b1, ...]``), then what the longer ones have
    left, in order."""
    seqs = list(lists)
    longest = max((len(s) for s in seqs), default=0)
    return [s[i] for i in range(longest) for s in seqs if i < len(s)]
