"""Cost growth: what a chunk of new edges costs as the graph grows from 10^4 to 10^6 edges.

The graph at each size is the benchmark's own edge stream stopped there: its first 10,000
ops, its first 100,000, ... and finally all of them (:func:`growth_sizes`). At each size a
window of ``window`` new edges (10,000: ten chunks of 1,000 by default) is applied and timed,
then deleted again untimed, ``repeats`` times, so every window starts on the same graph. A
window's edges join nodes the graph already has, drawn uniformly at random (seeded), and are
new by construction: their edge type, :data:`GROWTH_TYPE`, is one no other edge has. So the
number of edges and nodes the graph holds is the only difference between sizes. The fastest
window at each size counts, as in :mod:`benchmarks.hub`: pauses that have nothing to do with
the graph only ever add time. Every window time is kept.

The pure core runs this on a :class:`~benchmarks.baselines.CoreState` (parse, route, apply,
records to write); the engine on a worker (:mod:`benchmarks.growth_engine`). The ratio of
the largest graph's cost to the smallest's should stay flat (at most
:data:`~benchmarks.report.GROWTH_TARGET`).
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from benchmarks.baselines import CoreState
from benchmarks.data import Op
from benchmarks.hub import apply_ops
from benchmarks.report import Measurement, Report, growth_pair

__all__ = [
    "GROWTH_TYPE",
    "GrowthPlan",
    "SizeTiming",
    "core_growth_largest",
    "core_growth_smaller",
    "core_windows",
    "delete_ops",
    "growth_rows",
    "growth_sizes",
    "shown_sizes",
    "size_label",
    "touched_nodes",
]

GROWTH_TYPE = "G"  # the edge type of window edges: no other edge of the benchmark has it
SMALLEST = 10_000  # the smallest graph measured
SPREAD = 3  # a size below the whole stream is measured only if the stream is this much larger


def growth_sizes(edges: int, smallest: int = SMALLEST) -> tuple[int, ...]:
    """Stream prefixes to measure at: ``smallest``, 10x that, ... while the whole stream is
    at least :data:`SPREAD` times larger, then the whole stream; empty if none fits."""
    sizes: list[int] = []
    size = smallest
    while size * SPREAD <= edges:
        sizes.append(size)
        size *= 10
    return (*sizes, edges) if sizes else ()


def size_label(n: int) -> str:
    """``10^k`` for a power of ten, else the number with thousands separators."""
    k = len(str(n)) - 1
    return f"10^{k}" if n == 10**k and k > 1 else f"{n:,}"


def shown_sizes(plan: GrowthPlan, *, largest: bool = False) -> str:
    """``graph 10^4, 10^5``: the sizes below the largest, or only the largest."""
    shown = plan.sizes[-1:] if largest else plan.sizes[:-1]
    return "graph " + ", ".join(size_label(s) for s in shown)


def touched_nodes(ops: Sequence[Op]) -> list[str]:
    """The node ids ``ops`` (edge upserts) touch, in order of first appearance."""
    return list(dict.fromkeys(node for op in ops for node in (op["src"], op["dst"])))


def delete_ops(ops: Sequence[Op]) -> list[Op]:
    """The ``delete_edge`` ops that remove the edges ``ops`` upserted."""
    return [
        {"op": "delete_edge", "src": op["src"], "dst": op["dst"], "type": op["type"]} for op in ops
    ]


def _k(n: int) -> str:
    return f"{n // 1000:,}k" if n % 1000 == 0 and n else f"{n:,}"


@dataclass(frozen=True)
class GrowthPlan:
    """The graph sizes (stream prefixes, ascending) and the timed windows at each."""

    sizes: tuple[int, ...]
    window: int = 10_000
    repeats: int = 5
    seed: int = 1

    def __post_init__(self) -> None:
        if len(self.sizes) < 2 or list(self.sizes) != sorted(set(self.sizes)):
            raise ValueError(f"need at least two ascending sizes, got {self.sizes}")
        if self.sizes[0] < 1 or self.window < 1 or self.repeats < 1:
            raise ValueError("need sizes, window and repeats >= 1")

    def window_ops(self, nodes: Sequence[str], size: int, i: int) -> list[Op]:
        """Window ``i`` at ``size``: ``window`` distinct edges between ``nodes``, seeded."""
        if len(nodes) ** 2 < 2 * self.window:
            raise ValueError(f"{len(nodes)} nodes are too few for {self.window} distinct edges")
        rng = random.Random(f"growth:{self.seed}:{size}:{i}")
        draw = rng.randrange
        n = len(nodes)
        pairs: dict[tuple[str, str], int] = {}
        while len(pairs) < self.window:
            pairs.setdefault((nodes[draw(n)], nodes[draw(n)]), draw(1000))
        return [
            {"op": "upsert_edge", "src": s, "dst": d, "type": GROWTH_TYPE, "props": {"w": w}}
            for (s, d), w in pairs.items()
        ]


@dataclass(frozen=True)
class SizeTiming:
    """Seconds of each timed window on the graph of the first ``size`` stream ops."""

    size: int
    graph_edges: int  # what the graph held before each window
    graph_nodes: int
    windows: list[float]

    @property
    def seconds(self) -> float:
        return min(self.windows)


def core_windows(
    plan: GrowthPlan, state: CoreState, nodes: Sequence[str], size: int, chunk_size: int
) -> SizeTiming:
    """Time ``plan``'s windows at ``size`` on ``state``, deleting each one afterwards."""
    edges, node_count = state.edges, state.nodes
    seconds: list[float] = []
    for i in range(plan.repeats):
        ops = plan.window_ops(nodes, size, i)
        seconds.append(apply_ops(state, ops, chunk_size, "growth"))
        apply_ops(state, delete_ops(ops), chunk_size, "growth-undo")
        if (state.edges, state.nodes) != (edges, node_count):
            raise AssertionError(f"window {i} at {size:,} left {state.edges - edges} edges")
    return SizeTiming(size, edges, node_count, seconds)


def core_growth_largest(
    plan: GrowthPlan, state: CoreState, ops: Sequence[Op], chunk_size: int
) -> SizeTiming:
    """The windows at the largest size, on ``state`` built from all of ``ops``."""
    return core_windows(plan, state, touched_nodes(ops), plan.sizes[-1], chunk_size)


def core_growth_smaller(
    plan: GrowthPlan, ops: Sequence[Op], partitions: int, chunk_size: int
) -> list[SizeTiming]:
    """The windows at every size but the last, on fresh partitions fed ``ops`` up to each."""
    state = CoreState(partitions)
    timings: list[SizeTiming] = []
    done = 0
    for size in plan.sizes[:-1]:
        apply_ops(state, list(ops[done:size]), chunk_size, "growth-base")
        done = size
        timings.append(core_windows(plan, state, touched_nodes(ops[:size]), size, chunk_size))
    return timings


def growth_rows(
    report: Report, name: str, label: str, plan: GrowthPlan, t: list[SizeTiming]
) -> None:
    """One row per size, the pair of the smallest and the largest graph, and a note."""
    keys: list[str] = []
    for timing in t:
        key = f"growth_{name}_{timing.size}"
        details: dict[str, object] = {
            "window_seconds": [round(s, 4) for s in timing.windows],
            "median_seconds": round(statistics.median(timing.windows), 4),
            "stream_ops": timing.size,
            "graph_edges": timing.graph_edges,
            "graph_nodes": timing.graph_nodes,
        }
        row = f"+{_k(plan.window)} edges at graph {size_label(timing.size)}, {label}"
        row += f", best of {len(timing.windows)}"
        report.add(Measurement(key, row, plan.window, timing.seconds, True, details))
        keys.append(key)
    first, last = t[0].size, t[-1].size
    pair = growth_pair(name, keys[0], keys[-1], size_label(first), size_label(last))
    report.cost_pairs.append(pair)
    every = "; ".join(
        f"{size_label(x.size)}: " + " ".join(f"{s:.3f}" for s in x.windows) for x in t
    )
    report.notes.append(f"{label}, every window of +{plan.window:,} edges (s): {every}")
