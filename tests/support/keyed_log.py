"""Helpers for stream and replay tests: reading topics back, creating topics, and an input log
whose final graph depends on the order within each key (so reordering would show)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections import defaultdict
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from project_engine.kafka_config import aiokafka_kwargs
from project_engine.sdk import StreamItem
from project_engine.sdk.log_io import PartitionRange, end_offsets, read_range
from project_engine.sdk.log_records import LogRecord
from schemas.settings import Settings
from tests.support.graphs import reference_of
from tests.support.reference import reference_digest
from tests.support.workers import eventually

__all__ = [
    "KEYS",
    "by_partition",
    "collect",
    "create_topic",
    "keyed_ops",
    "publish_two_batches",
    "records_since",
]

Coordinates = tuple[str, int, int]


async def records_since(settings: Settings, topic: str, since: dict[int, int]) -> list[LogRecord]:
    ends = await end_offsets(settings, topic)
    ranges = [PartitionRange(p, since.get(p, 0), end, since.get(p, 0)) for p, end in ends.items()]
    return [r async for r in read_range(settings, topic, ranges)]


def by_partition(coords: list[Coordinates]) -> dict[tuple[str, int], list[int]]:
    out: dict[tuple[str, int], list[int]] = defaultdict(list)
    for topic, partition, offset in coords:
        out[(topic, partition)].append(offset)
    return dict(out)


async def collect(stream: Any, into: list[StreamItem]) -> None:
    async for item in stream:
        into.append(item)


async def create_topic(settings: Settings, name: str) -> None:
    admin = AIOKafkaAdminClient(**aiokafka_kwargs(settings))
    await admin.start()
    try:
        with contextlib.suppress(TopicAlreadyExistsError):
            await admin.create_topics([NewTopic(name, settings.partitions, 1)])
    finally:
        await admin.close()
    await eventually(lambda: end_offsets(settings, name), bool, timeout=30)


KEYS = ("k0", "k1", "k2", "k3")


def keyed_ops(key: str, count: int, seed: int) -> list[dict[str, Any]]:
    """Order-dependent ops on nodes of one key only: only the order within the key matters."""
    rng = random.Random(seed)
    ids = [f"{key}-n{i}" for i in range(30)]
    ops: list[dict[str, Any]] = []
    for step in range(count):
        r, a, b = rng.random(), rng.choice(ids), rng.choice(ids)
        if r < 0.4:
            ops.append(
                {"op": "upsert_node", "id": a, "labels": [f"L{step % 3}"], "props": {"v": step}}
            )
        elif r < 0.8:
            ops.append({"op": "upsert_edge", "src": a, "dst": b, "type": "E", "props": {"v": step}})
        elif r < 0.9:
            ops.append({"op": "delete_edge", "src": a, "dst": b, "type": "E"})
        else:
            ops.append({"op": "delete_node", "id": a})
    return ops


async def publish_two_batches(settings: Settings) -> tuple[dict[str, Any], dict[str, Any], int]:
    """Batch A before and batch B after a timestamp boundary; returns both digests and it."""
    boundary = int(time.time() * 1000) - 60_000
    ops = {k: keyed_ops(k, 600, seed=n) for n, k in enumerate(KEYS)}
    producer = AIOKafkaProducer(**aiokafka_kwargs(settings), acks="all")
    await producer.start()
    try:
        futures = []
        for batch, first_ts in ((0, boundary - 30_000), (1, boundary)):
            for k in KEYS:
                part = ops[k][batch * 300 : (batch + 1) * 300]
                for n in range(0, 300, 25):
                    value = json.dumps({"chunk_id": f"{k}-{batch}-{n}", "items": part[n : n + 25]})
                    futures.append(
                        await producer.send(
                            settings.topics.input, value.encode(), key=k.encode(),
                            timestamp_ms=first_ts + n,
                        )
                    )  # fmt: skip
        futures.append(await producer.send(settings.topics.input, b"\xffbad", key=b"k0"))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    before = reference_digest(reference_of(*(ops[k][:300] for k in KEYS)))
    after = reference_digest(reference_of(*(ops[k] for k in KEYS)))
    return before, after, boundary
