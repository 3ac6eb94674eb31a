"""The two baselines the engine is compared with: the Kafka transport alone, and the pure core.

- :func:`transport_limit` produces the engine's input messages (the same bytes and headers)
  with a plain idempotent aiokafka producer configured like the SDK's, to a fresh topic with
  the same partition count, round-robin over partitions with the SDK's in-flight window, and
  times until a plain consumer that does nothing with them has received every one.
- :func:`pure_core` runs what a worker does to those messages minus Kafka and Faust, in one
  process: decode and validate (``parse_chunk``), route (``route_chunk``), apply to
  ``GraphPartition`` objects and compute the table records to write (``dirty_writes``),
  with the worker's collector settings (:func:`worker_collector`).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from agents.consumer_tuning import tune_gc
from benchmarks.data import CONTENT_TYPE, EncodedChunk
from pipeline.graph import GraphPartition
from pipeline.routing import route_chunk
from pipeline.steps import Part as ApplyPart
from pipeline.steps import decode_part, encode_part
from pipeline.storage import dirty_writes
from project_engine.kafka_config import aiokafka_kwargs
from schemas.limits import Limits
from schemas.ops import Chunk
from schemas.settings import Settings
from schemas.validation import parse_chunk

__all__ = [
    "CoreRun",
    "CoreState",
    "TransportRun",
    "pure_core",
    "transport_limit",
    "worker_collector",
]

SDK_IN_FLIGHT = 8  # create_project's default max_in_flight
SDK_LINGER_MS = 5  # the SDK producer's linger
STAGES = ("parse", "route", "part codec", "apply", "writes")
HEADERS = [("content-type", CONTENT_TYPE), ("ack", b"1")]  # what add_graph(wait=True) sets


@dataclass(frozen=True)
class TransportRun:
    seconds: float  # first send until the consumer has seen the last message
    produce_seconds: float  # first send until the broker acknowledged the last message
    messages: int
    items: int


@dataclass(frozen=True)
class CoreRun:
    seconds: float
    items: int
    writes: int  # table records the worker would write
    stages: dict[str, float]  # seconds per stage: parse, route, part codec, apply, writes


class CoreState:
    """One process's graph partitions, fed with encoded input messages like a worker.

    ``stages`` adds up the seconds spent in each stage (a clock read between stages, a few
    per chunk part, so the split costs next to nothing).
    """

    def __init__(self, partitions: int, limits: Limits | None = None) -> None:
        self.partitions = partitions
        self.limits = limits or Limits()
        self.graphs = [GraphPartition(p) for p in range(partitions)]
        self.stages = dict.fromkeys(STAGES, 0.0)

    def apply_message(self, value: bytes, *, part_codec: bool = False) -> int:
        """Parse, route and apply one input message; the number of table records to write.

        ``part_codec`` also encodes and decodes each routed part, as it travels over the
        internal apply topic between the route and apply agents.
        """
        clock = time.perf_counter
        stages = self.stages
        t0 = clock()
        chunk = parse_chunk(value, CONTENT_TYPE, self.limits)
        if not isinstance(chunk, Chunk):
            raise ValueError(f"the benchmark produced an invalid message: {chunk}")
        t1 = clock()
        parts = route_chunk(chunk.items, self.partitions)
        t2 = clock()
        stages["parse"] += t1 - t0
        stages["route"] += t2 - t1
        writes = 0
        for partition in sorted(parts):
            steps = parts[partition]
            t0 = clock()
            if part_codec:
                part = ApplyPart(chunk.chunk_id, 0, len(parts), True, "msgpack", ("", 0, 0), steps)
                steps = decode_part(encode_part(part)).steps
            t1 = clock()
            graph = self.graphs[partition]
            graph.apply(steps)
            t2 = clock()
            writes += len(dirty_writes(graph, graph.take_dirty()))
            t3 = clock()
            stages["part codec"] += t1 - t0
            stages["apply"] += t2 - t1
            stages["writes"] += t3 - t2
        return writes

    @property
    def edges(self) -> int:
        return sum(g.edge_count for g in self.graphs)

    @property
    def nodes(self) -> int:
        return sum(g.node_count for g in self.graphs)


@contextlib.contextmanager
def worker_collector() -> Iterator[None]:
    """Python's cyclic collector set as a worker sets it (:func:`agents.consumer_tuning.tune_gc`)
    while the block runs, then as it was: the pure core does the worker's work, so it gets the
    worker's collector too (with the defaults, when full collections come depends on how many
    container objects the graph holds, not on the work)."""
    thresholds, callbacks = gc.get_threshold(), list(gc.callbacks)
    tune_gc()
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.callbacks[:] = callbacks


def pure_core(
    chunks: Sequence[EncodedChunk], partitions: int, *, part_codec: bool = False
) -> tuple[CoreRun, CoreState]:
    """Apply every chunk to fresh partitions, timed; returns the timing and the state."""
    state = CoreState(partitions)
    writes = 0
    started = time.perf_counter()
    for chunk in chunks:
        writes += state.apply_message(chunk.value, part_codec=part_codec)
    seconds = time.perf_counter() - started
    items = sum(c.items for c in chunks)
    return CoreRun(seconds, items, writes, dict(state.stages)), state


async def create_topic(settings: Settings, name: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(**aiokafka_kwargs(settings))
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, settings.replication_factor)])
        for _ in range(100):  # creation is asynchronous on the broker side
            described = await admin.describe_topics([name])
            if described and described[0].get("error_code", 0) == 0:
                leaders = [p.get("leader", -1) for p in described[0]["partitions"]]
                if len(leaders) == partitions and min(leaders) >= 0:
                    return
            await asyncio.sleep(0.1)
        raise TimeoutError(f"topic {name} was not created in time")
    finally:
        await admin.close()


async def _consume_all(consumer: AIOKafkaConsumer, expected: int) -> float:
    seen = 0
    while seen < expected:
        batches = await consumer.getmany(timeout_ms=200, max_records=10_000)
        seen += sum(len(records) for records in batches.values())
    return time.perf_counter()


async def transport_limit(
    settings: Settings, chunks: Sequence[EncodedChunk], topic: str, *, timeout: float
) -> TransportRun:
    """Produce ``chunks`` to a new topic and time until a consumer has seen them all."""
    partitions = settings.partitions
    await create_topic(settings, topic, partitions)
    kwargs = aiokafka_kwargs(settings)
    max_bytes = settings.max_message_bytes
    consumer = AIOKafkaConsumer(
        **kwargs,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=max(2 * max_bytes, 1_048_576),
        fetch_max_bytes=64 * 1_048_576,
    )
    producer = AIOKafkaProducer(
        **kwargs,
        enable_idempotence=True,
        acks="all",
        linger_ms=SDK_LINGER_MS,
        max_batch_size=min(max_bytes, 1_000_000),
        max_request_size=max_bytes,
    )
    tps = [TopicPartition(topic, p) for p in range(partitions)]
    try:
        await consumer.start()
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        for tp in tps:
            await consumer.position(tp)  # resolve offsets before the clock starts
        try:
            await producer.start()
            async with asyncio.timeout(timeout):
                return await _timed_transport(producer, consumer, chunks, topic, partitions)
        finally:
            await producer.stop()
    finally:
        await consumer.stop()


async def _timed_transport(
    producer: AIOKafkaProducer,
    consumer: AIOKafkaConsumer,
    chunks: Sequence[EncodedChunk],
    topic: str,
    partitions: int,
) -> TransportRun:
    window = asyncio.Semaphore(SDK_IN_FLIGHT)
    deliveries: list[asyncio.Future[object]] = []
    started = time.perf_counter()
    reader = asyncio.create_task(_consume_all(consumer, len(chunks)))
    try:
        for i, chunk in enumerate(chunks):
            await window.acquire()
            delivery = await producer.send(
                topic, chunk.value, partition=i % partitions, headers=list(HEADERS)
            )
            delivery.add_done_callback(lambda _: window.release())
            deliveries.append(delivery)
        await asyncio.gather(*deliveries)
        produced = time.perf_counter() - started
        consumed = await reader - started
    finally:
        if not reader.done():
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
    return TransportRun(consumed, produced, len(chunks), sum(c.items for c in chunks))
