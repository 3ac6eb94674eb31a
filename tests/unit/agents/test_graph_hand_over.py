"""A memory store hands a partition's edge records to the worker's graph, and a rebuild that
keeps the partition brings the held graph up to date with what Faust replayed since.

The graph's records are real (written by applying routed parts); the store is the engine's
memory store, with its changelog read standing in for the broker's.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from types import SimpleNamespace
from typing import Any

import pytest
from faust.types import TP

from agents import bulk_store
from agents.bulk_store import OPTION, BulkRestore, BulkRestoreStore
from agents.changelog_reader import PartitionRead, RecordSink
from agents.local_state import LocalGraphs
from pipeline.graph import GraphPartition
from pipeline.routing import route_chunk
from pipeline.storage import TableWrite, dirty_writes, key_holder
from schemas.ops import Op
from tests.unit.pipeline.test_shared_state import decoded, random_ops, semantic_state

PARTITIONS = 2
CHANGELOG = "graph-changelog"
APPLY = "apply"


class Writer:
    """Graph partitions fed routed parts, and every record they write, per partition in order."""

    def __init__(self) -> None:
        self.graphs = {p: GraphPartition(p) for p in range(PARTITIONS)}
        self.log: dict[int, list[TableWrite]] = {p: [] for p in range(PARTITIONS)}

    def apply(self, ops: list[Op]) -> None:
        for p, steps in route_chunk(ops, PARTITIONS).items():
            graph = self.graphs[p]
            graph.apply(decoded(steps))
            self.log[p] += dirty_writes(graph, graph.take_dirty())


class LogReader:
    """Stands in for ChangelogReader: serves the writer's changelog partitions."""

    log: dict[int, list[TableWrite]] = {}

    def __init__(self, kafka: Any) -> None:
        self.kafka = kafka

    async def read(
        self,
        topic: str,
        partitions: Iterable[int],
        sink: RecordSink,
        *,
        sinks: Mapping[int, RecordSink] | None = None,
    ) -> dict[int, PartitionRead | BaseException]:
        out: dict[int, PartitionRead | BaseException] = {}
        for p in partitions:
            target = (sinks or {}).get(p, sink)
            for key, value in self.log[p]:
                if value is None:
                    target.pop(key, None)
                else:
                    target[key] = value
            out[p] = PartitionRead(p, len(self.log[p]), len(self.log[p]))
        return out


@pytest.fixture(autouse=True)
def log_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bulk_store, "ChangelogReader", LogReader)


def worker_table(fresh_graph: Callable[[int], GraphPartition] | None = None) -> Any:
    actives = {TP(CHANGELOG, p) for p in range(PARTITIONS)}
    assignor = SimpleNamespace(
        assigned_actives=lambda: actives, assigned_standbys=lambda: set[TP]()
    )
    app = SimpleNamespace(in_transaction=False, consumer_generation_id=1, assignor=assignor)
    table = SimpleNamespace(
        name="graph", changelog_topic=SimpleNamespace(get_topic_name=lambda: CHANGELOG)
    )
    holder = partial(key_holder, partitions=PARTITIONS)
    options = {OPTION: BulkRestore(kafka={}, key_holder=holder, fresh_graph=fresh_graph)}
    table.data = BulkRestoreStore("graph-memory://", app, table, options=options)
    return table


def replay(store: Any, partition: int, records: list[TableWrite], first_offset: int) -> None:
    """What Faust's recovery does with the changelog records after the store's offset."""
    events = [
        SimpleNamespace(
            key=key,
            value=value,
            message=SimpleNamespace(
                tp=TP(CHANGELOG, partition), partition=partition, offset=offset, value=value
            ),
        )
        for offset, (key, value) in enumerate(records, first_offset)
    ]
    store.apply_changelog_batch(events, lambda k: k, lambda v: v)


async def recover(table: Any, graphs: LocalGraphs, writer: Writer, replayed: bool) -> None:
    """A rebalance that keeps every partition here: offsets, replay of the tail, rebuild."""
    store = table.data
    await store.on_rebalance(set(), set(), set(), 1)
    if replayed:
        for p in range(PARTITIONS):
            first = store.persisted_offset(TP(CHANGELOG, p)) + 1
            replay(store, p, writer.log[p][first:], first)
    actives = [TP(APPLY, p) for p in range(PARTITIONS)]
    await graphs.rebuild(table, actives, APPLY)


def assert_same_state(graphs: LocalGraphs, writer: Writer) -> None:
    held = graphs.as_mapping()
    assert held.keys() == writer.graphs.keys()
    for p, graph in writer.graphs.items():
        assert semantic_state(held[p]) == semantic_state(graph)


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_a_kept_partition_takes_what_was_replayed_deletions_included(seed: int) -> None:
    rng = random.Random(seed)
    writer, table, graphs = Writer(), worker_table(), LocalGraphs(PARTITIONS)
    LogReader.log = writer.log
    writer.apply(random_ops(rng, 600))
    await recover(table, graphs, writer, replayed=False)
    assert_same_state(graphs, writer)
    assert table.data.handed_over() == {0, 1}
    assert not [k for k in table.data.data if k[:1] in (b"o", b"i")]
    kept = dict(graphs.items())

    # Another writer's records (deletes among them) reach the changelog; a rebalance keeps
    # both partitions here, and Faust replays them after the store's offsets.
    writer.apply(random_ops(rng, 600))
    assert any(value is None for p in writer.log for _, value in writer.log[p][-600:])
    await recover(table, graphs, writer, replayed=True)
    assert graphs.items() and all(kept[p] is g for p, g in graphs.items())  # not rebuilt
    assert_same_state(graphs, writer)
    assert not [k for k in table.data.data if k[:1] in (b"o", b"i")]


async def test_a_partition_read_again_after_it_left_is_built_from_its_records() -> None:
    writer, table, graphs = Writer(), worker_table(), LocalGraphs(PARTITIONS)
    LogReader.log = writer.log
    writer.apply(random_ops(random.Random(4), 400))
    await recover(table, graphs, writer, replayed=False)
    table.data.release({1})  # as when partition 1 left and came back
    writer.apply(random_ops(random.Random(5), 400))
    await table.data.on_rebalance(set(), set(), set(), 1)  # reads partition 1 in full
    replay(table.data, 0, writer.log[0][table.data.persisted_offset(TP(CHANGELOG, 0)) + 1 :],
           table.data.persisted_offset(TP(CHANGELOG, 0)) + 1)  # fmt: skip
    await graphs.rebuild(table, [TP(APPLY, p) for p in range(PARTITIONS)], APPLY)
    assert_same_state(graphs, writer)


@pytest.mark.parametrize("seed", [6, 7])
async def test_a_partition_read_straight_into_its_graph_never_stores_edge_records(
    seed: int,
) -> None:
    rng = random.Random(seed)
    writer, graphs = Writer(), LocalGraphs(PARTITIONS)
    table = worker_table(fresh_graph=graphs.fresh)
    LogReader.log = writer.log
    writer.apply(random_ops(rng, 600))
    writer.apply(random_ops(rng, 600))  # deletions among the records read
    assert any(value is None for p in writer.log for _, value in writer.log[p])
    await table.data.on_rebalance(set(), set(), set(), 1)
    assert table.data.handed_over() == {0, 1}  # at once, by the read
    assert not [k for k in table.data.data if k[:1] in (b"o", b"i")]
    read = dict(graphs.items())
    await graphs.rebuild(table, [TP(APPLY, p) for p in range(PARTITIONS)], APPLY)
    assert all(read[p] is g for p, g in graphs.items())  # kept, not built again
    assert_same_state(graphs, writer)
    assert any(k[:1] == b"n" for k in table.data.data)  # the other records stay stored

    writer.apply(random_ops(rng, 600))  # what Faust replays after the read
    await recover(table, graphs, writer, replayed=True)
    assert all(read[p] is g for p, g in graphs.items())
    assert_same_state(graphs, writer)
