"""The partitioned core gives exactly the graph a serial reference interpreter gives."""

from __future__ import annotations

import random
from collections.abc import Iterable

import pytest

from pipeline.graph import GraphPartition
from pipeline.partitioning import partition_for
from pipeline.queries import Done, QueryRun, run_locally
from pipeline.routing import route_chunk
from pipeline.storage import TableWrite, dirty_writes, rebuild_partitions
from schemas.ops import DeleteEdge, DeleteNode, Op, UpsertEdge, UpsertNode
from tests.support.reference import ReferenceGraph


class PartitionedGraph:
    """Routes chunks and applies each part to its partition, like the agents do."""

    def __init__(self, partitions: int) -> None:
        self.partitions = partitions
        self.graphs = {p: GraphPartition(p) for p in range(partitions)}
        self.table: dict[bytes, bytes] = {}

    def apply_chunk(self, items: Iterable[Op]) -> None:
        for p, steps in route_chunk(list(items), self.partitions).items():
            graph = self.graphs[p]
            graph.apply(steps)
            self._write(dirty_writes(graph, graph.take_dirty()))

    def _write(self, writes: list[TableWrite]) -> None:
        for key, value in writes:
            if value is None:
                self.table.pop(key, None)
            else:
                self.table[key] = value

    def query(self, qtype: str, **args: object) -> object:
        outcome = run_locally(QueryRun(qtype, args, self.partitions), self.graphs)
        assert isinstance(outcome, Done), outcome
        return outcome.result


def random_ops(rng: random.Random, count: int, nodes: int) -> list[Op]:
    ops: list[Op] = []
    ids = [f"n{i}" for i in range(nodes)]
    types = ["", "KNOWS", "LIKES"]
    for _ in range(count):
        r = rng.random()
        if r < 0.5:
            props = {"w": rng.randint(0, 3)} if rng.random() < 0.5 else {"w": None}
            ops.append(UpsertEdge(rng.choice(ids), rng.choice(ids), rng.choice(types), props))
        elif r < 0.75:
            labels = (rng.choice(["A", "B", "C"]),)
            props = {rng.choice("xyz"): rng.choice([1, "s", None, True, 2.5])}
            ops.append(UpsertNode(rng.choice(ids), labels, props))
        elif r < 0.92:
            ops.append(DeleteEdge(rng.choice(ids), rng.choice(ids), rng.choice(types)))
        else:
            ops.append(DeleteNode(rng.choice(ids)))
    return ops


def assert_same_graph(engine: PartitionedGraph, ref: ReferenceGraph, ids: Iterable[str]) -> None:
    assert engine.query("stats") == ref.stats()
    for node_id in ids:
        assert engine.query("node", id=node_id) == ref.node(node_id), node_id


@pytest.mark.parametrize("partitions", [1, 3, 4, 8])
@pytest.mark.parametrize("seed", range(5))
def test_random_mutations_match_serial_reference(partitions: int, seed: int) -> None:
    rng = random.Random(seed)
    engine, ref = PartitionedGraph(partitions), ReferenceGraph()
    ops = random_ops(rng, 3000, 60)
    for start in range(0, len(ops), 97):
        chunk = ops[start : start + 97]
        engine.apply_chunk(chunk)
        ref.apply(chunk)
    assert_same_graph(engine, ref, [f"n{i}" for i in range(60)])


def test_replaying_a_suffix_of_parts_after_a_crash_converges_to_same_state() -> None:
    rng = random.Random(7)
    ops = random_ops(rng, 2000, 40)
    chunks = [ops[i : i + 50] for i in range(0, len(ops), 50)]
    engine, ref = PartitionedGraph(4), ReferenceGraph()
    for i, chunk in enumerate(chunks):
        engine.apply_chunk(chunk)
        ref.apply(chunk)
        if i % 7 == 6:  # redelivery of the last few chunks since a commit
            for again in chunks[max(0, i - 3) : i + 1]:
                engine.apply_chunk(again)
    assert_same_graph(engine, ref, [f"n{i}" for i in range(40)])


def test_state_rebuilt_from_table_records_equals_live_state() -> None:
    rng = random.Random(3)
    engine, ref = PartitionedGraph(4), ReferenceGraph()
    ops = random_ops(rng, 2500, 50)
    engine.apply_chunk(ops)
    ref.apply(ops)
    rebuilt = rebuild_partitions(engine.table.items(), 4, {0, 1, 2, 3})
    engine.graphs = rebuilt
    assert_same_graph(engine, ref, [f"n{i}" for i in range(50)])


def test_rebuild_keeps_only_the_requested_partitions() -> None:
    engine = PartitionedGraph(4)
    engine.apply_chunk([UpsertEdge(f"a{i}", f"b{i}", "", {}) for i in range(100)])
    rebuilt = rebuild_partitions(engine.table.items(), 4, {1})
    assert set(rebuilt) == {1}
    assert all(partition_for(n, 4) == 1 for n in rebuilt[1].nodes)
    assert rebuilt[1].node_count == engine.graphs[1].node_count


def test_node_delete_removes_incident_edges_held_by_other_partitions() -> None:
    engine = PartitionedGraph(4)
    spokes = [f"s{i}" for i in range(40)]
    engine.apply_chunk([UpsertEdge("hub", s, "T", {}) for s in spokes])
    engine.apply_chunk([UpsertEdge(s, "hub", "T", {}) for s in spokes])
    engine.apply_chunk([DeleteNode("hub")])
    assert engine.query("node", id="hub") is None
    assert engine.query("stats") == {"nodes": 40, "edges": 0}
    assert all(
        engine.query("node", id=s)
        == {"id": s, "labels": [], "props": {}, "out_degree": 0, "in_degree": 0}
        for s in spokes
    )
    assert not any(k.startswith((b"o", b"i")) for k in engine.table)


def test_edge_readded_after_node_delete_in_same_chunk_keeps_only_new_props() -> None:
    engine, ref = PartitionedGraph(4), ReferenceGraph()
    ops: list[Op] = [
        UpsertEdge("x", "a", "T", {"w": 1}),
        DeleteNode("a"),
        UpsertEdge("x", "a", "T", {"z": 2}),
    ]
    engine.apply_chunk(ops)
    ref.apply(ops)
    assert_same_graph(engine, ref, ["x", "a"])
    assert engine.table[b"ox\x00T\x00a"] != b""


def test_each_touched_key_is_written_once_per_part() -> None:
    graph = GraphPartition(0)
    steps = route_chunk([UpsertNode("a", ("L",), {"k": i}) for i in range(100)], 1)[0]
    graph.apply(steps)
    writes = dirty_writes(graph, graph.take_dirty())
    assert [key for key, _ in writes] == [b"na"]


def test_adding_an_edge_to_a_hub_writes_only_the_two_edge_records() -> None:
    engine = PartitionedGraph(4)
    engine.apply_chunk([UpsertEdge("hub", f"d{i}", "", {}) for i in range(5000)])
    graph = engine.graphs[partition_for("hub", 4)]
    graph.apply([(2, "hub", "", "new", {})])
    writes = dirty_writes(graph, graph.take_dirty())
    assert [key for key, _ in writes] == [b"ohub\x00\x00new"]


def test_unknown_step_kind_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown step kind"):
        GraphPartition(0).apply([(99, "x")])


@pytest.mark.parametrize("partitions", [1, 4])
def test_digest_of_partitioned_state_equals_reference_digest(partitions: int) -> None:
    from tests.support.reference import reference_digest

    rng = random.Random(11)
    engine, ref = PartitionedGraph(partitions), ReferenceGraph()
    ops = random_ops(rng, 3000, 80)
    engine.apply_chunk(ops)
    ref.apply(ops)
    assert engine.query("digest") == reference_digest(ref)


def test_digest_changes_when_one_prop_changes() -> None:
    engine = PartitionedGraph(4)
    engine.apply_chunk([UpsertEdge("a", "b", "T", {"w": 1})])
    before = engine.query("digest")
    engine.apply_chunk([UpsertEdge("a", "b", "T", {"w": 2})])
    after = engine.query("digest")
    assert before != after
    assert (before["nodes"], before["edges"]) == (after["nodes"], after["edges"])  # type: ignore[index]
