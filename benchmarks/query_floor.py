"""The floor measurements of the query benchmark: echo round trips next to the queries.

:func:`echo_floor` runs an echo server (:mod:`benchmarks.query_echo`) and a client for as
long as the measurements that are compared with it: on a shared machine, a floor measured
minutes apart from the queries would see another background load. So the floor every
latency ratio refers to is taken *interleaved* with the cold queries (one echo round trip
before each query, see :func:`benchmarks.query_phases.query_phase`), and each concurrent
floor right before the engine at the same number of callers. :func:`floor_sequential`
measures a floor on its own (the 5 ms linger one, for comparison).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from benchmarks.baselines import create_topic
from benchmarks.engine_run import CpuUse
from benchmarks.phases import progress
from benchmarks.query_echo import EchoClient, EchoProcess
from benchmarks.query_load import closed_loop, sequential, timed
from benchmarks.query_report import FLOOR, LatencyRow, LoadRow, QueryReport
from benchmarks.query_stats import Samples
from project_engine.sdk.wire import encode_value
from schemas.settings import Settings

__all__ = ["Echo", "echo_floor", "floor_concurrent", "floor_sequential", "interleaved_floor"]

WARMUP = 20
#: A request the size of a node query as the SDK encodes it.
REQUEST = encode_value(
    {"type": "node", "id": "n12345", "query_id": "0" * 32, "timeout_ms": 29_999}, "msgpack"
)


@dataclass
class Echo:
    """A running echo server and a client connected to it."""

    label: str
    client: EchoClient
    pid: int | None
    timeout: float

    async def probe(self, request: Any) -> object:
        return await self.client.round_trip(request, self.timeout)

    def pids(self, pids: dict[str, Any]) -> dict[str, Any]:
        return pids | {"echo": self.pid}


@asynccontextmanager
async def echo_floor(
    settings: Settings, stack: ExitStack, label: str, linger_ms: int, timeout: float
) -> AsyncIterator[Echo]:
    """An echo server lingering ``linger_ms`` and a client lingering as long, warmed up."""
    prefix = f"{settings.topic_prefix}echo{linger_ms}"
    requests, replies = f"{prefix}-requests", f"{prefix}-replies"
    for topic in (requests, replies):
        await create_topic(settings, topic, settings.partitions)
    server = EchoProcess(settings.bootstrap, requests, replies, settings.partitions, linger_ms)
    stack.callback(server.stop)
    await asyncio.to_thread(server.start)
    try:
        async with EchoClient(
            settings.bootstrap, requests, replies, settings.partitions, linger_ms
        ) as client:
            echo = Echo(label, client, server.pid, timeout)
            await sequential(echo.probe, [REQUEST] * WARMUP)
            yield echo
    finally:
        server.stop()


def interleaved_floor(echo: Echo) -> tuple[Samples, Any]:
    """Samples to collect the floor in, and a ``before_each`` adding one round trip to them
    (for :func:`~benchmarks.query_load.sequential`)."""
    samples = Samples.empty()

    async def once() -> None:
        await timed(echo.probe, REQUEST, samples)

    return samples, once


async def floor_sequential(
    echo: Echo, key: str, count: int, report: QueryReport, pids: dict[str, Any]
) -> None:
    """``count`` echo round trips one after the other, as a latency row ``key``."""
    progress(f"{echo.label}: {count:,} sequential round trips")
    cpu = CpuUse(echo.pids(pids))
    cpu.start()
    samples = await sequential(echo.probe, [REQUEST] * count)
    cpu.stop()
    report.latency.append(LatencyRow(key, echo.label, samples, floor=True))
    report.cpu[f"{echo.label}, sequential"] = cpu.share_of_core(samples.seconds)


async def floor_concurrent(
    echo: Echo, callers: int, seconds: float, report: QueryReport, pids: dict[str, Any]
) -> str:
    """Echo round trips from ``callers`` concurrent callers for ``seconds``, as a load row;
    returns its key."""
    progress(f"{echo.label}: {callers} concurrent callers for {seconds:g} s")
    cpu = CpuUse(echo.pids(pids))
    cpu.start()
    samples = await closed_loop(echo.probe, [REQUEST], concurrency=callers, seconds=seconds)
    cpu.stop()
    key, load = f"{FLOOR}_concurrent_{callers}", f"{callers} callers"
    report.loads.append(LoadRow(key, echo.label, load, samples, key))
    report.cpu[f"{echo.label}, {load}"] = cpu.share_of_core(samples.seconds)
    return key
