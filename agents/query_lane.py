"""The query lane: a Kafka consumer of its own for the query topics of one worker.

Faust gives an app one consumer, and its conductor hands every fetched record to the
agents' buffers in fetch order. While an ingest runs, the apply agent's buffer is full, so
the conductor waits for room before it delivers the next record, and a query fetched behind
apply parts waits with it (measured during a 50,000-edge ingest, one worker: p50 139 ms,
p99 327 ms from send to answer, against 3 ms idle). Queries, query requests and query
partials are therefore read here, by an aiokafka consumer with its own fetches, and handled
on the worker's event loop between apply parts.

Assignment follows the graph: the lane reads partition ``p`` of the three query topics
exactly while this worker holds graph partition ``p`` (the partitions Faust assigned and
recovery rebuilt), which is what co-partitioned Faust agents did. The lane does not join a
group; it commits the offsets it has handled under a group id of its own, so a partition
that moves to another worker is read on from where this one stopped, and a query is never
skipped (one that waited longer than its deadline is answered with ``timeout``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TypeAlias

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

from project_engine.kafka_config import aiokafka_kwargs
from schemas.settings import Settings

__all__ = ["Handler", "Record", "lane_assignment", "run_query_lane"]

log = structlog.get_logger(__name__)

Record: TypeAlias = "ConsumerRecord[bytes, bytes]"
Handler = Callable[[Record], Awaitable[None]]
POLL_MS = 100  # how soon a change of the held partitions is followed
MAX_RECORDS = 256


def lane_assignment(topics: Iterable[str], held: Iterable[int]) -> set[TopicPartition]:
    """The partitions of ``topics`` the lane reads while the graph partitions ``held`` are here."""
    parts = sorted(held)
    return {TopicPartition(t, p) for t in topics for p in parts}


def _consumer(settings: Settings) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        **aiokafka_kwargs(settings),
        client_id=f"{settings.app_id}-query-lane",
        group_id=f"{settings.app_id}-query-lane",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=200,
        max_partition_fetch_bytes=max(settings.max_message_bytes * 2, 2_097_152),
        fetch_max_bytes=max(settings.max_message_bytes * 4, 52_428_800),
    )


def _producer(settings: Settings) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        **aiokafka_kwargs(settings),
        client_id=f"{settings.app_id}-query-answers",
        linger_ms=0,
        max_request_size=max(settings.max_message_bytes * 2, 2_097_152),
    )


async def _commit(consumer: AIOKafkaConsumer, handled: dict[TopicPartition, int]) -> None:
    if not handled:
        return
    offsets = dict(handled)
    handled.clear()
    try:
        await consumer.commit(offsets)
    except KafkaError as exc:  # a later commit carries the positions again
        log.warning("query lane commit failed", error=repr(exc))


async def run_query_lane(
    settings: Settings,
    handlers: Mapping[str, Handler],
    held: Callable[[], set[int]],
    answers: Callable[[AIOKafkaProducer | None], None],
    *,
    commit_every: float = 1.0,
    on_records: Callable[[], None] | None = None,
) -> None:
    """Read the topics named in ``handlers`` for the graph partitions ``held()`` returns and
    pass each record, in partition order, to its topic's handler; run until cancelled.

    ``answers`` receives the lane's own producer for query answers once it is started (and
    ``None`` when it stops): answers then never queue behind the changelog batches that the
    app's producer carries during an ingest. ``on_records`` is called whenever a fetch
    brings records, before they are handled (agents.loop_share).
    """
    consumer = _consumer(settings)
    producer = _producer(settings)
    await producer.start()
    answers(producer)
    await consumer.start()
    loop = asyncio.get_running_loop()
    current: set[TopicPartition] = set()
    handled: dict[TopicPartition, int] = {}
    last_commit = loop.time()
    try:
        while True:
            wanted = lane_assignment(handlers, held())
            if wanted != current:
                # Positions handled so far are committed before the partitions go.
                await _commit(consumer, handled)
                consumer.assign(list(wanted))
                current = wanted
                log.info("query lane assigned", partitions=sorted({tp.partition for tp in wanted}))
            if not current:
                await asyncio.sleep(POLL_MS / 1000)
                continue
            batches = await consumer.getmany(timeout_ms=POLL_MS, max_records=MAX_RECORDS)
            if batches and on_records is not None:
                on_records()
            for tp, records in batches.items():
                if tp not in current:
                    continue
                handler = handlers[tp.topic]
                for record in records:
                    await handler(record)
                    handled[tp] = record.offset + 1
            if loop.time() - last_commit >= commit_every:
                await _commit(consumer, handled)
                last_commit = loop.time()
    finally:
        with contextlib.suppress(Exception):
            await _commit(consumer, handled)
        await consumer.stop()
        answers(None)
        await producer.stop()
