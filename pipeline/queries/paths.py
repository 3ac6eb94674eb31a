"""shortest_path: breadth-first search from ``src`` with a unique, documented tie-break.

Tie-break: among all shortest paths the answer is the lexicographically smallest sequence
of ids (ids compared as Python strings, by code point). The search keeps each level in
*rank order*, the lexicographic order of the levels' best paths. A node first reached in
round r takes as predecessor its reaching neighbor of lowest rank, and the next level is
ordered by (predecessor rank, id); since all paths to one level have the same length, that
is the order of their best paths, so induction gives the lexicographically smallest path.

Frontiers are sent to partitions in rank order, and a partition lists each neighbor under
the first frontier id reaching it (see :mod:`pipeline.queries.partition`), which is its
lowest-rank predecessor there; the run keeps the lowest rank over all partitions.

The search stops at the first round boundary where ``dst`` is reached, when the frontier
empties, or after ``max_depth`` rounds; it never expands past ``max_depth``. Round 0 also
probes ``dst`` so a missing endpoint answers ``{"path": None}`` at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipeline.queries.protocol import Done, Failed, PlanStep, QueryLimits, is_over
from pipeline.queries.traversal import Traversal

__all__ = ["ShortestPathPlan"]


class ShortestPathPlan(Traversal):
    """A shortest path from ``src`` to ``dst`` within ``max_depth`` hops."""

    qtype = "shortest_path"

    def __init__(self, args: Mapping[str, Any], partitions: int, limits: QueryLimits) -> None:
        super().__init__(args, partitions, limits)
        self.src: str = args["src"]
        self.dst: str = args["dst"]
        self.max_depth = int(args.get("max_depth") or 6)
        self.round = 0
        self.level: list[str] = []
        self.pred: dict[str, str] = {}

    def rounds(self) -> int:
        return 1 if self.src == self.dst else self.max_depth

    def start(self) -> PlanStep:
        if self.src == self.dst:
            return self.expand([], probe=[self.src])
        self.visited = {self.src}
        self.level = [self.src]
        return self.expand(self.level, probe=[self.dst])

    def advance(self, partials: Mapping[int, Any]) -> PlanStep:
        if self.round == 0:
            present = {n for partial in partials.values() for n in partial.get("present", ())}
            if self.dst not in present:
                return Done({"path": None})
            if self.src == self.dst:
                return Done({"path": [self.src]})
            if any(is_over(partial) for partial in partials.values()):
                return self.over()
            if self.start_missing(partials, self.src):
                return Done({"path": None})
        level = self.next_level(partials)
        if isinstance(level, Failed):
            return level
        self.round += 1
        if self.dst in self.pred:
            return Done({"path": self.path()})
        if not level or self.round >= self.max_depth:
            return Done({"path": None})
        self.level = level
        return self.expand(level)

    def next_level(self, partials: Mapping[int, Any]) -> list[str] | Failed:
        """The nodes first reached this round in rank order, recording their predecessors."""
        if any(is_over(partial) for partial in partials.values()):
            return self.over()
        rank = {node_id: i for i, node_id in enumerate(self.level)}
        visited = self.visited
        best: dict[str, int] = {}
        for p, partial in partials.items():
            for node_id, found in zip(self.asked[p], partial["adj"], strict=True):
                if not found:
                    continue
                r = rank[node_id]
                for other in found:
                    if other in visited:
                        continue
                    known = best.get(other)
                    if known is None or r < known:
                        best[other] = r
        if len(best) > self._room:
            return self.over()
        level = sorted(best, key=lambda node_id: (best[node_id], node_id))
        for node_id in level:
            self.pred[node_id] = self.level[best[node_id]]
        visited.update(level)
        return level

    def path(self) -> list[str]:
        path = [self.dst]
        while path[-1] != self.src:
            path.append(self.pred[path[-1]])
        path.reverse()
        return path
