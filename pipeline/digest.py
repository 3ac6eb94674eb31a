"""An order-independent digest of graph state: equal graphs give equal digests.

Each node (id, labels, props) and each edge (src, type, dst, props) hashes to 64 bits; the
digest is their sum modulo 2**64, so it can be computed per partition and merged by
addition, whatever order the state was built in.

An item's hash is the BLAKE2b-64 of its canonical JSON text (sorted keys, no spaces, no
ASCII escaping). :func:`node_hash` and :func:`edge_hash` define it on plain values;
:func:`partition_digest_stepwise` computes the same texts from a partition's own layout
without building the plain values: each node id is quoted once for all its out edges, and
each distinct packed props value is decoded and encoded once per digest. It reads the
partition ``size`` items (nodes and edges) at a time and yields between, so a worker can give
its event loop a turn in between.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from json.encoder import encode_basestring
from typing import Any

from pipeline.entries import out_items
from pipeline.graph import GraphPartition, edge_props
from pipeline.stepwise import Steps, run_through

__all__ = [
    "edge_hash",
    "graph_digest",
    "merge_digests",
    "node_hash",
    "partition_digest",
    "partition_digest_stepwise",
]

_MASK = (1 << 64) - 1
_canonical = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode
_quote = encode_basestring  # what the canonical encoder writes for a string
_blake2b = hashlib.blake2b
_from_bytes = int.from_bytes
_PROPS_TEXTS = 65_536
"""Distinct packed props whose JSON text one digest keeps, so unique props cannot grow it."""


def _text_hash(text: str) -> int:
    return _from_bytes(_blake2b(text.encode(), digest_size=8).digest(), "big")


def _h(doc: Any) -> int:
    return _text_hash(_canonical(doc))


def node_hash(node_id: str, labels: Iterable[str], props: Mapping[str, Any]) -> int:
    return _h(["n", node_id, sorted(labels), props])


def edge_hash(src: str, etype: str, dst: str, props: Mapping[str, Any]) -> int:
    return _h(["e", src, etype, dst, props])


def partition_digest(graph: GraphPartition) -> dict[str, int]:
    """The digest terms of one partition: summed hashes and counts."""
    return run_through(partition_digest_stepwise(graph, len(graph.nodes) + graph.edge_count + 1))


def partition_digest_stepwise(graph: GraphPartition, size: int) -> Steps[dict[str, int]]:
    """:func:`partition_digest`, reading ``size`` items at a time and yielding between.

    The ids of the nodes and of the edges' sources are taken when it starts; each node's
    record and each source's out edges are read when its turn comes. So when the partition
    changes between two steps, the terms mix the states read (a node deleted meanwhile is
    left out, one added meanwhile is not seen) and the counts are those at the end: a
    digest describes a graph that holds still.
    """
    if size < 1:
        raise ValueError(f"size must be at least 1, got {size}")
    total = 0
    budget = size
    nodes, out_edges = graph.nodes, graph.out_edges
    node_ids, sources = list(nodes), list(out_edges)
    for node_id in node_ids:
        record = nodes.get(node_id)
        if record is None:
            continue
        labels, props = record.labels, record.props
        if labels or props:
            total += _h(["n", node_id, sorted(labels), props])
        else:
            total += _text_hash(f'["n",{_quote(node_id)},[],{{}}]')
        budget -= 1
        if budget <= 0:
            budget = size
            yield
    texts: dict[bytes, str] = {}
    for src in sources:
        head = f'["e",{_quote(src)},'
        for etype, dst, packed in out_items(out_edges.get(src)):
            text = texts.get(packed)
            if text is None:
                text = _canonical(edge_props(packed))
                if len(texts) < _PROPS_TEXTS:
                    texts[packed] = text
            total += _text_hash(f"{head}{_quote(etype)},{_quote(dst)},{text}]")
            budget -= 1
            if budget <= 0:
                budget = size
                yield
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
