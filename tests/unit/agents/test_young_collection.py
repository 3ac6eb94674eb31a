"""Entry tuples that an edge replaces leave the collector's view at the collection after
their part, instead of piling up in a young generation whose count never rises."""

from __future__ import annotations

import gc

from agents.consumer_tuning import collect_young
from pipeline.graph import GraphPartition
from pipeline.routing import route_chunk
from schemas.ops import UpsertEdge


def test_replaced_entry_tuples_are_untracked_after_collecting_the_young_generation() -> None:
    graph = GraphPartition(0)
    graph.apply(route_chunk([UpsertEdge("a", f"b{i}", "T", {}) for i in range(5)], 1)[0])
    gc.freeze()  # as a worker does with its settled graph
    try:
        graph.apply(route_chunk([UpsertEdge("a", "c", "T", {})], 1)[0])
        replaced = graph.out_edges["a"]
        assert isinstance(replaced, tuple) and len(replaced) == 13  # type + 6 (dst, props)
        assert gc.is_tracked(replaced)  # a new tuple, in the young generation
        collect_young()
        assert not gc.is_tracked(replaced)  # strings and bytes only: out of view
        assert not gc.is_tracked(graph.in_edges["c"])
    finally:
        gc.unfreeze()
