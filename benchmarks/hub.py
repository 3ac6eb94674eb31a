"""Hub cost: what adding edges to a node costs when it already has few or very many edges.

One graph holds ``repeats`` small hubs with ``small`` edges each and one large hub filled to
``size - repeats * batch`` edges. Then, alternately, a batch of ``batch`` new edges goes to
the next small hub and a batch goes to the large hub, which ends at ``size`` edges. Both
sides run on the same state and interleaved in time, so the hub's degree is the only
difference between them (not the total graph size, nor the machine's load at the time).
The fastest batch on each side counts: pauses that have nothing to do with the hub (a
garbage collection, another process on the machine, a consumer's fetch wait in the engine)
only ever add time, and would decide a ratio of single batches. Every batch time is kept.
All hubs are owned by the same partition. The same plan runs on the pure core (here) and
through the engine (:func:`benchmarks.engine_run.engine_hub_cost`).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from dataclasses import dataclass

from benchmarks.baselines import CoreState
from benchmarks.data import Op, encode_chunks, hub_edge_ops
from pipeline.partitioning import partition_for

__all__ = ["LARGE_HUB", "HubPlan", "HubTiming", "apply_ops", "core_hub_cost", "hub_timing"]

LARGE_HUB = "hub"


@dataclass(frozen=True)
class HubPlan:
    """The hubs and edge batches of one hub run; ``size`` is the large hub's final degree."""

    size: int
    partitions: int
    small: int = 1_000
    batch: int = 10_000
    repeats: int = 5

    def __post_init__(self) -> None:
        if self.small < 0 or self.batch < 1 or self.repeats < 1 or self.partitions < 1:
            raise ValueError("need small >= 0 and batch, repeats, partitions >= 1")
        if self.size < self.small + self.repeats * self.batch:
            raise ValueError(
                f"a hub of {self.size} edges cannot end with {self.repeats} batches of "
                f"{self.batch} after a warm-up of {self.small}"
            )

    @property
    def large_start(self) -> int:
        """The large hub's degree before its first timed batch."""
        return self.size - self.repeats * self.batch

    @property
    def small_hubs(self) -> list[str]:
        """``repeats`` hub ids owned by the same partition as the large hub."""
        owner = partition_for(LARGE_HUB, self.partitions)
        ids: list[str] = []
        n = 0
        while len(ids) < self.repeats:
            candidate = f"{LARGE_HUB}-s{n}"
            if partition_for(candidate, self.partitions) == owner:
                ids.append(candidate)
            n += 1
        return ids

    def warm_ops(self) -> list[Op]:
        """Untimed: ``small`` edges on every small hub, the large hub up to ``large_start``."""
        ops = [op for hub in self.small_hubs for op in _edges(hub, 0, self.small)]
        return ops + _edges(LARGE_HUB, 0, self.large_start)

    def schedule(self) -> Iterator[tuple[str, list[Op]]]:
        """``("warm", ops)`` once, then ``("small", ops)`` and ``("large", ops)`` alternately."""
        yield "warm", self.warm_ops()
        for i in range(self.repeats):
            yield "small", self.small_batch(i)
            yield "large", self.large_batch(i)

    def small_batch(self, i: int) -> list[Op]:
        return _edges(self.small_hubs[i], self.small, self.small + self.batch)

    def large_batch(self, i: int) -> list[Op]:
        start = self.large_start + i * self.batch
        return _edges(LARGE_HUB, start, start + self.batch)


def _edges(hub: str, start: int, stop: int) -> list[Op]:
    return hub_edge_ops(hub, start, stop, prefix=f"{hub}-leaf")


@dataclass(frozen=True)
class HubTiming:
    """Seconds of each timed batch on the small hubs and on the large hub."""

    small_batches: list[float]
    large_batches: list[float]
    batch: int
    small_degrees: tuple[int, int]  # a small hub's degree before and after its batch
    large_degrees: tuple[int, int]  # the large hub's degree before the first and after the last
    final_degree: int | None = None  # the large hub's degree as the graph reports it

    @property
    def small_seconds(self) -> float:
        return min(self.small_batches)

    @property
    def large_seconds(self) -> float:
        return min(self.large_batches)

    @property
    def ratio(self) -> float:
        return self.large_seconds / self.small_seconds


def hub_timing(plan: HubPlan, small: list[float], large: list[float], degree: int) -> HubTiming:
    if degree != plan.size:
        raise AssertionError(f"the large hub has {degree} edges, expected {plan.size}")
    return HubTiming(
        small,
        large,
        plan.batch,
        (plan.small, plan.small + plan.batch),
        (plan.large_start, plan.size),
        degree,
    )


def apply_ops(state: CoreState, ops: list[Op], chunk_size: int, client_id: str) -> float:
    """Apply ``ops`` chunk by chunk; seconds spent (encoding the chunks is not counted)."""
    chunks = encode_chunks(ops, chunk_size, client_id)
    gc.collect()  # start each timed batch with the same collector state
    spent = 0.0
    for chunk in chunks:
        started = time.perf_counter()
        state.apply_message(chunk.value)
        spent += time.perf_counter() - started
    return spent


def core_hub_cost(plan: HubPlan, chunk_size: int) -> HubTiming:
    """Run ``plan`` on the pure core (parse, route, apply, records to write)."""
    state = CoreState(plan.partitions)
    seconds: dict[str, list[float]] = {"warm": [], "small": [], "large": []}
    for side, ops in plan.schedule():
        seconds[side].append(apply_ops(state, ops, chunk_size, f"hub-{side}"))
    degree = sum(g.out_degree(LARGE_HUB) for g in state.graphs)
    return hub_timing(plan, seconds["small"], seconds["large"], degree)
