"""What one partition answers to a query request: :func:`evaluate_request`.

Each request names an operation (``op``) and its inputs; the answer (the *partial*) is
built from the partition's own state only and is plain msgpack-able data. Operations that
could grow with a hub's degree carry a ``cap`` and stop collecting as soon as they pass it,
answering :data:`~pipeline.queries.protocol.OVER` instead of a partial.

``expand`` is the one operation every traversal uses: for the frontier ids the partition
owns (in the order given), it lists each id's neighbors (following ``dir`` and ``type``)
that no earlier id of the same request already listed, sorted; ``None`` marks an id that
is not a node here. Listing each neighbor once, under the first id reaching it, keeps the
partial as small as the set of neighbors and is exactly what a breadth-first search that
prefers earlier predecessors needs. ``probe`` ids are reported in ``present`` if they exist
(also next to the early-stop marker).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Mapping
from operator import itemgetter
from typing import Any

from pipeline.digest import partition_digest
from pipeline.entries import out_counts, out_items, pairs_counts
from pipeline.graph import GraphPartition, edge_props
from pipeline.queries.protocol import OVER, QueryLimits, UnsupportedRequest

__all__ = ["evaluate_request", "neighbor_ids"]

_Handler = Callable[[Mapping[str, Any], GraphPartition, QueryLimits], Any]
_other_end = itemgetter(1)  # (type, other) keys of the sets and dicts of large containers


def evaluate_request(request: Mapping[str, Any], graph: GraphPartition, limits: QueryLimits) -> Any:
    """The partial this partition answers to ``request``; raises UnsupportedRequest for an
    operation it does not know."""
    handler = _HANDLERS.get(request.get("op"))
    if handler is None:
        raise UnsupportedRequest(f"unknown query request operation {request.get('op')!r}")
    return handler(request, graph, limits)


def neighbor_ids(
    graph: GraphPartition,
    node_id: str,
    direction: str,
    edge_type: str | None,
    seen: set[str],
    cap: int,
) -> list[str] | None:
    """The neighbors of ``node_id`` not in ``seen``, sorted, and added to ``seen``.

    Returns ``None`` (leaving ``seen`` as it was) as soon as ``seen`` would grow past
    ``cap``, without looking at the rest of the node's entries.
    """
    sources: list[tuple[Any, int]] = []  # (a node's container, items per entry)
    if direction != "in" and (out := graph.out_edges.get(node_id)):
        sources.append((out, 3))
    if direction != "out" and (into := graph.in_edges.get(node_id)):
        sources.append((into, 2))
    entries_count = sum(len(e) // w if isinstance(e, list) else len(e) for e, w in sources)
    if len(seen) + entries_count <= cap:  # cannot pass the cap: collect at C speed
        found: set[str] = set()
        for entries, width in sources:
            if edge_type is None:
                found.update(
                    entries[1::width] if isinstance(entries, list) else map(_other_end, entries)
                )
            else:
                found.update(
                    [other for etype, other in _typed_ends(entries, width) if etype == edge_type]
                )
        found -= seen
    else:
        found = set()
        room = cap - len(seen)
        for entries, width in sources:
            for etype, other in _typed_ends(entries, width):
                if (edge_type is None or etype == edge_type) and other not in seen:
                    found.add(other)
                    if len(found) > room:
                        return None
    seen |= found
    return sorted(found)


def _typed_ends(entries: Any, width: int) -> Iterable[tuple[str, str]]:
    """``(type, other end)`` of each entry of a node's container (:mod:`pipeline.entries`);
    a set or dict is iterated lazily, so a caller that stops early touches only what it read."""
    if isinstance(entries, list):
        return zip(entries[::width], entries[1::width], strict=True)
    return entries  # type: ignore[no-any-return]


def _node(request: Mapping[str, Any], graph: GraphPartition, limits: QueryLimits) -> Any:
    node_id = request["id"]
    record = graph.nodes.get(node_id)
    if record is None:
        return None
    return {
        "id": node_id,
        "labels": sorted(record.labels),
        "props": dict(sorted(record.props.items())),
        "out_degree": graph.out_degree(node_id),
        "in_degree": graph.in_degree(node_id),
    }


def _neighbors(request: Mapping[str, Any], graph: GraphPartition, limits: QueryLimits) -> Any:
    node_id = request["id"]
    if node_id not in graph.nodes:
        return None
    limit: int | None = request.get("limit")
    cap = min(int(request["cap"]), limits.max_result)
    # Only a result longer than the cap can fail; with a smaller limit every neighbor counts.
    bounded = limit is None or limit > cap
    found = neighbor_ids(
        graph, node_id, request["dir"], request.get("type"), set(), cap if bounded else 1 << 62
    )
    if found is None:
        return OVER
    if limit is not None and len(found) > limit:
        found = found[:limit]
    return {"id": node_id, "neighbors": found}


def _expand(request: Mapping[str, Any], graph: GraphPartition, limits: QueryLimits) -> Any:
    direction: str = request["dir"]
    edge_type: str | None = request.get("type")
    cap = min(int(request["cap"]), limits.max_visited)
    nodes = graph.nodes
    partial: dict[str, Any] = {}
    probe = request.get("probe")
    if probe:  # answered even when the expansion stops early
        partial["present"] = [node_id for node_id in probe if node_id in nodes]
    seen: set[str] = set()
    adj: list[list[str] | None] = []
    for node_id in request["ids"]:
        if node_id not in nodes:
            adj.append(None)
            continue
        found = neighbor_ids(graph, node_id, direction, edge_type, seen, cap)
        if found is None:
            partial.update(OVER)
            return partial
        adj.append(found)
    partial["adj"] = adj
    return partial


def _collect(request: Mapping[str, Any], graph: GraphPartition, limits: QueryLimits) -> Any:
    """Node records of ``ids`` and their out edges (of ``type``) to nodes in ``among``."""
    among = set(request["among"])
    edge_type: str | None = request.get("type")
    cap = min(int(request["cap"]), limits.max_result)
    nodes: list[list[Any]] = []
    edges: list[list[Any]] = []
    for node_id in request["ids"]:
        record = graph.nodes.get(node_id)
        if record is None:
            continue
        nodes.append([node_id, sorted(record.labels), dict(sorted(record.props.items()))])
        for etype, dst, props in out_items(graph.out_edges.get(node_id)):
            if dst in among and (edge_type is None or etype == edge_type):
                edges.append([node_id, etype, dst, dict(sorted(edge_props(props).items()))])
                if len(edges) > cap:
                    return OVER
    return {"nodes": nodes, "edges": edges}


def _top(request: Mapping[str, Any], graph: GraphPartition, limits: QueryLimits) -> Any:
    """The ``k`` owned nodes of highest degree as ``[id, degree]``, ties by id ascending.

    Degrees are read off the entry containers' lengths (:func:`~pipeline.entries.out_counts`,
    :func:`~pipeline.entries.pairs_counts`), with a threshold (the k-th largest) taken before
    any pair is built: a scan of a partition's nodes at close to C speed rather than a call
    per node.
    Nodes without entries (degree 0) come last, by id, when fewer than ``k`` have any.
    """
    k = int(request["k"])
    direction: str = request["dir"]
    if direction == "both":
        degrees = dict(zip(graph.out_edges, out_counts(graph.out_edges), strict=True))
        get = degrees.get
        for node_id, count in zip(graph.in_edges, pairs_counts(graph.in_edges), strict=True):
            degrees[node_id] = get(node_id, 0) + count
        ids, counts = list(degrees), list(degrees.values())
    elif direction == "out":
        ids, counts = list(graph.out_edges), out_counts(graph.out_edges)
    else:
        ids, counts = list(graph.in_edges), pairs_counts(graph.in_edges)
    if len(counts) > k:
        kth = heapq.nlargest(k, counts)[-1]
        ranked = sorted((-count, n) for n, count in zip(ids, counts, strict=True) if count >= kth)
    else:
        ranked = sorted((-count, n) for n, count in zip(ids, counts, strict=True))
    top = [[node_id, -negative] for negative, node_id in ranked[:k]]
    if len(top) < k:
        held = set(ids)
        bare = heapq.nsmallest(k - len(top), (n for n in graph.nodes if n not in held))
        top += [[node_id, 0] for node_id in bare]
    return top


def _stats(request: Mapping[str, Any], graph: GraphPartition, limits: QueryLimits) -> Any:
    return {"nodes": graph.node_count, "edges": graph.edge_count}


def _digest(request: Mapping[str, Any], graph: GraphPartition, limits: QueryLimits) -> Any:
    return partition_digest(graph)


_HANDLERS: dict[Any, _Handler] = {
    "node": _node,
    "neighbors": _neighbors,
    "expand": _expand,
    "collect": _collect,
    "top": _top,
    "stats": _stats,
    "digest": _digest,
}
