"""Cost growth through the engine: the windows of a :class:`~benchmarks.growth.GrowthPlan`
published to a running worker.

The sizes below the largest run before the main ingest, on a graph of their own: the data
stream drawn again with other node ids (:func:`base_ops`: ``g<i>`` instead of ``n<i>``, the
same draws), published untimed up to each size. After the last of them every node that
graph touched, the trickle's nodes included, is deleted (a ``delete_node`` takes the node's
edges along), and the worker must report an empty graph again, so the main ingest still
starts from nothing. The largest size is the main ingest's graph itself, measured after it
(:func:`engine_windows` with the data stream's nodes). Its own client id keeps the main
ingest's chunk ids those of the other measurements.

Each window is timed like a hub batch (:func:`~benchmarks.engine_run.timed_batch`: one
``add_graph(wait=True)`` call, and a trickle of other edges once every chunk is sent), and
deleted again the same way, untimed, so that the worker's consumer never waits out a fetch
long-poll in between: the next window starts on the same graph.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from benchmarks.data import Op, expected_counts, uniform_edge_ops
from benchmarks.engine_run import publish, timed_batch, trickle_batches
from benchmarks.growth import GrowthPlan, SizeTiming, delete_ops, touched_nodes
from benchmarks.harness import wait_for
from project_engine.sdk import Engine

__all__ = [
    "BASE_PREFIX",
    "GROWTH_CLIENT_ID",
    "base_ops",
    "engine_growth_largest",
    "engine_growth_smaller",
    "engine_windows",
    "graph_stats",
    "recorded",
]

GROWTH_CLIENT_ID = "bench-growth"  # chunk ids of its own, apart from the main ingest's
BASE_PREFIX = "g"  # node ids of the graph the smaller sizes are measured on
SETTLE_TIMEOUT = 60.0  # seconds for the worker to report the graph expected


def base_ops(nodes: int, edges: int, seed: int) -> list[Op]:
    """The first ``edges`` ops of the data stream (``uniform_edge_ops(nodes, ..., seed)``)
    with node ids of their own: the same seed and node count draw the same endpoints."""
    return uniform_edge_ops(nodes, edges, seed, prefix=BASE_PREFIX)


def recorded(batches: Iterator[list[Op]], sent: list[Op]) -> Iterator[list[Op]]:
    """``batches`` as they are, each one also added to ``sent`` as it is handed out."""
    for ops in batches:
        sent.extend(ops)
        yield ops


async def graph_stats(engine: Engine) -> dict[str, Any]:
    answer = await engine.query({"type": "stats"}, timeout=SETTLE_TIMEOUT)
    if not isinstance(answer, dict):
        raise RuntimeError(f"a stats query answered {answer!r:.200}")
    return answer


async def _settled(engine: Engine, expected: dict[str, int]) -> None:
    await wait_for(lambda: graph_stats(engine), lambda a: a == expected, timeout=SETTLE_TIMEOUT)


async def engine_windows(
    engine: Engine,
    plan: GrowthPlan,
    nodes: Sequence[str],
    size: int,
    trickle: Iterator[list[Op]],
    *,
    chunk_size: int,
    timeout: float,
) -> SizeTiming:
    """Time ``plan``'s windows at ``size`` on the worker's graph, deleting each afterwards."""
    stats = await graph_stats(engine)
    seconds: list[float] = []
    for i in range(plan.repeats):
        ops = plan.window_ops(nodes, size, i)
        seconds.append(await timed_batch(engine, ops, trickle, chunk_size, timeout))
        await timed_batch(engine, delete_ops(ops), trickle, chunk_size, timeout)
    return SizeTiming(size, int(stats["edges"]), int(stats["nodes"]), seconds)


async def engine_growth_smaller(
    engine: Engine, plan: GrowthPlan, *, nodes: int, chunk_size: int, timeout: float
) -> list[SizeTiming]:
    """The windows at every size but the last, on :func:`base_ops` (over ``nodes`` node
    ids) published up to each size; then the graph is emptied again, and checked to be."""
    base = base_ops(nodes, plan.sizes[-2], plan.seed)
    sent: list[Op] = []
    trickle = recorded(trickle_batches(plan.seed + 1), sent)
    timings: list[SizeTiming] = []
    done = 0
    for size in plan.sizes[:-1]:
        await publish(engine, base[done:size], chunk_size, timeout)
        done = size
        timings.append(
            await engine_windows(
                engine,
                plan,
                touched_nodes(base[:size]),
                size,
                trickle,
                chunk_size=chunk_size,
                timeout=timeout,
            )
        )
    left = [*base, *sent]
    # The trickle goes out without waiting for acks: let all of it land before deleting.
    await _settled(engine, expected_counts(left).as_stats())
    deletes: list[Op] = [{"op": "delete_node", "id": node} for node in touched_nodes(left)]
    await publish(engine, deletes, chunk_size, timeout)
    await _settled(engine, {"nodes": 0, "edges": 0})
    return timings


async def engine_growth_largest(
    engine: Engine, plan: GrowthPlan, ops: Sequence[Op], *, chunk_size: int, timeout: float
) -> SizeTiming:
    """The windows at the largest size, on the worker's graph built from all of ``ops``."""
    trickle = trickle_batches(plan.seed + 2)  # other trickle edges than the hub run's
    return await engine_windows(
        engine,
        plan,
        touched_nodes(ops),
        plan.sizes[-1],
        trickle,
        chunk_size=chunk_size,
        timeout=timeout,
    )
