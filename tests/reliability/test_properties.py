"""Property tests of apply without a broker: any sequence of valid chunks, routed with
``route_chunk`` and applied per ``GraphPartition`` as the workers do, gives the graph the
serial networkx reference gives; so does redelivering any suffix (at-least-once) and
rebuilding the partitions from the table records (recovery)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.graph import GraphPartition
from pipeline.queries import Done, QueryRun, run_locally
from pipeline.routing import route_chunk
from pipeline.storage import dirty_writes, rebuild_partitions
from schemas.ops import DeleteEdge, DeleteNode, Op, UpsertEdge, UpsertNode
from tests.support.reference import ReferenceGraph, reference_digest

pytestmark = [pytest.mark.integration, pytest.mark.reliability]  # no broker needed

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ids = st.sampled_from([f"n{i}" for i in range(12)]) | st.text(
    st.characters(blacklist_categories=["Cc", "Cs"]), min_size=1, max_size=4
)
labels = st.sampled_from(["A", "B", "Ünï", "x y"])
edge_types = st.sampled_from(["", "KNOWS", "LIKES"])
scalars = st.none() | st.booleans() | st.integers(-5, 5) | st.sampled_from(["s", "", "é"])
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=5,
)
props = st.dictionaries(st.sampled_from(["w", "k", "z"]), values, max_size=3)
ops: st.SearchStrategy[Op] = st.one_of(
    st.builds(UpsertNode, ids, st.lists(labels, max_size=2, unique=True).map(tuple), props),
    st.builds(UpsertEdge, ids, ids, edge_types, props),
    st.builds(DeleteEdge, ids, ids, edge_types),
    st.builds(DeleteNode, ids),
)
chunks = st.lists(st.lists(ops, min_size=1, max_size=12), min_size=1, max_size=10)


class Partitioned:
    def __init__(self, partitions: int) -> None:
        self.partitions = partitions
        self.graphs = {p: GraphPartition(p) for p in range(partitions)}
        self.table: dict[bytes, bytes] = {}

    def apply(self, chunk: list[Op]) -> None:
        for p, steps in route_chunk(list(chunk), self.partitions).items():
            graph = self.graphs[p]
            graph.apply(steps)
            for key, value in dirty_writes(graph, graph.take_dirty()):
                if value is None:
                    self.table.pop(key, None)
                else:
                    self.table[key] = value

    def query(self, qtype: str, **args: Any) -> Any:
        outcome = run_locally(QueryRun(qtype, args, self.partitions), self.graphs)
        assert isinstance(outcome, Done), outcome
        return outcome.result


def assert_equal(engine: Partitioned, ref: ReferenceGraph, chunk_list: list[list[Op]]) -> None:
    assert engine.query("digest") == reference_digest(ref)
    touched = {i for chunk in chunk_list for op in chunk for i in _ids(op)}
    for node_id in sorted(touched):
        assert engine.query("node", id=node_id) == ref.node(node_id), node_id


def _ids(op: Op) -> tuple[str, ...]:
    if isinstance(op, UpsertEdge | DeleteEdge):
        return (op.src, op.dst)
    assert isinstance(op, UpsertNode | DeleteNode)
    return (op.id,)


@PROPERTY
@given(chunk_list=chunks, partitions=st.sampled_from([1, 2, 3, 8]))
def test_any_valid_chunks_applied_partitioned_equal_the_reference(
    chunk_list: list[list[Op]], partitions: int
) -> None:
    engine, ref = Partitioned(partitions), ReferenceGraph()
    for chunk in chunk_list:
        engine.apply(chunk)
        ref.apply(chunk)
    assert_equal(engine, ref, chunk_list)


@PROPERTY
@given(chunk_list=chunks, redeliver=st.integers(1, 10), cut=st.integers(0, 9))
def test_redelivering_a_suffix_then_continuing_equals_the_reference(
    chunk_list: list[list[Op]], redeliver: int, cut: int
) -> None:
    engine, ref = Partitioned(4), ReferenceGraph()
    cut = min(cut, len(chunk_list))
    for chunk in chunk_list[:cut]:
        engine.apply(chunk)
    for chunk in chunk_list[max(0, cut - redeliver) :]:  # replay since an older commit
        engine.apply(chunk)
    for chunk in chunk_list:
        ref.apply(chunk)
    assert_equal(engine, ref, chunk_list)


@PROPERTY
@given(chunk_list=chunks, partitions=st.sampled_from([2, 4]))
def test_partitions_rebuilt_from_table_records_equal_the_reference(
    chunk_list: list[list[Op]], partitions: int
) -> None:
    engine, ref = Partitioned(partitions), ReferenceGraph()
    for chunk in chunk_list:
        engine.apply(chunk)
        ref.apply(chunk)
    engine.graphs = rebuild_partitions(engine.table.items(), partitions, set(range(partitions)))
    assert_equal(engine, ref, chunk_list)
