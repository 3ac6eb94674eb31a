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
from collections.abc import Callable, Mapping
from typing import Any

from pipeline.digest import partition_digest, partition_digest_stepwise
from pipeline.entries import (
    entry_ends,
    out_count,
    out_counts,
    out_items,
    pairs_count,
    pairs_counts,
    typed_ends,
)
from pipeline.graph import GraphPartition, edge_props
from pipeline.queries.protocol import OVER, QueryLimits, UnsupportedRequest
from pipeline.stepwise import Steps, run_through

__all__ = ["evaluate_request", "evaluate_stepwise", "neighbor_ids", "top_degree_stepwise"]

_Handler = Callable[[Mapping[str, Any], GraphPartition, QueryLimits], Any]


def evaluate_request(request: Mapping[str, Any], graph: GraphPartition, limits: QueryLimits) -> Any:
    """The partial this partition answers to ``request``; raises UnsupportedRequest for an
    operation it does not know."""
    handler = _HANDLERS.get(request.get("op"))
    if handler is None:
        raise UnsupportedRequest(f"unknown query request operation {request.get('op')!r}")
    return handler(request, graph, limits)


def evaluate_stepwise(
    request: Mapping[str, Any], graph: GraphPartition, limits: QueryLimits, size: int | None
) -> Steps[Any]:
    """:func:`evaluate_request`, with the scans of a whole partition (``digest``, ``top``)
    reading ``size`` items at a time and yielding between (``None``: in one go). Every other
    request reads what its ids reach, within its limits, and is answered without a yield."""
    op = request.get("op")
    if size is not None and op == "digest":
        return (yield from partition_digest_stepwise(graph, size))
    if size is not None and op == "top":
        return (yield from top_degree_stepwise(request, graph, size))
    return evaluate_request(request, graph, limits)


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
    entries_count = sum(out_count(e) if w == 3 else pairs_count(e) for e, w in sources)
    if len(seen) + entries_count <= cap:  # cannot pass the cap: collect at C speed
        found: set[str] = set()
        for entries, width in sources:
            if edge_type is None:
                found.update(entry_ends(entries, width))
            else:
                found.update(
                    [other for etype, other in typed_ends(entries, width) if etype == edge_type]
                )
        found -= seen
    else:
        found = set()
        room = cap - len(seen)
        for entries, width in sources:
            for etype, other in typed_ends(entries, width):
                if (edge_type is None or etype == edge_type) and other not in seen:
                    found.add(other)
                    if len(found) > room:
                        return None
    seen |= found
    return sorted(found)


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
    return run_through(top_degree_stepwise(request, graph, len(graph.nodes) + 1))


def _degrees_stepwise(
    graph: GraphPartition, direction: str, size: int
) -> Steps[tuple[list[str], list[int]]]:
    """The ids of the nodes with entries in ``direction`` and their degrees, ``size`` at a time.

    Each pass (out entries, in entries) takes the ids and their containers when it starts
    (one sequential read: looking each id up at its turn made top_degree 1.5-4x slower), and
    reads each container's length when its turn comes. A list, set or dict changes in place,
    so it gives the node's degree then; a one-type tuple is replaced by every change, so it
    gives the degree from when the pass started or when it was replaced. Either is a degree
    the node had between two steps during the pass.
    """
    out, into = graph.out_edges, graph.in_edges
    sources: list[tuple[Mapping[str, Any], Callable[[list[Any]], list[int]]]] = []
    if direction != "in":
        sources.append((out, out_counts))
    if direction != "out":
        sources.append((into, pairs_counts))
    ids: list[str] = []
    counts: list[int] = []
    degrees: dict[str, int] = {}
    for index, lengths in sources:
        ids, containers = list(index), list(index.values())
        counts = []
        for start in range(0, len(ids), size):
            counts += lengths(containers[start : start + size])
            yield
        if direction == "both":
            get = degrees.get
            for start in range(0, len(ids), size):
                chunk = zip(ids[start : start + size], counts[start : start + size], strict=True)
                for node_id, count in chunk:
                    degrees[node_id] = get(node_id, 0) + count
                yield
    if direction == "both":
        return list(degrees), list(degrees.values())
    return ids, counts


def top_degree_stepwise(
    request: Mapping[str, Any], graph: GraphPartition, size: int
) -> Steps[list[list[Any]]]:
    """The ``k`` owned nodes of highest degree as ``[id, degree]``, ties by id ascending,
    reading ``size`` nodes at a time and yielding between.

    Degrees are read off the entry containers' lengths (a container's length at its turn:
    a partition that changes between two steps is read as it is then). Each step keeps the
    ``k`` best so far, and builds pairs only for degrees that can still join them. Nodes
    without entries (degree 0) come last, by id, when fewer than ``k`` have any.
    """
    if size < 1:
        raise ValueError(f"size must be at least 1, got {size}")
    k = int(request["k"])
    ids, counts = yield from _degrees_stepwise(graph, request["dir"], size)
    best: list[tuple[int, str]] = []  # (-degree, id): the k smallest are the k best
    for start in range(0, len(ids), size):
        chunk, degrees = ids[start : start + size], counts[start : start + size]
        floor = 1  # the least degree that can still make the k best
        if len(best) == k:
            floor = max(floor, -best[-1][0])
        if len(degrees) > k:
            floor = max(floor, heapq.nlargest(k, degrees)[-1])
        better = [(-d, n) for d, n in zip(degrees, chunk, strict=True) if d >= floor]
        best = heapq.nsmallest(k, [*best, *better])
        yield
    top = [[node_id, -negative] for negative, node_id in best]
    if len(top) < k:
        held = {node_id for node_id, _ in top}
        bare: list[str] = []
        node_ids = list(graph.nodes)
        for start in range(0, len(node_ids), size):
            chunk = [n for n in node_ids[start : start + size] if n not in held]
            bare = heapq.nsmallest(k - len(top), [*bare, *chunk])
            yield
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
