"""``Engine.add_graph`` against the real broker: ordering, spreading, acks and failures.

The worker side is played by a small responder loop (an aiokafka consumer and producer)
that reads the input topic and writes acks in the contract's format.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from project_engine.sdk import (
    ChunkRejected,
    ChunkSkipped,
    EngineTimeout,
    PermanentKafkaError,
    TopicNotFound,
    create_project,
)
from project_engine.sdk.wire import decode_value, encode_value, parse_encoding
from schemas.settings import Settings

pytestmark = pytest.mark.integration
PARTITIONS = 4


@dataclass
class Record:
    partition: int
    offset: int
    key: bytes | None
    headers: dict[str, bytes]
    value: Any


async def make_settings(bootstrap: str, *, create: bool = True) -> Settings:
    settings = Settings(bootstrap=bootstrap, topic_prefix=f"t{uuid.uuid4().hex[:10]}-")
    if create:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(t, PARTITIONS, 1) for t in settings.topics.all()])
        finally:
            await admin.close()
    return settings


@pytest.fixture
async def settings(kafka_bootstrap: str) -> Settings:
    return await make_settings(kafka_bootstrap)


async def read_topic(settings: Settings, topic: str) -> list[Record]:
    """Every record of ``topic`` up to its current end, in partition then offset order."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        for tp, offset in (await consumer.beginning_offsets(tps)).items():
            consumer.seek(tp, offset)
        records: list[Record] = []

        async def behind() -> bool:
            return any([await consumer.position(tp) < ends[tp] for tp in tps])

        async with asyncio.timeout(30):
            while await behind():
                batch = await consumer.getmany(timeout_ms=500)
                for msgs in batch.values():
                    records += [
                        Record(
                            m.partition,
                            m.offset,
                            m.key,
                            dict(m.headers),
                            decode_value(m.value, m.headers),
                        )
                        for m in msgs
                    ]
        return sorted(records, key=lambda r: (r.partition, r.offset))
    finally:
        await consumer.stop()


def node(i: int, call: int = 0) -> dict[str, Any]:
    return {"op": "upsert_node", "id": f"n{i}", "labels": ["L"], "props": {"i": i, "call": call}}


AckPlan = Callable[[dict[str, Any]], list[dict[str, Any]]]


def split_with_spawned(chunk: dict[str, Any]) -> list[dict[str, Any]]:
    """Acks of a worker that applies a chunk in two parts, part 0 spawning part 0.s.

    Chunks holding an op with id ``bad`` are rejected instead. Acks are duplicated and
    shuffled.
    """
    cid = chunk["chunk_id"]
    bad = [i for i, op in enumerate(chunk["items"]) if op.get("id") == "bad"]
    if bad:
        error = {"code": "invalid_id", "message": "id 'bad' is refused", "item_index": bad[0]}
        return [{"chunk_id": cid, "status": "rejected", "error": error}]
    acks = [
        {"chunk_id": cid, "status": "applied", "part": "0", "parts": 2, "spawned": ["0.s"]},
        {"chunk_id": cid, "status": "applied", "part": "1", "parts": 2, "spawned": []},
        {"chunk_id": cid, "status": "applied", "part": "0.s", "parts": 2, "spawned": []},
    ]
    acks.append(dict(random.choice(acks)))
    random.shuffle(acks)
    return acks


@contextlib.asynccontextmanager
async def responder(settings: Settings, plan: AckPlan) -> AsyncIterator[list[str]]:
    """Read the input topic and answer chunks asking for acks; yields the chunk ids seen."""
    seen: list[str] = []
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap, acks="all")
    await consumer.start()
    await producer.start()
    tps = [TopicPartition(settings.topics.input, p) for p in range(PARTITIONS)]
    consumer.assign(tps)
    for tp in tps:
        consumer.seek(tp, 0)

    async def loop() -> None:
        while True:
            batch = await consumer.getmany(timeout_ms=200)
            for msgs in batch.values():
                for m in msgs:
                    headers = dict(m.headers)
                    chunk = decode_value(m.value, m.headers)
                    seen.append(chunk["chunk_id"])
                    if headers.get("ack") != b"1":
                        continue
                    encoding = parse_encoding(headers["content-type"].decode().split("/")[1])
                    for ack in plan(chunk):
                        await producer.send_and_wait(
                            settings.topics.acks,
                            encode_value(ack, encoding),
                            key=chunk["chunk_id"].encode(),
                            partition=random.randrange(PARTITIONS),
                            headers=[("content-type", headers["content-type"])],
                        )

    task = asyncio.create_task(loop())
    try:
        yield seen
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await consumer.stop()
        await producer.stop()


async def test_ordered_add_graph_puts_every_item_on_one_partition_in_order(
    settings: Settings,
) -> None:
    ops = [node(i) for i in range(5000)]
    async with await create_project(settings, max_in_flight=8) as engine:
        summary = await engine.add_graph(ops, chunk_size=100)
        client_id = engine.client_id
    assert (summary.chunks, summary.items, summary.failed) == (50, 5000, [])

    records = await read_topic(settings, settings.topics.input)
    assert len({r.partition for r in records}) == 1
    assert {r.key for r in records} == {client_id.encode()}
    assert [r.value["chunk_id"] for r in records] == [f"{client_id}-{i}" for i in range(50)]
    assert [op for r in records for op in r.value["items"]] == ops
    assert {r.headers["content-type"] for r in records} == {b"application/msgpack"}
    assert all("ack" not in r.headers for r in records)


async def test_concurrent_ordered_calls_on_one_engine_each_stay_in_order(
    settings: Settings,
) -> None:
    calls = 6
    async with await create_project(settings, encoding="json", max_in_flight=4) as engine:
        summaries = await asyncio.gather(
            *(
                engine.add_graph([node(i, call) for i in range(300)], chunk_size=7)
                for call in range(calls)
            )
        )
    assert all(s.ok and s.items == 300 for s in summaries)
    records = await read_topic(settings, settings.topics.input)
    assert len({r.partition for r in records}) == 1
    assert {r.headers["content-type"] for r in records} == {b"application/json"}
    items = [op for r in records for op in r.value["items"]]
    for call in range(calls):
        mine = [op["props"]["i"] for op in items if op["props"]["call"] == call]
        assert mine == list(range(300))


async def test_explicit_key_sends_two_engines_to_the_same_partition(settings: Settings) -> None:
    async with (
        await create_project(settings) as first,
        await create_project(settings) as second,
    ):
        await first.add_graph([node(i) for i in range(50)], chunk_size=10, key="tenant-a")
        await second.add_graph([node(i) for i in range(50)], chunk_size=10, key="tenant-a")
    records = await read_topic(settings, settings.topics.input)
    assert len(records) == 10
    assert {r.key for r in records} == {b"tenant-a"}
    assert len({r.partition for r in records}) == 1


async def test_unordered_add_graph_spreads_chunks_over_all_partitions(settings: Settings) -> None:
    ops = [node(i) for i in range(400)]
    async with await create_project(settings) as engine:
        summary = await engine.add_graph(ops, chunk_size=10, ordered=False)
    assert summary.ok and summary.chunks == 40
    records = await read_topic(settings, settings.topics.input)
    per_partition = {p: sum(r.partition == p for r in records) for p in range(PARTITIONS)}
    assert per_partition == {p: 10 for p in range(PARTITIONS)}
    assert {r.key for r in records} == {None}
    assert sorted((op for r in records for op in r.value["items"]), key=lambda o: o["id"]) == (
        sorted(ops, key=lambda o: o["id"])
    )


async def test_sequential_sends_deliver_the_same_items(settings: Settings) -> None:
    ops = [node(i) for i in range(95)]
    async with await create_project(settings) as engine:
        summary = await engine.add_graph(iter(ops), chunk_size=10, parallel=False)
        assert engine.metrics.chunks_sent == 10
        assert engine.metrics.items_sent == 95
        assert engine.metrics.in_flight == 0
        assert len(engine.metrics.send_latency) == 10
    assert summary.ok
    records = await read_topic(settings, settings.topics.input)
    assert [op for r in records for op in r.value["items"]] == ops


async def test_wait_completes_when_all_parts_and_spawned_parts_are_acked(
    settings: Settings,
) -> None:
    async with (
        responder(settings, split_with_spawned) as seen,
        await create_project(settings) as engine,
    ):
        summary = await engine.add_graph([node(i) for i in range(250)], chunk_size=50, wait=True)
    assert summary.ok
    assert summary.chunks == 5
    assert len(seen) == 5


async def test_wait_reports_rejected_chunks_in_failed(settings: Settings) -> None:
    ops = [node(i) for i in range(30)]
    ops[12] = {"op": "upsert_node", "id": "bad"}
    async with (
        responder(settings, split_with_spawned),
        await create_project(settings, encoding="json") as engine,
    ):
        summary = await engine.add_graph(ops, chunk_size=10, wait=True, timeout=30)
    assert len(summary.failed) == 1
    chunk_id, error = summary.failed[0]
    assert chunk_id.endswith("-1")
    assert isinstance(error, ChunkRejected)
    assert (error.code, error.item_index) == ("invalid_id", 2)
    assert summary.failed_items == 10
    assert summary.items == 30


async def test_wait_times_out_when_a_spawned_part_never_arrives(settings: Settings) -> None:
    def lose_spawned(chunk: dict[str, Any]) -> list[dict[str, Any]]:
        return [a for a in split_with_spawned(chunk) if a.get("part") != "0.s"]

    async with (
        responder(settings, lose_spawned),
        await create_project(settings) as engine,
    ):
        started = time.monotonic()
        with pytest.raises(EngineTimeout) as info:
            await engine.add_graph(
                [node(i) for i in range(20)], chunk_size=10, wait=True, timeout=2
            )
    assert time.monotonic() - started < 15
    assert "2 of 2 chunks" in str(info.value)


async def test_missing_input_topic_fails_fast_with_a_clear_message(kafka_bootstrap: str) -> None:
    settings = await make_settings(kafka_bootstrap, create=False)
    async with await create_project(settings) as engine:
        started = time.monotonic()
        with pytest.raises(TopicNotFound) as info:
            await engine.add_graph([node(1)])
        elapsed = time.monotonic() - started
    assert elapsed < 10, "a missing topic must not be retried for the whole deadline"
    assert settings.topics.input in str(info.value)
    assert "does not exist" in str(info.value)


async def test_oversized_chunk_is_failed_and_later_ordered_chunks_are_skipped(
    settings: Settings,
) -> None:
    big = {"op": "upsert_node", "id": "big", "props": {"blob": "x" * 1_200_000}}
    ops = [node(1), node(2), big, node(3), node(4), node(5)]
    async with await create_project(settings) as engine:
        summary = await engine.add_graph(ops, chunk_size=2)
    assert summary.chunks == 3
    assert [type(e) for _, e in summary.failed] == [PermanentKafkaError, ChunkSkipped]
    assert "chunk_size" in str(summary.failed[0][1])
    assert summary.failed_items == 4
    records = await read_topic(settings, settings.topics.input)
    assert [op["id"] for r in records for op in r.value["items"]] == ["n1", "n2"]
