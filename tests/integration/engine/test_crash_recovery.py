"""A worker killed with SIGKILL mid-ingest and restarted ends in exactly the reference state."""

from __future__ import annotations

import asyncio

import pytest

from project_engine.sdk import Engine
from schemas.settings import Settings
from tests.support.graphs import conflict_free_edges, reference_of
from tests.support.reference import reference_digest
from tests.support.workers import WorkerProcess, eventually

pytestmark = pytest.mark.integration


async def applied_edges(engine: Engine) -> int:
    stats = await engine.query({"type": "stats"}, timeout=5)
    return int(stats["edges"])


@pytest.mark.parametrize("settings", ["memory", "rocksdb"], indirect=True)
async def test_sigkill_mid_ingest_then_restart_converges_to_reference(
    engine: Engine, settings: Settings, worker: WorkerProcess
) -> None:
    ops = conflict_free_edges(20_000, 100_000, seed=9, prefix="c")
    ops += [
        {"op": "upsert_node", "id": f"c{i}", "labels": ["C"], "props": {"k": i % 13}}
        for i in range(0, 20_000, 3)
    ]
    ref = reference_of(ops)
    publish = asyncio.create_task(engine.add_graph(ops, ordered=False, chunk_size=1_000))

    kills = 0
    for threshold in (15_000, 45_000):
        progress = await eventually(
            lambda: applied_edges(engine),
            lambda v, t=threshold: v >= t,  # type: ignore[misc]
            timeout=120,
            interval=0.2,
        )
        assert isinstance(progress, int) and progress >= threshold, (
            f"no progress: {progress!r}\n{worker.log_tail()}"
        )
        worker.kill()
        kills += 1
        await asyncio.sleep(1.0)
        worker.start()

    summary = await publish
    assert summary.items == len(ops) and not summary.failed
    expected = reference_digest(ref)
    got = await eventually(
        lambda: engine.query({"type": "digest"}, timeout=20), lambda v: v == expected, timeout=240
    )
    assert got == expected, worker.log_tail()
    assert kills == 2
