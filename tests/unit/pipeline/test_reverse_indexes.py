"""A partition's reverse indexes (out entries by destination, in entries by source) are only
built when a node delete first needs them, and are exact and up to date from then on."""

from __future__ import annotations

import random

import pytest

from pipeline.entries import out_pairs, pairs
from pipeline.graph import NO_PROPS, GraphPartition
from pipeline.steps import Step, StepKind


def _out(src: str, dst: str, etype: str = "T") -> Step:
    return (StepKind.OUT_UPSERT, src, etype, dst, {})


def _in(dst: str, src: str, etype: str = "T") -> Step:
    return (StepKind.IN_UPSERT, dst, etype, src)


def _derived(graph: GraphPartition) -> tuple[set[tuple[str, str, str]], set[tuple[str, str, str]]]:
    """The index contents the entries imply: (src, type, dst) of out and in entries."""
    outs = {(s, t, d) for s, entries in graph.out_edges.items() for t, d in out_pairs(entries)}
    ins = {(s, t, d) for d, entries in graph.in_edges.items() for t, s in pairs(entries)}
    return outs, ins


def _held(graph: GraphPartition) -> tuple[set[tuple[str, str, str]], set[tuple[str, str, str]]]:
    by_dst = {(s, t, d) for d, entries in graph.out_by_dst.items() for t, s in pairs(entries)}
    by_src = {(s, t, d) for s, entries in graph.in_by_src.items() for t, d in pairs(entries)}
    return by_dst, by_src


def test_a_partition_that_only_gains_edges_holds_no_reverse_index() -> None:
    graph = GraphPartition(0)
    graph.apply([_out("a", "b"), _in("a", "c"), (StepKind.OUT_DELETE, "a", "T", "b")])
    graph.load_out_edge("x", "T", "y", NO_PROPS)
    graph.load_in_edge("y", "T", "z")
    assert not graph.indexed
    assert graph._out_by_dst == {} and graph._in_by_src == {}


def test_a_node_delete_drops_the_local_entries_that_point_at_the_node() -> None:
    graph = GraphPartition(0)
    # a and c are owned here, "far" elsewhere: only the reverse indexes find a -> far
    graph.apply([_out("a", "far"), _out("c", "far", "U"), _in("c", "far"), _out("a", "c")])
    graph.apply([(StepKind.NODE_DELETE, "far")])
    assert graph.indexed
    assert _derived(graph) == ({("a", "T", "c")}, set())
    assert graph.edge_count == 1
    assert graph.take_dirty().out_edges == {
        ("a", "T", "far"): None,
        ("c", "U", "far"): None,
        ("a", "T", "c"): NO_PROPS,
    }


@pytest.mark.parametrize("seed", range(5))
def test_once_built_the_indexes_follow_every_later_change_exactly(seed: int) -> None:
    rnd = random.Random(seed)
    nodes = [f"n{i}" for i in range(30)]
    graph = GraphPartition(0)

    def random_steps(count: int) -> list[Step]:
        steps: list[Step] = []
        for _ in range(count):
            a, b, t = rnd.choice(nodes), rnd.choice(nodes), rnd.choice("TU")
            kind = rnd.random()
            if kind < 0.4:
                steps.append(_out(a, b, t))
            elif kind < 0.8:
                steps.append(_in(a, b, t))
            elif kind < 0.9:
                steps.append((StepKind.OUT_DELETE, a, t, b))
            else:
                steps.append((StepKind.IN_DELETE, a, t, b))
        return steps

    graph.apply(random_steps(400))
    graph.apply([(StepKind.NODE_DELETE, rnd.choice(nodes))])
    assert graph.indexed
    for _ in range(5):
        graph.apply(random_steps(200))
        graph.apply([(StepKind.NODE_DELETE, rnd.choice(nodes))])
        graph.unload_out_edge(*next(iter(_derived(graph)[0]), ("-", "-", "-")))
        assert _held(graph) == _derived(graph)


def test_a_stepwise_build_yields_per_slice_of_nodes_and_takes_effect_at_the_end() -> None:
    graph = GraphPartition(0)
    graph.apply([_out(f"s{i}", f"d{i % 3}") for i in range(10)])
    graph.apply([_in(f"d{i}", f"s{i}") for i in range(5)])
    steps = graph.build_indexes_stepwise(3)
    yields = 0
    for _ in steps:
        yields += 1
        assert not graph.indexed
    assert yields == (10 + 5) // 3
    assert graph.indexed
    assert _held(graph) == _derived(graph)


def test_a_stepwise_build_of_no_size_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        next(GraphPartition(0).build_indexes_stepwise(0))


def test_a_stepwise_build_stops_when_the_entries_change_under_it() -> None:
    graph = GraphPartition(0)
    graph.apply([_out(f"s{i}", "d") for i in range(4)])
    steps = graph.build_indexes_stepwise(1)
    next(steps)
    graph.apply([_out("late", "d")])
    with pytest.raises(RuntimeError, match="changed size"):
        for _ in steps:
            pass
    assert not graph.indexed


def test_a_partition_emptied_by_node_deletes_drops_its_indexes_and_ingests_without_them() -> None:
    graph = GraphPartition(0)
    graph.apply([_out("a", "b"), _in("b", "a"), _out("c", "far"), _in("a", "far")])
    graph.apply([(StepKind.NODE_DELETE, "far")])
    assert graph.indexed  # entries are left: a -> b
    graph.apply([(StepKind.NODE_DELETE, "a"), (StepKind.NODE_DELETE, "b")])
    assert (graph.out_edges, graph.in_edges, graph.edge_count) == ({}, {}, 0)
    assert not graph.indexed
    assert graph._out_by_dst == {} and graph._in_by_src == {}
    graph.apply([_out("x", "y"), _in("y", "x"), _out("x", "z")])
    assert not graph.indexed and graph._out_by_dst == {}
    graph.apply([(StepKind.NODE_DELETE, "z")])  # built again when a delete needs them
    assert graph.indexed
    assert _derived(graph) == ({("x", "T", "y")}, {("x", "T", "y")})
    assert _held(graph) == _derived(graph)


def test_a_partition_emptied_by_edge_deletes_or_unloads_drops_its_indexes() -> None:
    graph = GraphPartition(0)
    graph.apply([_out("a", "b"), _in("b", "a"), (StepKind.NODE_DELETE, "gone")])
    assert graph.indexed
    graph.apply([(StepKind.OUT_DELETE, "a", "T", "b")])
    assert graph.indexed  # the in entry b <- a is still held
    graph.apply([(StepKind.IN_DELETE, "b", "T", "a")])
    assert not graph.indexed

    graph.load_out_edge("s", "T", "d", NO_PROPS)
    graph.load_in_edge("d", "T", "s")
    graph.apply([(StepKind.NODE_DELETE, "gone")])
    assert graph.indexed
    graph.unload_in_edge("d", "T", "s")
    assert graph.indexed
    graph.unload_out_edge("s", "T", "d")
    assert not graph.indexed and graph._in_by_src == {}


def test_a_node_delete_on_a_partition_without_entries_leaves_no_index() -> None:
    graph = GraphPartition(0)
    graph.apply([(StepKind.NODE_UPSERT, "lonely", ("L",), {}), (StepKind.NODE_DELETE, "lonely")])
    assert graph.node_count == 0 and not graph.indexed
