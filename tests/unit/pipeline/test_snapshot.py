"""A graph snapshot gives back the partitions it was written from, or refuses to load.

Loaded partitions hold what the written ones held, in the same layout (interned ids, the
packed edge props, small index entries flat), carry the store offsets
written with them, and go on applying parts exactly as the originals do. Bytes that are not
a whole snapshot of this format and partition count raise :class:`SnapshotError`.
"""

from __future__ import annotations

import io
import json
import random
import struct
import sys

import pytest

from pipeline.digest import partition_digest
from pipeline.entries import out_items
from pipeline.graph import BARE, NO_PROPS, GraphPartition, edge_props
from pipeline.snapshot import MAGIC, SnapshotError, read_snapshot, write_snapshot
from pipeline.steps import StepKind
from pipeline.storage import dirty_writes
from schemas.ops import DeleteEdge, DeleteNode, Op, UpsertEdge, UpsertNode
from tests.unit.pipeline.test_shared_state import (
    Cluster,
    assert_consistent,
    objects_per_string,
    semantic_state,
)

PARTITIONS = 4


def mixed_ops(seed: int, count: int = 3_000) -> list[Op]:
    """Nodes with labels and props, edges with and without props, a hub, deletes."""
    rng = random.Random(seed)
    ids = [f"v{i}" for i in range(300)]
    ops: list[Op] = [UpsertEdge("hub", f"leaf{i}", "HAS", {}) for i in range(40)]
    for _ in range(count):
        roll = rng.random()
        a, b = rng.choice(ids), rng.choice(ids)
        if roll < 0.5:
            props = {"w": rng.randrange(5)} if rng.random() < 0.5 else {}
            ops.append(UpsertEdge(a, b, rng.choice(("KNOWS", "LIKES")), props))
        elif roll < 0.8:
            ops.append(UpsertNode(a, (rng.choice(("P", "Q")),), {"n": [rng.randrange(3), "é"]}))
        elif roll < 0.95:
            ops.append(DeleteEdge(a, b, "KNOWS"))
        else:
            ops.append(DeleteNode(a))
    return ops


def written(graphs: dict[int, GraphPartition], offsets: dict[int, int | None]) -> bytes:
    out = io.BytesIO()
    write_snapshot(out, graphs, offsets, PARTITIONS)
    return out.getvalue()


def loaded(blob: bytes) -> tuple[dict[int, GraphPartition], dict[int, int | None]]:
    return read_snapshot(io.BytesIO(blob), PARTITIONS)


@pytest.fixture
def cluster() -> Cluster:
    c = Cluster(PARTITIONS)
    c.apply(mixed_ops(seed=3))
    graph = c.graphs[1]
    graph.apply([(StepKind.STANDING_PUT, "q1", {"label": "P"})])
    graph.mark_applied("input", 0, 41)
    graph.take_dirty()
    return c


def test_loaded_partitions_hold_what_was_written(cluster: Cluster) -> None:
    offsets: dict[int, int | None] = {0: 17, 1: None, 2: 0, 3: 123_456_789_012}
    graphs, got_offsets = loaded(written(cluster.graphs, offsets))
    assert got_offsets == offsets
    assert sorted(graphs) == sorted(cluster.graphs)
    for p, graph in graphs.items():
        original = cluster.graphs[p]
        assert graph.partition == p
        assert semantic_state(graph) == semantic_state(original)
        assert partition_digest(graph) == partition_digest(original)
        assert (graph.standing, graph.watermarks, graph.deferred) == (
            original.standing,
            original.watermarks,
            original.deferred,
        )
        assert_consistent(graph)
    assert graphs[1].standing == {"q1": {"label": "P"}}
    assert graphs[1].watermarks == {"input:0": 41}


def test_edge_props_come_back_packed_and_later_upserts_change_only_their_edge(
    cluster: Cluster,
) -> None:
    graphs, _ = loaded(written(cluster.graphs, {}))
    hub_graph = next(g for g in graphs.values() if "hub" in g.out_edges)
    leaf_owner = next(g for g in graphs.values() if "leaf0" in g.nodes)
    assert leaf_owner.nodes["leaf0"] is BARE  # no labels, no props: the shared record
    leaves = [props for _, _, props in out_items(hub_graph.out_edges["hub"])]
    assert len(leaves) == 40 and all(props == NO_PROPS for props in leaves)
    assert len({id(props) for props in leaves}) == 1  # one object for them all
    hub_graph.apply([(StepKind.OUT_UPSERT, "hub", "HAS", "leaf0", {"x": 1})])
    assert edge_props(hub_graph.out_props("hub", "HAS", "leaf0") or b"") == {"x": 1}
    assert hub_graph.out_props("hub", "HAS", "leaf1") == NO_PROPS
    assert edge_props(NO_PROPS) == {}


def test_ids_come_back_as_one_interned_object_each(cluster: Cluster) -> None:
    graphs, _ = loaded(written(cluster.graphs, {}))
    found = objects_per_string(graphs.values())
    assert found and all(len(ids) == 1 for ids in found.values())
    fresh = "".join(["v", "1", "7"])  # a new string object equal to an id
    assert sys.intern(fresh) is next(k for g in graphs.values() for k in g.nodes if k == "v17")


def test_loaded_partitions_apply_later_parts_exactly_as_the_originals(cluster: Cluster) -> None:
    graphs, _ = loaded(written(cluster.graphs, {}))
    assert all(g.indexed for g in cluster.graphs.values())  # the ops delete nodes
    assert not any(g.indexed for g in graphs.values())  # rebuilt by the next node delete
    twin = Cluster(PARTITIONS)
    twin.graphs = graphs
    twin.table = dict(cluster.table)
    more = mixed_ops(seed=4, count=2_000)
    for ops in (more[:1_000], more[1_000:]):
        for c in (cluster, twin):
            c.apply(ops)
    assert twin.table == cluster.table
    for p in range(PARTITIONS):
        assert semantic_state(twin.graphs[p]) == semantic_state(cluster.graphs[p])
        assert dirty_writes(twin.graphs[p], twin.graphs[p].take_dirty()) == []


def test_a_snapshot_is_not_read_under_another_partition_count(cluster: Cluster) -> None:
    blob = written(cluster.graphs, {})
    with pytest.raises(SnapshotError, match="partitions"):
        read_snapshot(io.BytesIO(blob), PARTITIONS * 2)


def test_a_snapshot_of_another_python_or_format_is_refused(cluster: Cluster) -> None:
    blob = written(cluster.graphs, {})
    (size,) = struct.unpack(">I", blob[len(MAGIC) : len(MAGIC) + 4])
    start = len(MAGIC) + 4
    header = json.loads(blob[start : start + size])
    for field, value in (("python", [2, 7]), ("format", 0), ("small_index", 99)):
        changed = json.dumps({**header, field: value}, sort_keys=True).encode()
        other = MAGIC + struct.pack(">I", len(changed)) + changed + blob[start + size :]
        with pytest.raises(SnapshotError, match="this process reads"):
            loaded(other)


@pytest.mark.parametrize(
    "damage",
    ["flip_payload_byte", "truncate", "append", "not_a_snapshot", "empty", "bad_header"],
)
def test_damaged_bytes_raise_snapshot_error(cluster: Cluster, damage: str) -> None:
    blob = written(cluster.graphs, {0: 5})
    if damage == "flip_payload_byte":
        at = len(blob) - 100
        blob = blob[:at] + bytes([blob[at] ^ 0x40]) + blob[at + 1 :]
    elif damage == "truncate":
        blob = blob[: len(blob) // 2]
    elif damage == "append":
        blob += b"\x00"
    elif damage == "not_a_snapshot":
        blob = b"SQLite format 3\x00" + blob[16:]
    elif damage == "empty":
        blob = b""
    else:
        blob = MAGIC + struct.pack(">I", 5) + b"{oops" + blob[len(MAGIC) + 4 :]
    with pytest.raises(SnapshotError):
        loaded(blob)


def test_an_empty_set_of_partitions_round_trips() -> None:
    graphs, offsets = loaded(written({}, {}))
    assert graphs == {} and offsets == {}
