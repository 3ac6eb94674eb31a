"""Cost growth: the graph sizes, the windows, the pure-core runs, the engine's cleanup (on a
stand-in engine backed by the pure core) and the rows and verdicts in the report."""

from __future__ import annotations

import gc
import itertools
from collections.abc import AsyncIterable, Iterable
from types import SimpleNamespace
from typing import Any

import pytest

from benchmarks.baselines import CoreState
from benchmarks.data import Op, encode_chunks, expected_counts, uniform_edge_ops
from benchmarks.growth import (
    GROWTH_TYPE,
    GrowthPlan,
    SizeTiming,
    core_growth_largest,
    core_growth_smaller,
    core_windows,
    delete_ops,
    growth_rows,
    growth_sizes,
    shown_sizes,
    size_label,
    touched_nodes,
)
from benchmarks.growth_engine import (
    base_ops,
    engine_growth_largest,
    engine_growth_smaller,
    recorded,
)
from benchmarks.hub import apply_ops
from benchmarks.phases import Sizes, prepare
from benchmarks.report import Measurement, Report
from pipeline.entries import out_pairs


def test_sizes_are_decades_from_ten_thousand_then_the_whole_stream() -> None:
    assert growth_sizes(1_000_000) == (10_000, 100_000, 1_000_000)
    assert growth_sizes(100_000) == (10_000, 100_000)
    assert growth_sizes(30_000) == (10_000, 30_000)
    assert growth_sizes(29_999) == ()  # no size far enough below the whole stream
    assert growth_sizes(2_000, smallest=100) == (100, 2_000)


def test_size_labels_show_powers_of_ten_as_such() -> None:
    assert [size_label(n) for n in (10_000, 100_000, 1_000_000)] == ["10^4", "10^5", "10^6"]
    assert size_label(250_000) == "250,000"
    assert size_label(10) == "10"
    plan = GrowthPlan((10_000, 100_000, 1_000_000))
    assert shown_sizes(plan) == "graph 10^4, 10^5"
    assert shown_sizes(plan, largest=True) == "graph 10^6"


def test_plan_refuses_unordered_or_single_sizes() -> None:
    for sizes in ((10_000,), (100_000, 10_000), (10_000, 10_000), (0, 10)):
        with pytest.raises(ValueError):
            GrowthPlan(sizes)
    with pytest.raises(ValueError):
        GrowthPlan((10, 100), repeats=0)


def test_a_window_is_new_distinct_edges_between_known_nodes_and_is_seeded() -> None:
    plan = GrowthPlan((100, 1_000), window=500, seed=3)
    nodes = [f"n{i}" for i in range(40)]
    ops = plan.window_ops(nodes, 100, 0)
    assert len(ops) == 500
    assert len({(op["src"], op["dst"]) for op in ops}) == 500
    assert {op["type"] for op in ops} == {GROWTH_TYPE}
    assert {op["src"] for op in ops} | {op["dst"] for op in ops} <= set(nodes)
    assert plan.window_ops(nodes, 100, 0) == ops
    assert plan.window_ops(nodes, 100, 1) != ops
    assert plan.window_ops(nodes, 1_000, 0) != ops
    with pytest.raises(ValueError, match="too few"):
        plan.window_ops(nodes[:20], 100, 0)


def test_deletes_name_the_upserted_edges_and_nodes_keep_first_appearance_order() -> None:
    ops = uniform_edge_ops(10, 5, seed=2)
    deletes = delete_ops(ops)
    assert [d["op"] for d in deletes] == ["delete_edge"] * 5
    assert [(d["src"], d["dst"], d["type"]) for d in deletes] == [
        (o["src"], o["dst"], o["type"]) for o in ops
    ]
    first = [ops[0]["src"], ops[0]["dst"]]
    assert touched_nodes(ops)[:2] == list(dict.fromkeys(first))
    assert set(touched_nodes(ops)) == {o["src"] for o in ops} | {o["dst"] for o in ops}


def test_core_windows_are_timed_and_leave_the_graph_as_it_was() -> None:
    ops = uniform_edge_ops(300, 2_000, seed=4)
    state = CoreState(4)
    apply_ops(state, ops, 500, "base")
    before = (state.nodes, state.edges)
    plan = GrowthPlan((500, 2_000), window=400, repeats=3)
    timing = core_windows(plan, state, touched_nodes(ops), 2_000, 100)
    assert (state.nodes, state.edges) == before
    assert (timing.graph_nodes, timing.graph_edges) == before
    assert len(timing.windows) == 3 and timing.seconds == min(timing.windows) > 0


def test_core_growth_measures_each_prefix_of_the_stream() -> None:
    ops = uniform_edge_ops(500, 6_000, seed=1)
    plan = GrowthPlan((600, 2_000, 6_000), window=300, repeats=2)
    smaller = core_growth_smaller(plan, ops, 4, 200)
    assert [t.size for t in smaller] == [600, 2_000]
    assert [t.graph_edges for t in smaller] == [
        expected_counts(ops[:600]).edges,
        expected_counts(ops[:2_000]).edges,
    ]
    state = CoreState(4)
    apply_ops(state, ops, 1_000, "all")
    largest = core_growth_largest(plan, state, ops, 200)
    assert largest.size == 6_000 and largest.graph_edges == expected_counts(ops).edges


def test_the_engine_base_graph_draws_the_data_streams_endpoints() -> None:
    data = uniform_edge_ops(1_000, 3_000, seed=7)
    base = base_ops(1_000, 3_000, seed=7)
    assert [(o["src"][1:], o["dst"][1:]) for o in base] == [
        (o["src"][1:], o["dst"][1:]) for o in data
    ]
    assert all(o["src"].startswith("g") for o in base)


def test_recorded_batches_are_kept_as_handed_out() -> None:
    sent: list[Op] = []
    batches = recorded(iter([[{"a": 1}], [{"b": 2}, {"c": 3}], [{"d": 4}]]), sent)
    assert list(itertools.islice(batches, 2)) == [[{"a": 1}], [{"b": 2}, {"c": 3}]]
    assert sent == [{"a": 1}, {"b": 2}, {"c": 3}]


class CoreEngine:
    """Stands in for an SDK engine: applies what it is given to a pure core at once."""

    def __init__(self, partitions: int) -> None:
        self.state = CoreState(partitions)
        self.published = 0

    async def add_graph(self, items: Iterable[Op] | AsyncIterable[Op], **_: Any) -> SimpleNamespace:
        ops = [op async for op in items] if isinstance(items, AsyncIterable) else list(items)
        for chunk in encode_chunks(ops, 1_000, "fake"):
            self.state.apply_message(chunk.value)
        self.published += len(ops)
        return SimpleNamespace(failed=[])

    async def query(self, request: dict[str, Any], **_: Any) -> dict[str, int]:
        assert request == {"type": "stats"}
        return {"nodes": self.state.nodes, "edges": self.state.edges}


async def test_engine_growth_measures_the_smaller_graphs_then_empties_the_worker() -> None:
    engine = CoreEngine(4)
    plan = GrowthPlan((1_000, 3_000, 9_000), window=200, repeats=2, seed=5)
    timings = await engine_growth_smaller(
        engine,  # type: ignore[arg-type]
        plan,
        nodes=900,
        chunk_size=100,
        timeout=30,
    )
    base = base_ops(900, 3_000, 5)
    assert [t.size for t in timings] == [1_000, 3_000]
    assert timings[0].graph_edges >= expected_counts(base[:1_000]).edges
    assert all(len(t.windows) == 2 for t in timings)
    assert (engine.state.nodes, engine.state.edges) == (0, 0)


async def test_engine_growth_on_the_whole_graph_leaves_it_as_it_was() -> None:
    engine = CoreEngine(2)
    ops = uniform_edge_ops(400, 3_000, seed=2)
    await engine.add_graph(ops)
    counts = expected_counts(ops)
    plan = GrowthPlan((1_000, 3_000), window=300, repeats=3)
    timing = await engine_growth_largest(
        engine,  # type: ignore[arg-type]
        plan,
        ops,
        chunk_size=100,
        timeout=30,
    )
    assert (timing.size, timing.graph_edges, timing.graph_nodes) == (
        3_000,
        counts.edges,
        counts.nodes,
    )
    assert engine.state.edges >= counts.edges  # plus a few trickle edges, no window edges
    window_type = sum(
        1
        for g in engine.state.graphs
        for edges in g.out_edges.values()
        for etype, _ in out_pairs(edges)
        if etype == "G"
    )
    assert window_type == 0


def _rows(small: float, large: float) -> Report:
    report = Report(machine={}, params={})
    plan = GrowthPlan((10_000, 100_000, 1_000_000))
    timings = [
        SizeTiming(10_000, 10_000, 9_000, [small, small * 2]),
        SizeTiming(100_000, 99_990, 60_000, [small * 1.1]),
        SizeTiming(1_000_000, 999_950, 100_000, [large, large * 3]),
    ]
    growth_rows(report, "core", "pure core", plan, timings)
    return report


def test_growth_rows_compare_the_largest_graph_with_the_smallest() -> None:
    report = _rows(0.30, 0.36)
    labels = [m.label for m in report.measurements]
    assert labels == [
        "+10k edges at graph 10^4, pure core, best of 2",
        "+10k edges at graph 10^5, pure core, best of 1",
        "+10k edges at graph 10^6, pure core, best of 2",
    ]
    first = report.measurements[0]
    assert isinstance(first, Measurement) and first.hub
    assert first.micros_per_item == pytest.approx(30.0)
    assert first.details["window_seconds"] == [0.3, 0.6]
    assert report.ratios()["growth_core_large_vs_small"] == pytest.approx(1.2)
    table = report.table()
    assert "cost per chunk, graph 10^6 / graph 10^4 (core) = 1.20x" in table
    assert "(target: flat, <= 1.50x: met)" in table
    assert "every window of +10,000 edges (s): 10^4: 0.300 0.600;" in table


def test_growth_over_the_target_is_reported_as_missed() -> None:
    report = _rows(0.30, 0.48)
    assert report.ratios()["growth_core_large_vs_small"] == pytest.approx(1.6)
    assert "= 1.60x   (target: flat, <= 1.50x: MISSED)" in report.table()
    assert report.to_json()["growth_target"] == 1.5


def test_prepare_plans_growth_only_when_the_stream_is_large_enough() -> None:
    def sizes(edges: int) -> Sizes:
        return Sizes(edges, edges // 10, 2, 1_000, 60_000, 5, 1, 60.0)

    try:
        data = prepare(sizes(40_000), Report(machine={}, params={}))
        assert data.growth is not None and data.growth.sizes == (10_000, 40_000)
        assert prepare(sizes(20_000), Report(machine={}, params={})).growth is None
    finally:
        gc.unfreeze()  # prepare freezes its input for the rest of a run
