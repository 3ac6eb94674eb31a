"""A storm of adversarial traversals (khop at maximum depth from a hub whose frontier is far
over the work limit, many at once) ends in ``limit_exceeded`` errors, while ingest and
other queries continue; ``stats`` latency is measured during the storm."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from project_engine.sdk import QueryError, create_project
from project_engine.topics import ensure_topics
from schemas.settings import Settings
from tests.support.faults import (
    StatsProbe,
    report,
    require,
    scenario_timeout,
    spot_check,
    wait_ready,
)
from tests.support.graphs import conflict_free_edges, hub_edges, reference_of
from tests.support.reference import reference_digest
from tests.support.workers import WorkerProcess, eventually

pytestmark = [pytest.mark.integration, pytest.mark.reliability, scenario_timeout()]

# (hub leaves, concurrent adversarial queries, storm waves, items ingested during the storm)
SIZES = {"short": (20_000, 50, 12, 20_000), "long": (60_000, 200, 60, 200_000)}
MAX_VISITED = 5_000
MAX_STATS_LATENCY = 10.0  # seconds, for any stats answer during the storm


async def test_adversarial_traversal_storm_ends_in_limit_exceeded_while_ingest_continues(
    settings: Settings, size: str, record_property: Any
) -> None:
    leaves, concurrent, waves, during = SIZES[size]
    hub = hub_edges("hub", leaves, prefix="leaf")
    chain = [  # every leaf points on, so each level's frontier stays huge up to depth 10
        {"op": "upsert_edge", "src": f"leaf{i}", "dst": f"leaf{(i * 7 + 1) % leaves}", "type": "H"}
        for i in range(leaves)
    ]
    background = conflict_free_edges(during // 4, during, seed=8, prefix="g")
    ref = reference_of(hub, chain, background)
    expected = reference_digest(ref)

    await ensure_topics(settings)
    worker = WorkerProcess(
        settings, name="qod", extra_env={"PROJECT_ENGINE_QUERY_MAX_VISITED": str(MAX_VISITED)}
    ).start()
    engine = await create_project(settings, client_id="qod")
    attacker = await create_project(settings, client_id="attacker", caching=False)
    probe = StatsProbe(engine, query_timeout=60)
    started = time.monotonic()
    try:
        await wait_ready(engine, worker)
        summary = await engine.add_graph(hub + chain, ordered=False, wait=True, timeout=300)
        require(not summary.failed, f"setup: {summary}")
        probe.start()
        await asyncio.sleep(2.0)
        calm_latency = probe.max_latency()

        async def ingest() -> int:
            done = 0
            step = max(1, len(background) // 20)
            for k in range(0, len(background), step):
                s = await engine.add_graph(background[k : k + step], ordered=False, chunk_size=500)
                require(not s.failed, f"ingest: {s}")
                done += s.items
                await asyncio.sleep(0.2)
            return done

        async def adversary(n: int) -> str:
            q = {"type": "khop", "id": "hub", "depth": 10, "direction": "both" if n % 2 else "out"}
            try:
                await attacker.query(q, timeout=120)
            except QueryError as exc:
                return exc.code
            return "ok"

        storm_start = time.monotonic()
        ingest_task = asyncio.create_task(ingest())
        outcomes: list[str] = []
        wave_seconds: list[float] = []
        for w in range(waves):
            t0 = time.monotonic()
            outcomes += await asyncio.gather(
                *(adversary(w * concurrent + n) for n in range(concurrent))
            )
            wave_seconds.append(time.monotonic() - t0)
        storm_end = time.monotonic()
        storm_latencies = [
            lat
            for at, lat in zip(probe.answered_at, probe.latencies, strict=True)
            if at >= storm_start
        ]
        fits = await engine.query({"type": "khop", "id": "g1", "depth": 2}, timeout=60)
        ingested = await ingest_task
        got = await eventually(
            lambda: engine.query({"type": "digest"}, timeout=30),
            lambda v: v == expected,
            timeout=240,
        )
        require(got == expected, f"digest {got!r} != {expected!r}\n{worker.log_tail()}")
        checked = await spot_check(engine, ref, ["hub", "leaf0", "leaf1", "g0", "g1", "g2"])
        await probe.stop()
        gap = probe.longest_gap(since=storm_start, until=storm_end)
        codes = {c: outcomes.count(c) for c in sorted(set(outcomes))}
        worst = max(storm_latencies, default=float("inf"))
        require(worker.alive and worker.starts == 1, worker.log_tail())
        report(
            record_property,
            "query_of_death",
            {
                "adversarial_queries": len(outcomes),
                "concurrent": concurrent,
                "outcomes": "/".join(f"{c}:{n}" for c, n in codes.items()),
                "wave_s": "/".join(f"{s:.2f}" for s in wave_seconds),
                "stats_latency_calm_max_s": round(calm_latency, 3),
                "stats_during_storm": len(storm_latencies),
                "stats_latency_storm_max_s": round(worst, 3),
                "longest_stats_gap_storm_s": round(gap, 2),
                "ingested_during_storm": ingested,
                "khop_small_ok": fits is not None,
                "digest_equal": True,
                "nodes_spot_checked": checked,
                "seconds": round(time.monotonic() - started, 1),
            },
        )
        require(codes == {"limit_exceeded": len(outcomes)}, f"outcomes {codes}")
        require(storm_latencies and worst < MAX_STATS_LATENCY, f"stats latency {worst:.2f} s")
    finally:
        await probe.stop(drain=0.1)
        await attacker.close()
        await engine.close()
        worker.stop()
