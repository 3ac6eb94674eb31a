"""A rebuild from a durable store's records reads them a step at a time with event-loop
turns between; a rebalance meanwhile changes neither what it reads nor what it builds, and
leaves the partitions unassigned until the next rebuild. A memory store is read in one go."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from types import SimpleNamespace

from faust.types import TP

from agents.local_state import LocalGraphs
from tests.unit.agents.test_graph_hand_over import APPLY, PARTITIONS, Writer, assert_same_state
from tests.unit.agents.test_ingest_slices import _Turns
from tests.unit.pipeline.test_shared_state import random_ops
from tests.unit.pipeline.test_storage_rebuild import _final

ACTIVES = [TP(APPLY, p) for p in range(PARTITIONS)]


def latest(writer: Writer) -> dict[int, dict[bytes, bytes]]:
    """Per changelog partition, the latest value of every record the writer wrote."""
    return {p: _final(writes) for p, writes in writer.log.items()}


class DurableStore:
    """Reads as Faust's RocksDB store does: one database per active partition."""

    def __init__(self, databases: dict[int, dict[bytes, bytes]]) -> None:
        self._dbs = databases

    def _dbs_for_actives(self) -> Iterator[dict[bytes, bytes]]:
        yield from self._dbs.values()  # looked up as it goes, as Faust's does

    def _visible_items(self, db: dict[bytes, bytes]) -> Iterator[tuple[bytes, bytes]]:
        yield from db.items()


def written(seed: int) -> Writer:
    writer = Writer()
    writer.apply(random_ops(random.Random(seed), 800))
    return writer


async def test_a_rebuild_in_steps_gives_the_loop_turns_and_the_same_state() -> None:
    writer = written(seed=11)
    databases = latest(writer)
    records = sum(map(len, databases.values()))
    graphs = LocalGraphs(PARTITIONS, step=50)
    async with _Turns() as turns:
        await graphs.rebuild(SimpleNamespace(data=DurableStore(databases)), ACTIVES, APPLY)
    assert graphs.assigned == set(range(PARTITIONS))
    assert_same_state(graphs, writer)
    assert turns.count >= records // 50 > 10


async def test_a_memory_store_is_read_in_one_go() -> None:
    writer = written(seed=12)
    data = {k: v for db in latest(writer).values() for k, v in db.items()}
    graphs = LocalGraphs(PARTITIONS, step=50)
    async with _Turns() as turns:
        await graphs.rebuild(SimpleNamespace(data=SimpleNamespace(data=data)), ACTIVES, APPLY)
    assert_same_state(graphs, writer)
    assert turns.count == 0


async def test_a_rebalance_during_a_rebuild_leaves_what_it_reads_whole_and_nothing_assigned(
) -> None:  # fmt: skip
    writer = written(seed=13)
    databases = latest(writer)
    table = SimpleNamespace(data=DurableStore(databases))
    graphs = LocalGraphs(PARTITIONS, step=20)

    async def rebalance_soon() -> None:
        for _ in range(5):
            await asyncio.sleep(0)
        graphs.revoke()
        databases.pop(1)  # Faust drops a revoked partition's database

    rebalancing = asyncio.create_task(rebalance_soon())
    await graphs.rebuild(table, ACTIVES, APPLY)
    await rebalancing
    assert graphs.assigned == set() and graphs.as_mapping() == {}
    graphs.assigned = set(range(PARTITIONS))  # only to compare what was built
    assert_same_state(graphs, writer)

    databases.update(latest(writer))  # the partition is assigned here again
    await graphs.rebuild(table, ACTIVES, APPLY)
    assert graphs.assigned == set(range(PARTITIONS))
    assert_same_state(graphs, writer)
