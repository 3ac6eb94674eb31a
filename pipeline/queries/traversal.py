"""Breadth-first traversals over partitions: the shared expansion rounds, khop and subgraph.

Every round asks each partition owning frontier nodes one ``expand`` request listing all of
them, merges the answers into the next frontier and checks the limits. The expansion
budget sent with a request is sound: a partition that finds more distinct neighbors than
``cap`` proves on its own that the round breaks a limit, so it stops early and the query
fails the same way whatever the partitioning (see :meth:`Traversal.expand`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pipeline.partitioning import partition_for
from pipeline.queries.protocol import (
    Asks,
    Done,
    Failed,
    PlanStep,
    QueryLimits,
    QueryPlan,
    is_over,
    limit_failure,
)

__all__ = ["KhopPlan", "SubgraphPlan", "Traversal"]


class Traversal(QueryPlan):
    """Round-by-round expansion of a frontier, with the visited set and the limits."""

    def __init__(self, args: Mapping[str, Any], partitions: int, limits: QueryLimits) -> None:
        super().__init__(args, partitions, limits)
        self.direction: str = args.get("direction") or "out"
        self.edge_type: str | None = args.get("edge_type")
        self.visited: set[str] = set()
        self.asked: dict[int, list[str]] = {}
        self._room = 0
        self._room_limit = "max_visited"

    def owners(self, nodes: Iterable[str]) -> dict[int, list[str]]:
        """``nodes`` grouped by owning partition, keeping their order."""
        by: dict[int, list[str]] = {}
        partitions = self.partitions
        for node_id in nodes:
            p = partition_for(node_id, partitions)
            group = by.get(p)
            if group is None:
                by[p] = [node_id]
            else:
                group.append(node_id)
        return by

    def visited_count(self) -> int:
        """Nodes the traversal has visited, what ``max_visited`` bounds."""
        return len(self.visited)

    def expand(
        self,
        frontier: Sequence[str],
        probe: Sequence[str] = (),
        *,
        direction: str | None = None,
    ) -> Asks:
        """The requests expanding ``frontier`` along ``direction`` (the query's by default)
        and probing ``probe`` for existence.

        With V nodes visited, the round may add at most ``room = min(max_visited - V,
        max_frontier)`` new nodes. A partition seeing more than ``V + room`` distinct
        neighbors has more than ``room`` new ones among them (at most V were visited), so
        ``cap = V + room`` lets it stop early without ever failing a query that fits.
        """
        limits, visited = self.limits, self.visited_count()
        room_visited = limits.max_visited - visited
        if room_visited <= limits.max_frontier:
            self._room, self._room_limit = room_visited, "max_visited"
        else:
            self._room, self._room_limit = limits.max_frontier, "max_frontier"
        cap = visited + self._room
        way = direction or self.direction
        asks: Asks = {}
        self.asked = self.owners(frontier)
        for p, ids in self.asked.items():
            asks[p] = self._request(ids, cap, way)
        for p, ids in self.owners(probe).items():
            ask = asks.get(p)
            if ask is None:
                ask = asks[p] = self._request([], cap, way)
                self.asked[p] = []
            ask["probe"] = ids
        return asks

    def _request(self, ids: list[str], cap: int, direction: str) -> dict[str, Any]:
        return {
            "op": "expand",
            "ids": ids,
            "dir": direction,
            "type": self.edge_type,
            "cap": cap,
        }

    def over(self) -> Failed:
        """The failure of a round that adds more nodes than its room."""
        if self._room_limit == "max_visited":
            what = f"{self.qtype} visited"
            return limit_failure(what, self.limits.max_visited, "nodes", "max_visited")
        what = f"{self.qtype} frontier grew to"
        return limit_failure(what, self.limits.max_frontier, "nodes", "max_frontier")

    def start_missing(self, partials: Mapping[int, Any], start: str) -> bool:
        """True when round 0's answer says the start node does not exist."""
        p = partition_for(start, self.partitions)
        partial = partials[p]
        if is_over(partial):  # stopped while listing the start's neighbors: it exists
            return False
        return bool(partial["adj"][self.asked[p].index(start)] is None)

    def merge(self, partials: Mapping[int, Any]) -> set[str] | Failed:
        """The nodes this round reaches first, added to ``visited``; or the limit failure."""
        if any(is_over(partial) for partial in partials.values()):
            return self.over()
        new: set[str] = set()
        for partial in partials.values():
            for found in partial["adj"]:
                if found:
                    new.update(found)
        new -= self.visited
        if len(new) > self._room:
            return self.over()
        self.visited |= new
        return new


class KhopPlan(Traversal):
    """Every node within ``depth`` hops of the start (the start excluded)."""

    qtype = "khop"

    def __init__(self, args: Mapping[str, Any], partitions: int, limits: QueryLimits) -> None:
        super().__init__(args, partitions, limits)
        self.start_id: str = args["id"]
        self.depth = int(args["depth"])
        self.round = 0

    def rounds(self) -> int:
        return self.depth

    def start(self) -> PlanStep:
        self.visited = {self.start_id}
        return self.expand([self.start_id])

    def advance(self, partials: Mapping[int, Any]) -> PlanStep:
        if self.round == 0 and self.start_missing(partials, self.start_id):
            return Done(None)
        new = self.merge(partials)
        if isinstance(new, Failed):
            return new
        self.round += 1
        if self.round < self.depth and new:
            return self.expand(sorted(new))
        return self.finish()

    def finish(self) -> PlanStep:
        nodes = sorted(self.visited - {self.start_id})
        if len(nodes) > self.limits.max_result:
            return limit_failure("khop found", self.limits.max_result, "nodes", "max_result")
        return Done({"id": self.start_id, "depth": self.depth, "nodes": nodes, "count": len(nodes)})


class SubgraphPlan(KhopPlan):
    """The nodes within ``depth`` hops (start included) and every edge among them.

    After the expansion rounds, one ``collect`` round asks each owner for the records of
    its nodes and their out edges (of ``edge_type`` if given) ending inside the node set;
    every edge is held as an out entry by its source's owner, so each is reported once.
    """

    qtype = "subgraph"

    def __init__(self, args: Mapping[str, Any], partitions: int, limits: QueryLimits) -> None:
        super().__init__(args, partitions, limits)
        self.collecting = False

    def rounds(self) -> int:
        return self.depth + 1

    def finish(self) -> PlanStep:
        max_result = self.limits.max_result
        if len(self.visited) > max_result:
            return limit_failure("subgraph holds", max_result, "nodes and edges", "max_result")
        among = sorted(self.visited)
        cap = max_result - len(among)
        self.collecting = True
        return {
            p: {"op": "collect", "ids": ids, "among": among, "type": self.edge_type, "cap": cap}
            for p, ids in self.owners(among).items()
        }

    def advance(self, partials: Mapping[int, Any]) -> PlanStep:
        if not self.collecting:
            return super().advance(partials)
        max_result = self.limits.max_result
        if any(is_over(partial) for partial in partials.values()):
            return limit_failure("subgraph holds", max_result, "nodes and edges", "max_result")
        nodes = [node for partial in partials.values() for node in partial["nodes"]]
        edges = [edge for partial in partials.values() for edge in partial["edges"]]
        if len(nodes) + len(edges) > max_result:
            return limit_failure("subgraph holds", max_result, "nodes and edges", "max_result")
        nodes.sort(key=lambda node: str(node[0]))
        edges.sort(key=lambda edge: (str(edge[0]), str(edge[1]), str(edge[2])))
        return Done(
            {
                "id": self.start_id,
                "depth": self.depth,
                "nodes": [
                    {"id": n, "labels": labels, "props": props} for n, labels, props in nodes
                ],
                "edges": [
                    {"src": s, "type": t, "dst": d, "props": props} for s, t, d, props in edges
                ],
            }
        )
