"""Where the time of a query goes: the worker's own timing, and round trips split in two.

- The worker observes ``engine_query_seconds{type=...}`` on its Prometheus ``/metrics`` page
  from accepting a query (decoded and validated) to handing its answer to the producer,
  cached answers included. The difference of the histogram's ``_sum`` and ``_count`` before
  and after a measurement gives the mean time a query of that type spent inside the
  worker's query agent (:func:`scrape_query_times`, :func:`mean_seconds`).
- A result record carries its creation time (Kafka ``CreateTime``, in ms), set when the
  worker's producer took the answer. :class:`ReplyClock` reads the result topic alongside
  the SDK and keeps that time per query id; :func:`marking_probe` sends each query with an
  id of its own and notes when it was sent and answered. :func:`split_round_trips` then
  gives, on one machine's clock, *to answer*: from the SDK's send until the worker sent the
  answer (the SDK's producer, the broker, the worker's consumer, any wait behind other work
  in the worker, the evaluation) and *answer to client*: from then until the SDK returned
  it (the worker's producer, the broker, the SDK's reply reader). Both are rounded to the
  record time's millisecond.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import urllib.request
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from aiokafka import AIOKafkaConsumer

from benchmarks.harness import EngineWorker
from benchmarks.query_load import Probe
from benchmarks.query_stats import summarize
from project_engine.sdk import Engine
from project_engine.sdk.replies import lookup_partitions, open_positioned_consumer
from schemas.settings import Settings

__all__ = [
    "Marks",
    "QueryTimes",
    "ReplyClock",
    "WebWorker",
    "marking_probe",
    "mean_seconds",
    "parse_query_times",
    "scrape_query_times",
    "split_round_trips",
]

QueryTimes = dict[str, tuple[float, float]]  # type -> (sum of seconds, count)

_SAMPLE = re.compile(
    r'^engine_query_seconds_(sum|count)\{type="([^"]+)"\}\s+([0-9.eE+-]+|NaN|[+-]Inf)\s*$'
)


@dataclass
class WebWorker(EngineWorker):
    """An :class:`EngineWorker` that remembers the port of its web server."""

    web_port: int | None = None

    def command(self, data_dir: Path, web_port: int) -> list[str]:
        self.web_port = web_port
        return super().command(data_dir, web_port)

    @property
    def metrics_url(self) -> str | None:
        return None if self.web_port is None else f"http://127.0.0.1:{self.web_port}/metrics"


def parse_query_times(text: str) -> QueryTimes:
    """``{type: (sum, count)}`` of the query-time histogram in a Prometheus text page."""
    sums: dict[str, float] = {}
    counts: dict[str, float] = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match is None:
            continue
        which, qtype, value = match.groups()
        (sums if which == "sum" else counts)[qtype] = float(value)
    return {t: (sums.get(t, 0.0), counts.get(t, 0.0)) for t in sorted(set(sums) | set(counts))}


def mean_seconds(before: QueryTimes, after: QueryTimes, qtype: str) -> float | None:
    """Mean seconds per query of ``qtype`` observed between two scrapes (None if none)."""
    s1, c1 = after.get(qtype, (0.0, 0.0))
    s0, c0 = before.get(qtype, (0.0, 0.0))
    return (s1 - s0) / (c1 - c0) if c1 > c0 else None


def _fetch(url: str, timeout: float) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        body: bytes = response.read()
    return body.decode("utf-8", "replace")


async def scrape_query_times(worker: WebWorker, timeout: float = 5.0) -> QueryTimes | None:
    """The worker's query-time histogram now; None when the page cannot be read."""
    url = worker.metrics_url
    if url is None:
        return None
    try:
        text = await asyncio.to_thread(_fetch, url, timeout)
    except OSError:
        return None
    return parse_query_times(text)


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
