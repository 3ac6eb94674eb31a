"""The ingest agents give the loop extra turns only while queries are arriving."""

from __future__ import annotations

import asyncio

import pytest

from agents.ingest import _apply_in_slices
from agents.loop_share import LoopShare
from pipeline.graph import GraphPartition
from pipeline.steps import Step, StepKind


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def _turns_of(share: LoopShare) -> int:
    """How many times another task ran while ``share.turn()`` gave up the loop."""
    ran = 0
    stop = False

    async def spin() -> None:
        nonlocal ran
        while not stop:
            ran += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(spin())
    await asyncio.sleep(0)  # let it start
    ran = 0
    await share.turn()
    seen = ran
    stop = True
    await task
    return seen


async def test_without_queries_a_slice_ends_with_one_loop_turn() -> None:
    share = LoopShare(3, clock=_Clock())
    assert not share.favouring_queries()
    assert await _turns_of(share) == 1
    assert share.favoured_slices == 0


async def test_while_queries_arrive_a_slice_ends_with_the_extra_turns_too() -> None:
    share = LoopShare(3, clock=_Clock())
    share.queries_arrived()
    assert share.favouring_queries()
    assert await _turns_of(share) == 4
    assert share.favoured_slices == 1


async def test_extra_turns_stop_once_no_query_arrived_for_the_window() -> None:
    clock = _Clock()
    share = LoopShare(2, window=1.0, clock=clock)
    share.queries_arrived()
    clock.now += 0.9
    assert await _turns_of(share) == 3
    clock.now += 0.2  # 1.1 s after the last query
    assert not share.favouring_queries()
    assert await _turns_of(share) == 1


async def test_zero_extra_turns_never_favours_queries() -> None:
    share = LoopShare(0, clock=_Clock())
    share.queries_arrived()
    assert not share.favouring_queries()
    assert await _turns_of(share) == 1


def test_negative_extra_turns_are_refused() -> None:
    with pytest.raises(ValueError, match="extra_turns"):
        LoopShare(-1)


async def test_apply_gives_the_extra_turns_between_slices_while_queries_arrive() -> None:
    steps: list[Step] = [(StepKind.OUT_UPSERT, f"a{i}", "t", f"b{i}", {}) for i in range(6)]
    share = LoopShare(2, clock=_Clock())
    share.queries_arrived()
    graph = GraphPartition(0)
    await _apply_in_slices(graph, steps, 2, share.turn)
    assert graph.edge_count == 6
    assert share.favoured_slices == 2  # three slices, a turn between each two
