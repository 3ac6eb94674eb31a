"""The bulk-restoring memory store: which partitions it reads, the offsets it reports to
Faust's recovery, and what it drops when partitions leave."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping
from types import SimpleNamespace
from typing import Any

import pytest
from faust.types import TP

from agents import bulk_store
from agents.bulk_store import OPTION, BulkRestore, BulkRestoreStore
from agents.changelog_reader import PartitionRead

TOPIC = "engine-graph-changelog"
SHARED = b"s-shared"


def tp(partition: int) -> TP:
    return TP(TOPIC, partition)


def holder(key: bytes) -> int | None:
    return None if key == SHARED else int(key[1:2])


class FakeReader:
    """Stands in for ChangelogReader: partition p holds keys b"k<p>-<i>" at offsets 0..9."""

    requests: list[list[int]] = []
    failing: set[int] = set()

    def __init__(self, kafka: Any) -> None:
        self.kafka = kafka

    async def read(
        self,
        topic: str,
        partitions: Iterable[int],
        sink: MutableMapping[bytes, bytes],
        *,
        sinks: Mapping[int, object] | None = None,
    ) -> dict[int, PartitionRead | BaseException]:
        assert not sinks, "these stores build no graphs"
        asked = sorted(partitions)
        FakeReader.requests.append(asked)
        out: dict[int, PartitionRead | BaseException] = {}
        for p in asked:
            if p in FakeReader.failing:
                out[p] = ConnectionError("broker went away")
                continue
            for i in range(10):
                sink[f"k{p}-{i}".encode()] = b"v"
            sink[SHARED] = b"pattern"
            out[p] = PartitionRead(p, 11, 10)
        return out


@pytest.fixture(autouse=True)
def fake_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    FakeReader.requests = []
    FakeReader.failing = set()
    monkeypatch.setattr(bulk_store, "ChangelogReader", FakeReader)


def same(x: Any) -> Any:
    return x


def make_store(actives: set[int], standbys: Iterable[int] = ()) -> Any:
    assignor = SimpleNamespace(actives={tp(p) for p in actives}, standbys={tp(p) for p in standbys})
    assignor.assigned_actives = lambda: assignor.actives
    assignor.assigned_standbys = lambda: assignor.standbys
    app = SimpleNamespace(in_transaction=False, consumer_generation_id=1, assignor=assignor)
    table = SimpleNamespace(
        name="graph", changelog_topic=SimpleNamespace(get_topic_name=lambda: TOPIC)
    )
    options = {OPTION: BulkRestore(kafka={}, key_holder=holder)}
    return BulkRestoreStore("graph-memory://", app, table, options=options)


def assign(store: Any, actives: set[int], standbys: Iterable[int] = ()) -> None:
    store.app.assignor.actives = {tp(p) for p in actives}
    store.app.assignor.standbys = {tp(p) for p in standbys}


def event(partition: int, offset: int, key: bytes, value: bytes | None) -> Any:
    message = SimpleNamespace(tp=tp(partition), partition=partition, offset=offset, value=value)
    return SimpleNamespace(key=key, value=value, message=message)


def keys_of(store: Any, partition: int) -> set[bytes]:
    return {k for k in store.data if holder(k) == partition}


async def rebalance(store: Any, generation: int = 1) -> None:
    await store.on_rebalance(set(), set(), set(), generation)


async def test_new_actives_are_read_in_bulk_and_report_their_last_offset() -> None:
    store = make_store({0, 1}, standbys={2})
    await rebalance(store)
    assert FakeReader.requests == [[0, 1]]
    assert store.persisted_offset(tp(0)) == 9 and store.persisted_offset(tp(1)) == 9
    assert store.persisted_offset(tp(2)) is None  # standbys: Faust's own replay
    assert len(keys_of(store, 0)) == 10 and store.bulk_records == 22


async def test_offsets_follow_the_tail_and_acknowledged_writes() -> None:
    store = make_store({0}, standbys={2})
    await rebalance(store)
    store.apply_changelog_batch(
        [event(0, 10, b"k0-x", b"v"), event(2, 50, b"k2-x", b"v")], same, same
    )
    assert store.persisted_offset(tp(0)) == 10 and store.persisted_offset(tp(2)) is None
    assert store.data[b"k2-x"] == b"v"
    store.apply_changelog_batch([event(0, 11, b"k0-x", None)], same, same)
    assert b"k0-x" not in store.data
    store.set_persisted_offset(tp(0), 20)
    store.set_persisted_offset(tp(0), 15)  # never backwards
    assert store.persisted_offset(tp(0)) == 20


async def test_a_kept_partition_is_not_read_again_and_a_revoked_one_is_dropped() -> None:
    store = make_store({0, 1}, standbys={2})
    await rebalance(store)
    store.data[b"k2-standby"] = b"v"
    assign(store, {1, 2})
    await rebalance(store)
    assert FakeReader.requests == [[0, 1], [2]]  # 2 went from standby to active: read afresh
    assert not keys_of(store, 0) and store.persisted_offset(tp(0)) is None
    assert b"k2-standby" not in store.data and len(keys_of(store, 2)) == 10
    assert store.data[SHARED] == b"pattern"
    assign(store, set())
    await rebalance(store)
    assert not store.data and store.persisted_offset(tp(1)) is None


async def test_a_failed_partition_is_left_to_fausts_replay() -> None:
    FakeReader.failing = {1}
    store = make_store({0, 1})
    await rebalance(store)
    assert store.persisted_offset(tp(0)) == 9 and store.persisted_offset(tp(1)) is None
    FakeReader.failing = set()
    await rebalance(store)
    assert FakeReader.requests[-1] == [1]  # tried again on the next rebalance


async def test_nothing_is_read_for_a_stale_generation_or_in_transactions() -> None:
    store = make_store({0})
    await rebalance(store, generation=0)
    store.app.in_transaction = True
    await rebalance(store)
    assert FakeReader.requests == [] and store.persisted_offset(tp(0)) is None


async def test_recovery_completion_drops_standby_records_but_not_shared_ones() -> None:
    store = make_store({0}, standbys={2})
    await rebalance(store)
    store.apply_changelog_batch([event(2, 5, b"k2-a", b"v"), event(2, 6, SHARED, b"p")], same, same)
    await store.on_recovery_completed({tp(0)}, {tp(2)})
    assert b"k2-a" not in store.data and store.data[SHARED] == b"p"
    assert len(keys_of(store, 0)) == 10


def edge_keys(store: Any) -> set[bytes]:
    return {k for k in store.data if k[:1] in (b"o", b"i")}


async def handed_store(actives: set[int], standbys: Iterable[int] = ()) -> Any:
    store = make_store(actives, standbys)
    await rebalance(store)
    for p in {*actives, *standbys}:
        store.data[f"o{p}-edge".encode()] = b"props"
        store.data[f"i{p}-edge".encode()] = b"\x01"
    return store


async def test_handing_over_drops_only_the_edge_records_of_those_partitions() -> None:
    store = await handed_store({0, 1}, standbys={2})
    assert store.hand_over({0}) == {0}
    assert edge_keys(store) == {b"o1-edge", b"i1-edge", b"o2-edge", b"i2-edge"}
    assert len(keys_of(store, 0)) == 10  # its other records stay
    assert not store.keeps_edges(0) and store.keeps_edges(1) and store.handed_over() == {0}
    assert store.hand_over({0, 1}) == {1}
    assert edge_keys(store) == {b"o2-edge", b"i2-edge"}  # the standby's stay


async def test_only_active_partitions_with_a_known_offset_are_handed_over() -> None:
    FakeReader.failing = {1}
    store = await handed_store({0, 1}, standbys={2})
    assert store.hand_over({0, 1, 2}) == {0}
    assert b"o1-edge" in store.data and store.keeps_edges(1) and store.keeps_edges(2)


async def test_replayed_records_of_a_handed_over_partition_wait_in_order() -> None:
    store = await handed_store({0, 1})
    store.hand_over({0})
    store.apply_changelog_batch(
        [
            event(0, 10, b"o0-new", b"p"),
            event(1, 11, b"o1-new", b"p"),
            event(0, 12, b"k0-1", None),
            event(0, 13, b"o0-new", None),
            event(0, 14, b"k0-2", b"w"),
        ],
        same,
        same,
    )
    assert store.take_pending(0) == [
        (b"o0-new", b"p"),
        (b"k0-1", None),
        (b"o0-new", None),
        (b"k0-2", b"w"),
    ]
    assert store.take_pending(0) == [] and store.take_pending(1) == []
    assert b"o0-new" not in store.data and store.data[b"o1-new"] == b"p"
    assert store.data[b"k0-2"] == b"w" and store.persisted_offset(tp(0)) == 14


async def test_a_partition_that_leaves_is_read_in_full_when_it_comes_back() -> None:
    store = await handed_store({0, 1})
    store.hand_over({0, 1})
    store.apply_changelog_batch([event(0, 10, b"o0-x", b"p")], same, same)
    assign(store, {1})
    await rebalance(store)
    assert store.handed_over() == {1} and store.take_pending(0) == []
    assign(store, {0, 1})
    await rebalance(store)
    assert FakeReader.requests[-1] == [0] and store.keeps_edges(0)
    store.release({1})
    assert store.keeps_edges(1) and store.persisted_offset(tp(1)) is None
