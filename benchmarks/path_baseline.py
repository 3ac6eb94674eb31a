"""The baseline of the path benchmark: shortest_path as a one-ended breadth-first search.

This is how the engine answered shortest_path before its search ran from both ends: levels
grow from ``src`` only, in rank order (the same lexicographic tie-break), until ``dst`` is
reached, and a round over a limit fails the query. It is the engine's own plan
(:mod:`pipeline.queries.paths`) with the side from ``dst`` never expanded, so the two send
the same kind of partition requests under the same limits and differ only in the search;
wherever both answer, they answer the same path.
"""

from __future__ import annotations

from pipeline.queries.paths import BACKWARD, ShortestPathPlan
from pipeline.queries.protocol import PlanStep

__all__ = ["OneEndedShortestPath"]


class OneEndedShortestPath(ShortestPathPlan):
    """A shortest path from ``src`` to ``dst`` within ``max_depth`` hops, searched from
    ``src`` alone."""

    def start(self) -> PlanStep:
        self.open[BACKWARD] = False  # dst stays the whole of its side: met when reached
        return super().start()
