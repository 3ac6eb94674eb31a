"""The large state phase's chunk-cost plan, its rows and notes, and the counts it confirms."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from benchmarks.data import GraphCounts, expected_counts, uniform_edge_ops
from benchmarks.growth import SizeTiming
from benchmarks.state import parse_args
from benchmarks.state_growth import (
    GROWTH_FROM,
    ingest_in_segments,
    large_growth_plan,
    with_trickle,
)
from benchmarks.state_report import NOT_APPLICABLE, StoreFigures
from benchmarks.state_rows import LARGE_PHASE, growth_rows, store_notes, store_rows


def _large(timings: list[SizeTiming], window: int | None = 10_000) -> StoreFigures:
    f = StoreFigures("rocksdb", 10_000_000, 9_999_952, 1_000_000, phase=LARGE_PHASE)
    f.rss_empty, f.rss_loaded, f.ingest_seconds = 70 << 20, 1000 << 20, 470.0
    f.growth, f.growth_window = timings, window
    return f


def test_a_full_large_phase_times_windows_at_ten_thousand_edges_and_at_all_of_them() -> None:
    plan = large_growth_plan(10_000_000, GROWTH_FROM, seed=1)
    assert plan is not None
    assert plan.sizes == (10_000, 10_000_000)
    assert (plan.window, plan.repeats) == (10_000, 5)


def test_windows_are_never_larger_than_the_smallest_graph_and_short_streams_get_none() -> None:
    small = large_growth_plan(2000, 500, seed=1)
    assert small is not None and small.sizes == (500, 2000) and small.window == 500
    assert large_growth_plan(20_000, GROWTH_FROM, seed=1) is None  # under 3x the smallest


def test_the_largest_growth_size_defaults_to_ten_thousand_and_must_be_positive(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert parse_args([])[0].large_growth_from == 10_000
    assert parse_args(["--large-growth-from", "500"])[0].large_growth_from == 500
    with pytest.raises(SystemExit):
        parse_args(["--large-growth-from", "0"])
    assert "--large-growth-from" in capsys.readouterr().err


def test_growth_rows_give_the_best_window_per_size_and_the_largest_over_the_smallest() -> None:
    timings = [
        SizeTiming(10_000, 10_000, 9_000, [0.6, 0.5, 0.7]),
        SizeTiming(1_000_000, 999_000, 100_000, [0.9, 0.8, 1.1]),
        SizeTiming(10_000_000, 9_999_000, 1_000_000, [0.75, 1.2, 0.8]),
    ]
    rows = {r.key: r for r in growth_rows(_large(timings))}
    best = rows["rocksdb-large_growth_10000000"]
    assert best.value == 0.75 and best.figure == "0.75 s"
    assert "+10,000 edges at graph 10^7, best of 3" in best.measurement
    ratio = rows["rocksdb-large_growth_large_vs_small"]
    assert ratio.value == pytest.approx(1.5) and ratio.figure == "1.50x"
    assert "graph 10^7 / graph 10^4" in ratio.measurement
    assert ratio.verdict == NOT_APPLICABLE  # the stated target is for 10^4 to 10^6


def test_a_large_phase_without_two_sizes_has_no_growth_rows_and_others_no_growth_note() -> None:
    one = _large([SizeTiming(10_000, 10_000, 9_000, [0.5])])
    assert growth_rows(one) == [] and growth_rows(_large([], None)) == []
    keys = [r.key for r in store_rows(one)]
    assert not any("growth" in k for k in keys)
    assert not any("every window" in n for n in store_notes(_large([], None)))


def test_the_large_phase_rows_and_notes_carry_the_growth_with_every_window() -> None:
    timings = [
        SizeTiming(10_000, 10_000, 9_000, [0.6, 0.5]),
        SizeTiming(10_000_000, 9_999_000, 1_000_000, [0.75, 0.8]),
    ]
    f = _large(timings)
    keys = [r.key for r in store_rows(f)]
    assert keys[-1] == "rocksdb-large_growth_large_vs_small"
    assert "rocksdb_rss_at_1e7_edges" in keys and not any("recovery" in k for k in keys)
    (note,) = [n for n in store_notes(f) if "every window" in n]
    assert "10^4 (10,000 edges): 0.600 0.500" in note
    assert "10^7 (9,999,000 edges): 0.750 0.800" in note


def test_trickle_edges_add_their_own_nodes_and_edges_to_the_counts_to_confirm() -> None:
    trickle = uniform_edge_ops(50, 40, 7, prefix="t")
    main = GraphCounts(nodes=1000, edges=5000)
    extra = expected_counts(trickle)
    assert with_trickle(main, trickle) == GraphCounts(1000 + extra.nodes, 5000 + extra.edges)
    assert with_trickle(main, []) == main


def test_a_segmented_ingest_refuses_a_plan_that_does_not_end_at_the_stream() -> None:
    plan = large_growth_plan(3000, 1000, seed=1)
    assert plan is not None
    ops = uniform_edge_ops(300, 2000, 1)

    async def publish(segment: Any) -> float:
        raise AssertionError("nothing may be published")

    engine: Any = None
    with pytest.raises(ValueError, match="ends at 3,000 ops, the stream has 2,000"):
        asyncio.run(ingest_in_segments(engine, plan, ops, publish, chunk_size=100, timeout=1))
