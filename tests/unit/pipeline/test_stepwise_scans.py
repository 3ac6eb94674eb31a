"""Whole-partition scans (``digest``, ``top_degree``) run in steps of a given size with the
same answers as in one go; every other query is answered without a step."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline.graph import GraphPartition
from pipeline.queries import Done, QueryRun, run_stepwise
from pipeline.queries.partition import top_degree_stepwise
from pipeline.routing import route_chunk
from schemas.ops import DeleteNode, UpsertEdge
from tests.support.reference import reference_digest
from tests.support.stepwise import drive
from tests.unit.pipeline.test_query_answers import DIRECTIONS, answers, engine, reference

KIND, SEED, NODES = "powerlaw", 3, 400


def _stepwise_answer(qtype: str, size: int | None, **args: Any) -> tuple[Any, int]:
    graphs = engine(KIND, SEED, NODES, 4)
    outcome, yields = drive(run_stepwise(QueryRun(qtype, args, len(graphs)), graphs, size))
    assert isinstance(outcome, Done), outcome
    return outcome.result, yields


@pytest.mark.parametrize("size", [1, 3, 50, 100_000])
def test_top_degree_in_steps_matches_the_reference(size: int) -> None:
    expected = answers(KIND, SEED, NODES)
    for k in (1, 7, 10_000):
        for direction in DIRECTIONS:
            got, _ = _stepwise_answer("top_degree", size, k=k, direction=direction)
            assert got == expected.top_degree(k, direction), (k, direction)


@pytest.mark.parametrize("size", [1, 7, 100_000])
def test_digest_in_steps_matches_the_reference(size: int) -> None:
    got, _ = _stepwise_answer("digest", size)
    assert got == reference_digest(reference(KIND, SEED, NODES))


@pytest.mark.parametrize(
    ("qtype", "args"), [("digest", {}), ("top_degree", {"k": 5, "direction": "both"})]
)
def test_scans_yield_once_per_step_of_the_given_size(qtype: str, args: dict[str, Any]) -> None:
    graphs = engine(KIND, SEED, NODES, 4)
    items = sum(g.node_count + g.edge_count for g in graphs.values())
    yields = {size: _stepwise_answer(qtype, size, **args)[1] for size in (1, 10, 100_000)}
    assert yields[1] >= NODES  # at least a step per node
    assert yields[1] > 5 * yields[10] > 0
    assert yields[100_000] <= 4 * 5  # a few steps per partition: one per pass over it
    if qtype == "digest":  # a step per ``size`` nodes and edges of each partition
        assert items - 4 <= yields[1] <= items


def test_lookups_and_traversals_are_answered_without_a_step() -> None:
    for qtype, args in [
        ("node", {"id": "v1"}),
        ("neighbors", {"id": "v1", "direction": "both"}),
        ("khop", {"id": "v1", "depth": 3, "direction": "out"}),
        ("shortest_path", {"src": "v1", "dst": "v2", "max_depth": 6, "direction": "out"}),
        ("stats", {}),
    ]:
        _, yields = _stepwise_answer(qtype, 1, **args)
        assert yields == 0, qtype


def test_top_degree_refuses_a_step_size_below_one() -> None:
    steps = top_degree_stepwise({"k": 3, "dir": "out"}, GraphPartition(0), 0)
    with pytest.raises(ValueError, match="at least 1"):
        next(steps)


@pytest.mark.parametrize("second_type", [False, True], ids=["one-type", "two-types"])
def test_top_degree_of_a_partition_changed_between_steps_gives_each_node_a_degree_it_had(
    second_type: bool,
) -> None:
    graph = GraphPartition(0)
    ops = [UpsertEdge(f"hub{h}", f"leaf{i}", "T", {}) for h in range(6) for i in range(h + 1)]
    if second_type:  # lists, changed in place, rather than tuples, replaced on a change
        ops += [UpsertEdge(f"hub{h}", "leaf0", "U", {}) for h in range(6)]
    graph.apply(route_chunk(ops, 1)[0])
    steps = top_degree_stepwise({"k": 3, "dir": "out"}, graph, 2)
    next(steps)  # the degrees of hub0 and hub1 are read; the rest come later
    graph.apply(route_chunk([DeleteNode("hub5"), UpsertEdge("hub3", "extra", "T", {})], 1)[0])
    top, _ = drive(steps)
    more = 1 if second_type else 0  # the "U" edge of every hub
    answers = []
    for hub5 in ([["hub5", 6 + more]], []):  # read before or after its delete
        for hub3 in (4 + more, 5 + more):  # read before or after its new edge
            held = [*hub5, ["hub3", hub3], ["hub4", 5 + more], ["hub2", 3 + more]]
            answers.append(sorted(held, key=lambda pair: (-pair[1], pair[0]))[:3])
    assert top in answers
