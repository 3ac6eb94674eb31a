"""Cost per chunk as a RocksDB worker's graph grows to the large phase's size (10^7 edges in a
full run), next to the ingest benchmark's 10^4 to 10^6 on the memory store.

The large phase publishes its edge stream in two segments, the first ``smallest`` ops (10^4)
and the rest, and times the windows of a :class:`~benchmarks.growth.GrowthPlan` on the
worker's graph after the first (:func:`~benchmarks.growth_engine.engine_windows`: a window of
new edges added, timed, then deleted with ``delete_edge``, so the graph is the same for the
next window and the rest of the stream). The windows on the whole stream's graph
(:func:`~benchmarks.growth_engine.engine_growth_largest`) run after its RSS has been read,
so they do not move the memory figure; sizes in between are left to the ingest benchmark,
as windows on a graph of 10^6 edges would leave their mark on the memory of the graph that
grows on after them. The ingest rate counts the segments' time only.

While a window waits for its acks a trickle of edges between nodes of their own (``t<i>``)
keeps the input topic moving (see :func:`~benchmarks.engine_run.timed_batch`); those edges
stay in the graph, so the counts the phase checks after its ingest include them
(:func:`with_trickle`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from benchmarks.data import GraphCounts, Op, expected_counts
from benchmarks.engine_run import trickle_batches
from benchmarks.growth import GrowthPlan, SizeTiming, growth_sizes, touched_nodes
from benchmarks.growth_engine import engine_windows, recorded
from project_engine.sdk import Engine

__all__ = [
    "GROWTH_FROM",
    "GROWTH_WINDOW",
    "Publish",
    "ingest_in_segments",
    "large_growth_plan",
    "with_trickle",
]

GROWTH_FROM = 10_000  # the smallest graph the large phase times windows on
GROWTH_WINDOW = 10_000  # edges per window, as in the ingest benchmark (fewer on tiny graphs)
Publish = Callable[[Sequence[Op]], Awaitable[float]]
"""Publishes ops and waits for every ack; returns the seconds that took."""


def large_growth_plan(edges: int, smallest: int, seed: int) -> GrowthPlan | None:
    """The two sizes to time windows at for a stream of ``edges`` ops: ``smallest`` and all of
    them; ``None`` when the stream is too short for both (:func:`growth_sizes`). A window is
    never larger than the smallest graph."""
    sizes = growth_sizes(edges, smallest)
    if not sizes:
        return None
    return GrowthPlan((sizes[0], sizes[-1]), window=min(GROWTH_WINDOW, smallest), seed=seed)


async def ingest_in_segments(
    engine: Engine,
    plan: GrowthPlan,
    ops: Sequence[Op],
    publish: Publish,
    *,
    chunk_size: int,
    timeout: float,
) -> tuple[float, list[SizeTiming], list[Op]]:
    """Publish ``ops`` up to each of ``plan``'s sizes, timing the windows after every segment
    but the last. Returns the segments' seconds added up, the timings, and the trickle edges
    sent meanwhile (which stay in the graph)."""
    if plan.sizes[-1] != len(ops):
        raise ValueError(f"the plan ends at {plan.sizes[-1]:,} ops, the stream has {len(ops):,}")
    sent: list[Op] = []
    trickle = recorded(trickle_batches(plan.seed + 3), sent)
    seconds = 0.0
    timings: list[SizeTiming] = []
    done = 0
    for size in plan.sizes:
        seconds += await publish(ops[done:size])
        done = size
        if size < len(ops):
            nodes = touched_nodes(ops[:size])
            timings.append(
                await engine_windows(
                    engine, plan, nodes, size, trickle, chunk_size=chunk_size, timeout=timeout
                )
            )
    return seconds, timings, sent


def with_trickle(expected: GraphCounts, trickle: Sequence[Op]) -> GraphCounts:
    """The counts of the stream's graph plus the trickle's: their nodes never overlap."""
    extra = expected_counts(trickle)
    return GraphCounts(nodes=expected.nodes + extra.nodes, edges=expected.edges + extra.edges)
