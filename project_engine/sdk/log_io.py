"""Reading a bounded range of a topic and republishing records unchanged.

:func:`plan_range` fixes, per partition, the first offset (``from_offset`` or the log start
when that is later) and the end: the current end offset or, with a cut-off time, the first
offset whose timestamp is at or after it (so each partition contributes a prefix of its
log). :func:`read_range` yields exactly those records in offset order per partition.
:class:`RecordPublisher` writes records with an idempotent producer (``acks=all``, one
in-flight batch per partition), so each partition's order survives retries.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from project_engine.kafka_config import aiokafka_kwargs
from project_engine.sdk.log_records import LogRecord
from project_engine.sdk.replies import lookup_partitions
from schemas.settings import Settings

__all__ = ["PartitionRange", "RecordPublisher", "end_offsets", "plan_range", "read_range"]

PUBLISH_WINDOW = 2000


@dataclass(frozen=True)
class PartitionRange:
    """Records ``start <= offset < end`` of one partition, asked for from ``requested``."""

    partition: int
    start: int
    end: int
    requested: int

    @property
    def count(self) -> int:
        return max(0, self.end - self.start)

    @property
    def lost(self) -> int:
        """Records asked for but no longer in the log (deleted by retention)."""
        return max(0, min(self.start, self.end) - self.requested)


def _consumer(settings: Settings, client_id: str) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        **aiokafka_kwargs(settings),
        client_id=client_id,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=max(settings.max_message_bytes * 2, 2_097_152),
    )


async def end_offsets(settings: Settings, topic: str) -> dict[int, int]:
    """The current end offset of every partition of ``topic``."""
    partitions = await lookup_partitions(settings, topic)
    consumer = _consumer(settings, "project-engine-offsets")
    await consumer.start()
    try:
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
        return {tp.partition: int(offset) for tp, offset in ends.items()}
    finally:
        await consumer.stop()


async def plan_range(
    settings: Settings, topic: str, *, from_offset: int = 0, until_ms: int | None = None
) -> list[PartitionRange]:
    """The range of every partition of ``topic`` to read (see the module docstring)."""
    if from_offset < 0:
        raise ValueError(f"--from-offset must not be negative, got {from_offset}")
    partitions = await lookup_partitions(settings, topic)
    tps = [TopicPartition(topic, p) for p in partitions]
    consumer = _consumer(settings, "project-engine-range")
    await consumer.start()
    try:
        firsts = await consumer.beginning_offsets(tps)
        ends = await consumer.end_offsets(tps)
        cuts: dict[Any, Any] = {}
        if until_ms is not None:
            cuts = await consumer.offsets_for_times({tp: until_ms for tp in tps})
    finally:
        await consumer.stop()
    ranges = []
    for tp in tps:
        end = int(ends[tp])
        found = cuts.get(tp)
        if found is not None:
            end = min(end, int(found.offset))
        start = max(from_offset, int(firsts[tp]))
        ranges.append(PartitionRange(tp.partition, start, end, from_offset))
    return ranges


async def read_range(
    settings: Settings, topic: str, ranges: Sequence[PartitionRange]
) -> AsyncIterator[LogRecord]:
    """Yield the records of ``ranges``, each partition in offset order."""
    todo = {TopicPartition(topic, r.partition): r for r in ranges if r.count > 0}
    if not todo:
        return
    consumer = _consumer(settings, "project-engine-export")
    await consumer.start()
    try:
        consumer.assign(list(todo))
        for tp, r in todo.items():
            consumer.seek(tp, r.start)
        while todo:
            batches = await consumer.getmany(*todo, timeout_ms=1000, max_records=1000)
            for tp, records in batches.items():
                end = todo[tp].end if tp in todo else -1
                for msg in records:
                    if msg.offset >= end:
                        break
                    yield LogRecord(
                        topic=topic,
                        partition=msg.partition,
                        offset=msg.offset,
                        timestamp=int(msg.timestamp),
                        key=msg.key,
                        value=msg.value,
                        headers=tuple((k, bytes(v or b"")) for k, v in msg.headers or ()),
                    )
            for tp in list(todo):
                if await consumer.position(tp) >= todo[tp].end:
                    del todo[tp]
                    consumer.pause(tp)
    finally:
        await consumer.stop()


class RecordPublisher:
    """Republishes records' key, value and headers unchanged with an idempotent producer."""

    def __init__(self, settings: Settings, *, client_id: str = "project-engine-import") -> None:
        self._settings = settings
        self._client_id = client_id
        self._producer: Any = None
        self._pending: list[asyncio.Future[Any]] = []
        self.sent = 0

    async def start(self) -> RecordPublisher:
        size = max(self._settings.max_message_bytes * 2, 2_097_152)
        self._producer = AIOKafkaProducer(
            **aiokafka_kwargs(self._settings),
            client_id=self._client_id,
            enable_idempotence=True,
            acks="all",
            linger_ms=10,
            max_batch_size=1_048_576,
            max_request_size=size,
        )
        await self._producer.start()
        return self

    async def publish(
        self, record: LogRecord, topic: str, partition: int, *, keep_timestamp: bool = False
    ) -> None:
        """Queue one record for ``partition`` of ``topic``; waits when many are in flight."""
        future = await self._producer.send(
            topic,
            record.value,
            key=record.key,
            headers=list(record.headers),
            partition=partition,
            timestamp_ms=record.timestamp if keep_timestamp else None,
        )
        self._pending.append(future)
        self.sent += 1
        if len(self._pending) >= PUBLISH_WINDOW:
            await self.flush()

    async def flush(self) -> None:
        """Wait until every queued record is acknowledged (raises the first failure)."""
        pending, self._pending = self._pending, []
        if pending:
            await asyncio.gather(*pending)

    async def stop(self) -> None:
        if self._producer is not None:
            try:
                await self.flush()
            finally:
                await self._producer.stop()
                self._producer = None
