"""The apply and route agents' CPU work is cut into slices of ``ingest_slice`` steps, with an
event-loop turn between slices so queries are answered during an ingest."""

from __future__ import annotations

import asyncio
from typing import Any

import msgpack

from agents.ingest import _apply_in_slices, _parse_and_route
from pipeline.graph import GraphPartition
from pipeline.steps import Step, StepKind
from schemas.limits import Limits
from schemas.ops import Chunk


class _Turns:
    """Counts event-loop turns taken by other tasks while it runs."""

    def __init__(self) -> None:
        self.count = 0
        self._task: asyncio.Task[None] | None = None

    async def _spin(self) -> None:
        while True:
            self.count += 1
            await asyncio.sleep(0)

    async def __aenter__(self) -> _Turns:
        self._task = asyncio.create_task(self._spin())
        await asyncio.sleep(0)
        self.count = 0
        return self

    async def __aexit__(self, *exc: Any) -> None:
        assert self._task is not None
        self._task.cancel()


class _SliceRecorder(GraphPartition):
    """A real partition that also notes the size of each slice and the turns before it."""

    def __init__(self, turns: _Turns) -> None:
        super().__init__(0)
        self.slices: list[tuple[int, int]] = []
        self._turns = turns

    def apply(self, steps: Any) -> None:
        steps = list(steps)
        self.slices.append((len(steps), self._turns.count))
        super().apply(steps)


def _edge_steps(n: int) -> list[Step]:
    return [(StepKind.OUT_UPSERT, f"a{i}", "t", f"b{i}", {}) for i in range(n)]


async def test_a_part_is_applied_in_slices_of_the_given_size_with_a_loop_turn_between() -> None:
    async with _Turns() as turns:
        graph = _SliceRecorder(turns)
        await _apply_in_slices(graph, _edge_steps(5), 2)
    assert [size for size, _ in graph.slices] == [2, 2, 1]
    seen = [at for _, at in graph.slices]
    assert seen[0] < seen[1] < seen[2]  # other tasks ran between the slices
    assert graph.edge_count == 5


async def test_a_part_within_one_slice_is_applied_without_giving_up_the_loop() -> None:
    async with _Turns() as turns:
        graph = _SliceRecorder(turns)
        await _apply_in_slices(graph, _edge_steps(3), 3)
        assert graph.slices == [(3, 0)]


async def test_validation_takes_a_loop_turn_per_slice_of_items() -> None:
    items = [{"op": "upsert_edge", "src": f"a{i}", "dst": f"b{i}"} for i in range(10)]
    raw = msgpack.packb({"chunk_id": "c1", "items": items})
    counts = []
    for size in (2, 10):
        async with _Turns() as turns:
            parsed, parts = await _parse_and_route(raw, "application/msgpack", Limits(), 4, size)
            counts.append(turns.count)
        assert isinstance(parsed, Chunk) and len(parsed.items) == 10
        assert sum(len(steps) for steps in parts.values()) == 20  # an out and an in step each
    assert counts[0] >= counts[1] + 4  # five slices of two items against one of ten


async def test_the_first_node_delete_builds_the_reverse_indexes_in_slices_with_turns_between() -> (
    None
):
    async with _Turns() as turns:
        graph = _SliceRecorder(turns)
        await _apply_in_slices(graph, _edge_steps(40), 64)
        assert not graph.indexed and turns.count == 0
        await _apply_in_slices(graph, [(StepKind.NODE_DELETE, "b7")], 4)
        built_with = turns.count
        assert graph.indexed
        assert built_with >= 40 // 4  # 40 sources then 0 in entries, four nodes a step
        assert graph.edge_count == 39 and graph.out_by_dst.get("b7") is None
        await _apply_in_slices(graph, [(StepKind.NODE_DELETE, "b8")], 4)
        assert turns.count == built_with  # built once, kept up to date since
    assert graph.edge_count == 38
