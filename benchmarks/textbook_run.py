"""The textbook Faust baseline from the benchmark's side: its process, the publisher, the clock.

:class:`TextbookFaustApp` runs :mod:`benchmarks.textbook_faust` in a child process of its
own (its own event loop and CPU, like the engine's worker). :func:`textbook_ingest` waits
until the app is ready, then publishes one JSON message per edge upsert, keyed by the edge,
to a topic with the benchmark's partition count, with a producer configured like the SDK's.
The clock runs from the first send until the end offsets of the app's changelog topic add up
to one record per edge: every table write has then been produced to Kafka and acknowledged.
After the clock stops, the changelog is read back and must hold exactly the table the edges
give (last props per edge key).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from benchmarks.baselines import SDK_LINGER_MS, create_topic
from benchmarks.data import Op
from benchmarks.engine_run import CpuUse
from benchmarks.harness import EngineWorker, wait_for
from benchmarks.textbook_faust import changelog_topic, edge_key
from project_engine.kafka_config import aiokafka_kwargs
from schemas.settings import Settings

__all__ = [
    "TextbookFaustApp",
    "TextbookRun",
    "create_input_topic",
    "encode_edge",
    "expected_table",
    "textbook_ingest",
]

STARTUP_TIMEOUT = 180.0
POLL_SECONDS = 0.05  # how often the changelog's end offsets are read while the clock runs


@dataclass
class TextbookFaustApp(EngineWorker):
    """The textbook Faust app's process; ``settings`` gives the broker, ids and partitions."""

    name: str = "textbook-faust"

    @property
    def app_id(self) -> str:
        return f"{self.settings.app_id}-textbook"

    @property
    def topic(self) -> str:
        return f"{self.settings.topic_prefix}textbook-edges"

    @property
    def ready_file(self) -> Path:
        return self.settings.data_dir / self.name / "ready"

    def command(self, data_dir: Path, web_port: int) -> list[str]:
        # ``web_port`` is not used: the app runs without its web server.
        return [
            sys.executable,
            "-m",
            "benchmarks.textbook_faust",
            "--broker",
            self.settings.bootstrap_servers[0],
            "--app-id",
            self.app_id,
            "--topic",
            self.topic,
            "--partitions",
            str(self.settings.partitions),
            "--datadir",
            str(data_dir / "faust"),
            "--ready-file",
            str(self.ready_file),
        ]


@dataclass(frozen=True)
class TextbookRun:
    seconds: float  # first send until the changelog holds one record per edge
    publish_seconds: float  # first send until the broker acknowledged the last edge
    items: int
    changelog_records: int
    table_entries: int
    cpu_seconds: dict[str, float | None]
    cpu_share: dict[str, float | None]


async def create_input_topic(settings: Settings, app: TextbookFaustApp) -> None:
    """Create the app's input topic, with the benchmark's partition count."""
    await create_topic(settings, app.topic, settings.partitions)


def encode_edge(op: Op) -> tuple[bytes, bytes]:
    """The message of one edge upsert: the edge key and the op as JSON."""
    return edge_key(op).encode(), json.dumps(op, separators=(",", ":")).encode()


def expected_table(ops: Sequence[Op]) -> dict[str, Any]:
    """The table the app must end with: each edge key with the props of its last upsert."""
    return {edge_key(op): op["props"] for op in ops}


async def _changelog_records(consumer: AIOKafkaConsumer, tps: list[TopicPartition]) -> int:
    ends = await consumer.end_offsets(tps)
    return sum(ends.values())


async def _read_table(consumer: AIOKafkaConsumer, tps: list[TopicPartition]) -> dict[str, Any]:
    """Every record of the changelog, applied in order: the table's final content."""
    ends = await consumer.end_offsets(tps)
    consumer.assign(tps)
    await consumer.seek_to_beginning(*tps)
    table: dict[str, Any] = {}
    while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
        batches = await consumer.getmany(timeout_ms=500, max_records=10_000)
        for records in batches.values():
            for record in records:
                if record.key is not None:
                    key = json.loads(record.key)
                    value = None if record.value is None else json.loads(record.value)
                    table[key] = value
    return table


async def _publish(producer: AIOKafkaProducer, topic: str, ops: Sequence[Op]) -> float:
    started = time.perf_counter()
    for op in ops:
        key, value = encode_edge(op)
        await producer.send(topic, value, key=key)
    await producer.flush()
    return time.perf_counter() - started


async def textbook_ingest(
    settings: Settings,
    app: TextbookFaustApp,
    ops: Sequence[Op],
    *,
    timeout: float,
    broker_pid: int | None,
) -> TextbookRun:
    """Publish ``ops`` once the app is ready, time until all table writes are in the changelog.

    The input topic must exist before the app starts (:func:`create_input_topic`).
    """
    await wait_for(
        lambda: asyncio.to_thread(app.ready_file.exists),
        bool,
        timeout=STARTUP_TIMEOUT,
        interval=0.1,
        alive=lambda: app.pid is not None,
    )
    kwargs = aiokafka_kwargs(settings)
    changelog = changelog_topic(app.app_id)
    tps = [TopicPartition(changelog, p) for p in range(settings.partitions)]
    consumer = AIOKafkaConsumer(**kwargs, group_id=None, enable_auto_commit=False)
    producer = AIOKafkaProducer(
        **kwargs, enable_idempotence=True, acks="all", linger_ms=SDK_LINGER_MS
    )
    await consumer.start()
    try:
        await producer.start()
        try:
            if await _changelog_records(consumer, tps) != 0:
                raise RuntimeError(f"{changelog} is not empty before the run")
            cpu = CpuUse({"faust app": app.pid, "broker": broker_pid, "publisher": os.getpid()})
            async with asyncio.timeout(timeout):
                cpu.start()
                started = time.perf_counter()
                publish_seconds = await _publish(producer, app.topic, ops)
                while (records := await _changelog_records(consumer, tps)) < len(ops):
                    if app.pid is None:
                        raise RuntimeError("the textbook Faust app died")
                    await asyncio.sleep(POLL_SECONDS)
                seconds = time.perf_counter() - started
                cpu.stop()
        finally:
            await producer.stop()
        table = await _read_table(consumer, tps)
    finally:
        await consumer.stop()
    expected = expected_table(ops)
    if table != expected:
        wrong = sum(1 for k, v in expected.items() if table.get(k) != v)
        raise AssertionError(
            f"the textbook Faust table has {len(table)} entries, {wrong} of the expected "
            f"{len(expected)} missing or different"
        )
    return TextbookRun(
        seconds=seconds,
        publish_seconds=publish_seconds,
        items=len(ops),
        changelog_records=records,
        table_entries=len(table),
        cpu_seconds=cpu.seconds,
        cpu_share=cpu.share_of_core(seconds),
    )
