"""Two workers; one is killed with SIGKILL and later started again, so partitions move to the
survivor and back while ingest and queries continue. The longest gap between answers to a
``stats`` query sent every 0.25 s is the unavailability window; the final state equals the
reference."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import pytest

from project_engine.sdk import Engine, create_project
from project_engine.topics import ensure_topics
from schemas.settings import Settings
from tests.support.faults import (
    StatsProbe,
    assigned_partitions,
    report,
    require,
    scenario_timeout,
    spot_check,
    wait_ready,
)
from tests.support.graphs import conflict_free_edges, reference_of
from tests.support.reference import reference_digest
from tests.support.workers import WorkerProcess, eventually

pytestmark = [pytest.mark.integration, pytest.mark.reliability, scenario_timeout()]

# (items, batches, rounds of kill + restart)
SIZES = {"short": (30_000, 30, 1), "long": (200_000, 100, 3)}
PARTITIONS = 4
# A SIGKILLed member is noticed after the broker session timeout (30 s in agents/app.py), then
# the group rebalances and the survivor rebuilds the moved partitions from the changelog.
MAX_UNAVAILABLE = 90.0


async def paced_ingest(engine: Engine, batches: list[list[dict[str, Any]]], pause: float) -> int:
    sent = 0
    for batch in batches:
        summary = await engine.add_graph(batch, ordered=False, chunk_size=500)
        require(not summary.failed, f"publish: {summary}")
        sent += summary.items
        await asyncio.sleep(pause)
    return sent


async def wait_partitions(worker: WorkerProcess, want: int, timeout: float = 120.0) -> int | None:
    got = await eventually(
        lambda: assigned_partitions(worker), lambda v: v == want, timeout=timeout
    )
    require(got == want, f"{worker.name} holds {got!r} partitions, not {want}\n{worker.log_tail()}")
    return got


async def test_kill_and_restart_of_one_of_two_workers_moves_partitions_both_ways(
    settings: Settings, size: str, record_property: Any
) -> None:
    items, batches, rounds = SIZES[size]
    settings = settings.replace(partitions=PARTITIONS)
    ops = conflict_free_edges(items // 4, items, seed=77, prefix="r")
    ref = reference_of(ops)
    expected = reference_digest(ref)
    step = len(ops) // batches
    parts = [ops[i : i + step] for i in range(0, len(ops), step)]

    await ensure_topics(settings)
    w1 = WorkerProcess(settings, name="w1").start()
    w2 = WorkerProcess(settings, name="w2").start()
    engine = await create_project(settings, client_id="rebalance")
    probe = StatsProbe(engine, query_timeout=120)
    started = time.monotonic()
    try:
        await wait_ready(engine, w1)
        await wait_partitions(w1, PARTITIONS // 2)
        await wait_partitions(w2, PARTITIONS // 2)
        probe.start()
        ingest = asyncio.create_task(paced_ingest(engine, parts, pause=1.0 * rounds * 2))
        kill_gaps: list[float] = []
        rejoin_gaps: list[float] = []
        rng = random.Random(5)
        for _ in range(rounds):
            await asyncio.sleep(rng.uniform(2.0, 5.0))
            killed = time.monotonic()
            w2.kill()
            await wait_partitions(w1, PARTITIONS)  # moved to the survivor
            await asyncio.sleep(3.0)
            kill_gaps.append(probe.longest_gap(since=killed, until=time.monotonic()))
            rejoined = time.monotonic()
            w2.start()
            await wait_partitions(w2, PARTITIONS // 2)  # and back
            await wait_partitions(w1, PARTITIONS // 2)
            await asyncio.sleep(3.0)
            rejoin_gaps.append(probe.longest_gap(since=rejoined, until=time.monotonic()))
        sent = await ingest
        require(sent == len(ops), f"sent {sent} of {len(ops)}")
        got = await eventually(
            lambda: engine.query({"type": "digest"}, timeout=30),
            lambda v: v == expected,
            timeout=240,
        )
        require(
            got == expected, f"digest {got!r} != {expected!r}\n{w1.log_tail()}\n{w2.log_tail()}"
        )
        checked = await spot_check(
            engine, ref, [f"r{i}" for i in range(0, items // 4, items // 100)]
        )
        await probe.stop()
        require(w1.alive and w2.alive, f"{w1.log_tail()}\n{w2.log_tail()}")
        worst = max(kill_gaps + rejoin_gaps)
        report(
            record_property,
            "rebalance",
            {
                "items": len(ops),
                "kill_restart_rounds": rounds,
                "unavailable_after_kill_s": "/".join(f"{g:.2f}" for g in kill_gaps),
                "unavailable_after_rejoin_s": "/".join(f"{g:.2f}" for g in rejoin_gaps),
                "stats_sent": probe.sent,
                "stats_answered": len(probe.answered_at),
                "stats_failed": probe.failures,
                "digest_equal": True,
                "nodes_spot_checked": checked,
                "seconds": round(time.monotonic() - started, 1),
            },
        )
        require(worst < MAX_UNAVAILABLE, f"unavailable for {worst:.1f} s")
    finally:
        await probe.stop(drain=0.1)
        await engine.close()
        w1.stop()
        w2.stop()
