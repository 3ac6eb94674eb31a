"""An order-independent digest of graph state: equal graphs give equal digests.

Each node (id, labels, props) and each edge (src, type, dst, props) hashes to 64 bits; the
digest is their sum modulo 2**64, so it can be computed per partition and merged by
addition, whatever order the state was built in.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from pipeline.entries import out_items
from pipeline.graph import GraphPartition, edge_props

__all__ = ["edge_hash", "graph_digest", "merge_digests", "node_hash", "partition_digest"]

_MASK = (1 << 64) - 1


def _h(doc: Any) -> int:
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def node_hash(node_id: str, labels: Iterable[str], props: Mapping[str, Any]) -> int:
    return _h(["n", node_id, sorted(labels), props])


def edge_hash(src: str, etype: str, dst: str, props: Mapping[str, Any]) -> int:
    return _h(["e", src, etype, dst, props])


def partition_digest(graph: GraphPartition) -> dict[str, int]:
    """The digest terms of one partition: summed hashes and counts."""
    total = 0
    for node_id, record in graph.nodes.items():
        total += node_hash(node_id, record.labels, record.props)
    for src, edges in graph.out_edges.items():
        for etype, dst, props in out_items(edges):
            total += edge_hash(src, etype, dst, edge_props(props))
    return {"sum": total & _MASK, "nodes": graph.node_count, "edges": graph.edge_count}


def merge_digests(partials: Iterable[Mapping[str, int]]) -> dict[str, Any]:
    """Combine partition digests into the graph's digest."""
    total = nodes = edges = 0
    for p in partials:
        total += int(p["sum"])
        nodes += int(p["nodes"])
        edges += int(p["edges"])
    return {"digest": f"{total & _MASK:016x}", "nodes": nodes, "edges": edges}


def graph_digest(
    nodes: Iterable[tuple[str, Iterable[str], Mapping[str, Any]]],
    edges: Iterable[tuple[str, str, str, Mapping[str, Any]]],
) -> dict[str, Any]:
    """The digest of a whole graph given as plain node and edge tuples (for references)."""
    total = n_count = e_count = 0
    for node_id, labels, props in nodes:
        total += node_hash(node_id, labels, props)
        n_count += 1
    for src, etype, dst, props in edges:
        total += edge_hash(src, etype, dst, props)
        e_count += 1
    return {"digest": f"{total & _MASK:016x}", "nodes": n_count, "edges": e_count}
