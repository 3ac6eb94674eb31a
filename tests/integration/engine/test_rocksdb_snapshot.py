"""RocksDB workers leave a graph snapshot at a clean stop and start from it, only while it
stands for the store: a start after a clean stop takes every partition from the snapshot
(and removes it), one after the changelog moved on elsewhere rebuilds from the store, one
after a crash finds no snapshot. Every start ends in exactly the reference state."""

from __future__ import annotations

import ast
import re
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from project_engine.sdk import Engine
from schemas.settings import Settings
from tests.support.graphs import conflict_free_edges, reference_of
from tests.support.reference import reference_digest
from tests.support.workers import WorkerProcess, digest_reaches

pytestmark = pytest.mark.integration

REBUILT = re.compile(r"graph state rebuilt\b.*?\bfrom_snapshot=(\[[0-9, ]*\])")


def snapshot_sources(worker: WorkerProcess) -> list[list[int]]:
    """The partitions each rebuild of the worker's current run took from a snapshot."""
    assert worker.log_path is not None
    text = worker.log_path.read_text(errors="replace")
    return [ast.literal_eval(found) for found in REBUILT.findall(text)]


def metric(worker: WorkerProcess, name: str) -> float:
    """One unlabelled sample of the worker's ``/metrics``."""
    url = f"http://127.0.0.1:{worker.web_port}/metrics"
    with urllib.request.urlopen(url, timeout=20) as response:
        body = response.read().decode()
    found = re.search(rf"^{name} (\S+)$", body, flags=re.M)
    assert found is not None, f"{name} not in /metrics"
    return float(found.group(1))


def snapshot_files(settings: Settings, worker: WorkerProcess) -> list[Path]:
    return sorted((settings.data_dir / worker.name).rglob("graph.snapshot*"))


async def add(engine: Engine, ops: list[dict[str, Any]]) -> None:
    summary = await engine.add_graph(ops, chunk_size=1_000, wait=True, timeout=180)
    assert summary.items == len(ops) and not summary.failed


def graph_ops(seed: int) -> list[dict[str, Any]]:
    ops = conflict_free_edges(2_000, 12_000, seed=seed, prefix="s")
    return ops + [
        {"op": "upsert_node", "id": f"s{i}", "labels": ["S"], "props": {"k": [i % 5, "é"]}}
        for i in range(0, 2_000, 7)
    ]


@pytest.mark.parametrize("settings", ["rocksdb"], indirect=True)
async def test_clean_stop_leaves_a_snapshot_the_next_start_uses_once(
    engine: Engine, settings: Settings, worker: WorkerProcess
) -> None:
    first = graph_ops(seed=41)
    await add(engine, first)
    ref = reference_of(first)
    await digest_reaches(engine, worker, reference_digest(ref))

    assert worker.stop() == 0
    files = snapshot_files(settings, worker)
    assert [f.name for f in files] == ["graph.snapshot"], worker.log_tail()

    worker.start()
    await digest_reaches(engine, worker, reference_digest(ref))
    assert snapshot_sources(worker) == [[0, 1, 2, 3]], worker.log_tail()
    assert snapshot_files(settings, worker) == []  # used once: removed before use
    assert metric(worker, "engine_graph_partitions_from_snapshot") == 4.0
    assert 0.0 < metric(worker, "engine_graph_rebuild_seconds") < 60.0

    # The state taken from the snapshot goes on applying (and storing) what comes next,
    # and a crash then finds no snapshot: the store alone gives the same state.
    second = [{"op": "delete_node", "id": f"s{i}"} for i in range(0, 2_000, 9)]
    second += conflict_free_edges(2_000, 4_000, seed=42, prefix="s")
    await add(engine, second)
    ref = reference_of(first, second)
    await digest_reaches(engine, worker, reference_digest(ref))
    worker.kill()
    worker.start()
    await digest_reaches(engine, worker, reference_digest(ref))
    sources = snapshot_sources(worker)  # a rebalance may follow when the dead member expires
    assert sources and all(s == [] for s in sources), worker.log_tail()


@pytest.mark.parametrize("settings", ["rocksdb"], indirect=True)
async def test_snapshot_of_a_store_the_changelog_moved_past_is_not_used(
    engine: Engine, settings: Settings, worker: WorkerProcess
) -> None:
    first = graph_ops(seed=51)
    await add(engine, first)
    assert worker.stop() == 0
    assert snapshot_files(settings, worker), worker.log_tail()

    # Another worker (its own store) takes every partition and writes to the changelog.
    other = WorkerProcess(settings, name="w2").start()
    try:
        second = conflict_free_edges(2_000, 6_000, seed=52, prefix="s")
        await add(engine, second)
        ref = reference_of(first, second)
        await digest_reaches(engine, other, reference_digest(ref))
    finally:
        assert other.stop() == 0

    # Recovery brings the first worker's store up to the changelog, so its offsets moved
    # past the snapshot's: every partition is rebuilt from the store.
    worker.start()
    await digest_reaches(engine, worker, reference_digest(ref))
    sources = snapshot_sources(worker)
    assert sources and sources[0] == [], worker.log_tail()
    assert snapshot_files(settings, worker) == []
    assert worker.log_path is not None
    assert "graph snapshot partition outdated" in worker.log_path.read_text(errors="replace")
