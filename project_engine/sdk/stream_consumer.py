"""The Kafka side of a stream: assigning or joining, positioning, fetching, pausing, committing.

Without a group every partition of every stream topic is assigned and positioned at its end
(``latest``) or beginning (``earliest``) before :meth:`StreamConsumer.start` returns. A topic
that does not exist yet is looked up again every few seconds and, once it exists, read from
its beginning (all of it was written after the stream started). With a group the topics are
subscribed and the positions of delivered items are committed about once a second.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any, Literal

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener

from project_engine.kafka_config import aiokafka_kwargs
from project_engine.sdk.errors import TopicNotFound
from project_engine.sdk.stream_items import StreamItem, decode_record
from schemas.settings import Settings

__all__ = ["Start", "StreamConsumer"]

log = structlog.get_logger(__name__)
Start = Literal["latest", "earliest"]
TOPIC_REFRESH_SECONDS = 2.0
COMMIT_SECONDS = 1.0
JOIN_TIMEOUT_SECONDS = 30.0


class _Assigned(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self) -> None:
        self.event = asyncio.Event()

    async def on_partitions_revoked(self, revoked: Any) -> None:
        return None

    async def on_partitions_assigned(self, assigned: Any) -> None:
        self.event.set()


class StreamConsumer:
    """One aiokafka consumer reading ``topics`` (topic name -> kind) as decoded items."""

    def __init__(
        self,
        settings: Settings,
        topics: Mapping[str, str],
        *,
        start: Start = "latest",
        group_id: str | None = None,
        client_id: str = "project-engine-stream",
        keep_raw: bool = False,
        wait_for_topics: bool = True,
    ) -> None:
        if start not in ("latest", "earliest"):
            raise ValueError(f"start must be 'latest' or 'earliest', got {start!r}")
        self.settings = settings
        self.topics = dict(topics)
        self.start_at: Start = start
        self.group_id = group_id
        self.client_id = client_id
        self.keep_raw = keep_raw
        self.wait_for_topics = wait_for_topics
        self._consumer: Any = None
        self._missing = set(self.topics)
        self._next_refresh = 0.0
        self._last_commit = time.monotonic()
        self._positions: dict[TopicPartition, int] = {}
        self._committed: dict[TopicPartition, int] = {}

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(
            **aiokafka_kwargs(self.settings),
            client_id=self.client_id,
            group_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset=self.start_at,
            metadata_max_age_ms=5_000,
        )
        await consumer.start()
        self._consumer = consumer
        try:
            if self.group_id is None:
                await self._assign_new_topics(initial=True)
                if self._missing and not self.wait_for_topics:
                    raise TopicNotFound(sorted(self._missing)[0], self.settings.bootstrap)
            else:
                listener = _Assigned()
                consumer.subscribe(topics=list(self.topics), listener=listener)
                try:
                    async with asyncio.timeout(JOIN_TIMEOUT_SECONDS):
                        await listener.event.wait()
                except TimeoutError:
                    log.warning("stream not assigned yet", group_id=self.group_id)
        except BaseException:
            self._consumer = None
            await consumer.stop()
            raise

    async def stop(self) -> None:
        """Commit what was delivered (with a group) and disconnect."""
        consumer, self._consumer = self._consumer, None
        if consumer is None:
            return
        try:
            await self._commit(consumer)
        finally:
            await consumer.stop()

    async def fetch(self, max_records: int, timeout_ms: int) -> list[StreamItem]:
        """At most ``max_records`` decoded items, in offset order within each partition."""
        consumer = self._consumer
        now = time.monotonic()
        if self._missing and self.group_id is None and now >= self._next_refresh:
            await self._assign_new_topics(initial=False)
        if self.group_id is not None and now - self._last_commit >= COMMIT_SECONDS:
            self._last_commit = now
            await self._commit(consumer)
        batches = await consumer.getmany(timeout_ms=timeout_ms, max_records=max_records)
        return [
            decode_record(
                self.topics[tp.topic],
                tp.topic,
                r.partition,
                r.offset,
                r.timestamp,
                r.key,
                r.value,
                r.headers,
                keep_raw=self.keep_raw,
            )
            for tp, records in batches.items()
            for r in records
        ]

    def pause(self) -> None:
        """Stop fetching (also the background prefetch) until :meth:`resume`."""
        self._consumer.pause(*self._consumer.assignment())

    def resume(self) -> None:
        self._consumer.resume(*self._consumer.paused())

    def delivered(self, item: StreamItem) -> None:
        """Record that ``item`` reached the reader (its position is committed with a group)."""
        self._positions[TopicPartition(item.topic, item.partition)] = item.offset + 1

    async def _commit(self, consumer: Any) -> None:
        if self.group_id is None:
            return
        changed = {tp: o for tp, o in self._positions.items() if self._committed.get(tp) != o}
        if not changed:
            return
        try:
            await consumer.commit(changed)
            self._committed.update(changed)
        except Exception as exc:  # a rebalance moved the partition: its new owner re-reads
            log.info("stream commit skipped", error=repr(exc))

    async def _assign_new_topics(self, *, initial: bool) -> None:
        """Assign the partitions of topics that exist now, keeping the others' positions."""
        consumer = self._consumer
        self._next_refresh = time.monotonic() + TOPIC_REFRESH_SECONDS
        cluster = await consumer._client.fetch_all_metadata()
        found = {t: sorted(cluster.partitions_for_topic(t) or ()) for t in self._missing}
        new = [TopicPartition(t, p) for t, parts in found.items() for p in parts]
        if not new:
            return
        old = sorted(consumer.assignment())
        positions = {tp: await consumer.position(tp) for tp in old}
        paused = consumer.paused()
        consumer.assign(old + new)
        for tp, offset in positions.items():
            consumer.seek(tp, offset)
        if paused:
            consumer.pause(*paused)
        if initial and self.start_at == "latest":
            offsets = await consumer.end_offsets(new)
        else:
            offsets = await consumer.beginning_offsets(new)
        for tp in new:
            consumer.seek(tp, offsets[tp])
        self._missing -= {t for t, parts in found.items() if parts}
        if not initial:
            log.info("stream picked up topics", topics=sorted({tp.topic for tp in new}))
