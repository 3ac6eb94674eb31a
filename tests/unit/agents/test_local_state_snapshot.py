"""Which partitions a clean stop writes to a snapshot, and when it writes none.

Only partitions held here and settled (every applied part stored) are written; a snapshot
that would take longer than the time allowed is skipped. Both are decided before the store
is consulted, so no table is needed here; reading the store's offsets back is covered by
``tests/integration/engine/test_rocksdb_snapshot.py`` against a real worker.
"""

from __future__ import annotations

from pathlib import Path

from agents.local_state import SNAPSHOT_SECONDS_PER_EDGE, LocalGraphs
from pipeline.steps import StepKind


def graphs_with_edges(edges_per_partition: int) -> LocalGraphs:
    graphs = LocalGraphs(2)
    for p in (0, 1):
        graph = graphs.get(p)
        graph.apply(
            [(StepKind.OUT_UPSERT, f"a{p}", "E", f"b{i}", {}) for i in range(edges_per_partition)]
        )
        graph.take_dirty()
    return graphs


def test_a_snapshot_that_would_outlast_the_time_allowed_is_skipped(tmp_path: Path) -> None:
    graphs = graphs_with_edges(1_000)
    graphs.assigned = {0, 1}
    allowed = 2_000 * SNAPSHOT_SECONDS_PER_EDGE / 2
    path = tmp_path / "graph.snapshot"
    assert graphs.write_snapshot(path, table=None, max_seconds=allowed) == []
    assert list(tmp_path.iterdir()) == []


def test_unsettled_or_unheld_partitions_are_never_considered(tmp_path: Path) -> None:
    graphs = graphs_with_edges(1_000)
    graphs.assigned = {0}  # partition 1 is not held here
    graphs.unsettled = {0}  # and partition 0 has a part not yet stored
    # Nothing left to write, so nothing is written and the (absent) table is never asked.
    assert graphs.write_snapshot(tmp_path / "s", table=None, max_seconds=60.0) == []
    assert list(tmp_path.iterdir()) == []
