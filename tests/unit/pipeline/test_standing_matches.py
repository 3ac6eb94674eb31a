"""Standing-query patterns fire exactly for the changes that match them, on any partitioning."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from pipeline.graph import GraphPartition
from pipeline.routing import route_chunk
from pipeline.standing import begin_part, collect_matches, finish_routed_part
from pipeline.steps import Step, StepKind
from schemas.ops import DeleteEdge, DeleteNode, Op, UpsertEdge, UpsertNode


class Cluster:
    """Partitions that route, apply, collect matches and deliver confirmation steps."""

    def __init__(self, partitions: int, patterns: dict[str, dict[str, Any]]) -> None:
        self.partitions = partitions
        self.graphs = {p: GraphPartition(p) for p in range(partitions)}
        for sid, pattern in patterns.items():
            for g in self.graphs.values():
                g.apply([(StepKind.STANDING_PUT, sid, pattern)])
        self.matches: list[dict[str, Any]] = []
        self.offset = 0

    def _apply(self, p: int, steps: list[Step], source: tuple[str, int, int]) -> None:
        graph = self.graphs[p]
        begin_part(graph)
        graph.apply(steps)
        finish_routed_part(graph, steps, source)
        found, forwards = collect_matches(graph, self.partitions, source, "c1")
        self.matches.extend(found)
        for target, confirm_steps in forwards.items():
            self._apply(target, confirm_steps, source)

    def publish(self, ops: Iterable[Op]) -> None:
        self.offset += 1
        source = ("graph-input", 0, self.offset)
        for p, steps in route_chunk(list(ops), self.partitions).items():
            self._apply(p, steps, source)

    def bindings(self, kind: str | None = None) -> list[dict[str, Any]]:
        return sorted(
            (m["binding"] for m in self.matches if kind is None or m["kind"] == kind),
            key=lambda b: sorted(b.items()),
        )


@pytest.mark.parametrize("partitions", [1, 4, 7])
def test_edge_pattern_with_endpoint_labels_fires_once_per_new_matching_edge(
    partitions: int,
) -> None:
    c = Cluster(partitions, {"s": {"kind": "edge", "edge_type": "KNOWS",
                                   "src_label": "P", "dst_label": "P"}})  # fmt: skip
    c.publish([UpsertNode("a", ("P",), {}), UpsertNode("b", ("P",), {}), UpsertNode("x", (), {})])
    c.publish([UpsertEdge("a", "b", "KNOWS", {}), UpsertEdge("a", "x", "KNOWS", {}),
               UpsertEdge("b", "a", "LIKES", {})])  # fmt: skip
    c.publish([UpsertEdge("a", "b", "KNOWS", {"w": 1})])  # existing edge: not a new one
    assert c.bindings() == [{"src": "a", "type": "KNOWS", "dst": "b"}]


@pytest.mark.parametrize("partitions", [1, 5])
def test_two_hop_pattern_fires_whichever_edge_completes_it(partitions: int) -> None:
    c = Cluster(partitions, {"t": {"kind": "two_hop", "first_type": "T1", "second_type": "T2"}})
    c.publish([UpsertEdge("a", "b", "T1", {})])
    c.publish([UpsertEdge("b", "c", "T2", {})])  # completes a->b->c
    c.publish([UpsertEdge("z", "b", "T1", {})])  # completes z->b->c
    c.publish([UpsertEdge("b", "d", "T1", {})])  # wrong type: nothing
    assert c.bindings() == [{"a": "a", "b": "b", "c": "c"}, {"a": "z", "b": "b", "c": "c"}]


def test_two_hop_completed_by_both_edges_in_one_chunk_fires_once() -> None:
    c = Cluster(3, {"t": {"kind": "two_hop", "first_type": "T1", "second_type": "T2"}})
    c.publish([UpsertEdge("a", "b", "T1", {}), UpsertEdge("b", "c", "T2", {})])
    assert c.bindings() == [{"a": "a", "b": "b", "c": "c"}]


@pytest.mark.parametrize("partitions", [1, 4])
def test_degree_pattern_fires_when_degree_rises_through_threshold(partitions: int) -> None:
    c = Cluster(partitions, {"d": {"kind": "degree", "direction": "out", "threshold": 3}})
    c.publish([UpsertEdge("h", "x1", "", {}), UpsertEdge("h", "x2", "", {})])
    assert c.bindings() == []
    c.publish([UpsertEdge("h", "x3", "", {}), UpsertEdge("h", "x4", "", {})])
    assert c.bindings() == [{"id": "h", "direction": "out", "threshold": 3}]
    c.publish([DeleteEdge("h", "x4", ""), DeleteEdge("h", "x3", "")])
    c.publish([UpsertEdge("h", "x5", "", {})])  # back to 3: crosses again
    assert len(c.bindings()) == 2


def test_node_label_and_prop_patterns_fire_on_gain_and_on_matching_value() -> None:
    c = Cluster(4, {
        "l": {"kind": "node_label", "label": "VIP"},
        "p": {"kind": "node_prop", "key": "status", "value": "gold"},
    })  # fmt: skip
    c.publish([UpsertNode("n", ("VIP",), {"status": "silver"})])
    c.publish([UpsertNode("n", ("VIP",), {"status": "gold"})])  # label not new; value matches
    c.publish([UpsertNode("n", (), {"status": "gold"})])  # unchanged: nothing
    assert c.bindings("node_label") == [{"id": "n", "label": "VIP"}]
    assert c.bindings("node_prop") == [{"id": "n", "key": "status", "value": "gold"}]


def test_reapplying_a_part_gives_the_same_match_ids() -> None:
    c = Cluster(2, {"l": {"kind": "node_label", "label": "X"}})
    c.publish([UpsertNode("n", ("X",), {})])
    first = [m["match_id"] for m in c.matches]
    fresh = Cluster(2, {"l": {"kind": "node_label", "label": "X"}})
    fresh.publish([UpsertNode("n", ("X",), {})])
    assert first == [m["match_id"] for m in fresh.matches] and len(first) == 1


def test_removed_registration_stops_matching_and_delete_node_is_no_match() -> None:
    c = Cluster(3, {"l": {"kind": "node_label", "label": "X"}})
    for g in c.graphs.values():
        g.apply([(StepKind.STANDING_DEL, "l")])
    c.publish([UpsertNode("n", ("X",), {}), DeleteNode("n")])
    assert c.matches == []


def test_confirmation_arriving_before_its_part_waits_for_it() -> None:
    pattern = {"kind": "edge", "edge_type": "K", "dst_label": "P"}
    c = Cluster(4, {"e": pattern})
    ops: list[Op] = [UpsertNode("b", ("P",), {}), UpsertEdge("a", "b", "K", {})]
    parts = route_chunk(ops, 4)
    source = ("graph-input", 0, 1)
    from pipeline.partitioning import partition_for

    pa, pb = partition_for("a", 4), partition_for("b", 4)
    assert pa != pb
    graph_a = c.graphs[pa]
    begin_part(graph_a)
    graph_a.apply(parts[pa])
    finish_routed_part(graph_a, parts[pa], source)
    found, forwards = collect_matches(graph_a, 4, source, "c1")
    assert found == [] and list(forwards) == [pb]
    c._apply(pb, forwards[pb], source)  # the confirmation overtakes the part for b
    assert c.matches == []
    c._apply(pb, parts[pb], source)
    assert c.bindings() == [{"src": "a", "type": "K", "dst": "b"}]


def test_waiting_confirmation_survives_a_rebuild_from_table_records() -> None:
    from pipeline.storage import dirty_writes, rebuild_partitions

    graph = GraphPartition(2)
    graph.apply([(StepKind.STANDING_PUT, "e", {"kind": "edge", "edge_type": "K"})])
    match = {"match_id": "m1", "source": {"topic": "t", "partition": 0, "offset": 5}}
    graph.apply([(StepKind.MATCH_CONFIRM, "b", "P", match)])
    graph.mark_applied("t", 0, 3)
    table = {k: v for k, v in dirty_writes(graph, graph.take_dirty()) if v is not None}
    rebuilt = rebuild_partitions(table.items(), 4, {2})[2]
    assert rebuilt.deferred == graph.deferred and rebuilt.watermarks == {"t:0": 3}
