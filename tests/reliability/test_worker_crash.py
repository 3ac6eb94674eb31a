"""A worker killed with SIGKILL at seeded random points of a large ingest, and restarted each
time, ends in exactly the reference state, with no error event for valid input."""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from pathlib import Path
from typing import Any

import pytest

from project_engine.sdk import create_project
from project_engine.topics import ensure_topics
from schemas.settings import Settings
from tests.support.faults import (
    end_offsets,
    report,
    require,
    scenario_timeout,
    spot_check,
    unrouted_inputs,
    wait_ready,
)
from tests.support.graphs import conflict_free_edges, to_ops
from tests.support.reference import ReferenceGraph, reference_digest
from tests.support.workers import WorkerProcess, eventually

pytestmark = [pytest.mark.integration, pytest.mark.reliability, scenario_timeout()]

SIZES = {"short": (100_000, 3), "long": (500_000, 10)}


def workload(items: int, seed: int) -> list[dict[str, Any]]:
    nodes = max(1_000, items // 5)
    labelled = list(range(0, nodes, 3))
    ops = conflict_free_edges(nodes, items - len(labelled), seed=seed, prefix="k")
    ops += [
        {"op": "upsert_node", "id": f"k{i}", "labels": ["K"], "props": {"m": i % 17}}
        for i in labelled
    ]
    random.Random(seed).shuffle(ops)
    return ops


async def test_sigkill_at_random_points_then_restart_converges(
    settings: Settings, size: str, record_property: Any, tmp_path: Path
) -> None:
    items, kills = SIZES[size]
    seed = 1_234
    ops = workload(items, seed)
    rng = random.Random(seed)
    # One segment per kill plus one: segment i is published, then the worker is killed at a
    # random point of its apply (a seeded edge count inside the segment), so every kill
    # lands mid-ingest; the next segment is published while the worker recovers.
    bounds = [round(len(ops) * k / (kills + 1)) for k in range(kills + 2)]
    segments = [ops[a:b] for a, b in itertools.pairwise(bounds)]
    ref = ReferenceGraph()
    edges_after: list[int] = []
    for segment in segments:
        ref.apply(to_ops(segment))
        edges_after.append(ref.stats()["edges"])
    expected = reference_digest(ref)
    thresholds = [
        int(lo + (hi - lo) * rng.uniform(0.1, 0.7))
        for lo, hi in zip([0, *edges_after][:kills], edges_after[:kills], strict=True)
    ]

    await ensure_topics(settings)
    worker = WorkerProcess(settings, name="crash").start()
    engine = await create_project(settings, client_id="crash")
    started = time.monotonic()
    try:
        await wait_ready(engine, worker)
        killed_at: list[int] = []
        mid_ingest = 0
        summaries = []
        for i, threshold in enumerate(thresholds):
            summaries.append(await engine.add_graph(segments[i], ordered=False, chunk_size=1_000))
            progress = await eventually(
                lambda: engine.query({"type": "stats"}, timeout=5),
                lambda v, t=threshold: isinstance(v, dict) and v["edges"] >= t,  # type: ignore[misc]
                timeout=240,
                interval=0.05,
            )
            require(
                isinstance(progress, dict) and progress["edges"] >= threshold,
                f"no progress to {threshold}: {progress!r}\n{worker.log_tail()}",
            )
            worker.kill()
            killed_at.append(int(progress["edges"]))
            mid_ingest += int(progress["edges"]) < edges_after[i]
            await asyncio.sleep(rng.uniform(0.2, 1.5))
            worker.start()
        publish = asyncio.create_task(
            engine.add_graph(segments[-1], ordered=False, chunk_size=1_000)
        )
        summaries.append(await publish)
        sent = sum(x.items for x in summaries)
        require(sent == len(ops) and not any(x.failed for x in summaries), f"publish: {summaries}")
        got = await eventually(
            lambda: engine.query({"type": "digest"}, timeout=30),
            lambda v: v == expected,
            timeout=300,
        )
        if got != expected:
            lost = await unrouted_inputs(settings)
            require(
                False,
                f"digest {got!r} != {expected!r}; input (partition, offset) never routed: "
                f"{lost[:20]}\n{worker.log_tail()}",
            )
        ids = [f"k{i}" for i in random.Random(seed + 1).sample(range(items // 5), 30)] + [
            "k-absent"
        ]
        checked = await spot_check(engine, ref, ids)
        errors = sum((await end_offsets(settings, settings.topics.errors)).values())
        require(errors == 0, f"{errors} error events for valid input")
        require(worker.alive, worker.log_tail())
        report(
            record_property,
            "worker_crash",
            {
                "items": len(ops),
                "sigkills": len(killed_at),
                "killed_at_edges": "/".join(map(str, killed_at)),
                "kills_mid_segment_apply": mid_ingest,
                "restarts": worker.starts - 1,
                "final_nodes": got["nodes"],
                "final_edges": got["edges"],
                "digest_equal": True,
                "nodes_spot_checked": checked,
                "error_events": errors,
                "seconds": round(time.monotonic() - started, 1),
            },
        )
    finally:
        await engine.close()
        worker.stop()
