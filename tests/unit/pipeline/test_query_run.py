"""The query run protocol: which partitions each round asks, how partials are taken (in any
order, once, only for the current round), how runs end, and that requests and partials
survive msgpack so runs over remote partitions answer exactly like local ones."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import msgpack
import networkx as nx
import pytest

from pipeline.graph import GraphPartition
from pipeline.partitioning import partition_for
from pipeline.queries import (
    Done,
    Failed,
    QueryLimits,
    QueryRun,
    Requests,
    UnsupportedRequest,
    evaluate_request,
    run_locally,
)
from pipeline.query_eval import (
    UnsupportedQuery,
    evaluate_partial,
    merge_partials,
    target_partitions,
)
from schemas.ops import Op, UpsertEdge
from tests.unit.pipeline.test_query_answers import (
    DIRECTIONS,
    EDGE_TYPES,
    GRAPHS,
    build_partitions,
    engine,
    hops,
    reference,
    sample_ids,
)


def wire(value: Any) -> Any:
    return msgpack.unpackb(msgpack.packb(value, use_bin_type=True), raw=False, strict_map_key=False)


def run_remote(
    run: QueryRun, graphs: Mapping[int, GraphPartition], rng: random.Random
) -> Done | Failed:
    """Like a cluster: msgpack both ways, partials in random order, duplicated, and stale
    partials of the previous round arriving late."""
    step = run.start()
    previous: list[tuple[int, int, Any]] = []
    while isinstance(step, Requests):
        deliveries: list[tuple[int, int, Any]] = []
        for p, request in wire(step.by_partition).items():
            partial = wire(evaluate_request(request, graphs[p], run.limits))
            deliveries += [(step.round, p, partial)] * rng.choice([1, 1, 2])
        deliveries += [(r, p, {"garbage": True}) for r, p, _ in previous]
        rng.shuffle(deliveries)
        following = [s for r, p, partial in deliveries if (s := run.feed(r, p, partial))]
        assert len(following) == 1
        previous, step = deliveries, following[0]
    return step


def test_node_and_neighbors_ask_only_the_owner_once_and_finish_on_its_partial() -> None:
    graphs = engine(*GRAPHS[0], 8)
    queries: list[tuple[str, dict[str, Any]]] = [
        ("node", {"id": "v7"}),
        ("neighbors", {"id": "v7", "direction": "both", "edge_type": None, "limit": None}),
    ]
    for qtype, args in queries:
        run = QueryRun(qtype, args, 8)
        step = run.start()
        owner = partition_for("v7", 8)
        assert isinstance(step, Requests) and step.round == 0
        assert list(step.by_partition) == [owner]
        partial = evaluate_request(step.by_partition[owner], graphs[owner], run.limits)
        assert run.feed(0, owner, partial) == Done(partial)
        assert run.touched == {owner}


@pytest.mark.parametrize("qtype", ["stats", "digest", "top_degree"])
def test_global_queries_ask_every_partition_once(qtype: str) -> None:
    args = {"k": 5, "direction": "out"} if qtype == "top_degree" else {}
    step = QueryRun(qtype, args, 4).start()
    assert isinstance(step, Requests) and sorted(step.by_partition) == [0, 1, 2, 3]


def test_each_round_asks_each_owner_once_with_all_its_frontier_nodes() -> None:
    kind, seed, nodes = GRAPHS[2]
    graphs = engine(kind, seed, nodes, 4)
    h = hops(kind, seed, nodes, "out", None)
    start = next(n for n in sorted(h) if h.out_degree(n) > 2)
    distance = nx.single_source_shortest_path_length(h, start, cutoff=3)
    run = QueryRun("khop", {"id": start, "depth": 3, "direction": "out", "edge_type": None}, 4)
    step = run.start()
    rounds = 0
    while isinstance(step, Requests):
        assert step.round == rounds
        level = sorted(n for n, d in distance.items() if d == rounds)
        asked: list[str] = []
        for p, request in step.by_partition.items():
            assert request["op"] == "expand" and request["ids"] == sorted(request["ids"])
            assert all(partition_for(n, 4) == p for n in request["ids"])
            asked += request["ids"]
        assert sorted(asked) == level
        following = None
        for p, request in step.by_partition.items():
            following = run.feed(step.round, p, evaluate_request(request, graphs[p], run.limits))
        assert following is not None
        step, rounds = following, rounds + 1
    assert rounds == 3 and isinstance(step, Done)
    assert step.result["count"] == len(distance) - 1


def test_duplicate_stale_and_unasked_partials_are_ignored() -> None:
    graphs = build_partitions([UpsertEdge("a", "b", "", {}), UpsertEdge("b", "c", "", {})], 4)
    run = QueryRun("khop", {"id": "a", "depth": 2, "direction": "out", "edge_type": None}, 4)
    first = run.start()
    assert isinstance(first, Requests)
    (p0,) = first.by_partition
    round0 = evaluate_request(first.by_partition[p0], graphs[p0], run.limits)
    assert run.feed(1, p0, round0) is None  # a round not started yet
    assert run.feed(0, (p0 + 1) % 4, round0) is None  # a partition not asked
    second = run.feed(0, p0, round0)
    assert isinstance(second, Requests) and second.round == 1
    (p1,) = second.by_partition
    assert run.feed(0, p0, {"adj": [["zzz"]]}) is None  # stale: round 0 is over
    round1 = evaluate_request(second.by_partition[p1], graphs[p1], run.limits)
    done = run.feed(1, p1, round1)
    assert done == Done({"id": "a", "depth": 2, "nodes": ["b", "c"], "count": 2})
    assert run.feed(1, p1, {"adj": [["zzz"]]}) is None  # the run is over
    assert run.outcome == done
    assert run.touched == {p0, p1}


def test_a_second_partial_of_the_same_partition_does_not_replace_the_first() -> None:
    graphs = build_partitions([UpsertEdge(f"x{i}", f"y{i}", "", {}) for i in range(20)], 4)
    run = QueryRun("stats", {}, 4)
    step = run.start()
    assert isinstance(step, Requests)
    outcome = None
    for p in sorted(step.by_partition):
        partial = evaluate_request(step.by_partition[p], graphs[p], run.limits)
        outcome = run.feed(0, p, partial)
        if outcome is None:
            assert run.feed(0, p, {"nodes": 1000, "edges": 1000}) is None
    assert outcome == Done({"nodes": 40, "edges": 20})


def test_unknown_query_type_fails_at_start() -> None:
    run = QueryRun("pagerank", {}, 4)
    assert run.start() == Failed("unknown_query_type", "unknown query type 'pagerank'")
    assert run.feed(0, 0, None) is None


def test_a_run_starts_once() -> None:
    run = QueryRun("stats", {}, 2)
    run.start()
    with pytest.raises(RuntimeError):
        run.start()


def test_a_malformed_partial_fails_the_run_as_internal() -> None:
    run = QueryRun("khop", {"id": "a", "depth": 2, "direction": "out", "edge_type": None}, 1)
    run.start()
    got = run.feed(0, 0, {"nothing": "useful"})
    assert isinstance(got, Failed) and got.code == "internal" and "khop" in got.message


def test_run_locally_without_a_needed_partition_fails_unavailable() -> None:
    graphs = build_partitions([UpsertEdge("a", "b", "", {})], 4)
    del graphs[partition_for("a", 4)]
    got = run_locally(QueryRun("node", {"id": "a"}, 4), graphs)
    assert isinstance(got, Failed) and got.code == "unavailable"


def test_an_unknown_request_operation_is_refused() -> None:
    with pytest.raises(UnsupportedRequest):
        evaluate_request({"op": "teleport"}, GraphPartition(0), QueryLimits())


@pytest.mark.parametrize("partitions", [1, 3, 8])
def test_runs_over_msgpack_in_any_delivery_order_answer_like_local_runs(partitions: int) -> None:
    kind, seed, nodes = GRAPHS[2]
    graphs = engine(kind, seed, nodes, partitions)
    rng = random.Random(partitions)
    limits = QueryLimits(max_visited=150, max_result=120)
    for node_id, other in zip(sample_ids(rng, nodes, 25), sample_ids(rng, nodes, 25), strict=True):
        t = {"direction": rng.choice(DIRECTIONS), "edge_type": rng.choice(EDGE_TYPES)}
        queries: list[tuple[str, dict[str, Any]]] = [
            ("stats", {}),
            ("digest", {}),
            ("node", {"id": node_id}),
            ("neighbors", {"id": node_id, "limit": None, **t}),
            ("khop", {"id": node_id, "depth": 3, **t}),
            ("shortest_path", {"src": node_id, "dst": other, "max_depth": 6, **t}),
            ("subgraph", {"id": node_id, "depth": 2, **t}),
            ("top_degree", {"k": 9, "direction": t["direction"]}),
        ]
        for qtype, args in queries:
            local = run_locally(QueryRun(qtype, args, partitions, limits), graphs)
            remote = run_remote(QueryRun(qtype, args, partitions, limits), graphs, rng)
            assert remote == local, (qtype, args)


def chain(length: int, partitions: int) -> dict[int, GraphPartition]:
    ops: list[Op] = [UpsertEdge(f"c{i:02}", f"c{i + 1:02}", "", {}) for i in range(length)]
    return build_partitions(ops, partitions)


def rounds_of(run: QueryRun, graphs: Mapping[int, GraphPartition]) -> tuple[Any, int]:
    step, rounds = run.start(), 0
    while isinstance(step, Requests):
        rounds += 1
        for p, request in step.by_partition.items():
            following = run.feed(step.round, p, evaluate_request(request, graphs[p], run.limits))
        assert following is not None
        step = following
    assert isinstance(step, Done)
    return step.result, rounds


def test_shortest_path_stops_at_the_round_reaching_dst() -> None:
    graphs = chain(12, 4)
    args = {"src": "c00", "dst": "c04", "max_depth": 10, "direction": "out", "edge_type": None}
    result, rounds = rounds_of(QueryRun("shortest_path", args, 4), graphs)
    assert result == {"path": ["c00", "c01", "c02", "c03", "c04"]} and rounds == 4


def test_shortest_path_never_expands_beyond_max_depth() -> None:
    graphs = chain(12, 4)
    args = {"src": "c00", "dst": "c09", "max_depth": 3, "direction": "out", "edge_type": None}
    result, rounds = rounds_of(QueryRun("shortest_path", args, 4), graphs)
    assert result == {"path": None} and rounds == 3
    args = {**args, "src": "c09", "dst": "c00", "direction": "in"}
    result, rounds = rounds_of(QueryRun("shortest_path", {**args, "max_depth": 9}, 4), graphs)
    assert result == {"path": [f"c{i:02}" for i in range(9, -1, -1)]} and rounds == 9


def test_shortest_path_to_itself_or_a_missing_node_takes_one_round() -> None:
    graphs = chain(3, 4)
    base = {"max_depth": 6, "direction": "out", "edge_type": None}
    for src, dst, path in [("c01", "c01", ["c01"]), ("c00", "nope", None), ("nope", "c01", None)]:
        run = QueryRun("shortest_path", {"src": src, "dst": dst, **base}, 4)
        assert rounds_of(run, graphs) == ({"path": path}, 1)


def test_one_round_compatibility_functions_follow_the_new_runs() -> None:
    kind, seed, nodes = GRAPHS[0]
    graphs, ref = engine(kind, seed, nodes, 4), reference(kind, seed, nodes)
    assert target_partitions("node", {"id": "v3"}, 4) == [partition_for("v3", 4)]
    assert target_partitions("stats", {}, 4) == [0, 1, 2, 3]
    partials = [evaluate_partial("stats", {}, graphs[p]) for p in range(4)]
    assert merge_partials("stats", {}, partials) == ref.stats()
    owner = graphs[partition_for("v3", 4)]
    assert merge_partials(
        "node", {"id": "v3"}, [evaluate_partial("node", {"id": "v3"}, owner)]
    ) == (ref.node("v3"))
    with pytest.raises(UnsupportedQuery):
        target_partitions("khop", {"id": "v3", "depth": 2}, 4)
