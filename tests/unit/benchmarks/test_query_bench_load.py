"""The request drivers of the query benchmark, with a fake probe (no broker)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from benchmarks.query_load import NO_ANSWER, closed_loop, open_loop, sequential
from project_engine.sdk import EngineTimeout, QueryError


async def _probe(request: Any) -> object:
    await asyncio.sleep(0.001)
    if request == "bad":
        raise QueryError("limit_exceeded", "too big")
    if request == "silent":
        raise EngineTimeout("no reply")
    return request


async def test_sequential_times_answers_and_counts_errors() -> None:
    answered: list[Any] = []
    samples = await sequential(_probe, ["a", "bad", "b", "silent"], answered)
    assert answered == ["a", "b"]
    assert len(samples.latencies) == 2
    assert samples.errors == {"limit_exceeded": 1, NO_ANSWER: 1}
    assert len(samples.error_latencies) == 1
    assert all(t >= 0.001 for t in samples.latencies)
    assert samples.seconds >= 0.004


async def test_closed_loop_keeps_every_caller_busy() -> None:
    seen: list[Any] = []
    in_flight = 0
    peak = 0

    async def probe(request: Any) -> object:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        seen.append(request)
        await asyncio.sleep(0.002)
        in_flight -= 1
        return request

    samples = await closed_loop(probe, [1, 2, 3], concurrency=4, seconds=0.05)
    assert peak == 4
    assert len(samples.latencies) == len(seen) >= 4
    assert seen[:4] == [1, 2, 3, 1]
    assert samples.per_second is not None


async def test_open_loop_stops_starting_requests_once_told() -> None:
    stop = asyncio.Event()
    started: list[Any] = []

    async def probe(request: Any) -> object:
        started.append(request)
        if len(started) == 10:
            stop.set()
        await asyncio.sleep(0.005)  # answers come after later requests were started
        return request

    samples = await open_loop(probe, ["a", "b"], rate=1000, stop=stop)
    assert 10 <= len(started) <= 12
    assert started[:4] == ["a", "b", "a", "b"]
    assert len(samples.latencies) == len(started)  # every started request was waited for


async def test_open_loop_runs_at_least_min_seconds() -> None:
    stop = asyncio.Event()
    stop.set()
    samples = await open_loop(_probe, ["a"], rate=100, stop=stop, min_seconds=0.05)
    assert samples.seconds >= 0.05
    assert len(samples.latencies) >= 1


async def test_drivers_refuse_nothing_to_send() -> None:
    with pytest.raises(ValueError):
        await closed_loop(_probe, [], concurrency=1, seconds=0.01)
    with pytest.raises(ValueError):
        await open_loop(_probe, ["a"], rate=0, stop=asyncio.Event())
