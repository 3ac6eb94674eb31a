"""Background readers of reply topics (acks, query results) and topic metadata look-ups.

A :class:`ReplyReader` reads every partition of one topic without a consumer group. It
resolves the end offsets and seeks there in :meth:`ReplyReader.start`, before the caller
sends anything, so no reply can be missed. Each decoded map is handed to the waiter
registered under its correlation id (``chunk_id`` or ``query_id``, falling back to the
message key); replies nobody waits for are dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping
from typing import Any, Protocol

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.client import AIOKafkaClient
from aiokafka.errors import KafkaConnectionError, KafkaError

from project_engine.kafka_config import aiokafka_kwargs
from project_engine.sdk.errors import EngineClosed, TopicNotFound
from project_engine.sdk.wire import decode_value
from schemas.settings import Settings

__all__ = [
    "ReplyReader",
    "ReplyWaiter",
    "SingleReply",
    "lookup_partitions",
    "open_positioned_consumer",
    "partitions_of",
]

log = structlog.get_logger(__name__)


class ReplyWaiter(Protocol):
    def feed(self, value: Mapping[str, Any]) -> None: ...

    def fail(self, exc: BaseException) -> None: ...


async def partitions_of(
    client: Any, topic: str, bootstrap: str, *, grace: float = 2.0
) -> list[int]:
    """The partition ids of ``topic`` from fresh cluster metadata.

    ``client`` is an aiokafka client (``producer.client``). A just-created topic may take a
    moment to show up, so a missing topic is looked up again for ``grace`` seconds before
    :class:`TopicNotFound` is raised.
    """
    end = time.monotonic() + grace
    delay = 0.05
    while True:
        try:
            cluster = await client.fetch_all_metadata()
        except KafkaConnectionError:
            raise
        except KafkaError as exc:  # "unable to get cluster metadata": worth retrying
            raise KafkaConnectionError(f"metadata request failed: {exc}") from exc
        partitions = cluster.partitions_for_topic(topic)
        if partitions:
            return sorted(partitions)
        if time.monotonic() + delay > end:
            raise TopicNotFound(topic, bootstrap)
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.5)


async def lookup_partitions(settings: Settings, topic: str, *, grace: float = 2.0) -> list[int]:
    """Like :func:`partitions_of`, with a short-lived client of its own."""
    client = AIOKafkaClient(**aiokafka_kwargs(settings), client_id="project-engine-metadata")
    try:
        await client.bootstrap()
        return await partitions_of(client, topic, settings.bootstrap, grace=grace)
    finally:
        await client.close()


async def open_positioned_consumer(
    settings: Settings,
    topic: str,
    partitions: list[int],
    *,
    from_beginning: bool = False,
    client_id: str = "project-engine-reader",
) -> AIOKafkaConsumer:
    """A started consumer assigned all ``partitions``, positioned at the start or the end.

    Positions are resolved here (not lazily on the first fetch), so anything produced
    after this returns will be read.
    """
    consumer = AIOKafkaConsumer(
        **aiokafka_kwargs(settings),
        client_id=client_id,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest" if from_beginning else "latest",
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(tps)
        if from_beginning:
            offsets = await consumer.beginning_offsets(tps)
        else:
            offsets = await consumer.end_offsets(tps)
        for tp in tps:
            consumer.seek(tp, offsets[tp])
    except BaseException:
        await consumer.stop()
        raise
    return consumer


class SingleReply:
    """A waiter resolved by the first reply carrying its id (a query result)."""

    def __init__(self) -> None:
        self.future: asyncio.Future[Mapping[str, Any]] = asyncio.get_running_loop().create_future()

    def feed(self, value: Mapping[str, Any]) -> None:
        if not self.future.done():
            self.future.set_result(value)

    def fail(self, exc: BaseException) -> None:
        if not self.future.done():
            self.future.set_exception(exc)


class ReplyReader:
    """Reads one reply topic from its end and dispatches maps to registered waiters."""

    def __init__(self, settings: Settings, topic: str, id_field: str, client_id: str) -> None:
        self.topic = topic
        self.id_field = id_field
        self._settings = settings
        self._client_id = client_id
        self._waiters: dict[str, ReplyWaiter] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._error: BaseException | None = None
        self.dropped = 0

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self, partitions: list[int]) -> None:
        """Position at the end of every partition, then read in the background."""
        self._consumer = await open_positioned_consumer(
            self._settings, self.topic, partitions, client_id=self._client_id
        )
        self._task = asyncio.create_task(self._run(self._consumer), name=f"replies:{self.topic}")
        log.debug("reply reader started", topic=self.topic, partitions=len(partitions))

    def register(self, key: str, waiter: ReplyWaiter) -> None:
        if self._error is not None:
            raise self._error
        if key in self._waiters:
            raise ValueError(f"{self.id_field} {key!r} is already awaited")
        self._waiters[key] = waiter

    def unregister(self, key: str) -> None:
        self._waiters.pop(key, None)

    def dispatch(self, key: bytes | None, value: Any) -> None:
        """Hand one decoded reply to its waiter (exposed for the reader loop)."""
        if not isinstance(value, Mapping):
            self.dropped += 1
            return
        ident = value.get(self.id_field)
        if not isinstance(ident, str):
            ident = key.decode("utf-8", "replace") if key is not None else None
        waiter = self._waiters.get(ident) if ident is not None else None
        if waiter is None:
            return
        waiter.feed(value)

    async def _run(self, consumer: AIOKafkaConsumer) -> None:
        try:
            while True:
                batches = await consumer.getmany(timeout_ms=1000)
                for records in batches.values():
                    for msg in records:
                        if msg.value is None:
                            continue
                        try:
                            value = decode_value(msg.value, msg.headers)
                        except ValueError as exc:
                            self.dropped += 1
                            log.debug("undecodable reply", topic=self.topic, error=str(exc))
                            continue
                        self.dispatch(msg.key, value)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.error("reply reader stopped", topic=self.topic, error=repr(exc))
            self._fail_all(exc)

    def _fail_all(self, exc: BaseException) -> None:
        self._error = exc
        waiters = list(self._waiters.values())
        self._waiters.clear()
        for waiter in waiters:
            waiter.fail(exc)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None
        self._fail_all(EngineClosed("engine closed while waiting for a reply"))
