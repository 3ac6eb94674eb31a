"""Query types answered in one round: node, neighbors, stats, digest and top_degree.

``node`` and ``neighbors`` ask only the owner of the node (its out and in entries both live
there); ``stats``, ``digest`` and ``top_degree`` ask every partition and merge.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipeline.digest import merge_digests
from pipeline.partitioning import partition_for
from pipeline.queries.protocol import (
    Done,
    PlanStep,
    QueryPlan,
    is_over,
    limit_failure,
)

__all__ = ["DigestPlan", "NeighborsPlan", "NodePlan", "StatsPlan", "TopDegreePlan"]


class NodePlan(QueryPlan):
    """One node's labels, props and degrees, from its owner."""

    qtype = "node"

    def start(self) -> PlanStep:
        node_id = self.args["id"]
        return {partition_for(node_id, self.partitions): {"op": "node", "id": node_id}}

    def advance(self, partials: Mapping[int, Any]) -> PlanStep:
        (partial,) = partials.values()
        return Done(partial)


class NeighborsPlan(QueryPlan):
    """The sorted distinct neighbors of one node, from its owner."""

    qtype = "neighbors"

    def start(self) -> PlanStep:
        node_id = self.args["id"]
        request = {
            "op": "neighbors",
            "id": node_id,
            "dir": self.args.get("direction") or "out",
            "type": self.args.get("edge_type"),
            "limit": self.args.get("limit"),
            "cap": self.limits.max_result,
        }
        return {partition_for(node_id, self.partitions): request}

    def advance(self, partials: Mapping[int, Any]) -> PlanStep:
        (partial,) = partials.values()
        if is_over(partial):
            what = f"neighbors of {self.args['id']!r} found"
            return limit_failure(what, self.limits.max_result, "neighbors", "max_result")
        return Done(partial)


class StatsPlan(QueryPlan):
    """Node and edge counts summed over every partition."""

    qtype = "stats"

    def start(self) -> PlanStep:
        return {p: {"op": "stats"} for p in range(self.partitions)}

    def advance(self, partials: Mapping[int, Any]) -> PlanStep:
        return Done(
            {
                "nodes": sum(int(p["nodes"]) for p in partials.values()),
                "edges": sum(int(p["edges"]) for p in partials.values()),
            }
        )


class DigestPlan(QueryPlan):
    """The order-independent digest of the whole graph (see :mod:`pipeline.digest`)."""

    qtype = "digest"

    def start(self) -> PlanStep:
        return {p: {"op": "digest"} for p in range(self.partitions)}

    def advance(self, partials: Mapping[int, Any]) -> PlanStep:
        return Done(merge_digests(partials[p] for p in sorted(partials)))


class TopDegreePlan(QueryPlan):
    """The ``k`` nodes of highest degree graph-wide, ties broken by id ascending.

    Each partition answers its own top ``k``; the global top ``k`` is among their union.
    """

    qtype = "top_degree"

    def start(self) -> PlanStep:
        k = int(self.args["k"])
        if k > self.limits.max_result:
            return limit_failure(
                "top_degree asks for", self.limits.max_result, "nodes", "max_result"
            )
        direction = self.args.get("direction") or "out"
        return {p: {"op": "top", "k": k, "dir": direction} for p in range(self.partitions)}

    def advance(self, partials: Mapping[int, Any]) -> PlanStep:
        k = int(self.args["k"])
        ranked = sorted(
            (
                (-int(degree), str(node_id))
                for partial in partials.values()
                for node_id, degree in partial
            )
        )[:k]
        return Done(
            {
                "k": k,
                "direction": self.args.get("direction") or "out",
                "nodes": [{"id": node_id, "degree": -negative} for negative, node_id in ranked],
            }
        )
