"""Partition state shares what it can between entries, without changing what it holds.

Ids, edge types and labels are one string object per distinct value however many entries
name them (also across partitions of one process), whether the state was built by applying
decoded parts or rebuilt from table records; edge props are held packed, as the bytes of
the edge's table record, every edge without props holding :data:`~pipeline.graph.NO_PROPS`;
a node's entries (out, in, and under a reverse index key) are flat while there are at most
:data:`~pipeline.entries.SMALL` of them (a tuple naming their type once when they share it,
a list otherwise), and a dict or set beyond.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from typing import Any

import msgpack
import pytest

from pipeline.entries import SMALL, out_count, out_items, out_pairs, pairs, pairs_count
from pipeline.graph import BARE, NO_PROPS, GraphPartition, NodeRecord, edge_props, pack_props
from pipeline.routing import route_chunk
from pipeline.steps import Part, Step, StepKind, decode_part, encode_part
from pipeline.storage import (
    decode_record,
    dirty_writes,
    out_key,
    owner_of_key,
    rebuild_partitions,
)
from schemas.ops import DeleteEdge, DeleteNode, Op, UpsertEdge, UpsertNode
from tests.support.entry_forms import expected_form


def decoded(steps: list[Step]) -> list[Step]:
    """``steps`` as the apply agent receives them: every string a freshly decoded object."""
    part = Part(None, 0, 1, False, "msgpack", ("in", 0, 0), steps)
    return decode_part(encode_part(part)).steps


class Cluster:
    """Partitions fed with decoded parts, and the table records they write."""

    def __init__(self, partitions: int) -> None:
        self.partitions = partitions
        self.graphs = {p: GraphPartition(p) for p in range(partitions)}
        self.table: dict[bytes, bytes] = {}

    def apply(self, ops: Iterable[Op]) -> None:
        for p, steps in route_chunk(list(ops), self.partitions).items():
            graph = self.graphs[p]
            graph.apply(decoded(steps))
            for key, value in dirty_writes(graph, graph.take_dirty()):
                if value is None:
                    self.table.pop(key, None)
                else:
                    self.table[key] = value

    def rebuilt(self) -> dict[int, GraphPartition]:
        # Fresh bytes objects, as a store hands them over.
        records = [(bytes(k), bytes(v)) for k, v in self.table.items()]
        return rebuild_partitions(records, self.partitions, set(range(self.partitions)))


def strings_held(graph: GraphPartition) -> Iterator[str]:
    """Every id, type and label string the partition's structures refer to."""
    for node_id, record in graph.nodes.items():
        yield node_id
        yield from record.labels
    for src, edges in graph.out_edges.items():
        yield src
        for etype, dst in out_pairs(edges):
            yield from (etype, dst)
    for index in (graph.in_edges, graph.out_by_dst, graph.in_by_src):
        for key, entries in index.items():
            yield key
            for etype, node in pairs(entries):
                yield from (etype, node)


def objects_per_string(graphs: Iterable[GraphPartition]) -> dict[str, set[int]]:
    found: dict[str, set[int]] = {}
    for graph in graphs:
        for s in strings_held(graph):
            found.setdefault(s, set()).add(id(s))
    return found


def assert_consistent(graph: GraphPartition) -> None:
    """The reverse indexes mirror the edge entries exactly, every container in its
    size-given form, without repeats."""
    out_entries = {(s, t, d) for s, edges in graph.out_edges.items() for t, d in out_pairs(edges)}
    by_dst = {(s, t, d) for d, entries in graph.out_by_dst.items() for t, s in pairs(entries)}
    in_entries = {(d, t, s) for d, entries in graph.in_edges.items() for t, s in pairs(entries)}
    by_src = {(d, t, s) for s, entries in graph.in_by_src.items() for t, d in pairs(entries)}
    assert by_dst == out_entries
    assert by_src == in_entries
    assert graph.edge_count == len(out_entries)
    for index in (graph.in_edges, graph.out_by_dst, graph.in_by_src):
        for entries in index.values():
            held = pairs(entries)
            assert held and len(set(held)) == len(held) == pairs_count(entries)
            assert type(entries) is expected_form([t for t, _ in held], set)
    for edges in graph.out_edges.values():
        held_out = out_pairs(edges)
        assert held_out and len(set(held_out)) == len(held_out) == out_count(edges)
        assert type(edges) is expected_form([t for t, _ in held_out], dict)
        for _, _, props in out_items(edges):
            assert props == NO_PROPS or edge_props(props)
    assert edge_props(NO_PROPS) == {}


def semantic_state(graph: GraphPartition) -> tuple[Any, ...]:
    """What the partition holds, regardless of how its containers are laid out."""
    return (
        {k: (sorted(v.labels), v.props) for k, v in graph.nodes.items()},
        {k: {(t, d): p for t, d, p in out_items(v)} for k, v in graph.out_edges.items()},
        {k: set(pairs(v)) for k, v in graph.in_edges.items()},
        {k: set(pairs(v)) for k, v in graph.out_by_dst.items()},
        {k: set(pairs(v)) for k, v in graph.in_by_src.items()},
        graph.edge_count,
    )


def random_ops(rng: random.Random, count: int) -> list[Op]:
    ids = [f"node-{i}" for i in range(90)] + ["hub"]
    types = ["KNOWS", "LIKES", ""]
    ops: list[Op] = []
    for _ in range(count):
        r = rng.random()
        src, dst = rng.choice(ids), rng.choice(ids)
        if r < 0.2:
            src = rng.choice(ids[:80])
            dst = "hub"  # many entries under one key: past SMALL and back
        if r < 0.6:
            props = rng.choice([{}, {}, {"w": rng.randrange(3)}, {"w": None}])
            ops.append(UpsertEdge(src, dst, rng.choice(types), props))
        elif r < 0.75:
            ops.append(UpsertNode(src, (rng.choice(["Person", "Place"]),), {"k": r}))
        elif r < 0.95:
            ops.append(DeleteEdge(src, dst, rng.choice(types)))
        else:
            ops.append(DeleteNode(rng.choice(ids[:-1])))
    return ops


def test_edges_to_one_destination_share_its_id_and_type_objects_after_apply_and_rebuild() -> None:
    ops: list[Op] = [
        UpsertEdge("alice", "hub-1", "KNOWS", {}),
        UpsertEdge("bob", "hub-1", "KNOWS", {}),
        UpsertNode("alice", ("Person",), {}),
        UpsertNode("bob", ("Person",), {}),
    ]
    steps = decoded(route_chunk(ops, 1)[0])
    assert steps[0][3] == steps[2][3] and steps[0][3] is not steps[2][3]  # fresh objects
    cluster = Cluster(1)
    cluster.apply(ops)
    for graph in (cluster.graphs[0], cluster.rebuilt()[0]):
        (key_a,) = out_pairs(graph.out_edges["alice"])
        (key_b,) = out_pairs(graph.out_edges["bob"])
        assert key_a == key_b == ("KNOWS", "hub-1")
        assert key_a[0] is key_b[0] and key_a[1] is key_b[1]
        in_types = {id(etype) for etype, _ in pairs(graph.in_edges["hub-1"])}
        assert in_types == {id(key_a[0])}
        hub_ids = {id(s) for s in strings_held(graph) if s == "hub-1"}
        assert hub_ids == {id(key_a[1])}
        assert graph.nodes["alice"].labels == graph.nodes["bob"].labels == {"Person"}
        labels = [next(iter(graph.nodes[n].labels)) for n in ("alice", "bob")]
        assert labels[0] is labels[1]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_distinct_string_is_one_object_across_partitions_applied_and_rebuilt(
    seed: int,
) -> None:
    cluster = Cluster(4)
    ops = random_ops(random.Random(seed), 1500)
    for start in range(0, len(ops), 40):
        cluster.apply(ops[start : start + 40])
    rebuilt = cluster.rebuilt()
    forms = {
        type(entries)
        for g in cluster.graphs.values()
        for index in (g.in_edges, g.out_by_dst)
        for entries in index.values()
    }
    assert forms == {tuple, list, set}  # every layout of the containers occurs
    for graphs in (cluster.graphs, rebuilt):
        found = objects_per_string(graphs.values())
        assert found and all(len(objects) == 1 for objects in found.values())
        for graph in graphs.values():
            assert_consistent(graph)
    for p, graph in cluster.graphs.items():
        assert semantic_state(rebuilt[p]) == semantic_state(graph)


def test_edge_props_are_held_as_the_bytes_of_their_table_record() -> None:
    cluster = Cluster(1)
    cluster.apply([UpsertEdge("alice", "x", "T", {}), UpsertEdge("bob", "x", "T", {})])
    graph = cluster.graphs[0]
    assert graph.out_props("alice", "T", "x") is NO_PROPS
    assert graph.out_props("bob", "T", "x") is NO_PROPS

    cluster.apply([UpsertEdge("alice", "x", "T", {"w": 1, "gone": None})])
    held = graph.out_props("alice", "T", "x")
    assert edge_props(held) == {"w": 1}
    assert held == cluster.table[out_key("alice", "T", "x")]
    assert graph.out_props("bob", "T", "x") is NO_PROPS
    assert edge_props(NO_PROPS) == {}

    cluster.apply([UpsertEdge("alice", "x", "T", {"w": 2, "z": [0, "é"]})])
    assert edge_props(graph.out_props("alice", "T", "x")) == {"w": 2, "z": [0, "é"]}
    assert graph.out_props("bob", "T", "x") is NO_PROPS
    # A changed value of another type, even nested, is a change; the same value is not.
    cluster.apply([UpsertEdge("alice", "x", "T", {"z": [False, "é"]})])
    assert edge_props(graph.out_props("alice", "T", "x")) == {"w": 2, "z": [False, "é"]}
    assert type(edge_props(graph.out_props("alice", "T", "x"))["z"][0]) is bool
    graph.take_dirty()
    graph.apply(decoded(route_chunk([UpsertEdge("alice", "x", "T", {"w": 2})], 1)[0]))
    assert not graph.take_dirty()


def test_removing_the_last_prop_of_an_edge_returns_it_to_the_shared_empty_props() -> None:
    cluster = Cluster(1)
    cluster.apply([UpsertEdge("alice", "x", "T", {"w": 1, "z": 2})])
    cluster.apply([UpsertEdge("alice", "x", "T", {"w": None, "z": None})])
    graph = cluster.graphs[0]
    assert graph.out_props("alice", "T", "x") is NO_PROPS
    assert msgpack.unpackb(cluster.table[out_key("alice", "T", "x")]) == {}
    assert cluster.rebuilt()[0].out_props("alice", "T", "x") is NO_PROPS


def test_packed_props_drop_none_values_and_match_msgpack_after_a_failed_pack() -> None:
    with pytest.raises(OverflowError):
        pack_props({"w": 1, "big": 2**70})  # a failed pack leaves nothing behind
    props: dict[str, Any] = {"w": 1, "gone": None, "z": [0, "é"]}
    assert pack_props(props) == msgpack.packb({"w": 1, "z": [0, "é"]}, use_bin_type=True)
    assert props == {"w": 1, "gone": None, "z": [0, "é"]}  # the caller's map is left alone
    assert pack_props({"gone": None}) is NO_PROPS
    assert pack_props({"w": 7}) is pack_props({"w": 7})  # small props are shared


def test_removing_a_missing_prop_of_an_edge_without_props_writes_nothing() -> None:
    graph = GraphPartition(0)
    steps = route_chunk([UpsertEdge("alice", "x", "T", {})], 1)[0]
    graph.apply(decoded(steps))
    graph.take_dirty()
    graph.apply(decoded(route_chunk([UpsertEdge("alice", "x", "T", {"w": None})], 1)[0]))
    assert graph.out_props("alice", "T", "x") is NO_PROPS
    assert not graph.take_dirty()


def test_out_record_without_props_loads_the_shared_empty_props_by_either_decoder() -> None:
    cluster = Cluster(1)
    cluster.apply([UpsertEdge("alice", "x", "T", {})])
    assert cluster.rebuilt()[0].out_props("alice", "T", "x") is NO_PROPS
    graph = GraphPartition(0)
    key = out_key("alice", "T", "x")
    decode_record(key, cluster.table[key], graph)
    assert graph.out_props("alice", "T", "x") is NO_PROPS


def test_loading_the_same_edge_records_twice_changes_nothing() -> None:
    graph = GraphPartition(0)
    for _ in range(2):
        for src in ("a1", "a2", "a3", "a4", "a5", "a6"):
            graph.load_out_edge(src, "T", "hub", NO_PROPS)
            graph.load_in_edge("hub", "T", src)
    assert graph.edge_count == 6
    assert sorted(pairs(graph.out_by_dst["hub"])) == [("T", f"a{i}") for i in range(1, 7)]
    assert sorted(pairs(graph.in_edges["hub"])) == [("T", f"a{i}") for i in range(1, 7)]
    assert_consistent(graph)


def test_a_nodes_entries_are_flat_up_to_the_small_size_and_hashed_beyond() -> None:
    cluster = Cluster(1)
    graph = cluster.graphs[0]
    spokes = [f"spoke-{i}" for i in range(SMALL + 2)]

    def check(count: int) -> None:
        expected = {("T", s) for s in spokes[:count]}
        small = count <= SMALL
        for index in (graph.out_by_dst, graph.in_edges):
            assert isinstance(index["hub"], tuple if small else set)
            assert set(pairs(index["hub"])) == expected
        assert isinstance(graph.out_edges["hub"], tuple if small else dict)
        assert set(out_pairs(graph.out_edges["hub"])) == {("U", s) for s in spokes[:count]}
        assert_consistent(graph)

    for count, spoke in enumerate(spokes, 1):
        cluster.apply([UpsertEdge(spoke, "hub", "T", {}), UpsertEdge("hub", spoke, "U", {})])
        check(count)
    for count in range(len(spokes) - 1, 0, -1):
        gone = spokes[count]
        cluster.apply([DeleteEdge(gone, "hub", "T"), DeleteEdge("hub", gone, "U")])
        check(count)
    cluster.apply([DeleteEdge(spokes[0], "hub", "T"), DeleteEdge("hub", spokes[0], "U")])
    assert "hub" not in graph.out_by_dst and "hub" not in graph.in_edges
    assert "hub" not in graph.out_edges


@pytest.mark.parametrize("spokes", [SMALL, SMALL + 3])
def test_node_delete_removes_entries_from_flat_and_hashed_index_entries_alike(spokes: int) -> None:
    cluster = Cluster(1)
    names = [f"spoke-{i}" for i in range(spokes)]
    cluster.apply([UpsertEdge(s, "hub", "T", {}) for s in names])
    cluster.apply([UpsertEdge("hub", s, "U", {}) for s in names])
    graph = cluster.graphs[0]
    assert isinstance(graph.out_by_dst["hub"], tuple if spokes <= SMALL else set)
    assert isinstance(graph.out_edges["hub"], tuple if spokes <= SMALL else dict)
    cluster.apply([DeleteNode("hub")])
    assert "hub" not in graph.nodes
    assert graph.edge_count == 0
    assert not (graph.out_edges or graph.in_edges or graph.out_by_dst or graph.in_by_src)
    assert all(not key.startswith((b"o", b"i")) for key in cluster.table)


def test_replaying_parts_keeps_the_shared_layout_and_the_same_state() -> None:
    rng = random.Random(5)
    ops = random_ops(rng, 1200)
    chunks = [ops[i : i + 30] for i in range(0, len(ops), 30)]
    once, replayed = Cluster(4), Cluster(4)
    for i, chunk in enumerate(chunks):
        once.apply(chunk)
        replayed.apply(chunk)
        if i % 5 == 4:  # redelivery of the last few chunks since a commit
            for again in chunks[max(0, i - 2) : i + 1]:
                replayed.apply(again)
    for p, graph in replayed.graphs.items():
        assert_consistent(graph)
        assert semantic_state(graph) == semantic_state(once.graphs[p])
    assert replayed.table == once.table


def test_rebuild_skips_an_undecodable_edge_key_of_another_partition_and_rejects_its_own() -> None:
    key = b"o\xff\xfe\x00T\x00x"  # the first id is not UTF-8
    owner = owner_of_key(key, 4)
    others = set(range(4)) - {owner}
    assert rebuild_partitions([(key, b"\x80")], 4, others).keys() == others
    with pytest.raises(UnicodeDecodeError):
        rebuild_partitions([(key, b"\x80")], 4, {owner})


def test_prop_changed_only_in_a_nested_type_is_a_change() -> None:
    graph = GraphPartition(0)
    graph.apply([(StepKind.NODE_UPSERT, "0", [], {"k": [[0, "é"]]})])
    graph.take_dirty()
    graph.apply([(StepKind.NODE_UPSERT, "0", [], {"k": [[False, "é"]]})])
    assert graph.nodes["0"].props["k"][0][0] is False
    assert "0" in graph.take_dirty().nodes


def test_nodes_without_labels_or_props_share_one_record_that_upserts_never_change() -> None:
    cluster = Cluster(1)
    cluster.apply([UpsertEdge("alice", "bob", "T", {}), UpsertEdge("bob", "carol", "T", {})])
    graph = cluster.graphs[0]
    assert all(graph.nodes[n] is BARE for n in ("alice", "bob", "carol"))
    cluster.apply([UpsertNode("bob", ("Person",), {"age": 3})])
    assert graph.nodes["bob"] is not BARE
    assert graph.nodes["bob"] == NodeRecord({"Person"}, {"age": 3})
    assert NodeRecord() == BARE and graph.nodes["alice"] is BARE
    rebuilt = cluster.rebuilt()[0]
    assert rebuilt.nodes["alice"] is BARE and rebuilt.nodes["carol"] is BARE
    assert rebuilt.nodes["bob"] == NodeRecord({"Person"}, {"age": 3})


def test_edges_with_equal_small_props_share_one_bytes_object_after_apply_and_rebuild() -> None:
    cluster = Cluster(2)
    long_text = "x" * 100  # packs to more than the shared size: held as it comes
    cluster.apply(
        [UpsertEdge(f"s{i}", f"d{i}", "T", {"w": i % 3}) for i in range(30)]
        + [UpsertEdge(f"s{i}", f"e{i}", "T", {"text": long_text}) for i in range(4)]
    )
    for graphs in (cluster.graphs, cluster.rebuilt()):
        held = [
            props
            for g in graphs.values()
            for edges in g.out_edges.values()
            for _, _, props in out_items(edges)
        ]
        assert len(held) == 34
        small = [p for p in held if edge_props(p).keys() == {"w"}]
        assert len(small) == 30 and len({id(p) for p in small}) == 3
        assert {edge_props(p)["w"] for p in small} == {0, 1, 2}
        large = [p for p in held if "text" in edge_props(p)]
        assert len({id(p) for p in large}) == 4 and len(set(large)) == 1
