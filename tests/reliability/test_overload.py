"""A raw producer publishes far beyond apply speed for a sustained period: the
worker's memory stays bounded, the consumer group's lag grows and then drains, and nothing is
lost (digest against the reference).

Memory bound: the worker reads ahead at most Faust's stream buffer (``stream_buffer_maxsize``
= 1024 messages per partition, agents/app.py) plus one fetch (``consumer_max_fetch_size``,
2 MiB per partition), whatever the backlog. With messages of ``OPS_PER_MESSAGE`` ops (about
``MESSAGE_BYTES`` on the wire, a few times that decoded) that is tens of MiB of input held,
plus the producer's batches of parts and changelog records. The RSS the final graph needs is
measured on a control worker that ingests the same graph at its own pace. ``RSS_BOUND_MIB``
above it leaves room for the read-ahead and allocator slack (measured: 33-40 MiB), while a
worker that buffered the backlog (hundreds of thousands of decoded ops, roughly 1 KiB each)
would exceed it several times over.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import msgpack
import pytest
from aiokafka import AIOKafkaProducer

from project_engine.kafka_config import aiokafka_kwargs
from project_engine.sdk import create_project
from project_engine.topics import ensure_topics
from schemas.settings import Settings
from tests.support.faults import (
    RssSampler,
    group_lag,
    report,
    require,
    rss_kib,
    scenario_timeout,
    wait_ready,
)
from tests.support.graphs import conflict_free_edges, reference_of
from tests.support.reference import reference_digest
from tests.support.workers import WorkerProcess, eventually, unique_settings

pytestmark = [pytest.mark.integration, pytest.mark.reliability, scenario_timeout()]

# (publish seconds, distinct ops in the pool, max ops published, offered ops/s or None)
# The short version publishes flat out and stops at its op cap long before 20 s: at the
# ~15-30k ops/s this machine applies, every second of flat-out publishing (~300k ops and
# more) costs 10-20 s of draining. The long version sustains the overload instead: 60 s at
# 100k ops/s offered (several times the apply rate), 6M ops, minutes of draining.
SIZES: dict[str, tuple[float, int, int, float | None]] = {
    "short": (20.0, 100_000, 600_000, None),
    "long": (60.0, 1_000_000, 6_000_000, 100_000.0),
}
OPS_PER_MESSAGE = 200
RSS_BOUND_MIB = 200
SLOWEST_DRAIN_OPS_PER_S = 5_000  # the drain may take as long as this rate would need


async def graph_rss_kib(settings: Settings, ops: list[dict[str, Any]]) -> int:
    """RSS of a worker holding the graph of ``ops``, ingested at its own pace."""
    await ensure_topics(settings)
    worker = WorkerProcess(settings, name="control").start()
    engine = await create_project(settings, client_id="control")
    try:
        await wait_ready(engine, worker)
        summary = await engine.add_graph(ops, ordered=False, wait=True, timeout=300)
        require(not summary.failed, f"control ingest: {summary}")
        await asyncio.sleep(2.0)
        assert worker.proc is not None
        return rss_kib(worker.proc.pid) or 0
    finally:
        await engine.close()
        worker.stop()


async def test_flat_out_publishing_keeps_memory_bounded_and_drains(
    settings: Settings, size: str, record_property: Any, tmp_path: Path
) -> None:
    seconds, pool_size, max_ops, offered = SIZES[size]
    ops = conflict_free_edges(pool_size // 4, pool_size, seed=31, prefix="o")
    ref = reference_of(ops)
    expected = reference_digest(ref)
    messages = [
        msgpack.packb({"chunk_id": f"ov{i}", "items": ops[i : i + OPS_PER_MESSAGE]})
        for i in range(0, len(ops), OPS_PER_MESSAGE)
    ]
    message_bytes = sum(len(m) for m in messages) // len(messages)

    control_kib = await graph_rss_kib(unique_settings(settings.bootstrap, tmp_path / "ctl"), ops)
    await ensure_topics(settings)
    worker = WorkerProcess(settings, name="ov").start()
    engine = await create_project(settings, client_id="overload")
    producer = AIOKafkaProducer(
        **aiokafka_kwargs(settings), acks=1, linger_ms=20, max_batch_size=1_048_576
    )
    await producer.start()
    assert worker.proc is not None
    sampler = RssSampler(worker.proc.pid)
    lags: list[tuple[float, int]] = []
    lag_errors: list[str] = []
    started = time.monotonic()
    try:
        await wait_ready(engine, worker)
        idle_kib = rss_kib(worker.proc.pid) or 0
        sampler.start()

        async def sample_lag() -> None:
            while True:
                try:
                    lag = await group_lag(
                        settings, settings.app_id, [settings.topics.input, settings.topics.apply]
                    )
                    lags.append((time.monotonic(), sum(lag.values())))
                except Exception as exc:  # the group may not have committed yet
                    lag_errors.append(repr(exc))
                await asyncio.sleep(1.0)

        lag_task = asyncio.create_task(sample_lag())
        published = 0
        deadline = time.monotonic() + seconds
        i = 0
        publish_start = time.monotonic()
        while time.monotonic() < deadline and published < max_ops:
            if offered is not None:
                ahead = published / offered - (time.monotonic() - publish_start)
                if ahead > 0:
                    await asyncio.sleep(ahead)
            await producer.send(settings.topics.input, messages[i % len(messages)])
            published += OPS_PER_MESSAGE
            i += 1
            if i % 50 == 0:
                await asyncio.sleep(0)
        await producer.flush()
        publish_s = time.monotonic() - started
        publish_end = time.monotonic()

        # The pool repeats, so the graph is complete long before the backlog is consumed:
        # drain first, then compare.
        drained = await eventually(
            lambda: group_lag(
                settings, settings.app_id, [settings.topics.input, settings.topics.apply]
            ),
            lambda v: sum(v.values()) == 0,
            timeout=max(120.0, published / SLOWEST_DRAIN_OPS_PER_S),
            interval=2.0,
        )
        require(isinstance(drained, dict) and sum(drained.values()) == 0, f"lag left: {drained!r}")
        drain_s = time.monotonic() - publish_end
        got = await eventually(
            lambda: engine.query({"type": "digest"}, timeout=30),
            lambda v: v == expected,
            timeout=120,
            interval=2.0,
        )
        require(got == expected, f"digest {got!r} != {expected!r}\n{worker.log_tail()}")
        lag_task.cancel()
        await asyncio.gather(lag_task, return_exceptions=True)
        await asyncio.sleep(2.0)
        await sampler.stop()
        final_kib = rss_kib(worker.proc.pid) or 0
        peak_kib = sampler.peak_kib
        peak_lag = max((v for _, v in lags), default=0)
        over_mib = (peak_kib - control_kib) / 1024
        require(worker.alive, worker.log_tail())
        report(
            record_property,
            "overload",
            {
                "ops_published": published,
                "messages": i,
                "message_bytes": message_bytes,
                "publish_s": round(publish_s, 1),
                "publish_ops_per_s": int(published / publish_s),
                "offered_ops_per_s": offered or "flat out",
                "drain_s": round(drain_s, 1),
                "apply_ops_per_s": int(published / (time.monotonic() - started)),
                "peak_lag_messages": peak_lag,
                "final_lag": 0,
                "rss_idle_mib": round(idle_kib / 1024, 1),
                "rss_peak_mib": round(peak_kib / 1024, 1),
                "rss_final_mib": round(final_kib / 1024, 1),
                "rss_graph_at_own_pace_mib": round(control_kib / 1024, 1),
                "peak_over_graph_mib": round(over_mib, 1),
                "rss_bound_mib": RSS_BOUND_MIB,
                "digest_equal": True,
            },
        )
        require(peak_lag > 0, f"lag never grew: {lag_errors[-3:]}")
        require(over_mib < RSS_BOUND_MIB, f"RSS peak {over_mib:.0f} MiB over the graph's own")
    finally:
        await sampler.stop()
        await producer.stop()
        await engine.close()
        worker.stop()
