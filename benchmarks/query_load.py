"""Ways of sending requests and timing their round trips, for the SDK and the echo floor alike.

A *probe* sends one request and returns once its answer is in; it raises
:class:`~project_engine.sdk.QueryError` for an error answer and ``TimeoutError`` (the SDK's
``EngineTimeout`` is one) when none came. Every round trip is timed with
``time.perf_counter`` around the whole call.

- :func:`sequential`: one request after the other.
- :func:`closed_loop`: ``concurrency`` callers, each sending its next request as soon as it
  has an answer, for ``seconds``; gives a rate.
- :func:`open_loop`: requests started at a fixed rate whether or not earlier ones are
  answered, until told to stop; latencies then include any queueing in the engine.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from benchmarks.query_stats import Samples
from project_engine.sdk import Engine, QueryError

__all__ = [
    "NO_ANSWER",
    "Probe",
    "closed_loop",
    "engine_probe",
    "open_loop",
    "sequential",
    "timed",
]

Probe = Callable[[Any], Awaitable[object]]
NO_ANSWER = "no_answer"


def engine_probe(engine: Engine, timeout: float) -> Probe:
    """A probe sending a query through the SDK ``engine``."""

    async def probe(query: Any) -> object:
        return await engine.query(query, timeout=timeout)

    return probe


async def timed(probe: Probe, request: Any, samples: Samples) -> bool:
    """One timed round trip; whether it was answered without error."""
    started = time.perf_counter()
    try:
        await probe(request)
    except QueryError as exc:
        samples.add_error(exc.code, time.perf_counter() - started)
    except TimeoutError:
        samples.add_error(NO_ANSWER)
    else:
        samples.latencies.append(time.perf_counter() - started)
        return True
    return False


async def sequential(
    probe: Probe,
    requests: Sequence[Any],
    answered: list[Any] | None = None,
    before_each: Callable[[], Awaitable[object]] | None = None,
) -> Samples:
    """Send ``requests`` one by one; each round trip is one sample. Those answered without
    error are appended to ``answered`` when it is given. ``before_each`` is awaited before
    each request, outside its timing (to interleave another measurement)."""
    samples = Samples.empty()
    started = time.perf_counter()
    for request in requests:
        if before_each is not None:
            await before_each()
        if await timed(probe, request, samples) and answered is not None:
            answered.append(request)
    samples.seconds = time.perf_counter() - started
    return samples


async def closed_loop(
    probe: Probe, requests: Sequence[Any], *, concurrency: int, seconds: float
) -> Samples:
    """``concurrency`` callers taking requests in turn from ``requests`` (cycled) for
    ``seconds``; a round trip under way at the end is waited for and counted, so
    ``Samples.seconds`` runs until the last answer."""
    if not requests or concurrency < 1:
        raise ValueError("need at least one request and one caller")
    samples = Samples.empty()
    source = itertools.cycle(requests)
    started = time.perf_counter()
    stop_at = started + seconds

    async def caller() -> None:
        while time.perf_counter() < stop_at:
            await timed(probe, next(source), samples)

    await asyncio.gather(*(caller() for _ in range(concurrency)))
    samples.seconds = time.perf_counter() - started
    return samples


async def open_loop(
    probe: Probe,
    requests: Sequence[Any],
    *,
    rate: float,
    stop: asyncio.Event,
    min_seconds: float = 0.0,
    max_seconds: float = 3600.0,
) -> Samples:
    """Start one request every ``1 / rate`` seconds (``requests`` cycled) until ``stop`` is
    set and ``min_seconds`` have passed, or ``max_seconds`` have; then wait for the answers
    of those started. ``Samples.seconds`` is the time requests were being started."""
    if not requests or rate <= 0:
        raise ValueError("need at least one request and a positive rate")
    samples = Samples.empty()
    source = itertools.cycle(requests)
    started = time.perf_counter()
    tasks: set[asyncio.Task[bool]] = set()
    try:
        for n in itertools.count():
            elapsed = time.perf_counter() - started
            if elapsed >= max_seconds or (stop.is_set() and elapsed >= min_seconds):
                break
            delay = started + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(timed(probe, next(source), samples))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        samples.seconds = time.perf_counter() - started
        if tasks:
            await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
    return samples
