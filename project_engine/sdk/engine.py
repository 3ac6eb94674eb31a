"""The :class:`Engine` client and :func:`create_project`: publishing graph ops and querying.

One engine owns one idempotent producer (``acks="all"``) and, started on first use, one
reply reader per reply topic (acks for ``add_graph(wait=True)``, results for queries).
All its methods may be called concurrently from many tasks.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import os
import time
import uuid
from collections.abc import AsyncIterable, Iterable, Mapping
from types import TracebackType
from typing import Any

import structlog

from project_engine.sdk.chunking import DEFAULT_CHUNK_SIZE, ChunkIds, as_async_chunks
from project_engine.sdk.connect import start_producer
from project_engine.sdk.errors import EngineClosed, EngineTimeout, QueryError
from project_engine.sdk.query_cache import QueryCache
from project_engine.sdk.replies import ReplyReader, SingleReply, partitions_of
from project_engine.sdk.retry import RetryPolicy, retry_call
from project_engine.sdk.sending import ChunkSender, SendOptions
from project_engine.sdk.stream import Stream
from project_engine.sdk.summary import AddGraphSummary, EngineMetrics
from project_engine.sdk.wire import Encoding, content_type, encode_value, parse_encoding
from schemas.settings import KafkaSecurity, Settings

__all__ = ["Engine", "create_project"]

log = structlog.get_logger(__name__)
_SETTING_NAMES = frozenset(f.name for f in dataclasses.fields(Settings)) - {"security"}
_SECURITY_NAMES = frozenset(f.name for f in dataclasses.fields(KafkaSecurity))


async def create_project(
    settings: Settings | None = None,
    *,
    client_id: str | None = None,
    encoding: str = "msgpack",
    max_in_flight: int = 8,
    retry: RetryPolicy | None = None,
    caching: bool = True,
    cache_ttl: float = 0.0,
    cache_size: int = 1024,
    **overrides: Any,
) -> Engine:
    """Connect to Kafka and return an :class:`Engine`.

    ``caching`` lets workers answer repeated queries from their result cache, which is
    never stale (an entry is used only while every partition it read is unchanged);
    ``False`` makes every query evaluate afresh. The cache size is a worker setting
    (``query_cache_size``).

    ``cache_ttl`` > 0 also keeps results in this client (up to ``cache_size`` of them, by
    recent use): a read-only query repeated within ``cache_ttl`` seconds is answered without
    Kafka, and may miss other clients' writes of that time; this client's own
    ``add_graph`` clears it (:mod:`project_engine.sdk.query_cache`). Off by default.

    Without ``settings`` they are loaded from ``overrides`` and ``PROJECT_ENGINE_*``
    environment variables; with ``settings``, ``overrides`` replace single fields.
    """
    unknown = set(overrides) - _SETTING_NAMES - _SECURITY_NAMES
    if unknown:
        raise TypeError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    if settings is None:
        settings = Settings.load(overrides, env=os.environ)
    elif overrides:
        plain = {k: v for k, v in overrides.items() if k in _SETTING_NAMES}
        sec = {k: v for k, v in overrides.items() if k in _SECURITY_NAMES}
        if sec:
            plain["security"] = dataclasses.replace(settings.security, **sec)
        settings = settings.replace(**plain)
        settings.validate()
    if max_in_flight < 1:
        raise ValueError(f"max_in_flight must be at least 1, got {max_in_flight}")
    engine = Engine(
        settings,
        client_id=client_id or f"pe-{uuid.uuid4().hex[:12]}",
        encoding=parse_encoding(encoding),
        max_in_flight=max_in_flight,
        retry=retry or RetryPolicy(),
        caching=caching,
        cache=QueryCache(cache_ttl, cache_size),
    )
    await engine.connect()
    return engine


class Engine:
    """A connection to one engine's topics; create it with :func:`create_project`."""

    def __init__(
        self,
        settings: Settings,
        *,
        client_id: str,
        encoding: Encoding,
        max_in_flight: int,
        retry: RetryPolicy,
        caching: bool = True,
        cache: QueryCache | None = None,
    ) -> None:
        self.settings = settings
        self.caching = caching
        self.cache = cache if cache is not None else QueryCache(0.0)
        self.client_id = client_id
        self.encoding: Encoding = encoding
        self.max_in_flight = max_in_flight
        self.retry = retry
        self.metrics = EngineMetrics()
        self._ids = ChunkIds(client_id)
        self._sem = asyncio.Semaphore(max_in_flight)
        self._rr = itertools.count()
        self._producer: Any = None
        self._partitions: dict[str, list[int]] = {}
        self._readers: dict[str, ReplyReader] = {}
        self._lock = asyncio.Lock()
        self._closed = False

    async def connect(self) -> None:
        """Start the producer, retrying transient connection errors by the policy."""
        self._producer = await start_producer(
            self.settings,
            client_id=self.client_id,
            retry=self.retry,
            linger_ms=0,
            max_batch_size=min(self.settings.max_message_bytes, 1_000_000),
            max_request_size=self.settings.max_message_bytes,
        )
        log.debug("engine connected", bootstrap=self.settings.bootstrap, client_id=self.client_id)

    async def __aenter__(self) -> Engine:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Flush pending sends, stop the reply readers and the producer (idempotent)."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._producer is not None:
                await self._producer.flush()
        finally:
            readers = list(self._readers.values())
            self._readers.clear()
            for reader in readers:
                await reader.stop()
            if self._producer is not None:
                await self._producer.stop()

    def _check_open(self) -> None:
        if self._closed or self._producer is None:
            raise EngineClosed("the engine is closed" if self._closed else "not connected")

    async def _partitions_for(self, topic: str) -> list[int]:
        cached = self._partitions.get(topic)
        if cached is None:

            async def lookup() -> list[int]:
                await partitions_of(self._producer.client, topic, self.settings.bootstrap)
                return sorted(await self._producer.partitions_for(topic))

            cached = await retry_call(lookup, self.retry, what=f"looking up topic {topic}")
            self._partitions[topic] = cached
        return cached

    async def _reader(self, topic: str, id_field: str) -> ReplyReader:
        async with self._lock:
            self._check_open()
            reader = self._readers.get(topic)
            if reader is not None and reader.running:
                return reader
            if reader is not None:
                await reader.stop()
            partitions = await self._partitions_for(topic)
            reader = ReplyReader(
                self.settings, topic, id_field, client_id=f"{self.client_id}-replies"
            )
            await reader.start(partitions)
            self._readers[topic] = reader
            return reader

    async def add_graph(
        self,
        items: Iterable[Any] | AsyncIterable[Any] | Mapping[str, Any],
        *,
        parallel: bool = True,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        wait: bool = False,
        timeout: float | None = 60.0,
        key: str | None = None,
        ordered: bool = True,
    ) -> AddGraphSummary:
        """Publish ops (maps in wire form or ``schemas.ops`` objects) to the input topic.

        ``ordered`` sends every chunk with one key (``key`` or the engine's ``client_id``)
        so workers apply them in order; ``ordered=False`` without a ``key`` spreads chunks
        round-robin over the partitions. ``wait`` also waits, up to ``timeout`` seconds
        after the last send, until workers report every chunk applied; chunks they reject
        are listed in ``failed``, and running out of time raises :class:`EngineTimeout`
        (an :class:`AckTimeout` carrying the summary so far).
        """
        self._check_open()
        self.cache.clear()  # results from before these writes
        limit = self.settings.max_items_per_chunk
        if not 1 <= chunk_size <= limit:
            raise ValueError(f"chunk_size must be between 1 and {limit}, got {chunk_size}")
        started = time.monotonic()
        topic = self.settings.topics.input
        partitions = await self._partitions_for(topic)
        acks = await self._reader(self.settings.topics.acks, "chunk_id") if wait else None
        msg_key = key if key is not None else (self.client_id if ordered else None)

        def next_partition() -> int | None:
            return partitions[next(self._rr) % len(partitions)]

        sender = ChunkSender(
            self._producer,
            SendOptions(
                topic=topic,
                key=msg_key.encode("utf-8") if msg_key is not None else None,
                ordered=ordered,
                parallel=parallel,
                encoding=self.encoding,
                want_ack=wait,
            ),
            semaphore=self._sem,
            metrics=self.metrics,
            retry=self.retry,
            next_partition=next_partition,
            acks=acks,
        )
        try:
            await sender.run(as_async_chunks(items, chunk_size, self._ids))
            if wait:
                await sender.wait_applied(timeout)
        finally:
            sender.summary.seconds = time.monotonic() - started
            self.cache.clear()  # and any asked for while they were being sent
        summary = sender.summary
        log.debug("add_graph done", chunks=summary.chunks, items=summary.items)
        return summary

    async def create_stream(
        self,
        kinds: Iterable[str] = ("results", "errors", "matches"),
        *,
        topics: Iterable[str] | None = None,
        start: str = "latest",
        group_id: str | None = None,
        buffer_size: int = 1000,
        keep_raw: bool = False,
    ) -> Stream:
        """A started :class:`Stream` of this engine's results, errors and matches topics.

        Use it with ``async for item in stream`` or ``stream.on("data", fn)``; close it with
        ``close()`` or ``async with``. It has its own consumer and outlives :meth:`close`.
        """
        self._check_open()
        if start not in ("latest", "earliest"):
            raise ValueError(f"start must be 'latest' or 'earliest', got {start!r}")
        stream = Stream(
            self.settings,
            kinds=kinds,
            topics=topics,
            start="latest" if start == "latest" else "earliest",
            group_id=group_id,
            buffer_size=buffer_size,
            keep_raw=keep_raw,
            client_id=f"{self.client_id}-stream",
        )
        return await stream.start()

    async def query(self, q: Mapping[str, Any], *, timeout: float = 30.0) -> Any:
        """Send one query and return its result.

        Raises :class:`QueryError` when the engine answers with an error (after retrying
        retryable ones with backoff while time remains) and :class:`EngineTimeout` when
        no answer arrives within ``timeout`` seconds.
        """
        self._check_open()
        if not isinstance(q, Mapping):
            raise TypeError(f"a query is a map, got {type(q).__name__}")
        message = dict(q)
        query_id = message.setdefault("query_id", uuid.uuid4().hex)
        if not isinstance(query_id, str) or not query_id:
            raise ValueError("query_id must be a non-empty string")
        reply_topic = message.get("reply_to") or self.settings.topics.results
        if not isinstance(reply_topic, str):
            raise ValueError("reply_to must be a topic name")
        cache_key = self.cache.key(message)
        generation = self.cache.generation
        if cache_key is not None:
            hit, result = self.cache.get(cache_key)
            if hit:
                self.metrics.client_cache_hits += 1
                return result
        reader = await self._reader(reply_topic, "query_id")
        end = time.monotonic() + timeout
        attempt = 0
        while True:
            attempt += 1
            remaining = end - time.monotonic()
            if remaining <= 0:
                raise EngineTimeout(f"no reply to query {query_id} within {timeout}s")
            if "timeout_ms" not in q:
                message["timeout_ms"] = max(1, int(remaining * 1000))
            reply = await self._ask(reader, query_id, message, remaining, timeout)
            if reply.get("status") == "ok":
                if reply.get("cached"):
                    self.metrics.cache_hits += 1
                else:
                    self.metrics.cache_misses += 1
                result = reply.get("result")
                if cache_key is not None:
                    self.cache.put(cache_key, result, generation)
                return result
            err = QueryError.from_reply(reply)
            delay = self.retry.backoff(attempt)
            if (
                not err.retryable
                or attempt >= self.retry.max_attempts
                or time.monotonic() + delay >= end
            ):
                raise err
            log.info("retrying query", query_id=query_id, code=err.code, attempt=attempt)
            await asyncio.sleep(delay)

    async def _ask(
        self,
        reader: ReplyReader,
        query_id: str,
        message: dict[str, Any],
        remaining: float,
        total: float,
    ) -> Mapping[str, Any]:
        waiter = SingleReply()
        reader.register(query_id, waiter)
        try:
            async with asyncio.timeout(remaining):
                await self._send_query(query_id, message, remaining)
                return await waiter.future
        except TimeoutError:
            raise EngineTimeout(f"no reply to query {query_id} within {total}s") from None
        finally:
            reader.unregister(query_id)

    async def _send_query(self, query_id: str, message: dict[str, Any], remaining: float) -> None:
        topic = self.settings.topics.queries
        await self._partitions_for(topic)
        value = encode_value(message, self.encoding)
        headers = [
            ("content-type", content_type(self.encoding)),
            ("cache", b"1" if self.caching else b"0"),
        ]

        async def send() -> None:
            await self._producer.send_and_wait(
                topic, value, key=query_id.encode("utf-8"), headers=headers
            )

        policy = dataclasses.replace(self.retry, deadline=remaining)
        await retry_call(send, policy, what=f"sending query {query_id} to {topic}")
        self.metrics.queries_sent += 1
