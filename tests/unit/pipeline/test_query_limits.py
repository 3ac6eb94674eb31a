"""Safety limits end a query with ``limit_exceeded`` naming the limit, stop hub expansions
early, never refuse a query that fits, and fail the same way whatever the partitioning."""

from __future__ import annotations

import functools
import itertools
import random
from collections.abc import Iterator
from typing import Any

import pytest

from pipeline.graph import GraphPartition
from pipeline.partitioning import partition_for
from pipeline.queries import Done, Failed, QueryLimits, QueryRun, run_locally
from schemas.ops import Op, UpsertEdge
from tests.unit.pipeline.test_query_answers import (
    DIRECTIONS,
    GRAPHS,
    build_partitions,
    engine,
    sample_ids,
)

HUB_DEGREE = 200_000


class CountingEntries(dict[tuple[str, str], dict[str, Any]]):
    """A node's out entries that count how many of them anything iterates over."""

    touched = 0

    def __iter__(self) -> Iterator[tuple[str, str]]:
        for key in super().__iter__():
            CountingEntries.touched += 1
            yield key


@functools.cache
def hub_graph(partitions: int) -> dict[int, GraphPartition]:
    """``root -> hub`` and ``hub -> d0 .. d199999``."""
    ops: list[Op] = [UpsertEdge("root", "hub", "", {})]
    ops += [UpsertEdge("hub", f"d{i}", "", {}) for i in range(HUB_DEGREE)]
    return build_partitions(ops, partitions)


def counted_hub_graph(partitions: int) -> dict[int, GraphPartition]:
    graphs = hub_graph(partitions)
    owner = graphs[partition_for("hub", partitions)]
    if not isinstance(owner.out_edges["hub"], CountingEntries):
        owner.out_edges["hub"] = CountingEntries(owner.out_edges["hub"])
    CountingEntries.touched = 0
    return graphs


def outcome(
    graphs: dict[int, GraphPartition], qtype: str, limits: QueryLimits, **args: Any
) -> Done | Failed:
    return run_locally(QueryRun(qtype, args, len(graphs), limits), graphs)


@pytest.mark.parametrize("partitions", [1, 8])
@pytest.mark.parametrize("start", ["hub", "root"])
def test_khop_over_a_hub_fails_on_max_visited_touching_under_twice_the_limit(
    partitions: int, start: str
) -> None:
    graphs = counted_hub_graph(partitions)
    got = outcome(graphs, "khop", QueryLimits(max_visited=10_000), id=start, depth=2)
    assert got == Failed("limit_exceeded", "khop visited more than 10000 nodes (max_visited)")
    assert 10_000 < CountingEntries.touched < 20_000


def test_the_same_khop_without_a_tight_limit_reads_the_whole_hub() -> None:
    graphs = counted_hub_graph(8)
    limits = QueryLimits(max_visited=300_000, max_frontier=300_000, max_result=300_000)
    got = outcome(graphs, "khop", limits, id="root", depth=2)
    assert isinstance(got, Done) and got.result["count"] == HUB_DEGREE + 1
    assert CountingEntries.touched >= HUB_DEGREE


def test_a_round_adding_too_many_nodes_fails_on_max_frontier() -> None:
    graphs = counted_hub_graph(8)
    got = outcome(graphs, "khop", QueryLimits(max_frontier=1_000), id="root", depth=3)
    message = "khop frontier grew to more than 1000 nodes (max_frontier)"
    assert got == Failed("limit_exceeded", message)
    assert CountingEntries.touched < 2_000


def test_shortest_path_past_an_overflowing_hub_goes_on_from_the_other_end() -> None:
    graphs = counted_hub_graph(1)
    limits = QueryLimits(max_visited=5_000)
    got = outcome(graphs, "shortest_path", limits, src="root", dst="elsewhere", max_depth=6)
    assert got == Done({"path": None})
    # The hub's side closes; the search from root finds nothing reaching it: no path.
    got = outcome(graphs, "shortest_path", limits, src="hub", dst="root", max_depth=6)
    assert got == Done({"path": None})
    # From root the hub overflows; from d7 back, the hub is met at once.
    CountingEntries.touched = 0
    got = outcome(graphs, "shortest_path", limits, src="root", dst="d7", max_depth=6)
    assert got == Done({"path": ["root", "hub", "d7"]})
    assert CountingEntries.touched < 2 * 5_000


@functools.cache
def fan_graph(partitions: int) -> dict[int, GraphPartition]:
    """``hub -> d0 .. d1999`` and ``e0 .. e1999 -> sink``: both ends overflow a small limit."""
    ops: list[Op] = [UpsertEdge("hub", f"d{i}", "", {}) for i in range(2_000)]
    ops += [UpsertEdge(f"e{i}", "sink", "", {}) for i in range(2_000)]
    ops += [UpsertEdge(f"d{i}", f"e{i}", "", {}) for i in range(2_000)]
    return build_partitions(ops, partitions)


@pytest.mark.parametrize("partitions", [1, 8])
def test_shortest_path_fails_on_a_limit_only_when_both_ends_overflow(partitions: int) -> None:
    graphs = fan_graph(partitions)
    got = outcome(graphs, "shortest_path", QueryLimits(max_visited=500), src="hub", dst="sink")
    message = "shortest_path visited more than 500 nodes (max_visited)"
    assert got == Failed("limit_exceeded", message)
    got = outcome(graphs, "shortest_path", QueryLimits(max_frontier=500), src="hub", dst="sink")
    message = "shortest_path frontier grew to more than 500 nodes (max_frontier)"
    assert got == Failed("limit_exceeded", message)
    wide = QueryLimits(max_visited=5_000)
    got = outcome(graphs, "shortest_path", wide, src="hub", dst="sink")
    assert got == Done({"path": ["hub", "d0", "e0", "sink"]})


def test_neighbors_past_max_result_fail_but_a_limit_within_it_answers() -> None:
    graphs = hub_graph(8)
    limits = QueryLimits(max_result=1_000)
    got = outcome(graphs, "neighbors", limits, id="hub", direction="out")
    assert got == Failed(
        "limit_exceeded", "neighbors of 'hub' found more than 1000 neighbors (max_result)"
    )
    got = outcome(graphs, "neighbors", limits, id="hub", direction="out", limit=3)
    assert got == Done({"id": "hub", "neighbors": ["d0", "d1", "d10"]})


def test_subgraph_with_more_entries_than_max_result_fails() -> None:
    ops: list[Op] = [UpsertEdge(f"a{i}", f"a{j}", "", {}) for i in range(30) for j in range(30)]
    graphs = build_partitions(ops, 4)
    fits = outcome(graphs, "subgraph", QueryLimits(max_result=930), id="a0", depth=1)
    assert isinstance(fits, Done) and len(fits.result["edges"]) == 900
    got = outcome(graphs, "subgraph", QueryLimits(max_result=929), id="a0", depth=1)
    message = "subgraph holds more than 929 nodes and edges (max_result)"
    assert got == Failed("limit_exceeded", message)


def test_top_degree_asking_more_than_max_result_fails() -> None:
    got = outcome(hub_graph(1), "top_degree", QueryLimits(max_result=10), k=11)
    assert got == Failed("limit_exceeded", "top_degree asks for more than 10 nodes (max_result)")


def test_a_dense_graph_reached_within_max_visited_is_not_refused() -> None:
    nodes = 120  # every node links to every node: 14,400 entries for 120 distinct nodes
    ops: list[Op] = [
        UpsertEdge(f"c{i}", f"c{j}", "", {}) for i in range(nodes) for j in range(nodes)
    ]
    graphs = build_partitions(ops, 4)
    limits = QueryLimits(max_visited=nodes, max_frontier=nodes - 1)
    got = outcome(graphs, "khop", limits, id="c0", depth=3, direction="both")
    assert isinstance(got, Done) and got.result["count"] == nodes - 1
    tighter = QueryLimits(max_visited=nodes - 1)
    got = outcome(graphs, "khop", tighter, id="c0", depth=3, direction="both")
    assert got == Failed("limit_exceeded", "khop visited more than 119 nodes (max_visited)")


def test_max_rounds_caps_how_many_rounds_a_traversal_may_take() -> None:
    graphs = build_partitions([UpsertEdge(f"p{i}", f"p{i + 1}", "", {}) for i in range(8)], 3)
    got = outcome(graphs, "khop", QueryLimits(max_rounds=3), id="p0", depth=5)
    assert got == Failed("limit_exceeded", "khop needs more than 3 rounds (max_rounds)")
    got = outcome(graphs, "khop", QueryLimits(max_rounds=3), id="p6", depth=5)
    assert got == Done({"id": "p6", "depth": 5, "nodes": ["p7", "p8"], "count": 2})
    got = outcome(graphs, "khop", QueryLimits(), id="p0", depth=5)
    assert isinstance(got, Done) and got.result["count"] == 5


@pytest.mark.parametrize(
    "limits",
    [
        QueryLimits(max_visited=60),
        QueryLimits(max_frontier=15),
        QueryLimits(max_result=25),
        QueryLimits(max_visited=200, max_frontier=40, max_result=100),
    ],
)
def test_limit_outcomes_are_identical_for_one_and_eight_partitions(limits: QueryLimits) -> None:
    kind, seed, nodes = GRAPHS[2]
    one, eight = engine(kind, seed, nodes, 1), engine(kind, seed, nodes, 8)
    rng = random.Random(9)
    failures = 0
    for node_id, other in zip(sample_ids(rng, nodes, 40), sample_ids(rng, nodes, 40), strict=True):
        direction = rng.choice(DIRECTIONS)
        queries: list[tuple[str, dict[str, Any]]] = [
            ("neighbors", {"id": node_id, "direction": direction}),
            ("khop", {"id": node_id, "depth": rng.randint(1, 4), "direction": direction}),
            ("shortest_path", {"src": node_id, "dst": other, "direction": direction}),
            ("subgraph", {"id": node_id, "depth": rng.randint(1, 3), "direction": direction}),
        ]
        for qtype, args in queries:
            a, b = outcome(one, qtype, limits, **args), outcome(eight, qtype, limits, **args)
            assert a == b, (qtype, args)
            failures += isinstance(a, Failed)
    assert failures > 5


@pytest.mark.parametrize("field", ["max_visited", "max_frontier", "max_result", "max_rounds"])
def test_limits_below_one_are_refused(field: str) -> None:
    with pytest.raises(ValueError, match=field):
        QueryLimits(**{field: 0})


def bfs_distances(adjacency: dict[str, list[str]], start: str) -> dict[str, int]:
    distances, frontier = {start: 0}, [start]
    while frontier:
        following = []
        for node_id in frontier:
            for other in adjacency.get(node_id, ()):
                if other not in distances:
                    distances[other] = distances[node_id] + 1
                    following.append(other)
        frontier = following
    return distances


def test_shortest_path_answers_within_a_limit_a_one_ended_search_would_break() -> None:
    rng = random.Random(11)
    nodes, degree, limit = 5_000, 10, 1_000
    adjacency = {f"u{i}": [f"u{rng.randrange(nodes)}" for _ in range(degree)] for i in range(nodes)}
    graphs = build_partitions(
        [UpsertEdge(src, dst, "", {}) for src, dsts in adjacency.items() for dst in dsts], 4
    )
    one_ended_breaks = 0
    for _ in range(30):
        src, dst = f"u{rng.randrange(nodes)}", f"u{rng.randrange(nodes)}"
        distances = bfs_distances(adjacency, src)
        length = distances.get(dst)
        within = sum(1 for d in distances.values() if length is not None and d <= length)
        one_ended_breaks += within > limit
        got = outcome(graphs, "shortest_path", QueryLimits(max_visited=limit), src=src, dst=dst)
        assert isinstance(got, Done), (src, dst, got)
        path = got.result["path"]
        assert path is not None and len(path) == length + 1 and path[0] == src and path[-1] == dst
        assert all(b in adjacency[a] for a, b in itertools.pairwise(path))
    assert one_ended_breaks >= 20  # most of these pairs are out of a one-ended search's reach
