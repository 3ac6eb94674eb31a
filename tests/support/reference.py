"""An independent reference graph built with networkx, applying ops serially."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import networkx as nx

from schemas.ops import DeleteEdge, DeleteNode, Op, UpsertEdge, UpsertNode


class ReferenceGraph:
    """The graph a single serial interpreter of the wire contract would hold."""

    def __init__(self) -> None:
        self.g = nx.MultiDiGraph()

    def _ensure(self, node_id: str) -> None:
        if node_id not in self.g:
            self.g.add_node(node_id, labels=set(), props={})

    def apply(self, ops: Iterable[Op]) -> None:
        for op in ops:
            if isinstance(op, UpsertNode):
                self._ensure(op.id)
                data = self.g.nodes[op.id]
                data["labels"] |= set(op.labels)
                _merge(data["props"], op.props)
            elif isinstance(op, UpsertEdge):
                self._ensure(op.src)
                self._ensure(op.dst)
                if self.g.has_edge(op.src, op.dst, key=op.type):
                    _merge(self.g.edges[op.src, op.dst, op.type]["props"], op.props)
                else:
                    props: dict[str, Any] = {}
                    _merge(props, op.props)
                    self.g.add_edge(op.src, op.dst, key=op.type, props=props)
            elif isinstance(op, DeleteEdge):
                if self.g.has_edge(op.src, op.dst, key=op.type):
                    self.g.remove_edge(op.src, op.dst, key=op.type)
            elif isinstance(op, DeleteNode) and op.id in self.g:
                self.g.remove_node(op.id)

    def stats(self) -> dict[str, int]:
        return {"nodes": self.g.number_of_nodes(), "edges": self.g.number_of_edges()}

    def node(self, node_id: str) -> dict[str, Any] | None:
        if node_id not in self.g:
            return None
        data = self.g.nodes[node_id]
        return {
            "id": node_id,
            "labels": sorted(data["labels"]),
            "props": dict(sorted(data["props"].items())),
            "out_degree": self.g.out_degree(node_id),
            "in_degree": self.g.in_degree(node_id),
        }


def _merge(target: dict[str, Any], update: Any) -> None:
    for key, value in update.items():
        if value is None:
            target.pop(key, None)
        else:
            target[key] = value


def reference_digest(ref: ReferenceGraph) -> dict[str, Any]:
    """The digest the engine must report for the same graph."""
    from pipeline.digest import graph_digest

    nodes = ((n, d["labels"], d["props"]) for n, d in ref.g.nodes(data=True))
    edges = ((s, k, t, d["props"]) for s, t, k, d in ref.g.edges(keys=True, data=True))
    return graph_digest(nodes, edges)
