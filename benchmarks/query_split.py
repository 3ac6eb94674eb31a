"""Splitting query round trips at the moment the worker sent the answer.

A result record carries its creation time (Kafka ``CreateTime``, in ms), set when the
worker's producer took the answer, after the query was evaluated. :class:`ReplyClock` reads
the result topic alongside the SDK and keeps that time per query id; :func:`marking_probe`
sends each query with a query id of its own and notes the wall-clock times it was sent and
answered. With both (one machine, one clock):

- *to answer*: from the SDK's send until the worker sent the answer: the request's way
  through the SDK's producer, the broker and the worker's consumer, any wait in the worker
  (behind other work on its event loop), and the evaluation;
- *answer to client*: from then until the SDK returned it: the worker's producer, the broker
  and the SDK's reply reader.

Both are rounded to the record time's millisecond.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from aiokafka import AIOKafkaConsumer

from benchmarks.query_load import Probe
from benchmarks.query_stats import summarize
from project_engine.sdk import Engine
from project_engine.sdk.replies import lookup_partitions, open_positioned_consumer
from schemas.settings import Settings

__all__ = ["Marks", "ReplyClock", "marking_probe", "split_round_trips"]

Marks = dict[str, tuple[float, float]]  # query id -> (sent, answered), time.time() seconds


class ReplyClock:
    """Creation times (seconds) of result records by key (the query id); ``async with``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.created: dict[str, float] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._more = asyncio.Event()  # set when records came in

    async def __aenter__(self) -> ReplyClock:
        topic = self.settings.topics.results
        partitions = await lookup_partitions(self.settings, topic)
        self._consumer = await open_positioned_consumer(
            self.settings, topic, partitions, client_id="bench-reply-clock"
        )
        self._task = asyncio.create_task(self._read(self._consumer), name="reply-clock")
        return self

    async def _read(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            batches = await consumer.getmany(timeout_ms=1000)
            for records in batches.values():
                for msg in records:
                    if msg.key is not None and msg.timestamp is not None:
                        self.created[msg.key.decode("utf-8", "replace")] = msg.timestamp / 1000
            if batches:
                self._more.set()

    async def wait_for(self, ids: list[str], timeout: float = 5.0) -> None:
        """Until every id in ``ids`` has been seen, or ``timeout`` seconds passed."""
        deadline = time.monotonic() + timeout
        while any(i not in self.created for i in ids):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._more.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._more.wait(), remaining)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()


def marking_probe(engine: Engine, timeout: float, marks: Marks) -> Probe:
    """A probe sending each query with a fresh query id and noting when it was sent and
    answered (errors included) in ``marks``."""

    async def probe(query: Any) -> object:
        query_id = uuid.uuid4().hex
        sent = time.time()
        try:
            return await engine.query({**query, "query_id": query_id}, timeout=timeout)
        finally:
            marks[query_id] = (sent, time.time())

    return probe


def split_round_trips(marks: Marks, created: Mapping[str, float]) -> dict[str, Any]:
    """p50/p95/p99 (ms) of both parts of the round trips found in both maps."""
    to_answer: list[float] = []
    to_client: list[float] = []
    for query_id, (sent, answered) in marks.items():
        at = created.get(query_id)
        if at is None:
            continue
        to_answer.append(max(at - sent, 0.0))
        to_client.append(max(answered - at, 0.0))
    out: dict[str, Any] = {"matched": len(to_answer)}
    for name, values in (("to_answer", to_answer), ("answer_to_client", to_client)):
        summary = summarize(values)
        out[name] = None if summary is None else summary.to_json()
    return out
