"""The answer every query type must give, computed independently with networkx.

:class:`QueryReference` wraps a :class:`~tests.support.reference.ReferenceGraph` (or its
``networkx.MultiDiGraph``) and answers each query type the way the wire contract defines
it, with plain networkx algorithms instead of the engine's partitioned rounds. It caches
the hop graphs it derives, so build a new one after changing the graph.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeAlias

import networkx as nx

from tests.support.reference import ReferenceGraph, reference_digest

__all__ = ["GraphLike", "QueryReference", "hop_graph"]

GraphLike: TypeAlias = ReferenceGraph | nx.MultiDiGraph
DEFAULT_MAX_DEPTH = 6


def _as_reference(graph: GraphLike) -> ReferenceGraph:
    if isinstance(graph, ReferenceGraph):
        return graph
    ref = ReferenceGraph()
    ref.g = graph
    return ref


def hop_graph(graph: GraphLike, direction: str = "out", edge_type: str | None = None) -> nx.DiGraph:
    """The directed graph whose edges are the hops a traversal may take.

    ``out`` follows edges forwards, ``in`` backwards, ``both`` either way; with
    ``edge_type`` only edges of that type count. Every node of the graph is in it.
    """
    g = _as_reference(graph).g
    h = nx.DiGraph()
    h.add_nodes_from(g)
    for src, dst, etype in g.edges(keys=True):
        if edge_type is None or etype == edge_type:
            if direction in ("out", "both"):
                h.add_edge(src, dst)
            if direction in ("in", "both"):
                h.add_edge(dst, src)
    return h


class QueryReference:
    """Expected results of every query type on one graph, keyed like the query's arguments."""

    def __init__(self, graph: GraphLike) -> None:
        self.ref = _as_reference(graph)
        self.g: nx.MultiDiGraph = self.ref.g
        self._hops: dict[tuple[str, str | None], nx.DiGraph] = {}

    def hops(self, direction: str = "out", edge_type: str | None = None) -> nx.DiGraph:
        """:func:`hop_graph` of this graph, built once per direction and edge type."""
        key = (direction, edge_type)
        h = self._hops.get(key)
        if h is None:
            h = self._hops[key] = hop_graph(self.g, direction, edge_type)
        return h

    # -- one-round queries -----------------------------------------------------------------

    def stats(self) -> dict[str, int]:
        return self.ref.stats()

    def digest(self) -> dict[str, Any]:
        return reference_digest(self.ref)

    def node(self, node_id: str) -> dict[str, Any] | None:
        return self.ref.node(node_id)

    def neighbors(
        self,
        node_id: str,
        direction: str = "out",
        edge_type: str | None = None,
        limit: int | None = None,
    ) -> dict[str, Any] | None:
        """The sorted distinct neighbors (first ``limit`` of them), ``None`` for no node."""
        h = self.hops(direction, edge_type)
        if node_id not in h:
            return None
        found = sorted(h.successors(node_id))
        return {"id": node_id, "neighbors": found if limit is None else found[:limit]}

    def top_degree(self, k: int, direction: str = "out") -> dict[str, Any]:
        """The ``k`` nodes of highest degree, ties broken by id; ``both`` adds in and out."""
        g = self.g

        def degree(n: str) -> int:
            out = g.out_degree(n) if direction != "in" else 0
            return int(out + (g.in_degree(n) if direction != "out" else 0))

        ranked = sorted(g.nodes, key=lambda n: (-degree(n), n))[:k]
        return {
            "k": k,
            "direction": direction,
            "nodes": [{"id": n, "degree": degree(n)} for n in ranked],
        }

    # -- traversals --------------------------------------------------------------------------

    def khop(
        self, node_id: str, depth: int, direction: str = "out", edge_type: str | None = None
    ) -> dict[str, Any] | None:
        """Every node within ``depth`` hops, the start excluded; ``None`` for no start."""
        h = self.hops(direction, edge_type)
        if node_id not in h:
            return None
        reached = nx.single_source_shortest_path_length(h, node_id, cutoff=depth)
        nodes = sorted(n for n in reached if n != node_id)
        return {"id": node_id, "depth": depth, "nodes": nodes, "count": len(nodes)}

    def path_length(
        self,
        src: str,
        dst: str,
        max_depth: int = DEFAULT_MAX_DEPTH,
        direction: str = "out",
        edge_type: str | None = None,
    ) -> int | None:
        """networkx's shortest path length, ``None`` when missing, unreachable or too long."""
        h = self.hops(direction, edge_type)
        if src not in h or dst not in h or not nx.has_path(h, src, dst):
            return None
        length = int(nx.shortest_path_length(h, src, dst))
        return length if length <= max_depth else None

    def lex_path(
        self,
        src: str,
        dst: str,
        max_depth: int = DEFAULT_MAX_DEPTH,
        direction: str = "out",
        edge_type: str | None = None,
    ) -> list[str] | None:
        """The lexicographically smallest shortest path of at most ``max_depth`` hops.

        Distances to ``dst`` first (a reverse search), then greedily the smallest next id
        one step closer, from ``src`` on.
        """
        h = self.hops(direction, edge_type)
        if src not in h or dst not in h:
            return None
        to_dst = nx.single_source_shortest_path_length(h.reverse(copy=False), dst, cutoff=max_depth)
        if src not in to_dst:
            return None
        path = [src]
        while path[-1] != dst:
            left = to_dst[path[-1]]
            path.append(min(n for n in h.successors(path[-1]) if to_dst.get(n) == left - 1))
        return path

    def shortest_path(
        self,
        src: str,
        dst: str,
        max_depth: int | None = None,
        direction: str = "out",
        edge_type: str | None = None,
    ) -> dict[str, Any]:
        depth = max_depth or DEFAULT_MAX_DEPTH
        return {"path": self.lex_path(src, dst, depth, direction, edge_type)}

    def subgraph(
        self, node_id: str, depth: int, direction: str = "out", edge_type: str | None = None
    ) -> dict[str, Any] | None:
        """The nodes within ``depth`` hops (start included) and every edge among them."""
        g, h = self.g, self.hops(direction, edge_type)
        if node_id not in h:
            return None
        inside = set(nx.single_source_shortest_path_length(h, node_id, cutoff=depth))
        nodes = [
            {
                "id": n,
                "labels": sorted(g.nodes[n]["labels"]),
                "props": dict(sorted(g.nodes[n]["props"].items())),
            }
            for n in sorted(inside)
        ]
        edges = sorted(
            (s, k, d, dict(sorted(data["props"].items())))
            for s, d, k, data in g.edges(keys=True, data=True)
            if s in inside and d in inside and (edge_type is None or k == edge_type)
        )
        return {
            "id": node_id,
            "depth": depth,
            "nodes": nodes,
            "edges": [{"src": s, "type": t, "dst": d, "props": p} for s, t, d, p in edges],
        }

    # -- any query -----------------------------------------------------------------------------

    def answer(self, qtype: str, args: Mapping[str, Any]) -> Any:
        """The result of a query given as its type and wire arguments (defaults optional)."""
        direction = args.get("direction") or "out"
        edge_type = args.get("edge_type")
        if qtype == "stats":
            return self.stats()
        if qtype == "digest":
            return self.digest()
        if qtype == "node":
            return self.node(args["id"])
        if qtype == "neighbors":
            return self.neighbors(args["id"], direction, edge_type, args.get("limit"))
        if qtype == "top_degree":
            return self.top_degree(int(args["k"]), direction)
        if qtype == "khop":
            return self.khop(args["id"], int(args["depth"]), direction, edge_type)
        if qtype == "shortest_path":
            max_depth = args.get("max_depth")
            return self.shortest_path(args["src"], args["dst"], max_depth, direction, edge_type)
        if qtype == "subgraph":
            return self.subgraph(args["id"], int(args["depth"]), direction, edge_type)
        raise ValueError(f"no reference for query type {qtype!r}")
