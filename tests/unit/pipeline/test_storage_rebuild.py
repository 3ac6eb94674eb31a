"""Rebuilding partitions from table records: the fast path equals record-by-record decoding."""

from __future__ import annotations

import random
from typing import Any

import msgpack
import pytest

from pipeline.entries import out_items, pairs
from pipeline.graph import GraphPartition
from pipeline.partitioning import partition_for
from pipeline.routing import route_chunk
from pipeline.storage import (
    GraphRecordSink,
    TableWrite,
    apply_records,
    decode_record,
    dirty_writes,
    in_key,
    is_edge_record,
    key_holder,
    node_key,
    out_key,
    owner_of_key,
    rebuild_partitions,
    rebuild_partitions_stepwise,
    remove_record,
    standing_key,
)
from schemas.ops import DeleteEdge, DeleteNode, Op, UpsertEdge, UpsertNode
from tests.support.stepwise import drive

PARTITIONS = 4
IDS = ["a", "b", "ü-node", "節点", "x" * 40, "7", "emoji-🙂", "tab"]


def _ops(rng: random.Random, count: int) -> list[Op]:
    ops: list[Op] = []
    for _ in range(count):
        r = rng.random()
        src, dst = rng.choice(IDS), rng.choice(IDS)
        etype = rng.choice(["", "KNOWS", "Ä"])
        if r < 0.55:
            ops.append(UpsertEdge(src, dst, etype, {"w": rng.randrange(5)}))
        elif r < 0.8:
            ops.append(UpsertNode(src, ("L",) if rng.random() < 0.5 else (), {"k": r}))
        elif r < 0.95:
            ops.append(DeleteEdge(src, dst, etype))
        else:
            ops.append(DeleteNode(src))
    return ops


def _table(ops: list[Op]) -> dict[bytes, bytes]:
    graphs = {p: GraphPartition(p) for p in range(PARTITIONS)}
    table: dict[bytes, bytes] = {}
    for start in range(0, len(ops), 7):
        for p, steps in route_chunk(ops[start : start + 7], PARTITIONS).items():
            graphs[p].apply(steps)
            for key, value in dirty_writes(graphs[p], graphs[p].take_dirty()):
                if value is None:
                    table.pop(key, None)
                else:
                    table[key] = value
    return table


def _reference(table: dict[bytes, bytes], wanted: set[int]) -> dict[int, GraphPartition]:
    """Decode record by record, finding each owner from the decoded id."""
    graphs = {p: GraphPartition(p) for p in wanted}
    for key, value in table.items():
        kind, body = key[:1], key[1:].decode()
        if kind == b"s":
            for graph in graphs.values():
                decode_record(key, value, graph)
            continue
        owner = int(body.split("\x00")[0]) if kind in (b"w", b"c") else None
        if owner is None:
            owner = partition_for(body.split("\x00")[0], PARTITIONS)
        if owner in graphs:
            decode_record(key, value, graphs[owner])
    return graphs


def _state(graph: GraphPartition) -> tuple[Any, ...]:
    nodes = {k: (sorted(v.labels), v.props) for k, v in graph.nodes.items()}
    return (
        nodes,
        {k: {(t, d): p for t, d, p in out_items(v)} for k, v in graph.out_edges.items()},
        {k: set(pairs(v)) for k, v in graph.in_edges.items()},
        {k: set(pairs(v)) for k, v in graph.out_by_dst.items()},
        {k: set(pairs(v)) for k, v in graph.in_by_src.items()},
        graph.edge_count,
        graph.standing,
        graph.watermarks,
        graph.deferred,
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("wanted", [{0, 1, 2, 3}, {1}, {0, 3}, set()])
def test_rebuild_equals_record_by_record_decoding(seed: int, wanted: set[int]) -> None:
    table = _table(_ops(random.Random(seed), 300))
    pack = msgpack.packb
    table[standing_key("sq1")] = pack({"kind": "node_label", "label": "L"})
    table[b"w2\x00graph-apply:1"] = pack(41)
    table[b"c1\x00m-1"] = pack(["a", "L", {"x": 1}])
    assert any(k[:1] == b"o" for k in table) and any(k[:1] == b"i" for k in table)
    records = [*table.items(), (node_key("gone"), None)]
    got = rebuild_partitions(records, PARTITIONS, wanted)
    ref = _reference(table, wanted)
    assert got.keys() == ref.keys()
    for p in wanted:
        assert _state(got[p]) == _state(ref[p])


def test_owner_of_key_is_the_partition_of_the_first_id() -> None:
    for node_id in IDS:
        expected = partition_for(node_id, PARTITIONS)
        assert owner_of_key(node_key(node_id), PARTITIONS) == expected
        assert owner_of_key(out_key(node_id, "T", "other"), PARTITIONS) == expected
        assert owner_of_key(in_key(node_id, "", "z"), PARTITIONS) == expected
    assert owner_of_key(b"w3\x00topic:0", PARTITIONS) == 3
    assert owner_of_key(b"c2\x00match", PARTITIONS) == 2


def test_key_holder_marks_records_every_partition_holds() -> None:
    assert key_holder(standing_key("q"), PARTITIONS) is None
    assert key_holder(node_key("a"), PARTITIONS) == partition_for("a", PARTITIONS)
    assert key_holder(b"w1\x00t:0", PARTITIONS) == 1


def test_malformed_edge_key_is_rejected() -> None:
    with pytest.raises(ValueError, match="malformed"):
        rebuild_partitions([(b"oabc", b"\x80")], 1, {0})


def _written(ops: list[Op]) -> list[TableWrite]:
    """Every record applying ``ops`` writes, in order (``None``: a deletion)."""
    graphs = {p: GraphPartition(p) for p in range(PARTITIONS)}
    log: list[TableWrite] = []
    for start in range(0, len(ops), 7):
        for p, steps in route_chunk(ops[start : start + 7], PARTITIONS).items():
            graphs[p].apply(steps)
            log += dirty_writes(graphs[p], graphs[p].take_dirty())
    return log


def _final(log: list[TableWrite]) -> dict[bytes, bytes]:
    table: dict[bytes, bytes] = {}
    for key, value in log:
        if value is None:
            table.pop(key, None)
        else:
            table[key] = value
    return table


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_applying_later_records_to_a_rebuilt_graph_equals_rebuilding_from_all(seed: int) -> None:
    rng = random.Random(seed)
    log = _written(_ops(rng, 400))
    cut = rng.randrange(len(log))
    everything = set(range(PARTITIONS))
    graphs = rebuild_partitions(_final(log[:cut]).items(), PARTITIONS, everything)
    assert any(value is None for _, value in log[cut:])  # deletions among the later records
    for p, graph in graphs.items():
        apply_records([(k, v) for k, v in log[cut:] if owner_of_key(k, PARTITIONS) == p], graph)
    expected = rebuild_partitions(_final(log).items(), PARTITIONS, everything)
    for p in everything:
        assert _state(graphs[p]) == _state(expected[p])


def test_removing_records_of_an_unknown_kind_or_a_malformed_edge_key_is_rejected() -> None:
    graph = GraphPartition(0)
    with pytest.raises(ValueError, match="unknown record kind"):
        remove_record(b"zwhat", graph)
    with pytest.raises(ValueError, match="malformed"):
        remove_record(b"oabc", graph)
    remove_record(out_key("a", "T", "b"), graph)  # a record never loaded: nothing to forget
    assert graph.edge_count == 0


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_a_record_sink_builds_the_graph_and_stores_only_the_other_records(seed: int) -> None:
    log = [
        (k, v)
        for k, v in _written(_ops(random.Random(seed), 400))
        if owner_of_key(k, PARTITIONS) == 0
    ]
    assert any(value is None for _, value in log)  # deletions among the records
    others: dict[bytes, bytes] = {}
    sink = GraphRecordSink(GraphPartition(0), others)
    for key, value in log:
        if value is None:
            sink.pop(key, None)
        else:
            sink[key] = value
    final = _final(log)
    expected = rebuild_partitions(final.items(), PARTITIONS, {0})[0]
    assert _state(sink.graph) == _state(expected)
    assert others == {k: v for k, v in final.items() if not is_edge_record(k)}
    assert others and len(others) < len(final)


@pytest.mark.parametrize("size", [1, 7, 500])
def test_a_rebuild_in_steps_builds_what_a_rebuild_in_one_go_does(size: int) -> None:
    records = list(_table(_ops(random.Random(5), 600)).items())
    steps = rebuild_partitions_stepwise(records, PARTITIONS, set(range(PARTITIONS)), size)
    built, pauses = drive(steps)
    whole = rebuild_partitions(records, PARTITIONS, set(range(PARTITIONS)))
    assert pauses == -(-len(records) // size)
    for p, graph in whole.items():
        assert _state(built[p]) == _state(graph)


def test_a_rebuild_in_steps_refuses_a_step_below_one() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        next(rebuild_partitions_stepwise([], PARTITIONS, {0}, 0))
