"""Memory-store workers read newly assigned changelog partitions in bulk, not through
Faust's record-by-record replay, and end in exactly the reference state: a worker restarted
after a SIGTERM and, with deletions in between, after a SIGKILL; and partitions moving to a
second worker and back."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from project_engine.sdk import Engine
from schemas.settings import Settings
from tests.support.graphs import conflict_free_edges, reference_of
from tests.support.reference import reference_digest
from tests.support.workers import WorkerProcess, digest_reaches, eventually

pytestmark = pytest.mark.integration

BULK_READ = re.compile(r"changelog bulk read\b.*?\brecords=(\d+)")
FAUST_REPLAY = "Restoring state from changelog topics"
PATTERN = {"kind": "node_label", "label": "Hub"}


def bulk_reads(worker: WorkerProcess) -> list[int]:
    """Records applied by each bulk read of the worker's current run, from its log."""
    assert worker.log_path is not None
    return [int(n) for n in BULK_READ.findall(worker.log_path.read_text(errors="replace"))]


async def standing_ids(engine: Engine) -> list[str]:
    listed = await engine.query({"type": "standing_list"})
    return [e["standing_id"] for e in listed["standing"]]


def graph_ops(seed: int) -> list[dict[str, Any]]:
    ops = conflict_free_edges(3_000, 20_000, seed=seed, prefix="b")
    return ops + [
        {"op": "upsert_node", "id": f"b{i}", "labels": ["Hub"], "props": {"k": i % 7}}
        for i in range(0, 3_000, 5)
    ]


def deletions(earlier: list[dict[str, Any]], seed: int) -> list[dict[str, Any]]:
    """Edge and node deletions (changelog tombstones) and some new edges."""
    ops: list[dict[str, Any]] = [
        {"op": "delete_edge", "src": op["src"], "dst": op["dst"], "type": "E"}
        for op in earlier[:4_000]
    ]
    ops += [{"op": "delete_node", "id": f"b{i}"} for i in range(0, 3_000, 11)]
    return ops + conflict_free_edges(3_000, 5_000, seed=seed, prefix="b")


async def test_restart_restores_by_bulk_read(
    engine: Engine, settings: Settings, worker: WorkerProcess
) -> None:
    assert settings.store == "memory"
    first = graph_ops(seed=21)
    await engine.query({"type": "standing_register", "standing_id": "hubs", "pattern": PATTERN})
    summary = await engine.add_graph(first, chunk_size=1_000, wait=True)
    assert summary.items == len(first) and not summary.failed
    ref = reference_of(first)
    assert await engine.query({"type": "digest"}) == reference_digest(ref)
    records = ref.stats()["nodes"] + 2 * ref.stats()["edges"]

    worker.stop()
    worker.start()
    await digest_reaches(engine, worker, reference_digest(ref))
    reads = bulk_reads(worker)
    assert reads and sum(reads) >= records, worker.log_tail()
    assert FAUST_REPLAY not in worker.log_path.read_text(errors="replace")  # type: ignore[union-attr]
    assert await standing_ids(engine) == ["hubs"]

    second = deletions(first, seed=22)  # tombstones, which a bulk read must apply too
    summary = await engine.add_graph(second, chunk_size=1_000, wait=True)
    assert summary.items == len(second) and not summary.failed
    ref = reference_of(first, second)

    worker.kill()
    worker.start()
    await digest_reaches(engine, worker, reference_digest(ref))
    assert bulk_reads(worker), worker.log_tail()
    assert await standing_ids(engine) == ["hubs"]


async def test_partitions_moving_between_workers_are_read_in_bulk(
    engine: Engine, settings: Settings, worker: WorkerProcess
) -> None:
    first = graph_ops(seed=31)
    await engine.query({"type": "standing_register", "standing_id": "hubs", "pattern": PATTERN})
    summary = await engine.add_graph(first, chunk_size=1_000, wait=True)
    assert summary.items == len(first) and not summary.failed
    assert len(bulk_reads(worker)) == 1  # the first assignment (of empty partitions)

    second_worker = WorkerProcess(settings, name="w2").start()
    try:
        moved = await eventually(
            lambda: asyncio.sleep(0, bulk_reads(second_worker)), lambda v: sum(v) > 0
        )
        assert moved and sum(moved) > 0, second_worker.log_tail()
        second = deletions(first, seed=32)
        summary = await engine.add_graph(second, chunk_size=1_000, wait=True, timeout=180)
        assert summary.items == len(second) and not summary.failed
        ref = reference_of(first, second)
        await digest_reaches(engine, worker, reference_digest(ref))  # answered by both workers
    finally:
        second_worker.stop()

    # The partitions come back: what the first worker still held of them is dropped and
    # replaced by a bulk read of their changelog, which now carries the second worker's writes.
    back = await eventually(lambda: asyncio.sleep(0, bulk_reads(worker)), lambda v: len(v) >= 2)
    assert len(back) >= 2 and back[-1] > 0, worker.log_tail()
    await digest_reaches(engine, worker, reference_digest(ref))
    assert await standing_ids(engine) == ["hubs"]
