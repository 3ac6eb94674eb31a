"""Input that piled up while the worker was down is all applied after it restarts.

Regression: at the end of recovery Faust resumed the input partitions, fetched the backlog
into the agents' queues, then emptied those queues when it resumed its flow control, so
queued messages were never processed (agents.flow_control)."""

from __future__ import annotations

import pytest

from project_engine.sdk import Engine
from schemas.settings import Settings
from tests.support.faults import unrouted_inputs
from tests.support.graphs import conflict_free_edges, reference_of
from tests.support.reference import reference_digest
from tests.support.workers import WorkerProcess, eventually

pytestmark = pytest.mark.integration


async def test_backlog_published_while_worker_was_down_is_applied_after_restart(
    engine: Engine, settings: Settings, worker: WorkerProcess
) -> None:
    loaded = conflict_free_edges(5_000, 30_000, seed=21, prefix="b")
    backlog = conflict_free_edges(5_000, 4_000, seed=22, prefix="l")
    expected = reference_digest(reference_of(loaded, backlog))
    summary = await engine.add_graph(loaded, ordered=False, chunk_size=1_000, wait=True)
    assert summary.items == len(loaded) and not summary.failed

    assert worker.stop() == 0, worker.log_tail()
    # Thousands of one-op messages in every input partition, waiting at the committed
    # offsets; the restarted worker's seek at the end of recovery is slowed down so that
    # part of the backlog is fetched and queued before Faust resumes its flow control.
    summary = await engine.add_graph(backlog, ordered=False, chunk_size=1)
    assert summary.chunks == len(backlog) and not summary.failed
    worker.preload = "tests.support.slow_seek"
    worker.start()

    got = await eventually(
        lambda: engine.query({"type": "digest"}, timeout=10), lambda v: v == expected, timeout=150
    )
    lost = await unrouted_inputs(settings)
    assert lost == [], f"input (partition, offset) never routed: {lost[:20]}"
    assert got == expected, worker.log_tail()
