"""Every query type answers what an independent networkx reference computes, on random
uniform and power-law graphs split over 1, 3, 4 and 8 partitions."""

from __future__ import annotations

import functools
import itertools
import json
import random
from collections.abc import Iterable, Mapping
from typing import Any

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.graph import GraphPartition
from pipeline.queries import Done, QueryLimits, QueryRun, run_locally
from pipeline.routing import route_chunk
from schemas.ops import DeleteEdge, DeleteNode, Op, UpsertEdge, UpsertNode
from tests.support.query_reference import QueryReference
from tests.support.reference import ReferenceGraph, reference_digest

TYPES = ["", "KNOWS", "LIKES"]
EDGE_TYPES: list[str | None] = [None, *TYPES]
DIRECTIONS = ["out", "in", "both"]
PARTITIONS = [1, 3, 4, 8]
GRAPHS = [("uniform", 1, 300), ("uniform", 2, 2000), ("powerlaw", 3, 400), ("powerlaw", 4, 3000)]


# -- building graphs -------------------------------------------------------------------------


def graph_ops(kind: str, seed: int, nodes: int) -> list[Op]:
    """Edges (uniform endpoints, or power-law destinations), self-loops, node upserts, deletes."""
    rng = random.Random(seed)
    ids = [f"v{i}" for i in range(nodes)]
    ops: list[Op] = []
    targets: list[str] = list(ids[:5])
    for _ in range(nodes * 3):
        src = rng.choice(ids)
        preferential = kind == "powerlaw" and rng.random() < 0.85
        dst = rng.choice(targets if preferential else ids)
        if rng.random() < 0.02:
            dst = src
        targets.append(dst)
        ops.append(UpsertEdge(src, dst, rng.choice(TYPES), {"w": rng.randint(0, 9)}))
        if kind == "powerlaw" and rng.random() < 0.3:  # hubs with many in- and out-edges
            ops.append(UpsertEdge(dst, rng.choice(ids), rng.choice(TYPES), {}))
    for node_id in rng.sample(ids, nodes // 2):
        labels = tuple(rng.sample(["A", "B", "C"], rng.randint(1, 2)))
        ops.append(UpsertNode(node_id, labels, {rng.choice("xyz"): rng.choice([1, "s", 2.5])}))
    existing = [op for op in ops if isinstance(op, UpsertEdge)]
    for op in rng.sample(existing, len(existing) // 10):
        ops.append(DeleteEdge(op.src, op.dst, op.type))
    for node_id in rng.sample(ids, nodes // 20):
        ops.append(DeleteNode(node_id))
    return ops


def build_partitions(ops: Iterable[Op], partitions: int) -> dict[int, GraphPartition]:
    graphs = {p: GraphPartition(p) for p in range(partitions)}
    chunk = list(ops)
    for start in range(0, len(chunk), 500):
        for p, steps in route_chunk(chunk[start : start + 500], partitions).items():
            graphs[p].apply(steps)
    return graphs


@functools.cache
def engine(kind: str, seed: int, nodes: int, partitions: int) -> dict[int, GraphPartition]:
    return build_partitions(graph_ops(kind, seed, nodes), partitions)


@functools.cache
def reference(kind: str, seed: int, nodes: int) -> ReferenceGraph:
    ref = ReferenceGraph()
    ref.apply(graph_ops(kind, seed, nodes))
    return ref


def answer(
    graphs: Mapping[int, GraphPartition],
    qtype: str,
    limits: QueryLimits | None = None,
    **args: Any,
) -> Any:
    outcome = run_locally(QueryRun(qtype, args, len(graphs), limits), graphs)
    assert isinstance(outcome, Done), outcome
    return outcome.result


# -- the reference answers -------------------------------------------------------------------


@functools.cache
def answers(kind: str, seed: int, nodes: int) -> QueryReference:
    return QueryReference(reference(kind, seed, nodes))


def hops(kind: str, seed: int, nodes: int, direction: str, edge_type: str | None) -> nx.DiGraph:
    """The directed graph whose edges are the hops a traversal may take."""
    return answers(kind, seed, nodes).hops(direction, edge_type)


def sample_ids(rng: random.Random, nodes: int, count: int) -> list[str]:
    """Mostly existing ids, some deleted ones and some that never existed."""
    return [
        f"v{rng.randrange(nodes)}" if rng.random() < 0.95 else f"absent{rng.randrange(9)}"
        for _ in range(count)
    ]


# -- the tests -------------------------------------------------------------------------------

graph_params = pytest.mark.parametrize(("kind", "seed", "nodes"), GRAPHS)
partition_params = pytest.mark.parametrize("partitions", PARTITIONS)


@graph_params
@partition_params
def test_node_stats_and_digest_match_reference(
    kind: str, seed: int, nodes: int, partitions: int
) -> None:
    graphs, ref = engine(kind, seed, nodes, partitions), reference(kind, seed, nodes)
    assert answer(graphs, "stats") == ref.stats()
    assert answer(graphs, "digest") == reference_digest(ref)
    for node_id in sample_ids(random.Random(seed), nodes, 200):
        assert answer(graphs, "node", id=node_id) == ref.node(node_id)


@graph_params
@partition_params
def test_neighbors_match_reference(kind: str, seed: int, nodes: int, partitions: int) -> None:
    graphs, rng = engine(kind, seed, nodes, partitions), random.Random(seed * 7 + partitions)
    for node_id in sample_ids(rng, nodes, 150):
        direction, edge_type = rng.choice(DIRECTIONS), rng.choice(EDGE_TYPES)
        limit = rng.choice([None, None, 1, 3, 50])
        got = answer(
            graphs, "neighbors", id=node_id, direction=direction, edge_type=edge_type, limit=limit
        )
        expected = answers(kind, seed, nodes).neighbors(node_id, direction, edge_type, limit)
        assert got == expected, (node_id, direction, edge_type, limit)


@graph_params
@partition_params
def test_khop_matches_reference(kind: str, seed: int, nodes: int, partitions: int) -> None:
    graphs, rng = engine(kind, seed, nodes, partitions), random.Random(seed * 11 + partitions)
    for node_id in sample_ids(rng, nodes, 40):
        direction, edge_type = rng.choice(DIRECTIONS), rng.choice(EDGE_TYPES)
        depth = rng.choice([1, 2, 3, 4, 10])
        got = answer(
            graphs, "khop", id=node_id, depth=depth, direction=direction, edge_type=edge_type
        )
        expected = answers(kind, seed, nodes).khop(node_id, depth, direction, edge_type)
        assert got == expected, (node_id, depth, direction, edge_type)


@graph_params
@partition_params
def test_shortest_path_is_shortest_valid_and_the_lexicographically_smallest(
    kind: str, seed: int, nodes: int, partitions: int
) -> None:
    graphs, rng = engine(kind, seed, nodes, partitions), random.Random(seed * 13 + partitions)
    ref = answers(kind, seed, nodes)
    g = ref.g
    found = 0
    for src, dst in zip(sample_ids(rng, nodes, 200), sample_ids(rng, nodes, 200), strict=True):
        if rng.random() < 0.05:
            dst = src
        direction, edge_type = rng.choice(DIRECTIONS), rng.choice([None, None, *EDGE_TYPES])
        max_depth = rng.choice([1, 2, 3, 6, 6, 20])
        got = answer(
            graphs,
            "shortest_path",
            src=src,
            dst=dst,
            max_depth=max_depth,
            direction=direction,
            edge_type=edge_type,
        )["path"]
        case = (src, dst, max_depth, direction, edge_type)
        length = ref.path_length(src, dst, max_depth, direction, edge_type)
        if length is None:
            assert got is None, case
            continue
        found += 1
        assert got is not None and len(got) == length + 1, case
        assert got[0] == src and got[-1] == dst, case
        for a, b in itertools.pairwise(got):
            keys = set(g[a][b]) if g.has_edge(a, b) else set()
            back = set(g[b][a]) if g.has_edge(b, a) else set()
            usable = {"out": keys, "in": back, "both": keys | back}[direction]
            assert usable if edge_type is None else edge_type in usable, (case, a, b)
        assert got == ref.lex_path(src, dst, max_depth, direction, edge_type), case
    assert found >= 20  # enough reachable pairs for the checks above to mean something


@graph_params
@partition_params
def test_subgraph_matches_reference(kind: str, seed: int, nodes: int, partitions: int) -> None:
    graphs, rng = engine(kind, seed, nodes, partitions), random.Random(seed * 17 + partitions)
    ref = answers(kind, seed, nodes)
    for node_id in sample_ids(rng, nodes, 15):
        direction, edge_type = rng.choice(DIRECTIONS), rng.choice(EDGE_TYPES)
        depth = rng.choice([1, 2, 3])
        got = answer(
            graphs, "subgraph", id=node_id, depth=depth, direction=direction, edge_type=edge_type
        )
        expected = ref.subgraph(node_id, depth, direction, edge_type)
        assert got == expected, (node_id, depth, direction)


@graph_params
@partition_params
def test_top_degree_matches_reference(kind: str, seed: int, nodes: int, partitions: int) -> None:
    graphs, ref = engine(kind, seed, nodes, partitions), answers(kind, seed, nodes)
    for k in (1, 7, 100, 10_000):
        for direction in DIRECTIONS:
            got = answer(graphs, "top_degree", k=k, direction=direction)
            assert got == ref.top_degree(k, direction), (k, direction)


def test_answers_are_byte_identical_for_one_and_eight_partitions() -> None:
    kind, seed, nodes = GRAPHS[3]
    one, eight = engine(kind, seed, nodes, 1), engine(kind, seed, nodes, 8)
    rng = random.Random(5)
    queries: list[tuple[str, dict[str, Any]]] = [("stats", {}), ("digest", {})]
    for node_id, other in zip(sample_ids(rng, nodes, 30), sample_ids(rng, nodes, 30), strict=True):
        traversal = {"direction": rng.choice(DIRECTIONS), "edge_type": rng.choice(EDGE_TYPES)}
        queries += [
            ("node", {"id": node_id}),
            ("neighbors", {"id": node_id, "limit": rng.choice([None, 5]), **traversal}),
            ("khop", {"id": node_id, "depth": rng.randint(1, 4), **traversal}),
            ("shortest_path", {"src": node_id, "dst": other, "max_depth": 6, **traversal}),
            ("subgraph", {"id": node_id, "depth": rng.randint(1, 2), **traversal}),
            ("top_degree", {"k": rng.randint(1, 50), "direction": traversal["direction"]}),
        ]
    for qtype, args in queries:
        a = json.dumps(answer(one, qtype, **args), sort_keys=True)
        b = json.dumps(answer(eight, qtype, **args), sort_keys=True)
        assert a == b, (qtype, args)


def test_shortest_path_prefers_the_smallest_sequence_not_the_smallest_last_hop() -> None:
    graphs = build_partitions(
        [
            UpsertEdge("s", "a", "", {}),
            UpsertEdge("a", "d", "", {}),
            UpsertEdge("d", "t", "", {}),
            UpsertEdge("s", "b", "", {}),
            UpsertEdge("b", "c", "", {}),
            UpsertEdge("c", "t", "", {}),
        ],
        4,
    )
    got = answer(graphs, "shortest_path", src="s", dst="t", max_depth=6, direction="out")
    assert got == {"path": ["s", "a", "d", "t"]}


edges_strategy = st.lists(
    st.tuples(st.integers(0, 9), st.integers(0, 9), st.sampled_from(["", "T"])), max_size=40
)


@settings(max_examples=150, deadline=None)
@given(
    edges=edges_strategy,
    src=st.integers(0, 9),
    dst=st.integers(0, 9),
    direction=st.sampled_from(DIRECTIONS),
    edge_type=st.sampled_from([None, "T"]),
    partitions=st.sampled_from(PARTITIONS),
)
def test_shortest_path_tie_break_on_small_dense_graphs(
    edges: list[tuple[int, int, str]],
    src: int,
    dst: int,
    direction: str,
    edge_type: str | None,
    partitions: int,
) -> None:
    ops: list[Op] = [UpsertNode(f"n{i}") for i in range(10)]
    ops += [UpsertEdge(f"n{a}", f"n{b}", t, {}) for a, b, t in edges]
    graphs = build_partitions(ops, partitions)
    ref = ReferenceGraph()
    ref.apply(ops)
    got = answer(
        graphs,
        "shortest_path",
        src=f"n{src}",
        dst=f"n{dst}",
        max_depth=4,
        direction=direction,
        edge_type=edge_type,
    )
    expected = QueryReference(ref).shortest_path(f"n{src}", f"n{dst}", 4, direction, edge_type)
    assert got == expected
